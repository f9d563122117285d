-- Networking: the issue catalogue; events with their organizers, staff,
-- issues, decisions; invitations; participants (and every revision of the
-- list); follow-up commitments with their agenda and history; evidence (of
-- commitments and of campaign outcomes); coalitions, their issues and
-- members' periods; campaigns with targets, activities and outcomes; status
-- histories; and the copy of grants' awards. The copies of membership's
-- organizations, people and affiliations come from membership's copies
-- library, with its own migration.
--
-- Every tenant table has `tenant_id` first, in its key and in every index;
-- on PostgreSQL the platform adds row-level security to each. Enumerations
-- are stored by their protobuf names, flags as BIGINT 0/1, instants as
-- microseconds, dates as YYYY-MM-DD ('' when absent), absent references as
-- ''. Ids are UUIDv7: ordered by creation, so keyset pages follow it.

-- ------------------------------------------------------------------ issues

CREATE TABLE issues (
    tenant_id TEXT NOT NULL,
    code TEXT NOT NULL,
    name_ar TEXT NOT NULL,
    name_en TEXT NOT NULL,
    description_ar TEXT NOT NULL,
    description_en TEXT NOT NULL,
    archived BIGINT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, code)
);

-- ------------------------------------------------------------------ events

CREATE TABLE events (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    title_ar TEXT NOT NULL,
    title_en TEXT NOT NULL,
    purpose_ar TEXT NOT NULL,
    purpose_en TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    venue TEXT NOT NULL,
    start_at BIGINT NOT NULL,
    end_at BIGINT NOT NULL,
    utc_offset_minutes BIGINT NOT NULL,
    -- The local day of `start_at`: the day figures count the event on.
    held_on TEXT NOT NULL,
    coalition_id TEXT NOT NULL,
    status TEXT NOT NULL,
    minutes_ar TEXT NOT NULL,
    minutes_en TEXT NOT NULL,
    outcome_recorded_by TEXT NOT NULL,
    outcome_recorded_at BIGINT,
    -- The version of the last EventHeld published (0 before it was held):
    -- a later correction of the attendance publishes the next one.
    held_version BIGINT NOT NULL,
    version BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX events_by_day ON events (tenant_id, held_on, id);
CREATE INDEX events_by_status ON events (tenant_id, status, held_on);
CREATE INDEX events_by_branch ON events (tenant_id, branch_id, held_on);
CREATE INDEX events_by_coalition ON events (tenant_id, coalition_id, held_on);

CREATE TABLE event_organizers (
    tenant_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, event_id, organization_id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id)
);
CREATE INDEX event_organizers_by_organization ON event_organizers (tenant_id, organization_id, event_id);

CREATE TABLE event_staff (
    tenant_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    name TEXT NOT NULL,
    subject TEXT NOT NULL,
    PRIMARY KEY (tenant_id, event_id, ordinal),
    FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id)
);
CREATE INDEX event_staff_by_subject ON event_staff (tenant_id, subject, event_id);

CREATE TABLE event_issues (
    tenant_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    issue_code TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, event_id, issue_code),
    FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id)
);
CREATE INDEX event_issues_by_issue ON event_issues (tenant_id, issue_code, event_id);

CREATE TABLE event_decisions (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    text_ar TEXT NOT NULL,
    text_en TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id)
);
CREATE INDEX event_decisions_by_event ON event_decisions (tenant_id, event_id, ordinal);

-- Every status change of an event, a coalition or a campaign, oldest
-- first by id; never updated.
CREATE TABLE status_changes (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    -- 'event', 'coalition' or 'campaign'.
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    -- The day it took effect (a coalition's may lie before it was recorded).
    effective_on TEXT NOT NULL,
    reason TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX status_changes_by_subject ON status_changes (tenant_id, subject_kind, subject_id, id);

-- ------------------------------------------------------------- invitations

CREATE TABLE invitations (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    -- 'organization:<id>', 'person:<id>' or, for a guest, 'guest:<this id>':
    -- an organization or person is invited once per event.
    invitee_key TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    -- A guest's: emptied (name and affiliation) when the guest is forgotten.
    guest_name TEXT NOT NULL,
    guest_affiliation TEXT NOT NULL,
    guest_gender TEXT NOT NULL,
    category TEXT NOT NULL,
    status TEXT NOT NULL,
    note TEXT NOT NULL,
    invited_by TEXT NOT NULL,
    replied_at BIGINT,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, event_id, invitee_key),
    FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id)
);
CREATE INDEX invitations_by_event ON invitations (tenant_id, event_id, status, id);
CREATE INDEX invitations_by_organization ON invitations (tenant_id, organization_id, event_id);
CREATE INDEX invitations_by_person ON invitations (tenant_id, person_id, event_id);

