//! Committee voting: thresholds, veto, reasons.
//!
//! The members are two SMA crossovers on one zig-zag series, whose signals
//! are asserted first, so every committee expectation follows from them:
//! - `fast` = SMA(1) vs SMA(2), i.e. the price direction: Sell #4, Buy #8, Sell #12
//! - `slow` = SMA(2) vs SMA(3), one candle later: Sell #5, Buy #9, Sell #13

use botfleet_crds::{Committee, CommitteeMember, InlineStrategy, SmaCrossover, StrategySpec};

use super::*;

const ZIGZAG: [f64; 14] = [
    10.0, 11.0, 12.0, 13.0, 12.0, 11.0, 10.0, 9.0, 10.0, 11.0, 12.0, 13.0, 12.0, 11.0,
];

pub(super) fn sma_member(name: &str, weight: f64, fast: u32, slow: u32) -> CommitteeMember {
    CommitteeMember {
        name: name.into(),
        strategy_ref: None,
        inline: Some(InlineStrategy {
            sma_crossover: Some(SmaCrossover { fast, slow }),
            ..Default::default()
        }),
        weight,
    }
}

pub(super) fn committee_spec(
    members: Vec<CommitteeMember>,
    min_agreement: f64,
    veto_by: Option<&str>,
) -> StrategySpec {
    StrategySpec {
        committee: Some(Committee {
            members,
            min_agreement,
            veto_by: veto_by.map(str::to_string),
        }),
        ..Default::default()
    }
}

/// Committee of `fast` (weight `wf`) and `slow` (weight `ws`) over the zig-zag.
fn vote(wf: f64, ws: f64, min_agreement: f64, veto_by: Option<&str>) -> Vec<Advice> {
    let spec = committee_spec(
        vec![sma_member("fast", wf, 1, 2), sma_member("slow", ws, 2, 3)],
        min_agreement,
        veto_by,
    );
    let mut s = build_strategy("council", &spec, &|_| None).unwrap();
    assert_eq!((s.name(), s.warmup_candles()), ("committee", 3));
    run(s.as_mut(), &ZIGZAG)
}

#[test]
fn members_signal_where_the_comments_say() {
    let fast = SmaCrossoverStrategy::new(&SmaCrossover { fast: 1, slow: 2 }).unwrap();
    let slow = SmaCrossoverStrategy::new(&SmaCrossover { fast: 2, slow: 3 }).unwrap();
    use Signal::*;
    assert_eq!(
        signals(&run(&mut fast.clone(), &ZIGZAG)),
        vec![(4, Sell), (8, Buy), (12, Sell)]
    );
    assert_eq!(
        signals(&run(&mut slow.clone(), &ZIGZAG)),
        vec![(5, Sell), (9, Buy), (13, Sell)]
    );
}

#[test]
fn equal_weights_at_half_need_a_strict_majority_side() {
    use Signal::*;
    // #4: fast sells (0.5 ≥ 0.5, nobody buys) → Sell. #8: fast buys, slow
    // still sells: 0.5 / 0.5 is a tie → hold. #9 both buy → Buy (share 1).
    let d = vote(1.0, 1.0, 0.5, None);
    assert_eq!(signals(&d), vec![(4, Sell), (9, Buy), (13, Sell)]);
    assert_eq!(d[4].confidence, 0.5);
    assert_eq!(d[9].confidence, 1.0);
    // #5: slow joins the sell, but the committee already said sell: no repeat.
    assert_eq!(d[5].signal, Hold);
}

#[test]
fn weighted_share_at_the_threshold_acts() {
    use Signal::*;
    // fast carries 3 of 4: its vote alone is a 0.75 share.
    let d = vote(3.0, 1.0, 0.75, None);
    assert_eq!(signals(&d), vec![(4, Sell), (8, Buy), (12, Sell)]);
    assert_eq!(d[8].confidence, 0.75);
    // Above the threshold: same.
    assert_eq!(signals(&vote(3.0, 1.0, 0.7, None)), signals(&d));
}

#[test]
fn weighted_share_below_the_threshold_waits_for_more_members() {
    use Signal::*;
    // 0.75 < 0.8: the committee acts only once slow agrees too (share 1).
    let d = vote(3.0, 1.0, 0.8, None);
    assert_eq!(signals(&d), vec![(5, Sell), (9, Buy), (13, Sell)]);
    let r = committee_reason(&d[8]);
    assert_eq!((r.buy_share, r.sell_share), (0.75, 0.25));
    assert_eq!(r.vetoed, None);
    assert!(
        r.votes.is_empty() && r.votes.capacity() == 0,
        "hold must not allocate"
    );
}

#[test]
fn decimal_weights_exactly_at_the_threshold_count() {
    use Signal::*;
    // 0.1 + 0.7 is 0.7999999999999999 in floating point; it is meant as 0.8.
    let spec = committee_spec(
        vec![
            sma_member("a", 0.1, 1, 2),
            sma_member("b", 0.7, 1, 2),
            sma_member("slow", 0.2, 2, 3),
        ],
        0.8,
        None,
    );
    let mut s = build_strategy("council", &spec, &|_| None).unwrap();
    let d = run(s.as_mut(), &ZIGZAG);
    assert_eq!(signals(&d), vec![(4, Sell), (8, Buy), (12, Sell)]);
}

