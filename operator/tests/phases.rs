//! The phase state machine, halts and capital on a real apiserver, with a
//! stand-in engine reporting the numbers each step needs.

mod common;

use botfleet_crds::condition_types as ct;
use botfleet_crds::{Amount, Phase};
use common::*;
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

fn phase(b: &botfleet_crds::TradingBot) -> Option<Phase> {
    b.status.as_ref().and_then(|s| s.phase)
}

fn blocked_reason(b: &botfleet_crds::TradingBot) -> Option<String> {
    condition(b, ct::PROMOTION_BLOCKED)
        .filter(|c| c.status == "True")
        .map(|c| c.reason.clone())
}

#[tokio::test]
async fn promotion_is_blocked_until_the_gate_is_met_skips_are_refused_demotion_is_immediate() {
    let w = World::new("promote").await.unwrap();
    let op = w.start_operator(w.config());
    w.strategy("sma").await.unwrap();
    w.policy("seed", json!({})).await.unwrap();
    let engine = w.bot("climber", "seed", json!({})).await.unwrap();
    engine.update(|s| s.window.trades = 40);
    w.wait_bot("climber", "trading in Paper", |b| {
        condition_is(b, ct::READY, "True")
    })
    .await
    .unwrap();

    w.patch_spec("climber", json!({"phase": "Sandbox"}))
        .await
        .unwrap();
    let bot = w
        .wait_bot("climber", "promotion blocked", |b| {
            blocked_reason(b).as_deref() == Some("GateNotMet")
        })
        .await
        .unwrap();
    let message = &condition(&bot, ct::PROMOTION_BLOCKED).unwrap().message;
    assert!(message.contains("minTrades 40 (needs >= 100)"), "{message}");
    assert_eq!(phase(&bot), Some(Phase::Paper));
    let gate = bot.status.as_ref().unwrap().gate.clone().unwrap();
    assert_eq!((gate.target_phase, gate.met), (Phase::Sandbox, false));
    let trades = gate
        .criteria
        .iter()
        .find(|c| c.name == "minTrades")
        .unwrap();
    assert_eq!((trades.measured, trades.met), (Some(40.0), false));
    assert!(condition_is(&bot, ct::GATE_SATISFIED, "False"));
    w.let_reconcile(&op, 5).await.unwrap();
    assert_eq!(
        phase(&w.get("climber").await.unwrap()),
        Some(Phase::Paper),
        "still blocked"
    );
    assert_eq!(
        w.wait_events("climber", "PromotionBlocked")
            .await
            .unwrap()
            .len(),
        1,
        "one Event per transition"
    );

    // The engine reaches the numbers while an order is open: the gate is
    // met, but the book does not move to the next venue; the promotion waits.
    engine.update(|s| {
        s.window.trades = 120;
        s.open_orders = 1;
    });
    let bot = w
        .wait_bot("climber", "waits for a flat book", |b| {
            blocked_reason(b).as_deref() == Some("NotFlat")
        })
        .await
        .unwrap();
    assert_eq!(phase(&bot), Some(Phase::Paper));
    assert!(condition_is(&bot, ct::GATE_SATISFIED, "True"));

    // Flat: the operator, still evaluating, promotes.
    engine.update(|s| s.open_orders = 0);
    let bot = w
        .wait_bot("climber", "promoted to Sandbox", |b| {
            phase(b) == Some(Phase::Sandbox)
        })
        .await
        .unwrap();
    let status = bot.status.clone().unwrap();
    let last = status.phase_history.last().unwrap();
    assert_eq!((last.from, last.to), (Some(Phase::Paper), Phase::Sandbox));
    assert!(condition_is(&bot, ct::PROMOTION_BLOCKED, "False"));
    assert_eq!(w.wait_events("climber", "Promoted").await.unwrap().len(), 1);
    let configs: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(w.admin.clone(), &w.ns);
    // The status commit comes first and the config write follows it, so
    // the config may trail the phase by one write.
    eventually(
        "the engine config carries the effective phase",
        WAIT,
        || async {
            let map = configs.get("climber-config").await?;
            let data = map.data.unwrap_or_default();
            Ok(data
                .get("bot.yaml")
                .is_some_and(|y| y.contains("phase: Sandbox")))
        },
    )
    .await
    .unwrap();

    // Sandbox → Scaling skips LimitedReal: refused, whatever the metrics.
    engine.update(|s| s.phase = Phase::Sandbox);
    w.patch_spec("climber", json!({"phase": "Scaling"}))
        .await
        .unwrap();
    let bot = w
        .wait_bot("climber", "skip refused", |b| {
            blocked_reason(b).as_deref() == Some("SkipRefused")
        })
        .await
        .unwrap();
    assert!(
        condition(&bot, ct::PROMOTION_BLOCKED)
            .unwrap()
            .message
            .contains("set spec.phase to LimitedReal")
    );
    assert_eq!(phase(&bot), Some(Phase::Sandbox));

    // Lowering spec.phase demotes at once, gate or not.
    w.patch_spec("climber", json!({"phase": "Paper"}))
        .await
        .unwrap();
    let bot = w
        .wait_bot("climber", "demoted", |b| phase(b) == Some(Phase::Paper))
        .await
        .unwrap();
    let history = &bot.status.as_ref().unwrap().phase_history;
    assert_eq!(history.len(), 3, "{history:?}");
    assert_eq!(w.wait_events("climber", "Demoted").await.unwrap().len(), 1);
    op.stop().await;
}

