//! The workshops and courses, and the consultation and technical-support
//! sessions, with who attends them.

use super::*;

// ----------------------------------------------------------------- courses

#[derive(Debug, Clone)]
pub struct Course {
    pub key: String,
    pub kind: CourseKind,
    pub title_ar: String,
    pub title_en: String,
    pub topic: &'static str,
    pub branch: usize,
    pub first_day: Date,
    pub days: i64,
    /// Indices into [`people`].
    pub participants: Vec<usize>,
}

fn topic_name(code: &str) -> (&'static str, &'static str) {
    match code {
        "strategic-planning" => ("التخطيط الإستراتيجي", "strategic planning"),
        "project-management" => ("إدارة المشاريع التنموية", "development-project management"),
        "monitoring-evaluation" => ("المتابعة والتقييم", "monitoring and evaluation"),
        "financial-management" => ("الإدارة المالية", "financial management"),
        "human-resources" => ("إدارة الموارد البشرية", "human-resources management"),
        "operational-planning" => ("التخطيط التشغيلي", "operational planning"),
        "proposal-writing" => ("كتابة وتطوير مقترحات المشاريع", "proposal writing"),
        _ => ("الحشد والمناصرة", "mobilisation and advocacy"),
    }
}

/// Arabic-Indic digits, for numbering titles.
fn arabic_number(n: usize) -> String {
    n.to_string()
        .chars()
        .map(|c| char::from_u32(0x0660 + c.to_digit(10).unwrap_or(0)).unwrap_or(c))
        .collect()
}

/// Sizes of the workshops of a branch after its advocacy ones: 102 and 115
/// people in 7 and 8 workshops.
fn sizes(people: usize, workshops: usize) -> Vec<usize> {
    (0..workshops)
        .map(|w| people / workshops + usize::from(w < people % workshops))
        .collect()
}

/// The 18 four-day workshops (9 per branch, 2 + 1 on advocacy with 13
/// trainees each; every trainee in one) and the 26 three-day management
/// courses (13 per branch, 4 trainees of the workshops each).
pub fn courses(cal: &Calendar) -> Vec<Course> {
    let half = TRAINEES / 2;
    let mut out = Vec::new();
    let mut workshop_no = 0;
    for branch in 0..2 {
        let base = branch * half;
        let advocacy = if branch == 0 { 2 } else { 1 };
        let mut next = 0;
        let mut groups: Vec<(&'static str, usize)> =
            (0..advocacy).map(|_| (ADVOCACY, 13)).collect();
        let rest = half - 13 * advocacy;
        for (w, size) in sizes(rest, 9 - advocacy).into_iter().enumerate() {
            groups.push((MANAGEMENT[(w + branch * 3) % MANAGEMENT.len()], size));
        }
        for (topic, size) in groups {
            workshop_no += 1;
            let (ar, en) = topic_name(topic);
            out.push(Course {
                key: format!("workshop-{workshop_no:02}"),
                kind: CourseKind::Workshop,
                title_ar: format!("ورشة عمل {ar} ({})", arabic_number(workshop_no)),
                title_en: format!("Workshop on {en} ({workshop_no})"),
                topic,
                branch,
                first_day: cal.spread(workshop_no - 1, 18, WORKSHOP_DAYS),
                days: WORKSHOP_DAYS,
                participants: (next..next + size).map(|i| base + i).collect(),
            });
            next += size;
        }
    }
    for branch in 0..2 {
        for k in 0..13 {
            let n = branch * 13 + k + 1;
            let topic = MANAGEMENT[(n - 1) % MANAGEMENT.len()];
            let (ar, en) = topic_name(topic);
            out.push(Course {
                key: format!("course-{n:02}"),
                kind: CourseKind::TrainingCourse,
                title_ar: format!("دورة تدريبية في {ar} ({})", arabic_number(n)),
                title_en: format!("Training course in {en} ({n})"),
                topic,
                branch,
                first_day: cal.spread(n - 1, 26, COURSE_DAYS),
                days: COURSE_DAYS,
                // Distinct within a branch: 5 and 128 are coprime.
                participants: (0..4)
                    .map(|j| branch * half + (k * 4 + j) * 5 % half)
                    .collect(),
            });
        }
    }
    out
}

/// Whether participant `j` of course `k` missed session `s`: now and then,
/// never more than one session of a course.
pub fn absent(course: usize, participant: usize, session: usize) -> bool {
    (course + participant + session).is_multiple_of(9)
}

// ----------------------------------------------------------- consultations

#[derive(Debug, Clone)]
pub struct Consultation {
    /// Kept in the notes, `[demo:<key>]`: what a second run recognises.
    pub key: String,
    pub kind: ConsultationKind,
    pub topic: &'static str,
    pub branch: usize,
    pub org: usize,
    pub attendees: Vec<usize>,
    pub held_on: Date,
    pub external: bool,
}

/// The members of partner `org` among the trainees.
fn members(org: usize) -> Vec<usize> {
    let branch = ORGS[org].branch;
    let half = TRAINEES / 2;
    (0..half)
        .filter(|l| l % PARTNERS_PER_BRANCH == org - branch * PARTNERS_PER_BRANCH)
        .map(|l| branch * half + l)
        .collect()
}

/// 140 consultations (70 per branch, of which 2 + 1 on advocacy with three
/// activists each) and 383 technical-support sessions (196 and 187).
pub fn consultations(cal: &Calendar) -> Vec<Consultation> {
    let mut out = Vec::new();
    let plan = [
        (0, ConsultationKind::Consultation, 70, 2),
        (1, ConsultationKind::Consultation, 70, 1),
        (0, ConsultationKind::TechnicalSupport, 196, 0),
        (1, ConsultationKind::TechnicalSupport, 187, 0),
    ];
    for (branch, kind, n, advocacy) in plan {
        let word = if kind == ConsultationKind::Consultation {
            "c"
        } else {
            "ts"
        };
        for k in 0..n {
            let org = branch * PARTNERS_PER_BRANCH + k % PARTNERS_PER_BRANCH;
            let m = members(org);
            let on_advocacy = k < advocacy;
            let attendees = if on_advocacy {
                m[..3].to_vec()
            } else {
                vec![m[(k / PARTNERS_PER_BRANCH) % m.len()]]
            };
            out.push(Consultation {
                key: format!("{word}-{}-{:03}", BRANCHES[branch].id, k + 1),
                kind,
                topic: if on_advocacy {
                    ADVOCACY
                } else {
                    CONSULTATION_TOPICS[k % CONSULTATION_TOPICS.len()]
                },
                branch,
                org,
                attendees,
                held_on: cal.spread(k, n, 0),
                external: k % 4 == 3,
            });
        }
    }
    out
}

pub fn consultation_note(c: &Consultation) -> String {
    let (ar, _) = topic_name(c.topic);
    let what = if c.kind == ConsultationKind::Consultation {
        "جلسة استشارية"
    } else {
        "جلسة دعم فني"
    };
    format!("{what} في {ar} مع {} [demo:{}]", ORGS[c.org].ar, c.key)
}
