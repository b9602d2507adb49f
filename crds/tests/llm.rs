//! The `llm` kind: defaults, the rules that keep a model safe to run, and
//! its place in a committee. Every error names the field and the fix.

use botfleet_crds::{StrategySpec, ValidationErrors};

fn spec(yaml: &str) -> StrategySpec {
    serde_yaml::from_str(yaml).expect("parses")
}

fn errors(spec: &StrategySpec) -> ValidationErrors {
    spec.validate().expect_err("expected validation errors")
}

fn message(errs: &ValidationErrors, path: &str) -> String {
    errs.errors()
        .iter()
        .find(|e| e.path == path)
        .unwrap_or_else(|| panic!("no error at {path}: {errs}"))
        .message
        .clone()
}

#[test]
fn a_minimal_llm_strategy_takes_safe_defaults() {
    let s =
        spec("timeframe: 1h\nllm:\n  endpoint: https://api.openai.com/v1\n  model: gpt-4o-mini\n");
    assert_eq!(s.validate(), Ok(()));
    let llm = s.llm.as_ref().unwrap();
    assert_eq!(llm.temperature, 0.0);
    assert_eq!(llm.timeout_seconds, 10);
    assert_eq!(llm.max_retries, 2);
    assert_eq!(llm.lookback_candles, 20);
    assert_eq!(llm.daily_budget, Default::default());
    assert!(llm.api_key_secret_ref.is_none());
}

#[test]
fn the_timeout_must_stay_under_a_quarter_of_the_candle_period() {
    let s = spec(
        "timeframe: 1m\nllm:\n  endpoint: http://ollama:11434/v1\n  model: llama3\n  timeoutSeconds: 30\n",
    );
    let m = message(&errors(&s), "spec.llm.timeoutSeconds");
    assert!(m.contains("1 to 15") && m.contains("1m"), "{m}");
    let ok = spec(
        "timeframe: 1h\nllm:\n  endpoint: http://ollama:11434/v1\n  model: llama3\n  timeoutSeconds: 30\n",
    );
    assert_eq!(ok.validate(), Ok(()));
}

#[test]
fn bad_fields_are_each_named_with_the_fix() {
    let s = spec(
        "llm:
  endpoint: api.openai.com
  model: ' '
  temperature: 3
  maxRetries: 9
  lookbackCandles: 0
  template: 'close was {close}'
  apiKeySecretRef: {name: Bad_Name, key: ''}
  dailyBudget: {requests: 0, tokens: 0, cost: 0}
",
    );
    let errs = errors(&s);
    assert!(message(&errs, "spec.llm.endpoint").contains("https://api.openai.com/v1"));
    assert!(message(&errs, "spec.llm.model").contains("name the model"));
    assert!(message(&errs, "spec.llm.temperature").contains("between 0 and 2"));
    assert!(message(&errs, "spec.llm.maxRetries").contains("at most 5"));
    assert!(message(&errs, "spec.llm.lookbackCandles").contains("1 to 200"));
    assert!(message(&errs, "spec.llm.template").contains("unknown field `{close}`"));
    assert!(message(&errs, "spec.llm.apiKeySecretRef.name").contains("Bad_Name"));
    assert!(message(&errs, "spec.llm.apiKeySecretRef.key").contains("api-key"));
    assert!(message(&errs, "spec.llm.dailyBudget.requests").contains("at least 1"));
    assert!(message(&errs, "spec.llm.dailyBudget.tokens").contains("at least 1"));
    assert!(message(&errs, "spec.llm.dailyBudget.cost").contains("above 0"));
}

#[test]
fn an_endpoint_with_credentials_is_refused_so_keys_stay_in_secrets() {
    let s = spec("llm:\n  endpoint: https://user:sk-123@api.example.com/v1\n  model: m\n");
    let m = message(&errors(&s), "spec.llm.endpoint");
    assert!(m.contains("apiKeySecretRef"), "{m}");
}

#[test]
fn the_api_key_is_not_a_spec_field() {
    let e = serde_yaml::from_str::<StrategySpec>(
        "llm:\n  endpoint: https://api.openai.com/v1\n  model: m\n  apiKey: sk-123\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("apiKey"), "{e}");
}

#[test]
fn a_committee_takes_weighted_llm_members_next_to_indicators() {
    let s = spec(
        "timeframe: 1h
committee:
  minAgreement: 0.6
  vetoBy: rsi
  members:
    - {name: sma, inline: {smaCrossover: {fast: 10, slow: 30}}}
    - {name: rsi, inline: {rsiReversion: {}}}
    - name: gpt
      weight: 2
      inline:
        llm:
          endpoint: https://api.openai.com/v1
          model: gpt-4o-mini
          apiKeySecretRef: {name: openai, key: api-key}
          template: 'Candles of {symbol}: {candles}; {{json}} please'
",
    );
    assert_eq!(s.validate(), Ok(()));
    let slow = spec(
        "timeframe: 1m
committee:
  members:
    - {name: gpt, inline: {llm: {endpoint: 'https://x.example/v1', model: m, timeoutSeconds: 20}}}
",
    );
    let errs = errors(&slow);
    assert!(
        errs.has_path("spec.committee.members[0].inline.llm.timeoutSeconds"),
        "{errs}"
    );
}

#[test]
fn the_key_variable_is_derived_from_the_secret_reference() {
    let s = spec(
        "llm:\n  endpoint: https://api.openai.com/v1\n  model: m\n  apiKeySecretRef: {name: open-ai, key: api.key}\n",
    );
    assert_eq!(
        s.llm.unwrap().api_key_env().as_deref(),
        Some("BOTFLEET_LLM_KEY_OPEN_AI_API_KEY")
    );
}
