//! Certificates, read with what they say of their course and holder.

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::{Date, now_micros};
use markaz_proto::capacity::v1::CourseKind;
use markaz_proto::common::v1::LocalizedText;
use sqlx::AssertSqlSafe;

use super::codes_of;
use crate::domain::certificates::Certificate;
use crate::domain::enrolments::Enrolment;

const CERTIFICATE_SELECT: &str = "SELECT x.id, x.code, x.course_id, x.enrolment_id, x.person_id,
        x.organization_id, x.attendance_percent, x.issued_at, x.revoked_at, x.revoke_reason,
        COALESCE(p.full_name, '') AS participant_name, c.title_ar, c.title_en, c.kind,
        c.topic_codes, c.start_date, c.end_date
     FROM certificates x
     JOIN courses c ON c.tenant_id = x.tenant_id AND c.id = x.course_id
     LEFT JOIN membership_people p ON p.tenant_id = x.tenant_id AND p.id = x.person_id";

#[derive(sqlx::FromRow)]
struct CertificateRow {
    id: String,
    code: String,
    course_id: String,
    enrolment_id: String,
    person_id: String,
    organization_id: String,
    #[sqlx(try_from = "i64")]
    attendance_percent: i32,
    issued_at: i64,
    revoked_at: Option<i64>,
    revoke_reason: String,
    participant_name: String,
    title_ar: String,
    title_en: String,
    kind: String,
    topic_codes: String,
    #[sqlx(try_from = "String")]
    start_date: Date,
    #[sqlx(try_from = "String")]
    end_date: Date,
}

impl TryFrom<CertificateRow> for Certificate {
    type Error = Error;
    fn try_from(r: CertificateRow) -> Result<Certificate> {
        Ok(Certificate {
            course_kind: stored(&r.kind, CourseKind::from_str_name)?,
            topic_codes: codes_of(&r.topic_codes),
            course_title: LocalizedText {
                ar: r.title_ar,
                en: r.title_en,
            },
            id: r.id,
            code: r.code,
            course_id: r.course_id,
            enrolment_id: r.enrolment_id,
            person_id: r.person_id,
            organization_id: r.organization_id,
            attendance_percent: r.attendance_percent,
            issued_at: r.issued_at,
            revoked_at: r.revoked_at,
            revoke_reason: r.revoke_reason,
            participant_name: r.participant_name,
            start_date: r.start_date,
            end_date: r.end_date,
        })
    }
}

/// A certificate as issued.
#[derive(Debug, Clone)]
pub struct NewCertificate<'a> {
    pub id: &'a str,
    pub code: &'a str,
    pub enrolment: &'a Enrolment,
    pub attendance_percent: i32,
    pub issued_at: i64,
}

#[tracing::instrument(skip_all, fields(certificate = c.id))]
pub async fn insert(tx: &mut Tx, c: &NewCertificate<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO certificates (tenant_id, id, code, course_id, enrolment_id, person_id,
            organization_id, attendance_percent, issued_at, revoked_at, revoke_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, '')",
    )
    .bind(tx.tenant().to_owned())
    .bind(c.id)
    .bind(c.code)
    .bind(&c.enrolment.course_id)
    .bind(&c.enrolment.id)
    .bind(&c.enrolment.person_id)
    .bind(&c.enrolment.organization_id)
    .bind(i64::from(c.attendance_percent))
    .bind(c.issued_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[tracing::instrument(skip(tx))]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<Certificate>> {
    tx.find_as::<CertificateRow, _>(
        AssertSqlSafe(format!(
            "{CERTIFICATE_SELECT} WHERE x.tenant_id = $1 AND x.id = $2"
        )),
        id,
    )
    .await
}

#[tracing::instrument(skip(tx))]
pub async fn by_code(tx: &mut Tx, code: &str) -> Result<Option<Certificate>> {
    tx.find_as::<CertificateRow, _>(
        AssertSqlSafe(format!(
            "{CERTIFICATE_SELECT} WHERE x.tenant_id = $1 AND x.code = $2"
        )),
        code,
    )
    .await
}

#[tracing::instrument(skip(tx))]
pub async fn list(
    tx: &mut Tx,
    course_id: &str,
    person_id: &str,
    organization_id: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<Certificate>, Total)> {
    // Only the filters that are set are written: each on its index. The
    // same conditions count the list, before the page's cursor.
    let mut w = Where::tenant("x.tenant_id", tx.tenant());
    w.eq("x.course_id", course_id)
        .eq("x.person_id", person_id)
        .eq("x.organization_id", organization_id);
    let total = w
        .count_capped(
            tx,
            "certificates x JOIN courses c ON c.tenant_id = x.tenant_id AND c.id = x.course_id",
        )
        .await?;
    w.compare("x.id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "{CERTIFICATE_SELECT} {} ORDER BY x.id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<CertificateRow> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((
        rows.into_iter()
            .map(Certificate::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

#[tracing::instrument(skip(tx, current), fields(certificate = %current.id))]
pub async fn revoke(tx: &mut Tx, current: &Certificate, reason: &str) -> Result<Certificate> {
    let now = now_micros();
    sqlx::query(
        "UPDATE certificates SET revoked_at = $3, revoke_reason = $4
         WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
    )
    .bind(tx.tenant().to_owned())
    .bind(&current.id)
    .bind(now)
    .bind(reason)
    .execute(tx.conn())
    .await?;
    Ok(Certificate {
        revoked_at: Some(now),
        revoke_reason: reason.to_string(),
        ..current.clone()
    })
}
