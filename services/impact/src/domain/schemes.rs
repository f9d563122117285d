//! Disaggregation schemes: how the values of one dimension are grouped in
//! a report. The facts keep raw values (AGE_BAND_18_24), so a scheme is
//! applied when a figure is counted, and every version of every scheme
//! stays answerable: adding a version — a finer grouping, a value the older
//! one did not know — never changes a figure asked for with an older one.

use markaz_proto::impact::v1::Dimension;

/// One version of a scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheme {
    pub code: &'static str,
    pub version: i32,
    pub dimension: Dimension,
    /// Arabic, English.
    pub name: (&'static str, &'static str),
    /// Each group and the raw values in it.
    pub groups: &'static [(&'static str, &'static [&'static str])],
    /// The group of a value no group lists.
    pub other: &'static str,
}

impl Scheme {
    /// "age-groups/2".
    pub fn label(&self) -> String {
        format!("{}/{}", self.code, self.version)
    }

    /// The group of a raw value.
    pub fn group_of(&self, value: &str) -> &'static str {
        self.groups
            .iter()
            .find(|(_, values)| values.contains(&value))
            .map_or(self.other, |(g, _)| g)
    }
}

/// Every scheme, each version apart, oldest first.
pub const SCHEMES: &[Scheme] = &[
    Scheme {
        code: "age-groups",
        version: 1,
        dimension: Dimension::AgeBand,
        name: ("الفئات العمرية (٢٠٢٤)", "Age groups (2024)"),
        groups: &[
            ("youth", &["AGE_BAND_UNDER_18", "AGE_BAND_18_24"]),
            (
                "adults",
                &[
                    "AGE_BAND_25_34",
                    "AGE_BAND_35_44",
                    "AGE_BAND_45_54",
                    "AGE_BAND_55_64",
                ],
            ),
            ("older", &["AGE_BAND_65_AND_OVER"]),
        ],
        other: "undisclosed",
    },
    // The donors' 2026 template separates minors and young adults.
    Scheme {
        code: "age-groups",
        version: 2,
        dimension: Dimension::AgeBand,
        name: ("الفئات العمرية (٢٠٢٦)", "Age groups (2026)"),
        groups: &[
            ("minors", &["AGE_BAND_UNDER_18"]),
            ("youth", &["AGE_BAND_18_24"]),
            ("young-adults", &["AGE_BAND_25_34"]),
            (
                "adults",
                &["AGE_BAND_35_44", "AGE_BAND_45_54", "AGE_BAND_55_64"],
            ),
            ("older", &["AGE_BAND_65_AND_OVER"]),
        ],
        other: "undisclosed",
    },
    Scheme {
        code: "stakeholder-groups",
        version: 1,
        dimension: Dimension::ParticipantCategory,
        name: ("فئات الأطراف", "Stakeholder groups"),
        groups: &[
            (
                "civil-society",
                &["local_organization_member", "civil_society_leader"],
            ),
            ("authorities", &["local_administration"]),
            ("international", &["international_organization", "donor"]),
            ("individuals", &["individual"]),
        ],
        other: "other",
    },
];

/// Version `version` of scheme `code` (0: its newest).
pub fn scheme(code: &str, version: i32) -> Option<&'static Scheme> {
    let mut versions = SCHEMES.iter().filter(|s| s.code == code);
    if version == 0 {
        versions.max_by_key(|s| s.version)
    } else {
        versions.find(|s| s.version == version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_differ_and_every_value_has_one_group() {
        let v1 = scheme("age-groups", 1).unwrap();
        let v2 = scheme("age-groups", 0).unwrap();
        assert_eq!(v2.version, 2);
        assert_eq!(v1.group_of("AGE_BAND_UNDER_18"), "youth");
        assert_eq!(v2.group_of("AGE_BAND_UNDER_18"), "minors");
        assert_eq!(v2.group_of("AGE_BAND_UNSPECIFIED"), "undisclosed");
        for s in SCHEMES {
            let mut all: Vec<&str> = s
                .groups
                .iter()
                .flat_map(|(_, v)| v.iter().copied())
                .collect();
            let n = all.len();
            all.sort_unstable();
            all.dedup();
            assert_eq!(all.len(), n, "{} lists a value twice", s.label());
        }
        assert!(scheme("age-groups", 3).is_none());
    }
}
