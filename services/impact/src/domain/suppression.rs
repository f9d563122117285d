//! Small-cell suppression of what donors see: a count below the tenant's
//! threshold is withheld (primary suppression), and further values are
//! withheld until none of the withheld ones can be worked out from what is
//! published (complementary suppression).
//!
//! A table is a set of values and the equations that bind them — a total
//! equals the sum of its cells, one equation per way of splitting it. What
//! a donor can ask of one tenant, indicator and quarter is always answered
//! from the same protected table (every split is computed and protected
//! together, whatever the request asked for), so two overlapping queries
//! see the same withheld values and nothing more.
//!
//! The attacker the protection is computed against knows every published
//! value, every equation, which values are withheld, the threshold, and
//! even which withheld values are small (1 to threshold − 1) and which are
//! withheld only to protect them (threshold or more, since anything
//! smaller is small itself). A withheld value is safe when that attacker
//! still has at least two values for it: neither the linear equations
//! (exact rational elimination) nor the bounds (propagated to a fixed point
//! over the equations and every combination elimination finds) pin it.

/// A table: `values[i]` and equations `values[lhs] = Σ values[rhs]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub values: Vec<i64>,
    pub equations: Vec<Equation>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equation {
    pub lhs: usize,
    pub rhs: Vec<usize>,
}

/// The default threshold, and the range a tenant may set.
pub const DEFAULT_THRESHOLD: i64 = 5;
pub const MIN_THRESHOLD: i64 = 3;
pub const MAX_THRESHOLD: i64 = 100;

/// What is withheld of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    /// Per value, withheld.
    pub hidden: Vec<bool>,
    /// The whole table is withheld, down to which of its cells are zero:
    /// when even withholding every non-zero value leaves one recoverable
    /// (a total of 2 split into two cells, each at least 1, is 1 + 1), the
    /// cells themselves must not be listed, zero or not.
    pub whole: bool,
}

/// What of `table` is withheld at `threshold` (≥ 3: at 2 a withheld small
/// count could only be 1).
pub fn suppress(table: &Table, threshold: i64) -> Suppressed {
    let n = table.values.len();
    let mut hidden: Vec<bool> = table
        .values
        .iter()
        .map(|&v| is_small(v, threshold))
        .collect();
    // Each round withholds one more value, so this ends.
    for _ in 0..=n {
        let Some(exposed) = recoverable(table, &hidden, threshold) else {
            return Suppressed {
                hidden,
                whole: false,
            };
        };
        match partner(table, &hidden, exposed) {
            Some(p) => hidden[p] = true,
            None => break,
        }
    }
    for (i, h) in hidden.iter_mut().enumerate() {
        *h = *h || table.values[i] != 0;
    }
    let whole = recoverable(table, &hidden, threshold).is_some();
    if whole {
        hidden.iter_mut().for_each(|h| *h = true);
    }
    Suppressed { hidden, whole }
}

/// A count the threshold withholds: above zero, below the threshold.
pub fn is_small(v: i64, threshold: i64) -> bool {
    v > 0 && v < threshold
}

/// The published value to withhold next to protect `exposed`: the smallest
/// non-zero one sharing an equation with it, a cell before a total; none
/// when every value around it is withheld or zero.
fn partner(table: &Table, hidden: &[bool], exposed: usize) -> Option<usize> {
    let mut best: Option<(bool, i64, usize)> = None;
    for e in &table.equations {
        let members: Vec<usize> = std::iter::once(e.lhs)
            .chain(e.rhs.iter().copied())
            .collect();
        if !members.contains(&exposed) {
            continue;
        }
        for &m in &members {
            if hidden[m] || table.values[m] == 0 {
                continue;
            }
            let key = (m == e.lhs, table.values[m], m);
            if best.is_none_or(|b| key < b) {
                best = Some(key);
            }
        }
    }
    if best.is_none() {
        // Nothing beside it: widen to any published value linked to it
        // through a withheld one.
        for e in &table.equations {
            let members: Vec<usize> = std::iter::once(e.lhs)
                .chain(e.rhs.iter().copied())
                .collect();
            if !members.iter().any(|&m| hidden[m]) {
                continue;
            }
            for &m in &members {
                if !hidden[m] && table.values[m] != 0 {
                    let key = (m == e.lhs, table.values[m], m);
                    if best.is_none_or(|b| key < b) {
                        best = Some(key);
                    }
                }
            }
        }
    }
    best.map(|(_, _, m)| m)
}

