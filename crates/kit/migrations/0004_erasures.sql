-- Erasures this service applied (see markaz_kit::erasure): recorded in the
-- transaction that swept the database, finished by the erasure task (the
-- stream scrub, then `ErasureConfirmed`), which then drops the match keys.
-- No personal data: the person's id, salted digests until confirmed, and
-- counts per kind. Read across tenants by the task, like the outbox.
CREATE TABLE markaz_erasures (
    tenant_id TEXT NOT NULL,
    erasure_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    match_keys {{blob}} NOT NULL,
    -- JSON: {"table people": 1, "outbox": 3, ...}
    counts TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    PRIMARY KEY (tenant_id, erasure_id)
);
CREATE INDEX markaz_erasures_pending ON markaz_erasures (created_at) WHERE confirmed_at IS NULL;