-- ------------------------------------------------------------ participants

-- The event's list: one row per participant key. Gender and age band are
-- those declared when the participant was first checked in, so figures do
-- not move when membership's record changes later.
CREATE TABLE participants (
    tenant_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    -- 'person:<id>', 'guest:<invitation id>' or 'walk-in:<device key>'.
    participant_key TEXT NOT NULL,
    -- UUIDv7 of the first check-in: the list's order.
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    person_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    invitation_id TEXT NOT NULL,
    category TEXT NOT NULL,
    gender TEXT NOT NULL,
    age_band TEXT NOT NULL,
    -- 1, or the people of a walk-in entry.
    head_count BIGINT NOT NULL,
    checked_in_by TEXT NOT NULL,
    checked_in_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, event_id, participant_key),
    FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id)
);
CREATE INDEX participants_in_order ON participants (tenant_id, event_id, id);
CREATE INDEX participants_by_person ON participants (tenant_id, person_id, event_id);
CREATE INDEX participants_by_organization ON participants (tenant_id, organization_id, event_id);

-- Every change of the list: check-ins, corrections and removals; never
-- updated.
CREATE TABLE participant_revisions (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    participant_key TEXT NOT NULL,
    -- 'added', 'corrected' or 'removed'.
    effect TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    category TEXT NOT NULL,
    gender TEXT NOT NULL,
    head_count BIGINT NOT NULL,
    reason TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX participant_revisions_by_event ON participant_revisions (tenant_id, event_id, participant_key, id);

-- ------------------------------------------------------------- commitments

CREATE TABLE commitments (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    -- The event where it was made, and that event's branch and day.
    event_id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    made_on TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    description_ar TEXT NOT NULL,
    description_en TEXT NOT NULL,
    owner_kind TEXT NOT NULL,
    owner_organization_id TEXT NOT NULL,
    owner_person_id TEXT NOT NULL,
    due_date TEXT NOT NULL,
    status TEXT NOT NULL,
    -- The day it was fulfilled or dropped.
    closed_on TEXT NOT NULL,
    note TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id)
);
CREATE INDEX commitments_by_event ON commitments (tenant_id, event_id, due_date);
CREATE INDEX commitments_by_status ON commitments (tenant_id, status, due_date, id);
CREATE INDEX commitments_by_owner_organization ON commitments (tenant_id, owner_organization_id, status, due_date);
CREATE INDEX commitments_by_owner_person ON commitments (tenant_id, owner_person_id, status, due_date);
CREATE INDEX commitments_by_day ON commitments (tenant_id, made_on);

-- The later meetings a commitment was carried into, in order.
CREATE TABLE commitment_agenda (
    tenant_id TEXT NOT NULL,
    commitment_id TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, commitment_id, ordinal),
    UNIQUE (tenant_id, commitment_id, event_id),
    FOREIGN KEY (tenant_id, commitment_id) REFERENCES commitments (tenant_id, id)
);
CREATE INDEX commitment_agenda_by_event ON commitment_agenda (tenant_id, event_id, commitment_id);

-- Every change of a commitment, oldest first by id; never updated.
CREATE TABLE commitment_history (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    commitment_id TEXT NOT NULL,
    change_kind TEXT NOT NULL,
    status TEXT NOT NULL,
    due_date TEXT NOT NULL,
    -- The event it was carried into.
    event_id TEXT NOT NULL,
    note TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, commitment_id) REFERENCES commitments (tenant_id, id)
);
CREATE INDEX commitment_history_by_commitment ON commitment_history (tenant_id, commitment_id, id);

-- Evidence of a fulfilled commitment or of a campaign outcome.
CREATE TABLE evidence (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    -- 'commitment' or 'campaign_outcome'.
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    description_ar TEXT NOT NULL,
    description_en TEXT NOT NULL,
    url TEXT NOT NULL,
    library_item_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX evidence_by_subject ON evidence (tenant_id, subject_kind, subject_id, ordinal);

-- -------------------------------------------------------------- coalitions

CREATE TABLE coalitions (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name_ar TEXT NOT NULL,
    name_en TEXT NOT NULL,
    charter_ar TEXT NOT NULL,
    charter_en TEXT NOT NULL,
    lead_organization_id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    formed_on TEXT NOT NULL,
    status TEXT NOT NULL,
    -- The day of the last status change (formed_on at first).
    status_since TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX coalitions_by_status ON coalitions (tenant_id, status, id);
CREATE INDEX coalitions_by_branch ON coalitions (tenant_id, branch_id, id);
CREATE INDEX coalitions_by_lead ON coalitions (tenant_id, lead_organization_id);

CREATE TABLE coalition_issues (
    tenant_id TEXT NOT NULL,
    coalition_id TEXT NOT NULL,
    issue_code TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, coalition_id, issue_code),
    FOREIGN KEY (tenant_id, coalition_id) REFERENCES coalitions (tenant_id, id)
);
CREATE INDEX coalition_issues_by_issue ON coalition_issues (tenant_id, issue_code, coalition_id);

-- One row per organization that was ever a member; `active` 1 while its
-- last period is open. `version` grows with every join and departure.
CREATE TABLE coalition_members (
    tenant_id TEXT NOT NULL,
    coalition_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    active BIGINT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, coalition_id, organization_id),
    FOREIGN KEY (tenant_id, coalition_id) REFERENCES coalitions (tenant_id, id)
);
CREATE INDEX coalition_members_by_organization ON coalition_members (tenant_id, organization_id, active, coalition_id);

