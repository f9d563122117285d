//! Pages: the templates, the request context every handler gets, readable
//! error pages, and forms that show the services' field violations next to
//! their fields.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use markaz_kit::auth::Role;
use markaz_proto::capacity::v1::capacity_service_client::CapacityServiceClient;
use markaz_proto::grants::v1::grants_service_client::GrantsServiceClient;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;
use minijinja::{Environment, Value, context};
use serde::Serialize;

use crate::AppState;
use crate::i18n::Lang;
use crate::pages::SECTIONS;
use crate::session::{FormFields, SESSION_COOKIE, Session, Visitor};
use crate::upstream::{self, Authed, Bearer};

/// Every template, compiled into the binary.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../templates/layout.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("signin.html", include_str!("../templates/signin.html")),
    ("today.html", include_str!("../templates/today.html")),
    ("planned.html", include_str!("../templates/planned.html")),
    ("impact.html", include_str!("../templates/impact.html")),
    ("shares.html", include_str!("../templates/shares.html")),
    (
        "networking.html",
        include_str!("../templates/networking.html"),
    ),
    (
        "commitments_table.html",
        include_str!("../templates/commitments_table.html"),
    ),
    (
        "event_form.html",
        include_str!("../templates/event_form.html"),
    ),
    ("event.html", include_str!("../templates/event.html")),
    (
        "event_outcome.html",
        include_str!("../templates/event_outcome.html"),
    ),
    (
        "commitment_carry.html",
        include_str!("../templates/commitment_carry.html"),
    ),
    ("checkin.html", include_str!("../templates/checkin.html")),
    (
        "coworking.html",
        include_str!("../templates/coworking.html"),
    ),
    ("library.html", include_str!("../templates/library.html")),
    (
        "library_usage.html",
        include_str!("../templates/library_usage.html"),
    ),
    (
        "library_suggest.html",
        include_str!("../templates/library_suggest.html"),
    ),
    (
        "public_library.html",
        include_str!("../templates/public_library.html"),
    ),
    (
        "space_form.html",
        include_str!("../templates/space_form.html"),
    ),
    (
        "equipment.html",
        include_str!("../templates/equipment.html"),
    ),
    (
        "equipment_form.html",
        include_str!("../templates/equipment_form.html"),
    ),
    (
        "booking_series.html",
        include_str!("../templates/booking_series.html"),
    ),
    (
        "booking_form.html",
        include_str!("../templates/booking_form.html"),
    ),
    (
        "coalition.html",
        include_str!("../templates/coalition.html"),
    ),
    ("campaign.html", include_str!("../templates/campaign.html")),
    (
        "campaign_outcome.html",
        include_str!("../templates/campaign_outcome.html"),
    ),
    (
        "coalition_form.html",
        include_str!("../templates/coalition_form.html"),
    ),
    (
        "campaign_form.html",
        include_str!("../templates/campaign_form.html"),
    ),
    (
        "item_form.html",
        include_str!("../templates/item_form.html"),
    ),
    ("item.html", include_str!("../templates/item.html")),
    (
        "file_versions.html",
        include_str!("../templates/file_versions.html"),
    ),
    (
        "item_edit.html",
        include_str!("../templates/item_edit.html"),
    ),
    ("orgs.html", include_str!("../templates/orgs.html")),
    ("org_form.html", include_str!("../templates/org_form.html")),
    ("org.html", include_str!("../templates/org.html")),
    (
        "assessment_form.html",
        include_str!("../templates/assessment_form.html"),
    ),
    ("courses.html", include_str!("../templates/courses.html")),
    (
        "course_form.html",
        include_str!("../templates/course_form.html"),
    ),
    ("course.html", include_str!("../templates/course.html")),
    (
        "certificate.html",
        include_str!("../templates/certificate.html"),
    ),
    (
        "consultations.html",
        include_str!("../templates/consultations.html"),
    ),
    (
        "consultation_form.html",
        include_str!("../templates/consultation_form.html"),
    ),
    ("grants.html", include_str!("../templates/grants.html")),
    (
        "call_form.html",
        include_str!("../templates/call_form.html"),
    ),
    ("call.html", include_str!("../templates/call.html")),
    (
        "proposal_form.html",
        include_str!("../templates/proposal_form.html"),
    ),
    ("proposal.html", include_str!("../templates/proposal.html")),
    ("award.html", include_str!("../templates/award.html")),
    ("people.html", include_str!("../templates/people.html")),
    ("person.html", include_str!("../templates/person.html")),
    (
        "erase_confirm.html",
        include_str!("../templates/erase_confirm.html"),
    ),
    ("erasures.html", include_str!("../templates/erasures.html")),
    ("erasure.html", include_str!("../templates/erasure.html")),
    ("tenants.html", include_str!("../templates/tenants.html")),
    ("verify.html", include_str!("../templates/verify.html")),
    ("suggest.html", include_str!("../templates/suggest.html")),
    ("consult.html", include_str!("../templates/consult.html")),
    (
        "consultation_requests.html",
        include_str!("../templates/consultation_requests.html"),
    ),
    ("profile.html", include_str!("../templates/profile.html")),
    (
        "sharing_settings.html",
        include_str!("../templates/sharing_settings.html"),
    ),
];

