//! The real engine process refuses control requests that are not the
//! operator's, for this bot, now and once — and accepts a rotated key as
//! soon as its public keys file says so, without a restart.

mod run_support;

use run_support::*;
use serde_json::json;

const ROTATED_KEY: &str = "rotated-operator-key-material-9c41-0123456789";

fn synthetic() -> Vec<String> {
    let mut args: Vec<String> = ["--feed", "synthetic", "--speed", "max", "--candles", "50"]
        .map(String::from)
        .to_vec();
    args.extend(["--control-keys-file".to_string()]);
    args
}

async fn started(ws: &Workspace) -> Engine {
    let mut args = synthetic();
    args.push(ws.path("control-keys.pub").display().to_string());
    let engine = Engine::start(ws, &args, &[]);
    engine.wait_status().await;
    engine
}

fn error_of(body: &serde_json::Value) -> String {
    body["error"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_stale_unsigned_and_other_bot_requests_are_refused() {
    let ws = Workspace::new("Paper");
    let engine = started(&ws).await;
    let path = "/v1/cancel-all";
    let body = b"{}".to_vec();

    // A fresh signed request works once; the same bytes again are a replay.
    let once = signed(OPERATOR_KEY, path, BOT_UID, &body, unix_now());
    let (code, answer) = engine.post_raw(path, Some(&once), body.clone()).await;
    assert_eq!(code, 200, "{answer}");
    let (code, answer) = engine.post_raw(path, Some(&once), body.clone()).await;
    assert_eq!(code, 401, "{answer}");
    assert!(error_of(&answer).contains("replayed"), "{answer}");

    // Signed 31 s and more away from now, either way: stale.
    for skew in [-120, -31, 31, 3_600] {
        let h = signed(OPERATOR_KEY, path, BOT_UID, &body, unix_now() + skew);
        let (code, answer) = engine.post_raw(path, Some(&h), body.clone()).await;
        assert_eq!(code, 401, "{skew}: {answer}");
        assert!(error_of(&answer).contains("stale request"), "{answer}");
    }

    // Unsigned.
    let (code, answer) = engine.post_raw(path, None, body.clone()).await;
    assert_eq!(code, 401, "{answer}");
    assert!(error_of(&answer).contains("unsigned request"), "{answer}");

    // Signed by the operator, for another bot: refused, also with this
    // bot's UID written over the header (the UID is signed).
    let other = signed(OPERATOR_KEY, path, "another-bot-uid", &body, unix_now());
    let (code, answer) = engine.post_raw(path, Some(&other), body.clone()).await;
    assert_eq!(code, 401, "{answer}");
    assert!(error_of(&answer).contains("another bot"), "{answer}");
    let mut relabelled = other;
    relabelled.uid = BOT_UID.into();
    let (code, answer) = engine.post_raw(path, Some(&relabelled), body.clone()).await;
    assert_eq!(code, 401, "{answer}");
    assert!(error_of(&answer).contains("invalid signature"), "{answer}");

    // A signature over another body does not carry over to this one.
    let halt = br#"{"reason":"forged","haltId":"h-forged"}"#.to_vec();
    let (code, _) = engine.post_raw("/v1/halt", Some(&once), halt).await;
    assert_eq!(code, 401);
    assert!(
        engine.status().await.halt.is_none(),
        "nothing refused acted"
    );

    let (_, text) = engine.metrics().await;
    assert!(
        text.contains(r#"botfleet_engine_control_requests_total{action="cancel-all",outcome="unauthorized",bot="quickstart"} 8"#),
        "{text}"
    );
    assert!(engine.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_accepted_once_the_keys_file_lists_it() {
    let ws = Workspace::new("Paper");
    let engine = started(&ws).await;
    let keys = ws.path("control-keys.pub");
    let (code, _) = engine
        .post("/v1/cancel-all", Some(ROTATED_KEY), json!({}))
        .await;
    assert_eq!(code, 401, "not yet delivered");

    // The operator rotated: the file (the ConfigMap) lists the new key and
    // the previous one; both verify, without restarting the engine.
    std::fs::write(&keys, public_keys_file(&[ROTATED_KEY, OPERATOR_KEY])).unwrap();
    for key in [ROTATED_KEY, OPERATOR_KEY] {
        let (code, body) = engine.post("/v1/cancel-all", Some(key), json!({})).await;
        assert_eq!(code, 200, "{body}");
    }
    // The rotation is over: the previous key no longer verifies.
    std::fs::write(&keys, public_keys_file(&[ROTATED_KEY])).unwrap();
    let (code, body) = engine
        .post("/v1/cancel-all", Some(OPERATOR_KEY), json!({}))
        .await;
    assert_eq!(code, 401, "{body}");
    let (code, body) = engine
        .post("/v1/cancel-all", Some(ROTATED_KEY), json!({}))
        .await;
    assert_eq!(code, 200, "{body}");
    assert!(engine.terminate().success());
}
