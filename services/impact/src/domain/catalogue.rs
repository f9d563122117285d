//! The indicator catalogue: every figure the center reports, with what it
//! counts and what it can be split by. A figure is only ever computed from
//! the facts its [`Source`] names; there is no other way to get one.

use markaz_proto::impact::v1::{Dimension, Measure};

/// Where an indicator's records come from: one kind of fact the consumer
/// keeps, and which of those facts count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// People who attended at least one session of a completed course.
    Trainees,
    /// Completed courses; the quantity is their number of sessions (days).
    Courses,
    /// Consultation and technical-support sessions held.
    Consultations,
    /// Attendances at those sessions, by gender (a person at two sessions
    /// counts twice: capacity's events carry counts, not people).
    ConsultationAttendances,
    /// The people who attended those sessions (distinct).
    ConsultationBeneficiaries,
    /// Moves of organizations into an incubation status.
    IncubationMoves(IncubationMove),
    /// Grant awards (community projects), counted on their start.
    Awards,
    /// Projects completed (not closed early), on their end.
    CompletedProjects,
    /// Tranches paid out.
    Disbursements,
    /// What projects reported spent, when they ended.
    Spending,
    /// Networking events held; only those of `kind` when set.
    EventsHeld(Option<&'static str>),
    /// Everyone checked in at events held, guests included, by category and
    /// gender (a person at two events counts twice).
    EventParticipants,
    /// The known people who came to events held (distinct).
    EventPeople,
    /// Coalitions formed.
    CoalitionsFormed,
    /// Organizations joining coalitions.
    CoalitionMembers,
    /// Advocacy campaigns launched.
    CampaignsLaunched,
    /// Library items published (and not withdrawn).
    LibraryItems,
    /// Downloads of library items, per month.
    LibraryDownloads,
    /// Bookings of the co-working space (not cancelled).
    Bookings,
    /// Organizations that used the space (a booking not cancelled, not a
    /// no-show).
    SpaceUsers,
}

/// A family of fact tables, rebuilt together from one producer's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Courses,
    Consultations,
    Incubation,
    Grants,
    Networking,
    Library,
    Space,
}

impl Family {
    pub const ALL: [Family; 7] = [
        Family::Courses,
        Family::Consultations,
        Family::Incubation,
        Family::Grants,
        Family::Networking,
        Family::Library,
        Family::Space,
    ];

    /// Its name in `impact_generations`.
    pub fn name(self) -> &'static str {
        match self {
            Family::Courses => "courses",
            Family::Consultations => "consultations",
            Family::Incubation => "incubation",
            Family::Grants => "grants",
            Family::Networking => "networking",
            Family::Library => "library",
            Family::Space => "space",
        }
    }

    /// The producer whose events fill it.
    pub fn producer(self) -> &'static str {
        match self {
            Family::Courses | Family::Consultations => "capacity",
            Family::Incubation => "membership",
            Family::Grants => "grants",
            Family::Networking => "networking",
            Family::Library | Family::Space => "resources",
        }
    }

    /// Its tables, children first (the order a generation is deleted in).
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            Family::Courses => &["impact_trainees", "impact_course_topics", "impact_courses"],
            Family::Consultations => &[
                "impact_consultation_attendees",
                "impact_consultation_topics",
                "impact_consultations",
            ],
            Family::Incubation => &["impact_incubation_moves"],
            Family::Grants => &["impact_disbursements", "impact_awards"],
            Family::Networking => &[
                "impact_event_attendees",
                "impact_event_participants",
                "impact_events_held",
                "impact_coalition_members",
                "impact_coalitions",
                "impact_campaigns",
            ],
            Family::Library => &[
                "impact_downloads",
                "impact_library_topics",
                "impact_library_items",
            ],
            Family::Space => &["impact_bookings"],
        }
    }
}

impl Source {
    /// The family of tables its records are in.
    pub fn family(self) -> Family {
        match self {
            Source::Trainees | Source::Courses => Family::Courses,
            Source::Consultations
            | Source::ConsultationAttendances
            | Source::ConsultationBeneficiaries => Family::Consultations,
            Source::IncubationMoves(_) => Family::Incubation,
            Source::Awards
            | Source::CompletedProjects
            | Source::Disbursements
            | Source::Spending => Family::Grants,
            Source::EventsHeld(_)
            | Source::EventParticipants
            | Source::EventPeople
            | Source::CoalitionsFormed
            | Source::CoalitionMembers
            | Source::CampaignsLaunched => Family::Networking,
            Source::LibraryItems | Source::LibraryDownloads => Family::Library,
            Source::Bookings | Source::SpaceUsers => Family::Space,
        }
    }
}

