-- Grants: programs and calls, proposals with their submitted versions and
-- coaching notes, reviewers, conflicts of interest, assignments and scores,
-- awards with tranches, reports, expenditure and variations; and the copies
-- of membership's and capacity's facts grants keeps from their events.
--
-- Money is BIGINT minor units next to a TEXT ISO-4217 currency; flags are
-- BIGINT 0/1; dates are TEXT YYYY-MM-DD ('' when not set); instants BIGINT
-- microseconds. Enumerations are stored by their protobuf names. Every table
-- has a tenant_id (row-level security on PostgreSQL is added by the platform).

CREATE TABLE programs (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name_ar TEXT NOT NULL,
    name_en TEXT NOT NULL,
    description_ar TEXT NOT NULL,
    description_en TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE calls (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    title_ar TEXT NOT NULL,
    title_en TEXT NOT NULL,
    description_ar TEXT NOT NULL,
    description_en TEXT NOT NULL,
    currency TEXT NOT NULL,
    envelope_minor BIGINT NOT NULL,
    ceiling_minor BIGINT NOT NULL,
    opens_on TEXT NOT NULL,
    closes_on TEXT NOT NULL,
    -- Eligibility: comma-separated enumeration names / branch slugs, '' = any.
    eligible_statuses TEXT NOT NULL,
    eligible_branches TEXT NOT NULL,
    eligible_kinds TEXT NOT NULL,
    required_topic TEXT NOT NULL,
    max_score BIGINT NOT NULL,
    blind BIGINT NOT NULL,
    state TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, program_id) REFERENCES programs (tenant_id, id)
);
CREATE INDEX calls_by_program ON calls (tenant_id, program_id, id);

CREATE TABLE call_themes (
    tenant_id TEXT NOT NULL,
    call_id TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    code TEXT NOT NULL,
    name_ar TEXT NOT NULL,
    name_en TEXT NOT NULL,
    PRIMARY KEY (tenant_id, call_id, ordinal),
    FOREIGN KEY (tenant_id, call_id) REFERENCES calls (tenant_id, id)
);

CREATE TABLE call_criteria (
    tenant_id TEXT NOT NULL,
    call_id TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    code TEXT NOT NULL,
    name_ar TEXT NOT NULL,
    name_en TEXT NOT NULL,
    guidance_ar TEXT NOT NULL,
    guidance_en TEXT NOT NULL,
    weight BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, call_id, ordinal),
    FOREIGN KEY (tenant_id, call_id) REFERENCES calls (tenant_id, id)
);

CREATE TABLE proposals (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    call_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    state TEXT NOT NULL,
    title_ar TEXT NOT NULL,
    title_en TEXT NOT NULL,
    summary_ar TEXT NOT NULL,
    summary_en TEXT NOT NULL,
    need_ar TEXT NOT NULL,
    need_en TEXT NOT NULL,
    governorate TEXT NOT NULL,
    place_ar TEXT NOT NULL,
    place_en TEXT NOT NULL,
    -- '' until chosen.
    sector TEXT NOT NULL,
    theme_code TEXT NOT NULL,
    target_female BIGINT NOT NULL,
    target_male BIGINT NOT NULL,
    target_undisclosed BIGINT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    -- How many versions were submitted (the number of the last one).
    version_number BIGINT NOT NULL,
    decision_reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    -- Optimistic concurrency (the etag); bumped by every change.
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- 0 before the first submission.
    submitted_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, call_id) REFERENCES calls (tenant_id, id)
);
CREATE INDEX proposals_by_call ON proposals (tenant_id, call_id, id);
CREATE INDEX proposals_by_organization ON proposals (tenant_id, organization_id, id);

CREATE TABLE proposal_lines (
    tenant_id TEXT NOT NULL,
    proposal_id TEXT NOT NULL,
    line_number BIGINT NOT NULL,
    category TEXT NOT NULL,
    description_ar TEXT NOT NULL,
    description_en TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, proposal_id, line_number),
    FOREIGN KEY (tenant_id, proposal_id) REFERENCES proposals (tenant_id, id)
);

