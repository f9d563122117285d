//! The tenant's and the operator's side of donors: registering donors,
//! share agreements, the audit of donor reads, the suppression threshold.

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Idempotency, Page, new_id};
use markaz_kit::time::{Date, timestamp};
use markaz_kit::validate;
use markaz_proto::donors::v1 as api;

use super::ImpactApi;
use crate::domain::donors as rules;
use crate::store::donors::{self as store, DonorRow, ReadRow, ShareRow};

pub(super) fn donor_proto(r: &DonorRow) -> api::Donor {
    api::Donor {
        id: r.donor.id.clone(),
        name: Some(r.donor.name.clone()),
        iati_identifier: r.donor.iati_identifier.clone(),
        create_time: Some(timestamp(r.created_at)),
    }
}

pub(super) fn share_proto(r: &ShareRow) -> api::ShareAgreement {
    api::ShareAgreement {
        id: r.id.clone(),
        tenant_id: r.tenant_id.clone(),
        donor_id: r.share.donor_id.clone(),
        program_ids: r.share.program_ids.clone(),
        indicator_codes: r.share.indicator_codes.clone(),
        from: Some(r.share.from.to_proto()),
        until: Some(r.share.until.to_proto()),
        purpose: Some(r.share.purpose.clone()),
        state: if r.active {
            api::ShareState::Active
        } else {
            api::ShareState::Revoked
        } as i32,
        revoke_reason: r.revoke_reason.clone(),
        create_time: Some(timestamp(r.created_at)),
        revoke_time: (r.revoked_at > 0).then(|| timestamp(r.revoked_at)),
    }
}

fn read_proto(r: &ReadRow) -> api::DonorRead {
    api::DonorRead {
        id: r.id.clone(),
        donor_id: r.donor_id.clone(),
        subject: r.subject.clone(),
        method: r.method.clone(),
        share_agreement_ids: r.share_agreement_ids.clone(),
        indicator_codes: r.indicator_codes.clone(),
        program_ids: r.program_ids.clone(),
        from: Date::parse(&r.from).map(Date::to_proto),
        until: Date::parse(&r.until).map(Date::to_proto),
        values_answered: r.values_answered.clamp(0, i64::from(i32::MAX)) as i32,
        values_suppressed: r.values_suppressed.clamp(0, i64::from(i32::MAX)) as i32,
        read_time: Some(timestamp(r.read_at)),
    }
}

pub(crate) async fn register_donor(
    i: &ImpactApi,
    _caller: Caller,
    req: api::RegisterDonorRequest,
) -> Result<api::Donor> {
    let d = rules::donor(&req)?;
    let mut tx = i.db.system().await?;
    let row = store::register_donor(&mut tx, &d).await?;
    tx.commit().await?;
    Ok(donor_proto(&row))
}

pub(crate) async fn list_donors(
    i: &ImpactApi,
    _caller: Caller,
    req: api::ListDonorsRequest,
) -> Result<api::ListDonorsResponse> {
    let page = Page::parse(req.page_size, &req.page_token, "donors")?;
    let mut tx = i.db.system().await?;
    let (mut rows, total) = store::donors(&mut tx, &page.after, page.fetch()).await?;
    tx.rollback().await?;
    let next_page_token = page.finish(&mut rows, |r| r.donor.id.clone());
    Ok(api::ListDonorsResponse {
        donors: rows.iter().map(donor_proto).collect(),
        next_page_token,
        total_size: total.size,
    })
}

pub(crate) async fn create_share(
    i: &ImpactApi,
    caller: Caller,
    req: api::CreateShareAgreementRequest,
) -> Result<api::ShareAgreement> {
    let (idempotency, share) = (
        Idempotency::of(&caller, &req.request_id, &req),
        rules::new_share(&req),
    )
        .all()?;
    let mut tx = i.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    if store::donor(&mut tx, &share.donor_id).await?.is_none() {
        return Err(Error::not_found("donor", share.donor_id.clone()));
    }
    let id = new_id();
    let row = store::insert_share(&mut tx, &id, &share).await?;
    let reply = share_proto(&row);
    idempotency.commit(tx, &id, &reply).await?;
    Ok(reply)
}

