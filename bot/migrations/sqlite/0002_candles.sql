-- Every candle the engine consumed, so a restart can feed its strategies the
-- same history again and continue with exactly the indicator state it had
-- (an EMA depends on every candle it ever saw). `warmup` = 1: history fed to
-- the strategies only, before the bot traded; 0: a candle the bot traded on.
CREATE TABLE candles (
    symbol    TEXT    NOT NULL,
    open_time INTEGER NOT NULL,
    open      TEXT    NOT NULL CHECK (typeof(open) = 'text'),
    high      TEXT    NOT NULL CHECK (typeof(high) = 'text'),
    low       TEXT    NOT NULL CHECK (typeof(low) = 'text'),
    close     TEXT    NOT NULL CHECK (typeof(close) = 'text'),
    volume    TEXT    NOT NULL CHECK (typeof(volume) = 'text'),
    warmup    INTEGER NOT NULL CHECK (warmup IN (0, 1)),
    PRIMARY KEY (symbol, open_time)
);
