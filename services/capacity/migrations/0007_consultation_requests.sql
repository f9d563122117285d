-- Requests for a consultation from the public (`RequestConsultation`), as
-- training suggestions are kept: nothing about the requester beyond what
-- they chose to give, and their name and contact only until staff triage
-- the request (cleared in the triage's transaction) or, if nobody does,
-- for `retention.public_contact_days`: then the retention task clears them
-- (`store::consultation_requests::purge_contacts`), oldest first, in
-- batches. The organization's name is kept as typed: it need not be known
-- to the center. `consultation_id` is the consultation held for an
-- accepted request ('' for none).
CREATE TABLE consultation_requests (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    requester_name TEXT NOT NULL,
    contact TEXT NOT NULL,
    organization_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    topic_codes TEXT NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    triage_note TEXT NOT NULL,
    triaged_by TEXT NOT NULL,
    consultation_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX consultation_requests_by_status ON consultation_requests (tenant_id, status, id);
-- Only the requests that still carry a name or contact: each round of the
-- retention task reads those and nothing else.
CREATE INDEX consultation_requests_with_contact ON consultation_requests (created_at)
    WHERE contact <> '' OR requester_name <> '';
-- The platform's erasure sweep rewrites free text without knowing which
-- column is a version: as for suggestions (0005), a change of the text
-- bumps the version when the statement left it as it was.
--! postgres
CREATE TRIGGER consultation_requests_version_follows_text
    BEFORE UPDATE OF requester_name, contact, organization_name, description, triage_note,
        triaged_by
    ON consultation_requests
    FOR EACH ROW EXECUTE FUNCTION capacity_version_follows_text();
-- The purge runs for every tenant at once, in a transaction that names no
-- tenant and says it is the purge (`markaz.retention` = 'purge'), as for
-- suggestions (0006).
CREATE POLICY capacity_retention_read ON consultation_requests FOR SELECT
    USING (current_setting('markaz.retention', true) = 'purge');
CREATE POLICY capacity_retention_update ON consultation_requests FOR UPDATE
    USING (current_setting('markaz.retention', true) = 'purge')
    WITH CHECK (current_setting('markaz.retention', true) = 'purge');
--! sqlite
CREATE TRIGGER consultation_requests_version_follows_text
    AFTER UPDATE OF requester_name, contact, organization_name, description, triage_note,
        triaged_by
    ON consultation_requests
    FOR EACH ROW WHEN NEW.version = OLD.version
BEGIN
    UPDATE consultation_requests SET version = version + 1
    WHERE tenant_id = NEW.tenant_id AND id = NEW.id;
END;
--! all
