//! Membership's events applied to the copies.
//!
//! Each write is one statement that decides by version in the database
//! (`ON CONFLICT … DO UPDATE SET col = CASE WHEN <older> …`), so two
//! replicas applying two events of one object at once cannot put an older
//! snapshot over a newer one.

use markaz_kit::db::Tx;
use markaz_kit::erasure::{Matcher, Subject};
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::events::Router;
use markaz_kit::rpc::parse_id;
use markaz_proto::common::v1::{AgeBand, Gender, IncubationStatus, OrganizationKind, Sector};
use markaz_proto::events::v1 as ev;
use sqlx::AssertSqlSafe;

use crate::read::{
    ORGANIZATION_COLUMNS, Organization, OrganizationRow, PERSON_COLUMNS, Person, PersonRow,
};

/// What an event changed in the copies, for the consumer to react to.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// An organization's copy as it is now, and whether the event's fields
    /// took: `false` when the copy already held a newer version (an event
    /// out of order, or twice). Known from the upsert's own answer — the
    /// copy is not read first, which would cost every event a statement.
    Organization {
        took: bool,
        after: Box<Organization>,
    },
    /// A person's copy, as it is now.
    Person(Person),
    /// A person was erased: the copy lost the name it had. The consumer
    /// deletes or pseudonymises what it attached to the person; every
    /// mention of them in its tables, outbox, dead letters and stream is
    /// scrubbed after its reaction, by the platform
    /// ([`markaz_kit::erasure::erase`]) — no consumer can leave that out.
    PersonErased { person_id: String },
    /// A person became a member of an organization.
    Affiliated {
        affiliation_id: String,
        person_id: String,
        organization_id: String,
    },
    /// That membership ended.
    AffiliationEnded {
        affiliation_id: String,
        person_id: String,
        organization_id: String,
    },
    /// An organization moved in the incubation program, as membership
    /// recorded the move — given every time the event is applied, even when
    /// the copy already holds a later status (out of order, or twice), so a
    /// consumer keeping the history keys it by `version`.
    IncubationMoved {
        organization_id: String,
        to: IncubationStatus,
        /// Microseconds since the Unix epoch.
        changed_at: i64,
        version: i64,
    },
}

/// What a consumer does when its copies changed: recuse a reviewer now
/// affiliated with an applicant, scrub an erased person's name from its own
/// notes. Called in the event's transaction, after the copy is written.
#[markaz_kit::async_trait]
pub trait Reactions: Send + Sync + 'static {
    async fn react(&self, tx: &mut Tx, change: &Change) -> Result<()> {
        let _ = (tx, change);
        Ok(())
    }

    /// Columns (`"table.column"`) an erasure's sweep must not touch: those
    /// that hold other people's own names, because the same name may be
    /// someone else's (the copies' own are spared already), and those the
    /// consumer derives from other columns and rewrites in
    /// [`after_erasure`](Self::after_erasure).
    fn spare(&self) -> &'static [&'static str] {
        &[]
    }

    /// Called after an erasure's sweep, in its transaction: what the
    /// consumer derives from its text — search tokens, say — rebuilt from
    /// the text as the sweep left it. The sweep cannot do that itself: a
    /// derived form (a stemmed token, an index) is not the text the person
    /// was written in, so their matcher does not find them there.
    async fn after_erasure(&self, tx: &mut Tx, person_id: &str) -> Result<()> {
        let _ = (tx, person_id);
        Ok(())
    }
}

/// What the erasure's sweep leaves in the copies: the column of names, each
/// a person's own, and a copy's version, which is membership's (a copy the
/// sweep changed still takes membership's next snapshot). Organizations'
/// versions are `fields_version` and `status_version`, which the sweep
/// never bumps.
const SPARED: &[&str] = &["membership_people.full_name", "membership_people.version"];

