use super::*;
use botfleet_crds::Manifests;

const FILES: [&str; 5] = [
    "strategy-committee.yaml",
    "strategy-sma-crossover.yaml",
    "strategy-macd-trend.yaml",
    "risk-policy-seed.yaml",
    "trading-bot.yaml",
];

fn manifests() -> Manifests {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/examples/");
    let text: Vec<String> = FILES
        .iter()
        .map(|f| std::fs::read_to_string(format!("{dir}{f}")).unwrap())
        .collect();
    let mut m = Manifests::from_yaml(&text.join("\n---\n")).unwrap();
    let bot = &mut m.trading_bots[0];
    bot.metadata.namespace = Some("team-a".into());
    bot.metadata.uid = Some("uid-1".into());
    bot.spec.strategy_ref.name = "committee".into();
    m
}

fn inputs(m: &Manifests, phase: Phase, capital: u32, halted: bool) -> EngineInputs<'_> {
    EngineInputs {
        bot: &m.trading_bots[0],
        strategy: m.strategy("committee").unwrap(),
        members: vec![
            m.strategy("sma-crossover").unwrap(),
            m.strategy("macd-trend").unwrap(),
        ],
        policy: &m.risk_policies[0],
        phase,
        capital: Amount::from(capital),
        halt_id: halted.then_some("h-1-uid1"),
        image: "botfleet/engine:test",
    }
}

const NO_ENDPOINTS: EngineEndpoints = EngineEndpoints {
    market_rest_url: None,
    market_ws_url: None,
    testnet_venue_url: None,
    live_venue_url: None,
};

const SETTINGS: WorkloadSettings<'static> = WorkloadSettings {
    default_image: "ghcr.io/botfleet/bot:test",
    engine_port: 8080,
    endpoints: &NO_ENDPOINTS,
    network_peers: None,
};

#[test]
fn the_engine_config_is_what_the_engine_parser_reads() {
    let m = manifests();
    let rendered = engine_config(&inputs(&m, Phase::Sandbox, 10_000, false)).unwrap();
    let back = Manifests::from_yaml(&rendered.yaml).unwrap();
    back.validate().unwrap();
    let bundle = back.bundle(Some("btc-sma")).unwrap();
    assert_eq!(
        bundle.bot.spec.phase,
        Phase::Sandbox,
        "the effective phase, not spec.phase"
    );
    assert_eq!(bundle.bot.spec.capital, Amount::from(10_000));
    assert_eq!(bundle.strategy.metadata.name.as_deref(), Some("committee"));
    assert_eq!(back.strategies.len(), 3, "committee members travel with it");
    assert_eq!(bundle.risk_policy.spec, m.risk_policies[0].spec);
    assert_eq!(rendered.hash.len(), 64);
}

#[test]
fn the_hash_changes_exactly_when_the_config_does() {
    let m = manifests();
    let a = engine_config(&inputs(&m, Phase::Paper, 5000, false)).unwrap();
    assert_eq!(
        a,
        engine_config(&inputs(&m, Phase::Paper, 5000, false)).unwrap()
    );
    let halted = engine_config(&inputs(&m, Phase::Paper, 0, true)).unwrap();
    assert_ne!(a.hash, halted.hash);
    // A halt reaches the engine by its control endpoint: no pod restart.
    assert_eq!(a.restart_hash, halted.restart_hash);
    let parsed = Manifests::from_yaml(&halted.yaml).unwrap();
    assert!(
        parsed.trading_bots[0].spec.halted,
        "a restarted engine stays halted"
    );
    assert_eq!(
        parsed.trading_bots[0]
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(botfleet_crds::labels::HALT_ID_ANNOTATION))
            .map(String::as_str),
        Some("h-1-uid1"),
        "under the operator's halt id"
    );
    assert_eq!(parsed.trading_bots[0].spec.capital, Amount::from(5000));
    assert_ne!(
        a.hash,
        engine_config(&inputs(&m, Phase::Sandbox, 5000, false))
            .unwrap()
            .hash
    );
}

