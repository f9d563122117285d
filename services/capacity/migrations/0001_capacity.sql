-- Capacity building: the topic catalogue, courses and their sessions and
-- trainers, enrolments, attendance (current marks and every revision),
-- certificates, consultations with their attendees and follow-up actions,
-- training suggestions; and the copies of membership's organizations,
-- people, affiliations and latest assessments. Every tenant table has a
-- `tenant_id`; on PostgreSQL the platform adds row-level security to each.
-- Enumerations are stored by their protobuf names, flags as BIGINT 0/1,
-- instants as microseconds, dates as YYYY-MM-DD ('' when absent).

-- Tenants this service has heard of (from membership's events or from its
-- staff): public suggestions are taken for these only.
CREATE TABLE known_tenants (
    tenant_id TEXT PRIMARY KEY,
    seen_at BIGINT NOT NULL
);

-- ------------------------------------------------ copies of membership's data

-- `complete` is 0 while only an incubation change is known (the snapshot
-- that names the organization has not arrived yet).
CREATE TABLE organizations (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name_ar TEXT NOT NULL,
    name_en TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    incubation_status TEXT NOT NULL,
    version BIGINT NOT NULL,
    complete BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- An erased person keeps gender and age band, nothing else.
CREATE TABLE people (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    full_name TEXT NOT NULL,
    gender TEXT NOT NULL,
    age_band TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    erased BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE affiliations (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    ended BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX affiliations_by_person ON affiliations (tenant_id, person_id, organization_id);

-- The latest assessment of each organization: `scores` is
-- "CAPACITY_DOMAIN_X:3,CAPACITY_DOMAIN_Y:1,...".
CREATE TABLE assessments (
    tenant_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    assessment_id TEXT NOT NULL,
    assessed_on TEXT NOT NULL,
    scores TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, organization_id)
);

-- ------------------------------------------------------------------- topics

CREATE TABLE topics (
    tenant_id TEXT NOT NULL,
    code TEXT NOT NULL,
    name_ar TEXT NOT NULL,
    name_en TEXT NOT NULL,
    description_ar TEXT NOT NULL,
    description_en TEXT NOT NULL,
    -- Comma-separated CapacityDomain names.
    capacity_domains TEXT NOT NULL,
    built_in BIGINT NOT NULL,
    archived BIGINT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, code)
);

-- ------------------------------------------------------------------ courses

CREATE TABLE courses (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    title_ar TEXT NOT NULL,
    title_en TEXT NOT NULL,
    description_ar TEXT NOT NULL,
    description_en TEXT NOT NULL,
    -- ",code1,code2," in the order given, so `LIKE '%,code,%'` finds a topic.
    topic_codes TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    venue TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    capacity BIGINT NOT NULL,
    audience TEXT NOT NULL,
    status TEXT NOT NULL,
    min_attendance_percent BIGINT NOT NULL,
    min_post_test_score BIGINT NOT NULL,
    cancel_reason TEXT NOT NULL,
    -- Bumped by every write that must be serialized on the course
    -- (enrolments, attendance, scores): the UPDATE takes the row lock. Its
    -- value also orders the waiting list.
    serial BIGINT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX courses_by_status ON courses (tenant_id, status, id);
CREATE INDEX courses_by_start ON courses (tenant_id, start_date);

CREATE TABLE course_sessions (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    number BIGINT NOT NULL,
    session_date TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, course_id) REFERENCES courses (tenant_id, id)
);
CREATE INDEX course_sessions_by_course ON course_sessions (tenant_id, course_id, number);

CREATE TABLE course_trainers (
    tenant_id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    name TEXT NOT NULL,
    subject TEXT NOT NULL,
    external BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, course_id, ordinal),
    FOREIGN KEY (tenant_id, course_id) REFERENCES courses (tenant_id, id)
);
CREATE INDEX course_trainers_by_subject ON course_trainers (tenant_id, subject, course_id);