/// The template environment, built once.
pub fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name}: {e:#}"));
        }
        // `t("key")`: the string of the page's language; a key missing from
        // the catalogue is an error, so a test rendering the page finds it.
        env.add_function(
            "t",
            |state: &minijinja::State, key: &str| -> Result<String, minijinja::Error> {
                let lang = state
                    .lookup("lang")
                    .and_then(|v| v.as_str().and_then(Lang::parse))
                    .unwrap_or(Lang::Ar);
                lang.get(key).map(str::to_string).ok_or_else(|| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::UndefinedError,
                        format!("no string '{key}' in the {} catalogue", lang.code()),
                    )
                })
            },
        );
        // Whether the catalogue has `key` (a notice named in the URL).
        env.add_function("has_t", |key: &str| Lang::Ar.get(key).is_some());
        // `n|digits`: a number in the page's digits (Arabic-Indic in Arabic).
        env.add_filter("digits", |state: &minijinja::State, v: Value| -> String {
            let lang = state
                .lookup("lang")
                .and_then(|v| v.as_str().and_then(Lang::parse))
                .unwrap_or(Lang::Ar);
            lang.digits(&v.to_string())
        });
        env.add_filter("dom_id", |name: &str| {
            name.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect::<String>()
        });
        env
    })
}

/// Static files, compressed once, named by their content so they can be
/// cached for a year.
pub struct Asset {
    pub path: String,
    pub content_type: &'static str,
    pub plain: &'static [u8],
    pub gzipped: Vec<u8>,
}

pub fn assets() -> &'static [Asset] {
    static ASSETS: OnceLock<Vec<Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        let files: [(&str, &str, &'static [u8]); 2] = [
            (
                "console",
                "css",
                include_bytes!("../static/console.css").as_slice(),
            ),
            (
                "htmx-2.0.11",
                "js",
                include_bytes!("../static/htmx-2.0.11.min.js").as_slice(),
            ),
        ];
        files
            .into_iter()
            .map(|(stem, ext, plain)| {
                let digest = ring::digest::digest(&ring::digest::SHA256, plain);
                let hash: String = digest.as_ref()[..4]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                Asset {
                    path: format!("/static/{stem}.{hash}.{ext}"),
                    content_type: if ext == "css" {
                        "text/css; charset=utf-8"
                    } else {
                        "text/javascript; charset=utf-8"
                    },
                    plain,
                    gzipped: crate::http::gzip(plain),
                }
            })
            .collect()
    })
}

fn asset_path(ext: &str) -> String {
    assets()
        .iter()
        .find(|a| a.path.ends_with(ext))
        .map(|a| a.path.clone())
        .unwrap_or_default()
}

/// Why a page was not shown; turned into a readable page by [`error_pages`].
#[derive(Debug, Clone)]
pub enum Fail {
    /// Nobody is signed in (or the token expired): to the sign-in page.
    SignIn,
    /// The page is not offered to the roles the person holds.
    NotOffered,
    NotFound,
    /// A service refused.
    Status {
        code: tonic::Code,
        message: String,
        reasons: Vec<String>,
    },
}

