//! Capital transfers through the ledger, the performance window and the
//! risk engine together, as `engine::allocation` drives them: a transfer is
//! never profit, loss, drawdown or breach; returns chain time-weighted.

use super::*;
use crate::ledger::Transfer;
use crate::performance::{EquityCurve, Performance};

const H: i64 = 60 * MIN;

struct Book {
    ledger: Ledger,
    perf: Performance,
    risk: RiskEngine,
}

impl Book {
    fn new(config: RiskConfig) -> Book {
        let capital = config.capital;
        Book {
            ledger: Ledger::new(capital).unwrap(),
            perf: Performance::new(Timeframe::H1, "Paper", T0, capital, EquityCurve::full()),
            risk: RiskEngine::new(config, T0, capital).unwrap(),
        }
    }

    /// Marks BTCUSDT at `price` at `t`: performance and risk see the equity.
    fn mark(&mut self, t: i64, price: &str) {
        self.ledger.mark(&sym("BTCUSDT"), p(price));
        let equity = self.ledger.equity();
        self.perf.on_candle(t, equity, self.ledger.has_position());
        let _ = self.risk.on_equity(t, equity);
    }

    /// The allocation becomes `capital`: what the engine does (a cut takes
    /// at most the cash).
    fn allocate(&mut self, t: i64, capital: &str) -> Transfer {
        let target = m(capital);
        let wanted = target - self.ledger.contributed();
        let amount = if wanted.is_sign_negative() {
            -(-wanted).min(self.ledger.cash())
        } else {
            wanted
        };
        let transfer = self.ledger.transfer(t, amount, target).unwrap().clone();
        self.perf.transfer(amount);
        self.risk.transfer(amount);
        transfer
    }

    fn return_pct(&self) -> f64 {
        self.perf.window().return_pct()
    }
}

