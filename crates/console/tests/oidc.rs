//! Sign-in with OpenID Connect against a small real issuer: an HTTP server
//! on port 0 with discovery, authorize, token and JWKS endpoints, which
//! checks PKCE (S256) and signs its tokens — the access token with the key
//! the services trust, the ID token (with the nonce) with its own key.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use common::{Browser, TENANT, services};
use markaz_console::config::OidcSettings;
use markaz_console::oidc::Oidc;
use markaz_console::{Console, ConsoleConfig, SignIn};
use markaz_kit::auth::{Role, Signer};
use markaz_kit::testing::spawn;
use ring::signature::{Ed25519KeyPair, KeyPair};

const CLIENT: &str = "markaz-console";
/// The console is a confidential client here: its secret (with characters
/// that must be form-encoded) goes in HTTP Basic to the token endpoint.
const SECRET: &str = "s3cret:with/odd+chars";

/// A sign-in the issuer has authorized and not yet exchanged.
struct Grant {
    challenge: String,
    nonce: String,
    redirect_uri: String,
}

struct Issuer {
    url: String,
    /// Signs access tokens: the services' trusted key.
    services_key: Arc<Signer>,
    auth: markaz_kit::config::AuthConfig,
    /// Signs ID tokens.
    id_key: Ed25519KeyPair,
    grants: Mutex<HashMap<String, Grant>>,
    issued: Mutex<Vec<String>>,
}

type Shared = Arc<Issuer>;

async fn discovery(State(i): State<Shared>) -> Response {
    axum::Json(serde_json::json!({
        "issuer": i.url,
        "authorization_endpoint": format!("{}/authorize", i.url),
        "token_endpoint": format!("{}/token", i.url),
        "jwks_uri": format!("{}/jwks", i.url),
        "code_challenge_methods_supported": ["S256"],
    }))
    .into_response()
}

async fn jwks(State(i): State<Shared>) -> Response {
    let mut keys = vec![serde_json::to_value(i.services_key.public_jwk()).unwrap()];
    keys.push(serde_json::json!({
        "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": "id-key",
        "x": B64.encode(i.id_key.public_key().as_ref()),
    }));
    axum::Json(serde_json::json!({ "keys": keys })).into_response()
}

/// Authorizes at once (the person "signs in" at the issuer) and sends the
/// browser back with a one-time code bound to the PKCE challenge.
async fn authorize(State(i): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let param = |k: &str| q.get(k).cloned().unwrap_or_default();
    if param("response_type") != "code"
        || param("client_id") != CLIENT
        || param("code_challenge_method") != "S256"
        || param("code_challenge").len() != 43
        || !param("scope").split(' ').any(|s| s == "openid")
        || param("state").is_empty()
        || param("nonce").is_empty()
    {
        return (http::StatusCode::BAD_REQUEST, "bad authorization request").into_response();
    }
    let code = markaz_console::session::random_token(16);
    i.grants.lock().unwrap().insert(
        code.clone(),
        Grant {
            challenge: param("code_challenge"),
            nonce: param("nonce"),
            redirect_uri: param("redirect_uri"),
        },
    );
    Redirect::to(&format!(
        "{}?code={code}&state={}",
        param("redirect_uri"),
        param("state")
    ))
    .into_response()
}

async fn token(
    State(i): State<Shared>,
    headers: http::HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    // RFC 6749, 2.3.1: id and secret form-encoded, then Basic.
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            encode(CLIENT),
            encode(SECRET)
        ))
    );
    if headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&basic)
    {
        return (
            http::StatusCode::UNAUTHORIZED,
            r#"{"error":"invalid_client"}"#,
        )
            .into_response();
    }
    let param = |k: &str| f.get(k).cloned().unwrap_or_default();
    let Some(grant) = i.grants.lock().unwrap().remove(&param("code")) else {
        return (
            http::StatusCode::BAD_REQUEST,
            r#"{"error":"invalid_grant"}"#,
        )
            .into_response();
    };
    let verified = markaz_console::oidc::challenge(&param("code_verifier")) == grant.challenge;
    if param("grant_type") != "authorization_code"
        || param("client_id") != CLIENT
        || param("redirect_uri") != grant.redirect_uri
        || !verified
    {
        return (
            http::StatusCode::BAD_REQUEST,
            r#"{"error":"invalid_grant"}"#,
        )
            .into_response();
    }
    let access = i.services_key.sign(&Signer::claims(
        &i.auth,
        "oidc-user",
        TENANT,
        &[Role::Staff],
        None,
        std::time::Duration::from_secs(3600),
    ));
    let now = markaz_kit::time::now_micros() / 1_000_000;
    let header = B64.encode(r#"{"alg":"EdDSA","typ":"JWT","kid":"id-key"}"#);
    let claims = B64.encode(
        serde_json::json!({
            "iss": i.url, "aud": CLIENT, "sub": "oidc-user", "exp": now + 3600,
            "iat": now, "nonce": grant.nonce,
        })
        .to_string(),
    );
    let signed = format!("{header}.{claims}");
    let id_token = format!(
        "{signed}.{}",
        B64.encode(i.id_key.sign(signed.as_bytes()).as_ref())
    );
    i.issued.lock().unwrap().push(access.clone());
    axum::Json(serde_json::json!({
        "access_token": access, "id_token": id_token, "token_type": "Bearer", "expires_in": 3600,
    }))
    .into_response()
}

