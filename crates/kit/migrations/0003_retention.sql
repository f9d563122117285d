-- Retention (see markaz_kit::retention): request ids older than the replay
-- window and inbox rows older than the inbox window are deleted, oldest
-- first, in bounded batches. These indexes let each batch find its rows in
-- age order instead of reading the whole table.
CREATE INDEX markaz_idempotency_by_age ON markaz_idempotency (created_at);
CREATE INDEX markaz_inbox_by_age ON markaz_inbox (processed_at);
--! postgres
-- The purge runs for every tenant at once, in a transaction that names no
-- tenant, so the tenant policy shows it no rows. These policies let a
-- transaction that says it is the purge (`markaz.retention` = 'purge', set
-- locally by the purge alone) read and delete these two tables' rows —
-- nothing else, and neither insert nor update.
CREATE POLICY markaz_retention_read ON markaz_idempotency FOR SELECT
    USING (current_setting('markaz.retention', true) = 'purge');
CREATE POLICY markaz_retention_delete ON markaz_idempotency FOR DELETE
    USING (current_setting('markaz.retention', true) = 'purge');
CREATE POLICY markaz_retention_read ON markaz_inbox FOR SELECT
    USING (current_setting('markaz.retention', true) = 'purge');
CREATE POLICY markaz_retention_delete ON markaz_inbox FOR DELETE
    USING (current_setting('markaz.retention', true) = 'purge');
--! all
