-- Erasure requests and their receipts (GetErasure): who asked, on what
-- ground, and what each service holding a copy confirmed. The person is
-- named by id only; `reason` is swept of the person like any text.
CREATE TABLE erasures (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    legal_ground TEXT NOT NULL,
    reason TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    completed_at BIGINT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX erasures_by_person ON erasures (tenant_id, person_id, id);

-- One row per service that confirmed an erasure, with what it changed.
CREATE TABLE erasure_confirmations (
    tenant_id TEXT NOT NULL,
    erasure_id TEXT NOT NULL,
    service TEXT NOT NULL,
    -- JSON: {"table consultations": 2, "outbox": 1, ...}
    counts TEXT NOT NULL,
    confirmed_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, erasure_id, service),
    FOREIGN KEY (tenant_id, erasure_id) REFERENCES erasures (tenant_id, id)
);
