//! Schemes, targets and the tenant's own indicators: an age split grouped
//! by either version of a scheme (the older's figures unchanged by the
//! newer's existence, each right by its own recount), baselines and
//! targets shown beside the figures of their period, and a custom
//! indicator counted from the same facts as its base.

use std::collections::BTreeMap;

use markaz_kit::testing::field_violations;
use markaz_proto::common::v1::{Date, Gender, LocalizedText};

use crate::figures::{Activity, Rec, period, recount};
use crate::world::*;

both_backends!(
    both_versions_of_a_scheme_stay_answerable,
    targets_stand_beside_their_figures,
    a_custom_indicator_counts_from_the_same_facts
);

async fn delivered(backend: Backend, seed: u64) -> (World, Activity) {
    let w = world(backend).await;
    let activity = Activity::generate(seed);
    for e in activity.envelopes(TENANT) {
        w.deliver_envelope(&e).await;
    }
    (w, activity)
}

fn age_split(version: i32) -> api::GetIndicatorsRequest {
    api::GetIndicatorsRequest {
        codes: vec!["trainees".into()],
        group_by: vec![Dimension::AgeBand as i32],
        schemes: vec![api::SchemeChoice {
            dimension: Dimension::AgeBand as i32,
            scheme: "age-groups".into(),
            version,
        }],
        ..period()
    }
}

fn cells(r: &api::GetIndicatorsResponse) -> BTreeMap<String, i64> {
    r.indicators[0]
        .cells
        .iter()
        .map(|c| (c.key[0].value.clone(), c.value))
        .collect()
}

/// The trainees regrouped by `group` of their age band, recounted.
fn regrouped(recs: &[Rec], group: impl Fn(&str) -> &'static str) -> BTreeMap<String, i64> {
    let recs: Vec<Rec> = recs
        .iter()
        .cloned()
        .map(|mut r| {
            let g = group(&r.dims[&Dimension::AgeBand]);
            r.dims.insert(Dimension::AgeBand, g.to_string());
            r
        })
        .collect();
    recount(&recs, true, &[Dimension::AgeBand])
        .1
        .into_iter()
        .map(|(k, v)| (k[0].clone(), v))
        .collect()
}

