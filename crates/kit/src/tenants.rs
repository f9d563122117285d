//! The tenants a deployment registered.
//!
//! A signed token names its tenant, but a signature only says the issuer
//! wrote it: an issuer misconfigured, or an account created in the wrong
//! realm, would otherwise open a tenant nobody registered — and its writes
//! would land in every service. So each service keeps the registered
//! tenants in its own database (`markaz_tenants`, filled by membership's
//! `CreateTenant` and by its `TenantRegistered` event everywhere else), and
//! [`Rpc::handle`](crate::rpc::Rpc::handle) admits a tenant's caller only
//! once the tenant is found there. Tenants are never unregistered, so a
//! tenant found once is remembered for the life of the process.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use crate::db::{Db, Tx};
use crate::error::{Error, Result};

/// Tenants taken as registered without a row: a test world's, whose tokens
/// stand for tenants an operator registered. `markaz dev` and `serve` have
/// none.
pub type Preregistered = Arc<RwLock<HashSet<String>>>;

/// Records `tenant` as registered in this transaction's database.
pub async fn register(tx: &mut Tx, tenant: &str) -> Result<()> {
    crate::db::check_tenant(tenant)?;
    sqlx::query(
        "INSERT INTO markaz_tenants (id, registered_at) VALUES ($1, $2)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(tenant)
    .bind(crate::time::now_micros())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// One service's view of the registered tenants.
#[derive(Clone)]
pub struct Tenants {
    db: Db,
    found: Arc<RwLock<HashSet<String>>>,
    preregistered: Option<Preregistered>,
}

impl std::fmt::Debug for Tenants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenants").finish_non_exhaustive()
    }
}

impl Tenants {
    pub fn new(db: Db, preregistered: Option<Preregistered>) -> Tenants {
        Tenants {
            db,
            found: Arc::default(),
            preregistered,
        }
    }

    /// PERMISSION_DENIED unless `tenant` is registered here.
    pub async fn check(&self, tenant: &str) -> Result<()> {
        if self.found.read().expect("tenants lock").contains(tenant)
            || self
                .preregistered
                .as_ref()
                .is_some_and(|p| p.read().expect("tenants lock").contains(tenant))
        {
            return Ok(());
        }
        let mut tx = self.db.system().await?;
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM markaz_tenants WHERE id = $1")
            .bind(tenant)
            .fetch_one(tx.conn())
            .await?;
        tx.rollback().await?;
        if rows == 0 {
            return Err(Error::permission_denied(format!(
                "tenant '{tenant}' is not registered in this deployment"
            )));
        }
        self.found
            .write()
            .expect("tenants lock")
            .insert(tenant.to_string());
        Ok(())
    }
}
