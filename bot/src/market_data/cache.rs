//! The candle cache: a CSV's parsed candles in a fixed-size binary form, so a
//! second backtest on the same file skips parsing and streams candles
//! instead of holding them all.
//!
//! One cache file per CSV path (named by the SHA-256 of the canonical path),
//! valid only for the exact bytes it was built from: the header records the
//! CSV's length and the BLAKE3 digest of its content, and every open
//! re-hashes the CSV (before the cache is used, or beside a backtest that
//! re-runs if the verdict is stale:
//! [`CandleFile::open_checking_in_background`]). Size + mtime would be
//! cheaper but `cp -p`, `rsync -t`, `tar` and same-second edits keep them
//! while the rows change, and a stale cache would backtest a market that is
//! not in the file; hashing reads the file at ≈ 3 GB/s here, ≈ 20 ms for a
//! million rows.
//!
//! Layout: header (magic, CSV length, CSV BLAKE3, format, count, smallest
//! interval, the candles' [`CandleDigest`] for a backtest's input hash),
//! then `count` records of 53 bytes: open time (i64) and open, high, low,
//! close, volume as (i64 mantissa, u8 scale) — exactly the decimals the
//! parser produced, scale included. A CSV with a number that
//! does not fit (more than 18 digits) is not cached.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use super::candle_digest::CandleDigest;
use super::digest;
use super::format::CsvFormat;
use super::series::{DataOrigin, range_error};
use super::time::format_millis;
use super::{CandleSeries, MarketDataError};
use crate::domain::{Candle, Price, Quantity, Timeframe};

/// `BFCANDL1` recorded the CSV's SHA-256, `BFCANDL2` no candle digest: such
/// a cache is rebuilt once.
pub(super) const MAGIC: &[u8; 8] = b"BFCANDL3";
const HEADER: u64 = 8 + 8 + 32 + 1 + 8 + 8 + 32;
const RECORD: usize = 8 + 5 * 9;

/// Where cache files go: `$BOTFLEET_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/botfleet/candles`, else `~/.cache/botfleet/candles`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let env = |k| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("BOTFLEET_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("botfleet/candles")))
        .or_else(|| env("HOME").map(|d| d.join(".cache/botfleet/candles")))
}

/// A valid cache file for one CSV.
#[derive(Debug)]
pub struct CandleFile {
    file: File,
    csv: PathBuf,
    format: CsvFormat,
    count: u64,
    interval_ms: Option<i64>,
    /// The [`CandleDigest`] of all `count` candles.
    candles_digest: [u8; 32],
    /// Found valid (true) or built by this open (false).
    pub hit: bool,
    /// The background hash of [`CandleFile::open_checking_in_background`],
    /// until [`CandleFile::confirm`] takes it.
    check: Mutex<Option<digest::Check>>,
}

/// Where the cache of `csv` lives in `dir`: named by the SHA-256 of the
/// CSV's canonical path.
pub(super) fn cache_path(csv: &Path, dir: &Path) -> Result<PathBuf, CacheError> {
    let canonical = csv
        .canonicalize()
        .map_err(data_io(csv))
        .map_err(CacheError::Data)?;
    let key = crate::config::hex(&Sha256::digest(canonical.as_os_str().as_encoded_bytes()));
    Ok(dir.join(format!("{}.candles", &key[..32])))
}

fn data_io(path: &Path) -> impl FnOnce(std::io::Error) -> MarketDataError + use<> {
    let path = path.to_path_buf();
    move |source| MarketDataError::Io { path, source }
}

impl CandleFile {
    /// The cache of `csv` in `dir`, built (and written atomically) when
    /// missing or stale. Errors are parse errors of the CSV (as
    /// [`super::load_csv`] gives them) or I/O errors of the cache itself; a
    /// caller may fall back to loading the CSV on the latter.
    pub fn open_or_build(csv: &Path, dir: &Path) -> Result<Self, CacheError> {
        let (len, digest) = digest::hash_file(csv)
            .map_err(data_io(csv))
            .map_err(CacheError::Data)?;
        let path = cache_path(csv, dir)?;
        if let Ok(found) = Self::open(&path, csv)
            && found.1 == len
            && found.2 == digest
        {
            return Ok(found.0);
        }
        std::fs::create_dir_all(dir).map_err(CacheError::Cache)?;
        build(csv, &path, len, &digest)?;
        let (mut built, ..) = Self::open(&path, csv).map_err(CacheError::Cache)?;
        built.hit = false;
        Ok(built)
    }

