//! Views and downloads per item and month, never who.

use markaz_kit::db::Tx;
use markaz_kit::error::Result;

/// Counts one view or download of the item `item_tenant/item_id` in
/// `month`, in the reading tenant's row (the transaction's), and returns
/// the month's total of that kind across readers this tenant may see.
#[tracing::instrument(skip(tx))]
pub async fn count(
    tx: &mut Tx,
    item_tenant: &str,
    item_id: &str,
    month: &str,
    download: bool,
) -> Result<i64> {
    let (views, downloads) = if download { (0, 1) } else { (1, 0) };
    sqlx::query(
        "INSERT INTO item_usage (tenant_id, item_tenant_id, item_id, month, views, downloads)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, item_tenant_id, item_id, month)
         DO UPDATE SET views = item_usage.views + $5, downloads = item_usage.downloads + $6",
    )
    .bind(tx.tenant().to_owned())
    .bind(item_tenant.to_owned())
    .bind(item_id.to_owned())
    .bind(month.to_owned())
    .bind(views as i64)
    .bind(downloads as i64)
    .execute(tx.conn())
    .await?;
    Ok(sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(CASE WHEN $4 = 1 THEN downloads ELSE views END), 0) AS BIGINT)
         FROM item_usage WHERE item_tenant_id = $1 AND item_id = $2 AND month = $3",
    )
    .bind(item_tenant.to_owned())
    .bind(item_id.to_owned())
    .bind(month.to_owned())
    .bind(i64::from(download))
    .fetch_one(tx.conn())
    .await?)
}

/// (month, views, downloads) of one item of the transaction's tenant, for
/// the months `from..=until` (`YYYY-MM`), every reader's rows together.
#[tracing::instrument(skip(tx))]
pub async fn of_item(
    tx: &mut Tx,
    item_id: &str,
    from: &str,
    until: &str,
) -> Result<Vec<(String, i64, i64)>> {
    Ok(sqlx::query_as(
        "SELECT month, CAST(SUM(views) AS BIGINT), CAST(SUM(downloads) AS BIGINT)
         FROM item_usage WHERE item_tenant_id = $1 AND item_id = $2 AND month >= $3
            AND month <= $4
         GROUP BY month ORDER BY month",
    )
    .bind(tx.tenant().to_owned())
    .bind(item_id.to_owned())
    .bind(from.to_owned())
    .bind(until.to_owned())
    .fetch_all(tx.conn())
    .await?)
}

/// (item id, month, views, downloads) of every item of the transaction's
/// tenant in the months `from..=until`.
#[tracing::instrument(skip(tx))]
pub async fn of_tenant(
    tx: &mut Tx,
    from: &str,
    until: &str,
) -> Result<Vec<(String, String, i64, i64)>> {
    Ok(sqlx::query_as(
        "SELECT item_id, month, CAST(SUM(views) AS BIGINT), CAST(SUM(downloads) AS BIGINT)
         FROM item_usage WHERE item_tenant_id = $1 AND month >= $2 AND month <= $3
         GROUP BY item_id, month ORDER BY item_id, month",
    )
    .bind(tx.tenant().to_owned())
    .bind(from.to_owned())
    .bind(until.to_owned())
    .fetch_all(tx.conn())
    .await?)
}

/// Items of the tenant first published in `[from, until)`, and published
/// (first) before `until` in total.
#[tracing::instrument(skip(tx))]
pub async fn published_counts(tx: &mut Tx, from: i64, until: i64) -> Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT
            CAST(COALESCE(SUM(CASE WHEN first_published_at >= $2 AND first_published_at < $3
                THEN 1 ELSE 0 END), 0) AS BIGINT),
            CAST(COALESCE(SUM(CASE WHEN first_published_at < $3 THEN 1 ELSE 0 END), 0) AS BIGINT)
         FROM items WHERE tenant_id = $1 AND first_published_at IS NOT NULL",
    )
    .bind(tx.tenant().to_owned())
    .bind(from)
    .bind(until)
    .fetch_one(tx.conn())
    .await?)
}