-- Gender and age band are those declared when the person enrolled, so a
-- course's figures do not move when the person's later change.
CREATE TABLE enrolments (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    status TEXT NOT NULL,
    queue_seq BIGINT NOT NULL,
    gender TEXT NOT NULL,
    age_band TEXT NOT NULL,
    completed BIGINT NOT NULL,
    pre_score BIGINT,
    post_score BIGINT,
    cancel_reason TEXT NOT NULL,
    enrolled_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, course_id) REFERENCES courses (tenant_id, id)
);
CREATE INDEX enrolments_by_course ON enrolments (tenant_id, course_id, status, queue_seq);
CREATE INDEX enrolments_by_person ON enrolments (tenant_id, person_id);
CREATE INDEX enrolments_by_organization ON enrolments (tenant_id, organization_id);

-- The current mark of each participant at each session.
CREATE TABLE attendance (
    tenant_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    enrolment_id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    status TEXT NOT NULL,
    note TEXT NOT NULL,
    revision BIGINT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, session_id, enrolment_id)
);
CREATE INDEX attendance_by_enrolment ON attendance (tenant_id, enrolment_id);
CREATE INDEX attendance_by_course ON attendance (tenant_id, course_id);

-- Every mark ever recorded, corrections included; never updated.
CREATE TABLE attendance_revisions (
    tenant_id TEXT NOT NULL,
    -- UUIDv7: revisions list in the order they were recorded.
    id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    enrolment_id TEXT NOT NULL,
    revision BIGINT NOT NULL,
    course_id TEXT NOT NULL,
    status TEXT NOT NULL,
    note TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, session_id, enrolment_id, revision)
);
CREATE INDEX attendance_revisions_by_session ON attendance_revisions (tenant_id, session_id, id);

CREATE TABLE certificates (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    code TEXT NOT NULL,
    course_id TEXT NOT NULL,
    enrolment_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    attendance_percent BIGINT NOT NULL,
    issued_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoke_reason TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);
CREATE INDEX certificates_by_course ON certificates (tenant_id, course_id);
CREATE INDEX certificates_by_enrolment ON certificates (tenant_id, enrolment_id);

-- ------------------------------------------------------------ consultations

CREATE TABLE consultations (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    topic_codes TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    advisor_name TEXT NOT NULL,
    advisor_kind TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    held_on TEXT NOT NULL,
    duration_minutes BIGINT NOT NULL,
    notes TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX consultations_by_organization ON consultations (tenant_id, organization_id, id);
CREATE INDEX consultations_by_date ON consultations (tenant_id, held_on);

-- Gender and age band as declared when the consultation was recorded.
CREATE TABLE consultation_attendees (
    tenant_id TEXT NOT NULL,
    consultation_id TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    person_id TEXT NOT NULL,
    gender TEXT NOT NULL,
    age_band TEXT NOT NULL,
    PRIMARY KEY (tenant_id, consultation_id, ordinal),
    FOREIGN KEY (tenant_id, consultation_id) REFERENCES consultations (tenant_id, id)
);
CREATE INDEX consultation_attendees_by_person ON consultation_attendees (tenant_id, person_id);

CREATE TABLE follow_up_actions (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    consultation_id TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    description TEXT NOT NULL,
    owner TEXT NOT NULL,
    due_date TEXT NOT NULL,
    done_on TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, consultation_id) REFERENCES consultations (tenant_id, id)
);
CREATE INDEX follow_up_actions_by_consultation ON follow_up_actions (tenant_id, consultation_id, ordinal);

-- ----------------------------------------------------- training suggestions

-- Nothing about the sender is kept beyond what they chose to give.
CREATE TABLE suggestions (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    topic_codes TEXT NOT NULL,
    suggested_by TEXT NOT NULL,
    contact TEXT NOT NULL,
    status TEXT NOT NULL,
    triage_note TEXT NOT NULL,
    triaged_by TEXT NOT NULL,
    course_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX suggestions_by_status ON suggestions (tenant_id, status, id);
