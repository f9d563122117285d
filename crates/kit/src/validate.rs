//! Parsing request fields into values the domain can trust. Each function
//! returns the parsed value or a [`FieldViolation`] naming the field, so a
//! handler collects every problem of a request in one
//! [`Violations`](crate::error::Violations).
//!
//! Text is never rewritten: Arabic (or any) text is stored exactly as sent,
//! byte for byte. It is only refused when too long, or when it carries what
//! no person means to type and what is used to deceive ([`suspicious`]):
//! control characters, bidi embeddings, overrides and isolates (which make
//! "txt.exe" read as "exe.txt"), a byte-order mark, line or paragraph
//! separators in one line, noncharacters, or a pile of combining marks.
//! The marks Arabic and Persian text need — LRM/RLM, ALM, ZWJ/ZWNJ, up to
//! four combining marks on a letter — stay. Matching (search, erasure) is on
//! [`search_key`], where invisible formatting is dropped, so "Am\u{200b}ina"
//! is found by "amina".

use markaz_proto::common::v1::LocalizedText;

use crate::error::FieldViolation;

/// A single-line text of at most `max` characters; `""` allowed when not
/// `required`.
pub fn line(
    field: &str,
    value: &str,
    max: usize,
    required: bool,
) -> Result<String, FieldViolation> {
    check_text(field, value, max, required, false)
}

/// A multi-line text (newlines and tabs allowed).
pub fn prose(
    field: &str,
    value: &str,
    max: usize,
    required: bool,
) -> Result<String, FieldViolation> {
    check_text(field, value, max, required, true)
}

fn check_text(
    field: &str,
    value: &str,
    max: usize,
    required: bool,
    multiline: bool,
) -> Result<String, FieldViolation> {
    checked_text(value, max, required, multiline).map_err(|why| FieldViolation::new(field, why))
}

/// What [`check_text`] checks, without the field's name: a caller that
/// builds the name (`name.ar`) pays for it only when the text is refused.
fn checked_text(
    value: &str,
    max: usize,
    required: bool,
    multiline: bool,
) -> Result<String, String> {
    if value.trim().is_empty() {
        return if required {
            Err("required".into())
        } else {
            Ok(String::new())
        };
    }
    let chars = value.chars().count();
    if chars > max {
        return Err(format!("at most {max} characters, got {chars}"));
    }
    let bad = value
        .chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t' || c == '\r')));
    if bad {
        return Err("contains control characters".into());
    }
    if let Some(why) = suspicious(value) {
        return Err(why.into());
    }
    Ok(value.to_string())
}

/// Combining marks one character may carry; more is a pile meant to spill
/// over the lines around it ("Zalgo" text).
pub const MAX_COMBINING_MARKS: usize = 4;

/// Why `text` is refused, if it carries characters no person means to type.
pub fn suspicious(text: &str) -> Option<&'static str> {
    // Nothing below U+0300 is refused or a combining mark: ASCII text (and
    // Latin-1) is decided without looking at its characters one by one.
    if text.is_ascii() {
        return None;
    }
    let mut marks = 0;
    for c in text.chars() {
        let u = c as u32;
        if u < 0x0300 {
            marks = 0;
            continue;
        }
        if matches!(u, 0x202A..=0x202E | 0x2066..=0x2069) {
            return Some("contains bidi embedding, override or isolate controls");
        }
        if u == 0xFEFF {
            return Some("contains a byte-order mark");
        }
        if matches!(u, 0x2028 | 0x2029) {
            return Some(
                "contains a line or paragraph separator (use a newline in multi-line text)",
            );
        }
        if matches!(u, 0xFDD0..=0xFDEF) || (u & 0xFFFE) == 0xFFFE {
            return Some("contains a Unicode noncharacter");
        }
        if is_combining_mark(c) {
            marks += 1;
            if marks > MAX_COMBINING_MARKS {
                return Some("too many combining marks on one character");
            }
        } else {
            marks = 0;
        }
    }
    None
}

/// The combining marks of the scripts Markaz meets (Latin, Greek,
/// Cyrillic, Hebrew, Arabic, and the generic blocks Zalgo text draws on).
fn is_combining_mark(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F | 0x0483..=0x0489 | 0x0591..=0x05BD | 0x05BF | 0x05C1..=0x05C2
        | 0x05C4..=0x05C5 | 0x05C7 | 0x0610..=0x061A | 0x064B..=0x065F | 0x0670
        | 0x06D6..=0x06DC | 0x06DF..=0x06E4 | 0x06E7..=0x06E8 | 0x06EA..=0x06ED
        | 0x08D3..=0x08E1 | 0x08E3..=0x08FF | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF
        | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// Characters that change how text looks but not what it says: dropped
/// before text is matched. ZWJ/ZWNJ shape Arabic and Persian letters, and
/// a zero-width space or soft hyphen hides inside a name.
fn invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x061C | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064
        | 0x2066..=0x2069 | 0xFEFF)
}