impl From<tonic::Status> for Fail {
    fn from(s: tonic::Status) -> Self {
        let mut reasons = upstream::refusal(&s);
        reasons.extend(
            upstream::field_violations(&s)
                .into_iter()
                .map(|(f, d)| format!("{f}: {d}")),
        );
        Fail::Status {
            code: s.code(),
            message: s.message().to_string(),
            reasons,
        }
    }
}

pub type Answer = Result<Response, Fail>;

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        // Rendered by `error_pages`, which knows the reader's language.
        let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        r.extensions_mut().insert(self);
        r
    }
}

/// Turns a [`Fail`] into the page the reader sees, in their language.
pub async fn error_pages(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let headers = request.headers().clone();
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let mut response = next.run(request).await;
    let Some(fail) = response.extensions_mut().remove::<Fail>() else {
        return response;
    };
    let lang = Lang::of(&headers);
    let (status, title, body, reasons) = match fail {
        Fail::SignIn => return sign_in_redirect(&state, &headers, &path),
        Fail::NotOffered => (
            StatusCode::FORBIDDEN,
            "error_denied_title",
            "error_not_offered",
            vec![],
        ),
        Fail::NotFound => (
            StatusCode::NOT_FOUND,
            "error_not_found_title",
            "error_not_found_body",
            vec![],
        ),
        Fail::Status {
            code,
            message,
            reasons,
        } => match code {
            tonic::Code::Unauthenticated => {
                if let Some(id) = crate::http::cookie(&headers, SESSION_COOKIE) {
                    state.sessions.end(id);
                }
                return sign_in_redirect(&state, &headers, &path);
            }
            tonic::Code::PermissionDenied => (
                StatusCode::FORBIDDEN,
                "error_denied_title",
                "error_denied_body",
                vec![message],
            ),
            tonic::Code::NotFound => (
                StatusCode::NOT_FOUND,
                "error_not_found_title",
                "error_not_found_body",
                vec![],
            ),
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => (
                StatusCode::SERVICE_UNAVAILABLE,
                "error_unavailable_title",
                "error_unavailable_body",
                vec![],
            ),
            tonic::Code::ResourceExhausted => (
                StatusCode::TOO_MANY_REQUESTS,
                "error_busy_title",
                "error_busy_body",
                vec![],
            ),
            tonic::Code::FailedPrecondition
            | tonic::Code::InvalidArgument
            | tonic::Code::AlreadyExists
            | tonic::Code::Aborted => (
                StatusCode::CONFLICT,
                "error_refused_title",
                "error_refused_body",
                reasons,
            ),
            _ => (
                StatusCode::BAD_GATEWAY,
                "error_other_title",
                "error_other_body",
                vec![message],
            ),
        },
    };
    let session =
        crate::http::cookie(&headers, SESSION_COOKIE).and_then(|id| state.sessions.get(id));
    let csrf = crate::session::csrf_subject(&state.sessions, &headers)
        .map(|id| state.sessions.csrf_for(&id))
        .unwrap_or_default();
    let page = context! { title_key => title, body_key => body, reasons => reasons };
    render_page(
        &headers,
        lang,
        session.as_ref(),
        &csrf,
        &path,
        false,
        status,
        "error.html",
        page,
    )
}

fn sign_in_redirect(state: &AppState, headers: &HeaderMap, path: &str) -> Response {
    let _ = state;
    let target = format!(
        "/signin?next={}",
        form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
    );
    redirect_response(headers.contains_key("hx-request"), &target)
}

/// An error page rendered without a session (the CSRF guard's refusal).
pub fn plain_error(lang: Lang, status: StatusCode, title: &str, body: &str) -> Response {
    render_page(
        &HeaderMap::new(),
        lang,
        None,
        "",
        "/",
        false,
        status,
        "error.html",
        context! { title_key => title, body_key => body, reasons => Vec::<String>::new() },
    )
}

/// The navigation a person is offered.
#[derive(Debug, Serialize)]
struct NavItem {
    key: &'static str,
    path: &'static str,
    current: bool,
    planned: bool,
}

