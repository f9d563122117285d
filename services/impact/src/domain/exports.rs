//! The files donors ingest: an IATI 2.03 activity file per grant program
//! and an HXL-tagged 3W CSV — rendered from plain values, no I/O. Values
//! withheld by suppression are `None` here and never written.

use std::fmt::Write;

/// One funded project as the files describe it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    /// The award id.
    pub award_id: String,
    pub title_ar: String,
    pub title_en: String,
    pub summary_ar: String,
    pub summary_en: String,
    /// The implementing partner.
    pub partner_name_ar: String,
    pub partner_name_en: String,
    /// IATI activity status code: 2 implementation, 4 closed, 5 cancelled.
    pub status: u8,
    /// YYYY-MM-DD.
    pub planned_start: String,
    pub planned_end: String,
    /// Empty when not ended.
    pub actual_end: String,
    /// Set once money moved or a milestone was reported.
    pub started: bool,
    /// SECTOR_* name.
    pub sector: String,
    /// The governorate as written, and its admin-1 p-code when known.
    pub governorate: String,
    /// The p-code of the award's branch (the tenant's settings), for a
    /// governorate not written or not known; empty: none.
    pub branch_pcode: String,
    /// The tenant's DAC 5 code for the sector; empty: [`dac5`]'s.
    pub sector_code: String,
    pub currency: String,
    /// Minor units.
    pub budget: i64,
    pub disbursed: i64,
    /// The day of the latest tranche paid; empty if none.
    pub disbursed_on: String,
    /// Targeted and reached, female and male; `None` where withheld.
    pub targeted: [Option<i64>; 2],
    pub reached: [Option<i64>; 2],
    pub reached_total: Option<i64>,
    /// Which of the counts were withheld ("targeted+m", ...).
    pub suppressed: Vec<&'static str>,
}

/// The organisations around the activities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Organisations {
    pub reporting_ref: String,
    pub reporting_name_ar: String,
    pub reporting_name_en: String,
    pub funder_ref: String,
    pub funder_name_ar: String,
    pub funder_name_en: String,
}

/// Syria's governorates (OCHA admin-1 p-codes), by the names partners and
/// branches write them in.
const GOVERNORATES: &[(&str, &str, &[&str])] = &[
    ("SY01", "Damascus", &["damascus", "دمشق"]),
    ("SY02", "Aleppo", &["aleppo", "حلب"]),
    (
        "SY03",
        "Rural Damascus",
        &["rural-damascus", "rural damascus", "ريف دمشق"],
    ),
    ("SY04", "Homs", &["homs", "حمص"]),
    ("SY05", "Hama", &["hama", "حماة"]),
    ("SY06", "Lattakia", &["lattakia", "latakia", "اللاذقية"]),
    ("SY07", "Idleb", &["idleb", "idlib", "إدلب", "ادلب"]),
    (
        "SY08",
        "Al-Hasakeh",
        &["hasakah", "al-hasakeh", "hasakeh", "الحسكة"],
    ),
    (
        "SY09",
        "Deir-ez-Zor",
        &["deir-ez-zor", "deir ez-zor", "deir-ezzor", "دير الزور"],
    ),
    ("SY10", "Tartous", &["tartous", "tartus", "طرطوس"]),
    (
        "SY11",
        "Ar-Raqqa",
        &["raqqa", "ar-raqqa", "al-raqqa", "الرقة"],
    ),
    ("SY12", "Dar'a", &["daraa", "dar'a", "درعا"]),
    ("SY13", "As-Sweida", &["sweida", "as-sweida", "السويداء"]),
    ("SY14", "Quneitra", &["quneitra", "القنيطرة"]),
];

/// The admin-1 p-code and English name of an activity's place: its
/// governorate's, else its branch's.
pub fn place(a: &Activity) -> Option<(&'static str, &'static str)> {
    admin1(&a.governorate).or_else(|| {
        GOVERNORATES
            .iter()
            .find(|(c, _, _)| *c == a.branch_pcode)
            .map(|(c, name, _)| (*c, *name))
    })
}

