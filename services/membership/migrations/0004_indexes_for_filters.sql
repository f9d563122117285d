-- Lists write only the filters that are set (see markaz_kit::sql::Where),
-- so each filter is a condition a planner can put on an index: these are
-- the indexes, `tenant_id` first. People of an organization come from its
-- active affiliations, in person order (the end date before the person, so
-- the active ones are one range); people by branch and affiliations by
-- person or organization are read in the id order a page is.
CREATE INDEX affiliations_active_by_organization ON affiliations (tenant_id, organization_id, end_date, person_id);
CREATE INDEX people_by_branch ON people (tenant_id, branch_id, id);
CREATE INDEX affiliations_by_organization_id ON affiliations (tenant_id, organization_id, id);
DROP INDEX IF EXISTS affiliations_by_person;
CREATE INDEX affiliations_by_person ON affiliations (tenant_id, person_id, id);
