//! The issues, coalitions and the twelve events with their participants.

use super::*;

// -------------------------------------------------------------- networking

pub const ISSUES: [(&str, &str, &str); 7] = [
    (
        "thalassemia",
        "دعم أطفال التلاسيميا",
        "Children with thalassemia",
    ),
    ("diabetes", "التوعية بمرض السكري", "Diabetes awareness"),
    ("kidney-failure", "مرض الفشل الكلوي", "Kidney failure"),
    ("breast-cancer", "سرطان الثدي", "Breast cancer"),
    (
        "modern-teaching",
        "منهجيات التعليم الحديثة",
        "Modern teaching methods",
    ),
    (
        "clean-schools",
        "بيئة تعليمية نظيفة في المدارس",
        "Clean schools",
    ),
    ("early-marriage", "الزواج المبكر", "Early marriage"),
];

pub struct Coalition {
    pub ar: &'static str,
    pub en: &'static str,
    pub issues: &'static [&'static str],
    pub branch: usize,
    pub lead: usize,
    pub members: &'static [usize],
}

pub const COALITIONS: [Coalition; 2] = [
    Coalition {
        ar: "تحالف دعم أطفال التلاسيميا في الرقة",
        en: "Raqqa coalition for children with thalassemia",
        issues: &["thalassemia"],
        branch: 0,
        lead: 11,
        members: &[5, 1, 3, 8],
    },
    Coalition {
        ar: "تحالف التعليم الحديث والمدارس النظيفة",
        en: "Coalition for modern teaching and clean schools",
        issues: &["modern-teaching", "clean-schools"],
        branch: 1,
        lead: 24,
        members: &[18, 16, 4, 12],
    },
];

/// A walk-in entry: category, gender, how many.
pub type WalkIns = Vec<(ParticipantCategory, Gender, i32)>;

pub struct Event {
    pub key: String,
    pub kind: EventKind,
    pub title_ar: String,
    pub title_en: String,
    pub branch: usize,
    pub day: Date,
    /// Known people checked in, indices into [`people`].
    pub people: Vec<usize>,
    /// Outside guests: name, affiliation, gender, category.
    pub guests: Vec<(&'static str, &'static str, Gender, ParticipantCategory)>,
    pub walk_ins: WalkIns,
    /// For a coalition meeting, its index into [`COALITIONS`].
    pub coalition: Option<usize>,
}

const EVENTS: [(EventKind, &str, &str); 6] = [
    (
        EventKind::Networking,
        "ملتقى التشبيك بين المنظمات الشريكة",
        "Networking forum of the partner organizations",
    ),
    (
        EventKind::LocalAdministrationMeeting,
        "لقاء تعارف بين المنظمات الشريكة والإدارة المحلية",
        "Meet-and-greet of partners and local administration",
    ),
    (
        EventKind::DonorRoundTable,
        "طاولة مستديرة مع الجهات المانحة والمنظمات الدولية",
        "Round table with donors and international organizations",
    ),
    (
        EventKind::LocalAdministrationMeeting,
        "اجتماع تنسيقي حول إعادة تأهيل الخدمات الأساسية",
        "Coordination meeting on restoring basic services",
    ),
    (
        EventKind::Networking,
        "لقاء المنظمات ذات التوجهات المشتركة حول السلم الأهلي",
        "Meeting of like-minded organizations on civil peace",
    ),
    (
        EventKind::CoalitionMeeting,
        "اجتماع التحالف",
        "Coalition meeting",
    ),
];

const GUESTS: [(&str, &str, Gender, ParticipantCategory); 5] = [
    (
        "ممثل الصندوق المانح",
        "الصندوق المانح للمجتمع المدني",
        Gender::Male,
        ParticipantCategory::Donor,
    ),
    (
        "منسقة برامج",
        "منظمة الأمل الدولية",
        Gender::Female,
        ParticipantCategory::InternationalOrganization,
    ),
    (
        "مسؤول الشراكات",
        "منظمة التنمية المستدامة الدولية",
        Gender::Male,
        ParticipantCategory::InternationalOrganization,
    ),
    (
        "عضو المجلس المحلي",
        "المجلس المحلي",
        Gender::Male,
        ParticipantCategory::LocalAdministration,
    ),
    (
        "مسؤولة لجنة المرأة",
        "المجلس المحلي",
        Gender::Female,
        ParticipantCategory::LocalAdministration,
    ),
];

/// Walk-ins of an event, `n` people in a fixed mix of categories and
/// genders, adding up to `n` exactly.
fn walk_ins(n: i32) -> WalkIns {
    use ParticipantCategory as C;
    let mix = [
        (C::LocalOrganizationMember, Gender::Male, 35),
        (C::LocalOrganizationMember, Gender::Female, 20),
        (C::CivilSocietyLeader, Gender::Male, 12),
        (C::CivilSocietyLeader, Gender::Female, 8),
        (C::InternationalOrganization, Gender::Female, 5),
        (C::LocalAdministration, Gender::Male, 10),
        (C::Individual, Gender::Undisclosed, 10),
    ];
    let mut out: WalkIns = mix
        .iter()
        .map(|(c, g, share)| (*c, *g, n * share / 100))
        .collect();
    let given: i32 = out.iter().map(|(_, _, k)| k).sum();
    out[0].2 += n - given;
    out.retain(|(_, _, k)| *k > 0);
    out
}

/// Twelve events, six per branch. 120 trainees (ten per event, none twice),
/// the four officials each at one of their branch's two local-administration
/// meetings (so attendances and participants are both 474),
/// ten guests and 340 walk-ins: 474 participants.
pub fn events(cal: &Calendar) -> Vec<Event> {
    let known = 120;
    let officials_n = 4;
    let guests_n = 10;
    let walk_total = NETWORKING_PARTICIPANTS as i32 - known - officials_n - guests_n;
    let mut out = Vec::new();
    for branch in 0..2 {
        for (e, (kind, ar, en)) in EVENTS.iter().enumerate() {
            let n = branch * EVENTS.len() + e;
            let mut people: Vec<usize> = (0..10)
                .map(|j| branch * TRAINEES / 2 + 60 + e * 10 + j)
                .collect();
            let mut guests = Vec::new();
            match kind {
                EventKind::LocalAdministrationMeeting => {
                    people.push(officials(branch)[usize::from(e == 3)]);
                    guests.push(GUESTS[3 + usize::from(e == 3)]);
                }
                EventKind::DonorRoundTable => guests.extend(GUESTS[..3].iter().copied()),
                _ => {}
            }
            let walk = walk_total / 12 + i32::from((n as i32) < walk_total % 12);
            let b = &BRANCHES[branch];
            let (title_ar, title_en) = if *kind == EventKind::CoalitionMeeting {
                (
                    format!("{ar}: {}", COALITIONS[branch].ar),
                    format!("{en}: {}", COALITIONS[branch].en),
                )
            } else {
                (
                    format!("{ar} في {}", b.city),
                    format!("{en}, {}", b.governorate),
                )
            };
            out.push(Event {
                key: format!("event-{n:02}"),
                kind: *kind,
                title_ar,
                title_en,
                branch,
                day: cal.spread(n, 12, 0),
                people,
                guests,
                walk_ins: walk_ins(walk),
                coalition: (*kind == EventKind::CoalitionMeeting).then_some(branch),
            });
        }
    }
    out
}
