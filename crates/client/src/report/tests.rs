//! The report's rendering: the table, CSV and JSON of one answer.

use super::*;
use prost_types::Timestamp;

fn def(code: &str, ar: &str, en: &str, unit: &str) -> Option<imp::IndicatorDefinition> {
    Some(imp::IndicatorDefinition {
        code: code.into(),
        name: Some(markaz_proto::common::v1::LocalizedText {
            ar: ar.into(),
            en: en.into(),
        }),
        unit: unit.into(),
        ..Default::default()
    })
}

fn key(pairs: &[(imp::Dimension, &str)]) -> Vec<imp::DimensionValue> {
    pairs
        .iter()
        .map(|(d, v)| imp::DimensionValue {
            dimension: *d as i32,
            value: (*v).into(),
            scheme: String::new(),
        })
        .collect()
}

fn cell(pairs: &[(imp::Dimension, &str)], value: i64) -> imp::Cell {
    imp::Cell {
        key: key(pairs),
        value,
    }
}

/// Trainees and grant money (two currencies) by branch, as
/// GetIndicators answers them.
fn answer() -> imp::GetIndicatorsResponse {
    use imp::Dimension as D;
    imp::GetIndicatorsResponse {
        indicators: vec![
            imp::IndicatorFigures {
                definition: def("trainees", "المتدربون", "Trainees", "people"),
                total: 1256,
                cells: vec![
                    cell(&[(D::Branch, "deir-ez-zor")], 556),
                    cell(&[(D::Branch, "raqqa")], 700),
                ],
                targets: Vec::new(),
            },
            imp::IndicatorFigures {
                definition: def(
                    "grant_amount_disbursed",
                    "المبالغ المصروفة",
                    "Grant amount disbursed",
                    "money",
                ),
                total: 0,
                cells: vec![
                    cell(&[(D::Currency, "EUR"), (D::Branch, "raqqa")], 5),
                    cell(&[(D::Currency, "USD"), (D::Branch, "deir-ez-zor")], 100_000),
                    cell(&[(D::Currency, "USD"), (D::Branch, "raqqa")], 123_456),
                ],
                targets: Vec::new(),
            },
        ],
        freshness: vec![imp::Freshness {
            producer: "capacity".into(),
            last_event_time: Some(Timestamp {
                seconds: 1_767_225_600,
                nanos: 0,
            }),
            applied_time: Some(Timestamp {
                seconds: 1_767_225_601,
                nanos: 0,
            }),
        }],
    }
}

fn query() -> Query {
    Query {
        by: vec![imp::Dimension::Branch],
        ..Query::this_year(Date::new(2026, 3, 4).unwrap())
    }
}

fn names() -> Names {
    let mut names = Names::default();
    names
        .branches
        .insert("raqqa".into(), ("الرقة".into(), "Raqqa".into()));
    names.branches.insert(
        "deir-ez-zor".into(),
        ("دير الزور".into(), "Deir ez-Zor".into()),
    );
    names
}

#[test]
fn the_table_aligns_numbers_right_names_in_arabic_or_english() {
    let ar = render(&answer(), &query(), &names(), Lang::Ar, Format::Table);
    let expected_ar = "\
الفترة 2026-01-01 — 2026-12-31

المؤشر            الرمز                   الفرع            القيمة  الوحدة
────────────────  ──────────────────────  ─────────  ────────────  ──────
المتدربون         trainees                المجموع           1,256  أشخاص
                                          دير الزور           556
                                          الرقة               700
المبالغ المصروفة  grant_amount_disbursed  المجموع        0.05 EUR
                                          المجموع    2,234.56 USD
                                          الرقة          0.05 EUR
                                          دير الزور  1,000.00 USD
                                          الرقة      1,234.56 USD

حداثة البيانات (آخر حدث طُبّق من كل خدمة): capacity 2026-01-01T00:00:00.000Z
";
    assert_eq!(ar, expected_ar, "\n{ar}");
    let en = render(&answer(), &query(), &names(), Lang::En, Format::Table);
    let expected_en = "\
period 2026-01-01 — 2026-12-31

indicator               code                    branch              value  unit
──────────────────────  ──────────────────────  ───────────  ────────────  ──────
Trainees                trainees                total               1,256  people
                                                Deir ez-Zor           556
                                                Raqqa                 700
Grant amount disbursed  grant_amount_disbursed  total            0.05 EUR
                                                total        2,234.56 USD
                                                Raqqa            0.05 EUR
                                                Deir ez-Zor  1,000.00 USD
                                                Raqqa        1,234.56 USD

freshness (the last event applied, per producer): capacity 2026-01-01T00:00:00.000Z
";
    assert_eq!(en, expected_en, "\n{en}");
}

