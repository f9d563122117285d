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
//!
//! A list's total is counted by the same [`Where`] as its page, built once:
//! the store counts with the filters and the caller's rights
//! ([`Where::count`], or [`Where::count_capped`] on a table that grows
//! without bound), then adds the page's cursor and LIMIT and reads the page.
//! So the total is of exactly the rows the pages walk, and the same on
//! every page.

use sqlx::any::AnyArguments;
use sqlx::{Arguments, AssertSqlSafe};

use crate::db::Tx;
use crate::error::{Error, Result};

/// A value a statement binds: all a filter needs is text and integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Int(i64),
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(s)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_owned())
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

/// The WHERE clause of one statement and the values it binds, `$1` the
/// tenant. A clone continues the same numbering: the count of a list and
/// its page share every placeholder but the page's own.
#[derive(Debug, Clone)]
pub struct Where {
    conditions: Vec<String>,
    values: Vec<Value>,
}

/// How many rows a list's filters match, as a list response tells it
/// (`total_size`, `total_size_is_estimate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Total {
    /// The count, or [`TOTAL_CAP`] when the count stopped there.
    pub size: i32,
    /// More than [`TOTAL_CAP`] rows match: `size` is the cap, a floor.
    pub is_estimate: bool,
}

/// Where a capped count stops. A count reads one index entry per matching
/// row (`tenant_id` first, then the filter's column) and, on PostgreSQL, the
/// table page of each entry whose page vacuum has not yet marked all-visible
/// — every page a busy table wrote since autovacuum last passed. Measured in
/// `markaz bench suite` (docs/performance.md): with the cap at 10,000, the
/// count of a 27,000-organization tenant read 536 pages and took 80 % of the
/// database's time in the mixed load, halving its throughput; at 1,000 it
/// reads a tenth of that, about the page's own statement. An exact count
/// would read every row on every page of every list. Past 1,000 a list is
/// not read to its end by hand (50 pages of the default size), and the
/// figures staff report come from the impact service, not from a total.
pub const TOTAL_CAP: i64 = 1_000;

impl Where {
    /// `column = $1`, the tenant: the first condition of every statement of
    /// tenant data.
    pub fn tenant(column: &str, tenant: &str) -> Where {
        let mut w = Where {
            conditions: Vec::new(),
            values: Vec::new(),
        };
        let p = w.param(tenant.to_owned());
        w.conditions.push(format!("{column} = {p}"));
        w
    }

    /// `$1` the tenant, bound with no condition: for a read that reaches
    /// other tenants' rows too (resources' shared spaces, consortium items),
    /// whose conditions name `$1` themselves. On PostgreSQL the tables'
    /// policies open exactly those rows; the conditions say the same for
    /// SQLite.
    pub fn across_tenants(tenant: &str) -> Where {
        let mut w = Where {
            conditions: Vec::new(),
            values: Vec::new(),
        };
        w.param(tenant.to_owned());
        w
    }

    /// Binds `value` and returns its placeholder (`$n`), for a place outside
    /// the conditions (a LIMIT) or a condition written by hand.
    pub fn param(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        format!("${}", self.values.len())
    }

    /// `column = value`, when `value` is set (not "").
    pub fn eq(&mut self, column: &str, value: &str) -> &mut Self {
        self.compare(column, "=", value)
    }

    /// `column = value` whatever `value` is: the parent of a list of its
    /// children, where "" must match nothing rather than every parent.
    pub fn eq_always(&mut self, column: &str, value: &str) -> &mut Self {
        let p = self.param(value.to_owned());
        self.conditions.push(format!("{column} = {p}"));
        self
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

    /// `WHERE a AND b AND ...` (`WHERE 1 = 1` with none).
    pub fn sql(&self) -> String {
        if self.conditions.is_empty() {
            return "WHERE 1 = 1".to_string();
        }
        format!("WHERE {}", self.conditions.join(" AND "))
    }

    /// The values, in the order of their placeholders.
    pub fn arguments(self) -> Result<AnyArguments> {
        let mut arguments = AnyArguments::default();
        for v in self.values {
            match v {
                Value::Text(s) => arguments.add(s),
                Value::Int(i) => arguments.add(i),
            }
            .map_err(|e| Error::internal(format!("a value could not be bound: {e}")))?;
        }
        Ok(arguments)
    }

    /// The total of a list whose size has a bound of its own (a catalogue,
    /// one object's children): `SELECT COUNT(*) FROM <from> WHERE ...`, with
    /// this filter as it stands — call it before adding the page's cursor.
    /// `from` is the list's table with its alias, and any join that drops
    /// rows.
    pub async fn count(&self, tx: &mut Tx, from: &str) -> Result<Total> {
        let sql = format!("SELECT COUNT(*) AS n FROM {from} {}", self.sql());
        let n = self.clone().scalar(tx, sql).await?;
        Ok(Total {
            size: n.clamp(0, i64::from(i32::MAX)) as i32,
            is_estimate: false,
        })
    }

    /// The total of a list on a table that grows without bound: counts at
    /// most [`TOTAL_CAP`] + 1 rows and answers the cap, marked as an
    /// estimate, when it finds more. Before the page's cursor, as
    /// [`Where::count`].
    pub async fn count_capped(&self, tx: &mut Tx, from: &str) -> Result<Total> {
        self.count_at_most(tx, from, TOTAL_CAP).await
    }

    async fn count_at_most(&self, tx: &mut Tx, from: &str, cap: i64) -> Result<Total> {
        let mut w = self.clone();
        let limit = w.param(cap + 1);
        // The inner LIMIT stops the scan: COUNT(*) of the whole filter
        // with a LIMIT outside would still read every row.
        let sql = format!(
            "SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM {from} {} LIMIT {limit}) capped",
            w.sql()
        );
        let n = w.scalar(tx, sql).await?;
        Ok(if n > cap {
            Total {
                size: cap.clamp(0, i64::from(i32::MAX)) as i32,
                is_estimate: true,
            }
        } else {
            Total {
                size: n.clamp(0, i64::from(i32::MAX)) as i32,
                is_estimate: false,
            }
        })
    }

    async fn scalar(self, tx: &mut Tx, sql: String) -> Result<i64> {
        let n: i64 = sqlx::query_scalar_with(AssertSqlSafe(sql), self.arguments()?)
            .fetch_one(tx.conn())
            .await?;
        Ok(n)
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

    #[test]
    fn a_read_across_tenants_binds_the_tenant_for_its_own_conditions() {
        let mut w = Where::across_tenants("raqqa");
        assert_eq!(w.sql(), "WHERE 1 = 1");
        w.fixed("(s.tenant_id = $1 OR s.shared = 1)")
            .eq("s.kind", "HALL");
        assert_eq!(
            w.sql(),
            "WHERE (s.tenant_id = $1 OR s.shared = 1) AND s.kind = $2"
        );
        assert_eq!(w.arguments().map(|a| a.len()).ok(), Some(2));
    }

    #[test]
    fn a_clone_continues_the_numbering_of_the_filter_it_copies() {
        let mut w = Where::tenant("tenant_id", "raqqa");
        w.eq("status", "OPEN");
        let mut page = w.clone();
        page.compare("id", ">", "k");
        assert_eq!(page.param(51_i64), "$4");
        assert_eq!(w.sql(), "WHERE tenant_id = $1 AND status = $2");
        assert_eq!(
            page.sql(),
            "WHERE tenant_id = $1 AND status = $2 AND id > $3"
        );
        assert_eq!(w.arguments().map(|a| a.len()).ok(), Some(2));
    }
}
