-- The facts the impact service counts, each kept as its producer's events
-- described it. Every write decides by version in one statement (or is
-- keyed by what the event names), so events delivered twice or out of
-- order leave the same rows. Nothing here is read from another service's
-- database; organizations' and people's attributes come from
-- markaz-membership-copies' tables in this same database.

-- A course as capacity last scheduled it (the highest version), and whether
-- it was completed. A completion that arrives before the schedule creates
-- the row at version 0 with what the completion carries.
CREATE TABLE impact_courses (
    tenant_id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    -- capacity's word: workshop, training_course, ...
    kind TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    -- YYYY-MM-DD; a course counts on its last day.
    end_date TEXT NOT NULL,
    session_count BIGINT NOT NULL,
    status TEXT NOT NULL,
    version BIGINT NOT NULL,
    completed BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, course_id)
);
CREATE INDEX impact_courses_completed ON impact_courses (tenant_id, completed, end_date);

-- A course's topics at a version of the course; the course's current
-- version picks its topics, so a newer schedule needs no delete.
CREATE TABLE impact_course_topics (
    tenant_id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    topic TEXT NOT NULL,
    PRIMARY KEY (tenant_id, course_id, version, topic)
);

-- Who attended a completed course (at least one session), with the
-- gender and age band capacity had for them.
CREATE TABLE impact_trainees (
    tenant_id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    gender TEXT NOT NULL,
    age_band TEXT NOT NULL,
    completed BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, course_id, person_id)
);
CREATE INDEX impact_trainees_by_person ON impact_trainees (tenant_id, person_id);

-- A consultation or technical-support session, at its highest version.
CREATE TABLE impact_consultations (
    tenant_id TEXT NOT NULL,
    consultation_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    held_on TEXT NOT NULL,
    attendees_female BIGINT NOT NULL,
    attendees_male BIGINT NOT NULL,
    attendees_undisclosed BIGINT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, consultation_id)
);
CREATE INDEX impact_consultations_by_day ON impact_consultations (tenant_id, held_on);

CREATE TABLE impact_consultation_topics (
    tenant_id TEXT NOT NULL,
    consultation_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    topic TEXT NOT NULL,
    PRIMARY KEY (tenant_id, consultation_id, version, topic)
);

-- Every move of an organization in the incubation program, as membership
-- recorded it: the history, not only where it stands.
CREATE TABLE impact_incubation_moves (
    tenant_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    to_status TEXT NOT NULL,
    changed_on TEXT NOT NULL,
    PRIMARY KEY (tenant_id, organization_id, version)
);
CREATE INDEX impact_incubation_moves_by_day ON impact_incubation_moves (tenant_id, changed_on);

-- A community project funded by a grant award, and how it ended.
CREATE TABLE impact_awards (
    tenant_id TEXT NOT NULL,
    award_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    -- SECTOR_* name.
    sector TEXT NOT NULL,
    -- ORGANIZATION_KIND_* name, as grants had it.
    organization_kind TEXT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    -- The project's start: the day the award counts on. Empty while only
    -- the completion is known.
    awarded_on TEXT NOT NULL,
    -- PROJECT_OUTCOME_* name, empty while it runs.
    outcome TEXT NOT NULL,
    ended_on TEXT NOT NULL,
    spent BIGINT NOT NULL,
    spent_currency TEXT NOT NULL,
    PRIMARY KEY (tenant_id, award_id)
);

-- A tranche paid out.
CREATE TABLE impact_disbursements (
    tenant_id TEXT NOT NULL,
    award_id TEXT NOT NULL,
    tranche_number BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    disbursed_on TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    sector TEXT NOT NULL,
    organization_kind TEXT NOT NULL,
    PRIMARY KEY (tenant_id, award_id, tranche_number)
);

-- How far the figures have come: per producer, the newest event applied.
CREATE TABLE impact_freshness (
    tenant_id TEXT NOT NULL,
    producer TEXT NOT NULL,
    last_event_micros BIGINT NOT NULL,
    applied_micros BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, producer)
);