#[test]
fn csv_has_a_row_per_total_and_cell_with_exact_money() {
    let csv = render(
        &answer(),
        &query(),
        &Names::default(),
        Lang::En,
        Format::Csv,
    );
    assert_eq!(
        csv,
        "indicator,name,unit,row,branch,value,currency\n\
             trainees,Trainees,people,total,,1256,\n\
             trainees,Trainees,people,cell,deir-ez-zor,556,\n\
             trainees,Trainees,people,cell,raqqa,700,\n\
             grant_amount_disbursed,Grant amount disbursed,money,total,,0.05,EUR\n\
             grant_amount_disbursed,Grant amount disbursed,money,total,,2234.56,USD\n\
             grant_amount_disbursed,Grant amount disbursed,money,cell,raqqa,0.05,EUR\n\
             grant_amount_disbursed,Grant amount disbursed,money,cell,deir-ez-zor,1000.00,USD\n\
             grant_amount_disbursed,Grant amount disbursed,money,cell,raqqa,1234.56,USD\n"
    );
    let ar = render(
        &answer(),
        &query(),
        &Names::default(),
        Lang::Ar,
        Format::Csv,
    );
    assert!(
        ar.contains("trainees,المتدربون,people,total,,1256,"),
        "{ar}"
    );
}

#[test]
fn json_keeps_codes_and_gives_money_per_currency() {
    let text = render(
        &answer(),
        &query(),
        &Names::default(),
        Lang::Ar,
        Format::Json,
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["from"], "2026-01-01");
    assert_eq!(v["group_by"], json!(["branch"]));
    let trainees = &v["indicators"][0];
    assert_eq!(trainees["code"], "trainees");
    assert_eq!(trainees["name"]["ar"], "المتدربون");
    assert_eq!(trainees["total"], 1256);
    assert_eq!(trainees["cells"][1]["key"]["branch"], "raqqa");
    assert_eq!(trainees["cells"][1]["value"], 700);
    let money = &v["indicators"][1];
    assert!(money.get("total").is_none());
    assert_eq!(
        money["totals"],
        json!([
            {"currency": "EUR", "minor_units": 5, "amount": "0.05"},
            {"currency": "USD", "minor_units": 223_456, "amount": "2234.56"},
        ])
    );
    assert_eq!(money["cells"][2]["amount"], "1234.56");
    assert_eq!(
        money["cells"][2]["key"],
        json!({"currency": "USD", "branch": "raqqa"})
    );
    assert_eq!(v["freshness"][0]["producer"], "capacity");
    assert_eq!(
        v["freshness"][0]["last_event_time"],
        "2026-01-01T00:00:00.000Z"
    );
}

#[test]
fn money_is_exact_in_major_units() {
    assert_eq!(money(123_456, "USD"), "1,234.56 USD");
    assert_eq!(money(-5, "USD"), "-0.05 USD");
    assert_eq!(money(7, "JPY"), "7 JPY");
    assert_eq!(decimal(123_456, "USD"), "1234.56");
    assert_eq!(decimal(-1, "KWD"), "-0.001");
    assert_eq!(decimal(42, "XXX"), "42");
}

