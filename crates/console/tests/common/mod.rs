//! A real Markaz (the three services, `kit::testing::spawn`) with the console
//! in front of it on port 0, and a small cookie-keeping HTTP client that
//! drives the console as a browser without JavaScript would.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use markaz_console::oidc::DevSignIn;
use markaz_console::{Console, ConsoleConfig, SignIn};
use markaz_kit::app::Service;
use markaz_kit::testing::{Backend, TestApp, authed, spawn};
use markaz_proto::common::v1 as common;
use markaz_proto::membership::v1 as mem;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;

pub const TENANT: &str = "demo";

pub fn services() -> Vec<Arc<dyn Service>> {
    vec![
        Arc::new(markaz_membership::Membership),
        Arc::new(markaz_capacity::Capacity),
        Arc::new(markaz_grants::Grants),
        Arc::new(markaz_impact::Impact),
        Arc::new(markaz_networking::Networking),
        Arc::new(markaz_resources::Resources::with_files(
            markaz_resources::Files::Local(files_dir()),
        )),
    ]
}

/// The library's files of this test process: a directory of its own.
fn files_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("console-files")
        .join(std::process::id().to_string());
    std::fs::create_dir_all(&dir).expect("files directory");
    dir
}

/// The platform and its console.
pub struct World {
    pub markaz: TestApp,
    pub console: Console,
    pub base: String,
}

impl World {
    /// The services on SQLite, the demo tenant, and the console with the
    /// dev sign-in (tokens signed by this world's key).
    pub async fn start() -> World {
        let markaz = spawn(Backend::Sqlite, services()).await;
        let channel = markaz.channel().await;
        MembershipServiceClient::new(channel)
            .create_tenant(authed(
                mem::CreateTenantRequest {
                    tenant: Some(mem::Tenant {
                        id: TENANT.into(),
                        name: Some(common::LocalizedText {
                            ar: "مركز تجريبي".into(),
                            en: "Demo center".into(),
                        }),
                        identifier_prefix: "DEMO".into(),
                        create_time: None,
                    }),
                },
                &markaz.env.operator_token(),
            ))
            .await
            .expect("tenant created");
        let sign_in = SignIn::Dev(Arc::new(DevSignIn {
            signer: markaz.env.signer.clone(),
            auth: markaz.env.config.auth.clone(),
            tenant: TENANT.into(),
        }));
        let upstream = format!("http://{}", markaz.app.grpc_addr());
        let console = start_console(&upstream, sign_in).await;
        let base = format!("http://{}", console.addr());
        World {
            markaz,
            console,
            base,
        }
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    /// A browser signed in (dev sign-in) as `role`.
    pub async fn signed_in(&self, role: &str, subject: &str, org: Option<&str>) -> Browser {
        let mut b = self.browser();
        b.sign_in(role, subject, org).await;
        b
    }

    /// A token straight from this world's key, for setting up data over gRPC.
    pub fn token(&self, roles: &[markaz_kit::auth::Role], org: Option<&str>) -> String {
        self.markaz.token(TENANT, roles, org)
    }
}

pub async fn start_console(upstream: &str, sign_in: SignIn) -> Console {
    let config = ConsoleConfig {
        upstream: upstream.to_string(),
        cookie_secure: false,
        public_tenant: TENANT.into(),
        ..ConsoleConfig::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    Console::start(config, sign_in, Some(listener))
        .await
        .expect("the console starts")
}

/// One answer of the console.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
    /// Bytes as they crossed the wire (compressed when gzip was asked).
    pub wire_bytes: usize,
    /// The body as it came (a download's bytes).
    pub raw: Vec<u8>,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The CSRF token of the page's first form.
    pub fn csrf(&self) -> String {
        self.attr_after("name=\"csrf\" value=\"")
    }

    /// The request id of the page's first form that has one.
    pub fn request_id(&self) -> String {
        self.attr_after("name=\"request_id\" value=\"")
    }

    pub fn attr_after(&self, marker: &str) -> String {
        self.body
            .split_once(marker)
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(v, _)| unescape(v))
            .unwrap_or_default()
    }

    pub fn contains(&self, text: &str) -> bool {
        self.body.contains(text)
    }
}

/// A browser without JavaScript: cookies, forms, no redirect following.
pub struct Browser {
    base: String,
    pub cookies: BTreeMap<String, String>,
    pub gzip: bool,
    pub set_cookie_lines: Vec<String>,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            base: base.to_string(),
            cookies: BTreeMap::new(),
            gzip: false,
            set_cookie_lines: Vec::new(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send(http::Method::GET, path, None, &[]).await
    }

