"""`botfleet-bot sweep` bench: 1,000 SMA-crossover parameter sets (a seeded
random sample of a 40 × 26 grid) over a year of one-minute candles
(525,600, bench/peers/gen_candles.py), walk-forward 90-day train / 30-day
test, whole process, N runs. Prints wall median (min–max), max RSS, and
parameter-set-candles per second. Started by run.sh.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS = HERE.parent / "peers"
CANDLES = 525_600


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sets", type=int, default=1000)
    args = ap.parse_args()
    data = PEERS / "data" / f"candles-1m-{CANDLES}-seed42.csv"
    if not data.exists():
        data.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(PEERS / "gen_candles.py"), str(data), str(CANDLES), "42"], check=True)
    walls, rss = [], []
    load_before = os.getloadavg()
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as out:
            cmd = [
                args.bin, "sweep", "-f", str(HERE / "sweep-sma.yaml"), "--data", str(data),
                "--param", "smaCrossover.fast=2:41:1", "--param", "smaCrossover.slow=50:300:10",
                "--random", str(args.sets), "--train-days", "90", "--test-days", "30",
                "--taker-fee-bps", "10", "--slippage-bps", "0", "--no-volume-cap",
                "--quiet", "--top", "5", "--out", out,
            ]
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            stdout = proc.stdout.read().decode()
            if os.waitstatus_to_exitcode(status) != 0:
                sys.exit(proc.stderr.read().decode())
            walls.append(wall)
            rss.append(usage.ru_maxrss / 1024)
            print(f"run {run + 1}/{args.runs}: {wall:.1f} s, {rss[-1]:.0f} MB", file=sys.stderr)
            if run == 0:
                print(stdout)
    load_after = os.getloadavg()
    med = statistics.median(walls)
    if args.sets == 1000:
        goal = "≤ 30 s: " + ("met" if med <= 30 else "not met")
    else:
        goal = f"≤ 30 s for 1,000 sets: ~{med * 1000 / args.sets:.0f} s extrapolated (linear)"
    print(f"{args.sets} parameter sets × {CANDLES:,} one-minute candles, walk-forward 90/30 days, "
          f"{os.cpu_count()} cores, {args.runs} runs")
    print(f"load average before {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f}, "
          f"after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}\n")
    print("| wall s median (min–max) | set-candles/s at median | max RSS MB median (min–max) | goal |")
    print("|---|---|---|---|")
    print(f"| {med:.1f} ({min(walls):.1f}–{max(walls):.1f}) | {args.sets * CANDLES / med / 1e6:.1f} M | "
          f"{statistics.median(rss):.0f} ({min(rss):.0f}–{max(rss):.0f}) | {goal} |")


if __name__ == "__main__":
    main()
