//! Recorded replies for deterministic backtests: a JSON-lines file, one
//! reply per line, keyed by model + prompt hash. `backtest --llm record`
//! appends what the endpoint answered; `--llm replay` (the default) reads
//! it and never opens a connection.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::reply::Usage;

/// One recorded reply: the raw message content (parsed again on replay,
/// through the same contract) and the usage the endpoint reported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedReply {
    pub model: String,
    pub prompt_hash: String,
    pub content: String,
    #[serde(default)]
    pub usage: Usage,
}

/// The replies in memory, and the file new ones are appended to.
#[derive(Debug, Default)]
pub struct ReplayCache {
    replies: HashMap<(String, String), RecordedReply>,
    file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("reading the LLM reply cache {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "LLM reply cache {path}, line {line}: {message}; remove the line or record again with --llm record"
    )]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

impl ReplayCache {
    /// An empty cache with no file: every lookup misses.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Loads `path` (a missing file is an empty cache) and appends to it.
    pub fn open(path: &Path) -> Result<Self, CacheError> {
        let io = |source| CacheError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut cache = Self {
            replies: HashMap::new(),
            file: Some(path.to_path_buf()),
        };
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(cache),
            Err(e) => return Err(io(e)),
        };
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(io)?;
            if line.trim().is_empty() {
                continue;
            }
            let r: RecordedReply = serde_json::from_str(&line).map_err(|e| CacheError::Line {
                path: path.to_path_buf(),
                line: i + 1,
                message: e.to_string(),
            })?;
            cache
                .replies
                .insert((r.model.clone(), r.prompt_hash.clone()), r);
        }
        Ok(cache)
    }

    pub fn get(&self, model: &str, prompt_hash: &str) -> Option<&RecordedReply> {
        self.replies
            .get(&(model.to_string(), prompt_hash.to_string()))
    }

    pub fn len(&self) -> usize {
        self.replies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.replies.is_empty()
    }

    /// Keeps `reply` and appends it to the file (first reply per key wins,
    /// so a replay sees what the first recording saw).
    pub fn insert(&mut self, reply: RecordedReply) -> Result<(), CacheError> {
        let key = (reply.model.clone(), reply.prompt_hash.clone());
        if self.replies.contains_key(&key) {
            return Ok(());
        }
        if let Some(path) = &self.file {
            let io = |source| CacheError::Io {
                path: path.clone(),
                source,
            };
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(io)?;
            let line = serde_json::to_string(&reply).expect("a reply serializes");
            writeln!(f, "{line}").map_err(io)?;
        }
        self.replies.insert(key, reply);
        Ok(())
    }
}
