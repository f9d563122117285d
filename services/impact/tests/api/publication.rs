//! What a tenant's files and figures are beyond a donor's token: its staff's
//! exports of their own programs, the figures of its public page and the
//! IATI files it publishes for anyone — each with a donor's rules (small
//! counts withheld at the tenant's threshold, the same protected tables),
//! validated with the official tools like the donor's files.

use std::path::Path;

use markaz_kit::rpc::new_id;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::donors::v1 as donors;

use crate::donors::{DONOR, Donors, day, project_events};
use crate::exports::{hxlvalidate, iati_schemas, xmllint};
use crate::figures::Activity;
use crate::world::*;

both_backends!(
    staff_export_their_own_programs,
    bad_settings_are_refused_by_field,
    the_public_page_sees_what_a_donor_sees,
    the_published_iati_file_changes_when_its_data_does
);

fn settings(iati: &str) -> donors::SharingSettings {
    donors::SharingSettings {
        iati_identifier: iati.into(),
        organisation_name: Some(LocalizedText {
            ar: "مركز دعم المجتمع المدني".into(),
            en: "Civil Society Support Center".into(),
        }),
        ..Default::default()
    }
}

async fn set(d: &mut Donors, s: donors::SharingSettings) -> donors::SharingSettings {
    let admin = d.admin(TENANT);
    d.sharing
        .update_sharing_settings(authed(
            donors::UpdateSharingSettingsRequest { settings: Some(s) },
            &admin,
        ))
        .await
        .expect("settings")
        .into_inner()
}

fn fields(status: &tonic::Status) -> Vec<String> {
    field_violations(status)
}