#[test]
fn flags_parse_strictly() {
    assert!(parse_date("--from", "2026-02-30").is_err());
    assert!(parse_date("--from", "2026-2-3").is_err());
    assert_eq!(
        parse_date("--from", "2026-02-03").unwrap(),
        Date::new(2026, 2, 3).unwrap()
    );
    assert_eq!(
        parse_by(&["gender,branch".into(), "quarter".into()]).unwrap(),
        vec![
            imp::Dimension::Gender,
            imp::Dimension::Branch,
            imp::Dimension::Quarter
        ]
    );
    assert!(parse_by(&["gender,gender".into()]).is_err());
    assert!(parse_by(&["gender,branch,topic,year,month".into()]).is_err());
    assert_eq!(parse_gender("Female").unwrap(), Gender::Female);
    assert!(parse_gender("other").is_err());
    assert_eq!(
        year_of(Date::new(2026, 12, 1).unwrap()),
        (
            Date::new(2026, 1, 1).unwrap(),
            Date::new(2026, 12, 31).unwrap()
        )
    );
}

#[test]
fn targets_follow_the_table_and_go_into_json() {
    let mut a = answer();
    let year = |m, d| {
        Some(markaz_proto::common::v1::Date {
            year: 2026,
            month: m,
            day: d,
        })
    };
    a.indicators[0].targets = vec![imp::IndicatorTarget {
        code: "trainees".into(),
        from: year(1, 1),
        until: year(12, 31),
        branch_id: "raqqa".into(),
        baseline: 100,
        target: 1_300,
        ..Default::default()
    }];
    a.indicators[1].targets = vec![imp::IndicatorTarget {
        code: "grant_amount_disbursed".into(),
        from: year(1, 1),
        until: year(6, 30),
        baseline: 0,
        target: 250_000,
        currency_code: "USD".into(),
        ..Default::default()
    }];
    let en = render(&a, &query(), &names(), Lang::En, Format::Table);
    assert!(
        en.contains(
            "\nbaselines and targets:\n  \
             trainees  2026-01-01 — 2026-12-31  Raqqa  baseline 100  target 1,300\n  \
             grant_amount_disbursed  2026-01-01 — 2026-06-30  all branches  \
             baseline 0.00 USD  target 2,500.00 USD\n"
        ),
        "{en}"
    );
    let ar = render(&a, &query(), &names(), Lang::Ar, Format::Table);
    assert!(
        ar.contains("trainees  2026-01-01 — 2026-12-31  الرقة  خط الأساس 100  الهدف 1,300"),
        "{ar}"
    );
    let v: Value =
        serde_json::from_str(&render(&a, &query(), &names(), Lang::Ar, Format::Json)).unwrap();
    assert_eq!(
        v["indicators"][0]["targets"],
        json!([{"from": "2026-01-01", "until": "2026-12-31", "branch": "raqqa",
                "baseline": 100, "target": 1300, "currency": ""}])
    );
    // Without targets, no section.
    let plain = render(&answer(), &query(), &names(), Lang::En, Format::Table);
    assert!(!plain.contains("targets"), "{plain}");
}

#[test]
fn schemes_are_dimension_scheme_and_version() {
    assert_eq!(
        parse_scheme("age-band=age-groups/2").unwrap(),
        imp::SchemeChoice {
            dimension: imp::Dimension::AgeBand as i32,
            scheme: "age-groups".into(),
            version: 2,
        }
    );
    assert_eq!(
        parse_scheme("category=stakeholder-groups").unwrap().version,
        0
    );
    assert!(parse_scheme("age-groups").is_err());
    assert!(parse_scheme("colour=x").is_err());
    assert!(parse_scheme("age-band=age-groups/two").is_err());
    assert!(parse_scheme("age-band=").is_err());
}
