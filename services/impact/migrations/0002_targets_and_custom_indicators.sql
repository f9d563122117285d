-- What staff write: baselines and targets of indicators per period (and
-- branch), and the tenant's own indicators, each a catalogue indicator
-- restricted by fixed filters.

CREATE TABLE impact_targets (
    tenant_id TEXT NOT NULL,
    code TEXT NOT NULL,
    from_date TEXT NOT NULL,
    until_date TEXT NOT NULL,
    -- Empty: the whole tenant.
    branch_id TEXT NOT NULL,
    baseline BIGINT NOT NULL,
    target BIGINT NOT NULL,
    currency TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, code, from_date, until_date, branch_id)
);

CREATE TABLE impact_custom_indicators (
    tenant_id TEXT NOT NULL,
    code TEXT NOT NULL,
    name_ar TEXT NOT NULL,
    name_en TEXT NOT NULL,
    definition_ar TEXT NOT NULL,
    definition_en TEXT NOT NULL,
    base_code TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    -- GENDER_* name or empty.
    gender TEXT NOT NULL,
    topic TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, code)
);