/// `text` as it is matched: invisible formatting dropped, lowercased.
pub fn matchable(text: &str) -> String {
    // Most text has nothing invisible in it (ASCII never has): lowercased
    // as it is, in one pass and one allocation.
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    if !text.chars().any(invisible) {
        return text.to_lowercase();
    }
    text.chars()
        .filter(|c| !invisible(*c))
        .collect::<String>()
        .to_lowercase()
}

/// Bilingual text: each language at most `max` characters; when `required`,
/// at least one of them present.
pub fn localized(
    field: &str,
    value: Option<&LocalizedText>,
    max: usize,
    required: bool,
) -> Result<LocalizedText, Vec<FieldViolation>> {
    let empty = LocalizedText::default();
    let value = value.unwrap_or(&empty);
    let mut errors = Vec::new();
    let ar = checked_text(&value.ar, max, false, true)
        .map_err(|why| errors.push(FieldViolation::new(format!("{field}.ar"), why)))
        .unwrap_or_default();
    let en = checked_text(&value.en, max, false, true)
        .map_err(|why| errors.push(FieldViolation::new(format!("{field}.en"), why)))
        .unwrap_or_default();
    if required && errors.is_empty() && ar.is_empty() && en.is_empty() {
        errors.push(FieldViolation::new(
            field,
            "required in Arabic or English (or both)",
        ));
    }
    if errors.is_empty() {
        Ok(LocalizedText { ar, en })
    } else {
        Err(errors)
    }
}

/// A protobuf enum field: known values only, and not `_UNSPECIFIED` when
/// `required`. Returns `None` for an unset optional field.
pub fn enumeration<E>(field: &str, value: i32, required: bool) -> Result<Option<E>, FieldViolation>
where
    E: TryFrom<i32>,
{
    if value == 0 {
        return if required {
            Err(FieldViolation::new(field, "required"))
        } else {
            Ok(None)
        };
    }
    E::try_from(value)
        .map(Some)
        .map_err(|_| FieldViolation::new(field, format!("unknown value {value}")))
}

/// A short identifier chosen by people: lowercase letters, digits and '-'.
/// A required enumeration value: `_UNSPECIFIED` (0) and unknown values
/// are refused.
pub fn required_enum<E: TryFrom<i32>>(field: &str, value: i32) -> Result<E, FieldViolation> {
    enumeration::<E>(field, value, true)?.ok_or_else(|| FieldViolation::new(field, "required"))
}

/// An optional enumeration filter of a list, by its stored name ("" for
/// any): unspecified means no filter, an unknown number is refused.
pub fn enum_filter<E: TryFrom<i32>>(
    field: &str,
    value: i32,
    name: fn(&E) -> &str,
) -> Result<String, FieldViolation> {
    Ok(enumeration::<E>(field, value, false)?
        .map(|e| name(&e).to_string())
        .unwrap_or_default())
}

/// An optional slug (a branch, say): "" for none.
pub fn optional_slug(field: &str, value: &str, max: usize) -> Result<String, FieldViolation> {
    if value.is_empty() {
        return Ok(String::new());
    }
    slug(field, value, max)
}

pub fn slug(field: &str, value: &str, max: usize) -> Result<String, FieldViolation> {
    if value.is_empty() {
        return Err(FieldViolation::new(field, "required"));
    }
    let ok = value.len() <= max
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(value.to_string())
    } else {
        Err(FieldViolation::new(
            field,
            format!("lowercase letters, digits and '-', starting with a letter, at most {max}"),
        ))
    }
}

/// An e-mail address, loosely: something@domain.tld, no spaces.
pub fn email(field: &str, value: &str) -> Result<String, FieldViolation> {
    if value.is_empty() {
        return Ok(String::new());
    }
    let ok = value.len() <= 254
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok {
        Ok(value.to_string())
    } else {
        Err(FieldViolation::new(field, "not an e-mail address"))
    }
}

