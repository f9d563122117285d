//! Donors through the real server: the operator registers a donor, tenants
//! share programs and indicators with it, and the donor's token sees what
//! is shared — per tenant, per quarter, small cells withheld — and nothing
//! else: no unshared tenant, program or indicator, nothing after a
//! revocation; every read is in the tenant's audit.

use std::time::Duration;

use markaz_kit::auth::Signer;
use markaz_kit::rpc::new_id;
use markaz_proto::common::v1::{Date, LocalizedText, Money, Sector};
use markaz_proto::donors::v1 as donors;
use markaz_proto::donors::v1::donor_service_client::DonorServiceClient;
use markaz_proto::donors::v1::sharing_service_client::SharingServiceClient;

use crate::figures::Activity;
use crate::world::*;

const THIRD_TENANT: &str = "hasakah-csc";
pub const DONOR: &str = "echo";
pub const PROJECT_AR: &str = "إعادة تأهيل شبكة المياه — حي \"المشلب\" & السوق";
const PURPOSE_AR: &str = "تقرير المنحة الفصلي لمكتب المساعدات الإنسانية";

both_backends!(
    a_donor_sees_what_is_shared_and_nothing_else,
    bad_input_writes_nothing
);

pub fn day(y: i32, m: i32, d: i32) -> Option<Date> {
    Some(Date {
        year: y,
        month: m,
        day: d,
    })
}

fn usd(minor_units: i64) -> Option<Money> {
    Some(Money {
        currency_code: "USD".into(),
        minor_units,
    })
}

pub struct Donors {
    pub w: World,
    pub sharing: SharingServiceClient<Channel>,
    pub donors: DonorServiceClient<Channel>,
    pub operator: String,
    /// The reads each tenant's audit must hold: one per answer (a page of
    /// figures, a list of projects) that drew on the tenant.
    audited: std::collections::HashMap<String, usize>,
}

impl Donors {
    pub async fn new(backend: Backend) -> Donors {
        let w = world(backend).await;
        let sharing = SharingServiceClient::new(w.app.channel().await);
        let donors = DonorServiceClient::new(w.app.channel().await);
        let operator = w.app.token("", &[Role::Operator], None);
        Donors {
            w,
            sharing,
            donors,
            operator,
            audited: Default::default(),
        }
    }

    pub fn admin(&self, tenant: &str) -> String {
        self.w.app.token(tenant, &[Role::Admin], None)
    }

    /// A donor platform's token: `sub` the donor, `tenant` and `tenants`
    /// the tenants it reaches.
    pub fn donor_token(&self, donor: &str, tenants: &[&str]) -> String {
        let env = &self.w.app.env;
        for t in tenants {
            env.register(t);
        }
        let mut claims = Signer::claims(
            &env.config.auth,
            donor,
            tenants[0],
            &[Role::Donor],
            None,
            Duration::from_secs(600),
        );
        claims.tenants = tenants.iter().map(|t| t.to_string()).collect();
        env.signer.sign(&claims)
    }

    pub async fn register(&mut self, id: &str) -> donors::Donor {
        self.sharing
            .register_donor(authed(
                donors::RegisterDonorRequest {
                    donor: Some(donors::Donor {
                        id: id.into(),
                        name: Some(LocalizedText {
                            ar: "المديرية العامة للحماية المدنية والمساعدات الإنسانية".into(),
                            en: "ECHO".into(),
                        }),
                        iati_identifier: "XI-IATI-EC_ECHO".into(),
                        ..Default::default()
                    }),
                },
                &self.operator,
            ))
            .await
            .expect("registered")
            .into_inner()
    }

    /// The tenant's admin revokes an agreement.
    pub async fn revoke(&mut self, tenant: &str, id: &str) -> donors::ShareAgreement {
        let admin = self.admin(tenant);
        self.sharing
            .revoke_share_agreement(authed(
                donors::RevokeShareAgreementRequest {
                    id: id.into(),
                    reason: "انتهت المنحة".into(),
                },
                &admin,
            ))
            .await
            .expect("revoked")
            .into_inner()
    }

