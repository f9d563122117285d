//! The suppression property test: thousands of seeded tables of the shape a
//! donor can ask of one tenant, indicator and quarter — a total, its split
//! by gender and its split by branch, which is everything `GetIndicators`
//! answers about them whatever the request (no cross of two dimensions, no
//! sum across quarters or tenants) — and an attacker, written here apart
//! from the service's own check, trying to recover every withheld value
//! from everything published.
//!
//! The attacker knows every published value, that the total is the sum of
//! each split, which values are withheld, and even which of those are small
//! (1 to threshold − 1) and which are complements (threshold or more). It
//! tries two ways:
//!
//! * linear algebra in floating point: a withheld value is determined when
//!   its unit vector lies in the row space of the equations;
//! * exhaustive search: for every value a withheld cell could take, whether
//!   some total and some values of the other withheld cells satisfy every
//!   equation and bound. Given the total, the splits are independent, and a
//!   sum of bounded integers takes every value between its bounds, so the
//!   search over the total and the cell is exact.
//!
//! A withheld value is recovered when either leaves it one value. None may
//! be; and the suppression must not lie: every published value is true,
//! every small count is withheld, no zero is.

use markaz_impact::domain::suppression::{Table, is_small, lines_table, suppress};

struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A quarter's records, each with a gender and a branch, skewed so that
/// small cells are common.
fn generate(g: &mut Seeded) -> (i64, Vec<Vec<i64>>) {
    let genders = 1 + g.below(3) as usize;
    let branches = 1 + g.below(4) as usize;
    let records = g.below(45);
    let mut by_gender = vec![0i64; genders];
    let mut by_branch = vec![0i64; branches];
    for _ in 0..records {
        // Skewed: the first value of each dimension takes most records.
        let pick = |g: &mut Seeded, n: usize| {
            if g.below(3) == 0 {
                g.below(n as u64) as usize
            } else {
                0
            }
        };
        by_gender[pick(g, genders)] += 1;
        by_branch[pick(g, branches)] += 1;
    }
    let lines = match g.below(3) {
        0 => vec![by_gender],
        1 => vec![by_branch],
        _ => vec![by_gender, by_branch],
    };
    (records as i64, lines)
}

/// What the attacker may assume of value `i`.
fn bounds(table: &Table, hidden: &[bool], i: usize, t: i64, cap: i64) -> (i64, i64) {
    let v = table.values[i];
    if !hidden[i] {
        (v, v)
    } else if is_small(v, t) {
        (1, t - 1)
    } else {
        (t, cap)
    }
}

/// Whether, with the total at `total`, value `i` can be `v` (`None`: any
/// value of it) — every split satisfiable within its bounds.
fn consistent(
    table: &Table,
    hidden: &[bool],
    t: i64,
    cap: i64,
    total: i64,
    fixed: Option<(usize, i64)>,
) -> bool {
    table.equations.iter().all(|e| {
        let (mut lo, mut hi) = (0i64, 0i64);
        for &c in &e.rhs {
            let (a, b) = match fixed {
                Some((i, v)) if i == c => (v, v),
                _ => bounds(table, hidden, c, t, cap),
            };
            lo += a;
            hi += b;
        }
        lo <= total && total <= hi
    })
}

/// Every value the exhaustive attacker finds possible for value `i`, up to
/// two (two is enough: not recovered).
fn possible(table: &Table, hidden: &[bool], i: usize, t: i64, cap: i64) -> Vec<i64> {
    let (tlo, thi) = bounds(table, hidden, 0, t, cap);
    let (lo, hi) = bounds(table, hidden, i, t, cap);
    let mut found = Vec::new();
    for v in lo..=hi {
        let ok = (tlo..=thi).any(|total| {
            if i == 0 {
                total == v && consistent(table, hidden, t, cap, total, None)
            } else {
                consistent(table, hidden, t, cap, total, Some((i, v)))
            }
        });
        if ok {
            found.push(v);
            if found.len() == 2 {
                break;
            }
        }
    }
    found
}

