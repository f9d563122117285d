//! What the report prints for a dimension's value: the stored code
//! (`GENDER_FEMALE`, `SECTOR_HEALTH`, `raqqa`) in Arabic or English. Branch
//! and topic names are the tenant's own (membership's branches, capacity's
//! catalogue); the rest are the platform's enumerations, named here once.

use std::collections::HashMap;

use markaz_proto::impact::v1::Dimension;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ar,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Result<Lang, String> {
        match s {
            "ar" => Ok(Lang::Ar),
            "en" => Ok(Lang::En),
            other => Err(format!("--lang is ar or en, not '{other}'")),
        }
    }

    /// The Arabic or the English of a pair, the other when it is missing.
    pub fn pick<'a>(self, ar: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Ar if !ar.is_empty() => ar,
            Lang::En if !en.is_empty() => en,
            _ if ar.is_empty() => en,
            _ => ar,
        }
    }
}

/// The tenant's own names: branch id → (ar, en), topic code → (ar, en).
#[derive(Debug, Default, Clone)]
pub struct Names {
    pub branches: HashMap<String, (String, String)>,
    pub topics: HashMap<String, (String, String)>,
}

/// Arabic and English of the platform's enumerations, by stored name.
const ENUMS: &[(&str, &str, &str)] = &[
    ("GENDER_FEMALE", "إناث", "female"),
    ("GENDER_MALE", "ذكور", "male"),
    ("GENDER_UNDISCLOSED", "غير مصرّح به", "not disclosed"),
    ("GENDER_UNSPECIFIED", "غير مسجّل", "not recorded"),
    ("AGE_BAND_UNDER_18", "دون 18", "under 18"),
    ("AGE_BAND_18_24", "18–24", "18–24"),
    ("AGE_BAND_25_34", "25–34", "25–34"),
    ("AGE_BAND_35_44", "35–44", "35–44"),
    ("AGE_BAND_45_54", "45–54", "45–54"),
    ("AGE_BAND_55_64", "55–64", "55–64"),
    ("AGE_BAND_65_AND_OVER", "65 فأكثر", "65 and over"),
    ("AGE_BAND_UNDISCLOSED", "غير مصرّح به", "not disclosed"),
    ("AGE_BAND_UNSPECIFIED", "غير مسجّل", "not recorded"),
    (
        "COURSE_KIND_TRAINING_COURSE",
        "دورة تدريبية",
        "training course",
    ),
    ("COURSE_KIND_WORKSHOP", "ورشة عمل", "workshop"),
    (
        "COURSE_KIND_TRAINING_OF_TRAINERS",
        "تدريب مدربين",
        "training of trainers",
    ),
    (
        "COURSE_KIND_INCUBATION_ORIENTATION",
        "تعريف ببرنامج الاحتضان",
        "incubation orientation",
    ),
    // Impact answers capacity's kinds as capacity's events name them
    // ("workshop"), though its proto speaks of COURSE_KIND_* names: both
    // are named.
    ("training_course", "دورة تدريبية", "training course"),
    ("workshop", "ورشة عمل", "workshop"),
    (
        "training_of_trainers",
        "تدريب مدربين",
        "training of trainers",
    ),
    (
        "incubation_orientation",
        "تعريف ببرنامج الاحتضان",
        "incubation orientation",
    ),
    ("consultation", "جلسة استشارية", "consultation"),
    ("technical_support", "دعم فني", "technical support"),
    (
        "CONSULTATION_KIND_CONSULTATION",
        "جلسة استشارية",
        "consultation",
    ),
    (
        "CONSULTATION_KIND_TECHNICAL_SUPPORT",
        "دعم فني",
        "technical support",
    ),
    ("ORGANIZATION_KIND_CSO", "منظمة مجتمع مدني", "CSO"),
    ("ORGANIZATION_KIND_INITIATIVE", "مبادرة", "initiative"),
    ("ORGANIZATION_KIND_INGO", "منظمة دولية", "international NGO"),
    (
        "ORGANIZATION_KIND_LOCAL_ADMINISTRATION",
        "إدارة محلية",
        "local administration",
    ),
    ("ORGANIZATION_KIND_DONOR", "جهة مانحة", "donor"),
    ("ORGANIZATION_KIND_OTHER", "أخرى", "other"),
    ("ORGANIZATION_KIND_UNSPECIFIED", "غير محدد", "unspecified"),
    (
        "INCUBATION_STATUS_NONE",
        "خارج برنامج الاحتضان",
        "not in the program",
    ),
    ("INCUBATION_STATUS_APPLICANT", "متقدمة", "applicant"),
    ("INCUBATION_STATUS_INCUBATED", "محتضنة", "incubated"),
    ("INCUBATION_STATUS_GRADUATED", "متخرجة", "graduated"),
    ("INCUBATION_STATUS_WITHDRAWN", "منسحبة", "withdrawn"),
    ("INCUBATION_STATUS_UNSPECIFIED", "غير محدد", "unspecified"),
    ("networking", "فعالية تشبيك", "networking event"),
    (
        "local_administration_meeting",
        "لقاء مع الإدارة المحلية",
        "local-administration meeting",
    ),
    (
        "donor_round_table",
        "طاولة مستديرة مع المانحين",
        "donor round table",
    ),
    ("advocacy_workshop", "ورشة مناصرة", "advocacy workshop"),
    ("coalition_meeting", "اجتماع تحالف", "coalition meeting"),
    (
        "decision_maker_consultation",
        "تشاور مع أصحاب القرار",
        "consultation with decision-makers",
    ),
    (
        "local_organization_member",
        "عضو منظمة محلية",
        "member of a local organization",
    ),
    (
        "civil_society_leader",
        "قيادي في المجتمع المدني",
        "civil-society leader",
    ),
    (
        "international_organization",
        "منظمة دولية",
        "international organization",
    ),
    (
        "local_administration",
        "إدارة محلية",
        "local administration",
    ),
    ("donor", "جهة مانحة", "donor"),
    ("individual", "فرد", "individual"),
    ("study", "دراسة", "study"),
    ("reference", "مرجع", "reference"),
    ("statistics", "إحصاءات", "statistics"),
    ("guide", "دليل", "guide"),
    ("toolkit", "مجموعة أدوات", "toolkit"),
    ("audio", "مادة صوتية", "audio"),
    ("video", "مادة مرئية", "video"),
    // Resources publishes its kinds by their enumeration names, where its
    // event contract (and impact's proto) speak of "study", "meeting_room":
    // both are named.
    ("ITEM_KIND_STUDY", "دراسة", "study"),
    ("ITEM_KIND_REFERENCE", "مرجع", "reference"),
    ("ITEM_KIND_STATISTICS", "إحصاءات", "statistics"),
    ("ITEM_KIND_GUIDE", "دليل", "guide"),
    ("ITEM_KIND_TOOLKIT", "مجموعة أدوات", "toolkit"),
    ("ITEM_KIND_AUDIO", "مادة صوتية", "audio"),
    ("ITEM_KIND_VIDEO", "مادة مرئية", "video"),
    ("ITEM_KIND_OTHER", "أخرى", "other"),
    ("SPACE_KIND_MEETING_ROOM", "قاعة اجتماعات", "meeting room"),
    ("SPACE_KIND_DESK", "مكتب في مساحة العمل", "desk"),
    ("SPACE_KIND_TRAINING_HALL", "قاعة تدريب", "training hall"),
    ("SPACE_KIND_OTHER", "أخرى", "other"),
    ("meeting_room", "قاعة اجتماعات", "meeting room"),
    ("desk", "مكتب في مساحة العمل", "desk"),
    ("training_hall", "قاعة تدريب", "training hall"),
    ("other", "أخرى", "other"),
    ("SECTOR_EDUCATION", "التعليم", "education"),
    ("SECTOR_HEALTH", "الصحة", "health"),
    (
        "SECTOR_WATER_SANITATION_HYGIENE",
        "المياه والإصحاح",
        "water, sanitation, hygiene",
    ),
    ("SECTOR_PROTECTION", "الحماية", "protection"),
    ("SECTOR_LIVELIHOODS", "سبل العيش", "livelihoods"),
    (
        "SECTOR_PSYCHOSOCIAL_SUPPORT",
        "الدعم النفسي الاجتماعي",
        "psychosocial support",
    ),
    (
        "SECTOR_GOVERNANCE_PEACEBUILDING",
        "الحوكمة وبناء السلام",
        "governance, peacebuilding",
    ),
    (
        "SECTOR_WOMEN_EMPOWERMENT",
        "تمكين المرأة",
        "women's empowerment",
    ),
    ("SECTOR_YOUTH", "الشباب", "youth"),
    ("SECTOR_ENVIRONMENT", "البيئة", "environment"),
    ("SECTOR_CULTURE", "الثقافة", "culture"),
    (
        "SECTOR_HUMANITARIAN_RELIEF",
        "الإغاثة",
        "humanitarian relief",
    ),
    (
        "SECTOR_ADVOCACY_RIGHTS",
        "المناصرة والحقوق",
        "advocacy, rights",
    ),
    ("SECTOR_INFRASTRUCTURE", "البنية التحتية", "infrastructure"),
    ("SECTOR_AGRICULTURE", "الزراعة", "agriculture"),
    ("SECTOR_MEDIA", "الإعلام", "media"),
    ("SECTOR_OTHER", "أخرى", "other"),
    ("SECTOR_UNSPECIFIED", "غير محدد", "unspecified"),
];

