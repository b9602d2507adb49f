//! Errors of the market-data layer. Every error a user can cause names where
//! (file, line, column) and says how to fix it.

use std::fmt;
use std::path::PathBuf;

/// A problem with one row of a CSV file: where it is, what is wrong, how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// The file as the user named it (or a stream name such as `<stdin>`).
    pub file: String,
    /// 1-based line number in the file.
    pub line: u64,
    /// The column, as `"column 3 (high)"`, when the problem is in one field.
    pub column: Option<String>,
    /// What is wrong, with the offending value.
    pub problem: String,
    /// What the user should do about it.
    pub fix: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(column) = &self.column {
            write!(f, "{column}: ")?;
        }
        write!(f, "{} (fix: {})", self.problem, self.fix)
    }
}

/// Everything that can go wrong while loading, generating or writing candles.
#[derive(Debug, thiserror::Error)]
pub enum MarketDataError {
    /// The file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A malformed or invalid row (bad number, inconsistent OHLC, time going backwards...).
    #[error("{0}")]
    Row(Box<RowError>),

    /// The file holds no candle rows at all.
    #[error(
        "{file}: no candles in the file (fix: point --data at a CSV with at least one kline row)"
    )]
    Empty { file: String },

    /// A `--from/--to` range that selects nothing, or is reversed.
    #[error("{0}")]
    Range(String),

    /// An invalid time argument (e.g. `--from`).
    #[error(
        "invalid time {value:?}: {problem} (fix: use a date like 2024-01-31, an RFC 3339 time like 2024-01-31T12:00:00Z, or Unix milliseconds)"
    )]
    Time { value: String, problem: String },

    /// An invalid synthetic-generator configuration; names the field.
    #[error("synthetic data: {field}: {problem}")]
    Synthetic { field: String, problem: String },

    /// An error from a live or custom source (network, channel closed...).
    #[error("{0}")]
    Source(String),
}

impl MarketDataError {
    pub(crate) fn row(
        file: &str,
        line: u64,
        column: Option<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        MarketDataError::Row(Box::new(RowError {
            file: file.to_string(),
            line,
            column,
            problem: problem.into(),
            fix: fix.into(),
        }))
    }

    pub(crate) fn synthetic(field: &str, problem: impl Into<String>) -> Self {
        MarketDataError::Synthetic {
            field: field.to_string(),
            problem: problem.into(),
        }
    }

    /// The row error, when this is one (tests and callers that want the line number).
    pub fn as_row(&self) -> Option<&RowError> {
        match self {
            MarketDataError::Row(row) => Some(row),
            _ => None,
        }
    }
}