/// Whether the equations alone determine value `i`: its unit vector is in
/// their row space (floating-point elimination, partial pivoting).
fn determined(table: &Table, hidden: &[bool], i: usize) -> bool {
    let vars: Vec<usize> = (0..table.values.len()).filter(|&k| hidden[k]).collect();
    let mut rows: Vec<Vec<f64>> = table
        .equations
        .iter()
        .map(|e| {
            let mut row = vec![0.0; vars.len()];
            for (k, &var) in vars.iter().enumerate() {
                if var == e.lhs {
                    row[k] += 1.0;
                }
                if e.rhs.contains(&var) {
                    row[k] -= 1.0;
                }
            }
            row
        })
        .collect();
    let rank = |rows: &mut Vec<Vec<f64>>| -> usize {
        let (mut r, width) = (0, vars.len());
        for c in 0..width {
            let Some(p) = (r..rows.len())
                .max_by(|&a, &b| rows[a][c].abs().partial_cmp(&rows[b][c].abs()).unwrap())
            else {
                break;
            };
            if rows[p][c].abs() < 1e-9 {
                continue;
            }
            rows.swap(r, p);
            for k in 0..rows.len() {
                if k != r {
                    let f = rows[k][c] / rows[r][c];
                    let pivot = rows[r].clone();
                    for (x, y) in rows[k].iter_mut().zip(&pivot) {
                        *x -= f * y;
                    }
                }
            }
            r += 1;
        }
        r
    };
    let Some(col) = vars.iter().position(|&v| v == i) else {
        return true;
    };
    let before = rank(&mut rows.clone());
    let mut unit = vec![0.0; vars.len()];
    unit[col] = 1.0;
    rows.push(unit);
    rank(&mut rows) == before
}

const TABLES: usize = 20_000;

#[test]
fn no_withheld_cell_can_be_recovered_from_everything_a_donor_sees() {
    // A fixed seed, so a failure repeats; MARKAZ_SUPPRESSION_SEED tries
    // another (any number but 0).
    let seed = std::env::var("MARKAZ_SUPPRESSION_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6d61_726b_617a_0014_u64);
    let mut g = Seeded(seed);
    let (mut tables, mut withheld, mut complements, mut whole) = (0, 0, 0, 0);
    for _ in 0..TABLES {
        let (total, lines) = generate(&mut g);
        let t = 3 + g.below(5) as i64;
        let (table, _) = lines_table(total, &lines);
        let s = suppress(&table, t);
        let hidden = s.hidden;
        tables += 1;
        if s.whole {
            // Nothing of it is published, not even which cells are zero.
            assert!(hidden.iter().all(|h| *h));
            whole += 1;
            continue;
        }
        let cap = 4 * total.max(t) + 10;
        for (i, &v) in table.values.iter().enumerate() {
            if is_small(v, t) {
                assert!(hidden[i], "a small value published: {table:?} at {t}");
            }
            if v == 0 {
                assert!(!hidden[i], "a zero withheld: {table:?}");
            }
            if !hidden[i] {
                continue;
            }
            withheld += 1;
            if !is_small(v, t) {
                complements += 1;
            }
            assert!(
                !determined(&table, &hidden, i),
                "value {i} ({v}) determined by the equations: {table:?} {hidden:?} at {t}"
            );
            let p = possible(&table, &hidden, i, t, cap);
            assert!(
                p.len() >= 2,
                "value {i} ({v}) pinned to {p:?}: {table:?} {hidden:?} at {t}"
            );
            // The search is sound: the truth is among what it allows.
            assert!(consistent(&table, &hidden, t, cap, total, Some((i, v))));
        }
    }
    // The generator did make the cases the test is about.
    assert_eq!(tables, TABLES);
    eprintln!(
        "seed {seed}: {tables} tables, {withheld} values withheld, {complements} complements, {whole} withheld whole"
    );
    assert!(withheld > TABLES / 2, "{withheld} values withheld");
    assert!(complements > TABLES / 20, "{complements} complements");
    // Withholding a table whole is the last resort, for small totals.
    assert!(whole < tables / 10, "{whole} tables withheld whole");
}

#[test]
fn the_attacker_recovers_what_primary_suppression_alone_leaves() {
    // The attacker is not toothless: with small cells withheld and nothing
    // else, it recovers them.
    let (table, _) = lines_table(30, &[vec![3, 27]]);
    let hidden = vec![false, true, false];
    assert!(determined(&table, &hidden, 1));
    let (table, _) = lines_table(52, &[vec![1, 1, 50]]);
    let hidden = vec![false, true, true, false];
    assert!(!determined(&table, &hidden, 1));
    assert_eq!(possible(&table, &hidden, 1, 5, 300), vec![1]);
    let (table, _) = lines_table(58, &[vec![4, 4, 50]]);
    let hidden = vec![false, true, true, false];
    assert_eq!(possible(&table, &hidden, 2, 5, 300), vec![4]);
    // A withheld total split two ways, each split fully published.
    let (table, _) = lines_table(12, &[vec![6, 6], vec![12]]);
    let hidden = vec![true, false, false, false];
    assert!(determined(&table, &hidden, 0));
}
