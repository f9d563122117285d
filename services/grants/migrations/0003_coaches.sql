-- Coaches: trainers staff named to coach one proposal, by the trainer's
-- account (the token's `sub`, as capacity lists a course's trainers). A
-- coach reads the proposal, its versions and coaching notes, and adds notes;
-- a trainer sees no proposal it does not coach.
CREATE TABLE coaches (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    proposal_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    assigned_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, proposal_id, subject),
    FOREIGN KEY (tenant_id, proposal_id) REFERENCES proposals (tenant_id, id)
);
CREATE INDEX coaches_by_subject ON coaches (tenant_id, subject, proposal_id);