CREATE TABLE proposal_milestones (
    tenant_id TEXT NOT NULL,
    proposal_id TEXT NOT NULL,
    number BIGINT NOT NULL,
    title_ar TEXT NOT NULL,
    title_en TEXT NOT NULL,
    due_date TEXT NOT NULL,
    deliverables_ar TEXT NOT NULL,
    deliverables_en TEXT NOT NULL,
    PRIMARY KEY (tenant_id, proposal_id, number),
    FOREIGN KEY (tenant_id, proposal_id) REFERENCES proposals (tenant_id, id)
);

-- Every submitted version, exactly as submitted (an encoded
-- markaz.grants.v1.Proposal), never changed.
CREATE TABLE proposal_versions (
    tenant_id TEXT NOT NULL,
    proposal_id TEXT NOT NULL,
    number BIGINT NOT NULL,
    content {{blob}} NOT NULL,
    submitted_by TEXT NOT NULL,
    submitted_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, proposal_id, number),
    FOREIGN KEY (tenant_id, proposal_id) REFERENCES proposals (tenant_id, id)
);

CREATE TABLE coaching_notes (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    proposal_id TEXT NOT NULL,
    body TEXT NOT NULL,
    author TEXT NOT NULL,
    author_role TEXT NOT NULL,
    version_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, proposal_id) REFERENCES proposals (tenant_id, id)
);
CREATE INDEX coaching_notes_by_proposal ON coaching_notes (tenant_id, proposal_id, id);

CREATE TABLE reviewers (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    -- '' once the person is erased.
    subject TEXT NOT NULL,
    expertise TEXT NOT NULL,
    active BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, person_id)
);
CREATE UNIQUE INDEX reviewers_by_subject ON reviewers (tenant_id, subject) WHERE subject <> '';

-- Declared conflicts of interest: against an organization, or one proposal.
CREATE TABLE conflicts (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    reviewer_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    proposal_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    declared_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, reviewer_id) REFERENCES reviewers (tenant_id, id)
);
CREATE INDEX conflicts_by_reviewer ON conflicts (tenant_id, reviewer_id, id);

CREATE TABLE assignments (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    proposal_id TEXT NOT NULL,
    reviewer_id TEXT NOT NULL,
    call_id TEXT NOT NULL,
    state TEXT NOT NULL,
    recusal_reason TEXT NOT NULL,
    assigned_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, proposal_id, reviewer_id),
    FOREIGN KEY (tenant_id, proposal_id) REFERENCES proposals (tenant_id, id),
    FOREIGN KEY (tenant_id, reviewer_id) REFERENCES reviewers (tenant_id, id)
);
CREATE INDEX assignments_by_reviewer ON assignments (tenant_id, reviewer_id, proposal_id);

CREATE TABLE score_sheets (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    proposal_id TEXT NOT NULL,
    reviewer_id TEXT NOT NULL,
    call_id TEXT NOT NULL,
    comment TEXT NOT NULL,
    weighted_total BIGINT NOT NULL,
    submitted_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, proposal_id, reviewer_id),
    FOREIGN KEY (tenant_id, proposal_id) REFERENCES proposals (tenant_id, id)
);
CREATE INDEX score_sheets_by_call ON score_sheets (tenant_id, call_id);

CREATE TABLE score_items (
    tenant_id TEXT NOT NULL,
    sheet_id TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    criterion_code TEXT NOT NULL,
    score BIGINT NOT NULL,
    comment TEXT NOT NULL,
    PRIMARY KEY (tenant_id, sheet_id, ordinal),
    FOREIGN KEY (tenant_id, sheet_id) REFERENCES score_sheets (tenant_id, id)
);

CREATE TABLE awards (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    proposal_id TEXT NOT NULL,
    call_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    closure_reason TEXT NOT NULL,
    awarded_by TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, proposal_id),
    FOREIGN KEY (tenant_id, proposal_id) REFERENCES proposals (tenant_id, id)
);
CREATE INDEX awards_by_call ON awards (tenant_id, call_id, id);
CREATE INDEX awards_by_organization ON awards (tenant_id, organization_id, id);

