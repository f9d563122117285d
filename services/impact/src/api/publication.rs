//! What a tenant's files and figures are beyond a donor's token: its own
//! staff's exports of its programs (the console's download links), and what
//! it publishes for anyone — the figures of its public page and the IATI
//! files of the programs it publishes. Every one follows a donor's rules:
//! the same files, small counts withheld at the tenant's threshold, the
//! figures read from the same protected tables as a donor's.

use std::collections::BTreeSet;
use std::time::Duration;

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, FieldViolation, Result, Violations};
use markaz_kit::rpc::rate::Limit;
use markaz_kit::rpc::{Anonymous, parse_id, parse_optional_id};
use markaz_kit::time::rfc3339;
use markaz_kit::validate;
use markaz_proto::donors::v1 as api;

use super::ImpactApi;
use super::donors::{ALL, Funder, Shared, activities, figure, file, funder_of};
use crate::domain::donors::{self as rules, shareable};
use crate::domain::exports::{self, Activity, Organisations};
use crate::store;
use crate::store::donors::ReadRow;
use crate::store::funded::ProjectRow;

/// Public figures from one client address a minute: a page's handful of
/// calls per visit, generous for people.
pub const FIGURES_PER_CLIENT: Limit = Limit {
    max: 60,
    per: Duration::from_secs(60),
};

/// Public figures from one network a minute.
pub const FIGURES_PER_NETWORK: Limit = Limit {
    max: 600,
    per: Duration::from_secs(60),
};

/// IATI file fetches from one client address a minute: a pipeline
/// re-fetches each file nightly, a person now and then.
pub const IATI_PER_CLIENT: Limit = Limit {
    max: 30,
    per: Duration::from_secs(60),
};

/// IATI file fetches from one network a minute.
pub const IATI_PER_NETWORK: Limit = Limit {
    max: 300,
    per: Duration::from_secs(60),
};

/// Every award's dates lie between these.
const EVER: (&str, &str) = ("0000-01-01", "9999-12-31");

/// A tenant id the request names, required.
fn center(field: &str, value: &str) -> Result<String, FieldViolation> {
    if value.is_empty() {
        Err(FieldViolation::new(field, "required: the center"))
    } else if markaz_kit::db::check_tenant(value).is_err() {
        Err(FieldViolation::new(field, "not a tenant id"))
    } else {
        Ok(value.to_string())
    }
}

/// The awards of `programs` of the transaction's tenant, as files take
/// them (no agreement: the tenant's own).
async fn awards(tx: &mut markaz_kit::db::Tx, programs: &[String]) -> Result<Vec<Shared>> {
    let tenant = tx.tenant().to_owned();
    let (rows, _) = store::funded::projects(tx, programs, EVER.0, EVER.1, "", ALL).await?;
    Ok(rows
        .into_iter()
        .map(|r: ProjectRow| (String::new(), tenant.clone(), r, String::new()))
        .collect())
}

/// The funder a tenant's own file names for `program`: the donor asked
/// for, else the donor of the oldest active agreement sharing the program,
/// else none.
async fn program_funder(tx: &mut markaz_kit::db::Tx, program: &str, asked: &str) -> Result<Funder> {
    if !asked.is_empty() {
        let donor = store::donors::donor(tx, asked)
            .await?
            .ok_or_else(|| Error::not_found("donor", asked))?;
        return Ok(funder_of(Some(&donor), ""));
    }
    let (shares, _) = store::donors::shares(tx, "", true, "", ALL).await?;
    // Ids are UUIDv7: the smallest is the oldest.
    let first = shares
        .iter()
        .filter(|s| s.share.program_ids.iter().any(|p| p == program))
        .min_by(|a, b| a.id.cmp(&b.id));
    let Some(share) = first else {
        return Ok(Funder::default());
    };
    let donor = store::donors::donor(tx, &share.share.donor_id).await?;
    Ok(donor.map(|d| funder_of(Some(&d), "")).unwrap_or_default())
}

/// One program of `tenant` as its IATI 2.03 activity file: every award of
/// it. NOT_FOUND for a program without awards (impact knows programs only
/// by their awards), FAILED_PRECONDITION without the tenant's IATI
/// identifier.
async fn program_iati(
    i: &ImpactApi,
    tenant: &str,
    program: &str,
    funder: &str,
) -> Result<api::ExportFile> {
    let mut tx = i.db.read(tenant).await?;
    let settings = store::donors::settings(&mut tx).await?;
    let shared = awards(&mut tx, &[program.to_string()]).await?;
    if shared.is_empty() {
        return Err(Error::not_found("program", program));
    }
    if settings.fields.iati_identifier.is_empty() {
        return Err(Error::precondition(
            "IATI_IDENTIFIER_MISSING",
            format!("tenant {tenant}"),
            "the tenant has not set its IATI organisation identifier (UpdateSharingSettings)",
        ));
    }
    let funder = program_funder(&mut tx, program, funder).await?;
    drop(tx);
    let mine: Vec<&Shared> = shared.iter().collect();
    // Staff and public reads are not donor reads: counted, not audited.
    let mut read = ReadRow::default();
    let (orgs, activities, last) = activities(i, tenant, &mine, &funder, &mut read).await?;
    Ok(file(
        format!("{tenant}-{program}.iati.xml"),
        "application/xml",
        exports::iati(&orgs, &activities, &rfc3339(last)),
    ))
}