/// The incubation statuses whose arrivals are figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncubationMove {
    Incubated,
    Graduated,
    Withdrawn,
}

impl IncubationMove {
    /// The status as membership's events name it.
    pub fn status(self) -> &'static str {
        match self {
            IncubationMove::Incubated => "INCUBATION_STATUS_INCUBATED",
            IncubationMove::Graduated => "INCUBATION_STATUS_GRADUATED",
            IncubationMove::Withdrawn => "INCUBATION_STATUS_WITHDRAWN",
        }
    }
}

/// One indicator of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Indicator {
    pub code: &'static str,
    /// Arabic, English.
    pub name: (&'static str, &'static str),
    pub unit: &'static str,
    /// What counts and what does not: Arabic, English.
    pub definition: (&'static str, &'static str),
    pub dimensions: &'static [Dimension],
    pub measure: Measure,
    pub producers: &'static [&'static str],
    pub source: Source,
}

impl Indicator {
    pub fn has(&self, d: Dimension) -> bool {
        self.dimensions.contains(&d)
    }

    /// Money is never added across currencies.
    pub fn is_money(&self) -> bool {
        self.unit == "money"
    }
}

use Dimension as D;

const PERIOD: [Dimension; 3] = [D::Month, D::Quarter, D::Year];

const TRAINEE_DIMENSIONS: &[Dimension] = &[
    D::Gender,
    D::AgeBand,
    D::Branch,
    D::Topic,
    D::CourseKind,
    D::OrganizationKind,
    D::IncubationStatus,
    PERIOD[0],
    PERIOD[1],
    PERIOD[2],
];
const COURSE_DIMENSIONS: &[Dimension] = &[
    D::Branch,
    D::Topic,
    D::CourseKind,
    PERIOD[0],
    PERIOD[1],
    PERIOD[2],
];
const CONSULTATION_DIMENSIONS: &[Dimension] = &[
    D::Branch,
    D::Topic,
    D::ConsultationKind,
    D::OrganizationKind,
    D::IncubationStatus,
    PERIOD[0],
    PERIOD[1],
    PERIOD[2],
];
const ATTENDANCE_DIMENSIONS: &[Dimension] = &[
    D::Gender,
    D::Branch,
    D::Topic,
    D::ConsultationKind,
    PERIOD[0],
    PERIOD[1],
    PERIOD[2],
];
const ORGANIZATION_DIMENSIONS: &[Dimension] = &[
    D::Branch,
    D::OrganizationKind,
    PERIOD[0],
    PERIOD[1],
    PERIOD[2],
];
const PROJECT_DIMENSIONS: &[Dimension] = &[
    D::Branch,
    D::Sector,
    D::OrganizationKind,
    PERIOD[0],
    PERIOD[1],
    PERIOD[2],
];
const MONEY_DIMENSIONS: &[Dimension] = &[
    D::Currency,
    D::Branch,
    D::Sector,
    D::OrganizationKind,
    PERIOD[0],
    PERIOD[1],
    PERIOD[2],
];

const EVENT_DIMENSIONS: &[Dimension] = &[D::Branch, D::EventKind, PERIOD[0], PERIOD[1], PERIOD[2]];
const PARTICIPANT_DIMENSIONS: &[Dimension] = &[
    D::Gender,
    D::ParticipantCategory,
    D::Branch,
    D::EventKind,
    PERIOD[0],
    PERIOD[1],
    PERIOD[2],
];
const PEOPLE_DIMENSIONS: &[Dimension] = &[
    D::Gender,
    D::AgeBand,
    D::ParticipantCategory,
    D::Branch,
    D::EventKind,
    PERIOD[0],
    PERIOD[1],
    PERIOD[2],
];
const BRANCH_DIMENSIONS: &[Dimension] = &[D::Branch, PERIOD[0], PERIOD[1], PERIOD[2]];
const MEMBER_DIMENSIONS: &[Dimension] = &[
    D::Branch,
    D::OrganizationKind,
    PERIOD[0],
    PERIOD[1],
    PERIOD[2],
];
const LIBRARY_DIMENSIONS: &[Dimension] =
    &[D::ResourceKind, D::Topic, PERIOD[0], PERIOD[1], PERIOD[2]];
