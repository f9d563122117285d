//! The router of a consumer: one handler per event type it reads, the way
//! an HTTP router has one per path.
//!
//! ```text
//! let handler = Router::new(GrantsEvents::default())
//!     .on::<ev::CourseCompleted>()          // GrantsEvents: On<ev::CourseCompleted>
//!     .on::<ev::CertificateRevoked>();
//! ```
//!
//! A handler is an [`On<E>`] impl on the consumer's state: it receives the
//! event decoded (a payload that does not decode is a malformed event: a
//! dead letter, not a retry) and the transaction of its inbox row. A type
//! the router has no handler for is acknowledged and ignored — a producer
//! may publish events no consumer needs yet. Libraries that handle a whole
//! family of events for their consumers (the copies of membership's data)
//! add theirs with [`Router::route`].

use std::collections::HashMap;

use futures::future::BoxFuture;
use markaz_proto::events::v1::Envelope;

use super::{Handler, payload};
use crate::db::Tx;
use crate::error::Result;

/// What the consumer `S` does with one event of type `E`.
#[tonic::async_trait]
pub trait On<E>: Send + Sync + 'static {
    async fn on(&self, tx: &mut Tx, event: E) -> Result<()>;
}

/// A handler of one event type, taking the decoded event.
pub type Route<S, E> = for<'a> fn(&'a S, &'a mut Tx, E) -> BoxFuture<'a, Result<()>>;

/// A handler of one event type, taking its envelope.
type Dispatch<S> =
    Box<dyn for<'a> Fn(&'a S, &'a mut Tx, &'a Envelope) -> BoxFuture<'a, Result<()>> + Send + Sync>;

/// The handlers of a consumer, by event type.
pub struct Router<S> {
    state: S,
    routes: HashMap<String, Dispatch<S>>,
}

impl<S> std::fmt::Debug for Router<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("routes", &self.routes.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl<S: Send + Sync + 'static> Router<S> {
    pub fn new(state: S) -> Self {
        Router {
            state,
            routes: HashMap::new(),
        }
    }

    /// Events of type `E` go to `S`'s [`On<E>`] handler.
    pub fn on<E>(self) -> Self
    where
        S: On<E>,
        E: prost::Name + Default + Send + 'static,
    {
        fn handle<'a, S: On<E>, E: Send + 'static>(
            state: &'a S,
            tx: &'a mut Tx,
            event: E,
        ) -> BoxFuture<'a, Result<()>> {
            state.on(tx, event)
        }
        self.route::<E>(handle::<S, E>)
    }

    /// Events of type `E` go to `route` (a library's handler, generic over
    /// the consumer's state).
    pub fn route<E>(mut self, route: Route<S, E>) -> Self
    where
        E: prost::Name + Default + Send + 'static,
    {
        let previous = self.routes.insert(
            E::full_name(),
            Box::new(move |state, tx, envelope| match payload::<E>(envelope) {
                Ok(event) => route(state, tx, event),
                Err(e) => Box::pin(async move { Err(e) }),
            }),
        );
        assert!(
            previous.is_none(),
            "two handlers for {}: a router has one per event type",
            E::full_name()
        );
        self
    }

    /// The consumer's state, as the handlers see it.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The event types this router handles.
    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.routes.keys().map(String::as_str)
    }
}

#[tonic::async_trait]
impl<S: Send + Sync + 'static> Handler for Router<S> {
    fn handles(&self, event_type: &str) -> bool {
        self.routes.contains_key(event_type)
    }

    async fn handle(&self, tx: &mut Tx, envelope: &Envelope) -> Result<()> {
        match self.routes.get(&envelope.r#type) {
            Some(dispatch) => dispatch(&self.state, tx, envelope).await,
            None => Ok(()),
        }
    }
}
