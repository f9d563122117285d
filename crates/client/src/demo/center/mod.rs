//! The center of the source document as data: its branches, partners,
//! people, courses, consultations, grant round, networking and library —
//! the plan the seeder makes true. Nothing here talks to a server; every
//! value is a function of the plan's index and of the calendar, so two runs
//! plan the same center (docs/demo.md has the figures and the readings).
//!
//! The figures the data follows (the source's, where it gives one):
//!
//! * 256 trainees from incubated partners, 186 men and 70 women, in 18
//!   four-day workshops (one trainee, one workshop); 3 of them on advocacy
//!   with 39 trainees;
//! * 26 management training courses (3 days) on the seven management topics,
//!   whose participants are trainees of the workshops again — so the
//!   distinct count stays 256;
//! * 140 consultation sessions (70 per branch; 3 on advocacy with 9
//!   activists) and 383 technical-support sessions (196 Raqqa, 187 Deir
//!   ez-Zor) — the first of the source's two readings;
//! * 24 community projects of the Father Paolo grant, 12 per branch, 7 of
//!   them the advocacy campaigns the source names;
//! * about 474 networking participants (exactly 474 here).

use markaz_kit::time::Date;
use markaz_proto::capacity::v1::{ConsultationKind, CourseKind};
use markaz_proto::common::v1::{AgeBand, Gender, OrganizationKind as Kind, Sector};
use markaz_proto::networking::v1::{EventKind, ParticipantCategory};

pub const TRAINEES: usize = 256;
pub const FEMALE_TRAINEES: usize = 70;
pub const WORKSHOP_DAYS: i64 = 4;
pub const COURSE_DAYS: i64 = 3;
pub const NETWORKING_PARTICIPANTS: i64 = 474;

/// The advocacy topic of capacity's catalogue.
pub const ADVOCACY: &str = "mobilisation-advocacy";
/// The seven management topics of the 26 courses (the source's list, less
/// advocacy: its figure is the three workshops').
pub const MANAGEMENT: [&str; 7] = [
    "strategic-planning",
    "project-management",
    "monitoring-evaluation",
    "financial-management",
    "human-resources",
    "operational-planning",
    "proposal-writing",
];
/// The consultations' topics, as the source lists them.
pub const CONSULTATION_TOPICS: [&str; 5] = [
    "strategic-planning",
    "project-management",
    "human-resources",
    "financial-management",
    "monitoring-evaluation",
];

pub struct Branch {
    pub id: &'static str,
    pub ar: &'static str,
    pub en: &'static str,
    pub governorate: &'static str,
    pub city: &'static str,
}

pub const BRANCHES: [Branch; 2] = [
    Branch {
        id: "raqqa",
        ar: "فرع الرقة",
        en: "Raqqa branch",
        governorate: "Raqqa",
        city: "الرقة",
    },
    Branch {
        id: "deir-ez-zor",
        ar: "فرع دير الزور",
        en: "Deir ez-Zor branch",
        governorate: "Deir ez-Zor",
        city: "دير الزور",
    },
];

/// Where an organization ends up in the incubation program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Never in the program (local administration, INGOs, donors).
    Outside,
    Incubated,
    /// Incubated, then graduated (after its project).
    Graduated,
    /// Incubated, then withdrew (no project).
    Withdrawn,
}

/// What an organization asked of the grant round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    None,
    /// A proposal turned down at screening.
    Rejected,
    /// One of the 24 community projects.
    Project(Project),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Project {
    pub title_ar: &'static str,
    pub title_en: &'static str,
    pub sector: Sector,
    pub theme: &'static str,
    pub place_ar: &'static str,
    pub place_en: &'static str,
    /// The networking issue of an advocacy campaign the grant funded.
    pub campaign: Option<&'static str>,
}

pub struct Org {
    pub ar: &'static str,
    pub en: &'static str,
    pub acronym: &'static str,
    pub kind: Kind,
    /// Index into [`BRANCHES`].
    pub branch: usize,
    pub sector: Sector,
    pub fate: Fate,
    pub grant: Grant,
}

mod courses;
mod grants;
mod networking;
mod orgs;
mod resources;
#[cfg(test)]
mod tests;

pub use courses::*;
pub use grants::*;
pub use networking::*;
pub use orgs::ORGS;
pub use resources::*;

/// Partner organizations per branch, and where they start in [`ORGS`].
pub const PARTNERS_PER_BRANCH: usize = 14;

pub fn partners() -> impl Iterator<Item = usize> {
    (0..ORGS.len()).filter(|i| ORGS[*i].fate != Fate::Outside)
}

pub fn local_administration(branch: usize) -> Vec<usize> {
    (0..ORGS.len())
        .filter(|i| ORGS[*i].kind == Kind::LocalAdministration && ORGS[*i].branch == branch)
        .collect()
}

// ------------------------------------------------------------------ people

