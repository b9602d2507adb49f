-- Botfleet engine store, SQLite flavour.
--
-- Prices, quantities and money are exact decimal strings (TEXT, and a CHECK keeps
-- them TEXT): SQLite has no exact decimal type and REAL would round 0.1 + 0.2.
-- Times are Unix milliseconds, UTC. Never edit a migration once released: sqlx
-- checks their checksums; add a new file instead.

CREATE TABLE orders (
    id              INTEGER PRIMARY KEY CHECK (id >= 0),  -- the engine's OrderId
    client_order_id TEXT    NOT NULL UNIQUE,              -- what the venue knows it by
    symbol          TEXT    NOT NULL,
    side            TEXT    NOT NULL CHECK (side IN ('BUY', 'SELL')),
    kind            TEXT    NOT NULL CHECK (kind IN ('market', 'limit')),
    limit_price     TEXT    CHECK (limit_price IS NULL OR typeof(limit_price) = 'text'),
    quantity        TEXT    NOT NULL CHECK (typeof(quantity) = 'text'),
    filled_quantity TEXT    NOT NULL CHECK (typeof(filled_quantity) = 'text'),
    status          TEXT    NOT NULL CHECK (status IN
                        ('new', 'partiallyFilled', 'filled', 'canceled', 'rejected', 'expired')),
    reason          TEXT    NOT NULL,                     -- why the order exists
    status_reason   TEXT,                                 -- why it was canceled/rejected/expired
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CHECK ((kind = 'limit') = (limit_price IS NOT NULL))
);
CREATE INDEX orders_open ON orders (status) WHERE status IN ('new', 'partiallyFilled');

CREATE TABLE fills (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,  -- the order fills were applied in
    trade_id    TEXT    NOT NULL,
    symbol      TEXT    NOT NULL,
    order_id    INTEGER NOT NULL REFERENCES orders (id),
    side        TEXT    NOT NULL CHECK (side IN ('BUY', 'SELL')),
    price       TEXT    NOT NULL CHECK (typeof(price) = 'text'),
    quantity    TEXT    NOT NULL CHECK (typeof(quantity) = 'text'),
    fee         TEXT    NOT NULL CHECK (typeof(fee) = 'text'),
    liquidity   TEXT    NOT NULL CHECK (liquidity IN ('maker', 'taker')),
    executed_at INTEGER NOT NULL,
    UNIQUE (symbol, trade_id)                       -- a replayed fill is refused
);
CREATE INDEX fills_order ON fills (order_id);
CREATE INDEX fills_executed_at ON fills (executed_at);

-- The latest positions as the ledger saw them: a cross-check and a convenience for
-- readers; the ledger itself is rebuilt by replaying fills.
CREATE TABLE positions (
    symbol        TEXT    PRIMARY KEY,
    quantity      TEXT    NOT NULL CHECK (typeof(quantity) = 'text'),
    average_price TEXT    NOT NULL CHECK (typeof(average_price) = 'text'),
    realized_pnl  TEXT    NOT NULL CHECK (typeof(realized_pnl) = 'text'),
    updated_at    INTEGER NOT NULL
);

CREATE TABLE equity_snapshots (
    at     INTEGER PRIMARY KEY,
    equity TEXT    NOT NULL CHECK (typeof(equity) = 'text'),
    cash   TEXT    NOT NULL CHECK (typeof(cash) = 'text')
);

-- The audit log: every decision with its risk verdict and reason.
CREATE TABLE decisions (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    symbol  TEXT    NOT NULL,
    signal  TEXT    NOT NULL,
    verdict TEXT    NOT NULL,
    reason  TEXT    NOT NULL CHECK (json_valid(reason))
);
CREATE INDEX decisions_at ON decisions (at);

CREATE TABLE phase_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    from_phase TEXT,
    to_phase   TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    reason     TEXT    NOT NULL
);

-- Small engine facts (next order id, halt latch, pause, phase start, last candle):
-- one JSON value per key, so a new fact needs no migration.
CREATE TABLE engine_state (
    key        TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL CHECK (json_valid(value)),
    updated_at INTEGER NOT NULL
);