fn config(total_loss_pct: &str, drawdown_pct: &str, capital: &str) -> RiskConfig {
    let mut c = plain(capital);
    c.tiers.clear();
    c.limits.max_total_loss_pct = total_loss_pct.parse().unwrap();
    c.limits.max_drawdown_pct = drawdown_pct.parse().unwrap();
    c.limits.max_position_pct = "100".parse().unwrap();
    c.limits.stop_loss_pct = "90".parse().unwrap();
    c
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// The Scaling schedule 1000 → 2000 → 3500 → 2000 with a 20 % total-loss
/// limit, trading in between: no halt; equity, P&L, drawdown and the
/// time-weighted return to the cent.
#[test]
fn scaling_steps_up_and_down_without_a_halt() {
    let mut b = Book::new(config("20", "25", "1000"));
    buy(&mut b.ledger, "BTCUSDT", "100", "4", T0 + H);
    b.mark(T0 + H, "100");
    b.mark(T0 + 2 * H, "90");
    assert_eq!(b.ledger.equity(), m("960"));
    assert!(close(b.return_pct(), -4.0));
    assert_eq!(b.risk.total_loss_floor(), m("800"));

    // Step up: 1000 in. The bug this guards against: a floor at 1600
    // (20 % of the new capital) against an equity of 960 halted the bot.
    let t = b.allocate(T0 + 3 * H, "2000");
    assert_eq!(
        (t.amount, t.capital_after, t.shortfall),
        (m("1000"), m("2000"), m("0"))
    );
    assert_eq!(b.ledger.equity(), m("1960"));
    assert_eq!(b.ledger.net_pnl(), m("-40"));
    assert!(close(b.return_pct(), -4.0), "{}", b.return_pct());
    assert!(close(b.perf.window().drawdown_pct(), 4.0));
    // The % base scales with the account: 1000 × 1960 / 960.
    assert_eq!(b.perf.window().start_equity(), m("2041.66666667"));
    assert_eq!(b.risk.total_loss_floor(), m("1633.333333336"));
    assert_eq!(b.risk.state().peak_equity(), m("2041.66666667"));
    b.mark(T0 + 4 * H, "110");
    assert_eq!(b.ledger.equity(), m("2040"));
    assert!(b.risk.halted().is_none());

    // Step up again: 1500 in; then the position closes.
    b.allocate(T0 + 5 * H, "3500");
    assert_eq!(b.ledger.equity(), m("3540"));
    let trade = sell(&mut b.ledger, "BTCUSDT", "110", "4", T0 + 6 * H).unwrap();
    assert_eq!(trade.pnl, m("40"));
    b.mark(T0 + 6 * H, "110");
    assert_eq!(b.ledger.net_pnl(), m("40"));

    // Step down: 1500 out (all free).
    let t = b.allocate(T0 + 7 * H, "2000");
    assert_eq!((t.amount, t.shortfall), (m("-1500"), m("0")));
    assert_eq!(b.ledger.cash(), m("2040"));
    assert_eq!(b.ledger.equity(), m("2040"));
    assert_eq!(b.ledger.contributed(), m("2000"));
    assert_eq!(b.ledger.net_pnl(), m("40"));
    assert!(b.risk.halted().is_none(), "{:?}", b.risk.halted());

    // Sub-periods: 960 / 1000, then 2040 / 1960, then flat.
    let twr = (0.96 * (2040.0 / 1960.0) - 1.0) * 100.0;
    assert!(close(b.return_pct(), twr), "{} vs {twr}", b.return_pct());
    assert!(close(b.perf.overall().return_pct(), twr));
    assert!(close(b.perf.window().max_drawdown_pct(), 4.0));
    let dd = (1.0 - 2040.0 / 1960.0 * 0.96) * 100.0;
    assert!(close(b.perf.window().drawdown_pct(), dd));
    // The loss floor is 80 % of the scaled base: the account is 0.08 % down.
    assert_eq!(b.risk.total_loss_floor().round_dp(2), m("1633.33"));
    let s = b.perf.window().summary(1.0);
    assert_eq!((s.net_transfers, s.net_pnl), (m("1000"), m("40")));
}

/// A cut after a loss: the loss in % stays (no breach), a further real loss
/// to the limit still halts. Moving the base by the amount instead would
/// have counted the 500 lost against 20 % of 2000 and halted at the cut.
#[test]
fn a_cut_after_a_loss_is_no_breach_and_the_limit_still_holds() {
    let mut b = Book::new(config("20", "90", "3500"));
    buy(&mut b.ledger, "BTCUSDT", "100", "10", T0 + H);
    b.mark(T0 + H, "50");
    assert_eq!(b.ledger.equity(), m("3000"));
    b.allocate(T0 + 2 * H, "2000");
    assert_eq!(b.ledger.equity(), m("1500"));
    assert!(b.risk.halted().is_none());
    // 3500 × 1500 / 3000 = 1750; 80 % of it.
    assert_eq!(b.risk.total_loss_floor(), m("1400"));
    assert!(close(b.return_pct(), -100.0 / 7.0));
    b.mark(T0 + 3 * H, "40.01");
    assert!(b.risk.halted().is_none());
    b.mark(T0 + 4 * H, "40");
    let halt = b.risk.halted().expect("20 % lost since the phase started");
    assert_eq!(halt.limit, Limit::MaxTotalLossPct);
    assert!(
        halt.reason
            .contains("started with 1750, re-based for capital transfers"),
        "{}",
        halt.reason
    );
}

/// An absolute cap counts money: a step up after a loss neither adds to the
/// loss nor forgives it.
#[test]
fn an_absolute_cap_keeps_counting_the_money_lost() {
    let mut c = config("50", "90", "1000");
    c.limits.max_total_loss = Some("500".parse().unwrap());
    let mut b = Book::new(c);
    buy(&mut b.ledger, "BTCUSDT", "100", "10", T0 + H);
    b.mark(T0 + H, "70");
    b.allocate(T0 + 2 * H, "2000");
    assert_eq!(b.ledger.equity(), m("1700"));
    assert!(b.risk.halted().is_none());
    assert_eq!(b.risk.total_loss_floor(), m("1500"));
    b.mark(T0 + 3 * H, "50.01");
    assert!(b.risk.halted().is_none());
    b.mark(T0 + 4 * H, "50");
    let halt = b.risk.halted().expect("500 lost");
    assert_eq!(halt.limit, Limit::MaxTotalLoss);
    assert!(halt.reason.starts_with("loss 500 since"), "{}", halt.reason);
}

/// Today's loss and the drawdown keep their % through a cut; the day's
/// money P&L leaves the transfer out.
#[test]
fn a_cut_is_no_drawdown_and_no_daily_loss() {
    let mut b = Book::new(config("50", "10", "3500"));
    buy(&mut b.ledger, "BTCUSDT", "100", "10", T0 + H);
    b.mark(T0 + H, "100");
    b.mark(T0 + 2 * H, "84");
    assert_eq!(b.ledger.equity(), m("3340"));
    // 160 of 3500 today (4.6 %, limit 5 %); 4.6 % from the peak (limit 10 %).
    let floor = b.risk.daily_loss_floor();
    b.allocate(T0 + 3 * H, "2000");
    assert_eq!(b.ledger.equity(), m("1840"));
    assert!(b.risk.halted().is_none() && b.risk.pause(T0 + 3 * H).is_none());
    assert!(b.risk.daily_loss_floor() < floor);
    assert_eq!(b.perf.window().daily_pnl(), m("-160"));
    assert!(close(b.perf.window().drawdown_pct(), 160.0 / 35.0));
    b.mark(T0 + 4 * H, "84");
    assert!(b.risk.pause(T0 + 4 * H).is_none());
}

/// A cut larger than the cash moves the cash and records the rest as the
/// shortfall, never negative cash; it moves once the cash is there.
#[test]
fn a_cut_larger_than_the_cash_leaves_a_shortfall() {
    let mut b = Book::new(config("20", "25", "2000"));
    buy(&mut b.ledger, "BTCUSDT", "100", "15", T0 + H);
    b.mark(T0 + H, "100");
    let t = b.allocate(T0 + 2 * H, "1000");
    assert_eq!((t.amount, t.shortfall), (m("-500"), m("500")));
    assert_eq!(b.ledger.cash(), m("0"));
    assert_eq!(b.ledger.owed_out(), m("500"));
    let err = b.ledger.transfer(T0 + 2 * H, m("-0.01"), m("1000"));
    assert!(matches!(
        err,
        Err(crate::ledger::LedgerError::TransferExceedsCash { .. })
    ));
    let _ = sell(&mut b.ledger, "BTCUSDT", "100", "15", T0 + 3 * H);
    b.mark(T0 + 3 * H, "100");
    let t = b.allocate(T0 + 4 * H, "1000");
    assert_eq!(
        (t.amount, t.capital_after, t.shortfall),
        (m("-500"), m("1000"), m("0"))
    );
    assert_eq!(b.ledger.equity(), m("1000"));
    assert_eq!(b.ledger.owed_out(), m("0"));
    assert!(b.risk.halted().is_none());
    assert!(close(b.return_pct(), 0.0));
}

/// The re-based state survives the snapshot round trip.
#[test]
fn rebased_limits_survive_a_restore() {
    let mut b = Book::new(config("20", "25", "1000"));
    b.mark(T0 + H, "1");
    b.allocate(T0 + 2 * H, "2000");
    let json = serde_json::to_string(b.risk.state()).unwrap();
    let state: RiskState = serde_json::from_str(&json).unwrap();
    let e = RiskEngine::restore(config("20", "25", "2000"), state).unwrap();
    assert_eq!(e.total_loss_floor(), b.risk.total_loss_floor());
    assert_eq!(e.total_loss_floor(), m("1600"));
    let perf: Performance = serde_json::from_str(&serde_json::to_string(&b.perf).unwrap()).unwrap();
    assert_eq!(perf.window().start_equity(), m("2000"));
}