/// Units of the catalogue.
const UNITS: &[(&str, &str, &str)] = &[
    ("people", "أشخاص", "people"),
    ("courses", "دورات", "courses"),
    ("days", "أيام", "days"),
    ("sessions", "جلسات", "sessions"),
    ("attendances", "حضور", "attendances"),
    ("organizations", "منظمات", "organizations"),
    ("projects", "مشاريع", "projects"),
    ("money", "مبلغ", "money"),
    ("events", "فعاليات", "events"),
    ("coalitions", "تحالفات", "coalitions"),
    ("campaigns", "حملات", "campaigns"),
    ("items", "مواد", "items"),
    ("downloads", "تنزيلات", "downloads"),
    ("bookings", "حجوزات", "bookings"),
];

fn lookup(table: &[(&str, &'static str, &'static str)], code: &str, lang: Lang) -> Option<String> {
    table
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, ar, en)| lang.pick(ar, en).to_string())
}

pub fn unit(code: &str, lang: Lang) -> String {
    lookup(UNITS, code, lang).unwrap_or_else(|| code.to_string())
}

impl Names {
    /// A dimension's value as a reader wants it; the stored value when no
    /// name is known (a branch deleted since, a period).
    pub fn value(&self, dimension: Dimension, value: &str, lang: Lang) -> String {
        if value.is_empty() {
            return "—".into();
        }
        let named = |m: &HashMap<String, (String, String)>| {
            m.get(value).map(|(ar, en)| lang.pick(ar, en).to_string())
        };
        let found = match dimension {
            Dimension::Branch => named(&self.branches),
            Dimension::Topic => named(&self.topics),
            Dimension::Currency
            | Dimension::Month
            | Dimension::Quarter
            | Dimension::Year
            | Dimension::Unspecified => None,
            _ => lookup(ENUMS, value, lang),
        };
        found.unwrap_or_else(|| value.to_string())
    }
}