/// Routes every membership event the copies are made of to this library,
/// then to the consumer's [`Reactions`].
pub fn routes<S: Reactions>(router: Router<S>) -> Router<S> {
    router
        // The service admits the tenant's callers from now on.
        .route::<ev::TenantRegistered>(|_, tx, _| {
            Box::pin(async move {
                let tenant = tx.tenant().to_owned();
                markaz_kit::tenants::register(tx, &tenant).await
            })
        })
        .route::<ev::OrganizationRegistered>(|s, tx, e| {
            Box::pin(async move {
                let change = organization_snapshot(tx, e.organization).await?;
                s.react(tx, &change).await
            })
        })
        .route::<ev::OrganizationUpdated>(|s, tx, e| {
            Box::pin(async move {
                let change = organization_snapshot(tx, e.organization).await?;
                s.react(tx, &change).await
            })
        })
        .route::<ev::IncubationStatusChanged>(|s, tx, e| {
            Box::pin(async move {
                let moved = Change::IncubationMoved {
                    organization_id: e.organization_id.clone(),
                    to: known::<IncubationStatus>(e.to),
                    changed_at: e.changed_at.as_ref().map_or(0, markaz_kit::time::micros_of),
                    version: e.version,
                };
                let change = incubation(tx, e).await?;
                s.react(tx, &change).await?;
                s.react(tx, &moved).await
            })
        })
        .route::<ev::PersonRegistered>(|s, tx, e| {
            Box::pin(async move {
                let change = person_snapshot(tx, e.person).await?;
                s.react(tx, &change).await
            })
        })
        .route::<ev::PersonUpdated>(|s, tx, e| {
            Box::pin(async move {
                let change = person_snapshot(tx, e.person).await?;
                s.react(tx, &change).await
            })
        })
        .route::<ev::PersonErased>(|s, tx, e| {
            Box::pin(async move {
                let matcher = matcher_of(tx, &e).await?;
                let erasure_id = e.erasure_id.clone();
                let change = erasure(tx, e).await?;
                s.react(tx, &change).await?;
                let Change::PersonErased { person_id } = &change else {
                    unreachable!("an erasure changes a person")
                };
                let mut spare = SPARED.to_vec();
                spare.extend(s.spare());
                let erasure = markaz_kit::erasure::Erasure {
                    erasure_id: &erasure_id,
                    person_id,
                    matcher: &matcher,
                };
                markaz_kit::erasure::erase(tx, erasure, &spare).await?;
                s.after_erasure(tx, person_id).await
            })
        })
        .route::<ev::PersonAffiliated>(|s, tx, e| {
            Box::pin(async move {
                let change = affiliation(
                    tx,
                    &e.affiliation_id,
                    &e.person_id,
                    &e.organization_id,
                    false,
                )
                .await?;
                s.react(tx, &change).await
            })
        })
        .route::<ev::AffiliationEnded>(|s, tx, e| {
            Box::pin(async move {
                let change = affiliation(
                    tx,
                    &e.affiliation_id,
                    &e.person_id,
                    &e.organization_id,
                    true,
                )
                .await?;
                s.react(tx, &change).await
            })
        })
}

/// An id an event must carry: a malformed event is refused for good (a
/// dead letter), not retried.
fn required_id(field: &str, value: &str) -> Result<String> {
    parse_id(field, value).map_err(Error::from)
}

/// An enumeration value of an event; one this build does not know (a newer
/// producer) reads as unspecified.
fn known<E: TryFrom<i32> + Default>(value: i32) -> E {
    E::try_from(value).unwrap_or_default()
}

