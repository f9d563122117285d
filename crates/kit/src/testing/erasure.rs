//! Erasure tests, the same for every service: one person known in every
//! spelling a matcher should find, written by a service's test into every
//! free-text field its API takes — [`Coverage`] derives that list from the
//! protobuf descriptors, so a field added later fails the test until it is
//! covered — then erased; afterwards nothing of them may be read back, by
//! any RPC ([`leaks`] on the answers) or from any table ([`table_leaks`]).
//!
//! [`leaks`] is written apart from the matcher under test, on purpose: it
//! looks for the family name, the given name, the e-mail's local part and
//! the phone's digits after a plain normalisation, so a spelling the
//! matcher misses is a leak here.

use std::collections::BTreeSet;

use markaz_proto::common::v1::{AgeBand, Gender};
use markaz_proto::events::v1 as ev;
use prost::Message;
use prost::encoding::{WireType, decode_key, decode_varint};
use prost_types::DescriptorProto;
use prost_types::field_descriptor_proto::Type;
use sqlx::Row;

use crate::db::Db;
use crate::erasure::{Matcher, Subject};

/// The person: an Arabic name, a Latin e-mail, a Syrian mobile number.
pub const FULL_NAME: &str = "نادية كريموفا";
pub const EMAIL: &str = "nadia.karimova@example.org";
pub const PHONE: &str = "+963 944 123 456";

/// How staff write the person: the name with and without the letter
/// variants, diacritics, tatweel, invisible controls (the bidi isolates of
/// [`REFUSED`] are refused by the API's text validation, so never stored:
/// tests check the refusal); initial + family
/// name; given name + initial; family name first; a particle glued on; the
/// e-mail in capitals; the number in three ways.
pub const SPELLINGS: &[&str] = &[
    "نادية كريموفا",
    "ناديه كريموفا",
    "نادِيَة كَريمُوفا",
    "نـاديـة كريموفـا",
    "نادية\u{200F} كريموفا",
    "\u{2067}نادية كريموفا\u{2069}",
    "ن. كريموفا",
    "نادية ك.",
    "ونادية كريموفا",
    "كريموفا نادية",
    "nadia.karimova@example.org",
    "NADIA.KARIMOVA@EXAMPLE.ORG",
    "+963 944 123 456",
    "0944-123-456",
    "٠٩٤٤١٢٣٤٥٦",
];

/// The spelling the API refuses (bidi isolates) rather than stores.
pub const REFUSED: usize = 5;

/// The `i`th mention, inside a sentence as staff write it.
pub fn mention(i: usize) -> String {
    format!("ملاحظة: {} حضرت", SPELLINGS[i % SPELLINGS.len()])
}

/// What membership would know of the person.
pub fn subject() -> Subject {
    Subject {
        names: vec![FULL_NAME.into()],
        emails: vec![EMAIL.into()],
        phones: vec![PHONE.into()],
    }
}

/// The `PersonErased` membership publishes for the person.
pub fn erased_event(
    person_id: &str,
    erasure_id: &str,
    gender: Gender,
    age_band: AgeBand,
    branch_id: &str,
) -> ev::PersonErased {
    ev::PersonErased {
        person_id: person_id.into(),
        erasure_id: erasure_id.into(),
        gender: gender as i32,
        age_band: age_band as i32,
        branch_id: branch_id.into(),
        match_keys: Some(Matcher::new(&subject()).keys()),
    }
}

