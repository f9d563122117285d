//! Certificates: the codes anyone may verify, and the certificate as kept.

use markaz_kit::error::FieldViolation;
use markaz_kit::time::Date;
use markaz_kit::validate;
use markaz_proto::capacity::v1::CourseKind;
use markaz_proto::common::v1::LocalizedText;

/// A certificate as stored, with what it says of its course and holder.
#[derive(Debug, Clone, PartialEq)]
pub struct Certificate {
    pub id: String,
    pub code: String,
    pub course_id: String,
    pub enrolment_id: String,
    pub person_id: String,
    pub organization_id: String,
    pub attendance_percent: i32,
    pub issued_at: i64,
    pub revoked_at: Option<i64>,
    pub revoke_reason: String,
    pub participant_name: String,
    pub course_title: LocalizedText,
    pub course_kind: CourseKind,
    pub topic_codes: Vec<String>,
    pub start_date: Date,
    pub end_date: Date,
}

/// Crockford's base-32: no I, L, O or U, so a code read aloud or typed from
/// paper survives.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Random characters in a code: 12 × 5 = 60 bits.
const CODE_CHARS: usize = 12;

/// The verification code of a certificate of `tenant`: the tenant in
/// capitals, then twelve random characters in groups of four, e.g.
/// `RAQQA-CSC-7F3K-9QXD-2M4P`. The tenant is in the code so that verifying
/// it needs nothing else.
pub fn certificate_code(tenant: &str, random: [u8; 8]) -> String {
    let mut bits = u64::from_be_bytes(random);
    let mut chars = Vec::with_capacity(CODE_CHARS);
    for _ in 0..CODE_CHARS {
        chars.push(CODE_ALPHABET[(bits & 31) as usize] as char);
        bits >>= 5;
    }
    let groups: Vec<String> = chars.chunks(4).map(|c| c.iter().collect()).collect();
    format!("{}-{}", tenant.to_ascii_uppercase(), groups.join("-"))
}

/// Reads a code as someone may type it (any case, spaces around, O for 0,
/// I or L for 1): the tenant it names and the code in its issued form.
pub fn parse_certificate_code(
    field: &str,
    input: &str,
) -> Result<(String, String), FieldViolation> {
    let bad = || {
        FieldViolation::new(
            field,
            "not a certificate code: the center, then three groups of four characters, e.g. RAQQA-CSC-7F3K-9QXD-2M4P",
        )
    };
    let code = input.trim().to_ascii_uppercase();
    if code.len() > 120 {
        return Err(bad());
    }
    let parts: Vec<&str> = code.split('-').collect();
    if parts.len() < 4 {
        return Err(bad());
    }
    let (tenant_parts, random) = parts.split_at(parts.len() - 3);
    let mut groups = Vec::with_capacity(3);
    for group in random {
        if group.len() != 4 {
            return Err(bad());
        }
        let mut normalized = String::with_capacity(4);
        for c in group.chars() {
            let c = match c {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !CODE_ALPHABET.contains(&(c as u8)) || !c.is_ascii() {
                return Err(bad());
            }
            normalized.push(c);
        }
        groups.push(normalized);
    }
    let tenant = tenant_parts.join("-").to_ascii_lowercase();
    validate::slug(field, &tenant, 40).map_err(|_| bad())?;
    Ok((
        tenant.clone(),
        format!("{}-{}", tenant.to_ascii_uppercase(), groups.join("-")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_codes_carry_their_center_and_survive_sloppy_typing() {
        let code = certificate_code("raqqa-csc", [0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]);
        assert!(code.starts_with("RAQQA-CSC-"), "{code}");
        assert_eq!(code.len(), "RAQQA-CSC-".len() + 14);
        let (tenant, normalized) = parse_certificate_code("code", &code).unwrap();
        assert_eq!(
            (tenant.as_str(), normalized.as_str()),
            ("raqqa-csc", code.as_str())
        );
        let typed = format!("  {}  ", code.to_lowercase().replace('0', "o"));
        assert_eq!(parse_certificate_code("code", &typed).unwrap().1, code);
        for bad in [
            "",
            "RAQQA",
            "RAQQA-CSC-7F3K-9QXD",
            "RAQQA-CSC-7F3K-9QXD-2M4",
            "RAQQA-CSC-7F3K-9QXD-2M4U",
            "-7F3K-9QXD-2M4P",
            "RAQQA_CSC-7F3K-9QXD-2M4P",
            "مركز-7F3K-9QXD-2M4P",
        ] {
            assert!(parse_certificate_code("code", bad).is_err(), "{bad}");
        }
        // Different random bytes, different codes.
        assert_ne!(code, certificate_code("raqqa-csc", [0; 8]));
    }
}
