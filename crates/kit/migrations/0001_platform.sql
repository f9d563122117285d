-- The platform's tables, in every service's database.

-- Events written in the same transaction as the change that caused them. The
-- relay publishes them in `seq` order and marks each only after the bus
-- acknowledged it; published rows are purged after a retention period.
CREATE TABLE markaz_outbox (
    seq {{seq}},
    event_id TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL,
    -- The object the event is about, so erasing a person can drop the
    -- outbox's copies of its events.
    aggregate_id TEXT NOT NULL,
    event_name TEXT NOT NULL,
    envelope {{blob}} NOT NULL,
    created_at BIGINT NOT NULL,
    published_at BIGINT,
    -- 1 once the object's personal data was erased: the relay publishes the
    -- event (consumers must see it, then the erasure) and drops its copy.
    forget BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX markaz_outbox_pending ON markaz_outbox (seq) WHERE published_at IS NULL;

-- Events this service has applied, one row per (consumer, event): a
-- redelivered event finds its row and has no second effect.
CREATE TABLE markaz_inbox (
    consumer TEXT NOT NULL,
    event_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    processed_at BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

-- Events a consumer gave up on after its bounded redeliveries. `markaz dlq
-- list` shows them; `markaz dlq replay` applies them again.
CREATE TABLE markaz_dead_letters (
    id {{seq}},
    consumer TEXT NOT NULL,
    event_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    producer TEXT NOT NULL,
    envelope {{blob}} NOT NULL,
    error TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    failed_at BIGINT NOT NULL,
    replayed_at BIGINT
);

-- Results of creates by request_id, so a retried create returns the first
-- result instead of a second object.
CREATE TABLE markaz_idempotency (
    tenant_id TEXT NOT NULL,
    method TEXT NOT NULL,
    request_id TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    -- The object created, so erasing a person also drops the stored response.
    resource_id TEXT NOT NULL,
    response {{blob}} NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, method, request_id)
);

-- SQLite's sequences (PostgreSQL has its own): see `Tx::next_value`.
--! sqlite
CREATE TABLE markaz_sequences (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
--! all