    pub async fn share(
        &mut self,
        tenant: &str,
        donor: &str,
        programs: &[&str],
        codes: &[&str],
    ) -> donors::ShareAgreement {
        let admin = self.admin(tenant);
        self.sharing
            .create_share_agreement(authed(
                donors::CreateShareAgreementRequest {
                    share_agreement: Some(donors::ShareAgreement {
                        donor_id: donor.into(),
                        program_ids: programs.iter().map(|p| p.to_string()).collect(),
                        indicator_codes: codes.iter().map(|c| c.to_string()).collect(),
                        from: day(2025, 1, 1),
                        until: day(2025, 12, 31),
                        purpose: Some(LocalizedText {
                            ar: PURPOSE_AR.into(),
                            en: String::new(),
                        }),
                        ..Default::default()
                    }),
                    request_id: new_id(),
                },
                &admin,
            ))
            .await
            .expect("shared")
            .into_inner()
    }

    async fn donor_figures(
        &mut self,
        token: &str,
        group_by: Option<Dimension>,
    ) -> donors::GetIndicatorsResponse {
        let mut all = donors::GetIndicatorsResponse::default();
        let mut page_token = String::new();
        loop {
            let page = self
                .donors
                .get_indicators(authed(
                    donors::GetIndicatorsRequest {
                        from: day(2025, 1, 1),
                        until: day(2025, 12, 31),
                        group_by: group_by.map(|d| d as i32).into_iter().collect(),
                        page_size: 5,
                        page_token: page_token.clone(),
                        ..Default::default()
                    },
                    token,
                ))
                .await
                .expect("donor figures")
                .into_inner();
            let tenants: std::collections::BTreeSet<&String> =
                page.figures.iter().map(|f| &f.tenant_id).collect();
            for t in tenants {
                *self.audited.entry(t.clone()).or_default() += 1;
            }
            all.total_size = page.total_size;
            all.figures.extend(page.figures);
            all.suppression_thresholds
                .extend(page.suppression_thresholds);
            if page.next_page_token.is_empty() {
                return all;
            }
            page_token = page.next_page_token;
        }
    }

    async fn projects(&mut self, token: &str) -> Vec<donors::FundedProject> {
        let projects = self
            .donors
            .list_funded_projects(authed(donors::ListFundedProjectsRequest::default(), token))
            .await
            .expect("projects")
            .into_inner()
            .projects;
        let tenants: std::collections::BTreeSet<&String> =
            projects.iter().map(|p| &p.tenant_id).collect();
        for t in tenants {
            *self.audited.entry(t.clone()).or_default() += 1;
        }
        projects
    }

    pub async fn reads(&mut self, tenant: &str) -> Vec<donors::DonorRead> {
        let staff = self.w.app.token(tenant, &[Role::Staff], None);
        self.sharing
            .list_donor_reads(authed(donors::ListDonorReadsRequest::default(), &staff))
            .await
            .expect("reads")
            .into_inner()
            .reads
    }

    /// The staff's own figure of `code` in a quarter, split by `d`.
    pub async fn staff_figure(
        &mut self,
        tenant: &str,
        code: &str,
        from: Option<Date>,
        until: Option<Date>,
        d: Option<Dimension>,
    ) -> api::IndicatorFigures {
        let staff = self.w.app.token(tenant, &[Role::Staff], None);
        self.w
            .client
            .get_indicators(authed(
                api::GetIndicatorsRequest {
                    codes: vec![code.into()],
                    from,
                    until,
                    group_by: d.map(|d| d as i32).into_iter().collect(),
                    ..Default::default()
                },
                &staff,
            ))
            .await
            .expect("staff figures")
            .into_inner()
            .indicators
            .remove(0)
    }
}