async fn both_versions_of_a_scheme_stay_answerable(backend: Backend) {
    let (mut w, activity) = delivered(backend, 51).await;
    let v1 = w.figures(age_split(1)).await;
    let v2 = w.figures(age_split(2)).await;
    let newest = w.figures(age_split(0)).await;
    let again = w.figures(age_split(1)).await;
    assert_eq!(
        v1.indicators, again.indicators,
        "the older version's figures stay"
    );
    assert_eq!(cells(&newest), cells(&v2));
    let scheme = |v| markaz_impact::domain::schemes::scheme("age-groups", v).unwrap();
    let trainees = activity.records("trainees");
    assert_eq!(cells(&v1), regrouped(&trainees, |b| scheme(1).group_of(b)));
    assert_eq!(cells(&v2), regrouped(&trainees, |b| scheme(2).group_of(b)));
    assert_ne!(cells(&v1), cells(&v2), "the versions group differently");
    assert_eq!(v2.indicators[0].cells[0].key[0].scheme, "age-groups/2");
    // The total does not depend on the grouping.
    assert_eq!(v1.indicators[0].total, v2.indicators[0].total);

    // A scheme for a dimension not split by, or of another dimension, or
    // unknown, is refused, each by its place.
    let err = w
        .client
        .get_indicators(authed(
            api::GetIndicatorsRequest {
                codes: vec!["trainees".into()],
                group_by: vec![Dimension::Gender as i32],
                schemes: vec![
                    api::SchemeChoice {
                        dimension: Dimension::AgeBand as i32,
                        scheme: "age-groups".into(),
                        version: 1,
                    },
                    api::SchemeChoice {
                        dimension: Dimension::Gender as i32,
                        scheme: "age-groups".into(),
                        version: 1,
                    },
                    api::SchemeChoice {
                        dimension: Dimension::Gender as i32,
                        scheme: "nope".into(),
                        version: 0,
                    },
                ],
                ..period()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&err),
        ["schemes[0]", "schemes[1]", "schemes[2]"]
    );
    // The catalogue lists every version.
    let catalogue = w
        .client
        .list_indicator_definitions(authed(api::ListIndicatorDefinitionsRequest {}, &w.staff))
        .await
        .unwrap()
        .into_inner();
    let versions: Vec<(String, i32)> = catalogue
        .schemes
        .iter()
        .filter(|s| s.code == "age-groups")
        .map(|s| (s.code.clone(), s.version))
        .collect();
    assert_eq!(
        versions,
        [("age-groups".into(), 1), ("age-groups".into(), 2)]
    );
}

fn day(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn target(code: &str, branch: &str, baseline: i64, goal: i64) -> api::SetIndicatorTargetRequest {
    api::SetIndicatorTargetRequest {
        target: Some(api::IndicatorTarget {
            code: code.into(),
            from: day(2025, 1, 1),
            until: day(2025, 12, 31),
            branch_id: branch.into(),
            baseline,
            target: goal,
            ..Default::default()
        }),
    }
}

async fn targets_stand_beside_their_figures(backend: Backend) {
    let (mut w, _) = delivered(backend, 52).await;
    for req in [
        target("trainees", "raqqa", 10, 40),
        target("trainees", "raqqa", 12, 50),
        target("trainees", "deir-ez-zor", 5, 30),
        target("courses_held", "", 0, 20),
    ] {
        w.client
            .set_indicator_target(authed(req, &w.staff))
            .await
            .unwrap();
    }
    let listed = w
        .client
        .list_indicator_targets(authed(
            api::ListIndicatorTargetsRequest {
                code: "trainees".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let set: Vec<(String, i64, i64)> = listed
        .targets
        .iter()
        .map(|t| (t.branch_id.clone(), t.baseline, t.target))
        .collect();
    assert_eq!(
        set,
        [("deir-ez-zor".into(), 5, 30), ("raqqa".into(), 12, 50)],
        "setting again replaces"
    );
    let raqqa = w
        .figures(api::GetIndicatorsRequest {
            codes: vec!["trainees".into()],
            filters: Some(api::Filters {
                branch_id: "raqqa".into(),
                ..Default::default()
            }),
            ..period()
        })
        .await;
    let shown: Vec<i64> = raqqa.indicators[0]
        .targets
        .iter()
        .map(|t| t.target)
        .collect();
    assert_eq!(shown, [50]);
    // Another year's figures show none of them.
    let other_year = w
        .figures(api::GetIndicatorsRequest {
            codes: vec!["trainees".into()],
            from: day(2023, 1, 1),
            until: day(2023, 12, 31),
            ..Default::default()
        })
        .await;
    assert!(other_year.indicators[0].targets.is_empty());

    // Money needs its currency; a target of no indicator, a period
    // backwards and negative numbers are refused, each by its field.
    let mut bad = target("grant_amount_committed", "raqqa", -1, -2);
    bad.target.as_mut().unwrap().until = day(2024, 1, 1);
    let err = w
        .client
        .set_indicator_target(authed(bad, &w.staff))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&err),
        [
            "target.until",
            "target.currency_code",
            "target.baseline",
            "target.target"
        ]
    );
}

async fn a_custom_indicator_counts_from_the_same_facts(backend: Backend) {
    let (mut w, activity) = delivered(backend, 53).await;
    let create = api::CreateCustomIndicatorRequest {
        code: "custom-women-trainees".into(),
        name: Some(LocalizedText {
            ar: "المتدربات".into(),
            en: "Women trainees".into(),
        }),
        definition: Some(LocalizedText {
            ar: "النساء المتدربات في الفترة".into(),
            en: "Women trained in the period".into(),
        }),
        base_code: "trainees".into(),
        fixed_filters: Some(api::Filters {
            gender: Gender::Female as i32,
            ..Default::default()
        }),
        request_id: "c1".into(),
    };
    let made = w
        .client
        .create_custom_indicator(authed(create.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(made.base_code, "trainees");
    assert_eq!(made.name.as_ref().unwrap().ar, "المتدربات");
    // A retry gets the first answer; another request for the code is refused.
    let retried = w
        .client
        .create_custom_indicator(authed(create.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried, made);
    let again = w
        .client
        .create_custom_indicator(authed(
            api::CreateCustomIndicatorRequest {
                request_id: "c2".into(),
                ..create.clone()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);

    let women: Vec<Rec> = activity
        .records("trainees")
        .into_iter()
        .filter(|r| r.dims[&Dimension::Gender] == "GENDER_FEMALE")
        .collect();
    let got = w
        .figures(api::GetIndicatorsRequest {
            codes: vec!["custom-women-trainees".into()],
            group_by: vec![Dimension::Branch as i32],
            ..period()
        })
        .await;
    let (total, by_branch) = recount(&women, true, &[Dimension::Branch]);
    assert_eq!(got.indicators[0].total, total);
    let cells: BTreeMap<Vec<String>, i64> = got.indicators[0]
        .cells
        .iter()
        .map(|c| (vec![c.key[0].value.clone()], c.value))
        .collect();
    assert_eq!(cells, by_branch);
    // It is in the catalogue, and among "every indicator".
    let all = w.figures(period()).await;
    assert!(
        all.indicators
            .iter()
            .any(|i| i.definition.as_ref().unwrap().code == "custom-women-trainees")
    );
    // Asking it for men contradicts it.
    let err = w
        .client
        .get_indicators(authed(
            api::GetIndicatorsRequest {
                codes: vec!["custom-women-trainees".into()],
                filters: Some(api::Filters {
                    gender: Gender::Male as i32,
                    ..Default::default()
                }),
                ..period()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&err), ["codes[0]"]);
    // Every bad field at once, nothing written.
    let err = w
        .client
        .create_custom_indicator(authed(
            api::CreateCustomIndicatorRequest {
                code: "women".into(),
                base_code: "courses_held".into(),
                fixed_filters: Some(api::Filters {
                    gender: Gender::Female as i32,
                    ..Default::default()
                }),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&err),
        ["code", "name", "definition", "fixed_filters"]
    );
    // Another tenant has none of it.
    let other = w.app.token(OTHER_TENANT, &[Role::Staff], None);
    let theirs = w
        .client
        .list_indicator_definitions(authed(api::ListIndicatorDefinitionsRequest {}, &other))
        .await
        .unwrap()
        .into_inner();
    assert!(theirs.definitions.iter().all(|d| d.base_code.is_empty()));
}