-- Each period of membership: [joined_on, left_on), left_on '' while open.
CREATE TABLE coalition_member_periods (
    tenant_id TEXT NOT NULL,
    coalition_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    period_number BIGINT NOT NULL,
    joined_on TEXT NOT NULL,
    left_on TEXT NOT NULL,
    leave_reason TEXT NOT NULL,
    joined_by TEXT NOT NULL,
    left_by TEXT NOT NULL,
    PRIMARY KEY (tenant_id, coalition_id, organization_id, period_number),
    FOREIGN KEY (tenant_id, coalition_id, organization_id)
        REFERENCES coalition_members (tenant_id, coalition_id, organization_id)
);
CREATE INDEX coalition_member_periods_by_day ON coalition_member_periods (tenant_id, coalition_id, joined_on);

-- --------------------------------------------------------------- campaigns

CREATE TABLE campaigns (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    title_ar TEXT NOT NULL,
    title_en TEXT NOT NULL,
    issue_code TEXT NOT NULL,
    objective_ar TEXT NOT NULL,
    objective_en TEXT NOT NULL,
    -- Exactly one of the two is set.
    coalition_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    grant_award_id TEXT NOT NULL,
    status TEXT NOT NULL,
    launched_on TEXT NOT NULL,
    closed_on TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX campaigns_by_status ON campaigns (tenant_id, status, id);
CREATE INDEX campaigns_by_issue ON campaigns (tenant_id, issue_code, status);
CREATE INDEX campaigns_by_coalition ON campaigns (tenant_id, coalition_id);
CREATE INDEX campaigns_by_organization ON campaigns (tenant_id, organization_id);
CREATE INDEX campaigns_by_branch ON campaigns (tenant_id, branch_id);
CREATE INDEX campaigns_by_award ON campaigns (tenant_id, grant_award_id);

CREATE TABLE campaign_targets (
    tenant_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    kind TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    description_ar TEXT NOT NULL,
    description_en TEXT NOT NULL,
    PRIMARY KEY (tenant_id, campaign_id, ordinal),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns (tenant_id, id)
);
CREATE INDEX campaign_targets_by_organization ON campaign_targets (tenant_id, organization_id);

CREATE TABLE campaign_activities (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    activity_date TEXT NOT NULL,
    description_ar TEXT NOT NULL,
    description_en TEXT NOT NULL,
    event_id TEXT NOT NULL,
    people_reached BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns (tenant_id, id)
);
CREATE INDEX campaign_activities_by_campaign ON campaign_activities (tenant_id, campaign_id, activity_date);
CREATE INDEX campaign_activities_by_event ON campaign_activities (tenant_id, event_id);

CREATE TABLE campaign_outcomes (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    description_ar TEXT NOT NULL,
    description_en TEXT NOT NULL,
    achieved_on TEXT NOT NULL,
    target_organization_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    recorded_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns (tenant_id, id)
);
CREATE INDEX campaign_outcomes_by_campaign ON campaign_outcomes (tenant_id, campaign_id, achieved_on);

-- ------------------------------------------------------- copies of grants

-- Grant awards, from grants' GrantAwarded (and ProjectCompleted for the
-- outcome): to link campaigns to the grant that funded them and to suggest
-- awardees for a showcase event.
CREATE TABLE grant_awards (
    tenant_id TEXT NOT NULL,
    award_id TEXT NOT NULL,
    call_id TEXT NOT NULL,
    proposal_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    -- The protobuf name of grants' ProjectOutcome, '' while the project runs.
    outcome TEXT NOT NULL,
    awarded_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, award_id)
);
CREATE INDEX grant_awards_by_call ON grant_awards (tenant_id, call_id, awarded_at);
CREATE INDEX grant_awards_by_organization ON grant_awards (tenant_id, organization_id);