#[tokio::test]
async fn automatic_promotion_climbs_one_gate_at_a_time_up_to_spec_phase() {
    let w = World::new("auto").await.unwrap();
    let op = w.start_operator(w.config());
    w.strategy("sma").await.unwrap();
    w.policy("seed", json!({})).await.unwrap();
    let engine = w
        .bot(
            "auto",
            "seed",
            json!({"promotion": "Automatic", "phase": "LimitedReal"}),
        )
        .await
        .unwrap();
    w.wait_bot("auto", "Sandbox", |b| phase(b) == Some(Phase::Sandbox))
        .await
        .unwrap();
    // Until the engine trades in Sandbox, Paper numbers prove nothing.
    w.let_reconcile(&op, 5).await.unwrap();
    let bot = w.get("auto").await.unwrap();
    assert_eq!(phase(&bot), Some(Phase::Sandbox));
    assert_eq!(blocked_reason(&bot).as_deref(), Some("MetricsUnavailable"));
    engine.update(|s| s.phase = Phase::Sandbox);
    // Real money waits for a person's approval (see approvals.rs).
    w.approve("auto", Phase::LimitedReal).await.unwrap();
    let bot = w
        .wait_bot("auto", "LimitedReal", |b| {
            phase(b) == Some(Phase::LimitedReal)
        })
        .await
        .unwrap();
    engine.update(|s| s.phase = Phase::LimitedReal);
    w.let_reconcile(&op, 5).await.unwrap();
    assert_eq!(
        phase(&w.get("auto").await.unwrap()),
        Some(Phase::LimitedReal),
        "spec.phase is the ceiling"
    );
    let reasons: Vec<_> = bot
        .status
        .unwrap()
        .phase_history
        .iter()
        .map(|t| t.reason.clone())
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons[1].contains("automatic") && reasons[2].contains("automatic"),
        "{reasons:?}"
    );
    op.stop().await;
}

