//! What an erased person leaves in capacity's own records: the objects whose
//! stored answers named them, and the notes about them. Mentions of them in
//! any other text are the platform's sweep (`markaz_kit::erasure`).

use markaz_kit::db::Tx;
use markaz_kit::error::Result;

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
