//! Where a model member's decisions come from, shared by every instance of
//! one bot (all symbols): the replay cache, or the endpoint through a
//! dedicated client thread (strategies are synchronous; the engine may run
//! inside a runtime). Also holds each member's budget, statistics and the
//! exchanges not yet written to the audit log.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use super::budget::Budget;
use super::cache::{CacheError, RecordedReply, ReplayCache};
use super::client::{ApiKey, ClientConfig, Completion, LlmClient};
use super::prompt::Prompt;
use super::reply::{ModelVote, Usage, parse_vote};
use super::stats::{Exchange, MemberStats};
use super::{AbstainCause, LlmMemberConfig};

/// How decisions are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LlmMode {
    /// From recorded replies only; never connects (backtest default).
    Replay,
    /// Asks the endpoint and appends every reply to the cache (backtest).
    Record,
    /// Asks the endpoint (paper and live bots).
    Live,
}

/// The decision of one candle, before it becomes a vote.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub vote: Result<ModelVote, AbstainCause>,
    pub content: Option<String>,
    pub usage: Usage,
    pub latency: Duration,
    pub attempts: u32,
}

type Job = (
    ClientConfig,
    Option<ApiKey>,
    Prompt,
    mpsc::SyncSender<Completion>,
);

struct Inner {
    mode: LlmMode,
    cache: Mutex<ReplayCache>,
    client: OnceLock<Mutex<mpsc::Sender<Job>>>,
    /// Looks up an API key by environment variable name.
    keys: KeyLookup,
    state: Mutex<State>,
    /// Told of every exchange (the `run` command's metrics).
    observer: OnceLock<Observer>,
}

type Observer = Box<dyn Fn(&Exchange, f64) + Send + Sync>;
type KeyLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

#[derive(Default)]
struct State {
    budgets: BTreeMap<String, Budget>,
    stats: BTreeMap<String, MemberStats>,
    exchanges: Vec<Exchange>,
}

/// Shared by the members of one bot; cheap to clone.
#[derive(Clone)]
pub struct LlmBackend(Arc<Inner>);

impl std::fmt::Debug for LlmBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmBackend")
            .field("mode", &self.0.mode)
            .finish_non_exhaustive()
    }
}

impl Default for LlmBackend {
    fn default() -> Self {
        Self::offline()
    }
}

impl LlmBackend {
    fn with(mode: LlmMode, cache: ReplayCache) -> Self {
        Self(Arc::new(Inner {
            mode,
            cache: Mutex::new(cache),
            client: OnceLock::new(),
            keys: Box::new(|name| std::env::var(name).ok()),
            state: Mutex::new(State::default()),
            observer: OnceLock::new(),
        }))
    }

    /// Replay with no recordings: every model abstains (`notRecorded`).
    pub fn offline() -> Self {
        Self::with(LlmMode::Replay, ReplayCache::empty())
    }

    /// Replay from the cache file at `path`.
    pub fn replay(path: &Path) -> Result<Self, CacheError> {
        Ok(Self::with(LlmMode::Replay, ReplayCache::open(path)?))
    }

    /// Ask the endpoint and record into `path`.
    pub fn record(path: &Path) -> Result<Self, CacheError> {
        Ok(Self::with(LlmMode::Record, ReplayCache::open(path)?))
    }

    /// Ask the endpoint; API keys from the environment.
    pub fn live() -> Self {
        Self::with(LlmMode::Live, ReplayCache::empty())
    }

    /// Ask the endpoint; API keys from `keys` (tests).
    pub fn live_with_keys(keys: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        let mut b = Self::live();
        Arc::get_mut(&mut b.0).expect("fresh backend").keys = Box::new(keys);
        b
    }

    /// Calls `observer` with every exchange and the member's budget share
    /// used (the first observer set stays).
    pub fn set_observer(&self, observer: impl Fn(&Exchange, f64) + Send + Sync + 'static) {
        let _ = self.0.observer.set(Box::new(observer));
    }

    pub fn mode(&self) -> LlmMode {
        self.0.mode
    }

    /// One decision for `member` at candle time `now_ms`.
    pub fn decide(&self, member: &LlmMemberConfig, prompt: &Prompt, now_ms: i64) -> Decision {
        let admitted = {
            let mut state = self.0.state.lock().expect("llm state");
            state
                .budgets
                .entry(member.name.clone())
                .or_insert_with(|| Budget::new(member.spec.daily_budget.clone()))
                .admit(now_ms)
        };
        let decision = match admitted {
            Err(limit) => {
                tracing::debug!(member = %member.name, ?limit, "LLM daily budget exhausted");
                abstain(AbstainCause::BudgetExhausted)
            }
            Ok(()) => match self.0.mode {
                LlmMode::Replay => self.replayed(member, prompt),
                LlmMode::Record | LlmMode::Live => self.asked(member, prompt),
            },
        };
        let mut state = self.0.state.lock().expect("llm state");
        if let Some(b) = state.budgets.get_mut(&member.name) {
            b.charge(&decision.usage);
            // Retries are requests too.
            b.requests += u64::from(decision.attempts.saturating_sub(1));
        }
        decision
    }

