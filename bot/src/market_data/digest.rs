//! The CSV's content hash the candle cache is keyed by, computed before a
//! cache is used or on a helper thread beside the work that uses it.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// Bytes read and hashed at a time: they stay in cache (BLAKE3 hashes a
/// piece's 1 KiB chunks side by side in its SIMD lanes).
const PIECE: usize = 64 * 1024;

/// The length and BLAKE3 digest of the file at `path`: ≈ 2× SHA-256's speed
/// with SHA-NI here (63 MB: ≈ 20 ms against ≈ 50 ms). Read, not mapped: a
/// CSV truncated while it is hashed then gives a stale verdict instead of a
/// `SIGBUS`.
pub(super) fn hash_file(path: &Path) -> std::io::Result<(u64, [u8; 32])> {
    let never = AtomicBool::new(false);
    hash_file_unless(path, &never, &AtomicU64::new(0)).map(|done| done.expect("never stopped"))
}

/// [`hash_file`], given up (`None`) once `stop` is set; `hashed` counts
/// the bytes done.
fn hash_file_unless(
    path: &Path,
    stop: &AtomicBool,
    hashed: &AtomicU64,
) -> std::io::Result<Option<(u64, [u8; 32])>> {
    let mut file = File::open(path)?;
    let mut h = blake3::Hasher::new();
    let mut piece = vec![0u8; PIECE];
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let n = match file.read(&mut piece) {
            Ok(0) => return Ok(Some((h.count(), h.finalize().into()))),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&piece[..n]);
        hashed.store(h.count(), Ordering::Relaxed);
    }
}

/// The rate the thread that needs the verdict would hash at itself, to
/// bound its wait (a free core hashes ≈ 2.5 GB/s from the page cache here).
const OWN_RATE: f64 = 1e9;

/// How long the background hash may make no progress before the thread
/// that needs its verdict does the hash itself (a 64 KiB piece takes ≈ 20
/// µs from the page cache; a disk slower than 13 MB/s also trips it, and
/// the caller then re-reads what the helper read, from the page cache).
const STALLED: Duration = Duration::from_millis(5);

type Verdict = std::io::Result<Option<(u64, [u8; 32])>>;

/// A hash of a CSV running on its own thread, at idle priority, and what it
/// must come to.
#[derive(Debug)]
pub(super) struct Check {
    verdict: mpsc::Receiver<Verdict>,
    stop: Arc<AtomicBool>,
    hashed: Arc<AtomicU64>,
    csv: PathBuf,
    want: (u64, [u8; 32]),
}

impl Check {
    /// Starts hashing `csv`; [`Check::matches`] compares with `len` and
    /// `digest`. The thread runs only on a core nothing else wants: beside a
    /// backtest, whose engine and reading threads keep both cores of this
    /// machine busy, it takes the time they wait instead of theirs (the 1 M
    /// candle peer run: 156.3 → 150.7 ms, medians of 12 pairs).
    pub fn start(csv: &Path, len: u64, digest: [u8; 32]) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let hashed = Arc::new(AtomicU64::new(0));
        let (send, verdict) = mpsc::sync_channel(1);
        let csv = csv.to_path_buf();
        std::thread::spawn({
            let (csv, stop, hashed) = (csv.clone(), stop.clone(), hashed.clone());
            move || {
                idle_priority();
                // Nobody waiting any more: nothing to tell.
                let _ = send.send(hash_file_unless(&csv, &stop, &hashed));
            }
        });
        Self {
            verdict,
            stop,
            hashed,
            csv,
            want: (len, digest),
        }
    }

    /// Whether the file still has the wanted bytes: the background hash's
    /// verdict, waited for while it makes progress, and for no longer than
    /// this thread would take to hash the file itself. A hash that stalls or
    /// trickles (other work keeps every core busy, and an idle-priority
    /// thread could then take seconds) is given up and done here, at this
    /// thread's priority: the wait is bounded by about twice the hash's own
    /// time.
    pub fn matches(self) -> std::io::Result<bool> {
        let deadline =
            Instant::now() + STALLED + Duration::from_secs_f64(self.want.0 as f64 / OWN_RATE);
        let mut seen = self.hashed.load(Ordering::Relaxed);
        loop {
            match self.verdict.recv_timeout(STALLED) {
                Ok(Ok(Some(got))) => return Ok(got == self.want),
                Ok(Err(e)) => return Err(e),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let now = self.hashed.load(Ordering::Relaxed);
                    if now == seen || Instant::now() >= deadline {
                        break;
                    }
                    seen = now;
                }
                // Never stopped before now; or the thread is gone.
                Ok(Ok(None)) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        // The helper stops at its next piece; it is not waited for.
        self.stop.store(true, Ordering::Relaxed);
        Ok(hash_file(&self.csv)? == self.want)
    }
}

/// Moves the calling thread to `SCHED_IDLE`: it runs when a core would
/// otherwise idle. Always allowed (it only lowers priority); on failure
/// the thread keeps its priority.
fn idle_priority() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 is the calling thread; `param` outlives the call.
        let _ = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CSV of one row in a temporary directory, and its length and digest.
    fn one_row_csv() -> (tempfile::TempDir, PathBuf, (u64, [u8; 32])) {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("c.csv");
        std::fs::write(&csv, "1704067200000,1.5,2,1,1.75,3\n").unwrap();
        let want = hash_file(&csv).unwrap();
        (dir, csv, want)
    }

    /// A background hash that never gets a core (here: a thread that never
    /// answers) does not keep the caller waiting: after it stalls, the
    /// caller hashes the file itself and gives the right verdict, both ways.
    #[test]
    fn a_stalled_background_hash_is_done_by_the_caller() {
        let (_dir, csv, want) = one_row_csv();
        let stalled = |want| {
            let (send, verdict) = mpsc::sync_channel(1);
            let check = Check {
                verdict,
                stop: Arc::new(AtomicBool::new(false)),
                hashed: Arc::new(AtomicU64::new(0)),
                csv: csv.clone(),
                want,
            };
            (check, send)
        };
        let (same, _silent) = stalled(want);
        assert!(same.matches().unwrap());
        let (other, _silent) = stalled((want.0, [0; 32]));
        assert!(!other.matches().unwrap());
    }

    /// A background hash that keeps making progress but never finishes
    /// (here: a thread that counts bytes every millisecond until told to
    /// stop) is not waited for past the time the caller would take itself:
    /// the caller hashes the file and gives the right verdict, and the
    /// helper is told to stop. Without the bound this test would not end.
    #[test]
    fn a_trickling_background_hash_is_taken_over_by_the_caller() {
        let (_dir, csv, want) = one_row_csv();
        let (send, verdict) = mpsc::sync_channel(1);
        let (stop, hashed) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let trickle = std::thread::spawn({
            let (stop, hashed) = (stop.clone(), hashed.clone());
            move || {
                while !stop.load(Ordering::Relaxed) {
                    hashed.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(1));
                }
                drop(send);
            }
        });
        let check = Check {
            verdict,
            stop,
            hashed,
            csv: csv.clone(),
            want,
        };
        assert!(check.matches().unwrap());
        trickle.join().unwrap();
    }
}