/// An activity's DAC 5 code: the tenant's for its sector, else the default.
pub fn sector_code(a: &Activity) -> &str {
    if a.sector_code.is_empty() {
        dac5(&a.sector)
    } else {
        &a.sector_code
    }
}

/// The admin-1 p-code and English name of a governorate, if known.
pub fn admin1(governorate: &str) -> Option<(&'static str, &'static str)> {
    let g = governorate.trim().to_lowercase();
    GOVERNORATES
        .iter()
        .find(|(_, _, names)| names.contains(&g.as_str()))
        .map(|(code, name, _)| (*code, *name))
}

/// `code` as a Syrian governorate's admin-1 p-code ("SY11"), or why not.
pub fn check_admin1(code: &str) -> Result<&'static str, String> {
    GOVERNORATES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(c, _, _)| *c)
        .ok_or_else(|| {
            format!(
                "{code:?} is not the OCHA admin-1 p-code of a Syrian governorate (SY01 to SY14)"
            )
        })
}

/// The DAC 3 sector groups a DAC 5 purpose code can start with (OECD DAC
/// CRS codes, the IATI Sector codelist's groups).
const DAC3: &[&str] = &[
    "111", "112", "113", "114", "121", "122", "123", "130", "140", "151", "152", "160", "210",
    "220", "230", "231", "232", "233", "234", "235", "236", "240", "250", "310", "311", "312",
    "313", "321", "322", "323", "331", "332", "410", "430", "510", "520", "530", "600", "720",
    "730", "740", "910", "930", "998",
];

/// Whether `code` is a well-formed DAC 5 purpose code: five digits, a
/// known DAC 3 group first ("15150"), or why not.
pub fn check_dac5(code: &str) -> Result<(), String> {
    if code.len() != 5 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{code:?} is not a DAC 5 purpose code: five digits, such as 15150"
        ));
    }
    if !DAC3.contains(&&code[..3]) {
        return Err(format!(
            "{code:?} starts with {:?}, no DAC 3 sector group",
            &code[..3]
        ));
    }
    Ok(())
}

/// The OECD DAC 5-digit purpose code of a sector; civil society
/// (15150, democratic participation and civil society) when none fits.
pub fn dac5(sector: &str) -> &'static str {
    match sector {
        "SECTOR_EDUCATION" => "11220",
        "SECTOR_HEALTH" => "12220",
        "SECTOR_WATER_SANITATION_HYGIENE" => "14030",
        "SECTOR_PROTECTION" => "15160",
        "SECTOR_LIVELIHOODS" => "16020",
        "SECTOR_PSYCHOSOCIAL_SUPPORT" => "12340",
        "SECTOR_GOVERNANCE_PEACEBUILDING" => "15220",
        _ => "15150",
    }
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn narratives(out: &mut String, indent: &str, ar: &str, en: &str) {
    if !ar.is_empty() {
        let _ = writeln!(
            out,
            "{indent}<narrative xml:lang=\"ar\">{}</narrative>",
            esc(ar)
        );
    }
    if !en.is_empty() || ar.is_empty() {
        let _ = writeln!(
            out,
            "{indent}<narrative xml:lang=\"en\">{}</narrative>",
            esc(en)
        );
    }
}

/// Money in major units, exactly ("10000.00"), for a minor-unit count
/// with two decimals.
fn major(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, (minor % 100).abs())
}

/// The IATI identifier of an activity: the reporting organisation's
/// identifier and the award's id.
pub fn identifier(o: &Organisations, a: &Activity) -> String {
    format!("{}-{}", o.reporting_ref, a.award_id)
}

