//! What an erased person leaves in capacity's own records: the objects whose
//! stored answers named them, the notes about them, and the mentions of
//! their name in staff's free text.

use markaz_kit::db::Tx;
use markaz_kit::error::Result;
use markaz_kit::time::now_micros;
use sqlx::AssertSqlSafe;

use crate::domain::erasure::{mention_pattern, scrub_name};

/// The enrolments of a person, and the sessions they were marked at: the
/// objects whose stored API responses carry the person's name.
#[tracing::instrument(skip(tx))]
pub async fn objects_naming(tx: &mut Tx, person_id: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT e.id AS id FROM enrolments e WHERE e.tenant_id = $1 AND e.person_id = $2
         UNION
         SELECT a.session_id AS id FROM attendance a
           JOIN enrolments e ON e.tenant_id = a.tenant_id AND e.id = a.enrolment_id
         WHERE a.tenant_id = $1 AND e.person_id = $2",
    )
    .bind(tx.tenant().to_owned())
    .bind(person_id.to_owned())
    .fetch_all(tx.conn())
    .await?)
}

/// Clears the free text staff attached to the person's own records: the
/// notes on their attendance marks (every revision), the reasons their
/// enrolments were cancelled and their certificates revoked. Such text is
/// about the person (often why they were absent: health, family), so it
/// goes whole; statuses, dates and figures stay.
#[tracing::instrument(skip(tx))]
pub async fn clear_notes_about(tx: &mut Tx, person_id: &str) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    for sql in [
        "UPDATE attendance SET note = '' WHERE tenant_id = $1 AND note <> ''
           AND enrolment_id IN (SELECT id FROM enrolments WHERE tenant_id = $1 AND person_id = $2)",
        "UPDATE attendance_revisions SET note = '' WHERE tenant_id = $1 AND note <> ''
           AND enrolment_id IN (SELECT id FROM enrolments WHERE tenant_id = $1 AND person_id = $2)",
        "UPDATE enrolments SET cancel_reason = ''
         WHERE tenant_id = $1 AND person_id = $2 AND cancel_reason <> ''",
        "UPDATE certificates SET revoke_reason = ''
         WHERE tenant_id = $1 AND person_id = $2 AND revoke_reason <> ''",
    ] {
        sqlx::query(sql)
            .bind(&tenant)
            .bind(person_id)
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// A table of staff's (or the public's) free text that may name people.
struct FreeText {
    table: &'static str,
    /// The columns that pick one row within the tenant (at most
    /// [`MAX_KEYS`]).
    keys: &'static [&'static str],
    /// At most [`MAX_TEXTS`].
    texts: &'static [&'static str],
    /// The column naming the object whose stored API answers (idempotent
    /// retries) show this text, if any.
    answered_by: Option<&'static str>,
    /// The versioned table (and the column of this one pointing at its row)
    /// whose etag must change with this text.
    versioned: Option<(&'static str, &'static str)>,
}

const MAX_KEYS: usize = 2;
const MAX_TEXTS: usize = 3;

const FREE_TEXT: &[FreeText] = &[
    FreeText {
        table: "attendance",
        keys: &["session_id", "enrolment_id"],
        texts: &["note"],
        answered_by: Some("session_id"),
        versioned: None,
    },
    FreeText {
        table: "attendance_revisions",
        keys: &["id"],
        texts: &["note"],
        answered_by: Some("session_id"),
        versioned: None,
    },
    FreeText {
        table: "enrolments",
        keys: &["id"],
        texts: &["cancel_reason"],
        answered_by: None,
        versioned: None,
    },
    FreeText {
        table: "certificates",
        keys: &["id"],
        texts: &["revoke_reason"],
        answered_by: None,
        versioned: None,
    },
    FreeText {
        table: "consultations",
        keys: &["id"],
        texts: &["notes"],
        answered_by: Some("id"),
        versioned: Some(("consultations", "id")),
    },
    FreeText {
        table: "follow_up_actions",
        keys: &["id"],
        texts: &["description", "owner"],
        answered_by: Some("consultation_id"),
        versioned: Some(("consultations", "consultation_id")),
    },
    FreeText {
        table: "suggestions",
        keys: &["id"],
        texts: &["title", "description", "suggested_by"],
        answered_by: None,
        versioned: Some(("suggestions", "id")),
    },
];

/// A row of a [`FreeText`] table, whatever its columns: each table's are
/// selected under these names, '' standing in for those it lacks.
#[derive(sqlx::FromRow)]
struct FreeTextRow {
    key0: String,
    key1: String,
    answered_by: String,
    versioned_id: String,
    text0: String,
    text1: String,
    text2: String,
}

