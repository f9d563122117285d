//! Authentication: EdDSA (Ed25519) JSON Web Tokens, verified once per RPC into
//! a [`Caller`].
//!
//! The algorithm is pinned: a token whose header says anything but `EdDSA`
//! (including `none`) is refused before its signature is looked at. `exp` is
//! required; `iss` and `aud` must match the configuration. Keys come from a
//! JWKS — a file written by `markaz dev`, or the URL of an external OIDC
//! issuer, refreshed in the background and whenever an unknown `kid` shows up.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::config::AuthConfig;
use crate::error::{Error, Result};

/// What a caller may be. A token carries one or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Runs a tenant: branches, staff, everything of the tenant.
    Admin,
    /// Program and capacity-building officers.
    Staff,
    Trainer,
    /// Expert reviewer of grant proposals assigned to them.
    Reviewer,
    /// A member of a partner organization (the token's `org`).
    Partner,
    /// A donor platform reading the tenants that share with it.
    Donor,
    /// Runs the deployment: tenants, dead letters. Sees no tenant's data.
    Operator,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Admin,
        Role::Staff,
        Role::Trainer,
        Role::Reviewer,
        Role::Partner,
        Role::Donor,
        Role::Operator,
    ];

    /// Every role that works inside a tenant (all but the operator).
    pub const TENANT: [Role; 6] = [
        Role::Admin,
        Role::Staff,
        Role::Trainer,
        Role::Reviewer,
        Role::Partner,
        Role::Donor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::Trainer => "trainer",
            Role::Reviewer => "reviewer",
            Role::Partner => "partner",
            Role::Donor => "donor",
            Role::Operator => "operator",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role '{s}'"))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The authenticated caller of one RPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    /// The tenant whose data the caller works on; empty for an operator.
    pub tenant: String,
    pub roles: Vec<Role>,
    /// The partner organization the caller belongs to, for `partner`.
    pub organization: Option<String>,
    /// For `donor`: the tenants that share their figures with it.
    pub shared_tenants: Vec<String>,
}

