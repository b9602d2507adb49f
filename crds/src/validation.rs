//! Semantic validation: the rules the CRD schema cannot express (one field
//! compared with another, "exactly one of"). Every `validate()` collects all
//! problems before returning, so a user fixes a manifest in one pass.

use std::fmt;

/// One problem: where (`spec.smaCrossover.fast`) and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    /// Field path in the resource, e.g. `spec.limits.limitedReal.maxPosition`.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in a resource (never empty when returned as an error).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidationErrors {
    errors: Vec<ValidationError>,
}

impl ValidationErrors {
    /// No problems yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem at `path`.
    pub fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ValidationError {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Records `message` at `path` unless `ok`.
    pub fn check(&mut self, ok: bool, path: impl Into<String>, message: impl FnOnce() -> String) {
        if !ok {
            self.add(path, message());
        }
    }

    /// Moves another set's problems into this one, prefixing their paths
    /// (`TradingBot/b1: spec.capital`; unchanged when the prefix is empty).
    pub fn extend_prefixed(&mut self, prefix: &str, other: ValidationErrors) {
        for e in other.errors {
            let path = if prefix.is_empty() {
                e.path
            } else {
                format!("{prefix}: {}", e.path)
            };
            self.errors.push(ValidationError {
                path,
                message: e.message,
            });
        }
    }

    /// The problems, in the order found.
    pub fn errors(&self) -> &[ValidationError] {
        &self.errors
    }

    /// Number of problems.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// True when nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// True when some problem is reported at exactly `path`.
    pub fn has_path(&self, path: &str) -> bool {
        self.errors.iter().any(|e| e.path == path)
    }

    /// `Ok(())` when empty, otherwise `Err(self)`.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errors.len() {
            0 => f.write_str("no problems"),
            1 => write!(f, "1 problem:\n  - {}", self.errors[0]),
            n => {
                write!(f, "{n} problems:")?;
                for e in &self.errors {
                    write!(f, "\n  - {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ValidationErrors {}

impl IntoIterator for ValidationErrors {
    type Item = ValidationError;
    type IntoIter = std::vec::IntoIter<ValidationError>;
    fn into_iter(self) -> Self::IntoIter {
        self.errors.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_every_problem_on_its_own_line() {
        let mut errs = ValidationErrors::new();
        errs.add("spec.a", "set it");
        errs.check(false, "spec.b", || "fix b".into());
        errs.check(true, "spec.c", || unreachable!());
        let text = errs.to_string();
        assert_eq!(text, "2 problems:\n  - spec.a: set it\n  - spec.b: fix b");
        assert!(errs.clone().into_result().is_err());
        assert!(ValidationErrors::new().into_result().is_ok());
    }

    #[test]
    fn prefixes_nested_paths() {
        let mut inner = ValidationErrors::new();
        inner.add("spec.capital", "must be set");
        let mut outer = ValidationErrors::new();
        outer.extend_prefixed("TradingBot/b1", inner);
        assert_eq!(outer.errors()[0].path, "TradingBot/b1: spec.capital");
    }
}