-- The budget in force: the approved proposal's, replaced by approved variations.
CREATE TABLE award_lines (
    tenant_id TEXT NOT NULL,
    award_id TEXT NOT NULL,
    line_number BIGINT NOT NULL,
    category TEXT NOT NULL,
    description_ar TEXT NOT NULL,
    description_en TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, award_id, line_number),
    FOREIGN KEY (tenant_id, award_id) REFERENCES awards (tenant_id, id)
);

CREATE TABLE tranches (
    tenant_id TEXT NOT NULL,
    award_id TEXT NOT NULL,
    number BIGINT NOT NULL,
    milestone_number BIGINT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    state TEXT NOT NULL,
    disbursed_on TEXT NOT NULL,
    reference TEXT NOT NULL,
    disbursed_by TEXT NOT NULL,
    PRIMARY KEY (tenant_id, award_id, number),
    FOREIGN KEY (tenant_id, award_id) REFERENCES awards (tenant_id, id)
);

CREATE TABLE reports (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    award_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    milestone_number BIGINT NOT NULL,
    narrative_ar TEXT NOT NULL,
    narrative_en TEXT NOT NULL,
    reached_female BIGINT NOT NULL,
    reached_male BIGINT NOT NULL,
    reached_undisclosed BIGINT NOT NULL,
    state TEXT NOT NULL,
    review_comment TEXT NOT NULL,
    submitted_by TEXT NOT NULL,
    reviewed_by TEXT NOT NULL,
    submitted_at BIGINT NOT NULL,
    reviewed_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, award_id) REFERENCES awards (tenant_id, id)
);
CREATE INDEX reports_by_award ON reports (tenant_id, award_id, id);

CREATE TABLE expenditure_reports (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    award_id TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    state TEXT NOT NULL,
    review_comment TEXT NOT NULL,
    submitted_by TEXT NOT NULL,
    reviewed_by TEXT NOT NULL,
    submitted_at BIGINT NOT NULL,
    reviewed_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, award_id) REFERENCES awards (tenant_id, id)
);
CREATE INDEX expenditure_reports_by_award ON expenditure_reports (tenant_id, award_id, id);

CREATE TABLE expenditure_lines (
    tenant_id TEXT NOT NULL,
    report_id TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    line_number BIGINT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (tenant_id, report_id, ordinal),
    FOREIGN KEY (tenant_id, report_id) REFERENCES expenditure_reports (tenant_id, id)
);

CREATE TABLE variations (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    award_id TEXT NOT NULL,
    justification TEXT NOT NULL,
    new_end_date TEXT NOT NULL,
    state TEXT NOT NULL,
    decision_note TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    decided_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, award_id) REFERENCES awards (tenant_id, id)
);
CREATE INDEX variations_by_award ON variations (tenant_id, award_id, id);

CREATE TABLE variation_lines (
    tenant_id TEXT NOT NULL,
    variation_id TEXT NOT NULL,
    line_number BIGINT NOT NULL,
    category TEXT NOT NULL,
    description_ar TEXT NOT NULL,
    description_en TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, variation_id, line_number),
    FOREIGN KEY (tenant_id, variation_id) REFERENCES variations (tenant_id, id)
);

-- ------------------------------------------------ copies from other services

-- Membership's organizations. The snapshot fields and the incubation status
-- each keep the version they were applied at, so an older event arriving
-- late never takes either back in time.
CREATE TABLE organization_copies (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    identifier TEXT NOT NULL,
    kind TEXT NOT NULL,
    name_ar TEXT NOT NULL,
    name_en TEXT NOT NULL,
    governorate TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    fields_version BIGINT NOT NULL,
    incubation_status TEXT NOT NULL,
    status_version BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Membership's people: a display name (reviewers) and gender. Erased people
-- keep no name.
CREATE TABLE person_copies (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    full_name TEXT NOT NULL,
    gender TEXT NOT NULL,
    erased BIGINT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Membership's affiliations: the source of detected conflicts of interest.
CREATE TABLE affiliation_copies (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    ended BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX affiliation_copies_by_person ON affiliation_copies (tenant_id, person_id, organization_id);

-- Capacity topics a member of an organization completed (from
-- CourseCompleted and CertificateIssued). Organization-level only: no person
-- is recorded.
CREATE TABLE completed_topics (
    tenant_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    topic_code TEXT NOT NULL,
    first_course_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, organization_id, topic_code)
);
