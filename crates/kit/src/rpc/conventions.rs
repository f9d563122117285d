//! The API conventions every service follows (Google's AIPs): etags for
//! optimistic concurrency, update masks, keyset pages bound to their query,
//! object ids.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

use crate::error::{Error, FieldViolation, Result};

/// The etag of an object at `version`.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Refuses an update whose etag is not the object's current one. An empty
/// etag means the caller does not ask for the check.
pub fn check_etag(field: &str, sent: &str, current_version: i64) -> Result<()> {
    if sent.is_empty() {
        return Ok(());
    }
    let version = sent
        .strip_prefix("W/\"")
        .and_then(|s| s.strip_suffix('"'))
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| Error::invalid(field, "not an etag this service issued"))?;
    if version != current_version {
        return Err(Error::stale_etag());
    }
    Ok(())
}

/// Checks an update mask (AIP-134) against the fields a method lets callers
/// set; an empty mask means all of them. Returns the fields to replace.
pub fn update_mask(
    mask: Option<&prost_types::FieldMask>,
    allowed: &[&'static str],
) -> Result<Vec<&'static str>> {
    let paths = mask.map(|m| m.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() {
        return Ok(allowed.to_vec());
    }
    let mut violations = crate::error::Violations::new();
    let mut out = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        match allowed.iter().find(|a| **a == p.as_str()) {
            Some(a) => out.push(*a),
            None => violations.add(
                format!("update_mask.paths[{i}]"),
                format!("'{p}' cannot be updated; allowed: {}", allowed.join(", ")),
            ),
        }
    }
    violations.finish()?;
    Ok(out)
}

/// Default and largest page sizes (AIP-158).
pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 500;

/// The key page tokens are signed with: the configured one
/// ([`set_page_token_secret`], the same on every replica), else one drawn
/// at random when first needed.
static PAGE_KEY: std::sync::RwLock<Option<ring::hmac::Key>> = std::sync::RwLock::new(None);

/// Signs page tokens with `secret` from now on (at start, from
/// `server.page_token_secret`).
pub fn set_page_token_secret(secret: &str) {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    *PAGE_KEY.write().expect("page key lock") = Some(key);
}

fn page_key() -> ring::hmac::Key {
    if let Some(key) = PAGE_KEY.read().expect("page key lock").as_ref() {
        return key.clone();
    }
    let mut key = PAGE_KEY.write().expect("page key lock");
    key.get_or_insert_with(|| {
        ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
            .expect("the system's random source")
    })
    .clone()
}

/// Bytes of the MAC a page token carries (HMAC-SHA256, whole).
const PAGE_MAC_BYTES: usize = 32;

/// A page request, parsed: the size and the key to continue after.
#[derive(Debug, Clone)]
pub struct Page {
    pub size: i64,
    /// The last key of the previous page, or "" for the first page.
    pub after: String,
    filter: String,
}

impl Page {
    /// Parses `page_size` and `page_token`. `filter` is a fingerprint of the
    /// request's filters: a token is only good for the query that made it.
    pub fn parse(page_size: i32, page_token: &str, filter: &str) -> Result<Page> {
        if page_size < 0 {
            return Err(Error::invalid("page_size", "must not be negative"));
        }
        let size = match i64::from(page_size) {
            0 => DEFAULT_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        };
        let filter = fingerprint(filter);
        let after = if page_token.is_empty() {
            String::new()
        } else {
            let bad = || Error::invalid("page_token", "not a token from this list");
            let raw = B64.decode(page_token).map_err(|_| bad())?;
            // A token is what this service wrote: signed, so a client can
            // neither forge a position nor probe the cursor's format.
            if raw.len() < PAGE_MAC_BYTES {
                return Err(bad());
            }
            let (content, mac) = raw.split_at(raw.len() - PAGE_MAC_BYTES);
            if ring::hmac::verify(&page_key(), content, mac).is_err() {
                return Err(bad());
            }
            let text = String::from_utf8(content.to_vec()).map_err(|_| bad())?;
            let (f, key) = text.split_once('|').ok_or_else(bad)?;
            if f != filter {
                return Err(Error::invalid(
                    "page_token",
                    "the token belongs to a list with other filters",
                ));
            }
            key.to_string()
        };
        Ok(Page {
            size,
            after,
            filter,
        })
    }

