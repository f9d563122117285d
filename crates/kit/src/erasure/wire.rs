//! Mentions inside stored protobuf messages: events in the outbox, the dead
//! letters and the streams, stored answers of idempotent requests.
//!
//! An envelope names its payload's type, so its strings are found through
//! the descriptors and rewritten in place — every other field kept byte for
//! byte. A stored answer does not say its type: it is read without one,
//! every length-delimited field tried as text and as a nested message, which
//! can only find more than there is, never less.

use std::collections::HashMap;
use std::sync::OnceLock;

use markaz_proto::events::v1::Envelope;
use prost::Message;
use prost::encoding::{WireType, decode_key, decode_varint, encode_key, encode_varint};
use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, FileDescriptorSet};

use super::Matcher;

/// Every message type of the Markaz protos, by full name.
pub(crate) fn messages() -> &'static HashMap<String, DescriptorProto> {
    static INDEX: OnceLock<HashMap<String, DescriptorProto>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let set = FileDescriptorSet::decode(markaz_proto::FILE_DESCRIPTOR_SET)
            .expect("the compiled descriptor set");
        let mut index = HashMap::new();
        fn add(prefix: &str, m: &DescriptorProto, index: &mut HashMap<String, DescriptorProto>) {
            let name = format!("{prefix}.{}", m.name());
            for nested in &m.nested_type {
                add(&name, nested, index);
            }
            index.insert(name, m.clone());
        }
        for file in &set.file {
            for m in &file.message_type {
                add(file.package(), m, &mut index);
            }
        }
        index
    })
}

