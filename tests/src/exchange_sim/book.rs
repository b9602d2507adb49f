//! The simulator's account and matching engine: orders, trades and balances
//! of one account, filled against the prices the test feeds (candles).
//!
//! Market orders fill at once at the last price (or up to the partial-fill
//! cap, the rest EXPIRED, as Binance does with a thin book); limit orders
//! fill at once when marketable, else rest and fill at their price when a
//! candle trades through it (up to the cap per candle: PARTIALLY_FILLED).
//! Fees are `fee_rate` × notional rounded to 8 decimals, charged in the quote asset.

use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// A symbol's filters, as `exchangeInfo` reports them.
#[derive(Clone, Debug)]
pub struct SimSymbol {
    pub symbol: String,
    pub base: String,
    pub quote: String,
    pub tick_size: Decimal,
    pub step_size: Decimal,
    pub min_qty: Decimal,
    pub min_notional: Decimal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimSide {
    Buy,
    Sell,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimStatus {
    New,
    PartiallyFilled,
    Filled,
    Canceled,
    Expired,
}

impl SimStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SimStatus::New => "NEW",
            SimStatus::PartiallyFilled => "PARTIALLY_FILLED",
            SimStatus::Filled => "FILLED",
            SimStatus::Canceled => "CANCELED",
            SimStatus::Expired => "EXPIRED",
        }
    }
    pub fn is_open(self) -> bool {
        matches!(self, SimStatus::New | SimStatus::PartiallyFilled)
    }
}

#[derive(Clone, Debug)]
pub struct SimOrder {
    pub order_id: i64,
    pub client_order_id: String,
    pub symbol: String,
    pub side: SimSide,
    /// `None` for market orders.
    pub price: Option<Decimal>,
    pub orig_qty: Decimal,
    /// The price its reservation was computed at (limit price, or the last
    /// price for a market order).
    pub reserve_price: Decimal,
    pub executed_qty: Decimal,
    pub cumulative_quote: Decimal,
    pub status: SimStatus,
    pub time: i64,
    pub update_time: i64,
}

#[derive(Clone, Debug)]
pub struct SimTrade {
    pub id: i64,
    pub order_id: i64,
    pub symbol: String,
    pub side: SimSide,
    pub price: Decimal,
    pub qty: Decimal,
    pub commission: Decimal,
    pub commission_asset: String,
    pub time: i64,
    pub is_maker: bool,
}

/// Free and locked amounts of one asset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimBalance {
    pub free: Decimal,
    pub locked: Decimal,
}

/// Why an order (or an injected price) is refused: Binance's code and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimReject {
    pub code: i64,
    pub msg: String,
}

impl SimReject {
    /// Binance's error body: `{"code": -1013, "msg": "Invalid price."}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"code": self.code, "msg": self.msg})
    }
}

impl std::fmt::Display for SimReject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

fn reject(code: i64, msg: impl Into<String>) -> SimReject {
    SimReject {
        code,
        msg: msg.into(),
    }
}

/// Binance's answer to a negative number: its parameter grammar has no sign.
fn illegal_characters(parameter: &str) -> SimReject {
    reject(
        -1100,
        format!(
            "Illegal characters found in parameter '{parameter}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'."
        ),
    )
}

/// A price the exchange takes: above 0. Binance refuses a negative one as
/// illegal characters (`-1100`) and a zero one as `-1013 Invalid price.`.
pub fn check_price(price: Decimal) -> Result<(), SimReject> {
    if price.is_sign_negative() && !price.is_zero() {
        return Err(illegal_characters("price"));
    }
    if price <= Decimal::ZERO {
        return Err(reject(-1013, "Invalid price."));
    }
    Ok(())
}

fn is_multiple(value: Decimal, step: Decimal) -> bool {
    step.is_zero() || (value % step).is_zero()
}