/// The key rules of IATI's standard ruleset an activity must pass: what
/// is wrong with it (empty: nothing).
pub fn ruleset(o: &Organisations, a: &Activity) -> Vec<String> {
    let mut wrong = Vec::new();
    if a.planned_start.is_empty() {
        wrong.push("no start date".to_string());
    }
    if !a.planned_end.is_empty() && a.planned_end < a.planned_start {
        wrong.push(format!(
            "ends {} before it starts {}",
            a.planned_end, a.planned_start
        ));
    }
    if !a.actual_end.is_empty() && a.actual_end < a.planned_start {
        wrong.push("ended before it started".to_string());
    }
    if a.sector.is_empty() || check_dac5(sector_code(a)).is_err() {
        wrong.push("no sector".to_string());
    }
    if !identifier(o, a).starts_with(&format!("{}-", o.reporting_ref)) || o.reporting_ref.is_empty()
    {
        wrong.push("the identifier does not start with the reporting organisation's".to_string());
    }
    let end = if a.actual_end.is_empty() {
        &a.planned_end
    } else {
        &a.actual_end
    };
    for (what, day) in [
        ("commitment", &a.planned_start),
        ("disbursement", &a.disbursed_on),
    ] {
        if !day.is_empty() && (day < &a.planned_start || (!end.is_empty() && day > end)) {
            wrong.push(format!("{what} on {day} outside the activity's period"));
        }
    }
    wrong
}

/// The IATI 2.03 activity file of `activities`. `last_updated` (RFC 3339)
/// is the latest change of the data, so the same data gives the same
/// bytes.
pub fn iati(o: &Organisations, activities: &[Activity], last_updated: &str) -> String {
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<iati-activities version=\"2.03\" generated-datetime=\"{last_updated}\">"
    );
    for a in activities {
        let _ = writeln!(
            x,
            "  <iati-activity last-updated-datetime=\"{last_updated}\" xml:lang=\"ar\" \
             default-currency=\"{}\" hierarchy=\"2\">",
            esc(&a.currency)
        );
        let _ = writeln!(
            x,
            "    <iati-identifier>{}</iati-identifier>",
            esc(&identifier(o, a))
        );
        let _ = writeln!(
            x,
            "    <reporting-org ref=\"{}\" type=\"22\">",
            esc(&o.reporting_ref)
        );
        narratives(&mut x, "      ", &o.reporting_name_ar, &o.reporting_name_en);
        x.push_str("    </reporting-org>\n    <title>\n");
        narratives(&mut x, "      ", &a.title_ar, &a.title_en);
        x.push_str("    </title>\n    <description type=\"1\">\n");
        narratives(&mut x, "      ", &a.summary_ar, &a.summary_en);
        x.push_str("    </description>\n");
        // No funder known (a staff export of a program no donor is named
        // for): none written rather than a nameless one.
        let funder_known = !(o.funder_ref.is_empty()
            && o.funder_name_ar.is_empty()
            && o.funder_name_en.is_empty());
        if funder_known {
            if o.funder_ref.is_empty() {
                x.push_str("    <participating-org role=\"1\">\n");
            } else {
                let _ = writeln!(
                    x,
                    "    <participating-org role=\"1\" ref=\"{}\">",
                    esc(&o.funder_ref)
                );
            }
            narratives(&mut x, "      ", &o.funder_name_ar, &o.funder_name_en);
            x.push_str("    </participating-org>\n");
        }
        let _ = writeln!(
            x,
            "    <participating-org role=\"3\" ref=\"{}\" type=\"22\">",
            esc(&o.reporting_ref)
        );
        narratives(&mut x, "      ", &o.reporting_name_ar, &o.reporting_name_en);
        x.push_str("    </participating-org>\n    <participating-org role=\"4\" type=\"22\">\n");
        narratives(&mut x, "      ", &a.partner_name_ar, &a.partner_name_en);
        x.push_str("    </participating-org>\n");
        let _ = writeln!(x, "    <activity-status code=\"{}\"/>", a.status);
        let _ = writeln!(
            x,
            "    <activity-date type=\"1\" iso-date=\"{}\"/>",
            a.planned_start
        );
        if a.started {
            let _ = writeln!(
                x,
                "    <activity-date type=\"2\" iso-date=\"{}\"/>",
                a.planned_start
            );
        }
        if !a.planned_end.is_empty() {
            let _ = writeln!(
                x,
                "    <activity-date type=\"3\" iso-date=\"{}\"/>",
                a.planned_end
            );
        }
        if !a.actual_end.is_empty() {
            let _ = writeln!(
                x,
                "    <activity-date type=\"4\" iso-date=\"{}\"/>",
                a.actual_end
            );
        }
        x.push_str("    <activity-scope code=\"6\"/>\n");
        x.push_str("    <recipient-country code=\"SY\" percentage=\"100\"/>\n");
        if let Some((code, name)) = place(a) {
            let _ = writeln!(
                x,
                "    <location>\n      <name>\n        <narrative xml:lang=\"en\">{name}</narrative>\n      </name>\n      <administrative vocabulary=\"G1\" level=\"1\" code=\"{code}\"/>\n    </location>"
            );
        }
        let _ = writeln!(
            x,
            "    <sector vocabulary=\"1\" code=\"{}\" percentage=\"100\"/>",
            sector_code(a)
        );
        let end = if a.actual_end.is_empty() {
            &a.planned_end
        } else {
            &a.actual_end
        };
        let _ = writeln!(
            x,
            "    <budget type=\"1\" status=\"2\">\n      <period-start iso-date=\"{}\"/>\n      <period-end iso-date=\"{}\"/>\n      <value currency=\"{}\" value-date=\"{}\">{}</value>\n    </budget>",
            a.planned_start,
            a.planned_end,
            esc(&a.currency),
            a.planned_start,
            major(a.budget)
        );
        let mut transaction = |code: u8, day: &str, minor: i64| {
            let _ = writeln!(
                x,
                "    <transaction>\n      <transaction-type code=\"{code}\"/>\n      <transaction-date iso-date=\"{day}\"/>\n      <value currency=\"{}\" value-date=\"{day}\">{}</value>\n    </transaction>",
                esc(&a.currency),
                major(minor)
            );
        };
        transaction(2, &a.planned_start, a.budget);
        if a.disbursed > 0 && !a.disbursed_on.is_empty() {
            transaction(3, &a.disbursed_on, a.disbursed);
        }
        // Results: people targeted and reached, by sex; a withheld count
        // is left out, never written as zero.
        x.push_str(
            "    <result type=\"2\" aggregation-status=\"0\">\n      <title>\n        <narrative xml:lang=\"en\">People reached</narrative>\n        <narrative xml:lang=\"ar\">الأشخاص الذين تم الوصول إليهم</narrative>\n      </title>\n      <indicator measure=\"1\">\n        <title>\n          <narrative xml:lang=\"en\">People reached, by sex</narrative>\n        </title>\n",
        );
        let _ = writeln!(
            x,
            "        <period>\n          <period-start iso-date=\"{}\"/>\n          <period-end iso-date=\"{end}\"/>",
            a.planned_start
        );
        for (sex, v) in [("female", a.targeted[0]), ("male", a.targeted[1])] {
            if let Some(v) = v {
                let _ = writeln!(
                    x,
                    "          <target value=\"{v}\">\n            <dimension name=\"sex\" value=\"{sex}\"/>\n          </target>"
                );
            }
        }
        for (sex, v) in [("female", a.reached[0]), ("male", a.reached[1])] {
            if let Some(v) = v {
                let _ = writeln!(
                    x,
                    "          <actual value=\"{v}\">\n            <dimension name=\"sex\" value=\"{sex}\"/>\n          </actual>"
                );
            }
        }
        x.push_str("        </period>\n      </indicator>\n    </result>\n  </iati-activity>\n");
    }
    x.push_str("</iati-activities>\n");
    x
}

