//! The stakeholder map: whom an organization has met, computed from
//! attendance at held events, never typed by hand.

use markaz_kit::auth::Caller;
use markaz_kit::error::{Error, Result};
use markaz_kit::rpc::parse_id;
use markaz_kit::validate;
use markaz_proto::common::v1::{LocalizedText, OrganizationKind};
use markaz_proto::networking::v1 as api;

use super::{NetworkingApi, partner_of};
use crate::domain::parse_period;
use crate::domain::stakeholders::stakeholder_map;
use crate::store;

pub(crate) async fn map(
    n: &NetworkingApi,
    caller: Caller,
    req: api::GetStakeholderMapRequest,
) -> Result<api::StakeholderMap> {
    let asked = if req.organization_id.is_empty() {
        partner_of(&caller).unwrap_or_default()
    } else {
        req.organization_id.clone()
    };
    let id = parse_id("organization_id", &asked)?;
    let period = parse_period(req.from.as_ref(), req.until.as_ref())?;
    let mut kinds = Vec::new();
    for (i, k) in req.counterpart_kinds.iter().enumerate() {
        if let Some(kind) =
            validate::enumeration::<OrganizationKind>(&format!("counterpart_kinds[{i}]"), *k, true)?
        {
            kinds.push(kind);
        }
    }
    if !caller.may_see_organization(&id) {
        return Err(Error::not_found("organization", &id));
    }
    let mut tx = n.db.read(&caller.tenant).await?;
    let focal = super::known_organization(&mut tx, &id).await?;
    let presences = store::reports::stakeholder_presences(&mut tx, &id, period).await?;
    let m = stakeholder_map(&id, &presences, period, &kinds);
    let ids: Vec<String> = m
        .stakeholders
        .iter()
        .map(|s| s.organization_id.clone())
        .collect();
    let mut organizations = markaz_membership_copies::organizations(&mut tx, &ids).await?;
    let mut stakeholders = Vec::new();
    for s in m.stakeholders {
        let name = organizations
            .remove(&s.organization_id)
            .map_or_else(LocalizedText::default, |o| o.name);
        stakeholders.push(api::Stakeholder {
            organization_id: s.organization_id,
            organization_name: Some(name),
            organization_kind: s.organization_kind as i32,
            governorate: s.governorate,
            meetings: s.meetings,
            first_met_on: Some(s.first_met_on.to_proto()),
            last_met_on: Some(s.last_met_on.to_proto()),
            by_kind: s
                .by_kind
                .into_iter()
                .map(|(k, c)| api::EventKindCount {
                    kind: k as i32,
                    count: c,
                })
                .collect(),
        });
    }
    Ok(api::StakeholderMap {
        organization_id: id,
        organization_kind: focal.kind as i32,
        from: period.from.map(|d| d.to_proto()),
        until: period.until.map(|d| d.to_proto()),
        events_attended: m.events_attended,
        stakeholders,
    })
}
