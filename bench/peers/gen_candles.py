"""Writes N one-minute candles as `timestamp,open,high,low,close,volume`
(Unix ms), a seeded geometric random walk around 100 with six-decimal
prices (so two moving averages are never exactly equal and float noise
cannot flip a crossover in one tool and not the other).

usage: gen_candles.py OUT.csv [N] [SEED]
"""
import sys

import numpy as np

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 42
rng = np.random.default_rng(seed)
# A mean-reverting log price (Ornstein–Uhlenbeck) keeps the walk within
# roughly 50..200 over any length, so fixed-size orders stay comparable.
steps = rng.normal(0.0, 0.0008, n)
logp = np.empty(n + 1)
logp[0] = np.log(100.0)
for i in range(n):  # noqa: the loop is a few seconds for 1M; clarity over speed
    logp[i + 1] = logp[i] + steps[i] - 0.0001 * (logp[i] - np.log(100.0))
prices = np.round(np.exp(logp), 6)
opens, closes = prices[:-1], prices[1:]
wick = np.abs(rng.normal(0.0, 0.0004, (2, n)))
highs = np.ceil(np.maximum(opens, closes) * (1 + wick[0]) * 1e6) / 1e6
lows = np.floor(np.minimum(opens, closes) * (1 - wick[1]) * 1e6) / 1e6
volumes = np.round(rng.uniform(1.0, 100.0, n), 3)
times = 1_577_836_800_000 + np.arange(n, dtype=np.int64) * 60_000  # 2020-01-01T00:00Z
with open(out, "w") as f:
    f.write("timestamp,open,high,low,close,volume\n")
    for row in zip(times, opens, highs, lows, closes, volumes):
        f.write("%d,%.6f,%.6f,%.6f,%.6f,%.3f\n" % row)
