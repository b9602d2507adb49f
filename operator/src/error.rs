//! The operator's one error type. `kind()` labels the error metric.

/// Everything a reconcile can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The engine did not answer or answered badly.
    #[error("engine {endpoint}: {message}")]
    Engine {
        /// The endpoint called (`/status`, `/v1/halt`, ...).
        endpoint: String,
        /// What went wrong.
        message: String,
    },
    /// The finalizer could not finish yet (it retries until its deadline).
    #[error("finalizer: {0}")]
    Finalizer(String),
    /// Serializing a child object or the engine config failed.
    #[error("serialization: {0}")]
    Serialization(String),
    /// The operator's own configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// The object lacks something every stored object has (name, namespace, uid).
    #[error("object is missing {0}")]
    MissingField(&'static str),
    /// A child's name is taken by an object the bot does not own.
    #[error("{} `{}` exists and is not this bot's", .0.resource.kind, .0.name)]
    ChildConflict(Box<crate::child_conflict::Conflict>),
    /// A reconcile panicked; it was contained to this one bot.
    #[error("the reconcile panicked: {0}")]
    Panic(String),
}

impl Error {
    /// Every [`Error::kind`] label (the error counter starts at 0 for each).
    pub const KINDS: [&'static str; 8] = [
        "kube",
        "conflict",
        "engine",
        "finalizer",
        "serialization",
        "config",
        "missing_field",
        "panic",
    ];

    /// Short label for the `kind` of the error counter.
    pub fn kind(&self) -> &'static str {
        match self {
            // A fenced write refused: the bot changed since the read the
            // reconcile decided on (a newer leader wrote, or a user edited).
            Error::Kube(kube::Error::Api(e)) if e.code == 409 => "conflict",
            Error::Kube(_) => "kube",
            Error::Engine { .. } => "engine",
            Error::Finalizer(_) => "finalizer",
            Error::Serialization(_) => "serialization",
            Error::Config(_) => "config",
            Error::MissingField(_) => "missing_field",
            Error::ChildConflict(_) => "child_conflict",
            Error::Panic(_) => "panic",
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Serialization(e.to_string())
    }
}

impl From<serde_yaml::Error> for Error {
    fn from(e: serde_yaml::Error) -> Self {
        Error::Serialization(e.to_string())
    }
}

/// Result with the operator's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