/// A withheld value the attacker can pin, if any.
pub fn recoverable(table: &Table, hidden: &[bool], threshold: i64) -> Option<usize> {
    let vars: Vec<usize> = (0..table.values.len()).filter(|&i| hidden[i]).collect();
    if vars.is_empty() {
        return None;
    }
    let col = |i: usize| vars.iter().position(|&v| v == i);
    // Each equation as Σ a_j x_j = c over the withheld values.
    let mut rows: Vec<(Vec<i128>, i128)> = Vec::new();
    for e in &table.equations {
        let mut coef = vec![0i128; vars.len()];
        let mut c: i128 = 0;
        let mut add = |i: usize, sign: i128| match col(i) {
            Some(k) => coef[k] += sign,
            None => c -= sign * i128::from(table.values[i]),
        };
        add(e.lhs, 1);
        for &r in &e.rhs {
            add(r, -1);
        }
        if coef.iter().any(|&a| a != 0) {
            rows.push((coef, c));
        }
    }
    let reduced = rref(rows.clone());
    // Exactly determined by the equations.
    for (coef, _) in &reduced {
        let nonzero: Vec<usize> = (0..coef.len()).filter(|&k| coef[k] != 0).collect();
        if nonzero.len() == 1 {
            return Some(vars[nonzero[0]]);
        }
    }
    // Pinned by the bounds.
    let mut lo: Vec<i128> = Vec::with_capacity(vars.len());
    let mut hi: Vec<i128> = Vec::with_capacity(vars.len());
    for &i in &vars {
        if is_small(table.values[i], threshold) {
            lo.push(1);
            hi.push(i128::from(threshold - 1));
        } else {
            lo.push(i128::from(threshold));
            hi.push(i128::MAX / 4);
        }
    }
    let all: Vec<(Vec<i128>, i128)> = rows.into_iter().chain(reduced).collect();
    for _ in 0..64 {
        let mut changed = false;
        for (coef, c) in &all {
            for k in 0..coef.len() {
                if coef[k] == 0 {
                    continue;
                }
                // a_k x_k = c − Σ_{j≠k} a_j x_j
                let (mut rest_lo, mut rest_hi) = (0i128, 0i128);
                for j in 0..coef.len() {
                    if j == k || coef[j] == 0 {
                        continue;
                    }
                    let (a, b) = (coef[j] * lo[j], coef[j] * hi[j]);
                    rest_lo = rest_lo.saturating_add(a.min(b));
                    rest_hi = rest_hi.saturating_add(a.max(b));
                }
                let (num_lo, num_hi) = (c.saturating_sub(rest_hi), c.saturating_sub(rest_lo));
                let a = coef[k];
                let (new_lo, new_hi) = if a > 0 {
                    (ceil_div(num_lo, a), floor_div(num_hi, a))
                } else {
                    (ceil_div(num_hi, a), floor_div(num_lo, a))
                };
                if new_lo > lo[k] {
                    lo[k] = new_lo;
                    changed = true;
                }
                if new_hi < hi[k] {
                    hi[k] = new_hi;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    (0..vars.len()).find(|&k| lo[k] >= hi[k]).map(|k| vars[k])
}

fn floor_div(a: i128, b: i128) -> i128 {
    let q = a / b;
    if (a % b != 0) && ((a < 0) != (b < 0)) {
        q - 1
    } else {
        q
    }
}

fn ceil_div(a: i128, b: i128) -> i128 {
    -floor_div(-a, b)
}

fn gcd(a: i128, b: i128) -> i128 {
    if b == 0 { a.abs() } else { gcd(b, a % b) }
}

/// Reduced row echelon form over the integers (each row scaled to its
/// smallest integer multiple): the same row space as the equations.
pub fn rref(mut rows: Vec<(Vec<i128>, i128)>) -> Vec<(Vec<i128>, i128)> {
    let width = rows.first().map_or(0, |r| r.0.len());
    let mut pivot_row = 0;
    for col in 0..width {
        let Some(p) = (pivot_row..rows.len()).find(|&r| rows[r].0[col] != 0) else {
            continue;
        };
        rows.swap(pivot_row, p);
        let (pc, pv) = rows[pivot_row].clone();
        for (r, row) in rows.iter_mut().enumerate() {
            if r == pivot_row || row.0[col] == 0 {
                continue;
            }
            let f = row.0[col];
            let g = pc[col];
            for (a, p) in row.0.iter_mut().zip(&pc) {
                *a = *a * g - p * f;
            }
            row.1 = row.1 * g - pv * f;
            normalize(row);
        }
        pivot_row += 1;
        if pivot_row == rows.len() {
            break;
        }
    }
    rows.retain(|r| r.0.iter().any(|&a| a != 0));
    for r in rows.iter_mut() {
        normalize(r);
    }
    rows
}

fn normalize(row: &mut (Vec<i128>, i128)) {
    let g = row.0.iter().fold(row.1, |g, &a| gcd(g, a));
    if g > 1 {
        for a in row.0.iter_mut() {
            *a /= g;
        }
        row.1 /= g;
    }
}

/// The table of a total split along several lines (by gender, by branch):
/// value 0 is the total, then each line's cells in order; one equation per
/// line. Returns the table and, per line, the indices of its cells.
pub fn lines_table(total: i64, lines: &[Vec<i64>]) -> (Table, Vec<Vec<usize>>) {
    let mut values = vec![total];
    let mut equations = Vec::new();
    let mut indices = Vec::new();
    for line in lines {
        let start = values.len();
        values.extend(line.iter().copied());
        let rhs: Vec<usize> = (start..values.len()).collect();
        indices.push(rhs.clone());
        equations.push(Equation { lhs: 0, rhs });
    }
    (Table { values, equations }, indices)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hidden_of(total: i64, lines: &[Vec<i64>], t: i64) -> Vec<bool> {
        let (table, _) = lines_table(total, lines);
        let s = suppress(&table, t);
        assert!(s.whole || recoverable(&table, &s.hidden, t).is_none());
        s.hidden
    }

    #[test]
    fn nothing_small_nothing_withheld() {
        let h = hidden_of(30, &[vec![10, 20], vec![15, 15]], 5);
        assert!(h.iter().all(|h| !h));
    }

    #[test]
    fn one_small_cell_takes_a_partner() {
        // 3 alone would be 30 − 27: the smallest other cell goes with it.
        let h = hidden_of(30, &[vec![3, 27]], 5);
        assert_eq!(h, vec![false, true, true]);
        let h = hidden_of(40, &[vec![3, 10, 27]], 5);
        assert_eq!(h, vec![false, true, true, false]);
    }

    #[test]
    fn two_small_cells_that_add_up_to_a_pin_are_widened() {
        // 1 + 1 = 2 pins both; 4 + 4 = 8 at threshold 5 pins both too.
        let h = hidden_of(52, &[vec![1, 1, 50]], 5);
        assert_eq!(h, vec![false, true, true, true]);
        let h = hidden_of(58, &[vec![4, 4, 50]], 5);
        assert!(h[3]);
    }

    #[test]
    fn a_small_total_withholds_everything_non_zero() {
        let h = hidden_of(4, &[vec![1, 3, 0], vec![4]], 5);
        assert_eq!(h, vec![true, true, true, false, true]);
    }

    #[test]
    fn a_table_pinned_by_its_own_shape_is_withheld_whole() {
        // 2 = a gender's 2 = two branches' 1 + 1 at threshold 3.
        let (table, _) = lines_table(2, &[vec![2, 0], vec![1, 1]]);
        let s = suppress(&table, 3);
        assert!(s.whole);
        assert!(s.hidden.iter().all(|h| *h));
    }

    #[test]
    fn rref_keeps_the_row_space() {
        let rows = vec![(vec![1, 1, 0], 5), (vec![0, 1, 1], 7), (vec![1, 0, -1], -2)];
        let r = rref(rows);
        assert_eq!(r.len(), 2);
    }
}