    /// As [`CandleFile::open_or_build`], except that a cache found for `csv`
    /// (of the CSV's current length) is opened at once while a helper
    /// thread re-hashes the CSV; [`CandleFile::confirm`] gives its verdict.
    /// For a caller that can redo its work in the rare stale case, as a
    /// backtest can: the hash then runs beside that work, not before it.
    pub fn open_checking_in_background(csv: &Path, dir: &Path) -> Result<Self, CacheError> {
        let found = (|| {
            let (mut found, len, digest) = Self::open(&cache_path(csv, dir).ok()?, csv).ok()?;
            let csv_len = std::fs::metadata(csv).ok()?.len();
            (csv_len == len).then(|| {
                found.check = Mutex::new(Some(digest::Check::start(csv, len, digest)));
                found
            })
        })();
        match found {
            Some(found) => Ok(found),
            None => Self::open_or_build(csv, dir),
        }
    }

    /// Whether the cache still holds the CSV's exact bytes: the verdict of
    /// the background hash of [`CandleFile::open_checking_in_background`]
    /// (waited for), or `true` for a cache checked when it was opened.
    pub fn confirm(&self) -> Result<bool, MarketDataError> {
        let check = self.check.lock().map(|mut c| c.take()).unwrap_or(None);
        match check {
            Some(check) => check.matches().map_err(data_io(&self.csv)),
            None => Ok(true),
        }
    }

    /// The cache file at `path`, with the CSV length and digest its header
    /// records (checked by the caller).
    fn open(path: &Path, csv: &Path) -> std::io::Result<(Self, u64, [u8; 32])> {
        let file = File::open(path)?;
        let mut h = [0u8; HEADER as usize];
        file.read_exact_at(&mut h, 0)?;
        let stale = || std::io::Error::other("stale");
        if &h[..8] != MAGIC {
            return Err(stale());
        }
        let len = u64::from_le_bytes(h[8..16].try_into().expect("8 bytes"));
        let digest: [u8; 32] = h[16..48].try_into().expect("32 bytes");
        let format = match h[48] {
            0 => CsvFormat::BinanceKline,
            1 => CsvFormat::Plain,
            2 => CsvFormat::CoinbaseCandles,
            3 => CsvFormat::CoinbaseJson,
            _ => return Err(stale()),
        };
        let count = u64::from_le_bytes(h[49..57].try_into().expect("8 bytes"));
        let interval = i64::from_le_bytes(h[57..65].try_into().expect("8 bytes"));
        let candles_digest: [u8; 32] = h[65..97].try_into().expect("32 bytes");
        if file.metadata()?.len() != HEADER + count * RECORD as u64 {
            return Err(stale());
        }
        let found = Self {
            file,
            csv: csv.to_path_buf(),
            format,
            count,
            interval_ms: (interval != i64::MIN).then_some(interval),
            candles_digest,
            hit: true,
            check: Mutex::new(None),
        };
        Ok((found, len, digest))
    }

    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// As [`CandleSeries::timeframe`] of the whole file.
    pub fn timeframe(&self) -> Option<Timeframe> {
        super::series::timeframe_of(self.interval_ms?)
    }

    fn time_at(&self, i: u64) -> std::io::Result<i64> {
        let mut b = [0u8; 8];
        self.file
            .read_exact_at(&mut b, HEADER + i * RECORD as u64)?;
        Ok(i64::from_le_bytes(b))
    }

    fn partition_point(&self, t: i64) -> std::io::Result<u64> {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.time_at(mid)? < t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }
}

/// Why a cache could not be used.
#[derive(Debug)]
pub enum CacheError {
    /// The CSV itself is unreadable or invalid: the same error loading it gives.
    Data(MarketDataError),
    /// The cache could not be written or read: load the CSV instead.
    Cache(std::io::Error),
}

/// A time range of a cached file (all of it until restricted).
#[derive(Clone, Debug)]
pub struct CachedSeries {
    file: Arc<CandleFile>,
    start: u64,
    end: u64,
}

impl CachedSeries {
    pub fn new(file: CandleFile) -> Self {
        let end = file.count;
        Self {
            file: Arc::new(file),
            start: 0,
            end,
        }
    }

    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    pub fn file(&self) -> &CandleFile {
        &self.file
    }

    pub fn origin(&self) -> DataOrigin {
        DataOrigin::File {
            path: self.file.csv.clone(),
            format: self.file.format,
        }
    }