#[tokio::test]
async fn a_drawdown_breach_halts_tells_the_engine_and_only_the_current_halt_id_resumes() {
    let w = World::new("halt").await.unwrap();
    let op = w.start_operator(w.config());
    w.strategy("sma").await.unwrap();
    w.policy("seed", json!({"onHalt": {"resumePhase": "Paper"}}))
        .await
        .unwrap();
    let engine = w.bot("risky", "seed", json!({})).await.unwrap();
    w.wait_bot("risky", "trading", |b| condition_is(b, ct::READY, "True"))
        .await
        .unwrap();

    engine.update(|s| s.window.drawdown_pct = 21.5); // paper halts at 20 %
    let bot = w
        .wait_bot("risky", "halted", |b| condition_is(b, ct::HALTED, "True"))
        .await
        .unwrap();
    let status = bot.status.clone().unwrap();
    let halt = status.halt.clone().unwrap();
    assert!(
        halt.reason.contains("drawdown 21.50 %") && halt.reason.contains("maxDrawdownPct"),
        "{}",
        halt.reason
    );
    assert_eq!(condition(&bot, ct::HALTED).unwrap().reason, "LimitBreached");
    assert!(
        condition(&bot, ct::HALTED)
            .unwrap()
            .message
            .contains(&format!("botfleet.dev/resume={}", halt.id))
    );
    assert_eq!(
        status.capital.unwrap().allocated,
        Amount::ZERO,
        "capital cut"
    );
    assert_eq!(status.state, Some(botfleet_crds::BotState::Halted));
    let told = engine.calls("/v1/halt");
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].body["haltId"], halt.id.as_str());
    assert_eq!(told[0].body["flatten"], false);
    assert_eq!(w.wait_events("risky", "Halted").await.unwrap().len(), 1);

    // A stale id does nothing.
    w.annotate("risky", "botfleet.dev/resume", "h-0-stale")
        .await
        .unwrap();
    w.let_reconcile(&op, 5).await.unwrap();
    let bot = w.get("risky").await.unwrap();
    assert_eq!(
        bot.status
            .as_ref()
            .unwrap()
            .halt
            .as_ref()
            .map(|h| h.id.clone()),
        Some(halt.id.clone())
    );
    assert!(engine.calls("/v1/resume").is_empty());

    // The current id resumes, in the policy's resume phase, telling the engine.
    w.annotate("risky", "botfleet.dev/resume", &halt.id)
        .await
        .unwrap();
    let bot = w
        .wait_bot("risky", "resumed", |b| condition_is(b, ct::HALTED, "False"))
        .await
        .unwrap();
    let status = bot.status.unwrap();
    assert_eq!(status.phase, Some(Phase::Paper));
    assert!(status.halt.is_none());
    assert!(
        status
            .phase_history
            .last()
            .unwrap()
            .reason
            .contains(&halt.id)
    );
    let resumes = engine.calls("/v1/resume");
    assert_eq!(resumes.len(), 1);
    assert_eq!(resumes[0].body["haltId"], halt.id.as_str());
    assert_eq!(w.wait_events("risky", "Resumed").await.unwrap().len(), 1);
    w.wait_bot("risky", "capital back", |b| {
        b.status
            .as_ref()
            .unwrap()
            .capital
            .as_ref()
            .unwrap()
            .allocated
            == Amount::from(1000)
    })
    .await
    .unwrap();
    w.let_reconcile(&op, 5).await.unwrap();
    assert!(
        w.get("risky").await.unwrap().status.unwrap().halt.is_none(),
        "no re-halt on the old numbers"
    );
    op.stop().await;
}

#[tokio::test]
async fn the_kill_switch_halts_and_latches_and_engine_halts_are_adopted() {
    let w = World::new("kill").await.unwrap();
    let op = w.start_operator(w.config());
    w.strategy("sma").await.unwrap();
    w.policy("seed", json!({"onHalt": {"action": "flatten"}}))
        .await
        .unwrap();
    let engine = w.bot("manual", "seed", json!({})).await.unwrap();
    w.wait_bot("manual", "trading", |b| condition_is(b, ct::READY, "True"))
        .await
        .unwrap();
    w.patch_spec("manual", json!({"halted": true}))
        .await
        .unwrap();
    let bot = w
        .wait_bot("manual", "halted", |b| condition_is(b, ct::HALTED, "True"))
        .await
        .unwrap();
    assert_eq!(
        condition(&bot, ct::HALTED).unwrap().reason,
        "ManualKillSwitch"
    );
    let id = bot.status.unwrap().halt.unwrap().id;
    eventually("the engine is told", WAIT, || async {
        Ok(!engine.calls("/v1/halt").is_empty())
    })
    .await
    .unwrap();
    assert_eq!(engine.calls("/v1/halt")[0].body["flatten"], true);

    // The current id does nothing while the switch is on; switching it off alone does not resume.
    w.annotate("manual", "botfleet.dev/resume", &id)
        .await
        .unwrap();
    let bot = w
        .wait_bot("manual", "resume refused while switched on", |b| {
            condition(b, ct::HALTED).is_some_and(|c| c.message.contains("spec.halted is true"))
        })
        .await
        .unwrap();
    assert!(bot.status.unwrap().halt.is_some());
    w.annotate("manual", "botfleet.dev/resume", "")
        .await
        .unwrap();
    w.patch_spec("manual", json!({"halted": false}))
        .await
        .unwrap();
    w.let_reconcile(&op, 5).await.unwrap();
    assert!(
        condition_is(&w.get("manual").await.unwrap(), ct::HALTED, "True"),
        "a halt is a latch"
    );
    w.annotate("manual", "botfleet.dev/resume", &id)
        .await
        .unwrap();
    w.wait_bot("manual", "resumed", |b| {
        condition_is(b, ct::HALTED, "False")
    })
    .await
    .unwrap();

    // The engine halts itself: the operator adopts its id and does not re-send a halt.
    let halts_before = engine.calls("/v1/halt").len();
    engine.update(|s| {
        s.halt = Some(botfleet_crds::engine_api::HaltInfo {
            id: "engine-7".into(),
            reason: "daily loss limit".into(),
            at: Timestamp::now().to_string(),
        });
        s.state = botfleet_crds::engine_api::EngineState::Halted;
    });
    let bot = w
        .wait_bot("manual", "engine halt adopted", |b| {
            b.status
                .as_ref()
                .unwrap()
                .halt
                .as_ref()
                .is_some_and(|h| h.id == "engine-7")
        })
        .await
        .unwrap();
    assert_eq!(condition(&bot, ct::HALTED).unwrap().reason, "EngineHalted");
    w.let_reconcile(&op, 3).await.unwrap();
    assert_eq!(engine.calls("/v1/halt").len(), halts_before);
    op.stop().await;
}

