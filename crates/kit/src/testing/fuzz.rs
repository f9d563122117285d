//! Request fuzzing through the real server: for every method of the rights
//! tables, messages built at random from the method's own input descriptor
//! — absent and present fields, edge integers, unknown enum numbers, empty,
//! huge, Arabic and deceiving strings, nested messages, repeated fields,
//! sometimes a byte flipped — are sent as staff. Whatever arrives, the
//! answer must be a status a client can act on: never INTERNAL, UNKNOWN or
//! a dropped connection, and the server keeps serving.
//!
//! Deterministic for a seed (a tiny xorshift, no dependency), bounded by a
//! number of messages per method and a wall-clock budget.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut};
use http::uri::PathAndQuery;
use prost::encoding::{WireType, encode_key, encode_varint};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorSet};
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use super::{TestApp, authed};
use crate::auth::Role;
use crate::rpc::{Access, Rights};

/// What one fuzzing run found: each a method, the message (hex) and the
/// answer that should not have been given.
#[derive(Debug, Default)]
pub struct Findings {
    pub sent: usize,
    pub wrong: Vec<String>,
}

/// Sends up to `per_method` random messages to every method of `tables`,
/// as staff (admin for admin-only methods) of `tenant`, within `budget`.
pub async fn fuzz(
    app: &TestApp,
    tables: &[Rights],
    tenant: &str,
    seed: u64,
    per_method: usize,
    budget: Duration,
) -> Findings {
    let set: FileDescriptorSet =
        prost::Message::decode(markaz_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
    let messages = messages_of(&set);
    let mut rng = Rng(seed | 1);
    let mut findings = Findings::default();
    let started = Instant::now();
    let staff = app.token(tenant, &[Role::Staff, Role::Admin], None);
    let operator = app.token("", &[Role::Operator], None);
    for table in tables {
        for (method, access) in table.methods {
            let token = match access {
                Access::Public => "",
                Access::Roles(roles) if roles.contains(&Role::Operator) => operator.as_str(),
                Access::Roles(_) => staff.as_str(),
            };
            let input = match input_of(&set, table.grpc_service, method) {
                Some(Some(input)) => input,
                Some(None) => continue,
                None => {
                    findings
                        .wrong
                        .push(format!("{method}: not in the descriptors"));
                    continue;
                }
            };
            for _ in 0..per_method {
                if started.elapsed() > budget {
                    return findings;
                }
                let mut body = Vec::new();
                encode_message(&messages, &input, &mut rng, 0, &mut body);
                if rng.below(8) == 0 && !body.is_empty() {
                    let at = rng.below(body.len() as u64) as usize;
                    body[at] ^= 1 << rng.below(8);
                }
                let (code, message) =
                    call(app, table.grpc_service, method, token, body.clone()).await;
                findings.sent += 1;
                // A message that is no valid encoding at all never reaches
                // a handler: tonic answers INTERNAL, as gRPC's status-code
                // guide prescribes for an unparseable request.
                let unparseable = code == Code::Internal
                    && message.starts_with("failed to decode Protobuf message");
                if matches!(code, Code::Internal | Code::Unknown | Code::Unimplemented)
                    && !unparseable
                {
                    findings
                        .wrong
                        .push(format!("{method}: {code:?} ({message}) for {}", hex(&body)));
                }
            }
        }
    }
    findings
}

async fn call(
    app: &TestApp,
    service: &str,
    method: &str,
    token: &str,
    body: Vec<u8>,
) -> (Code, String) {
    let mut grpc = tonic::client::Grpc::new(app.channel().await);
    if let Err(e) = grpc.ready().await {
        return (Code::Unknown, format!("the server is not ready: {e}"));
    }
    let path = PathAndQuery::try_from(format!("/{service}/{method}")).expect("a path");
    match grpc.unary(authed(body, token), path, RawCodec).await {
        Ok(_) => (Code::Ok, String::new()),
        Err(status) => (status.code(), status.message().to_string()),
    }
}

/// Every message type by its full name (`.markaz.grants.v1.Proposal`).
fn messages_of(set: &FileDescriptorSet) -> HashMap<String, DescriptorProto> {
    fn add(prefix: &str, m: &DescriptorProto, out: &mut HashMap<String, DescriptorProto>) {
        let name = format!("{prefix}.{}", m.name());
        for nested in &m.nested_type {
            add(&name, nested, out);
        }
        out.insert(name, m.clone());
    }
    let mut out = HashMap::new();
    for f in &set.file {
        for m in &f.message_type {
            add(&format!(".{}", f.package()), m, &mut out);
        }
    }
    out
}

/// The input message of a unary method (`None` for a streaming one, which
/// its own tests drive).
fn input_of(set: &FileDescriptorSet, service: &str, method: &str) -> Option<Option<String>> {
    set.file.iter().find_map(|f| {
        f.service
            .iter()
            .filter(|s| format!("{}.{}", f.package(), s.name()) == service)
            .flat_map(|s| s.method.iter())
            .find(|m| m.name() == method)
            .map(|m| {
                (!m.client_streaming() && !m.server_streaming()).then(|| m.input_type().to_string())
            })
    })
}

const TEXTS: &[&str] = &[
    "",
    "a",
    "جمعية شباب الفرات للتنمية",
    "\u{202E}evil",
    "Am\u{200B}ina",
    "x\u{FDD0}",
    "0190d3b4-5c1a-7000-8000-00000000dead",
    "not-a-uuid",
    "raqqa",
    "SY-CSSC-0001",
    "2026-02-30",
    "' OR 1=1 --",
    "%_\\",
    "*",
];

fn encode_message(
    messages: &HashMap<String, DescriptorProto>,
    name: &str,
    rng: &mut Rng,
    depth: u32,
    out: &mut Vec<u8>,
) {
    let Some(message) = messages.get(name) else {
        return;
    };
    if depth > 3 {
        return;
    }
    for field in &message.field {
        if rng.below(3) == 0 {
            continue; // absent
        }
        let count = if field.label() == Label::Repeated {
            rng.below(4)
        } else {
            1
        };
        for _ in 0..count {
            encode_field(messages, field, rng, depth, out);
        }
    }
}

fn encode_field(
    messages: &HashMap<String, DescriptorProto>,
    field: &FieldDescriptorProto,
    rng: &mut Rng,
    depth: u32,
    out: &mut Vec<u8>,
) {
    let tag = field.number() as u32;
    match field.r#type() {
        Type::Message => {
            let mut inner = Vec::new();
            encode_message(messages, field.type_name(), rng, depth + 1, &mut inner);
            encode_key(tag, WireType::LengthDelimited, out);
            encode_varint(inner.len() as u64, out);
            out.extend_from_slice(&inner);
        }
        Type::String | Type::Bytes => {
            let text = match rng.below(10) {
                0 => "ي".repeat(rng.below(5_000) as usize + 1),
                1 => "x".repeat(70_000),
                _ => TEXTS[rng.below(TEXTS.len() as u64) as usize].to_string(),
            };
            encode_key(tag, WireType::LengthDelimited, out);
            encode_varint(text.len() as u64, out);
            out.extend_from_slice(text.as_bytes());
        }
        Type::Double => {
            encode_key(tag, WireType::SixtyFourBit, out);
            let v = [0.0, -1.0, f64::NAN, f64::INFINITY, 1e300, 3.5][rng.below(6) as usize];
            out.put_f64_le(v);
        }
        Type::Float => {
            encode_key(tag, WireType::ThirtyTwoBit, out);
            out.put_f32_le([0.0f32, f32::NAN, -2.5][rng.below(3) as usize]);
        }
        Type::Fixed64 | Type::Sfixed64 => {
            encode_key(tag, WireType::SixtyFourBit, out);
            out.put_u64_le(rng.next());
        }
        Type::Fixed32 | Type::Sfixed32 => {
            encode_key(tag, WireType::ThirtyTwoBit, out);
            out.put_u32_le(rng.next() as u32);
        }
        _ => {
            // Varints: integers, booleans, enumerations (unknown numbers
            // included), at their edges.
            let edges: [u64; 9] = [
                0,
                1,
                2,
                7,
                100,
                i32::MAX as u64,
                (-1i64) as u64,
                i64::MAX as u64,
                (i32::MIN as i64) as u64,
            ];
            encode_key(tag, WireType::Varint, out);
            encode_varint(edges[rng.below(edges.len() as u64) as usize], out);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    let shown: String = bytes.iter().take(200).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 200 {
        format!("{shown}… ({} bytes)", bytes.len())
    } else {
        shown
    }
}

/// xorshift64: enough randomness to vary messages, the same for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// Sends bytes as they are, reads the answer's bytes.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Self::Error> {
        let mut out = vec![0u8; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}