const SPACE_DIMENSIONS: &[Dimension] = &[D::Branch, D::SpaceKind, PERIOD[0], PERIOD[1], PERIOD[2]];

const CAPACITY: &[&str] = &["capacity"];
const NETWORKING: &[&str] = &["networking"];
const RESOURCES: &[&str] = &["resources"];
const CAPACITY_AND_MEMBERSHIP: &[&str] = &["capacity", "membership"];
const MEMBERSHIP: &[&str] = &["membership"];
const GRANTS: &[&str] = &["grants"];

/// Every indicator, in the order reports show them.
pub const CATALOGUE: &[Indicator] = &[
    Indicator {
        code: "trainees",
        name: ("المتدربون", "Trainees"),
        unit: "people",
        definition: (
            "الأشخاص المختلفون الذين حضروا جلسة واحدة على الأقل من دورة أو ورشة اكتملت في الفترة؛ من حضر عدة دورات يُعدّ مرة واحدة. لا يُعدّ المسجّلون الذين لم يحضروا، ولا قوائم الانتظار، ولا الدورات الملغاة.",
            "Distinct people who attended at least one session of a course or workshop completed in the period; a person in several courses counts once. Enrolled people who never attended, waiting lists and cancelled courses do not count.",
        ),
        dimensions: TRAINEE_DIMENSIONS,
        measure: Measure::DistinctCount,
        producers: CAPACITY_AND_MEMBERSHIP,
        source: Source::Trainees,
    },
    Indicator {
        code: "courses_held",
        name: ("الدورات والورش المنفّذة", "Courses and workshops held"),
        unit: "courses",
        definition: (
            "الدورات والورش التي اكتملت في الفترة، وتُعدّ في يومها الأخير. لا تُعدّ الملغاة ولا التي لم تكتمل بعد.",
            "Courses and workshops completed in the period, counted on their last day. Cancelled courses and those not yet completed do not count.",
        ),
        dimensions: COURSE_DIMENSIONS,
        measure: Measure::DistinctCount,
        producers: CAPACITY,
        source: Source::Courses,
    },
    Indicator {
        code: "training_days",
        name: ("أيام التدريب", "Training days"),
        unit: "days",
        definition: (
            "مجموع جلسات (أيام) الدورات والورش التي اكتملت في الفترة: ورشة من أربعة أيام تُعدّ أربعة.",
            "The sessions (days) of the courses and workshops completed in the period: a four-day workshop counts four.",
        ),
        dimensions: COURSE_DIMENSIONS,
        measure: Measure::Sum,
        producers: CAPACITY,
        source: Source::Courses,
    },
    Indicator {
        code: "consultation_sessions",
        name: (
            "جلسات الاستشارة والدعم الفني",
            "Consultation and technical-support sessions",
        ),
        unit: "sessions",
        definition: (
            "جلسات الاستشارة والدعم الفني المعقودة في الفترة، في يوم انعقادها؛ النوع يفصل الاستشارة عن الدعم الفني.",
            "Consultation and technical-support sessions held in the period, on the day they were held; the kind splits consultations from technical support.",
        ),
        dimensions: CONSULTATION_DIMENSIONS,
        measure: Measure::DistinctCount,
        producers: CAPACITY_AND_MEMBERSHIP,
        source: Source::Consultations,
    },
    Indicator {
        code: "consultation_attendances",
        name: ("حضور جلسات الاستشارة", "Consultation attendances"),
        unit: "attendances",
        definition: (
            "حضور الأشخاص لجلسات الاستشارة والدعم الفني في الفترة؛ من حضر جلستين يُعدّ مرتين.",
            "People's attendances at consultation and technical-support sessions in the period; a person at two sessions counts twice.",
        ),
        dimensions: ATTENDANCE_DIMENSIONS,
        measure: Measure::Sum,
        producers: CAPACITY,
        source: Source::ConsultationAttendances,
    },
    Indicator {
        code: "consultation_beneficiaries",
        name: ("المستفيدون من الاستشارات", "Consultation beneficiaries"),
        unit: "people",
        definition: (
            "الأشخاص المختلفون الذين حضروا جلسة استشارة أو دعم فني واحدة على الأقل في الفترة؛ من حضر عدة جلسات يُعدّ مرة واحدة.",
            "Distinct people who attended at least one consultation or technical-support session in the period; a person at several counts once.",
        ),
        dimensions: ATTENDANCE_DIMENSIONS,
        measure: Measure::DistinctCount,
        producers: CAPACITY,
        source: Source::ConsultationBeneficiaries,
    },
    Indicator {
        code: "organizations_incubated",
        name: ("المنظمات المحتضنة", "Organizations incubated"),
        unit: "organizations",
        definition: (
            "المنظمات التي دخلت الاحتضان في الفترة، في يوم دخولها؛ تُعدّ المنظمة مرة واحدة وإن دخلت مرتين.",
            "Organizations that entered incubation in the period, on the day they entered; an organization that entered twice counts once.",
        ),
        dimensions: ORGANIZATION_DIMENSIONS,
        measure: Measure::DistinctCount,
        producers: MEMBERSHIP,
        source: Source::IncubationMoves(IncubationMove::Incubated),
    },
    Indicator {
        code: "organizations_graduated",
        name: ("المنظمات المتخرجة", "Organizations graduated"),
        unit: "organizations",
        definition: (
            "المنظمات التي تخرّجت من الاحتضان في الفترة.",
            "Organizations that graduated from incubation in the period.",
        ),
        dimensions: ORGANIZATION_DIMENSIONS,
        measure: Measure::DistinctCount,
        producers: MEMBERSHIP,
        source: Source::IncubationMoves(IncubationMove::Graduated),
    },
    Indicator {
        code: "organizations_withdrawn",
        name: ("المنظمات المنسحبة", "Organizations withdrawn"),
        unit: "organizations",
        definition: (
            "المنظمات التي انسحبت من برنامج الاحتضان في الفترة.",
            "Organizations that withdrew from the incubation program in the period.",
        ),
        dimensions: ORGANIZATION_DIMENSIONS,
        measure: Measure::DistinctCount,
        producers: MEMBERSHIP,
        source: Source::IncubationMoves(IncubationMove::Withdrawn),
    },
    Indicator {
        code: "community_projects_funded",
        name: ("المشاريع المجتمعية الممولة", "Community projects funded"),
        unit: "projects",
        definition: (
            "المنح الممنوحة لمشاريع بدأت في الفترة، في يوم بدئها، حسب فرع المنظمة وقطاع المشروع.",
            "Grants awarded to projects starting in the period, on their start day, by the organization's branch and the project's sector.",
        ),
        dimensions: PROJECT_DIMENSIONS,
        measure: Measure::DistinctCount,
        producers: GRANTS,
        source: Source::Awards,
    },
    Indicator {
        code: "community_projects_completed",
        name: ("المشاريع المجتمعية المنجزة", "Community projects completed"),
        unit: "projects",
        definition: (
            "المشاريع التي اكتملت في الفترة، في يوم انتهائها؛ لا تُعدّ المغلقة مبكراً.",
            "Projects completed in the period, on their end day; projects closed early do not count.",
        ),
        dimensions: PROJECT_DIMENSIONS,
        measure: Measure::DistinctCount,
        producers: GRANTS,
        source: Source::CompletedProjects,
    },
    Indicator {
        code: "grant_amount_committed",
        name: ("مبالغ المنح الملتزم بها", "Grant amounts committed"),
        unit: "money",
        definition: (
            "مجموع مبالغ المنح للمشاريع التي بدأت في الفترة، بالوحدات الصغرى لكل عملة على حدة.",
            "The amounts awarded to projects starting in the period, in minor units, each currency apart.",
        ),
        dimensions: MONEY_DIMENSIONS,
        measure: Measure::Sum,
        producers: GRANTS,
        source: Source::Awards,
    },
    Indicator {
        code: "grant_amount_disbursed",
        name: ("مبالغ المنح المصروفة", "Grant amounts disbursed"),
        unit: "money",
        definition: (
            "مجموع الدفعات المصروفة في الفترة، في يوم صرفها، لكل عملة على حدة.",
            "The tranches paid out in the period, on the day they were paid, each currency apart.",
        ),
        dimensions: MONEY_DIMENSIONS,
        measure: Measure::Sum,
        producers: GRANTS,
        source: Source::Disbursements,
    },
    Indicator {
        code: "grant_amount_spent",
        name: ("مبالغ المنح المنفقة", "Grant amounts spent"),
        unit: "money",
        definition: (
            "ما أبلغت المشاريع عن إنفاقه، للمشاريع التي انتهت في الفترة (مكتملة أو مغلقة مبكراً)، لكل عملة على حدة.",
            "What projects reported spent, for the projects that ended in the period (completed or closed early), each currency apart.",
        ),
        dimensions: MONEY_DIMENSIONS,
        measure: Measure::Sum,
        producers: GRANTS,
        source: Source::Spending,
    },
    Indicator {
        code: "networking_events_held",
        name: ("فعاليات التشبيك المنعقدة", "Networking events held"),
        unit: "events",
        definition: (
            "الفعاليات واللقاءات التي انعقدت في الفترة (تشبيك، لقاءات الإدارة المحلية، موائد المانحين، ورش المناصرة، اجتماعات التحالفات...)، في يوم انعقادها؛ لا تُعدّ الملغاة ولا المخطط لها.",
            "Events and meetings held in the period (networking, meetings with local administration, donor round tables, advocacy workshops, coalition meetings...), on the day they were held; cancelled and planned ones do not count.",
        ),
        dimensions: EVENT_DIMENSIONS,
        measure: Measure::DistinctCount,
        producers: NETWORKING,
        source: Source::EventsHeld(None),
    },
    Indicator {
        code: "local_administration_meetings",
        name: (
            "اللقاءات مع الإدارة المحلية",
            "Meetings with local administration",
        ),
        unit: "events",
        definition: (
            "لقاءات التعارف والتنسيق مع مسؤولي الإدارة المحلية التي انعقدت في الفترة.",
            "Meet-and-greets and coordination meetings with local-administration officials held in the period.",
        ),
        dimensions: BRANCH_DIMENSIONS,
        measure: Measure::DistinctCount,
        producers: NETWORKING,
        source: Source::EventsHeld(Some("local_administration_meeting")),
    },
    Indicator {
        code: "networking_participants",
        name: ("المشاركون في فعاليات التشبيك", "Networking participants"),
        unit: "attendances",
        definition: (
            "كل من سُجّل حضوره في الفعاليات المنعقدة في الفترة، ومنهم الضيوف والحضور دون دعوة، حسب الفئة والجنس؛ من حضر فعاليتين يُعدّ مرتين.",
            "Everyone checked in at the events held in the period, guests and walk-ins included, by category and gender; a person at two events counts twice.",
        ),
        dimensions: PARTICIPANT_DIMENSIONS,
        measure: Measure::Sum,
        producers: NETWORKING,
        source: Source::EventParticipants,
    },
    Indicator {
        code: "networking_people",
        name: (
            "الأشخاص المشاركون في التشبيك",
            "People reached by networking",
        ),
        unit: "people",
        definition: (
            "الأشخاص المختلفون المسجّلون في العضوية الذين حضروا فعالية واحدة على الأقل في الفترة؛ لا يُعدّ الضيوف دون سجل.",
            "Distinct people with a membership record who came to at least one event held in the period; guests without a record do not count.",
        ),
        dimensions: PEOPLE_DIMENSIONS,
        measure: Measure::DistinctCount,
        producers: NETWORKING,
        source: Source::EventPeople,
    },
    Indicator {
        code: "coalitions_formed",
        name: ("التحالفات المشكّلة", "Coalitions formed"),
        unit: "coalitions",
        definition: (
            "التحالفات القائمة على قضايا التي تشكّلت في الفترة، في يوم تشكيلها.",
            "Issue-based coalitions formed in the period, on the day they were formed.",
        ),
        dimensions: BRANCH_DIMENSIONS,
        measure: Measure::DistinctCount,
        producers: NETWORKING,
        source: Source::CoalitionsFormed,
    },
    Indicator {
        code: "coalition_members",
        name: (
            "المنظمات المنضمة إلى التحالفات",
            "Organizations joining coalitions",
        ),
        unit: "organizations",
        definition: (
            "المنظمات المختلفة التي انضمت إلى تحالف في الفترة، في يوم انضمامها.",
            "Distinct organizations that joined a coalition in the period, on the day they joined.",
        ),
        dimensions: MEMBER_DIMENSIONS,
        measure: Measure::DistinctCount,
        producers: NETWORKING,
        source: Source::CoalitionMembers,
    },
    Indicator {
        code: "campaigns_launched",
        name: ("حملات المناصرة المطلقة", "Advocacy campaigns launched"),
        unit: "campaigns",
        definition: (
            "حملات المناصرة التي أُطلقت في الفترة، في يوم إطلاقها، وإن أُلغيت بعده.",
            "Advocacy campaigns launched in the period, on the day they were launched, even if cancelled later.",
        ),
        dimensions: BRANCH_DIMENSIONS,
        measure: Measure::DistinctCount,
        producers: NETWORKING,
        source: Source::CampaignsLaunched,
    },
    Indicator {
        code: "library_items_published",
        name: ("مواد المكتبة المنشورة", "Library items published"),
        unit: "items",
        definition: (
            "مواد المكتبة التي نُشرت أول مرة في الفترة وما تزال منشورة؛ لا تُعدّ المسحوبة.",
            "Library items first published in the period and still published; withdrawn items do not count.",
        ),
        dimensions: LIBRARY_DIMENSIONS,
        measure: Measure::DistinctCount,
        producers: RESOURCES,
        source: Source::LibraryItems,
    },
    Indicator {
        code: "library_downloads",
        name: ("تنزيلات المكتبة", "Library downloads"),
        unit: "downloads",
        definition: (
            "تنزيلات ملفات مواد المكتبة في أشهر الفترة، من قرّاء المستأجر والعموم؛ استئناف التنزيل لا يُعدّ تنزيلاً آخر.",
            "Downloads of library files in the months of the period, by the tenant's readers and the public; resuming a download is not another one.",
        ),
        dimensions: LIBRARY_DIMENSIONS,
        measure: Measure::Sum,
        producers: RESOURCES,
        source: Source::LibraryDownloads,
    },
    Indicator {
        code: "space_bookings",
        name: ("حجوزات مساحة العمل المشترك", "Co-working space bookings"),
        unit: "bookings",
        definition: (
            "حجوزات المساحة التي تبدأ في الفترة، في يوم بدئها؛ لا تُعدّ الملغاة.",
            "Bookings of the space starting in the period, on their day; cancelled bookings do not count.",
        ),
        dimensions: SPACE_DIMENSIONS,
        measure: Measure::DistinctCount,
        producers: RESOURCES,
        source: Source::Bookings,
    },
    Indicator {
        code: "organizations_using_space",
        name: (
            "المنظمات المستخدمة للمساحة",
            "Organizations using the space",
        ),
        unit: "organizations",
        definition: (
            "المنظمات المختلفة التي استخدمت المساحة في الفترة بحجز لم يُلغَ ولم تتغيب عنه.",
            "Distinct organizations that used the space in the period, with a booking neither cancelled nor missed.",
        ),
        dimensions: SPACE_DIMENSIONS,
        measure: Measure::DistinctCount,
        producers: RESOURCES,
        source: Source::SpaceUsers,
    },
];

/// The indicator of `code`.
pub fn indicator(code: &str) -> Option<&'static Indicator> {
    CATALOGUE.iter().find(|i| i.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_every_indicator_says_what_it_counts() {
        let mut codes: Vec<_> = CATALOGUE.iter().map(|i| i.code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), CATALOGUE.len());
        for i in CATALOGUE {
            assert!(!i.name.0.is_empty() && !i.name.1.is_empty(), "{}", i.code);
            assert!(
                !i.definition.0.is_empty() && !i.definition.1.is_empty(),
                "{}",
                i.code
            );
            assert!(!i.producers.is_empty(), "{}", i.code);
            assert_eq!(i.is_money(), i.has(D::Currency), "{}", i.code);
            assert!(!i.has(D::Unspecified), "{}", i.code);
        }
    }
}
