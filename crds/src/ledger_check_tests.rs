use super::*;
use rust_decimal_macros::dec;

fn trade(id: &str, fee: Decimal) -> TradeRecord {
    TradeRecord {
        symbol: "BTCUSDT".into(),
        trade_id: id.into(),
        side: "Buy".into(),
        quantity: dec!(0.001),
        price: dec!(50000),
        fee,
    }
}

fn agreeing() -> LedgerCheck {
    LedgerCheck {
        at: "2026-01-01T00:00:00.000Z".into(),
        venue_trades: 2,
        ledger_trades: 2,
        matched_trades: 2,
        missing_in_ledger: vec![],
        missing_at_venue: vec![],
        mismatched: vec![],
        fee_difference: Decimal::ZERO,
        assets: vec![],
        balance_shortfalls: vec![],
    }
}

/// The wire format: camelCase, money as strings, empty lists absent.
#[test]
fn wire_format() {
    let mut check = agreeing();
    check.missing_in_ledger.push(trade("9", dec!(0.05)));
    check.fee_difference = dec!(0.05);
    let json = serde_json::to_value(&check).unwrap();
    assert_eq!(json["venueTrades"], 2);
    assert_eq!(json["feeDifference"], "0.05");
    assert_eq!(json["missingInLedger"][0]["tradeId"], "9");
    assert_eq!(json["missingInLedger"][0]["quantity"], "0.001");
    assert!(json.get("missingAtVenue").is_none());
    let back: LedgerCheck = serde_json::from_value(json).unwrap();
    assert_eq!(back, check);
}

#[test]
fn summary_names_every_difference_with_its_numbers() {
    let check = agreeing();
    assert!(check.matches());
    assert_eq!(
        check.summary(),
        "ledger matches the venue: 2 trade(s), fees and cash equal"
    );

    let mut check = agreeing();
    check.venue_trades = 3;
    check.missing_in_ledger.push(trade("9", dec!(0.05)));
    check.mismatched.push(TradeMismatch {
        venue: trade("7", dec!(0.06)),
        ledger: trade("7", dec!(0.05)),
    });
    check.fee_difference = dec!(0.06);
    check.assets.push(AssetDifference {
        symbol: "BTCUSDT".into(),
        quantity: dec!(0.001),
        cash: dec!(-50.06),
    });
    check.matched_trades = 1;
    assert_eq!(check.differences(), 4);
    let s = check.summary();
    for part in [
        "1 of 3 venue / 2 ledger trade(s) matched",
        "the venue reports BTCUSDT trade 9 buy 0.001 @ 50000 fee 0.05 the ledger lacks",
        "the venue reports BTCUSDT trade 7 buy 0.001 @ 50000 fee 0.06 but the ledger BTCUSDT trade 7 buy 0.001 @ 50000 fee 0.05",
        "fees differ by 0.06 (venue − ledger)",
        "BTCUSDT differs by quantity 0.001 and cash -50.06 (venue − ledger)",
    ] {
        assert!(s.contains(part), "{part:?} not in {s:?}");
    }
}

/// No check, an unreadable one or one past the bound is not measurable;
/// a recent one counts its differences.
#[test]
fn evidence_needs_a_recent_check() {
    let none = evidence(None, |_| Some(0), 1800);
    assert_eq!(none.differences, None);
    assert!(none.detail.contains("not checked"), "{}", none.detail);

    let check = agreeing();
    let stale = evidence(Some(&check), |_| Some(1801), 1800);
    assert_eq!(stale.differences, None);
    assert!(stale.detail.contains("30 min old"), "{}", stale.detail);

    let unreadable = evidence(Some(&check), |_| None, 1800);
    assert_eq!(unreadable.differences, None);

    let fresh = evidence(Some(&check), |_| Some(1800), 1800);
    assert_eq!(fresh.differences, Some(0));

    let mut differs = agreeing();
    differs.fee_difference = dec!(0.01);
    let e = evidence(Some(&differs), |_| Some(5), 1800);
    assert_eq!(e.differences, Some(1));
    assert!(e.detail.contains("fees differ by 0.01"), "{}", e.detail);
}
