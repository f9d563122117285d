//! Arabic first: the two catalogues (`i18n/ar.toml`, `i18n/en.toml`, every UI
//! string once per language), the reader's language (a cookie, Arabic by
//! default), and dates, numbers and money written for that language.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use markaz_proto::common::v1 as common;

use crate::session::LANG_COOKIE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ar,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ar => "ar",
            Lang::En => "en",
        }
    }

    pub fn dir(self) -> &'static str {
        match self {
            Lang::Ar => "rtl",
            Lang::En => "ltr",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Ar => Lang::En,
            Lang::En => Lang::Ar,
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "ar" => Some(Lang::Ar),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language the reader chose (cookie), Arabic otherwise.
    pub fn of(headers: &http::HeaderMap) -> Lang {
        crate::http::cookie(headers, LANG_COOKIE)
            .and_then(Lang::parse)
            .unwrap_or(Lang::Ar)
    }

    pub fn catalogue(self) -> &'static BTreeMap<String, String> {
        static AR: OnceLock<BTreeMap<String, String>> = OnceLock::new();
        static EN: OnceLock<BTreeMap<String, String>> = OnceLock::new();
        let (cell, text, name) = match self {
            Lang::Ar => (&AR, include_str!("../i18n/ar.toml"), "ar.toml"),
            Lang::En => (&EN, include_str!("../i18n/en.toml"), "en.toml"),
        };
        cell.get_or_init(|| {
            toml::from_str(text).unwrap_or_else(|e| panic!("i18n/{name} is broken: {e}"))
        })
    }

    /// The string `key`; `None` when the catalogue lacks it.
    pub fn get(self, key: &str) -> Option<&'static str> {
        self.catalogue().get(key).map(String::as_str)
    }

    /// The label of a protobuf enum value (`ORGANIZATION_KIND_CSO`); the name
    /// itself when the catalogue has none (a value newer than the console).
    pub fn label(self, enum_name: &str) -> String {
        self.get(enum_name)
            .map(str::to_string)
            .unwrap_or_else(|| enum_name.to_string())
    }

    /// Western digits and separators written the reader's way: Arabic-Indic
    /// digits, `٬` for thousands, `٫` for the decimal point.
    pub fn digits(self, s: &str) -> String {
        match self {
            Lang::En => s.to_string(),
            Lang::Ar => s
                .chars()
                .map(|c| match c {
                    '0'..='9' => char::from_u32('٠' as u32 + (c as u32 - '0' as u32))
                        .expect("Arabic-Indic digit"),
                    ',' => '٬',
                    '.' => '٫',
                    other => other,
                })
                .collect(),
        }
    }

    pub fn number(self, n: i64) -> String {
        let plain = n.unsigned_abs().to_string();
        let mut grouped = String::new();
        for (i, c) in plain.chars().enumerate() {
            if i > 0 && (plain.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        let sign = if n < 0 { "-" } else { "" };
        self.digits(&format!("{sign}{grouped}"))
    }

    /// `12,345.00 USD` / `١٢٬٣٤٥٫٠٠ USD`, by kit's one money formatter.
    pub fn money(self, m: Option<&common::Money>) -> String {
        let Some(m) = m else { return String::new() };
        match markaz_kit::money::Currency::of(&m.currency_code) {
            Some(c) => self.digits(&markaz_kit::money::Money::new(c, m.minor_units).to_string()),
            None => format!("{} {}", self.number(m.minor_units), m.currency_code),
        }
    }

    pub fn date(self, d: Option<&common::Date>) -> String {
        let Some(d) = d.filter(|d| d.year > 0) else {
            return String::new();
        };
        let month = self.month(d.month);
        self.digits(&format!("{} {month} {}", d.day, d.year))
    }

    /// A month's name (1 to 12): `آذار`, `Mar`.
    pub fn month(self, month: i32) -> &'static str {
        MONTHS
            .get((month.clamp(1, 12) - 1) as usize)
            .map(|(ar, en)| if self == Lang::Ar { *ar } else { *en })
            .unwrap_or_default()
    }

    /// An instant as its UTC date and time.
    pub fn timestamp(self, ts: Option<&prost_types::Timestamp>) -> String {
        let Some(ts) = ts else { return String::new() };
        let days = ts.seconds.div_euclid(86_400);
        let secs = ts.seconds.rem_euclid(86_400);
        let date = markaz_kit::time::Date::from_days(days).to_proto();
        format!(
            "{} {}",
            self.date(Some(&date)),
            self.digits(&format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60))
        )
    }

    /// The text in this language, else in the other (either may be empty).
    pub fn text(self, t: Option<&common::LocalizedText>) -> String {
        let Some(t) = t else { return String::new() };
        let (mine, theirs) = match self {
            Lang::Ar => (&t.ar, &t.en),
            Lang::En => (&t.en, &t.ar),
        };
        if mine.is_empty() {
            theirs.clone()
        } else {
            mine.clone()
        }
    }
}

/// Month names: the Levantine (Syrian) Arabic names, and English.
const MONTHS: [(&str, &str); 12] = [
    ("كانون الثاني", "Jan"),
    ("شباط", "Feb"),
    ("آذار", "Mar"),
    ("نيسان", "Apr"),
    ("أيار", "May"),
    ("حزيران", "Jun"),
    ("تموز", "Jul"),
    ("آب", "Aug"),
    ("أيلول", "Sep"),
    ("تشرين الأول", "Oct"),
    ("تشرين الثاني", "Nov"),
    ("كانون الأول", "Dec"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogues_have_the_same_keys_and_no_empty_string() {
        let ar: Vec<&String> = Lang::Ar.catalogue().keys().collect();
        let en: Vec<&String> = Lang::En.catalogue().keys().collect();
        let only_ar: Vec<_> = ar.iter().filter(|k| !en.contains(k)).collect();
        let only_en: Vec<_> = en.iter().filter(|k| !ar.contains(k)).collect();
        assert!(
            only_ar.is_empty() && only_en.is_empty(),
            "only in ar: {only_ar:?}; only in en: {only_en:?}"
        );
        for lang in [Lang::Ar, Lang::En] {
            for (k, v) in lang.catalogue() {
                assert!(!v.trim().is_empty(), "{k} is empty in {}", lang.code());
            }
        }
    }

    #[test]
    fn numbers_dates_and_money_follow_the_language() {
        assert_eq!(Lang::En.number(1234567), "1,234,567");
        assert_eq!(Lang::Ar.number(1234567), "١٬٢٣٤٬٥٦٧");
        let m = common::Money {
            currency_code: "USD".into(),
            minor_units: 123450,
        };
        assert_eq!(Lang::En.money(Some(&m)), "1,234.50 USD");
        assert_eq!(Lang::Ar.money(Some(&m)), "١٬٢٣٤٫٥٠ USD");
        let d = common::Date {
            year: 2026,
            month: 3,
            day: 21,
        };
        assert_eq!(Lang::En.date(Some(&d)), "21 Mar 2026");
        assert_eq!(Lang::Ar.date(Some(&d)), "٢١ آذار ٢٠٢٦");
        let ts = prost_types::Timestamp {
            seconds: 1_774_051_200 + 3600 * 9 + 60 * 5,
            nanos: 0,
        };
        assert_eq!(Lang::En.timestamp(Some(&ts)), "21 Mar 2026 09:05");
        let t = common::LocalizedText {
            ar: "جمعية".into(),
            en: String::new(),
        };
        assert_eq!(Lang::En.text(Some(&t)), "جمعية", "falls back to Arabic");
    }
}