impl Caller {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }

    /// The caller must hold one of `roles` and belong to a tenant.
    pub fn require(&self, roles: &[Role]) -> Result<()> {
        if !self.has_any(roles) {
            return Err(Error::permission_denied(format!(
                "requires one of the roles {}",
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if self.tenant.is_empty() && !roles.contains(&Role::Operator) {
            return Err(Error::permission_denied("the token names no tenant"));
        }
        Ok(())
    }

    /// Staff-like roles see every object of their tenant; partners only their
    /// own organization's.
    pub fn is_staff(&self) -> bool {
        self.has_any(&[Role::Admin, Role::Staff])
    }

    /// Whose records of the tenant's organizations this caller may see.
    pub fn organizations(&self) -> Organizations<'_> {
        match self.partner_scope() {
            None => Organizations::All,
            Some("") => Organizations::None,
            Some(own) => Organizations::Only(own),
        }
    }

    /// Whether the caller may see the records of organization `id`.
    pub fn may_see_organization(&self, id: &str) -> bool {
        match self.organizations() {
            Organizations::All => true,
            Organizations::Only(own) => own == id,
            Organizations::None => false,
        }
    }

    /// The organization a list may filter on for this caller: what was
    /// `asked` ("" for any), except that a partner is held to its own.
    /// `None` when nothing may be shown (a partner asking for another's).
    pub fn organization_filter(&self, asked: &str) -> Option<String> {
        match self.organizations() {
            Organizations::All => Some(asked.to_string()),
            Organizations::Only(own) if asked.is_empty() || asked == own => Some(own.to_string()),
            Organizations::Only(_) | Organizations::None => None,
        }
    }

    /// For a partner, the organization it may see; `None` for staff.
    pub fn partner_scope(&self) -> Option<&str> {
        if self.is_staff() {
            None
        } else if self.has(Role::Partner) {
            Some(self.organization.as_deref().unwrap_or(""))
        } else {
            None
        }
    }
}

/// Which organizations' records a caller may see ([`Caller::organizations`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Organizations<'a> {
    /// All of the tenant's: staff, and the roles confined by other means.
    All,
    /// A partner's own organization only.
    Only(&'a str),
    /// None: a partner token that names no organization.
    None,
}

/// The claims of a Markaz token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    pub sub: String,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default)]
    pub tenant: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

/// A JSON Web Key (only the Ed25519 "OKP" kind is used).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub crv: String,
    #[serde(default)]
    pub x: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    #[serde(default)]
    pub kid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// Signs tokens: `markaz dev`, `markaz token issue` and the tests.
pub struct Signer {
    kid: String,
    pair: Ed25519KeyPair,
    seed: [u8; 32],
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish()
    }
}

impl Signer {
    /// A new random key.
    pub fn generate() -> Result<Signer> {
        let mut seed = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed)
            .map_err(|_| Error::internal("no randomness for a signing key"))?;
        let kid = format!(
            "markaz-{}",
            &uuid::Uuid::now_v7().simple().to_string()[..12]
        );
        Signer::from_seed(kid, seed)
    }

    fn from_seed(kid: String, seed: [u8; 32]) -> Result<Signer> {
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|_| Error::internal("bad Ed25519 seed"))?;
        Ok(Signer { kid, pair, seed })
    }

    /// Reads a private JWK file.
    pub fn load(path: &Path) -> Result<Signer> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::internal(format!("reading {}: {e}", path.display())))?;
        let jwk: Jwk = serde_json::from_str(&text)
            .map_err(|e| Error::internal(format!("{}: not a JWK: {e}", path.display())))?;
        let d = jwk
            .d
            .as_deref()
            .ok_or_else(|| Error::internal(format!("{}: no private key 'd'", path.display())))?;
        let seed: [u8; 32] = B64
            .decode(d)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Error::internal(format!("{}: 'd' is not 32 bytes", path.display())))?;
        Signer::from_seed(jwk.kid, seed)
    }

    /// Loads the key at `path`, creating it (and `jwks` beside it) if missing.
    pub fn load_or_create(path: &Path, jwks: &Path) -> Result<Signer> {
        if path.exists() {
            let signer = Signer::load(path)?;
            if !jwks.exists() {
                signer.write_jwks(jwks)?;
            }
            return Ok(signer);
        }
        let signer = Signer::generate()?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::internal(format!("creating {}: {e}", dir.display())))?;
        }
        let private =
            serde_json::to_string_pretty(&signer.private_jwk()).map_err(Error::internal)?;
        write_private(path, &private)?;
        signer.write_jwks(jwks)?;
        Ok(signer)
    }

    fn write_jwks(&self, path: &Path) -> Result<()> {
        let jwks = serde_json::to_string_pretty(&self.jwks()).map_err(Error::internal)?;
        std::fs::write(path, jwks)
            .map_err(|e| Error::internal(format!("writing {}: {e}", path.display())))
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn public_jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: B64.encode(self.pair.public_key().as_ref()),
            d: None,
            kid: self.kid.clone(),
            alg: Some("EdDSA".into()),
            use_: Some("sig".into()),
        }
    }

    fn private_jwk(&self) -> Jwk {
        Jwk {
            d: Some(B64.encode(self.seed)),
            ..self.public_jwk()
        }
    }

    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: vec![self.public_jwk()],
        }
    }

    /// Signs `claims` as a compact JWS.
    pub fn sign(&self, claims: &Claims) -> String {
        let header = serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(serde_json::to_vec(claims).expect("claims serialize"))
        );
        let sig = self.pair.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(sig.as_ref()))
    }

    /// Claims for a token valid for `ttl` from now.
    pub fn claims(
        config: &AuthConfig,
        subject: &str,
        tenant: &str,
        roles: &[Role],
        org: Option<&str>,
        ttl: Duration,
    ) -> Claims {
        let now = crate::time::now_micros() / 1_000_000;
        Claims {
            iss: config.issuer.clone(),
            aud: vec![config.audience.clone()],
            sub: subject.to_string(),
            exp: now + ttl.as_secs() as i64,
            nbf: None,
            iat: Some(now),
            tenant: tenant.to_string(),
            roles: roles.iter().map(|r| r.as_str().to_string()).collect(),
            org: org.map(str::to_string),
            tenants: Vec::new(),
        }
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::internal(format!("creating {}: {e}", path.display())))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::internal(format!("writing {}: {e}", path.display())))
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)
        .map_err(|e| Error::internal(format!("writing {}: {e}", path.display())))
}

