//! Reports: bad reports refused whole before the award is locked.

use crate::world::*;

both_backends!(bad_reports_are_refused_whole_before_the_award_is_locked,);

/// An expenditure report or a variation is validated in full — every bad
/// field at once, those judged against the award too — before the award is
/// locked or anything written.
async fn bad_reports_are_refused_whole_before_the_award_is_locked(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let award = w.active_grant(&call, &org).await;
    let partner = w.partner(&org);

    // A bad award id (or request id) does not hide the rest of what is wrong.
    let mut bad = expenditure("not-an-id", &[(1, -5)]);
    bad.report.as_mut().unwrap().period_end = Some(day(-3));
    bad.request_id = "not a request id!".into();
    let status = w
        .client
        .submit_expenditure_report(authed(bad, &partner))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&status),
        [
            "request_id",
            "report.award_id",
            "report.period_end",
            "report.lines[0].amount.minor_units"
        ]
    );
    let status = w
        .client
        .create_proposal(authed(
            api::CreateProposalRequest {
                proposal: Some(content("not-an-id")),
                request_id: "not a request id!".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&status),
        ["request_id", "proposal.call_id", "proposal.organization_id"]
    );
    let status = w
        .client
        .request_variation(authed(
            api::RequestVariationRequest {
                variation: Some(api::Variation {
                    award_id: "not-an-id".into(),
                    justification: String::new(),
                    budget_lines: vec![api::BudgetLine {
                        amount: Some(usd(10)),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&status),
        [
            "variation.award_id",
            "variation.justification",
            "variation.budget_lines[0].category",
            "variation.budget_lines[0].description"
        ]
    );

    // Judged against the award (its currency, its two budget lines) while
    // another writer holds the award's row: answered at once, not after it.
    let mut against_award = expenditure(&award.id, &[(1, 100), (7, 100)]);
    against_award.report.as_mut().unwrap().lines[0].amount = Some(Money {
        currency_code: "EUR".into(),
        minor_units: 100,
    });
    let holder = if backend == Backend::Postgres {
        let mut holder = w.db.write(TENANT).await.unwrap();
        sqlx::query("UPDATE awards SET version = version WHERE tenant_id = $1 AND id = $2")
            .bind(TENANT)
            .bind(&award.id)
            .execute(holder.conn())
            .await
            .unwrap();
        Some(holder)
    } else {
        None
    };
    let status = tokio::time::timeout(
        Duration::from_secs(5),
        w.client
            .submit_expenditure_report(authed(against_award, &partner)),
    )
    .await
    .expect("refused without waiting for the award's lock")
    .unwrap_err();
    assert_eq!(
        field_violations(&status),
        [
            "report.lines[0].amount.currency_code",
            "report.lines[1].line_number"
        ]
    );
    if let Some(holder) = holder {
        holder.rollback().await.unwrap();
    }
    let after = w.get_award(&award.id).await;
    assert_eq!(after.etag, award.etag, "nothing was written");
    assert_eq!(w.count("expenditure_reports").await, 0);
    // A good report goes through, and changes the award's etag.
    w.client
        .submit_expenditure_report(authed(expenditure(&award.id, &[(2, 100)]), &partner))
        .await
        .unwrap();
    assert_ne!(w.get_award(&award.id).await.etag, award.etag);
}