#[test]
fn every_child_is_owned_by_the_bot_and_labelled() {
    let m = manifests();
    let bot = &m.trading_bots[0];
    let cfg = engine_config(&inputs(&m, Phase::Paper, 5000, false)).unwrap();
    let metas = [
        config_map(bot, &cfg, "keys").unwrap().metadata,
        service_account(bot).unwrap().metadata,
        service(bot, &SETTINGS).unwrap().metadata,
        stateful_set(bot, &cfg, &SETTINGS).unwrap().metadata,
    ];
    let names: Vec<_> = metas.iter().map(|m| m.name.clone().unwrap()).collect();
    assert_eq!(names, ["btc-sma-config", "btc-sma", "btc-sma", "btc-sma"]);
    for meta in metas {
        assert_eq!(meta.namespace.as_deref(), Some("team-a"));
        let owner = &meta.owner_references.unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("TradingBot", "uid-1")
        );
        assert_eq!(owner.controller, Some(true));
        assert_eq!(meta.labels.unwrap()[BOT_LABEL], "btc-sma");
    }
}

#[test]
fn config_map_contents_and_no_secret() {
    let m = manifests();
    let bot = &m.trading_bots[0];
    let cfg = engine_config(&inputs(&m, Phase::Paper, 5000, false)).unwrap();
    let keys = crate::signing::SigningKeys::from_material(&[7u8; 32]).unwrap();
    let cm = config_map(bot, &cfg, &keys.public_keys_file()).unwrap();
    let data = cm.data.unwrap();
    assert_eq!(data[CONFIG_KEY], cfg.yaml);
    // The engine reads the operator's public keys from the ConfigMap: one
    // parseable key, nothing secret.
    let public =
        botfleet_crds::control_signature::parse_public_keys(&data[crate::signing::PUBLIC_KEYS_KEY])
            .unwrap();
    assert_eq!(public.len(), 1);
    // Public keys are not part of the config hash: a rotation never
    // restarts an engine.
    let other = crate::signing::SigningKeys::from_material(&[8u8; 32]).unwrap();
    let cm2 = config_map(bot, &cfg, &other.public_keys_file()).unwrap();
    assert_eq!(
        cm2.metadata.annotations,
        config_map(bot, &cfg, "x").unwrap().metadata.annotations
    );
    let sa = service_account(bot).unwrap();
    assert_eq!(sa.automount_service_account_token, Some(false));
    let svc = service(bot, &SETTINGS).unwrap().spec.unwrap();
    assert_eq!(svc.ports.unwrap()[0].port, 8080);
    assert_eq!(
        svc.cluster_ip.as_deref(),
        Some("None"),
        "headless: no service IP per bot"
    );
    assert_eq!(svc.selector.unwrap().len(), 2);
}

#[test]
fn stateful_set_runs_one_engine_with_sqlite_or_postgres() {
    let mut m = manifests();
    let cfg = engine_config(&inputs(&m, Phase::Paper, 5000, false)).unwrap();
    let sts = stateful_set(&m.trading_bots[0], &cfg, &SETTINGS).unwrap();
    let spec = sts.spec.unwrap();
    assert_eq!(spec.replicas, Some(1));
    let template = spec.template;
    assert_eq!(
        template.metadata.unwrap().annotations.unwrap()[CONFIG_HASH_ANNOTATION],
        cfg.hash
    );
    let pod = template.spec.unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("btc-sma"));
    let c = &pod.containers[0];
    assert_eq!(c.image.as_deref(), Some("ghcr.io/botfleet/bot:test"));
    let env: Vec<_> = c
        .env
        .as_ref()
        .unwrap()
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert!(env.contains(&"BOTFLEET_CONTROL_KEYS_FILE"));
    // No env var of the engine reads an operator Secret.
    for e in c.env.as_ref().unwrap() {
        if let Some(r) = e
            .value_from
            .as_ref()
            .and_then(|v| v.secret_key_ref.as_ref())
        {
            assert!(!r.name.contains("engine-token"), "{}", r.name);
        }
    }
    assert_eq!(c.resources, m.trading_bots[0].spec.engine.resources);
    let claims = spec.volume_claim_templates.unwrap();
    let storage = &claims[0]
        .spec
        .as_ref()
        .unwrap()
        .resources
        .as_ref()
        .unwrap()
        .requests
        .as_ref()
        .unwrap()["storage"];
    assert_eq!(storage.0, "1Gi");

    // PostgreSQL: no volume, the URL from the user's Secret, and the bot's own image.
    let bot = &mut m.trading_bots[0];
    bot.spec.persistence = serde_json::from_value(serde_json::json!(
        {"postgres": {"urlSecretRef": {"name": "pg", "key": "url"}}}
    ))
    .unwrap();
    bot.spec.engine.image = Some("my/engine:1".into());
    let sts = stateful_set(bot, &cfg, &SETTINGS).unwrap().spec.unwrap();
    assert!(sts.volume_claim_templates.is_none());
    let c = &sts.template.spec.unwrap().containers[0];
    assert_eq!(c.image.as_deref(), Some("my/engine:1"));
    let url = c
        .env
        .as_ref()
        .unwrap()
        .iter()
        .find(|e| e.name == "BOTFLEET_DATABASE_URL")
        .unwrap();
    let key = url
        .value_from
        .as_ref()
        .unwrap()
        .secret_key_ref
        .as_ref()
        .unwrap();
    assert_eq!((key.name.as_str(), key.key.as_str()), ("pg", "url"));
    assert_eq!(c.volume_mounts.as_ref().unwrap().len(), 1, "config only");
}

