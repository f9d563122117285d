//! The SQL of the impact service, one implementation for PostgreSQL and
//! SQLite: the facts as the consumer writes them ([`facts`]) and the
//! figures counted from them ([`figures`]).

pub mod facts;
pub mod figures;