#[test]
fn veto_member_voting_the_other_way_blocks_until_it_changes_its_mind() {
    use Signal::*;
    // Without the veto fast's 0.75 share would act on #8 and #12 (see above).
    let d = vote(3.0, 1.0, 0.7, Some("slow"));
    // #4: slow has not voted yet (abstains) → no veto, Sell goes through.
    // #8: slow still votes sell against the buy → blocked; #9 slow buys → Buy.
    // #12: slow votes buy against the sell → blocked; #13 → Sell.
    assert_eq!(signals(&d), vec![(4, Sell), (9, Buy), (13, Sell)]);
    let r = committee_reason(&d[8]);
    assert_eq!(r.vetoed, Some(Vote::Buy));
    assert_eq!(r.standing, Vote::Sell);
    let veto: Vec<_> = r
        .votes
        .iter()
        .filter(|v| v.veto)
        .map(|v| (&*v.name, v.vote))
        .collect();
    assert_eq!(veto, vec![("slow", Vote::Sell)]);
    assert!(
        d[8].reason.to_string().contains("buy vetoed by `slow`"),
        "{}",
        d[8].reason
    );
    assert_eq!(committee_reason(&d[12]).vetoed, Some(Vote::Sell));
    assert_eq!(committee_reason(&d[9]).vetoed, None);

    // A veto member that agrees does not block: veto by fast changes nothing.
    assert_eq!(
        signals(&vote(3.0, 1.0, 0.7, Some("fast"))),
        signals(&vote(3.0, 1.0, 0.7, None))
    );
}

#[test]
fn committee_reason_lists_every_vote_with_its_own_reason() {
    let d = vote(3.0, 1.0, 0.75, None);
    let r = committee_reason(&d[8]);
    assert_eq!(
        (r.buy_share, r.sell_share, r.min_agreement),
        (0.75, 0.25, 0.75)
    );
    assert_eq!(r.standing, Vote::Buy);
    assert_eq!(r.votes.len(), 2);
    // fast's reason is from this candle: SMA(1) = 10 crossed above SMA(2) = 9.5.
    assert_eq!(
        (r.votes[0].name.as_str(), r.votes[0].weight, r.votes[0].vote),
        ("fast", 3.0, Vote::Buy)
    );
    assert_eq!(
        r.votes[0].reason,
        IndicatorReason::SmaCrossover {
            fast: 1,
            slow: 2,
            sma_fast: 10.0,
            sma_slow: 9.5,
            trigger: Trigger::CrossedAbove
        }
    );
    // slow's vote stands from its sell on #5: SMA(2) 11.5 crossed below SMA(3) 12.
    assert_eq!(r.votes[1].vote, Vote::Sell);
    assert_eq!(
        r.votes[1].reason,
        IndicatorReason::SmaCrossover {
            fast: 2,
            slow: 3,
            sma_fast: 11.5,
            sma_slow: 12.0,
            trigger: Trigger::CrossedBelow
        }
    );
    assert_eq!(
        d[8].reason.to_string(),
        "committee: buy 0.75 / sell 0.25 of the weight, minAgreement 0.75; standing buy \
         — fast (weight 3): buy because sma(1)=10 crossed above sma(2)=9.5; \
         slow (weight 1): sell because sma(2)=11.5 crossed below sma(3)=12"
    );
    let json = serde_json::to_value(&d[8].reason).unwrap();
    assert_eq!(json["kind"], "committee");
    assert_eq!(json["votes"][1]["reason"]["kind"], "smaCrossover");
    assert_eq!(json["votes"][1]["vote"], "sell");
    assert_eq!(serde_json::from_value::<Reason>(json).unwrap(), d[8].reason);
}

#[test]
fn abstaining_members_count_in_the_total_weight() {
    use Signal::*;
    // A third member that never signals on this series (RSI levels 1/99)
    // holds half the weight: fast + slow together reach only 0.5.
    let mut members = vec![sma_member("fast", 1.0, 1, 2), sma_member("slow", 1.0, 2, 3)];
    members.push(CommitteeMember {
        name: "quiet".into(),
        strategy_ref: None,
        inline: Some(InlineStrategy {
            rsi_reversion: Some(botfleet_crds::RsiReversion {
                period: 2,
                oversold: 1.0,
                overbought: 99.0,
            }),
            ..Default::default()
        }),
        weight: 2.0,
    });
    let spec = committee_spec(members.clone(), 0.5, None);
    let d = run(
        build_strategy("c", &spec, &|_| None).unwrap().as_mut(),
        &ZIGZAG,
    );
    assert_eq!(signals(&d), vec![(5, Sell), (9, Buy), (13, Sell)]);
    let r = committee_reason(&d[9]);
    assert_eq!(r.votes[2].vote, Vote::Abstain);
    assert!(matches!(
        r.votes[2].reason,
        IndicatorReason::RsiReversion {
            trigger: Trigger::None,
            ..
        }
    ));
    // Requiring more than the two can muster: never acts.
    let spec = committee_spec(members, 0.6, None);
    let d = run(
        build_strategy("c", &spec, &|_| None).unwrap().as_mut(),
        &ZIGZAG,
    );
    assert!(signals(&d).is_empty());
}
