//! Statements built from the filters a request sets.
//!
//! A list written `($2 = '' OR col = $2) AND ($3 = '' OR ...)` is one
//! statement for every combination of filters, and neither planner can use
//! an index for a condition a parameter may switch off: PostgreSQL's generic
//! plan and SQLite's only plan walk the primary key, so a filter that matches
//! fewer rows than a page reads the whole table. [`Where`] writes only the
//! conditions that are set, so each combination is a statement of its own,
//! planned on the index that matches it (`tenant_id` first, then the filter's
//! column, then the key the list is ordered by).
//!
//! Values are always bound (`$n`), never inlined; columns and clauses are the
//! store's own constants.

use sqlx::Arguments;
use sqlx::any::AnyArguments;
use sqlx::encode::Encode;
use sqlx::error::BoxDynError;

use crate::error::{Error, Result};

/// The WHERE clause of one statement and the values it binds, `$1` the
/// tenant.
pub struct Where {
    conditions: Vec<String>,
    arguments: AnyArguments,
    count: usize,
    failed: Option<BoxDynError>,
}

impl Where {
    /// `column = $1`, the tenant: the first condition of every statement of
    /// tenant data.
    pub fn tenant(column: &str, tenant: &str) -> Where {
        let mut w = Where {
            conditions: Vec::new(),
            arguments: AnyArguments::default(),
            count: 0,
            failed: None,
        };
        let p = w.param(tenant.to_owned());
        w.conditions.push(format!("{column} = {p}"));
        w
    }

    /// Binds `value` and returns its placeholder (`$n`), for a place outside
    /// the conditions (a LIMIT) or a condition written by hand.
    pub fn param<T>(&mut self, value: T) -> String
    where
        T: for<'q> Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        if let Err(e) = self.arguments.add(value) {
            self.failed.get_or_insert(e);
        }
        self.count += 1;
        format!("${}", self.count)
    }

    /// `column = value`, when `value` is set (not "").
    pub fn eq(&mut self, column: &str, value: &str) -> &mut Self {
        self.compare(column, "=", value)
    }

    /// `column <op> value` (`>`, `>=`, `<=`, ...), when `value` is set.
    pub fn compare(&mut self, column: &str, op: &'static str, value: &str) -> &mut Self {
        if !value.is_empty() {
            let p = self.param(value.to_owned());
            self.conditions.push(format!("{column} {op} {p}"));
        }
        self
    }

    /// `clause` with each `{}` standing for `value` (bound once), when
    /// `value` is set: a condition on another table (`EXISTS (...)`).
    pub fn clause(&mut self, clause: &str, value: &str) -> &mut Self {
        if !value.is_empty() {
            let p = self.param(value.to_owned());
            self.conditions.push(clause.replace("{}", &p));
        }
        self
    }

    /// A condition that binds nothing (`x.revoked_at IS NULL`), always.
    pub fn fixed(&mut self, condition: &str) -> &mut Self {
        self.conditions.push(condition.to_owned());
        self
    }

    /// `WHERE a AND b AND ...`.
    pub fn sql(&self) -> String {
        format!("WHERE {}", self.conditions.join(" AND "))
    }

    /// The values, in the order of their placeholders.
    pub fn arguments(self) -> Result<AnyArguments> {
        match self.failed {
            Some(e) => Err(Error::internal(format!("a value could not be bound: {e}"))),
            None => Ok(self.arguments),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_filters_that_are_set_are_written() {
        let mut w = Where::tenant("e.tenant_id", "raqqa");
        w.eq("e.course_id", "c1")
            .eq("e.person_id", "")
            .compare("e.id", ">", "")
            .compare("e.held_on", ">=", "2024-01-01")
            .clause("EXISTS (SELECT 1 FROM t WHERE t.s = {} OR t.o = {})", "me")
            .clause("never {}", "")
            .fixed("e.gone IS NULL");
        let limit = w.param(50_i64);
        assert_eq!(
            w.sql(),
            "WHERE e.tenant_id = $1 AND e.course_id = $2 AND e.held_on >= $3 \
             AND EXISTS (SELECT 1 FROM t WHERE t.s = $4 OR t.o = $4) AND e.gone IS NULL"
        );
        assert_eq!(limit, "$5");
        assert_eq!(w.arguments().map(|a| a.len()).ok(), Some(5));
    }
}