pub(crate) async fn export_program_iati(
    i: &ImpactApi,
    caller: Caller,
    req: api::ExportProgramIatiRequest,
) -> Result<api::ExportFile> {
    let (program, funder) = (
        parse_id("program_id", &req.program_id),
        validate::optional_slug("funder_donor_id", &req.funder_donor_id, 64),
    )
        .all()?;
    program_iati(i, &caller.tenant, &program, &funder).await
}

pub(crate) async fn export_program_hxl(
    i: &ImpactApi,
    caller: Caller,
    req: api::ExportProgramHxl3wRequest,
) -> Result<api::ExportFile> {
    let program = parse_optional_id("program_id", &req.program_id)?;
    let tenant = caller.tenant.as_str();
    let mut tx = i.db.read(tenant).await?;
    let programs = if program.is_empty() {
        store::funded::program_ids(&mut tx).await?
    } else {
        vec![program.clone()]
    };
    let shared = awards(&mut tx, &programs).await?;
    if !program.is_empty() && shared.is_empty() {
        return Err(Error::not_found("program", program));
    }
    let mut funders = Vec::with_capacity(programs.len());
    for p in &programs {
        funders.push(program_funder(&mut tx, p, "").await?);
    }
    drop(tx);
    let mut rows: Vec<(Organisations, Activity)> = Vec::new();
    let mut read = ReadRow::default();
    for (p, funder) in programs.iter().zip(&funders) {
        let mine: Vec<&Shared> = shared.iter().filter(|s| s.2.program_id == *p).collect();
        if mine.is_empty() {
            continue;
        }
        let (orgs, activities, _) = activities(i, tenant, &mine, funder, &mut read).await?;
        rows.extend(activities.into_iter().map(|a| (orgs.clone(), a)));
    }
    Ok(file(
        if program.is_empty() {
            format!("{tenant}-3w.hxl.csv")
        } else {
            format!("{tenant}-{program}-3w.hxl.csv")
        },
        "text/csv",
        exports::hxl_3w(&rows),
    ))
}

pub(crate) async fn public_figures(
    i: &ImpactApi,
    anonymous: Anonymous,
    req: api::GetPublicFiguresRequest,
) -> Result<api::GetPublicFiguresResponse> {
    let q = rules::public_query(req)?;
    // Counted once valid, per address and per network.
    i.limiter.check_public(
        "public-figures",
        &anonymous,
        FIGURES_PER_CLIENT,
        FIGURES_PER_NETWORK,
    )?;
    let mut tx = i.db.read(&q.tenant).await?;
    let settings = store::donors::settings(&mut tx).await?;
    if settings.fields.public_codes.is_empty() {
        // A center that publishes nothing, and one that is not here,
        // answer alike.
        return Err(Error::not_found("public figures of center", &q.tenant));
    }
    // Which indicators are public is itself public: a code that is not is
    // refused by name, so a page's author knows why.
    let mut v = Violations::new();
    for (n, c) in q.codes.iter().enumerate() {
        if !settings.fields.public_codes.contains(c) {
            v.add(
                format!("codes[{n}]"),
                format!("{c:?} is not public at this center"),
            );
        }
    }
    v.finish()?;
    let codes: BTreeSet<String> = if q.codes.is_empty() {
        settings
            .fields
            .public_codes
            .iter()
            .filter(|c| {
                q.split
                    .is_none_or(|d| shareable(c).is_some_and(|ind| ind.has(d)))
            })
            .cloned()
            .collect()
    } else {
        q.codes.iter().cloned().collect()
    };
    let mut figures = Vec::with_capacity(codes.len() * q.quarters.len());
    for code in &codes {
        for &quarter in &q.quarters {
            figures.push(
                figure(
                    &mut tx,
                    &q.tenant,
                    code,
                    quarter,
                    q.split.as_slice(),
                    settings.fields.threshold,
                    "",
                )
                .await?,
            );
        }
    }
    Ok(api::GetPublicFiguresResponse {
        figures,
        suppression_threshold: settings.fields.threshold as i32,
        published_program_ids: settings.fields.published_programs.clone(),
        center_name: Some(settings.fields.name.clone())
            .filter(|n| !n.ar.is_empty() || !n.en.is_empty()),
    })
}

/// An ETag the caller holds: empty, or a hex SHA-256.
fn etag(field: &str, value: &str) -> Result<String, FieldViolation> {
    if value.is_empty()
        || (value.len() == 64
            && value
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    {
        Ok(value.to_string())
    } else {
        Err(FieldViolation::new(
            field,
            "a sha256 of this file as answered (64 lowercase hex digits)",
        ))
    }
}

pub(crate) async fn published_iati(
    i: &ImpactApi,
    anonymous: Anonymous,
    req: api::GetPublishedIatiFileRequest,
) -> Result<api::PublishedIatiFile> {
    let (tenant, program, held) = (
        center("tenant_id", &req.tenant_id),
        parse_id("program_id", &req.program_id),
        etag("if_none_match", &req.if_none_match),
    )
        .all()?;
    i.limiter
        .check_public("iati", &anonymous, IATI_PER_CLIENT, IATI_PER_NETWORK)?;
    let settings = store::donors::settings(&mut i.db.read(&tenant).await?).await?;
    if !settings.fields.published_programs.contains(&program) {
        // Unpublished and unknown answer alike.
        return Err(Error::not_found("published IATI file", program));
    }
    let mut file = program_iati(i, &tenant, &program, "").await?;
    let not_modified = !held.is_empty() && held == file.sha256;
    if not_modified {
        file.content.clear();
    }
    Ok(api::PublishedIatiFile {
        file: Some(file),
        not_modified,
    })
}