    pub fn first_time(&self) -> Option<i64> {
        (!self.is_empty()).then(|| self.file.time_at(self.start).ok())?
    }

    pub fn last_time(&self) -> Option<i64> {
        (!self.is_empty()).then(|| self.file.time_at(self.end - 1).ok())?
    }

    /// As [`CandleSeries::label`].
    pub fn label(&self) -> String {
        match (self.first_time(), self.last_time()) {
            (Some(first), Some(last)) => format!(
                "{}, {} candles, {} → {}",
                self.origin().describe(),
                self.len(),
                format_millis(first),
                format_millis(last)
            ),
            _ => format!("{}, no candles", self.origin().describe()),
        }
    }

    /// As [`CandleSeries::restrict`], same errors.
    pub fn restrict(mut self, from: Option<i64>, to: Option<i64>) -> Result<Self, MarketDataError> {
        let io = |source| MarketDataError::Io {
            path: self.file.csv.clone(),
            source,
        };
        let start = match from {
            Some(f) => self.file.partition_point(f).map_err(io)?,
            None => 0,
        };
        let end = match to {
            Some(t) => self.file.partition_point(t).map_err(io)?,
            None => self.file.count,
        }
        .max(start);
        if from.zip(to).is_some_and(|(f, t)| f >= t) || start == end {
            let span = self.first_time().zip(self.last_time());
            return Err(range_error(from, to, span));
        }
        (self.start, self.end) = (start, end);
        Ok(self)
    }

    /// The [`CandleDigest`] of these candles, recorded when the cache was
    /// built: for the whole file only (`None` once restricted to a part).
    pub fn candles_digest(&self) -> Option<[u8; 32]> {
        (self.start == 0 && self.end == self.file.count).then_some(self.file.candles_digest)
    }

