-- Membership: tenants, branches, organizations and their incubation history,
-- people, affiliations, capacity assessments. Every tenant table has a
-- `tenant_id`; on PostgreSQL the platform adds row-level security to each.

CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name_ar TEXT NOT NULL,
    name_en TEXT NOT NULL,
    identifier_prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE branches (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name_ar TEXT NOT NULL,
    name_en TEXT NOT NULL,
    governorate TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Numbers of generated organization identifiers: unique and increasing
-- (shared by the tenants, so not dense within one), and taken without a lock
-- that concurrent registrations would queue on.
{{sequence organization_numbers}}

CREATE TABLE organizations (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    identifier TEXT NOT NULL,
    kind TEXT NOT NULL,
    name_ar TEXT NOT NULL,
    name_en TEXT NOT NULL,
    acronym TEXT NOT NULL,
    governorate TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    sectors TEXT NOT NULL,
    description_ar TEXT NOT NULL,
    description_en TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT NOT NULL,
    incubation_status TEXT NOT NULL,
    -- Lowercased names, acronym and identifier, for text search.
    search_text TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, identifier)
);
CREATE INDEX organizations_by_kind ON organizations (tenant_id, kind, id);
CREATE INDEX organizations_by_status ON organizations (tenant_id, incubation_status, id);
CREATE INDEX organizations_by_branch ON organizations (tenant_id, branch_id, id);

-- Every incubation status change, never overwritten.
CREATE TABLE incubation_changes (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    reason TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, organization_id) REFERENCES organizations (tenant_id, id)
);
CREATE INDEX incubation_changes_by_organization ON incubation_changes (tenant_id, organization_id, id);

CREATE TABLE people (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    full_name TEXT NOT NULL,
    gender TEXT NOT NULL,
    age_band TEXT NOT NULL,
    phone TEXT NOT NULL,
    email TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    processing_purpose TEXT NOT NULL,
    search_text TEXT NOT NULL,
    erased_at BIGINT,
    erasure_reason TEXT NOT NULL DEFAULT '',
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE affiliations (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    role TEXT NOT NULL,
    -- YYYY-MM-DD, or '' when not known / not ended.
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, person_id) REFERENCES people (tenant_id, id),
    FOREIGN KEY (tenant_id, organization_id) REFERENCES organizations (tenant_id, id)
);
CREATE INDEX affiliations_by_organization ON affiliations (tenant_id, organization_id, person_id);
CREATE INDEX affiliations_by_person ON affiliations (tenant_id, person_id);

CREATE TABLE assessments (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    assessed_on TEXT NOT NULL,
    notes TEXT NOT NULL,
    assessed_by TEXT NOT NULL,
    previous_assessment_id TEXT NOT NULL,
    average_score DOUBLE PRECISION NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, organization_id) REFERENCES organizations (tenant_id, id)
);
CREATE INDEX assessments_by_organization ON assessments (tenant_id, organization_id, assessed_on);

CREATE TABLE assessment_domains (
    tenant_id TEXT NOT NULL,
    assessment_id TEXT NOT NULL,
    capacity_domain TEXT NOT NULL,
    score BIGINT NOT NULL,
    justification TEXT NOT NULL,
    consensus_spread BIGINT NOT NULL,
    score_change BIGINT NOT NULL,
    has_previous BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, assessment_id, capacity_domain),
    FOREIGN KEY (tenant_id, assessment_id) REFERENCES assessments (tenant_id, id)
);

CREATE TABLE assessment_participant_scores (
    tenant_id TEXT NOT NULL,
    assessment_id TEXT NOT NULL,
    capacity_domain TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    participant TEXT NOT NULL,
    score BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, assessment_id, capacity_domain, ordinal),
    FOREIGN KEY (tenant_id, assessment_id) REFERENCES assessments (tenant_id, id)
);

CREATE TABLE assessment_actions (
    tenant_id TEXT NOT NULL,
    assessment_id TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    capacity_domain TEXT NOT NULL,
    gap TEXT NOT NULL,
    action TEXT NOT NULL,
    due_date TEXT NOT NULL,
    owner TEXT NOT NULL,
    PRIMARY KEY (tenant_id, assessment_id, ordinal),
    FOREIGN KEY (tenant_id, assessment_id) REFERENCES assessments (tenant_id, id)
);
