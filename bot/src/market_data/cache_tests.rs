//! Tests of the candle cache: what it streams is what the loader loads, and
//! a changed file is never read from a stale cache.

use super::*;
use crate::domain::Timeframe;

fn cache_of(csv: &std::path::Path, dir: &std::path::Path) -> CandleFile {
    match CandleFile::open_or_build(csv, dir) {
        Ok(f) => f,
        Err(CacheError::Data(e)) => panic!("{e}"),
        Err(CacheError::Cache(e)) => panic!("{e}"),
    }
}

fn streamed(file: CandleFile) -> Vec<crate::domain::Candle> {
    CachedSeries::new(file)
        .reader()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The fast path (plain, klines) and the full parser (another header
/// spelling) each build a cache that streams exactly the loaded candles,
/// scale of every decimal included, and the second open is a hit.
#[test]
fn the_cache_streams_exactly_what_the_loader_loads() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let series = generate(&SyntheticConfig::new(5, 20_000)).unwrap();
    let klines = dir.path().join("klines.csv");
    write_binance_csv_file(&klines, &series.candles, Timeframe::H1, TimeUnit::Millis).unwrap();
    let plain = dir.path().join("plain.csv");
    std::fs::write(
        &plain,
        "timestamp,open,high,low,close,volume\n1704067200000,100.50,101,99.25,100.00,12.5\n\
         1704067260000,100.00,100.10,99.90,100.05,0\n",
    )
    .unwrap();
    let full = dir.path().join("full.csv");
    std::fs::write(
        &full,
        "Timestamp,Open,High,Low,Close,Volume\n2024-01-01T00:00:00Z,1.50,2,1,1.75,3\n\
         2024-01-01T00:01:00Z,1.75,1.8,1.7,1.7,5\n",
    )
    .unwrap();
    for csv in [&klines, &plain, &full] {
        let loaded = load_csv(csv).unwrap();
        let file = cache_of(csv, &cache);
        assert!(!file.hit, "built on first use");
        assert_eq!(file.timeframe(), loaded.timeframe());
        let got = streamed(file);
        assert_eq!(got, loaded.candles, "{}", csv.display());
        for (a, b) in got.iter().zip(&loaded.candles) {
            assert_eq!(a.open.value().scale(), b.open.value().scale());
            assert_eq!(a.volume.value().scale(), b.volume.value().scale());
        }
        let again = cache_of(csv, &cache);
        assert!(again.hit, "a second open reads the cache");
        let cached = CachedSeries::new(again);
        assert_eq!(cached.label(), loaded.label());
        assert_eq!(cached.load().unwrap(), loaded);
    }
}

/// An edit that keeps the file's size (and could keep its mtime) rebuilds
/// the cache: it is keyed by the content's BLAKE3 digest.
#[test]
fn a_changed_file_rebuilds_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("c.csv");
    std::fs::write(
        &csv,
        "1704067200000,1.5,2,1,1.75,3\n1704067260000,1.75,1.8,1.7,1.7,5\n",
    )
    .unwrap();
    assert_eq!(
        streamed(cache_of(&csv, dir.path()))[1].volume.to_string(),
        "5"
    );
    std::fs::write(
        &csv,
        "1704067200000,1.5,2,1,1.75,3\n1704067260000,1.75,1.8,1.7,1.7,6\n",
    )
    .unwrap();
    let file = cache_of(&csv, dir.path());
    assert!(!file.hit);
    assert_eq!(streamed(file)[1].volume.to_string(), "6");
}

/// A cache of the previous format (`BFCANDL1`, keyed by SHA-256) is never
/// read: it is rebuilt, and the candles are the CSV's.
#[test]
fn a_cache_of_the_previous_format_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("c.csv");
    std::fs::write(
        &csv,
        "1704067200000,1.5,2,1,1.75,3
",
    )
    .unwrap();
    let built = cache_of(&csv, dir.path());
    let expected = streamed(built);
    let path = super::cache::cache_path(&csv, dir.path()).unwrap();
    for old in [b"BFCANDL1", b"BFCANDL2"] {
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[..8].copy_from_slice(old);
        std::fs::write(&path, bytes).unwrap();
        let file = cache_of(&csv, dir.path());
        assert!(!file.hit, "an old-format cache was trusted");
        assert_eq!(streamed(file), expected);
        assert_eq!(&std::fs::read(&path).unwrap()[..8], super::cache::MAGIC);
    }
}

