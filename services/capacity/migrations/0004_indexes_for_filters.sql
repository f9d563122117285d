-- Lists write only the filters that are set (see markaz_kit::sql::Where),
-- so each filter is a condition a planner can put on an index: these are
-- the indexes, `tenant_id` first, then the filter, then the id a page is
-- ordered by, so a filtered page reads its rows in order and stops at its
-- size. And the activity report's period: completed courses by their last
-- day, consultations by branch and day.
CREATE INDEX enrolments_by_course_id ON enrolments (tenant_id, course_id, id);
DROP INDEX IF EXISTS enrolments_by_organization;
CREATE INDEX enrolments_by_organization ON enrolments (tenant_id, organization_id, id);
CREATE INDEX enrolments_by_status ON enrolments (tenant_id, status, id);
CREATE INDEX certificates_by_course_id ON certificates (tenant_id, course_id, id);
CREATE INDEX certificates_by_person ON certificates (tenant_id, person_id, id);
CREATE INDEX certificates_by_organization ON certificates (tenant_id, organization_id, id);
CREATE INDEX consultations_by_kind ON consultations (tenant_id, kind, id);
CREATE INDEX consultations_by_branch ON consultations (tenant_id, branch_id, held_on);
CREATE INDEX courses_by_kind ON courses (tenant_id, kind, id);
CREATE INDEX courses_by_branch ON courses (tenant_id, branch_id, id);
CREATE INDEX courses_by_end ON courses (tenant_id, status, end_date);
-- Whether (and how often) a participant was present is counted per
-- enrolment on every enrolment read and in the activity report: with the
-- status in the index the count reads the index alone.
DROP INDEX IF EXISTS attendance_by_enrolment;
CREATE INDEX attendance_by_enrolment ON attendance (tenant_id, enrolment_id, status);
