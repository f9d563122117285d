//! Recommendations: the open courses that cover an organization's weakest
//! capacity domains, by its latest assessment.

use markaz_kit::time::Date;
use markaz_proto::common::v1::CapacityDomain;

/// The best score of an OCA domain (1 nascent .. 4 mature).
pub const OCA_MAX: i32 = 4;
pub const DEFAULT_RECOMMENDATIONS: i32 = 10;
pub const MAX_RECOMMENDATIONS: i32 = 50;

/// The latest assessment of an organization, as membership reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub assessment_id: String,
    pub assessed_on: Date,
    pub scores: Vec<(CapacityDomain, i32)>,
}

/// The domains scored below mature, weakest first (ties in OCA order).
pub fn weakest_domains(scores: &[(CapacityDomain, i32)]) -> Vec<(CapacityDomain, i32)> {
    let mut weak: Vec<_> = scores
        .iter()
        .copied()
        .filter(|(_, s)| *s < OCA_MAX)
        .collect();
    weak.sort_by_key(|(d, s)| (*s, *d as i32));
    weak
}

/// A course that might be recommended: the domains its topics build.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: String,
    pub domains: Vec<CapacityDomain>,
    pub start: Date,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    /// Index into the candidates.
    pub index: usize,
    /// Weak domains covered, weakest first.
    pub covered: Vec<CapacityDomain>,
    pub relevance: i32,
}

/// Ranks `candidates` for an organization assessed `scores`: a course is
/// worth the sum of the gaps (4 minus the score) of the weak domains it
/// covers. Courses that cover none are left out. Order: most relevant, then
/// the one covering the weakest domain, then the soonest, then by id.
pub fn rank_courses(scores: &[(CapacityDomain, i32)], candidates: &[Candidate]) -> Vec<Ranked> {
    let weak = weakest_domains(scores);
    let mut ranked: Vec<(Ranked, i32)> = candidates
        .iter()
        .enumerate()
        .filter_map(|(index, c)| {
            let covered: Vec<(CapacityDomain, i32)> = weak
                .iter()
                .copied()
                .filter(|(d, _)| c.domains.contains(d))
                .collect();
            if covered.is_empty() {
                return None;
            }
            let relevance = covered.iter().map(|(_, s)| OCA_MAX - s).sum();
            let weakest = covered[0].1;
            Some((
                Ranked {
                    index,
                    covered: covered.into_iter().map(|(d, _)| d).collect(),
                    relevance,
                },
                weakest,
            ))
        })
        .collect();
    ranked.sort_by(|(a, wa), (b, wb)| {
        b.relevance
            .cmp(&a.relevance)
            .then(wa.cmp(wb))
            .then(candidates[a.index].start.cmp(&candidates[b.index].start))
            .then(candidates[a.index].id.cmp(&candidates[b.index].id))
    });
    ranked.into_iter().map(|(r, _)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recommendations_rank_by_the_gap_they_cover() {
        use CapacityDomain as D;
        let scores = [
            (D::Governance, 3),
            (D::Administration, 4),
            (D::HumanResources, 2),
            (D::FinancialManagement, 1),
            (D::OrganizationalManagement, 4),
            (D::ProgramManagement, 2),
            (D::ProjectPerformanceManagement, 3),
        ];
        assert_eq!(
            weakest_domains(&scores),
            [
                (D::FinancialManagement, 1),
                (D::HumanResources, 2),
                (D::ProgramManagement, 2),
                (D::Governance, 3),
                (D::ProjectPerformanceManagement, 3),
            ]
        );
        let day = |d| Date::new(2026, 5, d).unwrap();
        let candidates = vec![
            // Covers only a mature domain: left out.
            Candidate {
                id: "admin".into(),
                domains: vec![D::Administration],
                start: day(1),
            },
            // Gap 3 (finance).
            Candidate {
                id: "finance-late".into(),
                domains: vec![D::FinancialManagement],
                start: day(20),
            },
            // Gap 2 + 1 = 3 as well, but its weakest covered domain scores 2
            // where the finance courses cover a 1: after them.
            Candidate {
                id: "hr-governance".into(),
                domains: vec![D::HumanResources, D::Governance],
                start: day(2),
            },
            // Gap 3, the same as finance-late, but sooner.
            Candidate {
                id: "finance-soon".into(),
                domains: vec![D::FinancialManagement, D::Administration],
                start: day(5),
            },
            // Gap 2 + 1 + 3 = 6: first.
            Candidate {
                id: "projects".into(),
                domains: vec![
                    D::ProgramManagement,
                    D::ProjectPerformanceManagement,
                    D::FinancialManagement,
                ],
                start: day(30),
            },
        ];
        let ranked = rank_courses(&scores, &candidates);
        let ids: Vec<&str> = ranked
            .iter()
            .map(|r| candidates[r.index].id.as_str())
            .collect();
        assert_eq!(
            ids,
            ["projects", "finance-soon", "finance-late", "hr-governance"]
        );
        assert_eq!(ranked[0].relevance, 6);
        assert_eq!(
            ranked[0].covered,
            [
                D::FinancialManagement,
                D::ProgramManagement,
                D::ProjectPerformanceManagement
            ]
        );
        // A fully mature organization gets nothing recommended.
        let mature: Vec<_> = scores.iter().map(|(d, _)| (*d, 4)).collect();
        assert!(rank_courses(&mature, &candidates).is_empty());
    }
}
