//! One bot's engine cannot take the operator down. Stand-in engines here:
//! the real engine never answers like this, and these answers are what a
//! compromised or broken pod could send. Each bad bot is marked unhealthy;
//! a well-behaved bot next to them is still supervised (its breach halts it).

mod common;

use botfleet_crds::condition_types as ct;
use botfleet_crds::{Phase, TradingBot};
use common::engine::Misbehavior;
use common::*;
use serde_json::json;

fn poll_failed(b: &TradingBot) -> bool {
    condition(b, ct::ENGINE_HEALTHY)
        .is_some_and(|c| c.status == "False" && c.reason == "PollFailed")
}

fn message(b: &TradingBot) -> String {
    condition(b, ct::ENGINE_HEALTHY)
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn bad_answers_mark_only_their_bot_unhealthy_and_a_breach_elsewhere_still_halts() {
    let w = World::new("misbehave").await.unwrap();
    let op = w.start_operator(w.config());
    w.strategy("sma").await.unwrap();
    w.policy("seed", json!({})).await.unwrap();

    let good = w.bot("good", "seed", json!({})).await.unwrap();
    let huge = w.bot("huge", "seed", json!({})).await.unwrap();
    let redirect = w.bot("redirect", "seed", json!({})).await.unwrap();
    let overflow = w.bot("overflow", "seed", json!({})).await.unwrap();
    let other_uid = w.bot("impostor", "seed", json!({})).await.unwrap();
    for name in ["good", "huge", "redirect", "overflow", "impostor"] {
        w.wait_bot(name, "healthy first", |b| {
            condition_is(b, ct::ENGINE_HEALTHY, "True")
        })
        .await
        .unwrap();
    }

    // 2 MiB of valid JSON: a status padded with a huge limit message.
    let mut padded = huge.status();
    padded.limits_hit.push(botfleet_crds::engine_api::LimitHit {
        limit: "x".into(),
        message: "x".repeat(2 << 20),
    });
    huge.misbehave(Misbehavior::Body(serde_json::to_vec(&padded).unwrap()));
    // A redirect to the good bot's engine, whose answer would look valid.
    redirect.misbehave(Misbehavior::Redirect(format!(
        "http://{}:{}/status",
        good.ip, w.engine_port
    )));
    // Money no account holds: arithmetic on it would overflow.
    let mut absurd = serde_json::to_value(overflow.status()).unwrap();
    absurd["window"]["startEquity"] = json!("79228162514264337593543950335");
    absurd["window"]["equity"] = json!("-79228162514264337593543950335");
    overflow.misbehave(Misbehavior::Body(serde_json::to_vec(&absurd).unwrap()));
    // Another bot's identity.
    let foreign = w.get("good").await.unwrap().metadata.uid;
    other_uid.update(|s| s.uid = foreign);

    for (name, says) in [
        ("huge", "larger than"),
        ("redirect", "HTTP 307"),
        ("overflow", "window.startEquity"),
        ("impostor", "answers for bot"),
    ] {
        let b = w
            .wait_bot(name, "marked unhealthy", poll_failed)
            .await
            .unwrap();
        assert!(message(&b).contains(says), "{name}: {}", message(&b));
        assert!(
            b.status.unwrap().halt.is_none(),
            "{name} is not halted on bad data"
        );
    }

    // The good bot is still watched: its breach halts it.
    good.update(|s| s.window.drawdown_pct = 25.0); // Paper halts at 20 %
    let b = w
        .wait_bot("good", "halted on its breach", |b| {
            condition_is(b, ct::HALTED, "True")
        })
        .await
        .unwrap();
    assert_eq!(b.status.unwrap().phase, Some(Phase::Paper));
    assert_eq!(
        op.metrics
            .reconcile_errors
            .with_label_values(&["panic"])
            .get(),
        0
    );
    op.stop().await;
}
