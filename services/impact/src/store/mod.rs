//! The SQL of the impact service, one implementation for PostgreSQL and
//! SQLite: the facts as the consumer writes them ([`facts`]), the figures
//! counted from them ([`figures`]), and the generations a rebuild fills and
//! switches ([`generations`]).

pub mod facts;
pub mod figures;
pub mod generations;
