//! Idempotent creates (AIP-155): a retry with the same `request_id` and the
//! same body returns the first result; the same id with another body is
//! refused. Ids are each caller's own.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use prost::Message;

use crate::auth::Caller;
use crate::db::Tx;
use crate::error::{Error, Result};

/// The request hash of a stored result erased with a person's data.
pub const ERASED_REQUEST: &str = "erased";

/// A create made idempotent by its `request_id` (AIP-155): a retry with the
/// same id and the same body returns the first result; the same id with a
/// different body is refused.
#[derive(Debug)]
pub struct Idempotency {
    method: &'static str,
    request_id: String,
    /// What is stored: the request id within the caller's own space, so
    /// callers never meet each other's ids (not even to learn one exists).
    key: String,
    hash: String,
}

impl Idempotency {
    /// `request_id` may be empty (no idempotency asked for). Ids are the
    /// caller's own: another caller using the same id is a different request.
    pub fn of<R: Message + prost::Name>(
        caller: &Caller,
        request_id: &str,
        request: &R,
    ) -> Result<Self> {
        // The method's name is the request message's, less `Request`
        // (AIP-133): never typed by a handler, never out of step with it.
        let method = R::NAME.strip_suffix("Request").unwrap_or(R::NAME);
        if request_id.len() > 128
            || !request_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        {
            return Err(Error::invalid(
                "request_id",
                "at most 128 letters, digits, '-', '_', '.' or ':' (a UUID is ideal)",
            ));
        }
        if request_id.is_empty() {
            // No retry to recognize: nothing to hash.
            return Ok(Idempotency {
                method,
                request_id: String::new(),
                key: String::new(),
                hash: String::new(),
            });
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, &request.encode_to_vec());
        let caller_digest = ring::digest::digest(&ring::digest::SHA256, caller.subject.as_bytes());
        Ok(Idempotency {
            method,
            request_id: request_id.to_string(),
            key: format!("{}/{request_id}", &B64.encode(caller_digest.as_ref())[..16]),
            hash: B64.encode(digest.as_ref()),
        })
    }

    /// The earlier result of this request, if it was done before.
    pub async fn replay<T: Message + Default>(&self, tx: &mut Tx) -> Result<Option<T>> {
        if self.request_id.is_empty() {
            return Ok(None);
        }
        let row: Option<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT request_hash, response FROM markaz_idempotency
             WHERE tenant_id = $1 AND method = $2 AND request_id = $3",
        )
        .bind(tx.tenant().to_owned())
        .bind(self.method)
        .bind(&self.key)
        .fetch_optional(tx.conn())
        .await?;
        match row {
            None => Ok(None),
            Some((hash, _)) if hash == ERASED_REQUEST => Err(Error::precondition(
                "REQUEST_ERASED",
                "request_id",
                "this request was done, and its result erased with the personal data it held",
            )),
            Some((hash, _)) if hash != self.hash => Err(Error::invalid(
                "request_id",
                "this request_id was used before with a different request",
            )),
            Some((_, response)) => T::decode(response.as_slice())
                .map(Some)
                .map_err(|e| Error::internal(format!("stored response: {e}"))),
        }
    }

    /// Keeps `response`, which created `resource_id`, as the result of this request.
    pub async fn remember<T: Message>(
        &self,
        tx: &mut Tx,
        resource_id: &str,
        response: &T,
    ) -> Result<()> {
        if self.request_id.is_empty() {
            return Ok(());
        }
        let inserted = sqlx::query(
            "INSERT INTO markaz_idempotency
               (tenant_id, method, request_id, request_hash, resource_id, response, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(tx.tenant())
        .bind(self.method)
        .bind(&self.key)
        .bind(&self.hash)
        .bind(resource_id)
        .bind(response.encode_to_vec())
        .bind(crate::time::now_micros())
        .execute(tx.conn())
        .await?
        .rows_affected();
        if inserted == 0 {
            // A concurrent retry got there first; this one rolls back and the
            // client's next retry finds the stored result.
            return Err(Error::Aborted(
                "a concurrent request with this request_id is in progress; retry".into(),
            ));
        }
        Ok(())
    }

    /// Keeps `response` as this request's result and commits `tx`: the last
    /// step of every create.
    pub async fn commit<T: Message>(
        self,
        mut tx: Tx,
        resource_id: &str,
        response: &T,
    ) -> Result<()> {
        self.remember(&mut tx, resource_id, response).await?;
        tx.commit().await
    }
}

/// Forgets, oldest first, at most `batch` stored results of requests made
/// before `cutoff` (microseconds), in every tenant: the end of their replay
/// window. A retry after it is a new request. Tombstones of erased
/// requests are kept, so a late retry of an erased person's create is still
/// refused rather than done again (they hold no personal data, and are as
/// few as the erasures). Returns how many were forgotten.
pub async fn purge_before(db: &crate::db::Db, cutoff: i64, batch: i64) -> Result<u64> {
    crate::retention::purge_batch(
        db,
        "DELETE FROM markaz_idempotency
         WHERE (tenant_id, method, request_id) IN (
             SELECT tenant_id, method, request_id FROM markaz_idempotency
             WHERE created_at < $1 AND request_hash <> $3
             ORDER BY created_at LIMIT $2)",
        cutoff,
        batch,
        Some(ERASED_REQUEST),
    )
    .await
}