    pub async fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Page {
        self.send(http::Method::GET, path, None, headers).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter())
            .finish();
        self.send(http::Method::POST, path, Some(body), &[]).await
    }

    /// GETs `form_page`, then POSTs `fields` with that page's CSRF token
    /// (and request id) to `action`.
    pub async fn submit(&mut self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.get(form_page).await;
        assert_eq!(page.status, 200, "{form_page}: {}", page.body);
        let csrf = page.csrf();
        let request_id = page.request_id();
        let mut all: Vec<(&str, &str)> = vec![("csrf", &csrf), ("request_id", &request_id)];
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }

    pub async fn sign_in(&mut self, role: &str, subject: &str, org: Option<&str>) {
        let page = self.get("/signin").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let csrf = page.csrf();
        let answer = self
            .post(
                "/signin",
                &[
                    ("csrf", &csrf),
                    ("role", role),
                    ("subject", subject),
                    ("organization", org.unwrap_or("")),
                    ("next", ""),
                ],
            )
            .await;
        assert_eq!(answer.status, 303, "sign-in as {role}: {}", answer.body);
    }

    pub async fn send(
        &mut self,
        method: http::Method,
        path: &str,
        form: Option<String>,
        extra: &[(&str, &str)],
    ) -> Page {
        let mut headers: Vec<(String, String)> = Vec::new();
        if form.is_some() {
            headers.push((
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
        }
        headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let body = Full::new(Bytes::from(form.unwrap_or_default()));
        self.exchange(method, path, &headers, body).await
    }

    /// POSTs a multipart form as a browser does: `fields` in order, then
    /// the file (`field`, file name, type, content). `chunked`: without a
    /// Content-Length, the body sent in pieces.
    pub async fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &str, &str, &[u8])>,
        chunked: bool,
    ) -> Page {
        let boundary = "----markaz-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        if let Some((name, file_name, content_type, content)) = file {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let headers = vec![(
            "content-type".to_string(),
            format!("multipart/form-data; boundary={boundary}"),
        )];
        if chunked {
            let pieces: Vec<Result<http_body::Frame<Bytes>, std::convert::Infallible>> = body
                .chunks(64 * 1024)
                .map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c))))
                .collect();
            let stream = http_body_util::StreamBody::new(futures::stream::iter(pieces));
            self.exchange(http::Method::POST, path, &headers, stream)
                .await
        } else {
            self.exchange(
                http::Method::POST,
                path,
                &headers,
                Full::new(Bytes::from(body)),
            )
            .await
        }
    }

    async fn exchange<B>(
        &mut self,
        method: http::Method,
        path: &str,
        extra: &[(String, String)],
        body: B,
    ) -> Page
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let url: http::Uri = format!("{}{path}", self.base).parse().expect("url");
        let authority = url.authority().expect("authority").to_string();
        let tcp = tokio::net::TcpStream::connect(&authority)
            .await
            .expect("connects");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        let mut request = http::Request::builder()
            .method(method)
            .uri(url.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
            .header(http::header::HOST, authority);
        if !self.cookies.is_empty() {
            let jar = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            request = request.header(http::header::COOKIE, jar);
        }
        if self.gzip {
            request = request.header(http::header::ACCEPT_ENCODING, "gzip");
        }
        for (k, v) in extra {
            request = request.header(k.as_str(), v.as_str());
        }
        let request = request.body(body).expect("request");
        let response = sender.send_request(request).await.expect("answer");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for line in headers.get_all(http::header::SET_COOKIE) {
            let line = line.to_str().expect("ascii cookie").to_string();
            let pair = line.split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                if line.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
            self.set_cookie_lines.push(line);
        }
        let raw = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let wire_bytes = raw.len();
        let raw_bytes = raw.to_vec();
        let gzipped = headers
            .get(http::header::CONTENT_ENCODING)
            .is_some_and(|v| v == "gzip");
        let body = if gzipped {
            use std::io::Read;
            let mut s = String::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_string(&mut s)
                .expect("gzip");
            s
        } else {
            String::from_utf8_lossy(&raw).into_owned()
        };
        Page {
            status,
            headers,
            body,
            wire_bytes,
            raw: raw_bytes,
        }
    }
}

/// An attribute's value as a browser reads it (the templates escape `/`,
/// `=`, `&`, quotes).
pub fn unescape(v: &str) -> String {
    v.replace("&#x2f;", "/")
        .replace("&#x3d;", "=")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
