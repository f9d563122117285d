//! Coaching: while a proposal may still be coached.

use markaz_kit::error::{Error, Result};

use super::ProposalState;
use super::proposals::{before_decision, state_word};

/// Coaching (notes, naming coaches) ends with the decision.
pub fn check_coaching_open(s: ProposalState) -> Result<()> {
    if before_decision(s) {
        Ok(())
    } else {
        Err(Error::precondition(
            "COACHING_CLOSED",
            "proposal.state",
            format!(
                "coaching ends with the decision; the proposal is {}",
                state_word(s)
            ),
        ))
    }
}
