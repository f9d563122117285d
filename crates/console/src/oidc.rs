//! Sign-in. Production: the OpenID Connect authorization-code flow with PKCE
//! (S256) against the issuer whose tokens the services verify; the console
//! keeps the access token server-side and sends it with every call. `markaz
//! dev`: a local sign-in as one of the demo tenant's roles, its token signed
//! by the dev key like `markaz token issue`'s.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use markaz_kit::auth::{Caller, KeySource, Role, Signer, Verifier};
use markaz_kit::config::AuthConfig;
use markaz_kit::fetch::fetch;
use serde::Deserialize;

use crate::config::OidcSettings;
use crate::session::random_token;
use crate::upstream::{Bearer, Upstream};

/// How people sign in to this console.
#[derive(Clone)]
pub enum SignIn {
    Dev(Arc<DevSignIn>),
    Oidc(Arc<Oidc>),
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignIn::Dev(d) => write!(f, "SignIn::Dev({})", d.tenant),
            SignIn::Oidc(o) => write!(f, "SignIn::Oidc({})", o.authorize_url),
        }
    }
}

/// `markaz dev`'s sign-in: the dev signing key and the demo tenant.
pub struct DevSignIn {
    pub signer: Arc<Signer>,
    pub auth: AuthConfig,
    pub tenant: String,
}

/// The roles offered on the dev sign-in page.
pub const DEV_ROLES: [Role; 6] = [
    Role::Staff,
    Role::Admin,
    Role::Trainer,
    Role::Reviewer,
    Role::Partner,
    Role::Operator,
];

impl DevSignIn {
    /// A token for `subject` in the demo tenant (none for the operator).
    pub fn token(&self, subject: &str, role: Role, org: Option<&str>) -> String {
        let tenant = if role == Role::Operator {
            ""
        } else {
            &self.tenant
        };
        self.signer.sign(&Signer::claims(
            &self.auth,
            subject,
            tenant,
            &[role],
            org,
            Duration::from_secs(12 * 3600),
        ))
    }
}

/// The issuer's endpoints and the console's registration there.
pub struct Oidc {
    pub authorize_url: String,
    pub token_url: String,
    pub client_id: String,
    client_secret: Option<String>,
    pub redirect_url: String,
    scopes: String,
    /// Checks the ID token (signature, issuer, audience = client id) and so
    /// its nonce; `None` when the issuer publishes no keys.
    id_tokens: Option<Arc<Verifier>>,
}

#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    #[serde(default)]
    jwks_uri: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// What the browser is sent to, and what to remember until it is back.
#[derive(Debug)]
pub struct Authorization {
    pub url: String,
    pub state: String,
    pub verifier: String,
    pub nonce: String,
}

/// A finished sign-in.
#[derive(Debug)]
pub struct SignedIn {
    pub token: String,
    pub who: Caller,
    /// Seconds the token lives, when the issuer said.
    pub expires_in: Option<i64>,
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// PKCE S256: the challenge of `verifier`.
pub fn challenge(verifier: &str) -> String {
    B64.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref())
}

