//! Names every part agrees on: the labels, annotations and finalizer the
//! operator writes and the plugin and users read. One place, so the plugin
//! never needs the operator's library to spell them.

/// The finalizer the operator puts on every TradingBot: it stops the
/// engine and cancels its open orders before the bot goes.
pub const FINALIZER: &str = "botfleet.dev/engine-shutdown";
/// Annotation a user sets to the current halt id to resume a halted bot.
pub const RESUME_ANNOTATION: &str = "botfleet.dev/resume";
/// Annotation of the TradingBot in an engine's rendered config: the id of
/// the operator's halt latch (set with `spec.halted: true`). An engine that
/// starts halted takes this id, so a restart never renames the halt (a new
/// name would not match the resume annotation and would halt the bot anew).
pub const HALT_ID_ANNOTATION: &str = "botfleet.dev/halt-id";
/// Pod-template annotation: hash of the rendered engine config.
pub const CONFIG_HASH_ANNOTATION: &str = "botfleet.dev/config-hash";
/// Label naming the bot a child object belongs to.
pub const BOT_LABEL: &str = "botfleet.dev/bot";
/// The standard label naming who manages an object.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Its value on every object the operator creates (also its field manager).
pub const MANAGED_BY: &str = "botfleet-operator";
/// Label selector of every object the operator creates.
pub const MANAGED_SELECTOR: &str = "app.kubernetes.io/managed-by=botfleet-operator";

#[cfg(test)]
mod tests {
    #[test]
    fn the_selector_matches_the_label_the_operator_writes() {
        assert_eq!(
            super::MANAGED_SELECTOR,
            format!("{}={}", super::MANAGED_BY_LABEL, super::MANAGED_BY)
        );
    }
}
