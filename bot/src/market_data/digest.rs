//! The CSV's content hash the candle cache is keyed by, computed before a
//! cache is used or on a helper thread beside the work that uses it.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

/// The length and SHA-256 of the file at `path`.
pub(super) fn hash_file(path: &Path) -> std::io::Result<(u64, [u8; 32])> {
    let mut file = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok((len, h.finalize().into()));
        }
        len += n as u64;
        h.update(&buf[..n]);
    }
}

/// A hash of a CSV running on its own thread, and what it must come to.
#[derive(Debug)]
pub(super) struct Check {
    hashing: JoinHandle<std::io::Result<(u64, [u8; 32])>>,
    want: (u64, [u8; 32]),
}

impl Check {
    /// Starts hashing `csv`; [`Check::matches`] compares with `len` and `digest`.
    pub fn start(csv: &Path, len: u64, digest: [u8; 32]) -> Self {
        let csv = csv.to_path_buf();
        Self {
            hashing: std::thread::spawn(move || hash_file(&csv)),
            want: (len, digest),
        }
    }

    /// Waits for the hash: whether the file still has the wanted bytes.
    pub fn matches(self) -> std::io::Result<bool> {
        let got = self
            .hashing
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        Ok(got == self.want)
    }
}