/// The column header of a dimension.
pub fn dimension(d: Dimension, lang: Lang) -> &'static str {
    let (ar, en) = match d {
        Dimension::Gender => ("الجنس", "gender"),
        Dimension::AgeBand => ("الفئة العمرية", "age band"),
        Dimension::Branch => ("الفرع", "branch"),
        Dimension::Topic => ("الموضوع", "topic"),
        Dimension::CourseKind => ("نوع الدورة", "course kind"),
        Dimension::ConsultationKind => ("نوع الجلسة", "session kind"),
        Dimension::OrganizationKind => ("نوع المنظمة", "organization kind"),
        Dimension::IncubationStatus => ("حالة الاحتضان", "incubation status"),
        Dimension::Sector => ("القطاع", "sector"),
        Dimension::Currency => ("العملة", "currency"),
        Dimension::Month => ("الشهر", "month"),
        Dimension::Quarter => ("الربع", "quarter"),
        Dimension::Year => ("السنة", "year"),
        Dimension::EventKind => ("نوع الفعالية", "event kind"),
        Dimension::ParticipantCategory => ("فئة المشارك", "participant category"),
        Dimension::ResourceKind => ("نوع المادة", "resource kind"),
        Dimension::SpaceKind => ("نوع المساحة", "space kind"),
        Dimension::Unspecified => ("", ""),
    };
    match lang {
        Lang::Ar => ar,
        Lang::En => en,
    }
}