/// A phone number: digits, spaces and `+-()`, 6 to 20 digits.
pub fn phone(field: &str, value: &str) -> Result<String, FieldViolation> {
    if value.is_empty() {
        return Ok(String::new());
    }
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let ok = (6..=20).contains(&digits)
        && value.len() <= 32
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || " +-()".contains(c));
    if ok {
        Ok(value.to_string())
    } else {
        Err(FieldViolation::new(field, "not a phone number"))
    }
}

/// The text `parts` are searched by ([`matchable`]); every path stores the
/// original.
pub fn search_key(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| matchable(p))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `LIKE` pattern that matches `needle` anywhere, with `%`, `_` and `\`
/// taken literally (queries use `ESCAPE '\'`).
pub fn like_pattern(needle: &str) -> String {
    let mut out = String::with_capacity(needle.len() + 2);
    out.push('%');
    for c in matchable(needle).chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arabic_text_is_kept_byte_for_byte() {
        let name = "مركز دعم المجتمع المدني – الرقة";
        assert_eq!(
            line("name", name, 200, true).unwrap().as_bytes(),
            name.as_bytes()
        );
        let t = LocalizedText {
            ar: name.into(),
            en: String::new(),
        };
        assert_eq!(localized("name", Some(&t), 200, true).unwrap().ar, name);
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let ar = "م".repeat(10);
        assert!(line("f", &ar, 10, true).is_ok());
        assert!(line("f", &format!("{ar}م"), 10, true).is_err());
    }

    #[test]
    fn control_characters_and_blank_required_text_are_refused() {
        assert!(line("f", "a\u{0}b", 10, true).is_err());
        assert!(line("f", "a\nb", 10, true).is_err());
        assert!(prose("f", "a\nb", 10, true).is_ok());
        assert!(line("f", "   ", 10, true).is_err());
        assert!(localized("n", None, 10, true).is_err());
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("50%_A"), "%50\\%\\_a%");
    }

    #[test]
    fn contact_fields() {
        assert!(email("e", "a@b.org").is_ok());
        assert!(email("e", "a@b").is_err());
        assert!(phone("p", "+963 944 123 456").is_ok());
        assert!(phone("p", "call me").is_err());
    }

    #[test]
    fn deceiving_characters_are_refused_and_arabic_shaping_kept() {
        for (text, why) in [
            ("invoice\u{202E}fdp.exe", "bidi"),
            ("\u{2066}name\u{2069}", "bidi"),
            ("\u{FEFF}name", "byte-order"),
            ("one\u{2028}two", "separator"),
            ("x\u{FFFF}", "noncharacter"),
            ("x\u{FDD0}", "noncharacter"),
        ] {
            let refused = line("name", text, 200, true).unwrap_err();
            assert!(
                refused.description.contains(why),
                "{text:?}: {}",
                refused.description
            );
        }
        let zalgo = format!("a{}", "\u{0301}".repeat(150));
        assert!(line("name", &zalgo, 500, true).is_err());
        // What Arabic and Persian need: harakat on a letter (shadda and a
        // vowel), ZWNJ, ZWJ, LRM, RLM and ALM around mixed text.
        for kept in [
            "مُحَمَّد",
            "می\u{200C}خواهم",
            "\u{200F}سارة\u{200E} (Sara)",
            "\u{061C}١٢٣",
            "ل\u{200D}ا",
        ] {
            assert_eq!(line("name", kept, 200, true).unwrap(), kept, "{kept:?}");
        }
        assert!(prose("notes", "two\nlines", 200, true).is_ok());
    }

    #[test]
    fn matching_ignores_invisible_formatting() {
        assert_eq!(search_key(&["Am\u{200b}ina"]), "amina");
        assert_eq!(like_pattern("AM\u{00AD}INA"), "%amina%");
        assert_eq!(matchable("\u{200F}Nadia"), "nadia");
    }

    #[test]
    fn matching_takes_the_same_path_whatever_the_text() {
        // The fast paths (ASCII, nothing invisible) must agree with the
        // general rule: drop the invisible, then lowercase the whole text
        // (a final capital sigma lowercases to ς, not σ).
        let general = |t: &str| {
            t.chars()
                .filter(|c| !invisible(*c))
                .collect::<String>()
                .to_lowercase()
        };
        for t in [
            "Euphrates Youth",
            "جمعية شباب الفرات",
            "ΟΔΟΣ Σ",
            "Éloïse Ünal",
            "جمعية\u{200C}الفرات",
            "",
        ] {
            assert_eq!(matchable(t), general(t), "{t}");
        }
        assert_eq!(matchable("ΟΔΟΣ"), "οδος");
    }
}