pub(crate) async fn revoke_share(
    i: &ImpactApi,
    caller: Caller,
    req: api::RevokeShareAgreementRequest,
) -> Result<api::ShareAgreement> {
    let (id, reason) = rules::revoke_reason(&req)?;
    let mut tx = i.db.write(&caller.tenant).await?;
    tx.lock("impact_share_agreements", &id).await?;
    let Some(current) = store::share(&mut tx, &id).await? else {
        return Err(Error::not_found("share agreement", id));
    };
    if !current.active {
        return Err(Error::precondition(
            "SHARE_REVOKED",
            format!("share agreement {id}"),
            "revoked already",
        ));
    }
    store::revoke(&mut tx, &id, &reason).await?;
    let row = store::share(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::internal("a revoked agreement is missing"))?;
    tx.commit().await?;
    Ok(share_proto(&row))
}

pub(crate) async fn list_shares(
    i: &ImpactApi,
    caller: Caller,
    req: api::ListShareAgreementsRequest,
) -> Result<api::ListShareAgreementsResponse> {
    let donor = validate::optional_slug("donor_id", &req.donor_id, 64)?;
    let page = Page::parse(req.page_size, &req.page_token, &donor)?;
    let mut tx = i.db.read(&caller.tenant).await?;
    let (mut rows, total) =
        store::shares(&mut tx, &donor, false, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    Ok(api::ListShareAgreementsResponse {
        share_agreements: rows.iter().map(share_proto).collect(),
        next_page_token,
        total_size: total.size,
    })
}

pub(crate) async fn list_reads(
    i: &ImpactApi,
    caller: Caller,
    req: api::ListDonorReadsRequest,
) -> Result<api::ListDonorReadsResponse> {
    let donor = validate::optional_slug("donor_id", &req.donor_id, 64)?;
    let page = Page::parse(req.page_size, &req.page_token, &donor)?;
    let mut tx = i.db.read(&caller.tenant).await?;
    let (mut rows, total) = store::reads(&mut tx, &donor, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    Ok(api::ListDonorReadsResponse {
        reads: rows.iter().map(read_proto).collect(),
        next_page_token,
        total_size: total.size,
        total_size_is_estimate: total.is_estimate,
    })
}

fn settings_proto(s: &store::Settings) -> api::SharingSettings {
    let f = &s.fields;
    api::SharingSettings {
        suppression_threshold: f.threshold as i32,
        update_time: (s.updated_at > 0).then(|| timestamp(s.updated_at)),
        iati_identifier: f.iati_identifier.clone(),
        organisation_name: Some(f.name.clone()),
        public_indicator_codes: f.public_codes.clone(),
        published_program_ids: f.published_programs.clone(),
        branch_admin1_pcodes: f.branch_pcodes.clone().into_iter().collect(),
        sector_dac5_codes: f.sector_codes.clone().into_iter().collect(),
    }
}

pub(crate) async fn get_settings(
    i: &ImpactApi,
    caller: Caller,
    _: api::GetSharingSettingsRequest,
) -> Result<api::SharingSettings> {
    let mut tx = i.db.read(&caller.tenant).await?;
    Ok(settings_proto(&store::settings(&mut tx).await?))
}

pub(crate) async fn update_settings(
    i: &ImpactApi,
    caller: Caller,
    req: api::UpdateSharingSettingsRequest,
) -> Result<api::SharingSettings> {
    let fields = rules::settings(&req)?;
    let mut tx = i.db.write(&caller.tenant).await?;
    let saved = store::set_settings(&mut tx, &fields).await?;
    tx.commit().await?;
    Ok(settings_proto(&saved))
}