#[tracing::instrument(skip_all)]
async fn organization_snapshot(
    tx: &mut Tx,
    snapshot: Option<ev::OrganizationSnapshot>,
) -> Result<Change> {
    let o =
        snapshot.ok_or_else(|| Error::invalid("organization", "the event carries no snapshot"))?;
    let (id, version) = (
        required_id("organization.id", &o.id),
        positive("organization.version", o.version),
    )
        .all()?;
    let sectors = o
        .sectors
        .iter()
        .map(|s| known::<Sector>(*s).as_str_name())
        .collect::<Vec<_>>()
        .join(",");
    let name = o.name.unwrap_or_default();
    let row: OrganizationRow = sqlx::query_as(AssertSqlSafe(format!(
        "INSERT INTO membership_organizations (tenant_id, id, identifier, kind, name_ar, name_en,
            governorate, branch_id, sectors, fields_version, incubation_status, status_version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $10)
         ON CONFLICT (tenant_id, id) DO UPDATE SET
            identifier = CASE WHEN membership_organizations.fields_version < $10
                THEN excluded.identifier ELSE membership_organizations.identifier END,
            kind = CASE WHEN membership_organizations.fields_version < $10
                THEN excluded.kind ELSE membership_organizations.kind END,
            name_ar = CASE WHEN membership_organizations.fields_version < $10
                THEN excluded.name_ar ELSE membership_organizations.name_ar END,
            name_en = CASE WHEN membership_organizations.fields_version < $10
                THEN excluded.name_en ELSE membership_organizations.name_en END,
            governorate = CASE WHEN membership_organizations.fields_version < $10
                THEN excluded.governorate ELSE membership_organizations.governorate END,
            branch_id = CASE WHEN membership_organizations.fields_version < $10
                THEN excluded.branch_id ELSE membership_organizations.branch_id END,
            sectors = CASE WHEN membership_organizations.fields_version < $10
                THEN excluded.sectors ELSE membership_organizations.sectors END,
            incubation_status = CASE WHEN membership_organizations.status_version < $10
                THEN excluded.incubation_status ELSE membership_organizations.incubation_status END,
            status_version = CASE WHEN membership_organizations.status_version < $10
                THEN $10 ELSE membership_organizations.status_version END,
            fields_version = CASE WHEN membership_organizations.fields_version < $10
                THEN $10 ELSE membership_organizations.fields_version END
         RETURNING {ORGANIZATION_COLUMNS}"
    )))
    .bind(tx.tenant().to_owned())
    .bind(&id)
    .bind(&o.identifier)
    .bind(known::<OrganizationKind>(o.kind).as_str_name())
    .bind(&name.ar)
    .bind(&name.en)
    .bind(&o.governorate)
    .bind(&o.branch_id)
    .bind(sectors)
    .bind(version)
    .bind(known::<IncubationStatus>(o.incubation_status).as_str_name())
    .fetch_one(tx.conn())
    .await?;
    let after: Organization = row.try_into()?;
    Ok(Change::Organization {
        // The copy's version is the event's only when the event took (or
        // took before, a replay of the same snapshot: the same fields).
        took: after.fields_version == version,
        after: Box::new(after),
    })
}

fn positive(field: &str, version: i64) -> Result<i64> {
    if version > 0 {
        Ok(version)
    } else {
        Err(Error::invalid(field, "a snapshot's version is positive"))
    }
}

/// An incubation change at its version. Before the organization's snapshot
/// it makes a row whose snapshot fields wait (`fields_version` 0).
#[tracing::instrument(skip_all)]
async fn incubation(tx: &mut Tx, e: ev::IncubationStatusChanged) -> Result<Change> {
    let (id, version) = (
        required_id("organization_id", &e.organization_id),
        positive("version", e.version),
    )
        .all()?;
    let row: OrganizationRow = sqlx::query_as(AssertSqlSafe(format!(
        "INSERT INTO membership_organizations (tenant_id, id, identifier, kind, name_ar, name_en,
            governorate, branch_id, sectors, fields_version, incubation_status, status_version)
         VALUES ($1, $2, '', $3, '', '', '', '', '', 0, $4, $5)
         ON CONFLICT (tenant_id, id) DO UPDATE SET
            incubation_status = CASE WHEN membership_organizations.status_version < $5
                THEN excluded.incubation_status ELSE membership_organizations.incubation_status END,
            status_version = CASE WHEN membership_organizations.status_version < $5
                THEN $5 ELSE membership_organizations.status_version END
         RETURNING {ORGANIZATION_COLUMNS}"
    )))
    .bind(tx.tenant().to_owned())
    .bind(&id)
    .bind(OrganizationKind::Unspecified.as_str_name())
    .bind(known::<IncubationStatus>(e.to).as_str_name())
    .bind(version)
    .fetch_one(tx.conn())
    .await?;
    let after: Organization = row.try_into()?;
    Ok(Change::Organization {
        took: after.status_version == version,
        after: Box::new(after),
    })
}

