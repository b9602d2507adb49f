"""Botfleet `backtest --data` against backtesting.py on the same candles,
whole process each (start-up, CSV loading or the candle cache, the run,
writing report.json and report.html), runs
interleaved so machine load hits both alike. Prints a table: wall median
and min–max, candles/s at the median, max RSS, trade counts (which must
agree: the semantics are aligned, see backtesting_py_sma.py and
botfleet-sma.yaml) and the wall-time ratio.

Started by run.sh (which makes the venv and builds the release binary).
"""
import argparse
import json
import shutil
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


# GNU time, when installed, reads the child's max RSS: `wait4`'s ru_maxrss
# also counts what this Python process had resident when it forked the
# child (Linux keeps the high-water mark across exec): ~50 MB that are not
# the child's. Its own start adds about a millisecond to the wall time.
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def timed(cmd):
    """Wall seconds and max RSS (MB) of one whole child process."""
    with tempfile.NamedTemporaryFile("r") as rss_file:
        if GNU_TIME:
            cmd = [GNU_TIME, "-f", "%M", "-o", rss_file.name, *cmd]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            sys.exit(f"{cmd[0]} failed ({code}):\n{err}")
        if GNU_TIME:
            return wall, int(rss_file.read().split()[-1]) / 1024  # GNU time's %M is in KiB
        return wall, usage.ru_maxrss / 1024  # Linux: ru_maxrss is in KiB


def botfleet_cmd(binary, csv, out, extra):
    return [
        str(binary), "backtest", "-f", str(HERE / "botfleet-sma.yaml"),
        "--data", str(csv), "--out", str(out),
        "--taker-fee-bps", "10", "--maker-fee-bps", "10", "--slippage-bps", "0",
        "--no-volume-cap", *extra,
    ]


def botfleet_trades(out):
    report = json.loads((Path(out) / "report.json").read_text())
    return len(report["trades"])


def backtesting_py_trades(out_json):
    return json.loads(Path(out_json).read_text())["trades"]


def fmt_range(values, unit=""):
    return f"{statistics.median(values):.2f}{unit} ({min(values):.2f}–{max(values):.2f})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="release botfleet-bot binary")
    ap.add_argument("--candles", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--data-dir", default=str(HERE / "data"))
    ap.add_argument("--botfleet-only", action="store_true", help="skip backtesting.py (quick checks)")
    ap.add_argument("--botfleet-arg", action="append", default=[], help="extra backtest flag")
    args = ap.parse_args()

    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    csv = data_dir / f"candles-1m-{args.candles}-seed42.csv"
    if not csv.exists():
        print(f"generating {csv} ...", file=sys.stderr)
        subprocess.run([sys.executable, str(HERE / "gen_candles.py"), str(csv), str(args.candles), "42"], check=True)

    # The same rows under a capitalised header: the loader's byte-level fast
    # path leaves such a file to the full csv-crate parser, so this row is
    # what loading cost before the fast path (same binary, same candles).
    full_csv = data_dir / f"candles-1m-{args.candles}-seed42-capitalised-header.csv"
    if not full_csv.exists():
        with open(csv) as src, open(full_csv, "w") as dst:
            src.readline()
            dst.write("Timestamp,Open,High,Low,Close,Volume\n")
            for line in src:
                dst.write(line)
    # Botfleet rows: the candle cache warm (a second backtest on the same
    # file: the usual research loop), cold (deleted before each run: parse +
    # write the cache + stream from it), off (parse into memory every run),
    # and off with the full csv-crate parser (before the fast path).
    tools = {
        "Botfleet backtest --data (candle cache warm)": ["--candle-cache", "{cache}"],
        "Botfleet, candle cache cold (parse + write cache)": ["--candle-cache", "{cold}"],
        "Botfleet, no candle cache (parse into memory)": ["--no-candle-cache"],
        "Botfleet, full CSV parser, no cache (before)": ["--no-candle-cache"],
        "backtesting.py 0.6.6": None,
    }
    if args.botfleet_only:
        del tools["backtesting.py 0.6.6"]
    runs = {name: [] for name in tools}
    trades = {}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        cache, cold = Path(tmp) / "cache", Path(tmp) / "cold"
        # Build the warm cache once, untimed.
        timed(botfleet_cmd(args.bin, csv, Path(tmp), ["--candle-cache", str(cache)]))
        for run in range(args.runs):
            for i, (name, flags) in enumerate(tools.items()):
                if flags is not None:
                    out = Path(tmp) / f"bf{run}-{i}"
                    out.mkdir()
                    shutil.rmtree(cold, ignore_errors=True)
                    data = full_csv if "full CSV" in name else csv
                    extra = [f.format(cache=cache, cold=cold) for f in flags] + args.botfleet_arg
                    wall, rss = timed(botfleet_cmd(args.bin, data, out, extra))
                    trades.setdefault(name, set()).add(botfleet_trades(out))
                else:
                    out = Path(tmp) / f"bt{run}.json"
                    wall, rss = timed([sys.executable, str(HERE / "backtesting_py_sma.py"), str(csv), str(out)])
                    trades.setdefault(name, set()).add(backtesting_py_trades(out))
                runs[name].append((wall, rss))
                print(f"run {run + 1}/{args.runs} {name}: {wall:.2f} s, {rss:.0f} MB", file=sys.stderr)
    load_after = os.getloadavg()

    print(f"\n{args.candles:,} one-minute candles, SMA 10/30, 0.1 % fee, next-open fills, no volume cap, "
          f"{args.runs} runs each, whole process")
    print(f"load average (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f}, "
          f"after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}; {os.cpu_count()} cores\n")
    print("| | wall s median (min–max) | candles/s at median | max RSS MB median (min–max) | trades |")
    print("|---|---|---|---|---|")
    medians = {}
    for name, measured in runs.items():
        walls = [w for w, _ in measured]
        rss = [r for _, r in measured]
        medians[name] = statistics.median(walls)
        rate = args.candles / medians[name]
        count = ", ".join(str(t) for t in sorted(trades[name]))
        print(f"| {name} | {fmt_range(walls)} | {rate / 1e6:.2f} M | {fmt_range(rss)} | {count} |")
    if "backtesting.py 0.6.6" in tools:
        bt = medians["backtesting.py 0.6.6"]
        for name in tools:
            if name.startswith("Botfleet"):
                print(f"ratio backtesting.py / {name} (medians): {bt / medians[name]:.1f}× (goal ≥ 100×)")
        counts = [trades[n] for n in tools]
        agree = all(len(c) == 1 for c in counts) and all(c == counts[0] for c in counts)
        print(f"trade counts {'agree' if agree else 'DISAGREE'}")
        if not agree:
            sys.exit(1)


if __name__ == "__main__":
    main()