#[derive(Debug, Default)]
pub struct Book {
    pub symbols: BTreeMap<String, SimSymbol>,
    pub balances: BTreeMap<String, SimBalance>,
    pub orders: Vec<SimOrder>,
    pub trades: Vec<SimTrade>,
    pub last_price: BTreeMap<String, Decimal>,
    pub fee_rate: Decimal,
    /// Most quantity one order fills per match event (`None`: all of it).
    pub partial_fill_cap: Option<Decimal>,
    next_order_id: i64,
    next_trade_id: i64,
}

/// A new order as the request spells it.
pub struct NewOrder {
    pub symbol: String,
    pub side: SimSide,
    pub price: Option<Decimal>,
    pub qty: Decimal,
    pub client_order_id: String,
}

impl Book {
    pub fn balance(&self, asset: &str) -> SimBalance {
        self.balances.get(asset).copied().unwrap_or_default()
    }

    fn balance_mut(&mut self, asset: &str) -> &mut SimBalance {
        self.balances.entry(asset.to_string()).or_default()
    }

    /// Places an order; the index of the order in `orders`.
    pub fn place(&mut self, new: NewOrder, now: i64) -> Result<usize, SimReject> {
        let sym = self
            .symbols
            .get(&new.symbol)
            .cloned()
            .ok_or_else(|| reject(-1121, "Invalid symbol."))?;
        if new.qty.is_sign_negative() && !new.qty.is_zero() {
            return Err(illegal_characters("quantity"));
        }
        if new.qty < sym.min_qty || !is_multiple(new.qty, sym.step_size) {
            return Err(reject(-1013, "Filter failure: LOT_SIZE"));
        }
        if let Some(p) = new.price {
            check_price(p)?;
            if !is_multiple(p, sym.tick_size) {
                return Err(reject(-1013, "Filter failure: PRICE_FILTER"));
            }
        }
        if self
            .orders
            .iter()
            .any(|o| o.client_order_id == new.client_order_id && o.status.is_open())
        {
            return Err(reject(-2010, "Duplicate order sent."));
        }
        let last = self.last_price.get(&new.symbol).copied();
        let reference = new
            .price
            .or(last)
            .ok_or_else(|| reject(-2010, "No price yet for this symbol (feed a candle first)."))?;
        if new.qty * reference < sym.min_notional {
            return Err(reject(-1013, "Filter failure: NOTIONAL"));
        }
        // Reserve what the order may spend.
        let (asset, amount) = match new.side {
            SimSide::Buy => (
                sym.quote.clone(),
                new.qty * reference * (Decimal::ONE + self.fee_rate),
            ),
            SimSide::Sell => (sym.base.clone(), new.qty),
        };
        let bal = self.balance_mut(&asset);
        if bal.free < amount {
            return Err(reject(
                -2010,
                "Account has insufficient balance for requested action.",
            ));
        }
        bal.free -= amount;
        bal.locked += amount;
        self.next_order_id += 1;
        self.orders.push(SimOrder {
            order_id: self.next_order_id,
            client_order_id: new.client_order_id,
            symbol: new.symbol.clone(),
            side: new.side,
            price: new.price,
            orig_qty: new.qty,
            reserve_price: reference,
            executed_qty: Decimal::ZERO,
            cumulative_quote: Decimal::ZERO,
            status: SimStatus::New,
            time: now,
            update_time: now,
        });
        let idx = self.orders.len() - 1;
        if let Some(last) = last {
            let marketable = match (new.side, new.price) {
                (_, None) => true,
                (SimSide::Buy, Some(p)) => p >= last,
                (SimSide::Sell, Some(p)) => p <= last,
            };
            if marketable {
                self.fill(idx, last, false, now);
            }
        }
        if self.orders[idx].price.is_none() && self.orders[idx].status.is_open() {
            // A market order never rests: the unfilled rest expires.
            self.close(idx, SimStatus::Expired, now);
        }
        Ok(idx)
    }

