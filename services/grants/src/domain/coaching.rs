//! Coaching: while a proposal may still be coached.

use markaz_kit::error::{Error, Result};

use super::ProposalState;
use super::proposals::{before_decision, state_word};

/// Coaching (notes, naming coaches) ends with the decision.
/// Coaching notes one proposal holds at most: a conversation long enough
/// for any real coaching, and a bound on what one account can store
/// through it (500 × 4,000 characters).
pub const MAX_NOTES_PER_PROPOSAL: i64 = 500;

/// Room for one more note on a proposal that has `held`.
pub fn check_note_room(held: i64) -> Result<()> {
    if held < MAX_NOTES_PER_PROPOSAL {
        Ok(())
    } else {
        Err(Error::precondition(
            "TOO_MANY_NOTES",
            "proposal.coaching_notes",
            format!("a proposal holds at most {MAX_NOTES_PER_PROPOSAL} coaching notes"),
        ))
    }
}

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