fn split(url: &str) -> (String, String) {
    let after = url.strip_prefix("http://").expect("http url");
    let (host, path) = after.split_once('/').unwrap_or((after, ""));
    (format!("http://{host}"), format!("/{path}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_with_the_issuer_keeps_the_token_on_the_server() {
    let markaz = spawn(markaz_kit::testing::Backend::Sqlite, services()).await;
    // The tenant the issuer's people work in, registered by the operator.
    markaz.env.register(TENANT);

    // The issuer.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut seed = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed).unwrap();
    let issuer = Arc::new(Issuer {
        url: url.clone(),
        services_key: markaz.env.signer.clone(),
        auth: markaz.env.config.auth.clone(),
        id_key: Ed25519KeyPair::from_seed_unchecked(&seed).unwrap(),
        grants: Mutex::new(HashMap::new()),
        issued: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(issuer.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // The console, registered at the issuer with its callback.
    let console_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", console_listener.local_addr().unwrap());
    let settings = OidcSettings {
        discovery_url: Some(format!("{url}/.well-known/openid-configuration")),
        authorize_url: None,
        token_url: None,
        jwks_url: None,
        client_id: CLIENT.into(),
        client_secret: Some(SECRET.into()),
        redirect_url: format!("{base}/signin/callback"),
        scopes: "profile".into(),
    };
    let oidc = Oidc::discover(&settings, &markaz.env.config.auth)
        .await
        .expect("discovery");
    let console = Console::start(
        ConsoleConfig {
            upstream: format!("http://{}", markaz.app.grpc_addr()),
            cookie_secure: true,
            oidc: Some(settings),
            ..ConsoleConfig::default()
        },
        SignIn::Oidc(Arc::new(oidc)),
        Some(console_listener),
    )
    .await
    .unwrap();

    // A page needs a session: to the sign-in, which goes to the issuer.
    let mut browser = Browser::new(&base);
    let page = browser.get("/today").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location(), "/signin?next=%2Ftoday");
    let start = browser.get(page.location()).await;
    assert_eq!(start.status, 303);
    let to_issuer = start.location().to_string();
    assert!(
        to_issuer.starts_with(&format!("{url}/authorize?")),
        "{to_issuer}"
    );
    for part in [
        "response_type=code",
        "code_challenge_method=S256",
        "scope=openid+profile",
        "client_id=markaz-console",
    ] {
        assert!(to_issuer.contains(part), "{part} in {to_issuer}");
    }
    let login_cookie = browser
        .set_cookie_lines
        .iter()
        .find(|l| l.starts_with("mz_login="))
        .expect("the sign-in is bound to this browser")
        .clone();
    assert!(login_cookie.contains("HttpOnly") && login_cookie.contains("Secure"));

    // At the issuer, and back.
    let (issuer_base, authorize_path) = split(&to_issuer);
    let back = Browser::new(&issuer_base).get(&authorize_path).await;
    assert_eq!(back.status, 303, "{}", back.body);
    let (_, callback) = split(back.location());
    assert!(callback.starts_with("/signin/callback?code="));

    // Someone else's browser cannot finish this sign-in.
    let mut stranger = Browser::new(&base);
    stranger.get("/public").await;
    let stolen = stranger.get(&callback).await;
    assert_eq!(stolen.status, 401, "{}", stolen.body);

    let done = browser.get(&callback).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), "/today");
    let session_cookie = browser
        .set_cookie_lines
        .iter()
        .find(|l| l.starts_with("mz_session="))
        .expect("a session")
        .clone();
    for flag in ["HttpOnly", "Secure", "SameSite=Lax"] {
        assert!(session_cookie.contains(flag), "{flag} in {session_cookie}");
    }
    let today = browser.get("/today").await;
    assert_eq!(today.status, 200, "{}", today.body);
    assert!(
        today.contains("oidc-user"),
        "signed in as the issuer's person"
    );

    // The callback works once.
    assert_eq!(browser.get(&callback).await.status, 401);

    // The token never reached the browser: not in a cookie, not in a page.
    let issued = issuer.issued.lock().unwrap().clone();
    assert_eq!(issued.len(), 1);
    for line in &browser.set_cookie_lines {
        assert!(!line.contains(&issued[0]));
    }
    assert!(!today.contains(&issued[0]));
    assert!(
        !browser
            .cookies
            .values()
            .any(|v| issued[0].contains(v.as_str()) && v.len() > 20)
    );

    // Sign-out ends the session here, whatever the token's lifetime.
    let csrf = today.csrf();
    assert_eq!(
        browser.post("/signout", &[("csrf", &csrf)]).await.status,
        303
    );
    assert_eq!(browser.get("/today").await.status, 303);
    console.shutdown().await;
}
