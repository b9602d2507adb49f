-- Every candle the engine consumed, so a restart can feed its strategies the
-- same history again and continue with exactly the indicator state it had
-- (an EMA depends on every candle it ever saw). `warmup`: history fed to the
-- strategies only, before the bot traded.
CREATE TABLE candles (
    symbol    TEXT    NOT NULL,
    open_time BIGINT  NOT NULL,
    open      NUMERIC NOT NULL,
    high      NUMERIC NOT NULL,
    low       NUMERIC NOT NULL,
    close     NUMERIC NOT NULL,
    volume    NUMERIC NOT NULL,
    warmup    BOOLEAN NOT NULL,
    PRIMARY KEY (symbol, open_time)
);
