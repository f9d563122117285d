-- The facts the impact service counts, each kept as its producers' events
-- described it. Every write decides by version in one statement (or is
-- keyed by what the event names), so events delivered twice or out of
-- order leave the same rows. Nothing here is read from another service's
-- database; organizations' and people's attributes come from
-- markaz-membership-copies' tables in this same database.
--
-- Every fact row belongs to a generation of its family of tables. The
-- figures read the family's current generation; a rebuild (`markaz impact
-- rebuild`) fills a new one from the event history while the consumer
-- writes every event to both, then makes it current in one transaction.

-- The generations of each family: one 'current', at most one 'building',
-- and 'retired' ones whose rows are being deleted. Not tenant data: a
-- rebuild is of the whole deployment.
CREATE TABLE impact_generations (
    family TEXT NOT NULL,
    generation BIGINT NOT NULL,
    -- current, building, retired
    state TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    PRIMARY KEY (family, generation)
);
INSERT INTO impact_generations (family, generation, state, started_at, finished_at) VALUES
    ('courses', 1, 'current', 0, 0),
    ('consultations', 1, 'current', 0, 0),
    ('incubation', 1, 'current', 0, 0),
    ('grants', 1, 'current', 0, 0),
    ('networking', 1, 'current', 0, 0),
    ('library', 1, 'current', 0, 0),
    ('space', 1, 'current', 0, 0);

-- A course as capacity last scheduled it (the highest version), and whether
-- it was completed. A completion that arrives before the schedule creates
-- the row at version 0 with what the completion carries.
CREATE TABLE impact_courses (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
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
    PRIMARY KEY (tenant_id, generation, course_id)
);
CREATE INDEX impact_courses_completed ON impact_courses (tenant_id, generation, completed, end_date);

-- A course's topics at a version of the course; the course's current
-- version picks its topics, so a newer schedule needs no delete.
CREATE TABLE impact_course_topics (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    course_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    topic TEXT NOT NULL,
    PRIMARY KEY (tenant_id, generation, course_id, version, topic)
);

-- Who attended a completed course (at least one session), with the
-- gender and age band capacity had for them.
CREATE TABLE impact_trainees (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    course_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    gender TEXT NOT NULL,
    age_band TEXT NOT NULL,
    completed BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, generation, course_id, person_id)
);
CREATE INDEX impact_trainees_by_person ON impact_trainees (tenant_id, generation, person_id);

-- A consultation or technical-support session, at its highest version.
CREATE TABLE impact_consultations (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    consultation_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    held_on TEXT NOT NULL,
    attendees_female BIGINT NOT NULL,
    attendees_male BIGINT NOT NULL,
    attendees_undisclosed BIGINT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, generation, consultation_id)
);
CREATE INDEX impact_consultations_by_day ON impact_consultations (tenant_id, generation, held_on);

CREATE TABLE impact_consultation_topics (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    consultation_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    topic TEXT NOT NULL,
    PRIMARY KEY (tenant_id, generation, consultation_id, version, topic)
);

-- Who attended a consultation, at a version of it.
CREATE TABLE impact_consultation_attendees (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    consultation_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    person_id TEXT NOT NULL,
    gender TEXT NOT NULL,
    PRIMARY KEY (tenant_id, generation, consultation_id, version, person_id)
);

-- Every move of an organization in the incubation program, as membership
-- recorded it: the history, not only where it stands.
CREATE TABLE impact_incubation_moves (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    organization_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    to_status TEXT NOT NULL,
    changed_on TEXT NOT NULL,
    PRIMARY KEY (tenant_id, generation, organization_id, version)
);
CREATE INDEX impact_incubation_moves_by_day ON impact_incubation_moves (tenant_id, generation, changed_on);

-- A community project funded by a grant award, and how it ended.
CREATE TABLE impact_awards (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
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
    PRIMARY KEY (tenant_id, generation, award_id)
);

-- A tranche paid out.
CREATE TABLE impact_disbursements (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    award_id TEXT NOT NULL,
    tranche_number BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    disbursed_on TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    sector TEXT NOT NULL,
    organization_kind TEXT NOT NULL,
    PRIMARY KEY (tenant_id, generation, award_id, tranche_number)
);

-- Family networking: events held (highest version), their participants by
-- category and gender (everyone checked in, guests included) and the known
-- people among them, each at a version of the event.
CREATE TABLE impact_events_held (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    held_on TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, generation, event_id)
);
CREATE TABLE impact_event_participants (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    category TEXT NOT NULL,
    gender TEXT NOT NULL,
    participants BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, generation, event_id, version, category, gender)
);
CREATE TABLE impact_event_attendees (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    person_id TEXT NOT NULL,
    category TEXT NOT NULL,
    gender TEXT NOT NULL,
    age_band TEXT NOT NULL,
    PRIMARY KEY (tenant_id, generation, event_id, version, person_id)
);
CREATE TABLE impact_coalitions (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    coalition_id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    formed_on TEXT NOT NULL,
    status TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, generation, coalition_id)
);
-- A membership period of an organization in a coalition.
CREATE TABLE impact_coalition_members (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    coalition_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    period_number BIGINT NOT NULL,
    organization_kind TEXT NOT NULL,
    joined_on TEXT NOT NULL,
    left_on TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, generation, coalition_id, organization_id, period_number)
);
CREATE TABLE impact_campaigns (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    campaign_id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    issue_code TEXT NOT NULL,
    status TEXT NOT NULL,
    -- Empty until launched.
    launched_on TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, generation, campaign_id)
);

-- Family library: items (highest version) with their topics per version,
-- and downloads per item and month (the highest running total seen).
CREATE TABLE impact_library_items (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    item_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    language TEXT NOT NULL,
    published_on TEXT NOT NULL,
    withdrawn BIGINT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, generation, item_id)
);
CREATE TABLE impact_library_topics (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    item_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    topic TEXT NOT NULL,
    PRIMARY KEY (tenant_id, generation, item_id, version, topic)
);
CREATE TABLE impact_downloads (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    item_id TEXT NOT NULL,
    -- YYYY-MM
    month TEXT NOT NULL,
    downloads BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, generation, item_id, month)
);

-- Family space: bookings of the co-working space (highest version).
CREATE TABLE impact_bookings (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    booking_id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    space_kind TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    starts_on TEXT NOT NULL,
    -- confirmed, checked_in, no_show, cancelled
    status TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, generation, booking_id)
);

-- How far the figures have come: per producer, the newest event applied.
CREATE TABLE impact_freshness (
    tenant_id TEXT NOT NULL,
    producer TEXT NOT NULL,
    last_event_micros BIGINT NOT NULL,
    applied_micros BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, producer)
);

--! postgres
-- A rebuild deletes a retired generation's rows for every tenant at once, in
-- a transaction that names no tenant; these policies let a transaction that
-- says it retires a generation (`markaz.rebuild` = 'retire', set locally by
-- the rebuild alone) read and delete the facts — neither insert nor update.
CREATE POLICY impact_retire_read ON impact_courses FOR SELECT
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_delete ON impact_courses FOR DELETE
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_read ON impact_course_topics FOR SELECT
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_delete ON impact_course_topics FOR DELETE
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_read ON impact_trainees FOR SELECT
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_delete ON impact_trainees FOR DELETE
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_read ON impact_consultation_attendees FOR SELECT
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_delete ON impact_consultation_attendees FOR DELETE
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_read ON impact_consultations FOR SELECT
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_delete ON impact_consultations FOR DELETE
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_read ON impact_consultation_topics FOR SELECT
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_delete ON impact_consultation_topics FOR DELETE
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_read ON impact_incubation_moves FOR SELECT
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_delete ON impact_incubation_moves FOR DELETE
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_read ON impact_awards FOR SELECT
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_delete ON impact_awards FOR DELETE
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_read ON impact_disbursements FOR SELECT
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_delete ON impact_disbursements FOR DELETE
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_read ON impact_events_held FOR SELECT
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_delete ON impact_events_held FOR DELETE
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_read ON impact_event_participants FOR SELECT
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_delete ON impact_event_participants FOR DELETE
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_read ON impact_event_attendees FOR SELECT
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_delete ON impact_event_attendees FOR DELETE
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_read ON impact_coalitions FOR SELECT
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_delete ON impact_coalitions FOR DELETE
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_read ON impact_coalition_members FOR SELECT
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_delete ON impact_coalition_members FOR DELETE
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_read ON impact_campaigns FOR SELECT
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_delete ON impact_campaigns FOR DELETE
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_read ON impact_library_items FOR SELECT
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_delete ON impact_library_items FOR DELETE
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_read ON impact_library_topics FOR SELECT
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_delete ON impact_library_topics FOR DELETE
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_read ON impact_downloads FOR SELECT
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_delete ON impact_downloads FOR DELETE
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_read ON impact_bookings FOR SELECT
    USING (current_setting('markaz.rebuild', true) = 'retire');
CREATE POLICY impact_retire_delete ON impact_bookings FOR DELETE
    USING (current_setting('markaz.rebuild', true) = 'retire');
--! all