    /// How many rows to fetch: one more than the page, to know if more follow.
    pub fn fetch(&self) -> i64 {
        self.size + 1
    }

    /// Trims the extra row and returns the token of the next page ("" if last).
    pub fn finish<T>(&self, rows: &mut Vec<T>, key: impl Fn(&T) -> String) -> String {
        if rows.len() as i64 > self.size {
            rows.truncate(self.size as usize);
            let last = rows.last().map(&key).unwrap_or_default();
            let mut token = format!("{}|{last}", self.filter).into_bytes();
            let mac = ring::hmac::sign(&page_key(), &token);
            token.extend_from_slice(mac.as_ref());
            B64.encode(token)
        } else {
            String::new()
        }
    }
}

fn fingerprint(filter: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, filter.as_bytes());
    B64.encode(&d.as_ref()[..9])
}

/// An object id in a request: a UUID this platform issued. Anything else is
/// refused as malformed (rather than looked up).
pub fn parse_id(field: &str, value: &str) -> Result<String, FieldViolation> {
    if value.is_empty() {
        return Err(FieldViolation::new(field, "required"));
    }
    uuid::Uuid::try_parse(value)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| FieldViolation::new(field, "not a valid id"))
}

/// An id a request may leave empty ("any", "none"): "" stays "", anything
/// else must be an id this platform issued.
pub fn parse_optional_id(field: &str, value: &str) -> Result<String, FieldViolation> {
    if value.is_empty() {
        Ok(String::new())
    } else {
        parse_id(field, value)
    }
}

/// A fresh object id: a UUIDv7, so ids sort by creation time and keyset
/// pages follow creation order.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_continue_only_the_same_query() {
        let page = Page::parse(2, "", "kind=1").unwrap();
        let mut rows = vec!["a", "b", "c"];
        let token = page.finish(&mut rows, |r| r.to_string());
        assert_eq!(rows, ["a", "b"]);
        let next = Page::parse(2, &token, "kind=1").unwrap();
        assert_eq!(next.after, "b");
        assert!(Page::parse(2, &token, "kind=2").is_err());
        assert!(Page::parse(2, "garbage!", "kind=1").is_err());
        assert!(Page::parse(-1, "", "").is_err());
        assert_eq!(Page::parse(100_000, "", "").unwrap().size, MAX_PAGE_SIZE);
    }

    #[test]
    fn a_page_token_is_signed_so_none_can_be_forged_or_altered() {
        let page = Page::parse(2, "", "kind=1").unwrap();
        let token = page.finish(&mut vec!["a", "b", "c"], |r| r.to_string());
        // What a token held before it was signed: the filter and the key.
        let forged = B64.encode(format!("{}|zzz", fingerprint("kind=1")));
        assert!(
            Page::parse(2, &forged, "kind=1").is_err(),
            "an unsigned token"
        );
        let mut raw = B64.decode(&token).unwrap();
        let at = raw.len() - PAGE_MAC_BYTES - 1;
        raw[at] = b'z';
        assert!(
            Page::parse(2, &B64.encode(raw), "kind=1").is_err(),
            "a token whose position was changed"
        );
        assert_eq!(Page::parse(2, &token, "kind=1").unwrap().after, "b");
    }

    #[test]
    fn update_masks_name_settable_fields_only() {
        let allowed = &["name", "kind"];
        assert_eq!(update_mask(None, allowed).unwrap(), ["name", "kind"]);
        let mask = prost_types::FieldMask {
            paths: vec!["kind".into()],
        };
        assert_eq!(update_mask(Some(&mask), allowed).unwrap(), ["kind"]);
        let mask = prost_types::FieldMask {
            paths: vec!["kind".into(), "id".into()],
        };
        let Err(Error::InvalidArgument(v)) = update_mask(Some(&mask), allowed) else {
            panic!("an unknown path is refused")
        };
        assert_eq!(v[0].field, "update_mask.paths[1]");
    }

    #[test]
    fn etags_must_match_the_current_version() {
        assert!(check_etag("etag", "", 3).is_ok());
        assert!(check_etag("etag", &etag(3), 3).is_ok());
        assert!(matches!(
            check_etag("etag", &etag(2), 3),
            Err(Error::Aborted(_))
        ));
        assert!(matches!(
            check_etag("etag", "3", 3),
            Err(Error::InvalidArgument(_))
        ));
    }
}