impl Oidc {
    /// Resolves the endpoints: the discovery document, with the settings'
    /// explicit endpoints winning.
    pub async fn discover(settings: &OidcSettings, auth: &AuthConfig) -> Result<Oidc, String> {
        let discovered = match &settings.discovery_url {
            Some(url) => {
                let answer = fetch(http::Method::GET, url, None, None).await?;
                if !answer.status.is_success() {
                    return Err(format!("{url}: HTTP {}", answer.status));
                }
                Some(
                    serde_json::from_slice::<Discovery>(&answer.body)
                        .map_err(|e| format!("{url}: not a discovery document: {e}"))?,
                )
            }
            None => None,
        };
        let pick = |explicit: &Option<String>, found: Option<&String>| {
            explicit.clone().or_else(|| found.cloned())
        };
        let authorize_url = pick(
            &settings.authorize_url,
            discovered.as_ref().map(|d| &d.authorization_endpoint),
        )
        .ok_or("no authorization endpoint")?;
        let token_url = pick(
            &settings.token_url,
            discovered.as_ref().map(|d| &d.token_endpoint),
        )
        .ok_or("no token endpoint")?;
        let jwks = pick(
            &settings.jwks_url,
            discovered.as_ref().and_then(|d| d.jwks_uri.as_ref()),
        );
        let issuer = discovered
            .as_ref()
            .map(|d| d.issuer.clone())
            .unwrap_or_else(|| auth.issuer.clone());
        let id_tokens = match jwks {
            Some(url) => Some(
                Verifier::new(
                    &AuthConfig {
                        issuer,
                        audience: settings.client_id.clone(),
                        ..auth.clone()
                    },
                    KeySource::Url(url),
                )
                .await
                .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        Ok(Oidc {
            authorize_url,
            token_url,
            client_id: settings.client_id.clone(),
            client_secret: settings.client_secret.clone(),
            redirect_url: settings.redirect_url.clone(),
            scopes: settings.scopes.clone(),
            id_tokens,
        })
    }

    /// A new authorization request: fresh state, PKCE verifier and nonce.
    pub fn authorize(&self) -> Authorization {
        let state = random_token(24);
        let verifier = random_token(32);
        let nonce = random_token(24);
        let scopes = std::iter::once("openid")
            .chain(self.scopes.split_whitespace().filter(|s| *s != "openid"))
            .collect::<Vec<_>>()
            .join(" ");
        let separator = if self.authorize_url.contains('?') {
            '&'
        } else {
            '?'
        };
        let url = format!(
            "{}{separator}response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&nonce={}&code_challenge={}&code_challenge_method=S256",
            self.authorize_url,
            encode(&self.client_id),
            encode(&self.redirect_url),
            encode(&scopes),
            encode(&state),
            encode(&nonce),
            challenge(&verifier),
        );
        Authorization {
            url,
            state,
            verifier,
            nonce,
        }
    }

    /// Exchanges the code for tokens, checks the ID token's nonce, and asks
    /// the services who the access token names.
    pub async fn finish(
        &self,
        code: &str,
        verifier: &str,
        nonce: &str,
        upstream: &Upstream,
    ) -> Result<SignedIn, String> {
        let body = format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&client_id={}&code_verifier={}",
            encode(code),
            encode(&self.redirect_url),
            encode(&self.client_id),
            encode(verifier),
        );
        // A confidential client: HTTP Basic of the form-encoded id and
        // secret (RFC 6749, 2.3.1).
        let basic = self.client_secret.as_deref().map(|secret| {
            let pair = format!("{}:{}", encode(&self.client_id), encode(secret));
            format!("Basic {}", STANDARD.encode(pair))
        });
        let answer = fetch(
            http::Method::POST,
            &self.token_url,
            Some(body),
            basic.as_deref(),
        )
        .await?;
        if !answer.status.is_success() {
            return Err(format!(
                "the issuer refused the code: HTTP {} {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            ));
        }
        let tokens: TokenAnswer = serde_json::from_slice(&answer.body)
            .map_err(|e| format!("the issuer's token answer: {e}"))?;
        if let Some(verifier) = &self.id_tokens {
            let id_token = tokens
                .id_token
                .as_deref()
                .ok_or("the issuer sent no ID token")?;
            verifier
                .verify(id_token)
                .map_err(|e| format!("ID token: {e}"))?;
            if claim(id_token, "nonce").as_deref() != Some(nonce) {
                return Err("ID token: the nonce is not this sign-in's".into());
            }
        }
        let who = who_am_i(upstream, &tokens.access_token).await?;
        Ok(SignedIn {
            token: tokens.access_token,
            who,
            expires_in: tokens.expires_in,
        })
    }
}

/// A string claim of a (verified) compact JWS.
fn claim(token: &str, name: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let json: serde_json::Value = serde_json::from_slice(&B64.decode(payload).ok()?).ok()?;
    json.get(name)?.as_str().map(str::to_string)
}

/// The token's `exp`, to end the session with it (the services check it).
pub fn expiry(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let json: serde_json::Value = serde_json::from_slice(&B64.decode(payload).ok()?).ok()?;
    json.get("exp")?.as_i64()
}

/// Who the services say the token names: they verify it, not the console.
pub async fn who_am_i(upstream: &Upstream, token: &str) -> Result<Caller, String> {
    let me = upstream
        .platform(&Bearer::new(token))
        .who_am_i(markaz_proto::platform::v1::WhoAmIRequest {})
        .await
        .map_err(|s| format!("the services refused the token: {}", s.message()))?
        .into_inner();
    Ok(Caller {
        subject: me.subject,
        tenant: me.tenant_id,
        roles: me.roles.iter().filter_map(|r| r.parse().ok()).collect(),
        organization: Some(me.organization_id).filter(|o| !o.is_empty()),
        shared_tenants: me.shared_tenant_ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_rfc_7636s() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
