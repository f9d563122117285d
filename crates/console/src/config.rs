//! The console's own settings, read from `MARKAZ_CONSOLE_*` variables.
//!
//! Kept out of kit's [`Config`](markaz_kit::config::Config): the console is no
//! service (no database, no bus), and only the token issuer is shared with
//! the services (`auth.issuer`/`auth.audience`, which the services verify).

use std::net::SocketAddr;

use markaz_kit::rpc::peer::TrustedProxies;

/// How people sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// `https://issuer/.well-known/openid-configuration`; when set, the three
    /// endpoints below are read from it unless given.
    pub discovery_url: Option<String>,
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    /// The issuer's keys, to check the ID token's signature and nonce.
    pub jwks_url: Option<String>,
    pub client_id: String,
    /// Only for a confidential client; PKCE protects a public one.
    pub client_secret: Option<String>,
    /// `https://console.example/signin/callback`, registered at the issuer.
    pub redirect_url: String,
    /// Space-separated scopes; `openid` is always asked for.
    pub scopes: String,
}

#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// Where the console's HTTP server listens.
    pub addr: SocketAddr,
    /// The gRPC address of the services (`http://host:50051`).
    pub upstream: String,
    /// The center whose public forms this console serves (the tenant id a
    /// training suggestion goes to).
    pub public_tenant: String,
    /// `Secure` on cookies: on by default; off only for plain-http dev.
    pub cookie_secure: bool,
    /// Key of the CSRF tokens and the sign-in binding (base64, at least 32
    /// bytes). Unset: a random key per process (tokens die on restart).
    pub cookie_key: Option<Vec<u8>>,
    /// Production sign-in; `None` is only valid with the dev sign-in.
    pub oidc: Option<OidcSettings>,
    /// The longest a session lives, whatever the token says.
    pub session_hours: u64,
    /// The proxies in front of the console (an ingress) whose
    /// `X-Forwarded-For` names the visitor. The console passes the
    /// visitor's address on to the services, which believe it from the
    /// console (their `MARKAZ_TRUSTED_PROXIES`): a public form's limits
    /// then count visitors, not the console.
    pub trusted_proxies: TrustedProxies,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            addr: "127.0.0.1:8080".parse().expect("literal address"),
            upstream: "http://127.0.0.1:50051".into(),
            public_tenant: String::new(),
            cookie_secure: true,
            cookie_key: None,
            oidc: None,
            session_hours: 12,
            trusted_proxies: TrustedProxies::loopback(),
        }
    }
}

/// The variables read, as `markaz config --env` lists them.
pub const ENV_VARS: &[(&str, &str)] = &[
    (
        "MARKAZ_CONSOLE_ADDR",
        "console HTTP address (default 127.0.0.1:8080)",
    ),
    (
        "MARKAZ_CONSOLE_UPSTREAM",
        "gRPC address of the services, http://host:port",
    ),
    (
        "MARKAZ_CONSOLE_TENANT",
        "the center (tenant id) of the public pages",
    ),
    (
        "MARKAZ_CONSOLE_COOKIE_SECURE",
        "true (default) or false for plain-http dev",
    ),
    (
        "MARKAZ_CONSOLE_COOKIE_KEY",
        "base64 key, >= 32 bytes, for CSRF tokens",
    ),
    (
        "MARKAZ_CONSOLE_OIDC_DISCOVERY_URL",
        "issuer's .well-known/openid-configuration",
    ),
    (
        "MARKAZ_CONSOLE_OIDC_AUTHORIZE_URL",
        "authorization endpoint (else discovered)",
    ),
    (
        "MARKAZ_CONSOLE_OIDC_TOKEN_URL",
        "token endpoint (else discovered)",
    ),
    (
        "MARKAZ_CONSOLE_OIDC_JWKS_URL",
        "issuer's JWKS (else discovered)",
    ),
    ("MARKAZ_CONSOLE_OIDC_CLIENT_ID", "the console's client id"),
    (
        "MARKAZ_CONSOLE_OIDC_CLIENT_SECRET",
        "confidential clients only",
    ),
    (
        "MARKAZ_CONSOLE_OIDC_REDIRECT_URL",
        "https://console.example/signin/callback",
    ),
    ("MARKAZ_CONSOLE_OIDC_SCOPES", "extra scopes besides openid"),
    (
        "MARKAZ_CONSOLE_SESSION_HOURS",
        "longest session, hours (default 12)",
    ),
    (
        "MARKAZ_CONSOLE_TRUSTED_PROXIES",
        "networks of the proxies in front (default loopback; empty: none)",
    ),
];

