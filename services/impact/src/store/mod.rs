//! The SQL of the impact service, one implementation for PostgreSQL and
//! SQLite: the facts as the consumer writes them ([`facts`]), the figures
//! counted from them ([`figures`]), what staff write — custom indicators
//! and targets ([`definitions`]), the donor change feed's figure versions
//! ([`feed`]) — and the generations a rebuild fills and
//! switches ([`generations`]).

pub mod definitions;
pub mod donors;
pub mod facts;
pub mod feed;
pub mod figures;
pub mod funded;
pub mod generations;