/// The cache records the digest of its candles when it is built (a
/// backtest's input hash reads it instead of hashing every candle): the
/// digest of the candles the loader loads, on the build and on a hit, and
/// only for the whole file — a part of it has none.
#[test]
fn the_cache_records_the_digest_of_all_its_candles() {
    let dir = tempfile::tempdir().unwrap();
    let series = generate(&SyntheticConfig::new(9, 3_000)).unwrap();
    let csv = dir.path().join("klines.csv");
    write_binance_csv_file(&csv, &series.candles, Timeframe::H1, TimeUnit::Millis).unwrap();
    let loaded = load_csv(&csv).unwrap().candles;
    let want = CandleDigest::of(&loaded);
    assert_ne!(want, CandleDigest::of(&loaded[1..]));
    for hit in [false, true] {
        let file = cache_of(&csv, dir.path());
        assert_eq!(file.hit, hit);
        let whole = CachedSeries::new(file);
        assert_eq!(whole.candles_digest(), Some(want));
        let part = whole.restrict(Some(loaded[1].open_time), None).unwrap();
        assert_eq!(part.len(), loaded.len() - 1);
        assert_eq!(part.candles_digest(), None);
    }
}

/// Opened with the check in the background, a found cache is used at once
/// and `confirm` gives the hash's verdict: yes for the same bytes, no after
/// an edit that keeps the size. A size change is seen before any use: the
/// cache is rebuilt then and there.
#[test]
fn a_background_check_tells_a_same_size_edit() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("c.csv");
    let rows = |volume: &str| {
        format!("1704067200000,1.5,2,1,1.75,3\n1704067260000,1.75,1.8,1.7,1.7,{volume}\n")
    };
    std::fs::write(&csv, rows("5")).unwrap();
    assert!(!cache_of(&csv, dir.path()).hit);
    let background =
        |csv: &std::path::Path| CandleFile::open_checking_in_background(csv, dir.path()).unwrap();

    let same = background(&csv);
    assert!(same.hit);
    assert!(same.confirm().unwrap());
    assert!(same.confirm().unwrap(), "asked again: still yes");

    std::fs::write(&csv, rows("6")).unwrap();
    let edited = CachedSeries::new(background(&csv));
    assert!(edited.file().hit, "same size: used at once");
    let read: Vec<_> = edited.reader().collect::<Result<_, _>>().unwrap();
    assert_eq!(read[1].volume.to_string(), "5", "the rows the cache holds");
    assert!(!edited.file().confirm().unwrap(), "the hash tells");
    let rebuilt = cache_of(&csv, dir.path());
    assert!(!rebuilt.hit);
    assert_eq!(streamed(rebuilt)[1].volume.to_string(), "6");

    std::fs::write(&csv, rows("60")).unwrap();
    let longer = background(&csv);
    assert!(!longer.hit, "another size: rebuilt before use");
    assert!(longer.confirm().unwrap());
    assert_eq!(streamed(longer)[1].volume.to_string(), "60");
}

/// A bad row fails as loading fails (file, line, column, fix), and nothing
/// is left in the cache directory; `--from/--to` errors are the loader's too.
#[test]
fn errors_are_the_loaders() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, "1704067200000,1,1,1,1,1\n1704067260000,1,0.5,1,1,1\n").unwrap();
    let want = load_csv(&csv).unwrap_err().to_string();
    match CandleFile::open_or_build(&csv, &cache) {
        Err(CacheError::Data(e)) => assert_eq!(e.to_string(), want),
        other => panic!("expected the row error, got {other:?}"),
    }
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);

    std::fs::write(&csv, "1704067200000,1,1,1,1,1\n1704067260000,1,1,1,1,1\n").unwrap();
    let loaded = load_csv(&csv).unwrap();
    let cached = CachedSeries::new(cache_of(&csv, &cache));
    for (from, to) in [
        (Some(1_704_067_260_000), Some(1_704_067_200_000)),
        (Some(1_704_067_300_000), None),
        (None, Some(1_704_067_200_000)),
    ] {
        let want = loaded.clone().restrict(from, to).unwrap_err().to_string();
        let got = cached.clone().restrict(from, to).unwrap_err().to_string();
        assert_eq!(got, want);
    }
    let one = cached.restrict(Some(1_704_067_260_000), None).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one.load().unwrap().candles, loaded.candles[1..]);
}

/// A cache directory that cannot be written is the cache's problem, not
/// the data's: the caller loads the CSV instead.
#[test]
fn an_unwritable_cache_is_reported_apart_from_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("c.csv");
    std::fs::write(&csv, "1704067200000,1,1,1,1,1\n").unwrap();
    let blocked = dir.path().join("file");
    std::fs::write(&blocked, b"x").unwrap();
    assert!(matches!(
        CandleFile::open_or_build(&csv, &blocked),
        Err(CacheError::Cache(_))
    ));
}
