//! Parsing request fields into values the domain can trust. Each function
//! returns the parsed value or a [`FieldViolation`] naming the field, so a
//! handler collects every problem of a request in one
//! [`Violations`](crate::error::Violations).
//!
//! Text is never rewritten: Arabic (or any) text is stored exactly as sent,
//! byte for byte. It is only refused when too long or when it carries
//! control characters.

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
    if value.trim().is_empty() {
        return if required {
            Err(FieldViolation::new(field, "required"))
        } else {
            Ok(String::new())
        };
    }
    let chars = value.chars().count();
    if chars > max {
        return Err(FieldViolation::new(
            field,
            format!("at most {max} characters, got {chars}"),
        ));
    }
    let bad = value
        .chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t' || c == '\r')));
    if bad {
        return Err(FieldViolation::new(field, "contains control characters"));
    }
    Ok(value.to_string())
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
    let ar = check_text(&format!("{field}.ar"), &value.ar, max, false, true)
        .map_err(|e| errors.push(e))
        .unwrap_or_default();
    let en = check_text(&format!("{field}.en"), &value.en, max, false, true)
        .map_err(|e| errors.push(e))
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

/// Lowercases `text` for matching; every path stores the original.
pub fn search_key(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| p.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `LIKE` pattern that matches `needle` anywhere, with `%`, `_` and `\`
/// taken literally (queries use `ESCAPE '\'`).
pub fn like_pattern(needle: &str) -> String {
    let mut out = String::with_capacity(needle.len() + 2);
    out.push('%');
    for c in needle.to_lowercase().chars() {
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
}