#[test]
fn the_engine_pod_meets_the_restricted_pod_security_standard() {
    let m = manifests();
    let cfg = engine_config(&inputs(&m, Phase::Paper, 5000, false)).unwrap();
    let sts = stateful_set(&m.trading_bots[0], &cfg, &SETTINGS).unwrap();
    let pod = sts.spec.unwrap().template.spec.unwrap();
    assert_eq!(
        crate::pod_security::restricted_violations(&pod),
        Vec::<String>::new()
    );
    let psc = pod.security_context.unwrap();
    assert_eq!(psc.fs_group, Some(65532), "the SQLite volume is writable");
    let resources = pod.containers[0].resources.clone().unwrap();
    assert!(resources.requests.is_some() && resources.limits.is_some());
}

#[test]
fn the_engine_computes_the_operators_trading_hash_from_the_rendered_config() {
    let m = manifests();
    let i = inputs(&m, Phase::Paper, 5000, false);
    let rendered = engine_config(&i).unwrap();
    let back = Manifests::from_yaml(&rendered.yaml).unwrap();
    let bundle = back.bundle(None).unwrap();
    assert_eq!(back.trading_hash(&bundle), i.trading_hash());
    // Phase, capital and the halt latch do not trade.
    let other = inputs(&m, Phase::Sandbox, 9000, true);
    assert_eq!(other.trading_hash(), i.trading_hash());
}

#[test]
fn the_engine_flags_carry_the_venue_of_the_rendered_phase_only() {
    let m = manifests();
    let endpoints = EngineEndpoints {
        market_rest_url: Some("http://sim.exchange:8080".into()),
        market_ws_url: Some("ws://sim.exchange:8080".into()),
        testnet_venue_url: Some("http://sim.exchange:8080".into()),
        live_venue_url: Some("http://live.exchange:8080".into()),
    };
    let settings = WorkloadSettings {
        endpoints: &endpoints,
        ..SETTINGS
    };
    let args = |phase| {
        let cfg = engine_config(&inputs(&m, phase, 5000, false)).unwrap();
        let sts = stateful_set(&m.trading_bots[0], &cfg, &settings).unwrap();
        sts.spec.unwrap().template.spec.unwrap().containers[0]
            .args
            .clone()
            .unwrap()
    };
    let sandbox = args(Phase::Sandbox);
    assert!(sandbox.contains(&"--venue-url=http://sim.exchange:8080".to_string()));
    assert!(sandbox.contains(&"--binance-ws-url=ws://sim.exchange:8080".to_string()));
    assert!(!sandbox.iter().any(|a| a.contains("live.exchange")));
    assert!(
        !args(Phase::Paper)
            .iter()
            .any(|a| a.starts_with("--venue-url"))
    );
    assert!(
        args(Phase::LimitedReal).contains(&"--venue-url=http://live.exchange:8080".to_string())
    );
}

