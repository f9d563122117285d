-- A public suggestion's sender and contact are kept until staff triage it
-- (cleared in the triage's transaction) or, if nobody does, for
-- `retention.public_contact_days` (90 by default): then the retention task
-- clears them (`store::suggestions::purge_contacts`), oldest first, in
-- batches. The partial index holds only the suggestions that still carry
-- them, so each round reads those and nothing else.
CREATE INDEX suggestions_with_contact ON suggestions (created_at)
    WHERE contact <> '' OR suggested_by <> '';
--! postgres
-- The purge runs for every tenant at once, in a transaction that names no
-- tenant and says it is the purge (`markaz.retention` = 'purge', as for the
-- platform's tables): it may read and update suggestions — and only the
-- purge sets that.
CREATE POLICY capacity_retention_read ON suggestions FOR SELECT
    USING (current_setting('markaz.retention', true) = 'purge');
CREATE POLICY capacity_retention_update ON suggestions FOR UPDATE
    USING (current_setting('markaz.retention', true) = 'purge')
    WITH CHECK (current_setting('markaz.retention', true) = 'purge');
--! all
