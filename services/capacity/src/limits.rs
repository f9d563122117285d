//! The limits of capacity's public forms (crate `markaz_kit::rpc::rate`
//! counts them): suggestions and consultation requests to a center, and
//! certificate checks.

use std::time::Duration;

pub use markaz_kit::rpc::rate::Limit;

/// Suggestions from one client address.
pub const SUGGESTIONS_PER_CLIENT: Limit = Limit {
    max: 5,
    per: Duration::from_secs(15 * 60),
};

/// Suggestions from one network (an IPv4 /24, an IPv6 /48), whatever the
/// address: many addresses of one network are one sender.
pub const SUGGESTIONS_PER_NETWORK: Limit = Limit {
    max: 20,
    per: Duration::from_secs(15 * 60),
};

/// Suggestions one center takes from one network: a few dozen addresses
/// cannot use up a center's form for everyone else.
pub const SUGGESTIONS_PER_CENTER_AND_NETWORK: Limit = Limit {
    max: 20,
    per: Duration::from_secs(3600),
};

/// Suggestions to one center, from everyone.
pub const SUGGESTIONS_PER_CENTER: Limit = Limit {
    max: 500,
    per: Duration::from_secs(3600),
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

/// Consultation requests from one client address: counted apart from
/// suggestions, so neither form closes the other; a center answers each
/// request by hand, so as few as suggestions.
pub const CONSULTATION_REQUESTS_PER_CLIENT: Limit = Limit {
    max: 5,
    per: Duration::from_secs(15 * 60),
};

/// Consultation requests from one network (an IPv4 /24, an IPv6 /48).
pub const CONSULTATION_REQUESTS_PER_NETWORK: Limit = Limit {
    max: 20,
    per: Duration::from_secs(15 * 60),
};

/// Consultation requests one center takes from one network.
pub const CONSULTATION_REQUESTS_PER_CENTER_AND_NETWORK: Limit = Limit {
    max: 20,
    per: Duration::from_secs(3600),
};

/// Consultation requests to one center, from everyone.
pub const CONSULTATION_REQUESTS_PER_CENTER: Limit = Limit {
    max: 200,
    per: Duration::from_secs(3600),
};