const MEN: [&str; 31] = [
    "محمد",
    "أحمد",
    "عمر",
    "خالد",
    "علي",
    "حسن",
    "حسين",
    "إبراهيم",
    "يوسف",
    "عبدالله",
    "مصطفى",
    "محمود",
    "سامر",
    "فراس",
    "ماهر",
    "جمال",
    "وليد",
    "رامي",
    "باسل",
    "أنس",
    "زياد",
    "طارق",
    "هشام",
    "عماد",
    "نزار",
    "سليمان",
    "عبد الرحمن",
    "فادي",
    "بلال",
    "معاذ",
    "غسان",
];
const WOMEN: [&str; 20] = [
    "فاطمة",
    "عائشة",
    "مريم",
    "زينب",
    "هدى",
    "نور",
    "سارة",
    "رنا",
    "ليلى",
    "سلمى",
    "آمنة",
    "خديجة",
    "رهف",
    "دعاء",
    "ريم",
    "هبة",
    "لمى",
    "بتول",
    "إيمان",
    "أسماء",
];
const FAMILIES: [&str; 28] = [
    "الخلف",
    "العلي",
    "الحسين",
    "الأحمد",
    "المحمد",
    "العبدالله",
    "الجاسم",
    "الحمود",
    "السلامة",
    "الشيخ",
    "العيسى",
    "الصالح",
    "الفرحان",
    "الخضر",
    "الإبراهيم",
    "الحسن",
    "المصطفى",
    "النجرس",
    "الدخيل",
    "العبيد",
    "المطر",
    "الفياض",
    "الهلال",
    "الرجب",
    "السطم",
    "البكر",
    "العواد",
    "الحاج",
];
const ROLES: [&str; 6] = [
    "عضو",
    "منسق مشاريع",
    "محاسب",
    "مدير تنفيذي",
    "متطوع",
    "عضو مجلس إدارة",
];
const AGES: [AgeBand; 6] = [
    AgeBand::AgeBand2534,
    AgeBand::AgeBand1824,
    AgeBand::AgeBand3544,
    AgeBand::AgeBand2534,
    AgeBand::AgeBand4554,
    AgeBand::AgeBand1824,
];

#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub gender: Gender,
    pub age: AgeBand,
    /// Index into [`ORGS`].
    pub org: usize,
    pub role: &'static str,
}

/// Whether trainee `i` is one of the 70 women: spread evenly, exactly 70.
fn is_woman(i: usize) -> bool {
    (i + 1) * FEMALE_TRAINEES / TRAINEES > i * FEMALE_TRAINEES / TRAINEES
}

/// The 256 trainees (128 per branch, Raqqa first; trainee `i` of a branch
/// is a member of its partner `i % 14`), then one official of each
/// local-administration body.
pub fn people() -> Vec<Person> {
    let mut used = std::collections::HashSet::new();
    let mut name = |woman: bool, k: &mut usize| -> String {
        loop {
            let first = if woman {
                WOMEN[*k % WOMEN.len()]
            } else {
                MEN[*k % MEN.len()]
            };
            let family = FAMILIES[(*k * 7 + *k / FAMILIES.len()) % FAMILIES.len()];
            *k += 1;
            let full = format!("{first} {family}");
            if used.insert(full.clone()) {
                return full;
            }
        }
    };
    let (mut kw, mut km) = (0, 0);
    let mut out = Vec::new();
    for i in 0..TRAINEES {
        let woman = is_woman(i);
        let branch = i / (TRAINEES / 2);
        let local = i % (TRAINEES / 2);
        out.push(Person {
            name: name(woman, if woman { &mut kw } else { &mut km }),
            gender: if woman { Gender::Female } else { Gender::Male },
            age: AGES[i % AGES.len()],
            org: branch * PARTNERS_PER_BRANCH + local % PARTNERS_PER_BRANCH,
            role: ROLES[i % ROLES.len()],
        });
    }
    for (j, body) in (0..2).flat_map(local_administration).enumerate() {
        let woman = j == 1;
        out.push(Person {
            name: name(woman, if woman { &mut kw } else { &mut km }),
            gender: if woman { Gender::Female } else { Gender::Male },
            age: AgeBand::AgeBand4554,
            org: body,
            role: "مسؤول في الإدارة المحلية",
        });
    }
    out
}

/// The officials of the local-administration bodies of `branch`, as indices
/// into [`people`].
pub fn officials(branch: usize) -> Vec<usize> {
    let bodies: Vec<usize> = (0..2).flat_map(local_administration).collect();
    bodies
        .iter()
        .enumerate()
        .filter(|(_, b)| ORGS[**b].branch == branch)
        .map(|(j, _)| TRAINEES + j)
        .collect()
}

// --------------------------------------------------------------- calendar

/// The days the center's year so far spans: from January 1st (or 60 days
/// back when the year is younger than that) to yesterday. Everything the
/// seed records happened in it; `markaz report`'s default period (this
/// year) holds it all but in the first two months of a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    pub first: Date,
    pub today: Date,
}

impl Calendar {
    pub fn of(today: Date) -> Calendar {
        let (jan1, _) = crate::report::year_of(today);
        let first = if today.days() - jan1.days() >= 60 {
            jan1
        } else {
            today.add_days(-60)
        };
        Calendar { first, today }
    }

    pub fn last(&self) -> Date {
        self.today.add_days(-1)
    }

    /// The `i`-th of `n` days spread evenly over `first..=last - tail`.
    pub fn spread(&self, i: usize, n: usize, tail: i64) -> Date {
        let span = (self.last().days() - tail - self.first.days()).max(0);
        let n = n.max(1) as i64;
        self.first.add_days(span * (2 * i as i64 + 1) / (2 * n))
    }
}
