-- Donors: the deployment's registered donor platforms, what each tenant
-- shares with them, the audit of every donor read, each tenant's
-- suppression threshold, and the funded projects donors see, projected from
-- grants' events.

-- Deployment-wide (no tenant): registered once by the operator.
CREATE TABLE impact_donors (
    donor_id TEXT PRIMARY KEY,
    name_ar TEXT NOT NULL,
    name_en TEXT NOT NULL,
    iati_identifier TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE impact_share_agreements (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    donor_id TEXT NOT NULL,
    -- Program ids (UUIDs), comma-separated.
    program_ids TEXT NOT NULL,
    -- Catalogue codes, comma-separated.
    indicator_codes TEXT NOT NULL,
    from_date TEXT NOT NULL,
    until_date TEXT NOT NULL,
    purpose_ar TEXT NOT NULL,
    purpose_en TEXT NOT NULL,
    -- SHARE_STATE_ACTIVE or SHARE_STATE_REVOKED.
    state TEXT NOT NULL,
    revoke_reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- 0 while active.
    revoked_at BIGINT NOT NULL,
    -- 1, then 2 once revoked (tx.lock's no-op update needs it).
    version BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX impact_share_agreements_donor ON impact_share_agreements (tenant_id, donor_id, id);

-- Every donor read of the tenant's data.
CREATE TABLE impact_donor_reads (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    donor_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    method TEXT NOT NULL,
    share_agreement_ids TEXT NOT NULL,
    indicator_codes TEXT NOT NULL,
    program_ids TEXT NOT NULL,
    from_date TEXT NOT NULL,
    until_date TEXT NOT NULL,
    values_answered BIGINT NOT NULL,
    values_suppressed BIGINT NOT NULL,
    read_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX impact_donor_reads_donor ON impact_donor_reads (tenant_id, donor_id, id);

CREATE TABLE impact_sharing_settings (
    tenant_id TEXT NOT NULL PRIMARY KEY,
    suppression_threshold BIGINT NOT NULL,
    -- The tenant as an IATI reporting organisation.
    iati_identifier TEXT NOT NULL DEFAULT '',
    name_ar TEXT NOT NULL DEFAULT '',
    name_en TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL
);

-- A grant award as donors see it, from GrantAwarded, TrancheDisbursed,
-- MilestoneReported and ProjectCompleted in any order: each event fills
-- what it knows, the status only moves forward, amounts paid only grow.
CREATE TABLE impact_funded_projects (
    tenant_id TEXT NOT NULL,
    award_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    call_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    -- SECTOR_* name.
    sector TEXT NOT NULL,
    -- The proposal's governorate as its partner wrote it.
    governorate TEXT NOT NULL,
    title_ar TEXT NOT NULL DEFAULT '',
    title_en TEXT NOT NULL DEFAULT '',
    summary_ar TEXT NOT NULL DEFAULT '',
    summary_en TEXT NOT NULL DEFAULT '',
    -- The day of the latest tranche paid.
    last_disbursed_on TEXT NOT NULL DEFAULT '',
    -- 1 awarded, 2 active, 3 ended.
    status_rank BIGINT NOT NULL,
    -- PROJECT_OUTCOME_* name once ended, else empty.
    outcome TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    ended_on TEXT NOT NULL,
    currency TEXT NOT NULL,
    budget BIGINT NOT NULL,
    disbursed BIGINT NOT NULL,
    spent BIGINT NOT NULL,
    tranche_count BIGINT NOT NULL,
    targeted_female BIGINT NOT NULL,
    targeted_male BIGINT NOT NULL,
    targeted_undisclosed BIGINT NOT NULL,
    -- 1 once the final report's figures arrived (ProjectCompleted).
    final_reached BIGINT NOT NULL,
    reached_female BIGINT NOT NULL,
    reached_male BIGINT NOT NULL,
    reached_undisclosed BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, award_id)
);
CREATE INDEX impact_funded_projects_program ON impact_funded_projects (tenant_id, program_id, award_id);

CREATE TABLE impact_funded_milestones (
    tenant_id TEXT NOT NULL,
    award_id TEXT NOT NULL,
    milestone_number BIGINT NOT NULL,
    report_id TEXT NOT NULL,
    accepted_at BIGINT NOT NULL,
    reached_female BIGINT NOT NULL,
    reached_male BIGINT NOT NULL,
    reached_undisclosed BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, award_id, milestone_number)
);