#[allow(clippy::too_many_arguments)]
fn render_page(
    headers: &HeaderMap,
    lang: Lang,
    session: Option<&Session>,
    csrf: &str,
    path: &str,
    partial: bool,
    status: StatusCode,
    template: &str,
    page: Value,
) -> Response {
    let roles: Vec<Role> = session.map(|s| s.who.roles.clone()).unwrap_or_default();
    let nav: Vec<NavItem> = if session.is_some() {
        SECTIONS
            .iter()
            .filter(|s| s.offered_to(&roles))
            .map(|s| NavItem {
                key: s.key,
                path: s.path,
                current: s.is_current(path),
                planned: s.planned.is_some(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let who = session.map(|s| {
        context! {
            subject => s.who.subject,
            tenant => s.who.tenant,
            roles => s.who.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            organization => s.who.organization,
            staff => s.who.is_staff(),
        }
    });
    let ctx = context! {
        lang => lang.code(),
        other_lang => lang.other().code(),
        dir => lang.dir(),
        csrf => csrf,
        who => who,
        nav => nav,
        path => path,
        // Our own constant paths: not escaped (`/` would become `&#x2f;`).
        css => Value::from_safe_string(asset_path(".css")),
        js => Value::from_safe_string(asset_path(".js")),
        ..page
    };
    let rendered = templates().get_template(template).and_then(|t| {
        if partial {
            // htmx asked: only the main part goes over the wire.
            t.render_captured_to(&ctx, std::io::sink())?
                .with_state_mut(|state| state.render_block("main"))
        } else {
            t.render(&ctx)
        }
    });
    match rendered {
        Ok(html) => {
            let mut r =
                crate::http::compressed(headers, "text/html; charset=utf-8", html.into_bytes());
            *r.status_mut() = status;
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            tracing::error!(template, error = %format!("{e:#}"), "template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

/// 303 to `target`; for htmx, `HX-Location` so only the main part reloads.
pub fn redirect_response(hx: bool, target: &str) -> Response {
    if hx {
        let mut r = StatusCode::OK.into_response();
        let location = serde_json::json!({"path": target, "target": "#main"}).to_string();
        if let Ok(v) = HeaderValue::from_str(&location) {
            r.headers_mut().insert("hx-location", v);
        }
        r
    } else {
        let mut r = StatusCode::SEE_OTHER.into_response();
        if let Ok(v) = HeaderValue::from_str(target) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        r
    }
}

/// What every handler knows about its request.
pub struct Ctx {
    pub state: Arc<AppState>,
    pub lang: Lang,
    pub session: Option<Session>,
    pub csrf: String,
    /// An htmx request: answer with the page's main part only.
    pub hx: bool,
    pub path: String,
    pub headers: HeaderMap,
    pub query: Vec<(String, String)>,
    /// The fields of a posted form.
    pub fields: FormFields,
    /// The file of a posted multipart form, unread.
    files: crate::session::FileSlot,
    /// The signed-in person's token, for every call made for them.
    bearer: Bearer,
}

impl FromRequestParts<Arc<AppState>> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let session = crate::http::cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|id| state.sessions.get(id));
        // The visitor's address, through the proxies the console trusts.
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded = parts
            .headers
            .get(markaz_kit::rpc::peer::FORWARDED_FOR)
            .and_then(|v| v.to_str().ok());
        let client = state.config.trusted_proxies.client(peer, forwarded);
        let bearer =
            Bearer::new(session.as_ref().map_or("", |s| s.token.as_str())).for_client(client);
        let csrf_id = match &session {
            Some(s) => Some(s.id.clone()),
            None => parts.extensions.get::<Visitor>().map(|v| v.0.clone()),
        };
        Ok(Ctx {
            state: state.clone(),
            lang: Lang::of(&parts.headers),
            csrf: csrf_id
                .map(|id| state.sessions.csrf_for(&id))
                .unwrap_or_default(),
            session,
            hx: parts.headers.contains_key("hx-request")
                && !parts.headers.contains_key("hx-history-restore-request"),
            path: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into()),
            query: parts
                .uri
                .query()
                .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
            fields: parts
                .extensions
                .get::<FormFields>()
                .cloned()
                .unwrap_or_default(),
            files: parts
                .extensions
                .get::<crate::session::FileSlot>()
                .cloned()
                .unwrap_or_default(),
            headers: parts.headers.clone(),
            bearer,
        })
    }
}

impl Ctx {
    /// The signed-in person, if they hold one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<&Session, Fail> {
        let session = self.session.as_ref().ok_or(Fail::SignIn)?;
        if session.who.has_any(roles) {
            Ok(session)
        } else {
            Err(Fail::NotOffered)
        }
    }

    /// The fields of the form a signed-in person holding one of `roles`
    /// posted, and the form to show them again.
    pub fn posted(&self, roles: &[Role]) -> Result<(&FormFields, Form), Fail> {
        self.require(roles)?;
        Ok((&self.fields, Form::posted(&self.fields)))
    }

    /// The organization of a signed-in partner.
    pub fn partner_org(&self) -> Option<String> {
        self.session
            .as_ref()
            .and_then(|s| s.who.partner_scope().map(str::to_string))
    }

    pub fn membership(&self) -> MembershipServiceClient<Authed> {
        self.state.upstream.membership(&self.bearer)
    }

    /// The visitor's calls without their token, for the public pages: the
    /// same for everyone, counted against the visitor's address.
    pub fn anonymous(&self) -> Bearer {
        self.bearer.anonymous()
    }

    pub fn capacity(&self) -> CapacityServiceClient<Authed> {
        self.state.upstream.capacity(&self.bearer)
    }

    pub fn grants(&self) -> GrantsServiceClient<Authed> {
        self.state.upstream.grants(&self.bearer)
    }

    pub fn impact(
        &self,
    ) -> markaz_proto::impact::v1::impact_service_client::ImpactServiceClient<Authed> {
        self.state.upstream.impact(&self.bearer)
    }

    pub fn sharing(
        &self,
    ) -> markaz_proto::donors::v1::sharing_service_client::SharingServiceClient<Authed> {
        self.state.upstream.sharing(&self.bearer)
    }

    /// The platform service of the process behind the upstream: who the
    /// caller is, and an operator's dead letters.
    pub fn platform(
        &self,
    ) -> markaz_proto::platform::v1::platform_service_client::PlatformServiceClient<Authed> {
        self.state.upstream.platform(&self.bearer)
    }

    pub fn networking(
        &self,
    ) -> markaz_proto::networking::v1::networking_service_client::NetworkingServiceClient<Authed>
    {
        self.state.upstream.networking(&self.bearer)
    }

    pub fn resources(
        &self,
    ) -> markaz_proto::resources::v1::resources_service_client::ResourcesServiceClient<Authed> {
        self.state.upstream.resources(&self.bearer)
    }

    /// The file a multipart form posted (once: its bytes are read as they
    /// are passed on).
    pub fn take_file(&self) -> Option<crate::session::FilePart> {
        self.files.take()
    }

    /// Resources' client for an upload: no 30-second deadline, as a file
    /// takes as long as the reader's connection does.
    pub fn resources_streaming(
        &self,
    ) -> markaz_proto::resources::v1::resources_service_client::ResourcesServiceClient<Authed> {
        self.state.upstream.resources_streaming(&self.bearer)
    }

    /// A query parameter ("" when absent).
    pub fn q(&self, name: &str) -> &str {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    pub fn render(&self, template: &str, page: Value) -> Answer {
        Ok(self.render_status(StatusCode::OK, template, page))
    }

    pub fn render_status(&self, status: StatusCode, template: &str, page: Value) -> Response {
        render_page(
            &self.headers,
            self.lang,
            self.session.as_ref(),
            &self.csrf,
            &self.path,
            self.hx,
            status,
            template,
            page,
        )
    }

    /// A page with a form: 422 when the form carries objections, else 200.
    pub fn render_form(&self, template: &str, form: Form, page: Value) -> Answer {
        Ok(self.render_status(form.status(), template, context! { form => form, ..page }))
    }

    /// A list's filters as the query has them, to fill its form again.
    pub fn filters(&self, names: &[&str]) -> Form {
        names
            .iter()
            .fold(Form::default(), |form, name| form.with(name, self.q(name)))
    }

    pub fn redirect(&self, target: &str) -> Answer {
        Ok(redirect_response(self.hx, target))
    }

    /// The end of every write a form makes: done, to the page `done` names
    /// (from the service's answer); refused because of the form (a
    /// `BadRequest`, a refused state change), the form again through
    /// `again`, the objections next to their fields. A denial or an outage
    /// stays a failure and becomes its readable page.
    pub async fn finish<T, Fut>(
        &self,
        mut form: Form,
        answer: Result<tonic::Response<T>, tonic::Status>,
        done: impl FnOnce(T) -> String,
        again: impl FnOnce(Form) -> Fut,
    ) -> Answer
    where
        Fut: std::future::Future<Output = Answer>,
    {
        match form.outcome(answer)? {
            Outcome::Done(answer) => self.redirect(&done(answer)),
            Outcome::Again => again(form).await,
        }
    }
}

/// A form's values and the objections to them, keyed by field name — the
/// request's field path (`organization.name.ar`), so a service's
/// `BadRequest` violation lands next to the input of the same name.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Form {
    pub values: BTreeMap<String, String>,
    pub errors: BTreeMap<String, Vec<String>>,
    /// Every violation, for the summary at the top of the form.
    pub summary: Vec<(String, String)>,
    /// Why a state change was refused (FAILED_PRECONDITION and the like).
    pub refusals: Vec<String>,
    /// A fresh request id for a create, kept across re-renders so a retry
    /// of the same submission is recognized by the service.
    pub request_id: String,
}

impl Form {
    pub fn new() -> Form {
        Form {
            request_id: uuid::Uuid::now_v7().to_string(),
            ..Form::default()
        }
    }

    /// The form as it was posted.
    pub fn posted(fields: &FormFields) -> Form {
        let mut values = BTreeMap::new();
        for (k, v) in &fields.0 {
            if k != "csrf" {
                values.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let request_id = fields.get("request_id").to_string();
        Form {
            values,
            request_id: if request_id.is_empty() {
                uuid::Uuid::now_v7().to_string()
            } else {
                request_id
            },
            ..Form::default()
        }
    }

    pub fn with(mut self, name: &str, value: impl Into<String>) -> Form {
        self.values.insert(name.to_string(), value.into());
        self
    }

    /// A violation the console finds itself (a number that is no number).
    pub fn object(&mut self, field: &str, description: impl Into<String>) {
        let description = description.into();
        self.errors
            .entry(field.to_string())
            .or_default()
            .push(description.clone());
        self.summary.push((field.to_string(), description));
    }

    pub fn has_errors(&self) -> bool {
        !self.summary.is_empty() || !self.refusals.is_empty()
    }

    /// A form shown with objections is 422, a fresh one 200.
    pub fn status(&self) -> StatusCode {
        if self.has_errors() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        }
    }

    /// What a write came to: the service's answer, or [`Outcome::Again`]
    /// with the service's objections taken into this form, to show it
    /// again. A failure that is not about the form (denied, unavailable)
    /// stays a failure.
    pub fn outcome<T>(
        &mut self,
        answer: Result<tonic::Response<T>, tonic::Status>,
    ) -> Result<Outcome<T>, Fail> {
        match answer {
            Ok(done) => Ok(Outcome::Done(done.into_inner())),
            Err(status) => {
                self.absorb(status)?;
                Ok(Outcome::Again)
            }
        }
    }

    /// Takes a service's refusal into the form when it is about the form
    /// (bad fields, a refused state change, a stale etag); other failures
    /// (denied, unavailable) stay failures.
    pub fn absorb(&mut self, status: tonic::Status) -> Result<(), Fail> {
        match status.code() {
            tonic::Code::InvalidArgument => {
                let violations = upstream::field_violations(&status);
                if violations.is_empty() {
                    self.refusals.push(status.message().to_string());
                }
                for (field, description) in violations {
                    self.object(&field, description);
                }
                Ok(())
            }
            tonic::Code::FailedPrecondition
            | tonic::Code::AlreadyExists
            | tonic::Code::Aborted
            | tonic::Code::OutOfRange => {
                self.refusals.extend(upstream::refusal(&status));
                Ok(())
            }
            _ => Err(status.into()),
        }
    }
}

/// What a write came to (see [`Form::outcome`]).
#[derive(Debug)]
pub enum Outcome<T> {
    /// Done; the service answered this.
    Done(T),
    /// Refused because of the form: show it again.
    Again,
}