/// Plain normalisation: no marks, tatweel or invisible controls, the
/// Arabic letter variants folded, lowercase, Arabic-Indic digits as ASCII.
fn plain(text: &str) -> String {
    text.chars()
        .filter(|c| {
            !matches!(*c as u32, 0x064B..=0x065F | 0x0670 | 0x0640 | 0x200B..=0x200F
                | 0x202A..=0x202E | 0x2066..=0x2069 | 0xFEFF | 0x00AD)
        })
        .map(|c| match c {
            'أ' | 'إ' | 'آ' => 'ا',
            'ى' => 'ي',
            'ة' => 'ه',
            '٠'..='٩' => char::from_u32(c as u32 - '٠' as u32 + '0' as u32).unwrap_or(c),
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether `text` still holds anything of the person.
pub fn leaks(text: &str) -> bool {
    let t = plain(text);
    let digits: String = t
        .chars()
        .filter(|c| c.is_ascii_digit() || !matches!(c, ' ' | '-' | '.' | '(' | ')' | '+'))
        .collect::<String>()
        .split(|c: char| !c.is_ascii_digit())
        .collect::<Vec<_>>()
        .concat();
    t.contains("كريموفا")
        || t.contains("ناديه")
        || t.contains("nadia.karimova")
        || t.contains("nadia karimova")
        || digits.contains("944123456")
}

/// Whether an encoded message (an RPC's answer, a stored blob) holds
/// anything of the person, in any of its strings.
pub fn bytes_leak(bytes: &[u8]) -> bool {
    fn walk(mut b: &[u8], depth: usize) -> Option<bool> {
        while !b.is_empty() {
            let (_, wire) = decode_key(&mut b).ok()?;
            match wire {
                WireType::Varint => {
                    decode_varint(&mut b).ok()?;
                }
                WireType::SixtyFourBit => b = b.get(8..)?,
                WireType::ThirtyTwoBit => b = b.get(4..)?,
                WireType::LengthDelimited => {
                    let len = decode_varint(&mut b).ok()? as usize;
                    let v = b.get(..len)?;
                    b = &b[len..];
                    if std::str::from_utf8(v).is_ok_and(leaks) {
                        return Some(true);
                    }
                    if depth < 16 && walk(v, depth + 1) == Some(true) {
                        return Some(true);
                    }
                }
                _ => return None,
            }
        }
        Some(false)
    }
    walk(bytes, 0).unwrap_or(false) || leaks(&String::from_utf8_lossy(bytes))
}

/// [`bytes_leak`] of a message.
pub fn message_leaks<M: Message>(m: &M) -> bool {
    bytes_leak(&m.encode_to_vec())
}

/// Every place in `db` (tables of the service and of the platform, read
/// directly, as `tenant`) that still holds anything of the person, as
/// "table.column".
pub async fn table_leaks(db: &Db, tenant: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut tx = db.read(tenant).await.expect("a read transaction");
    let tables = crate::erasure::columns(&mut tx, true)
        .await
        .expect("the schema");
    for (table, columns) in tables {
        for c in columns.into_iter().filter(|c| c.name != "version") {
            let sql = format!("SELECT \"{}\" FROM \"{table}\"", c.name);
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(tx.conn())
                .await
                .unwrap_or_else(|e| panic!("reading {table}.{}: {e}", c.name));
            let leaked = rows.iter().any(|r| {
                if c.binary {
                    r.try_get::<Option<Vec<u8>>, _>(0)
                        .ok()
                        .flatten()
                        .is_some_and(|b| bytes_leak(&b))
                } else {
                    r.try_get::<Option<String>, _>(0)
                        .ok()
                        .flatten()
                        .is_some_and(|s| leaks(&s))
                }
            });
            if leaked {
                found.push(format!("{table}.{}", c.name));
            }
        }
    }
    found
}

/// Which free-text fields of a service's requests a test has filled with
/// the person.
#[derive(Debug, Default)]
pub struct Coverage {
    filled: BTreeSet<String>,
}

/// Fields that are never prose: identifiers, tokens, masks, paging.
fn is_identifier(field: &str) -> bool {
    field == "id"
        || field.ends_with("_id")
        || field.ends_with("_ids")
        || field == "etag"
        || field.ends_with("_token")
        || field == "request_id"
        || field == "paths"
}

impl Coverage {
    /// Notes the fields of `request` (nested ones too) that mention the
    /// person, as "Message.field".
    pub fn note<M: prost::Name>(&mut self, request: &M) -> &mut Self {
        let bytes = request.encode_to_vec();
        self.walk(&M::full_name(), &bytes);
        self
    }

    fn walk(&mut self, type_name: &str, mut bytes: &[u8]) {
        let Some(d) = crate::erasure::wire::messages().get(type_name) else {
            return;
        };
        while !bytes.is_empty() {
            let Ok((number, wire)) = decode_key(&mut bytes) else {
                return;
            };
            match wire {
                WireType::Varint => {
                    let _ = decode_varint(&mut bytes);
                }
                WireType::SixtyFourBit => bytes = bytes.get(8..).unwrap_or_default(),
                WireType::ThirtyTwoBit => bytes = bytes.get(4..).unwrap_or_default(),
                WireType::LengthDelimited => {
                    let Ok(len) = decode_varint(&mut bytes) else {
                        return;
                    };
                    let Some(v) = bytes.get(..len as usize) else {
                        return;
                    };
                    bytes = &bytes[len as usize..];
                    let Some(f) = d.field.iter().find(|f| f.number() == number as i32) else {
                        continue;
                    };
                    match f.r#type() {
                        Type::String if std::str::from_utf8(v).is_ok_and(leaks) => {
                            self.filled.insert(format!("{}.{}", d.name(), f.name()));
                        }
                        Type::Message => self.walk(f.type_name().trim_start_matches('.'), v),
                        _ => {}
                    }
                }
                _ => return,
            }
        }
    }

    /// The free-text fields of `grpc_service`'s requests (every string
    /// field of every method's input, nested messages included, but
    /// identifiers) that no noted request filled, less `exempt`
    /// ("Message.field", each a field that holds no prose — a code, a URL,
    /// a search query — with the reason in the test).
    pub fn missing(&self, grpc_service: &str, exempt: &[&str]) -> Vec<String> {
        let set: prost_types::FileDescriptorSet =
            Message::decode(markaz_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
        let messages = crate::erasure::wire::messages();
        let mut wanted = BTreeSet::new();
        let mut seen = BTreeSet::new();
        fn fields(
            name: &str,
            messages: &std::collections::HashMap<String, DescriptorProto>,
            seen: &mut BTreeSet<String>,
            wanted: &mut BTreeSet<String>,
        ) {
            if !seen.insert(name.to_string()) {
                return;
            }
            let Some(d) = messages.get(name) else { return };
            for f in &d.field {
                match f.r#type() {
                    Type::String if !is_identifier(f.name()) => {
                        wanted.insert(format!("{}.{}", d.name(), f.name()));
                    }
                    Type::Message => fields(
                        f.type_name().trim_start_matches('.'),
                        messages,
                        seen,
                        wanted,
                    ),
                    _ => {}
                }
            }
        }
        for file in &set.file {
            for s in &file.service {
                if format!("{}.{}", file.package(), s.name()) != grpc_service {
                    continue;
                }
                for m in &s.method {
                    fields(
                        m.input_type().trim_start_matches('.'),
                        messages,
                        &mut seen,
                        &mut wanted,
                    );
                }
            }
        }
        wanted
            .into_iter()
            .filter(|f| !self.filled.contains(f) && !exempt.contains(&f.as_str()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_counts_as_a_leak_and_a_scrubbed_one_does_not() {
        let m = Matcher::new(&subject());
        for s in SPELLINGS {
            assert!(leaks(s), "{s:?} is not seen as a leak");
            let scrubbed = m.scrub(&format!("ملاحظة: {s} حضرت")).unwrap_or_default();
            assert!(!leaks(&scrubbed), "{s:?} scrubbed to {scrubbed:?}");
        }
        assert!(!leaks("ملاحظة: عمر السيد حضر"));
    }
}