#[test]
/// Each pod mounts only its phase's credentials: none in Paper, the test
/// network's in Sandbox (never the live Secret), the live Secret in
/// LimitedReal and Scaling (never the test network's); as files, never env.
fn exchange_credentials_are_only_the_phases_own_files() {
    let m = manifests();
    let bot = &m.trading_bots[0];
    let testnet = bot
        .spec
        .exchange
        .sandbox_credentials_secret_ref
        .clone()
        .expect("the example bot names its test-network credentials");
    let live = bot
        .spec
        .exchange
        .live_credentials_secret_ref
        .clone()
        .expect("the example bot names its live credentials");
    assert_ne!(testnet.name, live.name);
    for phase in [
        Phase::Paper,
        Phase::Sandbox,
        Phase::LimitedReal,
        Phase::Scaling,
    ] {
        let cfg = engine_config(&inputs(&m, phase, 5000, false)).unwrap();
        let pod = stateful_set(bot, &cfg, &SETTINGS)
            .unwrap()
            .spec
            .unwrap()
            .template
            .spec
            .unwrap();
        let c = &pod.containers[0];
        let (creds, other) = match phase {
            Phase::Sandbox => (&testnet, &live),
            _ => (&live, &testnet),
        };
        let mounted = |name: &str| {
            pod.volumes
                .iter()
                .flatten()
                .any(|v| v.secret.as_ref().and_then(|s| s.secret_name.as_deref()) == Some(name))
        };
        assert!(
            !mounted(&other.name),
            "{phase:?} mounts the other phase's Secret `{}`",
            other.name
        );
        // Never in the environment, in any phase.
        for e in c.env.iter().flatten() {
            let from_creds = e
                .value_from
                .as_ref()
                .and_then(|v| v.secret_key_ref.as_ref())
                .is_some_and(|r| r.name == testnet.name || r.name == live.name);
            assert!(
                !from_creds,
                "{phase:?}: env {} reads the credentials",
                e.name
            );
        }
        let volume = pod.volumes.iter().flatten().find(|v| {
            v.secret.as_ref().and_then(|s| s.secret_name.as_deref()) == Some(&creds.name)
        });
        let args = c.args.clone().unwrap();
        if phase == Phase::Paper {
            assert!(
                volume.is_none() && !mounted(&testnet.name),
                "Paper sends no order: no credentials"
            );
            assert!(!args.iter().any(|a| a.starts_with("--api-")), "{args:?}");
            continue;
        }
        let volume = volume.unwrap_or_else(|| panic!("{phase:?}: no credentials volume"));
        let secret = volume.secret.as_ref().unwrap();
        assert_eq!(secret.default_mode, Some(0o440));
        let mount = c
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.name == volume.name)
            .unwrap();
        assert_eq!(mount.mount_path, CREDENTIALS_DIR);
        assert_eq!(mount.read_only, Some(true));
        assert!(
            mount.sub_path.is_none(),
            "a subPath would never see a rotation"
        );
        let pos = |flag: &str| args.iter().position(|a| a == flag).unwrap();
        assert_eq!(
            args[pos("--api-key-file") + 1],
            format!("{CREDENTIALS_DIR}/apiKey")
        );
        assert_eq!(
            args[pos("--api-secret-file") + 1],
            format!("{CREDENTIALS_DIR}/apiSecret")
        );
        // Still restricted with the extra volume.
        assert_eq!(
            crate::pod_security::restricted_violations(&pod),
            Vec::<String>::new()
        );
    }
}

#[test]
fn a_model_members_api_key_reaches_the_engine_from_its_secret_only() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../manifests/examples/llm-committee.yaml"
    );
    let mut m = Manifests::from_yaml(&std::fs::read_to_string(path).unwrap()).unwrap();
    m.trading_bots[0].metadata.namespace = Some("team-a".into());
    m.trading_bots[0].metadata.uid = Some("uid-1".into());
    let i = EngineInputs {
        bot: &m.trading_bots[0],
        strategy: m.strategy("llm-committee").unwrap(),
        members: vec![],
        policy: &m.risk_policies[0],
        phase: Phase::Paper,
        capital: Amount::from(10_000u32),
        halt_id: None,
        image: "botfleet/engine:test",
    };
    let cfg = engine_config(&i).unwrap();
    let sts = stateful_set(&m.trading_bots[0], &cfg, &SETTINGS).unwrap();
    let c = &sts.spec.unwrap().template.spec.unwrap().containers[0];
    let var = c
        .env
        .as_ref()
        .unwrap()
        .iter()
        .find(|e| e.name == "BOTFLEET_LLM_KEY_OPENAI_API_KEY")
        .expect("the key variable the engine reads");
    assert!(var.value.is_none(), "no literal value");
    let key = var
        .value_from
        .as_ref()
        .unwrap()
        .secret_key_ref
        .as_ref()
        .unwrap();
    assert_eq!((key.name.as_str(), key.key.as_str()), ("openai", "api-key"));
    assert_eq!(
        key.optional, None,
        "a missing Secret keeps the pod from starting"
    );
}