/// Awards of a program: the events of one project from award to end.
pub fn project_events(
    tenant: &str,
    program: &str,
    reached: [i64; 3],
) -> (String, Vec<ev::Envelope>) {
    let award = new_id();
    let context = ev::GrantContext {
        program_id: program.into(),
        call_id: new_id(),
        proposal_id: new_id(),
        organization_id: new_id(),
        branch_id: "raqqa".into(),
        sector: Sector::Health as i32,
        governorate: "الرقة".into(),
        ..Default::default()
    };
    let people = |[f, m, u]: [i64; 3]| {
        Some(ev::BeneficiaryCount {
            female: f,
            male: m,
            undisclosed: u,
        })
    };
    let events = vec![
        envelope(
            "grants",
            tenant,
            &ev::GrantAwarded {
                context: Some(context.clone()),
                award_id: award.clone(),
                amount: usd(1_000_000),
                tranche_count: 2,
                beneficiaries_targeted: people([40, 30, 0]),
                start_date: day(2025, 3, 1),
                end_date: day(2025, 9, 30),
                title: Some(LocalizedText {
                    ar: PROJECT_AR.into(),
                    en: "Water network rehabilitation".into(),
                }),
                summary: Some(LocalizedText {
                    ar: "إصلاح شبكة المياه في حي المشلب".into(),
                    en: String::new(),
                }),
            },
        ),
        envelope(
            "grants",
            tenant,
            &ev::MilestoneReported {
                context: Some(context.clone()),
                award_id: award.clone(),
                report_id: new_id(),
                milestone_number: 1,
                beneficiaries_reached: people([12, 2, 0]),
                accepted_at: Some(markaz_kit::time::timestamp(markaz_kit::time::now_micros())),
            },
        ),
        envelope(
            "grants",
            tenant,
            &ev::TrancheDisbursed {
                context: Some(context.clone()),
                award_id: award.clone(),
                tranche_number: 1,
                milestone_number: 1,
                amount: usd(600_000),
                disbursed_total: usd(600_000),
                disbursed_on: day(2025, 5, 1),
            },
        ),
        envelope(
            "grants",
            tenant,
            &ev::ProjectCompleted {
                context: Some(context),
                award_id: award.clone(),
                outcome: ev::ProjectOutcome::Completed as i32,
                awarded: usd(1_000_000),
                disbursed: usd(600_000),
                spent: usd(590_000),
                beneficiaries_reached: people(reached),
                ended_on: day(2025, 9, 30),
            },
        ),
    ];
    (award, events)
}

fn hidden(v: &Option<donors::DonorValue>) -> bool {
    v.as_ref().is_some_and(|v| v.suppressed)
}

fn shown(v: &Option<donors::DonorValue>) -> Option<i64> {
    v.as_ref().filter(|v| !v.suppressed).map(|v| v.value)
}