/// A person snapshot, applied if newer than the copy; an erased person
/// never gets a name back, whatever arrives late.
#[tracing::instrument(skip_all)]
async fn person_snapshot(tx: &mut Tx, snapshot: Option<ev::PersonSnapshot>) -> Result<Change> {
    let p = snapshot.ok_or_else(|| Error::invalid("person", "the event carries no snapshot"))?;
    let (id, version) = (
        required_id("person.id", &p.id),
        positive("person.version", p.version),
    )
        .all()?;
    let row: PersonRow = sqlx::query_as(AssertSqlSafe(format!(
        "INSERT INTO membership_people (tenant_id, id, full_name, gender, age_band, branch_id,
            version, erased)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0)
         ON CONFLICT (tenant_id, id) DO UPDATE SET
            full_name = CASE WHEN membership_people.erased = 0 AND membership_people.version < $7
                THEN excluded.full_name ELSE membership_people.full_name END,
            gender = CASE WHEN membership_people.version < $7
                THEN excluded.gender ELSE membership_people.gender END,
            age_band = CASE WHEN membership_people.version < $7
                THEN excluded.age_band ELSE membership_people.age_band END,
            branch_id = CASE WHEN membership_people.version < $7
                THEN excluded.branch_id ELSE membership_people.branch_id END,
            version = CASE WHEN membership_people.version < $7
                THEN $7 ELSE membership_people.version END
         RETURNING {PERSON_COLUMNS}"
    )))
    .bind(tx.tenant().to_owned())
    .bind(&id)
    .bind(&p.full_name)
    .bind(known::<Gender>(p.gender).as_str_name())
    .bind(known::<AgeBand>(p.age_band).as_str_name())
    .bind(&p.branch_id)
    .bind(version)
    .fetch_one(tx.conn())
    .await?;
    Ok(Change::Person(row.try_into()?))
}

/// How this service finds the person in its text: the erasure's keys, or
/// — an erasure published before they existed — the name the copy had.
async fn matcher_of(tx: &mut Tx, e: &ev::PersonErased) -> Result<Matcher> {
    if let Some(keys) = &e.match_keys {
        return Ok(Matcher::from_keys(keys));
    }
    let id = required_id("person_id", &e.person_id)?;
    let known = crate::read::person(tx, &id)
        .await?
        .map(|p| p.full_name)
        .unwrap_or_default();
    Ok(Matcher::new(&Subject {
        names: vec![known],
        ..Default::default()
    }))
}

/// The copy keeps no name from now on; gender, age band and branch stay,
/// so every figure stays right. An erasure that comes before the person —
/// a consumer rebuilt from a stream whose messages naming them were
/// scrubbed — leaves a tombstone with the event's gender, age band and
/// branch, which no later snapshot gives a name back to.
#[tracing::instrument(skip_all)]
async fn erasure(tx: &mut Tx, e: ev::PersonErased) -> Result<Change> {
    let id = required_id("person_id", &e.person_id)?;
    sqlx::query(
        "INSERT INTO membership_people (tenant_id, id, full_name, gender, age_band, branch_id,
            version, erased)
         VALUES ($1, $2, '', $3, $4, $5, 0, 1)
         ON CONFLICT (tenant_id, id) DO UPDATE SET full_name = '', erased = 1",
    )
    .bind(tx.tenant().to_owned())
    .bind(&id)
    .bind(known::<Gender>(e.gender).as_str_name())
    .bind(known::<AgeBand>(e.age_band).as_str_name())
    .bind(&e.branch_id)
    .execute(tx.conn())
    .await?;
    tracing::info!(person = %id, "person erased from the copies");
    Ok(Change::PersonErased { person_id: id })
}

/// An affiliation, or its end: an end is final, whichever arrives first.
#[tracing::instrument(skip_all)]
async fn affiliation(
    tx: &mut Tx,
    affiliation_id: &str,
    person_id: &str,
    organization_id: &str,
    ended: bool,
) -> Result<Change> {
    let (affiliation_id, person_id, organization_id) = (
        required_id("affiliation_id", affiliation_id),
        required_id("person_id", person_id),
        required_id("organization_id", organization_id),
    )
        .all()?;
    sqlx::query(
        "INSERT INTO membership_affiliations (tenant_id, id, person_id, organization_id, ended)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, id) DO UPDATE SET
            ended = CASE WHEN excluded.ended = 1 THEN 1 ELSE membership_affiliations.ended END",
    )
    .bind(tx.tenant().to_owned())
    .bind(&affiliation_id)
    .bind(&person_id)
    .bind(&organization_id)
    .bind(i64::from(ended))
    .execute(tx.conn())
    .await?;
    Ok(if ended {
        Change::AffiliationEnded {
            affiliation_id,
            person_id,
            organization_id,
        }
    } else {
        Change::Affiliated {
            affiliation_id,
            person_id,
            organization_id,
        }
    })
}
