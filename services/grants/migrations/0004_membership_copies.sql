-- Grants' copies of membership's organizations, people and affiliations
-- move into the tables of markaz-membership-copies (applied before this
-- migration), which every consumer of membership shares; the old tables go.
-- A copy loses nothing: grants kept the two versions the library keeps (the
-- snapshot fields' and the incubation status'), so both carry over as they
-- are. The fields grants never kept wait for the next snapshot: an
-- organization's sectors, a person's age band and branch (unspecified and
-- empty until then; a tombstone keeps none, as the library's own do).
-- `WHERE 1 = 1` lets SQLite read ON CONFLICT as the upsert clause, not as
-- part of the SELECT.

INSERT INTO membership_organizations (tenant_id, id, identifier, kind, name_ar, name_en,
    governorate, branch_id, sectors, fields_version, incubation_status, status_version)
SELECT tenant_id, id, identifier, kind, name_ar, name_en, governorate, branch_id, '',
    fields_version, incubation_status, status_version
FROM organization_copies WHERE 1 = 1
ON CONFLICT (tenant_id, id) DO NOTHING;

INSERT INTO membership_people (tenant_id, id, full_name, gender, age_band, branch_id, version,
    erased)
SELECT tenant_id, id, full_name, gender, 'AGE_BAND_UNSPECIFIED', '', version, erased
FROM person_copies WHERE 1 = 1
ON CONFLICT (tenant_id, id) DO NOTHING;

INSERT INTO membership_affiliations (tenant_id, id, person_id, organization_id, ended)
SELECT tenant_id, id, person_id, organization_id, ended
FROM affiliation_copies WHERE 1 = 1
ON CONFLICT (tenant_id, id) DO NOTHING;

DROP TABLE organization_copies;
DROP TABLE person_copies;
DROP TABLE affiliation_copies;
