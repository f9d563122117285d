-- Capacity's copies of membership's organizations, people and affiliations
-- move into the tables of markaz-membership-copies (applied before this
-- migration), which every consumer of membership shares; the old tables go.
-- A copy loses nothing: an organization's single version becomes both of
-- the library's (an incomplete copy, of an incubation change only, has no
-- snapshot fields yet: fields_version 0); the fields capacity never kept
-- (identifier, governorate, sectors) wait for the next snapshot.
-- `WHERE 1 = 1` lets SQLite read ON CONFLICT as the upsert clause, not as
-- part of the SELECT.

INSERT INTO membership_organizations (tenant_id, id, identifier, kind, name_ar, name_en,
    governorate, branch_id, sectors, fields_version, incubation_status, status_version)
SELECT tenant_id, id, '', kind, name_ar, name_en, '', branch_id, '',
    CASE WHEN complete = 0 THEN 0 ELSE version END, incubation_status, version
FROM organizations WHERE 1 = 1
ON CONFLICT (tenant_id, id) DO NOTHING;

INSERT INTO membership_people (tenant_id, id, full_name, gender, age_band, branch_id, version,
    erased)
SELECT tenant_id, id, full_name, gender,
    CASE WHEN age_band = '' THEN 'AGE_BAND_UNSPECIFIED' ELSE age_band END, branch_id, version,
    erased
FROM people WHERE 1 = 1
ON CONFLICT (tenant_id, id) DO NOTHING;

INSERT INTO membership_affiliations (tenant_id, id, person_id, organization_id, ended)
SELECT tenant_id, id, person_id, organization_id, ended
FROM affiliations WHERE 1 = 1
ON CONFLICT (tenant_id, id) DO NOTHING;

DROP TABLE organizations;
DROP TABLE people;
DROP TABLE affiliations;
