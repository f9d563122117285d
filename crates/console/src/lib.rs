//! The staff console: the center's work in a browser, Arabic first, for slow
//! connections.
//!
//! Server-rendered HTML (axum + minijinja), htmx vendored for partial
//! updates (every form works without it), gzip on every page. It is a client
//! like any other: it has no database and no rights of its own, and calls the
//! services only through their public gRPC APIs with the signed-in person's
//! token, so every right, tenant wall and validation rule stays theirs.
//!
//! | module | what it holds |
//! |---|---|
//! | [`config`] | `MARKAZ_CONSOLE_*` settings |
//! | [`session`] | sessions (token server-side), CSRF, the visitor cookie |
//! | [`oidc`] | sign-in: authorization code + PKCE, or the dev sign-in |
//! | [`i18n`] | the catalogues, dates, numbers, money per language |
//! | [`render`] | templates, the request context, error pages, forms |
//! | [`pages`] | the screens |
#![forbid(unsafe_code)]

pub mod config;
pub mod http;
pub mod i18n;
pub mod oidc;
pub mod pages;
pub mod render;
pub mod session;
pub mod upstream;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::ConsoleConfig;
pub use oidc::SignIn;

/// What every handler shares.
pub struct AppState {
    pub config: ConsoleConfig,
    pub sessions: Arc<session::Sessions>,
    pub upstream: upstream::Upstream,
    pub sign_in: SignIn,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("upstream", &self.config.upstream)
            .finish_non_exhaustive()
    }
}

/// The router with every page and the guards around them, and the probes
/// beside them.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/livez", axum::routing::get(probe))
        .route("/readyz", axum::routing::get(probe))
        .merge(pages(state))
}

/// Kubernetes' probes: the console's own HTTP server answers. Outside the
/// session and CSRF layers, so a probe neither gets a visitor cookie nor
/// keeps a session; and never the services' state — with the upstream down
/// the console stays in rotation and shows a readable UNAVAILABLE page,
/// which is better than none.
async fn probe() -> &'static str {
    "ok"
}

fn pages(state: Arc<AppState>) -> Router {
    pages::routes()
        // Inner to outer: errors become pages, POSTs are CSRF-checked, and
        // every visitor has an id for the CSRF token of anonymous forms.
        .layer(from_fn_with_state(state.clone(), render::error_pages))
        .layer(from_fn_with_state(
            state.sessions.clone(),
            session::csrf_guard,
        ))
        .layer(from_fn_with_state(state.sessions.clone(), session::visitor))
        .with_state(state)
}

/// A running console.
pub struct Console {
    addr: SocketAddr,
    stop: CancellationToken,
    done: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console").field("addr", &self.addr).finish()
    }
}

impl Console {
    /// Starts serving on `listener` (tests bind port 0), else `config.addr`.
    pub async fn start(
        config: ConsoleConfig,
        sign_in: SignIn,
        listener: Option<TcpListener>,
    ) -> Result<Console, String> {
        let upstream = upstream::Upstream::new(&config.upstream)?;
        let sessions = session::Sessions::new(config.cookie_key.as_deref(), config.cookie_secure);
        // Fail at start, not on the first page, if a template is broken.
        render::templates();
        render::assets();
        let listener = match listener {
            Some(l) => l,
            None => TcpListener::bind(config.addr)
                .await
                .map_err(|e| format!("console: cannot listen on {}: {e}", config.addr))?,
        };
        let addr = listener.local_addr().map_err(|e| format!("console: {e}"))?;
        let state = Arc::new(AppState {
            config,
            sessions,
            upstream,
            sign_in,
        });
        let app = router(state);
        let stop = CancellationToken::new();
        let stopping = stop.clone();
        let done = tokio::spawn(async move {
            // With each connection's peer, for the visitor's address.
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(stopping.cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "console server failed");
            }
        });
        tracing::info!(%addr, "console serving");
        Ok(Console { addr, stop, done })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.done.await;
    }
}