    /// The candles, oldest first, read in blocks.
    pub fn reader(&self) -> CachedReader {
        CachedReader {
            file: self.file.clone(),
            next: self.start,
            end: self.end,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// All candles in memory (several symbols are merged from memory).
    pub fn load(&self) -> Result<CandleSeries, MarketDataError> {
        let candles = self.reader().collect::<Result<Vec<_>, _>>()?;
        Ok(CandleSeries::new(self.origin(), candles))
    }
}

/// Streams a [`CachedSeries`]: `Iterator<Item = Result<Candle, _>>`.
pub struct CachedReader {
    file: Arc<CandleFile>,
    next: u64,
    end: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl Iterator for CachedReader {
    type Item = Result<Candle, MarketDataError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos == self.buf.len() {
            if self.next == self.end {
                return None;
            }
            let n = (self.end - self.next).min(8192);
            self.buf.resize(n as usize * RECORD, 0);
            let at = HEADER + self.next * RECORD as u64;
            if let Err(source) = self.file.file.read_exact_at(&mut self.buf, at) {
                self.next = self.end;
                self.buf.clear();
                return Some(Err(MarketDataError::Io {
                    path: self.file.csv.clone(),
                    source,
                }));
            }
            self.next += n;
            self.pos = 0;
        }
        let record = &self.buf[self.pos..self.pos + RECORD];
        self.pos += RECORD;
        Some(decode(record).ok_or_else(|| MarketDataError::Io {
            path: self.file.csv.clone(),
            source: std::io::Error::other("the candle cache is corrupt; delete it"),
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.end - self.next) as usize + (self.buf.len() - self.pos) / RECORD;
        (n, Some(n))
    }
}

/// Parses `csv` (the fast path, else the full parser, else JSON: exactly
/// what [`super::load_csv`] accepts) into a temporary file, renamed over
/// `path` when complete.
fn build(csv: &Path, path: &Path, len: u64, digest: &[u8; 32]) -> Result<(), CacheError> {
    let data_io = |source| {
        CacheError::Data(MarketDataError::Io {
            path: csv.to_path_buf(),
            source,
        })
    };
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let result = (|| {
        let mut w = Writer::create(&tmp).map_err(CacheError::Cache)?;
        let starts_json = File::open(csv)
            .and_then(super::loader::is_json)
            .map_err(data_io)?;
        let format = if starts_json {
            let series = super::load_csv(csv).map_err(CacheError::Data)?;
            for c in &series.candles {
                w.push(c).map_err(CacheError::Cache)?;
            }
            CsvFormat::CoinbaseJson
        } else {
            let file = File::open(csv).map_err(data_io)?;
            match super::fast_csv::stream(file, |c| w.push(c)) {
                Ok(Some(format)) => format,
                Ok(None) => {
                    w.restart().map_err(CacheError::Cache)?;
                    let file = File::open(csv).map_err(data_io)?;
                    let reader = std::io::BufReader::with_capacity(1 << 20, file);
                    let name = csv.display().to_string();
                    // A cache write error is not the data's fault: kept
                    // apart so the caller can load the CSV instead.
                    let mut write_error = None;
                    let parsed = super::loader::parse_csv_with(reader, &name, |c| {
                        w.push(&c).map_err(|e| {
                            write_error = Some(e);
                            MarketDataError::Empty { file: name.clone() }
                        })
                    });
                    if let Some(e) = write_error {
                        return Err(CacheError::Cache(e));
                    }
                    parsed.map_err(CacheError::Data)?
                }
                Err(e) => return Err(CacheError::Cache(e)),
            }
        };
        w.finish(len, digest, format).map_err(CacheError::Cache)?;
        std::fs::rename(&tmp, path).map_err(CacheError::Cache)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

struct Writer {
    out: BufWriter<File>,
    digest: CandleDigest,
    count: u64,
    prev_time: Option<i64>,
    interval: i64,
}

impl Writer {
    fn create(path: &Path) -> std::io::Result<Self> {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
        out.write_all(&[0u8; HEADER as usize])?;
        Ok(Self {
            out,
            digest: CandleDigest::default(),
            count: 0,
            prev_time: None,
            interval: i64::MIN,
        })
    }

    /// Drops what was written (the fast path gave up part way).
    fn restart(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        self.out.get_mut().set_len(HEADER)?;
        self.out.seek(SeekFrom::Start(HEADER))?;
        (self.count, self.prev_time, self.interval) = (0, None, i64::MIN);
        self.digest = CandleDigest::default();
        Ok(())
    }

    #[inline]
    fn push(&mut self, c: &Candle) -> std::io::Result<()> {
        let mut r = [0u8; RECORD];
        r[..8].copy_from_slice(&c.open_time.to_le_bytes());
        let values = [
            c.open.value(),
            c.high.value(),
            c.low.value(),
            c.close.value(),
            c.volume.value(),
        ];
        for (i, d) in values.iter().enumerate() {
            let mantissa = i64::try_from(d.mantissa())
                .map_err(|_| std::io::Error::other("a number has more than 18 digits"))?;
            let at = 8 + i * 9;
            r[at..at + 8].copy_from_slice(&mantissa.to_le_bytes());
            r[at + 8] = d.scale() as u8;
        }
        if let Some(prev) = self.prev_time {
            let gap = c.open_time - prev;
            self.interval = if self.interval == i64::MIN {
                gap
            } else {
                self.interval.min(gap)
            };
        }
        self.prev_time = Some(c.open_time);
        self.count += 1;
        self.digest.push(c);
        self.out.write_all(&r)
    }

    fn finish(mut self, len: u64, digest: &[u8; 32], format: CsvFormat) -> std::io::Result<()> {
        let mut h = Vec::with_capacity(HEADER as usize);
        h.extend_from_slice(MAGIC);
        h.extend_from_slice(&len.to_le_bytes());
        h.extend_from_slice(digest);
        h.push(match format {
            CsvFormat::BinanceKline => 0,
            CsvFormat::Plain => 1,
            CsvFormat::CoinbaseCandles => 2,
            CsvFormat::CoinbaseJson => 3,
        });
        h.extend_from_slice(&self.count.to_le_bytes());
        h.extend_from_slice(&self.interval.to_le_bytes());
        h.extend_from_slice(&self.digest.finish());
        self.out.seek(SeekFrom::Start(0))?;
        self.out.write_all(&h)?;
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    }
}

#[inline]
fn decode(r: &[u8]) -> Option<Candle> {
    let value = |i: usize| -> Option<Decimal> {
        let at = 8 + i * 9;
        let mantissa = i64::from_le_bytes(r[at..at + 8].try_into().ok()?);
        Decimal::try_from_i128_with_scale(i128::from(mantissa), u32::from(r[at + 8])).ok()
    };
    Some(Candle {
        open_time: i64::from_le_bytes(r[..8].try_into().ok()?),
        open: Price(value(0)?),
        high: Price(value(1)?),
        low: Price(value(2)?),
        close: Price(value(3)?),
        volume: Quantity(value(4)?),
    })
}
