//! Course recommendations from an organization's latest assessment.

use crate::world::*;

both_backends!(recommendations_follow_the_latest_assessment,);

async fn recommendations_follow_the_latest_assessment(backend: Backend) {
    let mut w = world(backend).await;
    let org = known_org(&w, TENANT, IncubationStatus::Incubated).await;
    let shared = w.client.clone();
    let recommend = |org: &str, token: &str, max: i32| {
        let mut client = shared.clone();
        let (org, token) = (org.to_string(), token.to_string());
        async move {
            client
                .recommend_courses(authed(
                    api::RecommendCoursesRequest {
                        organization_id: org,
                        max_results: max,
                    },
                    &token,
                ))
                .await
                .map(|r| r.into_inner())
        }
    };
    let staff = w.staff.clone();
    let none = recommend(&org, &staff, 0).await.unwrap_err();
    assert_eq!(precondition(&none), "NO_ASSESSMENT");

    use CapacityDomain as D;
    let assessment = |id: &str, on: Date, scores: &[(D, i32)]| ev::AssessmentCompleted {
        assessment_id: id.into(),
        organization_id: org.clone(),
        assessed_on: Some(on),
        scores: scores
            .iter()
            .map(|(d, s)| ev::DomainScore {
                domain: *d as i32,
                score: *s,
            })
            .collect(),
    };
    let scores = [
        (D::Governance, 3),
        (D::Administration, 4),
        (D::HumanResources, 2),
        (D::FinancialManagement, 1),
        (D::OrganizationalManagement, 4),
        (D::ProgramManagement, 2),
        (D::ProjectPerformanceManagement, 3),
    ];
    let first = new_id();
    w.membership(TENANT, assessment(&first, day(-30), &scores))
        .await;

    let course = |topic: &str, audience: Audience, days: &[i64]| {
        let mut body = course_on(20, audience, days);
        body.topic_codes = vec![topic.into()];
        body
    };
    let mut ids = std::collections::HashMap::new();
    for (name, topic, audience, days, opened) in [
        (
            "finance",
            "financial-management",
            Audience::Open,
            [20, 21],
            true,
        ),
        (
            "me",
            "monitoring-evaluation",
            Audience::Open,
            [10, 11],
            true,
        ),
        (
            "proposal",
            "proposal-writing",
            Audience::Open,
            [10, 11],
            true,
        ),
        (
            "hr",
            "human-resources",
            Audience::IncubatedOnly,
            [5, 6],
            true,
        ),
        (
            "planned",
            "financial-management",
            Audience::Open,
            [5, 6],
            false,
        ),
        (
            "operations",
            "operational-planning",
            Audience::Open,
            [5, 6],
            true,
        ),
        (
            "projects",
            "project-management",
            Audience::Open,
            [30, 31],
            true,
        ),
    ] {
        let c = create_course(&mut w, course(topic, audience, &days)).await;
        if opened {
            open(&mut w, &c.id).await;
        }
        ids.insert(c.id.clone(), name);
    }
    let names = |r: &api::RecommendCoursesResponse| -> Vec<&str> {
        r.recommendations
            .iter()
            .map(|x| ids[&x.course.as_ref().unwrap().id])
            .collect()
    };
    let r = recommend(&org, &staff, 0).await.unwrap();
    assert_eq!(r.assessment_id, first);
    assert_eq!(
        r.weakest_domains
            .iter()
            .map(|d| (d.domain, d.score))
            .collect::<Vec<_>>(),
        [
            (D::FinancialManagement as i32, 1),
            (D::HumanResources as i32, 2),
            (D::ProgramManagement as i32, 2),
            (D::Governance as i32, 3),
            (D::ProjectPerformanceManagement as i32, 3),
        ]
    );
    // finance covers a gap of 3 at the weakest domain; projects 2 + 1;
    // hr and proposal 2 each (hr sooner); m&e 1. Planned and mature-only
    // courses are not offered.
    assert_eq!(names(&r), ["finance", "projects", "hr", "proposal", "me"]);
    assert_eq!(r.recommendations[0].relevance, 3);
    assert_eq!(
        r.recommendations[1].covered_domains,
        [
            D::ProgramManagement as i32,
            D::ProjectPerformanceManagement as i32
        ]
    );
    assert_eq!(
        names(&recommend(&org, &staff, 2).await.unwrap()),
        ["finance", "projects"]
    );

    // A newer assessment replaces it; an older one arriving late does not.
    let mut better = scores;
    better[3] = (D::FinancialManagement, 4);
    let second = new_id();
    w.membership(TENANT, assessment(&second, day(-1), &better))
        .await;
    w.membership(TENANT, assessment(&new_id(), day(-60), &scores))
        .await;
    let r = recommend(&org, &staff, 0).await.unwrap();
    assert_eq!(r.assessment_id, second);
    assert_eq!(names(&r), ["projects", "hr", "proposal", "me"]);

    // An organization outside incubation is not offered incubated-only courses.
    let outside = known_org(&w, TENANT, IncubationStatus::None).await;
    w.membership(
        TENANT,
        ev::AssessmentCompleted {
            organization_id: outside.clone(),
            ..assessment(&new_id(), day(-2), &scores)
        },
    )
    .await;
    let r = recommend(&outside, &staff, 0).await.unwrap();
    assert_eq!(names(&r), ["finance", "projects", "proposal", "me"]);

    // Partners ask for their own organization only.
    let partner = w.token(&[Role::Partner], Some(&org));
    assert!(recommend(&org, &partner, 0).await.is_ok());
    let other = recommend(&outside, &partner, 0).await.unwrap_err();
    assert_eq!(other.code(), Code::NotFound);
    // An organization capacity never heard of is not found, like another
    // tenant's: nothing to retry.
    let unknown = recommend(&new_id(), &staff, 0).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
}