/// The 3W's columns: header, then HXL hashtag.
pub const HXL_COLUMNS: [(&str, &str); 16] = [
    ("Implementing organization", "#org+impl"),
    ("Reporting organization", "#org+reporting"),
    (
        "Reporting organization IATI identifier",
        "#org+reporting+code",
    ),
    ("Funder", "#org+funder"),
    ("Funder IATI identifier", "#org+funder+code"),
    ("Sector (DAC 5)", "#sector+code"),
    ("Activity", "#activity"),
    ("Activity IATI identifier", "#activity+code"),
    ("Governorate", "#adm1+name"),
    ("Governorate p-code", "#adm1+code"),
    ("Start", "#date+start"),
    ("End", "#date+end"),
    ("Status", "#status"),
    ("Targeted women", "#targeted+f"),
    ("Targeted men", "#targeted+m"),
    ("Reached", "#reached+total"),
];

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn status_word(code: u8) -> &'static str {
    match code {
        4 => "completed",
        5 => "closed early",
        _ => "ongoing",
    }
}

/// The HXL-tagged 3W CSV of `rows` (each with its organisations), and a
/// last column naming the counts withheld.
pub fn hxl_3w(rows: &[(Organisations, Activity)]) -> String {
    let mut out = String::new();
    let header: Vec<&str> = HXL_COLUMNS
        .iter()
        .map(|(h, _)| *h)
        .chain(["Withheld (small counts)"])
        .collect();
    let tags: Vec<&str> = HXL_COLUMNS
        .iter()
        .map(|(_, t)| *t)
        .chain(["#meta+suppressed"])
        .collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    out.push_str(&tags.join(","));
    out.push_str("\r\n");
    let pick = |ar: &str, en: &str| if ar.is_empty() { en } else { ar }.to_string();
    let num = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    for (o, a) in rows {
        let (code, _) = place(a).unwrap_or(("", ""));
        let cells = [
            pick(&a.partner_name_ar, &a.partner_name_en),
            pick(&o.reporting_name_ar, &o.reporting_name_en),
            o.reporting_ref.clone(),
            pick(&o.funder_name_ar, &o.funder_name_en),
            o.funder_ref.clone(),
            sector_code(a).to_string(),
            pick(&a.title_ar, &a.title_en),
            if o.reporting_ref.is_empty() {
                String::new()
            } else {
                identifier(o, a)
            },
            a.governorate.clone(),
            code.to_string(),
            a.planned_start.clone(),
            if a.actual_end.is_empty() {
                a.planned_end.clone()
            } else {
                a.actual_end.clone()
            },
            status_word(a.status).to_string(),
            num(a.targeted[0]),
            num(a.targeted[1]),
            num(a.reached_total),
            a.suppressed.join(" "),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn governorates_by_any_spelling() {
        assert_eq!(admin1("الرقة"), Some(("SY11", "Ar-Raqqa")));
        assert_eq!(admin1("Deir-ez-Zor"), Some(("SY09", "Deir-ez-Zor")));
        assert_eq!(admin1("nowhere"), None);
    }

    #[test]
    fn pcodes_are_syrias_and_dac_codes_well_formed() {
        assert_eq!(check_admin1("SY11"), Ok("SY11"));
        for bad in ["SY15", "SY00", "sy11", "TR11", "", "SY1"] {
            assert!(check_admin1(bad).is_err(), "{bad}");
        }
        assert_eq!(check_dac5("15150"), Ok(()));
        assert_eq!(check_dac5("12220"), Ok(()));
        for bad in ["1515", "151500", "1515a", "99999", "00000", ""] {
            assert!(check_dac5(bad).is_err(), "{bad}");
        }
        // The branch's p-code stands in for a governorate not known; the
        // tenant's code for the sector's default.
        let a = Activity {
            governorate: "somewhere".into(),
            branch_pcode: "SY09".into(),
            sector: "SECTOR_HEALTH".into(),
            sector_code: "12191".into(),
            ..Default::default()
        };
        assert_eq!(place(&a), Some(("SY09", "Deir-ez-Zor")));
        assert_eq!(sector_code(&a), "12191");
        let known = Activity {
            governorate: "الرقة".into(),
            ..a.clone()
        };
        assert_eq!(place(&known), Some(("SY11", "Ar-Raqqa")));
    }

    #[test]
    fn the_ruleset_finds_what_is_wrong() {
        let o = Organisations {
            reporting_ref: "SY-RC-1".into(),
            ..Default::default()
        };
        let a = Activity {
            planned_start: "2025-03-01".into(),
            planned_end: "2025-02-01".into(),
            disbursed_on: "2025-12-01".into(),
            sector: "SECTOR_HEALTH".into(),
            ..Default::default()
        };
        let wrong = ruleset(&o, &a);
        // Ends before it starts; the commitment (on the start) and the
        // disbursement fall after the end.
        assert_eq!(wrong.len(), 3, "{wrong:?}");
        assert_eq!(major(1_000_005), "10000.05");
        assert_eq!(csv_field("a, \"b\""), "\"a, \"\"b\"\"\"");
    }
}