    /// Fills order `idx` at `price`, up to the partial-fill cap.
    fn fill(&mut self, idx: usize, price: Decimal, is_maker: bool, now: i64) {
        let sym = self.symbols[&self.orders[idx].symbol].clone();
        let o = &self.orders[idx];
        let remaining = o.orig_qty - o.executed_qty;
        let qty = self
            .partial_fill_cap
            .map_or(remaining, |c| c.min(remaining));
        if qty <= Decimal::ZERO {
            return;
        }
        let side = o.side;
        let reserved_price = o.reserve_price;
        let notional = qty * price;
        // Binance amounts carry 8 decimals: the commission charged is the one
        // the wire shows.
        let fee = (notional * self.fee_rate).round_dp(8);
        match side {
            SimSide::Buy => {
                let reserved = qty * reserved_price * (Decimal::ONE + self.fee_rate);
                let quote = self.balance_mut(&sym.quote);
                quote.locked -= reserved;
                quote.free += reserved - notional - fee;
                self.balance_mut(&sym.base).free += qty;
            }
            SimSide::Sell => {
                self.balance_mut(&sym.base).locked -= qty;
                self.balance_mut(&sym.quote).free += notional - fee;
            }
        }
        self.next_trade_id += 1;
        let o = &mut self.orders[idx];
        o.executed_qty += qty;
        o.cumulative_quote += notional;
        o.update_time = now;
        o.status = if o.executed_qty == o.orig_qty {
            SimStatus::Filled
        } else {
            SimStatus::PartiallyFilled
        };
        self.trades.push(SimTrade {
            id: self.next_trade_id,
            order_id: o.order_id,
            symbol: o.symbol.clone(),
            side,
            price,
            qty,
            commission: fee,
            commission_asset: sym.quote,
            time: now,
            is_maker,
        });
    }

    /// Ends an open order, releasing what it still reserves.
    pub fn close(&mut self, idx: usize, status: SimStatus, now: i64) {
        let sym = self.symbols[&self.orders[idx].symbol].clone();
        let o = &self.orders[idx];
        let remaining = o.orig_qty - o.executed_qty;
        let (asset, amount) = match o.side {
            SimSide::Buy => (
                sym.quote,
                remaining * o.reserve_price * (Decimal::ONE + self.fee_rate),
            ),
            SimSide::Sell => (sym.base, remaining),
        };
        let bal = self.balance_mut(&asset);
        bal.locked -= amount;
        bal.free += amount;
        let o = &mut self.orders[idx];
        o.status = status;
        o.update_time = now;
    }

    /// A candle closed: resting limit orders it trades through fill at their
    /// price. A price ≤ 0 is refused (nothing changes) with Binance's error
    /// shape, naming which price; so is an unknown symbol.
    pub fn on_candle(
        &mut self,
        symbol: &str,
        low: Decimal,
        high: Decimal,
        close: Decimal,
        now: i64,
    ) -> Result<(), SimReject> {
        if !self.symbols.contains_key(symbol) {
            return Err(reject(-1121, "Invalid symbol."));
        }
        for (name, price) in [("low", low), ("high", high), ("close", close)] {
            check_price(price).map_err(|r| SimReject {
                code: r.code,
                msg: format!("{} (injected {symbol} candle: {name} {price})", r.msg),
            })?;
        }
        for idx in 0..self.orders.len() {
            let o = &self.orders[idx];
            if o.symbol != symbol || !o.status.is_open() {
                continue;
            }
            let Some(price) = o.price else { continue };
            let hit = match o.side {
                SimSide::Buy => low <= price,
                SimSide::Sell => high >= price,
            };
            if hit {
                self.fill(idx, price, true, now);
            }
        }
        self.last_price.insert(symbol.to_string(), close);
        Ok(())
    }

    pub fn find(
        &self,
        symbol: &str,
        client_order_id: Option<&str>,
        order_id: Option<i64>,
    ) -> Option<usize> {
        self.orders.iter().rposition(|o| {
            o.symbol == symbol
                && (client_order_id.is_some_and(|c| c == o.client_order_id)
                    || order_id.is_some_and(|id| id == o.order_id))
        })
    }
}