impl FreeTextRow {
    fn keys(&self) -> [&str; MAX_KEYS] {
        [&self.key0, &self.key1]
    }

    fn texts(&self) -> [&str; MAX_TEXTS] {
        [&self.text0, &self.text1, &self.text2]
    }
}

/// The `i`th of `columns` as a select expression, '' past the end.
fn column(columns: &[&'static str], i: usize) -> &'static str {
    columns.get(i).copied().unwrap_or("''")
}

impl FreeText {
    /// The rows whose text may mention `$2` (a [`mention_pattern`]).
    fn select(&self) -> String {
        format!(
            "SELECT {k0} AS key0, {k1} AS key1, {answered} AS answered_by,
                {pointer} AS versioned_id, {t0} AS text0, {t1} AS text1, {t2} AS text2
             FROM {table} WHERE tenant_id = $1 AND ({matches})",
            k0 = column(self.keys, 0),
            k1 = column(self.keys, 1),
            answered = self.answered_by.unwrap_or("''"),
            pointer = self.versioned.map_or("''", |(_, column)| column),
            t0 = column(self.texts, 0),
            t1 = column(self.texts, 1),
            t2 = column(self.texts, 2),
            table = self.table,
            matches = self
                .texts
                .iter()
                .map(|t| format!("LOWER({t}) LIKE LOWER($2) ESCAPE '\\'"))
                .collect::<Vec<_>>()
                .join(" OR "),
        )
    }

    /// Sets the texts (`$2`...) of the row picked by the keys (after them).
    fn update(&self) -> String {
        format!(
            "UPDATE {table} SET {sets} WHERE tenant_id = $1 AND {keys}",
            table = self.table,
            sets = self
                .texts
                .iter()
                .enumerate()
                .map(|(i, t)| format!("{t} = ${}", i + 2))
                .collect::<Vec<_>>()
                .join(", "),
            keys = self
                .keys
                .iter()
                .enumerate()
                .map(|(i, k)| format!("{k} = ${}", i + 2 + self.texts.len()))
                .collect::<Vec<_>>()
                .join(" AND "),
        )
    }
}

/// Replaces each mention of an erased person's `name` in the tenant's free
/// text (see [`scrub_name`]); returns the objects whose stored answers
/// showed the text as it was.
#[tracing::instrument(skip_all)]
pub async fn scrub(tx: &mut Tx, name: &str) -> Result<Vec<String>> {
    let tenant = tx.tenant().to_owned();
    let pattern = mention_pattern(name);
    let mut answered = Vec::new();
    let mut bumped: Vec<(&str, String)> = Vec::new();
    for f in FREE_TEXT {
        let rows: Vec<FreeTextRow> = sqlx::query_as(AssertSqlSafe(f.select()))
            .bind(tenant.clone())
            .bind(pattern.clone())
            .fetch_all(tx.conn())
            .await?;
        let update = f.update();
        for r in &rows {
            let texts = &r.texts()[..f.texts.len()];
            let scrubbed: Vec<Option<String>> = texts.iter().map(|t| scrub_name(t, name)).collect();
            if scrubbed.iter().all(Option::is_none) {
                continue;
            }
            let mut q = sqlx::query(AssertSqlSafe(update.clone())).bind(&tenant);
            for (new, old) in scrubbed.into_iter().zip(texts) {
                q = q.bind(new.unwrap_or_else(|| old.to_string()));
            }
            for key in &r.keys()[..f.keys.len()] {
                q = q.bind(key.to_string());
            }
            q.execute(tx.conn()).await?;
            if f.answered_by.is_some() {
                answered.push(r.answered_by.clone());
            }
            if let Some((versioned, _)) = f.versioned
                && !bumped
                    .iter()
                    .any(|(t, x)| *t == versioned && *x == r.versioned_id)
            {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {versioned} SET version = version + 1, updated_at = $3
                     WHERE tenant_id = $1 AND id = $2"
                )))
                .bind(&tenant)
                .bind(&r.versioned_id)
                .bind(now_micros())
                .execute(tx.conn())
                .await?;
                bumped.push((versioned, r.versioned_id.clone()));
            }
        }
    }
    answered.sort();
    answered.dedup();
    Ok(answered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_free_text_table_fits_the_row_read_from_it() {
        for f in FREE_TEXT {
            assert!(
                (1..=MAX_KEYS).contains(&f.keys.len()),
                "{}: {} keys",
                f.table,
                f.keys.len()
            );
            assert!(
                (1..=MAX_TEXTS).contains(&f.texts.len()),
                "{}: {} texts",
                f.table,
                f.texts.len()
            );
        }
    }
}