/// Where the verifier's public keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// Fixed keys (a JWKS file read at start, or keys given by a test).
    Static(Jwks),
    /// An OIDC issuer's JWKS endpoint, refreshed.
    Url(String),
}

impl KeySource {
    /// `https://...` is a URL (plain `http://` only to this machine: keys
    /// fetched in the clear could be swapped on the way); `file:PATH` or a
    /// bare path is a file.
    pub fn from_setting(setting: &str) -> Result<KeySource> {
        if setting.starts_with("http://") || setting.starts_with("https://") {
            crate::fetch::check_transport(setting).map_err(Error::internal)?;
            return Ok(KeySource::Url(setting.to_string()));
        }
        let path = setting.strip_prefix("file:").unwrap_or(setting);
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::internal(format!("reading JWKS {path}: {e}")))?;
        let jwks: Jwks = serde_json::from_str(&text)
            .map_err(|e| Error::internal(format!("JWKS {path}: {e}")))?;
        Ok(KeySource::Static(jwks))
    }
}

/// How many verified tokens are remembered. Verifying Ed25519 costs tens of
/// microseconds; a client sends the same token for many calls, so the result
/// is kept until the token expires.
const VERIFIED_CACHE: usize = 4096;

/// Verifies tokens into [`Caller`]s.
pub struct Verifier {
    issuer: String,
    audience: String,
    leeway: i64,
    max_lifetime: i64,
    keys: RwLock<HashMap<String, Vec<u8>>>,
    verified: Mutex<HashMap<String, (Caller, i64)>>,
    refresh: Arc<tokio::sync::Notify>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl Verifier {
    pub async fn new(config: &AuthConfig, source: KeySource) -> Result<Arc<Verifier>> {
        let verifier = Arc::new(Verifier {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway: config.leeway_secs as i64,
            max_lifetime: config.max_token_lifetime_secs as i64,
            keys: RwLock::new(HashMap::new()),
            verified: Mutex::new(HashMap::new()),
            refresh: Arc::new(tokio::sync::Notify::new()),
        });
        match source {
            KeySource::Static(jwks) => verifier.install(&jwks),
            KeySource::Url(url) => {
                let jwks = jwks::fetch(&url).await?;
                verifier.install(&jwks);
                let weak = Arc::downgrade(&verifier);
                tokio::spawn(jwks::refresh_loop(weak, url));
            }
        }
        Ok(verifier)
    }

    fn install(&self, jwks: &Jwks) {
        let mut keys = HashMap::new();
        for k in &jwks.keys {
            if k.kty != "OKP" || k.crv != "Ed25519" {
                continue;
            }
            if k.alg.as_deref().is_some_and(|a| a != "EdDSA") {
                continue;
            }
            if let Ok(x) = B64.decode(&k.x)
                && x.len() == 32
            {
                keys.insert(k.kid.clone(), x);
            }
        }
        let mut current = self.keys.write().expect("keys lock");
        if *current != keys {
            // A key withdrawn from the issuer's set no longer vouches for the
            // tokens it signed, even those verified before.
            self.verified.lock().expect("cache lock").clear();
        }
        *current = keys;
    }

    /// Verifies the value of an `authorization` header.
    pub fn verify_header(&self, header: Option<&str>) -> Result<Caller> {
        let header = header.ok_or_else(|| unauthenticated("missing bearer token"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| unauthenticated("authorization is not a bearer token"))?;
        self.verify(token.trim())
    }

    /// Verifies a compact JWS and returns the caller it names.
    pub fn verify(&self, token: &str) -> Result<Caller> {
        let now = crate::time::now_micros() / 1_000_000;
        if let Some((caller, exp)) = self.verified.lock().expect("cache lock").get(token)
            && now <= *exp + self.leeway
        {
            return Ok(caller.clone());
        }
        let (caller, exp) = self.verify_uncached(token, now)?;
        let mut cache = self.verified.lock().expect("cache lock");
        if cache.len() >= VERIFIED_CACHE {
            cache.retain(|_, (_, exp)| now <= *exp);
            if cache.len() >= VERIFIED_CACHE {
                cache.clear();
            }
        }
        cache.insert(token.to_string(), (caller.clone(), exp));
        Ok(caller)
    }

    fn verify_uncached(&self, token: &str, now: i64) -> Result<(Caller, i64)> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(unauthenticated("malformed token"));
        };
        let header: Header = B64
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| unauthenticated("malformed token header"))?;
        // Pinned: no other algorithm, and never `none`.
        if header.alg != "EdDSA" {
            return Err(unauthenticated(format!(
                "token algorithm '{}' is not accepted",
                header.alg
            )));
        }
        let signature = B64
            .decode(s)
            .map_err(|_| unauthenticated("malformed token signature"))?;
        let signed = &token[..h.len() + 1 + c.len()];
        let verified = {
            let keys = self.keys.read().expect("keys lock");
            let candidates: Vec<&Vec<u8>> = match &header.kid {
                Some(kid) => keys.get(kid).into_iter().collect(),
                None => keys.values().collect(),
            };
            if candidates.is_empty() {
                self.refresh.notify_one();
                return Err(unauthenticated("token signed by an unknown key"));
            }
            candidates.iter().any(|k| {
                UnparsedPublicKey::new(&ED25519, k.as_slice())
                    .verify(signed.as_bytes(), &signature)
                    .is_ok()
            })
        };
        if !verified {
            return Err(unauthenticated("token signature is invalid"));
        }
        let claims: Claims = B64
            .decode(c)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| unauthenticated("malformed token claims"))?;
        if now > claims.exp + self.leeway {
            return Err(unauthenticated("token expired"));
        }
        if claims.nbf.is_some_and(|nbf| now + self.leeway < nbf) {
            return Err(unauthenticated("token not yet valid"));
        }
        let issued = claims.iat.unwrap_or(now).min(now);
        if claims.exp - issued > self.max_lifetime + self.leeway {
            return Err(unauthenticated(
                "token lives longer than this deployment allows",
            ));
        }
        if claims.iss != self.issuer {
            return Err(unauthenticated("token issuer is not trusted"));
        }
        if !claims.aud.contains(&self.audience) {
            return Err(unauthenticated("token audience is not this service"));
        }
        if claims.sub.is_empty() {
            return Err(unauthenticated("token has no subject"));
        }
        if !claims.tenant.is_empty() && crate::db::check_tenant(&claims.tenant).is_err() {
            return Err(unauthenticated("token names a malformed tenant"));
        }
        let roles = claims.roles.iter().filter_map(|r| r.parse().ok()).collect();
        let exp = claims.exp;
        Ok((
            Caller {
                subject: claims.sub,
                tenant: claims.tenant,
                roles,
                organization: claims.org.filter(|o| !o.is_empty()),
                shared_tenants: claims.tenants,
            },
            exp,
        ))
    }
}

