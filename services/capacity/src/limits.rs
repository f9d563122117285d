//! The limits of capacity's public forms (crate `markaz_kit::rpc::rate`
//! counts them): suggestions and consultation requests to a center, and
//! certificate checks.

use std::time::Duration;

pub use markaz_kit::rpc::rate::Limit;

/// The limits of one public form, each counted apart, so neither form
/// closes the other.
#[derive(Debug, Clone, Copy)]
pub struct PublicForm {
    /// The name its counts are kept under.
    pub name: &'static str,
    /// From one client address.
    pub per_client: Limit,
    /// From one network (an IPv4 /24, an IPv6 /48), whatever the address:
    /// many addresses of one network are one sender.
    pub per_network: Limit,
    /// What one center takes from one network: a few dozen addresses cannot
    /// use up a center's form for everyone else.
    pub per_center_and_network: Limit,
    /// What one center takes, from everyone.
    pub per_center: Limit,
}

/// The training-suggestion form.
pub const SUGGESTIONS: PublicForm = PublicForm {
    name: "suggest",
    per_client: Limit {
        max: 5,
        per: Duration::from_secs(15 * 60),
    },
    per_network: Limit {
        max: 20,
        per: Duration::from_secs(15 * 60),
    },
    per_center_and_network: Limit {
        max: 20,
        per: Duration::from_secs(3600),
    },
    per_center: Limit {
        max: 500,
        per: Duration::from_secs(3600),
    },
};

/// The consultation-request form: a center answers each request by hand,
/// so a center takes fewer of them.
pub const CONSULTATION_REQUESTS: PublicForm = PublicForm {
    name: "request-consultation",
    per_center: Limit {
        max: 200,
        per: Duration::from_secs(3600),
    },
    ..SUGGESTIONS
};

/// Certificate checks from one client address: generous for people, slow
/// for anyone trying to guess codes.
pub const VERIFICATIONS_PER_CLIENT: Limit = Limit {
    max: 60,
    per: Duration::from_secs(60),
};

/// Certificate checks from one network.
pub const VERIFICATIONS_PER_NETWORK: Limit = Limit {
    max: 600,
    per: Duration::from_secs(60),
};