/// `--by` names: `gender`, `age-band`, `branch`, ... (`_` works for `-`).
pub fn parse_dimension(s: &str) -> Result<Dimension, String> {
    let d = match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
        "gender" => Dimension::Gender,
        "age-band" | "age" => Dimension::AgeBand,
        "branch" => Dimension::Branch,
        "topic" => Dimension::Topic,
        "course-kind" => Dimension::CourseKind,
        "consultation-kind" | "session-kind" => Dimension::ConsultationKind,
        "organization-kind" | "org-kind" => Dimension::OrganizationKind,
        "incubation-status" | "incubation" => Dimension::IncubationStatus,
        "sector" => Dimension::Sector,
        "currency" => Dimension::Currency,
        "month" => Dimension::Month,
        "quarter" => Dimension::Quarter,
        "year" => Dimension::Year,
        "event-kind" => Dimension::EventKind,
        "participant-category" | "category" => Dimension::ParticipantCategory,
        "resource-kind" => Dimension::ResourceKind,
        "space-kind" => Dimension::SpaceKind,
        other => {
            return Err(format!(
                "'{other}' is no dimension; one of gender, age-band, branch, topic, \
                 course-kind, consultation-kind, organization-kind, incubation-status, sector, \
                 currency, month, quarter, year, event-kind, participant-category, \
                 resource-kind, space-kind"
            ));
        }
    };
    Ok(d)
}

/// The `--by` name of a dimension (for CSV headers and JSON keys).
pub fn dimension_key(d: Dimension) -> &'static str {
    match d {
        Dimension::Gender => "gender",
        Dimension::AgeBand => "age_band",
        Dimension::Branch => "branch",
        Dimension::Topic => "topic",
        Dimension::CourseKind => "course_kind",
        Dimension::ConsultationKind => "consultation_kind",
        Dimension::OrganizationKind => "organization_kind",
        Dimension::IncubationStatus => "incubation_status",
        Dimension::Sector => "sector",
        Dimension::Currency => "currency",
        Dimension::Month => "month",
        Dimension::Quarter => "quarter",
        Dimension::Year => "year",
        Dimension::EventKind => "event_kind",
        Dimension::ParticipantCategory => "participant_category",
        Dimension::ResourceKind => "resource_kind",
        Dimension::SpaceKind => "space_kind",
        Dimension::Unspecified => "unspecified",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_named_in_either_language_and_kept_when_unknown() {
        let mut names = Names::default();
        names
            .branches
            .insert("raqqa".into(), ("الرقة".into(), "Raqqa".into()));
        assert_eq!(names.value(Dimension::Branch, "raqqa", Lang::Ar), "الرقة");
        assert_eq!(names.value(Dimension::Branch, "raqqa", Lang::En), "Raqqa");
        assert_eq!(
            names.value(Dimension::Branch, "hasakah", Lang::En),
            "hasakah"
        );
        assert_eq!(
            names.value(Dimension::Gender, "GENDER_FEMALE", Lang::Ar),
            "إناث"
        );
        assert_eq!(
            names.value(Dimension::Quarter, "2026-Q1", Lang::Ar),
            "2026-Q1"
        );
        assert_eq!(
            names.value(Dimension::CourseKind, "workshop", Lang::Ar),
            "ورشة عمل"
        );
        assert_eq!(
            names.value(Dimension::ConsultationKind, "technical_support", Lang::En),
            "technical support"
        );
        assert_eq!(names.value(Dimension::Sector, "", Lang::Ar), "—");
        assert_eq!(Lang::Ar.pick("", "Raqqa"), "Raqqa");
    }

    #[test]
    fn every_dimension_has_a_by_name_that_parses_back() {
        for d in [
            Dimension::Gender,
            Dimension::AgeBand,
            Dimension::Branch,
            Dimension::Topic,
            Dimension::CourseKind,
            Dimension::ConsultationKind,
            Dimension::OrganizationKind,
            Dimension::IncubationStatus,
            Dimension::Sector,
            Dimension::Currency,
            Dimension::Month,
            Dimension::Quarter,
            Dimension::Year,
            Dimension::EventKind,
            Dimension::ParticipantCategory,
            Dimension::ResourceKind,
            Dimension::SpaceKind,
        ] {
            assert_eq!(parse_dimension(dimension_key(d)).unwrap(), d);
            assert!(!dimension(d, Lang::Ar).is_empty());
        }
        assert!(parse_dimension("colour").is_err());
    }
}