#[tokio::test]
async fn capital_steps_up_after_a_profitable_interval_and_down_after_a_loss() {
    let w = World::new("capital").await.unwrap();
    let op = w.start_operator(w.config());
    w.strategy("sma").await.unwrap();
    // One-second "days" in tests: one interval lasts a second.
    w.policy(
        "steps",
        json!({"capital": {"schedule": [1000, 2000, 3000], "stepIntervalDays": 1},
            "gates": {"paperToSandbox": {"minDays": 0}, "sandboxToLimitedReal": {"minDays": 0},
                "limitedRealToScaling": {"minDays": 0}}}),
    )
    .await
    .unwrap();
    let engine = w
        .bot(
            "scaler",
            "steps",
            json!({"promotion": "Automatic", "phase": "Scaling"}),
        )
        .await
        .unwrap();
    engine.update(|s| {
        // Like the engine: the time-weighted phase return follows equity.
        s.window.equity = 1000.into();
        s.window.return_pct = 10.0;
    });
    for p in [Phase::Sandbox, Phase::LimitedReal, Phase::Scaling] {
        if p.is_real_money() {
            w.approve("scaler", p).await.unwrap();
        }
        w.wait_bot("scaler", "climbing", |b| phase(b) == Some(p))
            .await
            .unwrap();
        engine.update(|s| s.phase = p);
    }
    let bot = w
        .wait_bot("scaler", "interval opened", |b| {
            b.status
                .as_ref()
                .and_then(|s| s.capital.as_ref())
                .and_then(|c| c.period.as_ref())
                .is_some_and(|p| p.start_equity.is_some())
        })
        .await
        .unwrap();
    let capital = bot.status.unwrap().capital.unwrap();
    assert_eq!(
        (capital.step, capital.allocated),
        (Some(0), Amount::from(1000))
    );

    engine.update(|s| {
        // Like the engine: the time-weighted phase return follows equity.
        s.window.equity = 1100.into();
        s.window.return_pct = 21.0;
    });
    let bot = w
        .wait_bot("scaler", "stepped up", |b| {
            b.status.as_ref().unwrap().capital.as_ref().unwrap().step == Some(1)
        })
        .await
        .unwrap();
    assert_eq!(
        bot.status.unwrap().capital.unwrap().allocated,
        Amount::from(2000)
    );
    assert_eq!(
        w.wait_events("scaler", "CapitalSteppedUp")
            .await
            .unwrap()
            .len(),
        1
    );
    // Flat intervals change nothing.
    w.let_reconcile(&op, 10).await.unwrap();
    assert_eq!(
        w.get("scaler")
            .await
            .unwrap()
            .status
            .unwrap()
            .capital
            .unwrap()
            .step,
        Some(1)
    );

    engine.update(|s| {
        // Like the engine: the time-weighted phase return follows equity.
        s.window.equity = 1050.into();
        s.window.return_pct = 15.5;
    });
    let bot = w
        .wait_bot("scaler", "stepped down", |b| {
            b.status.as_ref().unwrap().capital.as_ref().unwrap().step == Some(0)
        })
        .await
        .unwrap();
    assert_eq!(
        bot.status.unwrap().capital.unwrap().allocated,
        Amount::from(1000)
    );
    let events = w.wait_events("scaler", "CapitalSteppedDown").await.unwrap();
    assert!(events[0].note.as_ref().unwrap().contains("losing interval"));
    op.stop().await;
}
