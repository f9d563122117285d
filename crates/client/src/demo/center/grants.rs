//! The Father Paolo grant round: its themes and money, and the 24 projects'
//! amounts, budgets, tranches, spending and days.

use super::*;

// ------------------------------------------------------------------ grants

pub const PROGRAM_AR: &str = "منحة الأب باولو للمشاريع المجتمعية";
pub const PROGRAM_EN: &str = "Father Paolo Grant for Community Projects";
pub const CALL_AR: &str = "منحة الأب باولو – مشاريع المنظمات المحتضنة";
pub const CALL_EN: &str = "Father Paolo Grant – projects of the incubated organizations";

pub const THEMES: [(&str, &str, &str); 6] = [
    (
        "psychosocial-support",
        "الدعم النفسي",
        "Psychosocial support",
    ),
    ("water", "تأهيل المياه", "Water rehabilitation"),
    ("electricity", "الكهرباء", "Electricity"),
    ("parks", "الحدائق", "Parks"),
    ("advocacy", "حملات المناصرة", "Advocacy campaigns"),
    (
        "services",
        "الخدمات والمبادرات المجتمعية",
        "Community services",
    ),
];

/// The money of the call, USD in cents.
pub const ENVELOPE: i64 = 25_000_000;
pub const CEILING: i64 = 1_000_000;

/// The applicants of the round: every partner but the two that withdrew.
pub fn applicants() -> Vec<usize> {
    partners()
        .filter(|i| ORGS[*i].grant != Grant::None)
        .collect()
}

/// The 24 projects, in [`ORGS`] order, with their number (0..24).
pub fn projects() -> Vec<(usize, usize, Project)> {
    ORGS.iter()
        .enumerate()
        .filter_map(|(i, o)| match o.grant {
            Grant::Project(p) => Some((i, p)),
            _ => None,
        })
        .enumerate()
        .map(|(n, (i, p))| (n, i, p))
        .collect()
}

/// Project `n`'s grant in cents: 5,000.00 to 9,500.00 USD and up to 76.65 more,
/// so the totals have cents to keep exact.
pub fn amount(n: usize) -> i64 {
    500_000 + ((n * 37) % 10) as i64 * 50_000 + (n % 4) as i64 * 2_555
}

/// Its two budget lines (activities, then personnel).
pub fn budget(n: usize) -> (i64, i64) {
    let a = amount(n);
    let first = a * 7 / 10;
    (first, a - first)
}

/// Its two tranches (60 % on the first milestone, the rest on the second).
pub fn tranches(n: usize) -> (i64, i64) {
    let a = amount(n);
    let first = a * 6 / 10;
    (first, a - first)
}

/// What it reported spent per budget line: all, but every third project
/// left ten dollars of its personnel line unspent.
pub fn spent(n: usize) -> (i64, i64) {
    let (a, b) = budget(n);
    (a, if n.is_multiple_of(3) { b - 1_000 } else { b })
}

/// Its dates: start, first milestone, end (before today).
pub fn project_days(cal: &Calendar, n: usize) -> (Date, Date, Date) {
    let span = cal.last().days() - cal.first.days();
    let length = (span / 3).clamp(2, 60);
    let start = cal.spread(n, 24, length);
    (start, start.add_days(length / 2), start.add_days(length))
}