fn unauthenticated(why: impl Into<String>) -> Error {
    Error::Unauthenticated(why.into())
}

/// An issuer's JWKS, fetched at start and refreshed.
mod jwks {
    use std::sync::Weak;
    use std::time::Duration;

    use super::{Jwks, Verifier};
    use crate::error::{Error, Result};

    const REFRESH: Duration = Duration::from_secs(300);
    const MIN_GAP: Duration = Duration::from_secs(30);

    pub(super) async fn refresh_loop(verifier: Weak<Verifier>, url: String) {
        loop {
            let Some(refresh) = verifier.upgrade().map(|v| v.refresh.clone()) else {
                return;
            };
            let _ = tokio::time::timeout(REFRESH, refresh.notified()).await;
            match fetch(&url).await {
                Ok(jwks) => match verifier.upgrade() {
                    Some(v) => v.install(&jwks),
                    None => return,
                },
                Err(e) => tracing::warn!(error = %e, "JWKS refresh failed; keeping the old keys"),
            }
            tokio::time::sleep(MIN_GAP).await;
        }
    }

    /// Fetches the key set, within [`crate::fetch::TIMEOUT`]: a stalled
    /// issuer must not hang the start or the refresh.
    pub(super) async fn fetch(url: &str) -> Result<Jwks> {
        let fail = |e: &dyn std::fmt::Display| Error::Unavailable(format!("JWKS {e}"));
        let answer = crate::fetch::fetch(http::Method::GET, url, None, None)
            .await
            .map_err(|e| fail(&e))?;
        if !answer.status.is_success() {
            return Err(fail(&format!("{url}: HTTP {}", answer.status)));
        }
        serde_json::from_slice(&answer.body).map_err(|e| fail(&format!("{url}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AuthConfig {
        AuthConfig::default()
    }

    async fn verifier(signer: &Signer) -> Arc<Verifier> {
        Verifier::new(&config(), KeySource::Static(signer.jwks()))
            .await
            .unwrap()
    }

    fn token(signer: &Signer, edit: impl FnOnce(&mut Claims)) -> String {
        let mut claims = Signer::claims(
            &config(),
            "user-1",
            "tenant-a",
            &[Role::Staff],
            None,
            Duration::from_secs(600),
        );
        edit(&mut claims);
        signer.sign(&claims)
    }

    #[tokio::test]
    async fn a_signed_token_names_its_caller() {
        let signer = Signer::generate().unwrap();
        let v = verifier(&signer).await;
        let caller = v
            .verify_header(Some(&format!("Bearer {}", token(&signer, |_| {}))))
            .unwrap();
        assert_eq!(caller.subject, "user-1");
        assert_eq!(caller.tenant, "tenant-a");
        assert_eq!(caller.roles, vec![Role::Staff]);
    }

    #[tokio::test]
    async fn forged_expired_foreign_and_unsigned_tokens_are_refused() {
        let signer = Signer::generate().unwrap();
        let other = Signer::generate().unwrap();
        let v = verifier(&signer).await;
        let expired = token(&signer, |c| c.exp -= 3600);
        let wrong_aud = token(&signer, |c| c.aud = vec!["elsewhere".into()]);
        let wrong_iss = token(&signer, |c| c.iss = "evil".into());
        // Signed by a key with the trusted key's id: the signature fails.
        let forged = {
            let t = token(&other, |_| {});
            let good = token(&signer, |_| {});
            let good_header = good.split('.').next().unwrap().to_string();
            let mut parts = t.split('.').skip(1);
            format!(
                "{good_header}.{}.{}",
                parts.next().unwrap(),
                parts.next().unwrap()
            )
        };
        let none = {
            let header = B64.encode(r#"{"alg":"none","typ":"JWT"}"#);
            let claims = token(&signer, |_| {})
                .split('.')
                .nth(1)
                .unwrap()
                .to_string();
            format!("{header}.{claims}.")
        };
        for (name, t) in [
            ("expired", expired),
            ("audience", wrong_aud),
            ("issuer", wrong_iss),
            ("forged", forged),
            ("none", none),
            ("garbage", "abc".to_string()),
        ] {
            let e = v.verify(&t).unwrap_err();
            assert!(matches!(e, Error::Unauthenticated(_)), "{name}: {e:?}");
        }
        assert!(matches!(
            v.verify_header(None).unwrap_err(),
            Error::Unauthenticated(_)
        ));
    }

    #[tokio::test]
    async fn keys_come_from_an_issuers_jwks_url() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let signer = Signer::generate().unwrap();
        let body = serde_json::to_string(&signer.jwks()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).await.unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("GET /jwks.json HTTP/1.1"));
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            s.write_all(reply.as_bytes()).await.unwrap();
        });
        let source = KeySource::from_setting(&format!("http://{addr}/jwks.json")).unwrap();
        let v = Verifier::new(&config(), source).await.unwrap();
        let caller = v.verify(&token(&signer, |_| {})).unwrap();
        assert_eq!(caller.subject, "user-1");
    }

    #[test]
    fn roles_are_required() {
        let c = Caller {
            subject: "s".into(),
            tenant: "t".into(),
            roles: vec![Role::Partner],
            organization: Some("o".into()),
            shared_tenants: vec![],
        };
        assert!(c.require(&[Role::Partner]).is_ok());
        assert!(matches!(
            c.require(&[Role::Staff]).unwrap_err(),
            Error::PermissionDenied(_)
        ));
        assert_eq!(c.partner_scope(), Some("o"));
    }
}