    fn replayed(&self, member: &LlmMemberConfig, prompt: &Prompt) -> Decision {
        let cache = self.0.cache.lock().expect("llm cache");
        match cache.get(&member.spec.model, &prompt.hash) {
            None => abstain(AbstainCause::NotRecorded),
            Some(r) => Decision {
                vote: parse_vote(&r.content),
                content: Some(r.content.clone()),
                usage: r.usage.clone(),
                latency: Duration::ZERO,
                attempts: 1,
            },
        }
    }

    fn asked(&self, member: &LlmMemberConfig, prompt: &Prompt) -> Decision {
        let key = match &member.key_env {
            None => None,
            Some(env) => match (self.0.keys)(env) {
                Some(k) if !k.trim().is_empty() => Some(ApiKey(k.trim().to_string())),
                _ => return abstain(AbstainCause::NoApiKey),
            },
        };
        let config = member.client_config();
        let deadline = config.deadline;
        let (tx, rx) = mpsc::sync_channel(1);
        let sent =
            self.client()
                .lock()
                .expect("llm client")
                .send((config, key, prompt.clone(), tx));
        // The client enforces the deadline; the margin only covers a stuck thread.
        let completion = match sent
            .ok()
            .and_then(|()| rx.recv_timeout(deadline + Duration::from_secs(5)).ok())
        {
            Some(c) => c,
            None => return abstain(AbstainCause::Transport),
        };
        let (vote, content, usage) = match completion.result {
            Ok((content, usage)) => (parse_vote(&content), Some(content), usage),
            Err(cause) => (Err(cause), None, Usage::default()),
        };
        if self.0.mode == LlmMode::Record
            && let Some(content) = &content
        {
            let reply = RecordedReply {
                model: member.spec.model.clone(),
                prompt_hash: prompt.hash.clone(),
                content: content.clone(),
                usage: usage.clone(),
            };
            if let Err(e) = self.0.cache.lock().expect("llm cache").insert(reply) {
                tracing::warn!(error = %e, "could not record an LLM reply");
            }
        }
        Decision {
            vote,
            content,
            usage,
            latency: completion.latency,
            attempts: completion.attempts,
        }
    }

    fn client(&self) -> &Mutex<mpsc::Sender<Job>> {
        self.0.client.get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            std::thread::Builder::new()
                .name("llm-client".into())
                .spawn(move || client_thread(rx))
                .expect("starting the LLM client thread");
            Mutex::new(tx)
        })
    }

    /// Writes down one exchange (for the audit log) and counts it.
    pub(crate) fn note(&self, exchange: Exchange) {
        let mut state = self.0.state.lock().expect("llm state");
        let used = state
            .budgets
            .get(&exchange.member)
            .map_or(0.0, Budget::used_share);
        let stats = state.stats.entry(exchange.member.clone()).or_default();
        stats.count(&exchange, used);
        if let Some(observe) = self.0.observer.get() {
            observe(&exchange, used);
        }
        state.exchanges.push(exchange);
    }

    /// A scored vote: did the next close move the way the member voted?
    pub(crate) fn score(&self, member: &str, hit: bool) {
        let mut state = self.0.state.lock().expect("llm state");
        state
            .stats
            .entry(member.to_string())
            .or_default()
            .score(hit);
    }

    /// The exchanges since the last call, oldest first.
    pub fn take_exchanges(&self) -> Vec<Exchange> {
        std::mem::take(&mut self.0.state.lock().expect("llm state").exchanges)
    }

    /// Every member's statistics so far.
    pub fn stats(&self) -> BTreeMap<String, MemberStats> {
        self.0.state.lock().expect("llm state").stats.clone()
    }

    /// Today's spending of `member`, if it asked anything yet.
    pub fn budget(&self, member: &str) -> Option<Budget> {
        self.0
            .state
            .lock()
            .expect("llm state")
            .budgets
            .get(member)
            .cloned()
    }
}

fn abstain(cause: AbstainCause) -> Decision {
    Decision {
        vote: Err(cause),
        content: None,
        usage: Usage::default(),
        latency: Duration::ZERO,
        attempts: 0,
    }
}

/// Serves jobs one at a time on its own runtime, until every sender is gone.
fn client_thread(rx: mpsc::Receiver<Job>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "LLM client runtime did not start; models abstain");
            return;
        }
    };
    let client = match LlmClient::new() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "LLM HTTP client did not start; models abstain");
            return;
        }
    };
    while let Ok((config, key, prompt, reply)) = rx.recv() {
        let completion = runtime.block_on(client.complete(&config, key.as_ref(), &prompt));
        let _ = reply.send(completion);
    }
}
