//! The library items, the spaces of the co-working area and their bookings.

use super::*;

// ---------------------------------------------------------------- resources

pub struct Item {
    pub ar: &'static str,
    pub en: &'static str,
    pub kind: markaz_proto::resources::v1::ItemKind,
    pub source: markaz_proto::resources::v1::SourceKind,
    pub source_name: &'static str,
    pub topic: &'static str,
    pub year: i32,
    pub url: &'static str,
}

use markaz_proto::resources::v1::{ItemKind as I, SourceKind as S};

pub const ITEMS: [Item; 10] = [
    Item {
        ar: "دليل التخطيط الإستراتيجي للمنظمات المحلية",
        en: "A strategic-planning guide for local organizations",
        kind: I::Guide,
        source: S::Center,
        source_name: "منظمة إمباكت",
        topic: "strategic-planning",
        year: 2019,
        url: "",
    },
    Item {
        ar: "دراسة: واقع منظمات المجتمع المدني في الرقة ودير الزور",
        en: "Study: civil-society organizations in Raqqa and Deir ez-Zor",
        kind: I::Study,
        source: S::Center,
        source_name: "منظمة إمباكت",
        topic: "",
        year: 2020,
        url: "",
    },
    Item {
        ar: "مجموعة أدوات المتابعة والتقييم",
        en: "A monitoring-and-evaluation toolkit",
        kind: I::Toolkit,
        source: S::Center,
        source_name: "منظمة إمباكت",
        topic: "monitoring-evaluation",
        year: 2021,
        url: "",
    },
    Item {
        ar: "إحصاءات الخدمات الأساسية في محافظة الرقة",
        en: "Statistics of basic services in Raqqa governorate",
        kind: I::Statistics,
        source: S::External,
        source_name: "مكتب الإحصاء المحلي",
        topic: "",
        year: 2022,
        url: "",
    },
    Item {
        ar: "نظريات التغيير: مدخل مبسط",
        en: "Theories of change: an introduction",
        kind: I::Reference,
        source: S::Center,
        source_name: "منظمة إمباكت",
        topic: "strategic-planning",
        year: 2019,
        url: "",
    },
    Item {
        ar: "تجارب ناجحة في المناصرة المحلية",
        en: "Successful local advocacy",
        kind: I::Study,
        source: S::Partner,
        source_name: "المنظمات الشريكة",
        topic: ADVOCACY,
        year: 2020,
        url: "",
    },
    Item {
        ar: "حلقة صوتية: الحوكمة في المنظمات الناشئة",
        en: "Podcast: governance in young organizations",
        kind: I::Audio,
        source: S::Center,
        source_name: "منظمة إمباكت",
        topic: "",
        year: 2021,
        url: "https://example.org/markaz-demo/governance-podcast",
    },
    Item {
        ar: "فيديو: كيف تكتب مقترح مشروع",
        en: "Video: how to write a project proposal",
        kind: I::Video,
        source: S::Center,
        source_name: "منظمة إمباكت",
        topic: "proposal-writing",
        year: 2022,
        url: "https://example.org/markaz-demo/proposal-video",
    },
    Item {
        ar: "دليل الإدارة المالية للمنظمات الصغيرة",
        en: "Financial management for small organizations",
        kind: I::Guide,
        source: S::Donor,
        source_name: "الصندوق المانح للمجتمع المدني",
        topic: "financial-management",
        year: 2023,
        url: "",
    },
    Item {
        ar: "المعرفة المدنية: مفاهيم أساسية",
        en: "Civic knowledge: the basics",
        kind: I::Reference,
        source: S::Center,
        source_name: "منظمة إمباكت",
        topic: "",
        year: 2024,
        url: "",
    },
];

pub struct Space {
    pub ar: &'static str,
    pub en: &'static str,
    pub branch: usize,
    pub kind: markaz_proto::resources::v1::SpaceKind,
    pub capacity: i32,
}

pub const SPACES: [Space; 4] = [
    Space {
        ar: "قاعة الاجتماعات – الرقة",
        en: "Meeting room – Raqqa",
        branch: 0,
        kind: markaz_proto::resources::v1::SpaceKind::MeetingRoom,
        capacity: 12,
    },
    Space {
        ar: "مساحة العمل المشتركة – الرقة",
        en: "Co-working area – Raqqa",
        branch: 0,
        kind: markaz_proto::resources::v1::SpaceKind::TrainingHall,
        capacity: 30,
    },
    Space {
        ar: "قاعة الاجتماعات – دير الزور",
        en: "Meeting room – Deir ez-Zor",
        branch: 1,
        kind: markaz_proto::resources::v1::SpaceKind::MeetingRoom,
        capacity: 12,
    },
    Space {
        ar: "مساحة العمل المشتركة – دير الزور",
        en: "Co-working area – Deir ez-Zor",
        branch: 1,
        kind: markaz_proto::resources::v1::SpaceKind::TrainingHall,
        capacity: 30,
    },
];

/// Bookings of the coming days by partners: (space, partner, days ahead).
/// Each space's bookings fall on different days, none on a Friday.
pub fn bookings(today: Date) -> Vec<(usize, usize, Date)> {
    let mut out = Vec::new();
    let mut day = today;
    for n in 0..8 {
        day = day.add_days(1);
        // 1970-01-01 was a Thursday: day 1 (mod 7) is a Friday.
        while day.days().rem_euclid(7) == 1 {
            day = day.add_days(1);
        }
        let space = n % SPACES.len();
        let branch = SPACES[space].branch;
        out.push((space, branch * PARTNERS_PER_BRANCH + (n * 5) % 12, day));
    }
    out
}
