//! What staff write: the tenant's own indicators, and baselines and
//! targets.

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Result};
use markaz_kit::rpc::Idempotency;
use markaz_proto::impact::v1 as api;

use super::ImpactApi;
use super::indicators::{custom_definition, target_proto};
use crate::domain;
use crate::store;

pub(crate) async fn create_custom(
    i: &ImpactApi,
    caller: Caller,
    req: api::CreateCustomIndicatorRequest,
) -> Result<api::IndicatorDefinition> {
    let (idempotency, custom) = (
        Idempotency::of(&caller, &req.request_id, &req),
        domain::custom_indicator(&req),
    )
        .all()?;
    let mut tx = i.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    store::definitions::insert_custom(&mut tx, &custom).await?;
    let reply = custom_definition(&custom);
    idempotency.commit(tx, &custom.code, &reply).await?;
    Ok(reply)
}

pub(crate) async fn set_target(
    i: &ImpactApi,
    caller: Caller,
    req: api::SetIndicatorTargetRequest,
) -> Result<api::IndicatorTarget> {
    let mut tx = i.db.write(&caller.tenant).await?;
    let customs = store::definitions::customs(&mut tx).await?;
    let target = domain::target(&req, &customs)?;
    let row = store::definitions::set_target(&mut tx, &target).await?;
    tx.commit().await?;
    Ok(target_proto(&row))
}

pub(crate) async fn list_targets(
    i: &ImpactApi,
    caller: Caller,
    req: api::ListIndicatorTargetsRequest,
) -> Result<api::ListIndicatorTargetsResponse> {
    let mut tx = i.db.read(&caller.tenant).await?;
    let targets = store::definitions::targets(&mut tx, &req.code, None).await?;
    Ok(api::ListIndicatorTargetsResponse {
        targets: targets.iter().map(target_proto).collect(),
    })
}
