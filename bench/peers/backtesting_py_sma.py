"""backtesting.py side of the peer benchmark: SMA 10/30 crossover, long
only, with the Botfleet run's semantics — a cross on a candle's close
trades at the next candle's open, 0.1 % commission per fill, no spread,
no volume limit, a fixed 10-unit position (so fees never exhaust the cash
and no order is refused), the last open trade left open.

Whole process: import, read the CSV, run, write the stats as JSON.
usage: backtesting_py_sma.py CANDLES.csv OUT.json
"""
import json
import sys

import pandas as pd
from backtesting import Backtest, Strategy
from backtesting.lib import crossover


def sma(values, n):
    return pd.Series(values).rolling(n).mean()


class SmaCross(Strategy):
    fast = 10
    slow = 30

    def init(self):
        self.sma_fast = self.I(sma, self.data.Close, self.fast)
        self.sma_slow = self.I(sma, self.data.Close, self.slow)

    def next(self):
        if crossover(self.sma_fast, self.sma_slow):
            if not self.position:
                self.buy(size=10)
        elif crossover(self.sma_slow, self.sma_fast):
            if self.position:
                self.position.close()


def main():
    path, out = sys.argv[1], sys.argv[2]
    df = pd.read_csv(path)
    df.index = pd.to_datetime(df.pop("timestamp"), unit="ms")
    df.columns = ["Open", "High", "Low", "Close", "Volume"]
    bt = Backtest(df, SmaCross, cash=100_000_000, commission=0.001, trade_on_close=False)
    stats = bt.run()
    trades = stats["_trades"]
    with open(out, "w") as f:
        json.dump(
            {
                "trades": int(stats["# Trades"]),
                "final_equity": float(stats["Equity Final [$]"]),
                "first_entry": str(trades["EntryTime"].iloc[0]) if len(trades) else None,
            },
            f,
        )


if __name__ == "__main__":
    main()