impl ConsoleConfig {
    /// Defaults overridden by the environment.
    pub fn from_env() -> Result<ConsoleConfig, String> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// [`ConsoleConfig::from_env`] with the variables passed in (tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<ConsoleConfig, String> {
        let get = |k: &str| {
            var(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut c = ConsoleConfig::default();
        let mut problems = Vec::new();
        if let Some(v) = get("MARKAZ_CONSOLE_ADDR") {
            match v.parse() {
                Ok(a) => c.addr = a,
                Err(e) => problems.push(format!("MARKAZ_CONSOLE_ADDR={v:?}: {e}")),
            }
        }
        if let Some(v) = get("MARKAZ_CONSOLE_UPSTREAM") {
            c.upstream = v;
        }
        if !(c.upstream.starts_with("http://") || c.upstream.starts_with("https://")) {
            problems.push("MARKAZ_CONSOLE_UPSTREAM must start with http:// or https://".into());
        }
        if let Some(v) = get("MARKAZ_CONSOLE_TENANT") {
            c.public_tenant = v;
        }
        if let Some(v) = get("MARKAZ_CONSOLE_COOKIE_SECURE") {
            match v.as_str() {
                "true" | "1" => c.cookie_secure = true,
                "false" | "0" => c.cookie_secure = false,
                _ => problems.push("MARKAZ_CONSOLE_COOKIE_SECURE must be true or false".into()),
            }
        }
        if let Some(v) = get("MARKAZ_CONSOLE_COOKIE_KEY") {
            use base64::Engine;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(&v)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&v));
            match decoded {
                Ok(key) if key.len() >= 32 => c.cookie_key = Some(key),
                _ => problems
                    .push("MARKAZ_CONSOLE_COOKIE_KEY must be base64 of 32 bytes or more".into()),
            }
        }
        if let Some(v) = get("MARKAZ_CONSOLE_SESSION_HOURS") {
            match v.parse::<u64>() {
                Ok(h) if h > 0 => c.session_hours = h,
                _ => problems.push("MARKAZ_CONSOLE_SESSION_HOURS must be a positive number".into()),
            }
        }
        // Set but empty is meaningful: trust no proxy.
        if let Some(v) = var("MARKAZ_CONSOLE_TRUSTED_PROXIES") {
            match v.parse() {
                Ok(t) => c.trusted_proxies = t,
                Err(e) => problems.push(format!("MARKAZ_CONSOLE_TRUSTED_PROXIES: {e}")),
            }
        }
        let client_id = get("MARKAZ_CONSOLE_OIDC_CLIENT_ID");
        if let Some(client_id) = client_id {
            let oidc = OidcSettings {
                discovery_url: get("MARKAZ_CONSOLE_OIDC_DISCOVERY_URL"),
                authorize_url: get("MARKAZ_CONSOLE_OIDC_AUTHORIZE_URL"),
                token_url: get("MARKAZ_CONSOLE_OIDC_TOKEN_URL"),
                jwks_url: get("MARKAZ_CONSOLE_OIDC_JWKS_URL"),
                client_id,
                client_secret: get("MARKAZ_CONSOLE_OIDC_CLIENT_SECRET"),
                redirect_url: get("MARKAZ_CONSOLE_OIDC_REDIRECT_URL").unwrap_or_default(),
                scopes: get("MARKAZ_CONSOLE_OIDC_SCOPES").unwrap_or_default(),
            };
            if oidc.redirect_url.is_empty() {
                problems
                    .push("MARKAZ_CONSOLE_OIDC_REDIRECT_URL is required with a client id".into());
            }
            if oidc.discovery_url.is_none()
                && (oidc.authorize_url.is_none() || oidc.token_url.is_none())
            {
                problems.push(
                    "set MARKAZ_CONSOLE_OIDC_DISCOVERY_URL, or both MARKAZ_CONSOLE_OIDC_AUTHORIZE_URL and MARKAZ_CONSOLE_OIDC_TOKEN_URL"
                        .into(),
                );
            }
            c.oidc = Some(oidc);
        }
        if problems.is_empty() {
            Ok(c)
        } else {
            Err(format!("console configuration: {}", problems.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<ConsoleConfig, String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ConsoleConfig::from_vars(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_then_variables() {
        let c = load(&[]).unwrap();
        assert_eq!(c.addr.to_string(), "127.0.0.1:8080");
        assert!(c.cookie_secure && c.oidc.is_none());
        let c = load(&[
            ("MARKAZ_CONSOLE_ADDR", "0.0.0.0:9000"),
            ("MARKAZ_CONSOLE_UPSTREAM", "http://markaz:50051"),
            ("MARKAZ_CONSOLE_COOKIE_SECURE", "false"),
            ("MARKAZ_CONSOLE_OIDC_CLIENT_ID", "console"),
            (
                "MARKAZ_CONSOLE_OIDC_DISCOVERY_URL",
                "https://id.example/.well-known/openid-configuration",
            ),
            (
                "MARKAZ_CONSOLE_OIDC_REDIRECT_URL",
                "https://console.example/signin/callback",
            ),
        ])
        .unwrap();
        assert_eq!(c.addr.port(), 9000);
        assert!(!c.cookie_secure);
        assert_eq!(c.oidc.unwrap().client_id, "console");
    }

    #[test]
    fn every_bad_setting_is_named_at_once() {
        let e = load(&[
            ("MARKAZ_CONSOLE_ADDR", "nowhere"),
            ("MARKAZ_CONSOLE_COOKIE_KEY", "c2hvcnQ="),
            ("MARKAZ_CONSOLE_OIDC_CLIENT_ID", "console"),
        ])
        .unwrap_err();
        for named in [
            "MARKAZ_CONSOLE_ADDR",
            "MARKAZ_CONSOLE_COOKIE_KEY",
            "MARKAZ_CONSOLE_OIDC_REDIRECT_URL",
            "MARKAZ_CONSOLE_OIDC_DISCOVERY_URL",
        ] {
            assert!(e.contains(named), "{named} in {e}");
        }
    }
}
