-- Completed course topics that a revoked certificate takes back.
--
-- Capacity issues one certificate per person who completes a course
-- (CourseCompleted lists the same completers) and may revoke it later
-- (CertificateRevoked names the course, the person and the organization,
-- not the topics). So grants keeps each completion by course and person,
-- and the course's topics apart: a topic counts as completed for an
-- organization while it holds at least one completion of a course on that
-- topic that is not revoked. A revocation arriving before the completion it
-- revokes leaves a revoked row, so the late completion does not count.

CREATE TABLE completions (
    tenant_id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    revoked BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, course_id, person_id, organization_id)
);
CREATE INDEX completions_by_organization ON completions (tenant_id, organization_id);

CREATE TABLE course_topics (
    tenant_id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    topic_code TEXT NOT NULL,
    PRIMARY KEY (tenant_id, course_id, topic_code)
);

-- What was kept before: a topic per organization with the first course that
-- completed it, without the person. Each becomes a completion of that course
-- by a person not recorded (''), which no revocation can name. (Migrations
-- see every tenant's rows: the platform lifts row-level security from the
-- owner while they run.)
INSERT INTO completions (tenant_id, course_id, person_id, organization_id, revoked)
SELECT DISTINCT tenant_id, first_course_id, '', organization_id, 0 FROM completed_topics;
INSERT INTO course_topics (tenant_id, course_id, topic_code)
SELECT DISTINCT tenant_id, first_course_id, topic_code FROM completed_topics;
DROP TABLE completed_topics;