/// Writes `content` to a fresh file and runs `check` on it.
fn validated(name: &str, content: &[u8], check: impl Fn(&Path) -> (bool, String)) {
    let dir = std::env::temp_dir().join(format!("markaz-publication-{}", new_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    let (valid, said) = check(&path);
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        valid,
        "{name} does not validate:\n{said}\n{}",
        String::from_utf8_lossy(content)
    );
}

async fn staff_export_their_own_programs(backend: Backend) {
    let xsd = iati_schemas().join("iati-activities-schema.xsd");
    let schema3w = Path::new(env!("CARGO_MANIFEST_DIR")).join("exports/3w-schema.csv");
    let mut d = Donors::new(backend).await;
    d.register(DONOR).await;
    let (p1, p2) = (new_id(), new_id());
    let (a1, events) = project_events(TENANT, &p1, [20, 3, 1]);
    let (a2, more) = project_events(TENANT, &p2, [9, 9, 0]);
    for e in events.iter().chain(more.iter()) {
        d.w.deliver_envelope(e).await;
    }
    // p1 is shared with the donor (its funder); p2 with no one.
    d.share(TENANT, DONOR, &[&p1], &["trainees"]).await;
    let staff = d.w.app.token(TENANT, &[Role::Staff], None);
    let export = |program: &str, funder: &str| donors::ExportProgramIatiRequest {
        program_id: program.into(),
        funder_donor_id: funder.into(),
    };

    // No IATI identifier yet: the export says what is missing.
    let missing = d
        .sharing
        .export_program_iati(authed(export(&p1, ""), &staff))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::FailedPrecondition, "{missing:?}");
    set(
        &mut d,
        donors::SharingSettings {
            sector_dac5_codes: [("SECTOR_HEALTH".to_string(), "12191".to_string())].into(),
            ..settings("SY-RC-1234")
        },
    )
    .await;

    let file = d
        .sharing
        .export_program_iati(authed(export(&p1, ""), &staff))
        .await
        .expect("IATI")
        .into_inner();
    assert_eq!(file.media_type, "application/xml");
    validated(&file.file_name, &file.content, |p| xmllint(&xsd, p));
    let xml = String::from_utf8(file.content.clone()).unwrap();
    assert!(xml.contains(&format!(
        "<iati-identifier>SY-RC-1234-{a1}</iati-identifier>"
    )));
    // The funder is the donor the program is shared with; the tenant's
    // own DAC code for health; the withheld men (3) left out as for a
    // donor, the women (20) in.
    assert!(xml.contains("<participating-org role=\"1\" ref=\"XI-IATI-EC_ECHO\">"));
    assert!(xml.contains("<sector vocabulary=\"1\" code=\"12191\""));
    assert!(xml.contains("code=\"SY11\""));
    assert!(xml.contains("<actual value=\"20\">"));
    assert!(!xml.contains("<actual value=\"3\">"));
    assert_eq!(xml.matches("<iati-activity ").count(), 1);
    // The same data, the same bytes.
    let again = d
        .sharing
        .export_program_iati(authed(export(&p1, ""), &staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.sha256, file.sha256);

    // A program shared with no one: every award, no funder named; or the
    // funder staff name.
    let unshared = d
        .sharing
        .export_program_iati(authed(export(&p2, ""), &staff))
        .await
        .expect("an unshared program of one's own")
        .into_inner();
    validated(&unshared.file_name, &unshared.content, |p| xmllint(&xsd, p));
    let xml2 = String::from_utf8(unshared.content).unwrap();
    assert!(xml2.contains(&format!("SY-RC-1234-{a2}")));
    assert!(!xml2.contains("role=\"1\""));
    let named = d
        .sharing
        .export_program_iati(authed(export(&p2, DONOR), &staff))
        .await
        .unwrap()
        .into_inner();
    assert!(
        String::from_utf8(named.content)
            .unwrap()
            .contains("ref=\"XI-IATI-EC_ECHO\"")
    );

    // Bad input by field; unknown program, unknown funder, another
    // tenant's program: NOT_FOUND.
    let bad = d
        .sharing
        .export_program_iati(authed(export("", "Not A Slug!"), &staff))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(fields(&bad), vec!["program_id", "funder_donor_id"]);
    for (program, funder) in [(new_id(), String::new()), (p1.clone(), "nobody".into())] {
        let gone = d
            .sharing
            .export_program_iati(authed(export(&program, &funder), &staff))
            .await
            .unwrap_err();
        assert_eq!(gone.code(), Code::NotFound, "{program} {funder}");
    }
    let other = d.w.app.token(OTHER_TENANT, &[Role::Admin], None);
    let theirs = d
        .sharing
        .export_program_iati(authed(export(&p1, ""), &other))
        .await
        .unwrap_err();
    assert_eq!(theirs.code(), Code::NotFound);

    // The 3W of every program, and of one.
    let all = d
        .sharing
        .export_program_hxl3w(authed(donors::ExportProgramHxl3wRequest::default(), &staff))
        .await
        .expect("3W")
        .into_inner();
    assert_eq!(all.media_type, "text/csv");
    validated("3w.csv", &all.content, |p| hxlvalidate(&schema3w, p));
    let text = String::from_utf8(all.content).unwrap();
    assert_eq!(
        text.lines().count(),
        4,
        "header, hashtags, two awards:\n{text}"
    );
    assert!(text.contains("12191"));
    let one = d
        .sharing
        .export_program_hxl3w(authed(
            donors::ExportProgramHxl3wRequest {
                program_id: p2.clone(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let text = String::from_utf8(one.content).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains(&a2));
    let bad = d
        .sharing
        .export_program_hxl3w(authed(
            donors::ExportProgramHxl3wRequest {
                program_id: "p2".into(),
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&bad), vec!["program_id"]);

    // Staff reads are not donor reads: the audit holds none of them.
    let reads = d.reads(TENANT).await;
    assert!(reads.is_empty(), "{reads:?}");
}

async fn bad_settings_are_refused_by_field(backend: Backend) {
    let mut d = Donors::new(backend).await;
    let admin = d.admin(TENANT);
    let before = d
        .sharing
        .get_sharing_settings(authed(donors::GetSharingSettingsRequest {}, &admin))
        .await
        .unwrap()
        .into_inner();
    let refused = d
        .sharing
        .update_sharing_settings(authed(
            donors::UpdateSharingSettingsRequest {
                settings: Some(donors::SharingSettings {
                    public_indicator_codes: vec![
                        "trainees".into(),
                        "grant_amount_committed".into(),
                        "no_such".into(),
                        "trainees".into(),
                    ],
                    published_program_ids: vec!["not-an-id".into()],
                    branch_admin1_pcodes: [
                        ("raqqa".to_string(), "SY15".to_string()),
                        ("deir".to_string(), "SY09".to_string()),
                        ("Bad Branch".to_string(), "SY11".to_string()),
                    ]
                    .into(),
                    sector_dac5_codes: [
                        ("SECTOR_HEALTH".to_string(), "1222".to_string()),
                        ("SECTOR_EDUCATION".to_string(), "99999".to_string()),
                        ("SECTOR_NOPE".to_string(), "12220".to_string()),
                        ("SECTOR_PROTECTION".to_string(), "15160".to_string()),
                    ]
                    .into(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let mut got = fields(&refused);
    got.sort();
    let mut expected = vec![
        "settings.public_indicator_codes[1]",
        "settings.public_indicator_codes[2]",
        "settings.public_indicator_codes[3]",
        "settings.published_program_ids[0]",
        "settings.branch_admin1_pcodes[\"Bad Branch\"]",
        "settings.branch_admin1_pcodes[\"raqqa\"]",
        "settings.sector_dac5_codes[\"SECTOR_EDUCATION\"]",
        "settings.sector_dac5_codes[\"SECTOR_HEALTH\"]",
        "settings.sector_dac5_codes[\"SECTOR_NOPE\"]",
        // Publishing an IATI file needs the tenant's identifier.
        "settings.iati_identifier",
    ];
    expected.sort();
    assert_eq!(got, expected, "{refused:?}");
    // The p-code's refusal says what a p-code is.
    assert!(
        refused.message().contains("SY01 to SY14")
            || String::from_utf8_lossy(refused.details()).contains("SY01 to SY14"),
        "{refused:?}"
    );
    // Nothing written.
    let after = d
        .sharing
        .get_sharing_settings(authed(donors::GetSharingSettingsRequest {}, &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after, before);

    // Good codes are kept as given.
    let saved = set(
        &mut d,
        donors::SharingSettings {
            public_indicator_codes: vec!["trainees".into()],
            branch_admin1_pcodes: [("deir".to_string(), "SY09".to_string())].into(),
            sector_dac5_codes: [("SECTOR_PROTECTION".to_string(), "15160".to_string())].into(),
            ..settings("SY-RC-1234")
        },
    )
    .await;
    assert_eq!(saved.public_indicator_codes, vec!["trainees"]);
    assert_eq!(
        saved.branch_admin1_pcodes.get("deir").map(String::as_str),
        Some("SY09")
    );
    let read = d
        .sharing
        .get_sharing_settings(authed(donors::GetSharingSettingsRequest {}, &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, saved);
}

fn public(codes: &[&str], group_by: Option<Dimension>) -> donors::GetPublicFiguresRequest {
    donors::GetPublicFiguresRequest {
        tenant_id: TENANT.into(),
        codes: codes.iter().map(|c| c.to_string()).collect(),
        from: day(2025, 1, 1),
        until: day(2025, 12, 31),
        group_by: group_by.map(|d| d as i32).into_iter().collect(),
    }
}

async fn the_public_page_sees_what_a_donor_sees(backend: Backend) {
    let mut d = Donors::new(backend).await;
    d.register(DONOR).await;
    for e in Activity::generate(7).envelopes(TENANT) {
        d.w.deliver_envelope(&e).await;
    }
    // Nothing public yet: the page's center is not found, like one that
    // is not here at all.
    let none = d
        .sharing
        .get_public_figures(public(&[], None))
        .await
        .unwrap_err();
    assert_eq!(none.code(), Code::NotFound);
    let published = markaz_kit::rpc::new_id();
    set(
        &mut d,
        donors::SharingSettings {
            public_indicator_codes: vec!["trainees".into(), "courses_held".into()],
            published_program_ids: vec![published.clone()],
            ..settings("SY-RC-1234")
        },
    )
    .await;
    d.share(TENANT, DONOR, &[], &["trainees", "courses_held"])
        .await;
    let token = d.donor_token(DONOR, &[TENANT]);

    for split in [None, Some(Dimension::Gender), Some(Dimension::Branch)] {
        let page = d
            .sharing
            .get_public_figures(public(&[], split))
            .await
            .expect("public figures, no token")
            .into_inner();
        assert_eq!(page.suppression_threshold, 5);
        // The page may link the files anyone may fetch, and name the
        // center as they do.
        assert_eq!(page.published_program_ids, vec![published.clone()]);
        assert_eq!(page.center_name, settings("").organisation_name);
        let codes: std::collections::BTreeSet<&str> =
            page.figures.iter().map(|f| f.code.as_str()).collect();
        // courses_held has no gender: a split by gender leaves it out.
        let expected: std::collections::BTreeSet<&str> = if split == Some(Dimension::Gender) {
            ["trainees"].into()
        } else {
            ["trainees", "courses_held"].into()
        };
        assert_eq!(codes, expected);
        assert_eq!(page.figures.len(), expected.len() * 4);
        // The donor's view of the same quarters, value for value and
        // withheld for withheld: one protected table per indicator and
        // quarter, whoever asks.
        let donor = d
            .donors
            .get_indicators(authed(
                donors::GetIndicatorsRequest {
                    from: day(2025, 1, 1),
                    until: day(2025, 12, 31),
                    group_by: split.map(|d| d as i32).into_iter().collect(),
                    page_size: 100,
                    ..Default::default()
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        let mut from_donor: Vec<donors::DonorFigures> = donor
            .figures
            .into_iter()
            .map(|f| donors::DonorFigures {
                share_agreement_id: String::new(),
                ..f
            })
            .collect();
        from_donor.sort_by(|a, b| (&a.code, &a.quarter).cmp(&(&b.code, &b.quarter)));
        let mut from_public = page.figures.clone();
        from_public.sort_by(|a, b| (&a.code, &a.quarter).cmp(&(&b.code, &b.quarter)));
        assert_eq!(from_public, from_donor, "{split:?}");
        // And the published values are the staff's own figures.
        for f in &page.figures {
            let total = d
                .staff_figure(TENANT, &f.code, f.from, f.until, None)
                .await
                .total;
            let v = f.total.as_ref().unwrap();
            if v.suppressed {
                assert_eq!(v.value, 0);
            } else {
                assert_eq!(v.value, total, "{} {}", f.code, f.quarter);
            }
            if (1..5).contains(&total) {
                assert!(v.suppressed, "{} {}: a small total", f.code, f.quarter);
            }
        }
    }

    // Bad input by field: a code the center does not publish, no center,
    // more than a year.
    let refused = d
        .sharing
        .get_public_figures(public(&["trainees", "consultations_held"], None))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(fields(&refused), vec!["codes[1]"]);
    let refused = d
        .sharing
        .get_public_figures(donors::GetPublicFiguresRequest {
            tenant_id: String::new(),
            until: day(2026, 12, 31),
            ..public(&[], None)
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&refused), vec!["tenant_id"]);
    let refused = d
        .sharing
        .get_public_figures(donors::GetPublicFiguresRequest {
            until: day(2026, 12, 31),
            ..public(&[], None)
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&refused), vec!["until"]);

    // The public RPCs' rate limit: a client address gets its minute's
    // quota, then RESOURCE_EXHAUSTED (the calls so far count too).
    let mut exhausted = None;
    for n in 0..70 {
        let got = d
            .sharing
            .get_public_figures(donors::GetPublicFiguresRequest {
                until: day(2025, 3, 31),
                ..public(&["courses_held"], None)
            })
            .await;
        if let Err(e) = got {
            exhausted = Some((n, e));
            break;
        }
    }
    let (n, e) = exhausted.expect("a client address is limited");
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(n > 40, "refused after {n} calls");
}

async fn the_published_iati_file_changes_when_its_data_does(backend: Backend) {
    let xsd = iati_schemas().join("iati-activities-schema.xsd");
    let mut d = Donors::new(backend).await;
    let (p1, p2) = (new_id(), new_id());
    let (_, events) = project_events(TENANT, &p1, [20, 3, 1]);
    let (_, more) = project_events(TENANT, &p2, [9, 9, 0]);
    for e in events.iter().chain(more.iter()) {
        d.w.deliver_envelope(e).await;
    }
    let fetch = |program: &str, held: &str| donors::GetPublishedIatiFileRequest {
        tenant_id: TENANT.into(),
        program_id: program.into(),
        if_none_match: held.into(),
    };
    // Not published: not found, like a program that does not exist.
    let gone = d
        .sharing
        .get_published_iati_file(fetch(&p1, ""))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    set(
        &mut d,
        donors::SharingSettings {
            published_program_ids: vec![p1.clone()],
            ..settings("SY-RC-1234")
        },
    )
    .await;

    let first = d
        .sharing
        .get_published_iati_file(fetch(&p1, ""))
        .await
        .expect("published, no token")
        .into_inner();
    assert!(!first.not_modified);
    let file = first.file.unwrap();
    validated(&file.file_name, &file.content, |p| xmllint(&xsd, p));
    let hash = file.sha256.clone();
    // The hash is the content's.
    let digest = ring::digest::digest(&ring::digest::SHA256, &file.content);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, hash);

    // Fetched again with the hash held: not modified, no content.
    let held = d
        .sharing
        .get_published_iati_file(fetch(&p1, &hash))
        .await
        .unwrap()
        .into_inner();
    assert!(held.not_modified);
    let held = held.file.unwrap();
    assert!(held.content.is_empty());
    assert_eq!(held.sha256, hash);

    // A change elsewhere — an award of an unpublished program, a setting
    // the file does not show — leaves the file and its hash alone.
    let (_, elsewhere) = project_events(TENANT, &p2, [5, 5, 5]);
    for e in &elsewhere {
        d.w.deliver_envelope(e).await;
    }
    set(
        &mut d,
        donors::SharingSettings {
            published_program_ids: vec![p1.clone()],
            public_indicator_codes: vec!["trainees".into()],
            ..settings("SY-RC-1234")
        },
    )
    .await;
    let same = d
        .sharing
        .get_published_iati_file(fetch(&p1, &hash))
        .await
        .unwrap()
        .into_inner();
    assert!(same.not_modified, "nothing the file shows changed");

    // A new award of the published program: a new file, a new hash.
    let (a3, added) = project_events(TENANT, &p1, [30, 30, 0]);
    for e in &added {
        d.w.deliver_envelope(e).await;
    }
    let changed = d
        .sharing
        .get_published_iati_file(fetch(&p1, &hash))
        .await
        .unwrap()
        .into_inner();
    assert!(!changed.not_modified);
    let changed = changed.file.unwrap();
    assert_ne!(changed.sha256, hash);
    let xml = String::from_utf8(changed.content.clone()).unwrap();
    assert!(xml.contains(&format!("SY-RC-1234-{a3}")));
    validated(&changed.file_name, &changed.content, |p| xmllint(&xsd, p));

    // The name the file shows changes it too.
    let renamed = set(
        &mut d,
        donors::SharingSettings {
            published_program_ids: vec![p1.clone()],
            organisation_name: Some(LocalizedText {
                ar: "مركز الرقة".into(),
                en: "Raqqa Center".into(),
            }),
            ..settings("SY-RC-1234")
        },
    )
    .await;
    assert_eq!(renamed.published_program_ids, vec![p1.clone()]);
    let again = d
        .sharing
        .get_published_iati_file(fetch(&p1, &changed.sha256))
        .await
        .unwrap()
        .into_inner();
    assert!(!again.not_modified);

    // Bad input by field.
    let bad = d
        .sharing
        .get_published_iati_file(donors::GetPublishedIatiFileRequest {
            tenant_id: "Not A Tenant".into(),
            program_id: String::new(),
            if_none_match: "W/\"abc\"".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&bad),
        vec!["tenant_id", "program_id", "if_none_match"]
    );
}
