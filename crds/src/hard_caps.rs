//! The LimitedReal hard caps: the seed's absolute limits for the first real
//! money, enforced whatever a RiskPolicy says. Applied here once, so the
//! engine, the operator's breach check and `kubectl botfleet status` all see
//! the same limits in force.

use crate::amount::Amount;
use crate::common::Phase;
use crate::limits::PhaseLimits;

/// The LimitedReal hard caps, in quote currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HardCaps {
    pub max_position: Amount,
    pub max_order_notional: Amount,
    pub daily_loss_limit: Amount,
    pub max_total_loss: Amount,
}

impl HardCaps {
    /// The seed figures, which are the LimitedReal defaults: position $250,
    /// order $250, daily loss $50, total loss $500.
    pub fn seed() -> Self {
        let d = PhaseLimits::limited_real_default();
        let cap = |c: Option<Amount>| c.expect("LimitedReal defaults set every absolute cap");
        Self {
            max_position: cap(d.max_position),
            max_order_notional: cap(d.max_order_notional),
            daily_loss_limit: cap(d.daily_loss_limit),
            max_total_loss: cap(d.max_total_loss),
        }
    }

    /// The caps of `phase`: the seed figures in LimitedReal, none elsewhere.
    pub fn for_phase(phase: Phase) -> Option<Self> {
        (phase == Phase::LimitedReal).then(Self::seed)
    }

    /// Lowers each absolute cap of `limits` to the hard cap, setting it when absent.
    pub fn apply(&self, limits: &mut PhaseLimits) {
        for (field, hard) in [
            (&mut limits.max_position, self.max_position),
            (&mut limits.max_order_notional, self.max_order_notional),
            (&mut limits.daily_loss_limit, self.daily_loss_limit),
            (&mut limits.max_total_loss, self.max_total_loss),
        ] {
            *field = Some(field.map_or(hard, |c| c.min(hard)));
        }
    }
}

impl PhaseLimits {
    /// The limits in force in `phase`: these, with the phase's hard caps
    /// applied (a missing or looser absolute cap becomes the hard cap).
    pub fn effective(&self, phase: Phase) -> PhaseLimits {
        let mut limits = self.clone();
        if let Some(caps) = HardCaps::for_phase(phase) {
            caps.apply(&mut limits);
        }
        limits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(v: u32) -> Amount {
        Amount::from(v)
    }

    #[test]
    fn limited_real_lowers_looser_caps_and_sets_missing_ones() {
        let mut loose = PhaseLimits::scaling_default();
        loose.max_position = Some(amount(10_000));
        let eff = loose.effective(Phase::LimitedReal);
        assert_eq!(eff.max_position, Some(amount(250)));
        assert_eq!(eff.max_order_notional, Some(amount(250)));
        assert_eq!(eff.daily_loss_limit, Some(amount(50)));
        assert_eq!(eff.max_total_loss, Some(amount(500)));
    }

    #[test]
    fn tighter_caps_stay_and_other_phases_are_untouched() {
        let mut tight = PhaseLimits::limited_real_default();
        tight.max_total_loss = Some(amount(100));
        assert_eq!(
            tight.effective(Phase::LimitedReal).max_total_loss,
            Some(amount(100))
        );
        let scaling = PhaseLimits::scaling_default();
        assert_eq!(scaling.effective(Phase::Scaling), scaling);
        assert_eq!(scaling.effective(Phase::Paper), scaling);
    }
}
