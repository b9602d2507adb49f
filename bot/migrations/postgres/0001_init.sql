-- Botfleet engine store, PostgreSQL flavour. Same tables and column names as the
-- SQLite one; prices, quantities and money are exact NUMERIC (unconstrained, so the
-- scale written is the scale read). Times are Unix milliseconds, UTC. JSON is kept
-- as TEXT so both backends bind the same parameter types; cast to jsonb to query it.
-- Never edit a migration once released: sqlx checks their checksums.

CREATE TABLE orders (
    id              BIGINT  PRIMARY KEY CHECK (id >= 0),
    client_order_id TEXT    NOT NULL UNIQUE,
    symbol          TEXT    NOT NULL,
    side            TEXT    NOT NULL CHECK (side IN ('BUY', 'SELL')),
    kind            TEXT    NOT NULL CHECK (kind IN ('market', 'limit')),
    limit_price     NUMERIC,
    quantity        NUMERIC NOT NULL,
    filled_quantity NUMERIC NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN
                        ('new', 'partiallyFilled', 'filled', 'canceled', 'rejected', 'expired')),
    reason          TEXT    NOT NULL,
    status_reason   TEXT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    CHECK ((kind = 'limit') = (limit_price IS NOT NULL)),
    CHECK (filled_quantity >= 0 AND filled_quantity <= quantity)
);
CREATE INDEX orders_open ON orders (status) WHERE status IN ('new', 'partiallyFilled');

CREATE TABLE fills (
    seq         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trade_id    TEXT    NOT NULL,
    symbol      TEXT    NOT NULL,
    order_id    BIGINT  NOT NULL REFERENCES orders (id),
    side        TEXT    NOT NULL CHECK (side IN ('BUY', 'SELL')),
    price       NUMERIC NOT NULL,
    quantity    NUMERIC NOT NULL CHECK (quantity > 0),
    fee         NUMERIC NOT NULL,
    liquidity   TEXT    NOT NULL CHECK (liquidity IN ('maker', 'taker')),
    executed_at BIGINT  NOT NULL,
    UNIQUE (symbol, trade_id)
);
CREATE INDEX fills_order ON fills (order_id);
CREATE INDEX fills_executed_at ON fills (executed_at);

CREATE TABLE positions (
    symbol        TEXT    PRIMARY KEY,
    quantity      NUMERIC NOT NULL,
    average_price NUMERIC NOT NULL,
    realized_pnl  NUMERIC NOT NULL,
    updated_at    BIGINT  NOT NULL
);

CREATE TABLE equity_snapshots (
    at     BIGINT  PRIMARY KEY,
    equity NUMERIC NOT NULL,
    cash   NUMERIC NOT NULL
);

CREATE TABLE decisions (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      BIGINT NOT NULL,
    symbol  TEXT   NOT NULL,
    signal  TEXT   NOT NULL,
    verdict TEXT   NOT NULL,
    reason  TEXT   NOT NULL
);
CREATE INDEX decisions_at ON decisions (at);

CREATE TABLE phase_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    from_phase TEXT,
    to_phase   TEXT   NOT NULL,
    at         BIGINT NOT NULL,
    reason     TEXT   NOT NULL
);

CREATE TABLE engine_state (
    key        TEXT   PRIMARY KEY,
    value      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);