/// `envelope` with every mention in its payload scrubbed; `None` when it
/// has none, or cannot be read (then it is no event of ours).
pub fn scrub_envelope(bytes: &[u8], matcher: &Matcher) -> Option<Vec<u8>> {
    let mut envelope = Envelope::decode(bytes).ok()?;
    let payload = scrub_message(&envelope.r#type, &envelope.payload, matcher)?;
    envelope.payload = payload;
    Some(envelope.encode_to_vec())
}

/// The tenant an envelope is about, if it is one.
pub fn tenant_of(bytes: &[u8]) -> Option<String> {
    Envelope::decode(bytes).ok().map(|e| e.tenant_id)
}

/// A message of type `type_name` (full name) with each mention in its
/// string fields, nested ones included, scrubbed; `None` when unchanged.
pub fn scrub_message(type_name: &str, bytes: &[u8], matcher: &Matcher) -> Option<Vec<u8>> {
    let descriptor = messages().get(type_name.trim_start_matches('.'))?;
    rewrite(descriptor, bytes, matcher, 0)
}

fn rewrite(
    descriptor: &DescriptorProto,
    mut bytes: &[u8],
    matcher: &Matcher,
    depth: usize,
) -> Option<Vec<u8>> {
    if depth > 32 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut changed = false;
    while !bytes.is_empty() {
        let before = bytes;
        let (number, wire) = decode_key(&mut bytes).ok()?;
        match wire {
            WireType::Varint => {
                decode_varint(&mut bytes).ok()?;
            }
            WireType::SixtyFourBit => bytes = bytes.get(8..)?,
            WireType::ThirtyTwoBit => bytes = bytes.get(4..)?,
            WireType::LengthDelimited => {
                let len = decode_varint(&mut bytes).ok()? as usize;
                let value = bytes.get(..len)?;
                bytes = &bytes[len..];
                let field = descriptor
                    .field
                    .iter()
                    .find(|f| f.number() == number as i32);
                let replaced = match field.map(|f| (f.r#type(), f)) {
                    Some((Type::String, _)) => std::str::from_utf8(value)
                        .ok()
                        .and_then(|s| matcher.scrub(s))
                        .map(String::into_bytes),
                    Some((Type::Message, f)) => messages()
                        .get(f.type_name().trim_start_matches('.'))
                        .and_then(|d| rewrite(d, value, matcher, depth + 1)),
                    _ => None,
                };
                if let Some(new) = replaced {
                    encode_key(number, WireType::LengthDelimited, &mut out);
                    encode_varint(new.len() as u64, &mut out);
                    out.extend_from_slice(&new);
                    changed = true;
                    continue;
                }
            }
            // Groups are not written by proto3.
            WireType::StartGroup | WireType::EndGroup => return None,
        }
        let used = before.len() - bytes.len();
        out.extend_from_slice(&before[..used]);
    }
    changed.then_some(out)
}

/// A message of unknown type (a column holding encoded protobuf) with each
/// mention scrubbed: a length-delimited field is rewritten as a nested
/// message when it reads as one and something inside changed, else as text.
/// `None` when unchanged.
pub fn scrub_untyped(bytes: &[u8], matcher: &Matcher) -> Option<Vec<u8>> {
    fn walk(mut bytes: &[u8], matcher: &Matcher, depth: usize) -> Option<Option<Vec<u8>>> {
        let mut out = Vec::with_capacity(bytes.len());
        let mut changed = false;
        while !bytes.is_empty() {
            let before = bytes;
            let (number, wire) = decode_key(&mut bytes).ok()?;
            match wire {
                WireType::Varint => {
                    decode_varint(&mut bytes).ok()?;
                }
                WireType::SixtyFourBit => bytes = bytes.get(8..)?,
                WireType::ThirtyTwoBit => bytes = bytes.get(4..)?,
                WireType::LengthDelimited => {
                    let len = decode_varint(&mut bytes).ok()? as usize;
                    let value = bytes.get(..len)?;
                    bytes = &bytes[len..];
                    let nested = if depth < 16 {
                        walk(value, matcher, depth + 1).flatten()
                    } else {
                        None
                    };
                    let replaced = nested.or_else(|| {
                        std::str::from_utf8(value)
                            .ok()
                            .and_then(|s| matcher.scrub(s))
                            .map(String::into_bytes)
                    });
                    if let Some(new) = replaced {
                        encode_key(number, WireType::LengthDelimited, &mut out);
                        encode_varint(new.len() as u64, &mut out);
                        out.extend_from_slice(&new);
                        changed = true;
                        continue;
                    }
                }
                WireType::StartGroup | WireType::EndGroup => return None,
            }
            let used = before.len() - bytes.len();
            out.extend_from_slice(&before[..used]);
        }
        Some(changed.then_some(out))
    }
    match walk(bytes, matcher, 0) {
        Some(result) => result,
        // Not a message: bytes that are text are scrubbed as text.
        None => std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| matcher.scrub(s))
            .map(String::into_bytes),
    }
}

/// Whether any text inside `bytes`, a message of unknown type, mentions
/// the person.
pub fn mentions_anywhere(bytes: &[u8], matcher: &Matcher) -> bool {
    fn walk(mut bytes: &[u8], matcher: &Matcher, depth: usize) -> Option<bool> {
        while !bytes.is_empty() {
            let (_, wire) = decode_key(&mut bytes).ok()?;
            match wire {
                WireType::Varint => {
                    decode_varint(&mut bytes).ok()?;
                }
                WireType::SixtyFourBit => bytes = bytes.get(8..)?,
                WireType::ThirtyTwoBit => bytes = bytes.get(4..)?,
                WireType::LengthDelimited => {
                    let len = decode_varint(&mut bytes).ok()? as usize;
                    let value = bytes.get(..len)?;
                    bytes = &bytes[len..];
                    if std::str::from_utf8(value).is_ok_and(|s| matcher.mentions(s)) {
                        return Some(true);
                    }
                    if depth < 16 && walk(value, matcher, depth + 1) == Some(true) {
                        return Some(true);
                    }
                }
                WireType::StartGroup | WireType::EndGroup => return None,
            }
        }
        Some(false)
    }
    match walk(bytes, matcher, 0) {
        Some(found) => found,
        // Not a message after all: read it as text.
        None => matcher.mentions(&String::from_utf8_lossy(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::erasure::Subject;
    use markaz_proto::events::v1 as ev;

    #[test]
    fn an_event_loses_the_mention_and_keeps_every_other_field() {
        let m = Matcher::new(&Subject {
            names: vec!["Nadia Karimova".into()],
            ..Default::default()
        });
        let event = ev::PersonAffiliated {
            affiliation_id: "a1".into(),
            person_id: "p1".into(),
            organization_id: "o1".into(),
            role: "treasurer (Nadia K.)".into(),
        };
        let envelope = Envelope {
            id: "e1".into(),
            r#type: "markaz.events.v1.PersonAffiliated".into(),
            tenant_id: "t".into(),
            producer: "membership".into(),
            payload: event.encode_to_vec(),
            ..Default::default()
        };
        let scrubbed = scrub_envelope(&envelope.encode_to_vec(), &m).expect("a mention");
        let back = Envelope::decode(scrubbed.as_slice()).unwrap();
        let event = ev::PersonAffiliated::decode(back.payload.as_slice()).unwrap();
        assert_eq!(event.role, "treasurer ([erased])");
        assert_eq!((event.person_id.as_str(), back.id.as_str()), ("p1", "e1"));
        assert!(!mentions_anywhere(&scrubbed, &m));
        assert!(mentions_anywhere(&envelope.encode_to_vec(), &m));
        assert_eq!(scrub_envelope(&scrubbed, &m), None);
    }
}
