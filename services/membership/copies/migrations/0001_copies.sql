-- The copies of membership's data a consuming service keeps, owned by
-- membership (services/membership/copies) and the same in every consumer.
-- Only markaz-membership-copies writes them; services read and join them.

-- An organization. Its snapshot fields and its incubation status move on
-- versions of their own: an incubation change may arrive before the
-- snapshot (fields_version 0 until it does) or after a newer snapshot.
CREATE TABLE membership_organizations (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    identifier TEXT NOT NULL,
    kind TEXT NOT NULL,
    name_ar TEXT NOT NULL,
    name_en TEXT NOT NULL,
    governorate TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    -- Comma-separated Sector names.
    sectors TEXT NOT NULL,
    fields_version BIGINT NOT NULL,
    incubation_status TEXT NOT NULL,
    status_version BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- A person: the minimum membership shares. An erased person keeps gender,
-- age band and branch (the figures stay right) and never a name again.
CREATE TABLE membership_people (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    full_name TEXT NOT NULL,
    gender TEXT NOT NULL,
    age_band TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    erased BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- An affiliation of a person with an organization; an end is final.
CREATE TABLE membership_affiliations (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    ended BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX membership_affiliations_by_person
    ON membership_affiliations (tenant_id, person_id, organization_id);
CREATE INDEX membership_affiliations_by_organization
    ON membership_affiliations (tenant_id, organization_id, person_id);