async fn a_donor_sees_what_is_shared_and_nothing_else(backend: Backend) {
    let mut d = Donors::new(backend).await;
    let echo = d.register(DONOR).await;
    assert_eq!(
        echo.name.as_ref().map(|n| n.ar.as_str()),
        Some("المديرية العامة للحماية المدنية والمساعدات الإنسانية")
    );
    // Registering again with the same fields is the same donor.
    assert_eq!(d.register(DONOR).await.create_time, echo.create_time);
    d.register("giz").await;

    // Three tenants with the same activity; projects in shared and
    // unshared programs.
    let (p1, p2, p3, p4) = (new_id(), new_id(), new_id(), new_id());
    let activity = Activity::generate(7);
    let mut awards = std::collections::HashMap::new();
    for (tenant, programs) in [
        (TENANT, vec![&p1, &p2]),
        (OTHER_TENANT, vec![&p3]),
        (THIRD_TENANT, vec![&p4]),
    ] {
        for e in activity.envelopes(tenant) {
            d.w.deliver_envelope(&e).await;
        }
        for (n, program) in programs.into_iter().enumerate() {
            let (award, events) = project_events(tenant, program, [20 + n as i64, 3, 1]);
            for e in events.iter().chain(events.iter().rev()) {
                // Every event twice, the second time in reverse order.
                d.w.deliver_envelope(e).await;
            }
            awards.insert(award, (tenant, program.clone()));
        }
    }
    let mine = d
        .share(TENANT, DONOR, &[&p1], &["trainees", "courses_held"])
        .await;
    assert_eq!(mine.state, donors::ShareState::Active as i32);
    assert_eq!(mine.purpose.as_ref().unwrap().ar, PURPOSE_AR);
    d.share(OTHER_TENANT, DONOR, &[&p3], &["trainees"]).await;
    // The third tenant shares with another donor only.
    d.share(THIRD_TENANT, "giz", &[&p4], &["trainees"]).await;

    let token = d.donor_token(DONOR, &[TENANT, OTHER_TENANT, THIRD_TENANT]);

    // Indicators: the shared codes of the two sharing tenants, each quarter.
    for split in [None, Some(Dimension::Gender), Some(Dimension::Branch)] {
        let got = d.donor_figures(&token, split).await;
        let seen: std::collections::BTreeSet<(String, String)> = got
            .figures
            .iter()
            .map(|f| (f.tenant_id.clone(), f.code.clone()))
            .collect();
        let mut expected = vec![
            (TENANT.to_string(), "trainees".to_string()),
            (OTHER_TENANT.to_string(), "trainees".to_string()),
        ];
        // courses_held has no gender: a split by gender leaves it out.
        if split != Some(Dimension::Gender) {
            expected.push((TENANT.to_string(), "courses_held".to_string()));
        }
        assert_eq!(seen, expected.into_iter().collect());
        assert_eq!(got.figures.len(), seen.len() * 4);
        assert_eq!(got.total_size as usize, seen.len() * 4);
        assert_eq!(got.suppression_thresholds.get(TENANT), Some(&5));
        for f in &got.figures {
            // Every published value is the staff's own figure; every small
            // one is withheld and says so.
            let staff = d
                .staff_figure(&f.tenant_id, &f.code, f.from, f.until, split)
                .await;
            match shown(&f.total) {
                Some(v) => assert_eq!(v, staff.total, "{} {}", f.code, f.quarter),
                None => assert!(hidden(&f.total)),
            }
            if (1..5).contains(&staff.total) {
                assert!(hidden(&f.total), "{} {}: a small total", f.code, f.quarter);
            }
            if split.is_none() {
                assert!(f.cells.is_empty());
                continue;
            }
            assert_eq!(
                f.cells.len(),
                staff.cells.iter().filter(|c| c.value != 0).count()
            );
            let mut suppressed = 0;
            for c in &f.cells {
                let mine = staff
                    .cells
                    .iter()
                    .find(|s| s.key[0].value == c.key[0].value)
                    .expect("the staff's cell");
                match shown(&c.value) {
                    Some(v) => assert_eq!(v, mine.value),
                    None => {
                        assert_eq!(c.value.as_ref().unwrap().value, 0);
                        suppressed += 1;
                    }
                }
                if (1..5).contains(&mine.value) {
                    assert!(hidden(&c.value), "{} {}: a small cell", f.code, f.quarter);
                }
            }
            // One withheld cell alone would be the total less the others.
            if shown(&f.total).is_some() {
                assert_ne!(suppressed, 1, "{} {}", f.code, f.quarter);
            }
        }
    }

    // The same quarter's total is withheld or not whatever split is asked.
    let totals = |r: &donors::GetIndicatorsResponse| -> Vec<(String, String, String, bool)> {
        r.figures
            .iter()
            .map(|f| {
                (
                    f.tenant_id.clone(),
                    f.code.clone(),
                    f.quarter.clone(),
                    hidden(&f.total),
                )
            })
            .collect()
    };
    let plain = totals(&d.donor_figures(&token, None).await);
    let by_branch = totals(&d.donor_figures(&token, Some(Dimension::Branch)).await);
    assert_eq!(plain, by_branch);
    let by_gender = totals(&d.donor_figures(&token, Some(Dimension::Gender)).await);
    assert_eq!(
        plain
            .into_iter()
            .filter(|t| t.1 == "trainees")
            .collect::<Vec<_>>(),
        by_gender
    );

    // Projects: the shared programs' only, small counts withheld.
    let projects = d.projects(&token).await;
    let mut programs: Vec<String> = projects.iter().map(|p| p.program_id.clone()).collect();
    programs.sort();
    let mut expected = vec![p1.clone(), p3.clone()];
    expected.sort();
    assert_eq!(programs, expected);
    for p in &projects {
        assert_eq!(awards[&p.award_id].1, p.program_id);
        assert_eq!(p.status, donors::FundedProjectStatus::Completed as i32);
        assert_eq!(p.budget.as_ref().unwrap().minor_units, 1_000_000);
        assert_eq!(p.disbursed.as_ref().unwrap().minor_units, 600_000);
        assert_eq!(p.spent.as_ref().unwrap().minor_units, 590_000);
        assert_eq!(p.milestones.len(), 1);
        let reached = p.reached.as_ref().unwrap();
        assert_eq!(shown(&reached.female), Some(20));
        // 3 men and 1 undisclosed are small; the total and the women stay
        // published because two withheld cells cannot be told apart.
        assert!(hidden(&reached.male) && hidden(&reached.undisclosed));
        assert_eq!(shown(&reached.total), Some(24));
        let targeted = p.targeted.as_ref().unwrap();
        assert_eq!(shown(&targeted.female), Some(40));
        assert_eq!(shown(&targeted.undisclosed), Some(0));
    }

    // A token that names only the first tenant sees only its share.
    let narrow = d.donor_token(DONOR, &[TENANT]);
    let projects = d.projects(&narrow).await;
    assert_eq!(
        projects.iter().map(|p| &p.program_id).collect::<Vec<_>>(),
        vec![&p1]
    );
    // Another donor sees the third tenant's share and nothing of the others.
    let giz = d.donor_token("giz", &[TENANT, OTHER_TENANT, THIRD_TENANT]);
    let theirs = d.donor_figures(&giz, None).await;
    assert!(theirs.figures.iter().all(|f| f.tenant_id == THIRD_TENANT));
    assert_eq!(theirs.figures.len(), 4);
    // Some value was withheld somewhere: the checks above were not empty.
    assert!(by_branch.iter().any(|t| t.3));
    // Staff are not donors, and a donor is not staff.
    let staff = d.w.app.token(TENANT, &[Role::Staff], None);
    let refused = d
        .donors
        .list_funded_projects(authed(donors::ListFundedProjectsRequest::default(), &staff))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused =
        d.w.client
            .get_indicators(authed(crate::figures::period(), &token))
            .await
            .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    // The audit: every read of the tenant's data, by whom, of what.
    let reads = d.reads(TENANT).await;
    assert_eq!(reads.len(), d.audited[TENANT], "{reads:#?}");
    assert!(
        reads
            .iter()
            .all(|r| r.donor_id == DONOR && r.subject == DONOR)
    );
    let figures_reads: Vec<&donors::DonorRead> = reads
        .iter()
        .filter(|r| r.method == "GetIndicators")
        .collect();
    assert_eq!(figures_reads.len(), d.audited[TENANT] - 2);
    for r in &figures_reads {
        assert_eq!(r.share_agreement_ids, vec![mine.id.clone()]);
        assert_eq!(r.from, day(2025, 1, 1));
        assert!(r.values_answered > 0);
    }
    let project_reads: Vec<&donors::DonorRead> = reads
        .iter()
        .filter(|r| r.method == "ListFundedProjects")
        .collect();
    assert_eq!(project_reads.len(), 2);
    assert!(
        project_reads
            .iter()
            .all(|r| r.program_ids == vec![p1.clone()])
    );
    assert!(project_reads.iter().all(|r| r.values_suppressed == 2));
    // Newest first.
    let at = |r: &donors::DonorRead| r.read_time.as_ref().map(markaz_kit::time::micros_of);
    assert!(reads.windows(2).all(|w| at(&w[0]) >= at(&w[1])));
    assert_eq!(d.reads(THIRD_TENANT).await.len(), d.audited[THIRD_TENANT]);
    assert!(
        d.reads(THIRD_TENANT)
            .await
            .iter()
            .all(|r| r.donor_id == "giz")
    );

    // A higher threshold withholds more.
    let admin = d.admin(TENANT);
    d.sharing
        .update_sharing_settings(authed(
            donors::UpdateSharingSettingsRequest {
                settings: Some(donors::SharingSettings {
                    suppression_threshold: 25,
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .expect("threshold");
    let projects = d.projects(&narrow).await;
    let reached = projects[0].reached.as_ref().unwrap();
    assert!(hidden(&reached.total) && hidden(&reached.female));

    // Revoked: the next read sees nothing of the tenant.
    let revoked = d
        .sharing
        .revoke_share_agreement(authed(
            donors::RevokeShareAgreementRequest {
                id: mine.id.clone(),
                reason: "انتهت المنحة".into(),
            },
            &admin,
        ))
        .await
        .expect("revoked")
        .into_inner();
    assert_eq!(revoked.state, donors::ShareState::Revoked as i32);
    assert_eq!(revoked.revoke_reason, "انتهت المنحة");
    let again = d
        .sharing
        .revoke_share_agreement(authed(
            donors::RevokeShareAgreementRequest {
                id: mine.id.clone(),
                reason: "again".into(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    let after = d.donor_figures(&token, None).await;
    assert!(after.figures.iter().all(|f| f.tenant_id == OTHER_TENANT));
    assert_eq!(after.figures.len(), 4);
    assert!(d.projects(&narrow).await.is_empty());
    let shares = d
        .donors
        .list_shares(authed(donors::ListSharesRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(shares.total_size, 2);
    assert!(shares.share_agreements.iter().any(|s| s.id == mine.id
        && s.state == donors::ShareState::Revoked as i32
        && s.tenant_id == TENANT));
}

async fn bad_input_writes_nothing(backend: Backend) {
    let mut d = Donors::new(backend).await;
    d.register(DONOR).await;
    let bad = d
        .sharing
        .register_donor(authed(
            donors::RegisterDonorRequest {
                donor: Some(donors::Donor {
                    id: "Not A Slug".into(),
                    iati_identifier: "no spaces allowed".into(),
                    ..Default::default()
                }),
            },
            &d.operator,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(
        field_violations(&bad),
        vec!["donor.id", "donor.name", "donor.iati_identifier"]
    );
    let other = d
        .sharing
        .register_donor(authed(
            donors::RegisterDonorRequest {
                donor: Some(donors::Donor {
                    id: DONOR.into(),
                    name: Some(LocalizedText {
                        ar: String::new(),
                        en: "Someone else".into(),
                    }),
                    ..Default::default()
                }),
            },
            &d.operator,
        ))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::AlreadyExists);
    let admin = d.admin(TENANT);
    let listed = d
        .sharing
        .list_donors(authed(donors::ListDonorsRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, 1);
    assert_eq!(listed.donors[0].name.as_ref().unwrap().en, "ECHO");

    let bad = d
        .sharing
        .create_share_agreement(authed(
            donors::CreateShareAgreementRequest {
                share_agreement: Some(donors::ShareAgreement {
                    donor_id: DONOR.into(),
                    program_ids: vec!["not-an-id".into()],
                    indicator_codes: vec!["grant_amount_committed".into(), "nothing".into()],
                    from: day(2025, 12, 31),
                    until: day(2025, 1, 1),
                    purpose: Some(LocalizedText {
                        ar: "\u{202e}عكس".into(),
                        en: String::new(),
                    }),
                    ..Default::default()
                }),
                request_id: new_id(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&bad),
        vec![
            "share_agreement.until",
            "share_agreement.purpose.ar",
            "share_agreement.program_ids[0]",
            "share_agreement.indicator_codes[0]",
            "share_agreement.indicator_codes[1]",
        ]
    );
    let unknown = d
        .sharing
        .create_share_agreement(authed(
            donors::CreateShareAgreementRequest {
                share_agreement: Some(donors::ShareAgreement {
                    donor_id: "nobody".into(),
                    indicator_codes: vec!["trainees".into()],
                    from: day(2025, 1, 1),
                    until: day(2025, 12, 31),
                    purpose: Some(LocalizedText {
                        ar: PURPOSE_AR.into(),
                        en: String::new(),
                    }),
                    ..Default::default()
                }),
                request_id: new_id(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let shares = d
        .sharing
        .list_share_agreements(authed(
            donors::ListShareAgreementsRequest::default(),
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(shares.total_size, 0);

    let bad = d
        .sharing
        .update_sharing_settings(authed(
            donors::UpdateSharingSettingsRequest {
                settings: Some(donors::SharingSettings {
                    suppression_threshold: 2,
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&bad),
        vec!["settings.suppression_threshold"]
    );
    let staff = d.w.app.token(TENANT, &[Role::Staff], None);
    let settings = d
        .sharing
        .get_sharing_settings(authed(donors::GetSharingSettingsRequest::default(), &staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(settings.suppression_threshold, 5);
    assert!(settings.update_time.is_none());

    // A donor's bad request: every bad field, and no read audited.
    let token = d.donor_token(DONOR, &[TENANT]);
    let bad = d
        .donors
        .get_indicators(authed(
            donors::GetIndicatorsRequest {
                from: day(2025, 1, 2),
                until: day(2025, 3, 30),
                group_by: vec![Dimension::Gender as i32, Dimension::Branch as i32],
                codes: vec!["grant_amount_spent".into()],
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&bad),
        vec!["from", "until", "group_by[1]", "codes[0]"]
    );
    assert!(d.reads(TENANT).await.is_empty());
}
