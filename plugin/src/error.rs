//! The plugin's errors, each worded for the person at the terminal, and
//! their exit codes (1 generic, 2 usage, 3 not found, 4 forbidden, 5 gate
//! not met, 6 refused) so scripts can tell them apart.

use std::fmt;
use std::process::ExitCode;

/// One unmet gate criterion, with its numbers.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Unmet {
    pub name: String,
    pub comparison: String,
    pub required: f64,
    pub measured: Option<f64>,
}

impl fmt::Display for Unmet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let measured = self
            .measured
            .map_or_else(|| "not measured yet".to_string(), crate::table::num);
        write!(
            f,
            "{}: measured {measured}, required {} {}",
            self.name,
            self.comparison,
            crate::table::num(self.required)
        )
    }
}

#[derive(Debug)]
pub enum PluginError {
    /// The bot does not exist in that namespace.
    NotFound {
        name: String,
        namespace: String,
    },
    /// RBAC refused a request.
    Forbidden {
        verb: &'static str,
        resource: &'static str,
        namespace: String,
        message: String,
    },
    /// The gate to the next phase is not met.
    GateNotMet {
        name: String,
        target: botfleet_crds::Phase,
        unmet: Vec<Unmet>,
    },
    /// A request the plugin refuses to make (wrong phase, not halted, ...).
    Refused(String),
    Other(anyhow::Error),
}

impl PluginError {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            PluginError::Other(_) => 1,
            PluginError::Refused(_) => 6,
            PluginError::NotFound { .. } => 3,
            PluginError::Forbidden { .. } => 4,
            PluginError::GateNotMet { .. } => 5,
        })
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginError::NotFound { name, namespace } => write!(
                f,
                "TradingBot \"{name}\" not found in namespace \"{namespace}\" (check the name, or pass -n NAMESPACE)"
            ),
            PluginError::Forbidden {
                verb,
                resource,
                namespace,
                message,
            } => write!(
                f,
                "no permission to {verb} {resource} in namespace \"{namespace}\"; ask for a Role granting `{verb}` on `{resource}` (apiserver said: {message})"
            ),
            PluginError::GateNotMet {
                name,
                target,
                unmet,
            } => {
                write!(
                    f,
                    "gate not met: {name} cannot be promoted to {target}; {} unmet criteria:",
                    unmet.len()
                )?;
                for u in unmet {
                    write!(f, "\n  - {u}")?;
                }
                write!(
                    f,
                    "\nnothing was changed; pass --force to request the promotion anyway (the operator keeps the bot where it is until the gate is met)"
                )
            }
            PluginError::Refused(msg) => f.write_str(msg),
            PluginError::Other(e) => write!(f, "{e:#}"),
        }
    }
}

impl From<anyhow::Error> for PluginError {
    fn from(e: anyhow::Error) -> Self {
        PluginError::Other(e)
    }
}
