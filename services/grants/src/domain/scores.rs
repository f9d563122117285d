//! Scores: a reviewer's sheet against the rubric, weighted totals and the
//! ranking, in integers.

use std::cmp::Ordering;

use markaz_kit::error::{AllValid, Error, Result, Violations};
use markaz_kit::validate;
use markaz_proto::grants::v1 as api;

use super::PROSE_MAX;
use super::calls::Rubric;

/// A reviewer's scores, one per criterion of the rubric, in rubric order.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    pub scores: Vec<(String, i32, String)>,
    pub comment: String,
}

pub fn parse_sheet(
    scores: &[api::CriterionScore],
    comment: &str,
    rubric: &Rubric,
) -> Result<Sheet> {
    let mut v = Violations::new();
    let mut by_code: Vec<Option<(i32, String)>> = vec![None; rubric.criteria.len()];
    for (i, s) in scores.iter().enumerate() {
        let f = |n: &str| format!("scores[{i}].{n}");
        let Some(pos) = rubric
            .criteria
            .iter()
            .position(|c| c.code == s.criterion_code)
        else {
            v.add(
                f("criterion_code"),
                format!("'{}' is not a criterion of the rubric", s.criterion_code),
            );
            continue;
        };
        if !(0..=rubric.max_score).contains(&s.score) {
            v.add(f("score"), format!("from 0 to {}", rubric.max_score));
        }
        let comment = v.take(validate::prose(&f("comment"), &s.comment, PROSE_MAX, false));
        if by_code[pos].is_some() {
            v.add(
                f("criterion_code"),
                format!("'{}' is scored twice", s.criterion_code),
            );
        } else {
            by_code[pos] = Some((s.score, comment.unwrap_or_default()));
        }
    }
    let ((), comment) = (
        v.finish(),
        validate::prose("comment", comment, PROSE_MAX, false),
    )
        .all()?;
    // Every criterion scored: asked of a sheet that is otherwise good.
    let mut sheet = Vec::with_capacity(by_code.len());
    let mut unscored = Vec::new();
    for (c, s) in rubric.criteria.iter().zip(by_code) {
        match s {
            Some((score, comment)) => sheet.push((c.code.clone(), score, comment)),
            None => unscored.push(c.code.as_str()),
        }
    }
    if !unscored.is_empty() {
        return Err(Error::invalid(
            "scores",
            format!("every criterion is scored; missing {}", unscored.join(", ")),
        ));
    }
    Ok(Sheet {
        scores: sheet,
        comment,
    })
}

/// sum(score × weight) of a sheet.
pub fn weighted_total(rubric: &Rubric, sheet: &Sheet) -> i64 {
    sheet
        .scores
        .iter()
        .map(|(code, score, _)| {
            let weight = rubric
                .criteria
                .iter()
                .find(|c| &c.code == code)
                .map_or(0, |c| c.weight);
            i64::from(*score) * i64::from(weight)
        })
        .sum()
}

/// `sum / (count × max_total)` in basis points, rounded down; 0 without sheets.
pub fn basis_points(sum: i64, count: i64, max_total: i64) -> i32 {
    if count <= 0 || max_total <= 0 {
        return 0;
    }
    (i128::from(sum) * 10_000 / (i128::from(count) * i128::from(max_total))) as i32
}

/// One proposal's sheets that count, for the ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct RankInput {
    pub proposal_id: String,
    pub totals: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub proposal_id: String,
    pub rank: i32,
    pub review_count: i32,
    pub basis_points: i32,
}

/// Ranks by the mean weighted total, compared exactly as fractions (no
/// rounding decides an order). Equal means share a rank (1, 2, 2, 4);
/// proposals without a sheet come last with rank 0.
pub fn rank(inputs: Vec<RankInput>, max_total: i64) -> Vec<Ranked> {
    let mut scored: Vec<(RankInput, i64, i64)> = Vec::new();
    let mut unscored: Vec<RankInput> = Vec::new();
    for i in inputs {
        if i.totals.is_empty() {
            unscored.push(i);
        } else {
            let sum: i64 = i.totals.iter().sum();
            let n = i.totals.len() as i64;
            scored.push((i, sum, n));
        }
    }
    let cmp_mean = |a: &(RankInput, i64, i64), b: &(RankInput, i64, i64)| {
        (i128::from(a.1) * i128::from(b.2)).cmp(&(i128::from(b.1) * i128::from(a.2)))
    };
    scored.sort_by(|a, b| {
        cmp_mean(b, a)
            .then(b.2.cmp(&a.2))
            .then(a.0.proposal_id.cmp(&b.0.proposal_id))
    });
    let mut out = Vec::with_capacity(scored.len() + unscored.len());
    for (pos, entry) in scored.iter().enumerate() {
        let rank = if pos > 0 && cmp_mean(&scored[pos - 1], entry) == Ordering::Equal {
            out.last().map_or(1, |r: &Ranked| r.rank)
        } else {
            pos as i32 + 1
        };
        out.push(Ranked {
            proposal_id: entry.0.proposal_id.clone(),
            rank,
            review_count: entry.2 as i32,
            basis_points: basis_points(entry.1, entry.2, max_total),
        });
    }
    unscored.sort_by(|a, b| a.proposal_id.cmp(&b.proposal_id));
    out.extend(unscored.into_iter().map(|u| Ranked {
        proposal_id: u.proposal_id,
        rank: 0,
        review_count: 0,
        basis_points: 0,
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calls::Criterion;
    use markaz_proto::common::v1::LocalizedText;

    #[test]
    fn scores_cover_the_rubric_and_rank_exactly() {
        let rubric = Rubric {
            max_score: 5,
            criteria: vec![
                Criterion {
                    code: "need".into(),
                    name: LocalizedText::default(),
                    guidance: LocalizedText::default(),
                    weight: 3,
                },
                Criterion {
                    code: "budget".into(),
                    name: LocalizedText::default(),
                    guidance: LocalizedText::default(),
                    weight: 1,
                },
            ],
        };
        let s = |code: &str, score| api::CriterionScore {
            criterion_code: code.into(),
            score,
            comment: String::new(),
        };
        let sheet = parse_sheet(&[s("budget", 2), s("need", 5)], "", &rubric).unwrap();
        assert_eq!(weighted_total(&rubric, &sheet), 17);
        assert_eq!(rubric.max_total(), 20);
        assert_eq!(basis_points(17, 1, 20), 8_500);
        assert!(parse_sheet(&[s("need", 5)], "", &rubric).is_err());
        assert!(parse_sheet(&[s("need", 6), s("budget", 1)], "", &rubric).is_err());
        assert!(parse_sheet(&[s("need", 1), s("need", 1)], "", &rubric).is_err());

        let r = |id: &str, totals: &[i64]| RankInput {
            proposal_id: id.into(),
            totals: totals.to_vec(),
        };
        // b: 17, a: (10+20)/2 = 15, c: 15, d: none. 1/3 rounding never decides.
        let ranked = rank(
            vec![r("a", &[10, 20]), r("b", &[17]), r("c", &[15]), r("d", &[])],
            20,
        );
        let got: Vec<_> = ranked
            .iter()
            .map(|x| (x.proposal_id.as_str(), x.rank, x.basis_points))
            .collect();
        assert_eq!(
            got,
            [
                ("b", 1, 8_500),
                ("a", 2, 7_500),
                ("c", 2, 7_500),
                ("d", 0, 0)
            ]
        );
    }
}
