-- The activity report counts the participants of a period's completed
-- courses by kind, gender, presence and completion. Counted from the
-- enrolments, that was a probe of the attendance for every participant:
-- 10,000 a tenant after five years, half a second on SQLite, and growing
-- with the period. A completed course is closed: its fields, its
-- enrolments and its attendance can no longer change (`check_course_update`,
-- the enrolment and attendance rules). So its figures are counted once,
-- from the same records, in the transaction that completes it
-- (`store::reports::count_course`), and the report adds up a few rows per
-- course. `attended` and `completed` are 0 or 1.
CREATE TABLE course_figures (
    tenant_id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    end_date TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    gender TEXT NOT NULL,
    attended BIGINT NOT NULL,
    completed BIGINT NOT NULL,
    people BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, course_id, gender, attended, completed)
);
-- A period, and one branch's period; the counted columns ride along, so
-- the report is read from the index alone.
CREATE INDEX course_figures_by_end ON course_figures
    (tenant_id, end_date, branch_id, kind, gender, attended, completed, people);
CREATE INDEX course_figures_by_branch ON course_figures
    (tenant_id, branch_id, end_date, kind, gender, attended, completed, people);
-- The certificates in force of the period's courses: issued only when a
-- course completes, so found from the period's completed courses, one
-- probe per course that the index answers alone, instead of a walk of every
-- certificate of the tenant (10,000 after five years: 14 ms on SQLite, 0.1
-- ms for a year). Not a partial index (`WHERE revoked_at IS NULL`):
-- PostgreSQL, with no statistics yet, took such an index for the
-- enrolments' certificate lookup and walked the tenant's certificates for
-- each enrolment of a page.
CREATE INDEX certificates_by_course_revoked ON certificates (tenant_id, course_id, revoked_at);
-- The courses completed before this migration, counted as the report
-- counted them.
INSERT INTO course_figures
    (tenant_id, course_id, end_date, branch_id, kind, gender, attended, completed, people)
SELECT tenant_id, course_id, end_date, branch_id, kind, gender, attended, completed, COUNT(*)
FROM (
    SELECT c.tenant_id, c.id AS course_id, c.end_date, c.branch_id, c.kind, e.gender,
        e.completed,
        CAST(CASE WHEN EXISTS (SELECT 1 FROM attendance a
            WHERE a.tenant_id = e.tenant_id AND a.enrolment_id = e.id
              AND a.status = 'ATTENDANCE_STATUS_PRESENT') THEN 1 ELSE 0 END AS BIGINT) AS attended
    FROM enrolments e
    JOIN courses c ON c.tenant_id = e.tenant_id AND c.id = e.course_id
    WHERE c.status = 'COURSE_STATUS_COMPLETED' AND e.status = 'ENROLMENT_STATUS_ENROLLED'
) x
GROUP BY tenant_id, course_id, end_date, branch_id, kind, gender, attended, completed;
