//! One closed set of errors for every Markaz service, mapped to gRPC once.
//!
//! Handlers return [`Error`]; the conversion to [`tonic::Status`] below is the
//! only place that decides codes and `google.rpc` details. Nothing from the
//! database ever reaches a caller: an [`Error::Internal`] is logged with a
//! reference and the caller sees only the reference.

use std::fmt;

use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One bad field of a request, reported as a `google.rpc.BadRequest` field
/// violation. `field` is the path in the request, e.g. `organization.name.ar`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed; nothing was written.
    #[error("invalid argument: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// The object does not exist *for this caller*: another tenant's object,
    /// or an object the caller has no right to see, is also "not found".
    #[error("{resource} '{id}' not found")]
    NotFound { resource: &'static str, id: String },
    #[error("{0}")]
    AlreadyExists(String),
    /// The request is well formed but the object's state refuses it, e.g. an
    /// illegal life-cycle transition. `kind` is a short machine-readable code.
    #[error("{description}")]
    FailedPrecondition {
        kind: &'static str,
        subject: String,
        description: String,
    },
    /// Optimistic concurrency lost: the etag sent is not the current one.
    #[error("{0}")]
    Aborted(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    ResourceExhausted(String),
    #[error("{0}")]
    Unavailable(String),
    /// The database failed. The cause stays here for the log and the trace;
    /// the caller sees only a code: UNAVAILABLE when the failure is the
    /// connection's or the server's state (lost, busy, restarting, full —
    /// safe to retry), ABORTED for a serialization failure or deadlock,
    /// INTERNAL otherwise (see [`database_code`]).
    #[error("database, in {module}::{during}: {source}")]
    Database {
        source: sqlx::Error,
        /// The innermost span when it failed — the store function, as they
        /// are instrumented — so the log says which statement failed.
        during: &'static str,
        module: &'static str,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Error::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }

    pub fn not_found(resource: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound {
            resource,
            id: id.into(),
        }
    }

    pub fn precondition(
        kind: &'static str,
        subject: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Error::FailedPrecondition {
            kind,
            subject: subject.into(),
            description: description.into(),
        }
    }

    pub fn stale_etag() -> Self {
        Error::Aborted("the etag is stale: the object changed since it was read".into())
    }

    pub fn permission_denied(why: impl Into<String>) -> Self {
        Error::PermissionDenied(why.into())
    }

    pub fn internal(what: impl fmt::Display) -> Self {
        Error::Internal(what.to_string())
    }

    pub fn code(&self) -> Code {
        match self {
            Error::InvalidArgument(_) => Code::InvalidArgument,
            Error::NotFound { .. } => Code::NotFound,
            Error::AlreadyExists(_) => Code::AlreadyExists,
            Error::FailedPrecondition { .. } => Code::FailedPrecondition,
            Error::Aborted(_) => Code::Aborted,
            Error::PermissionDenied(_) => Code::PermissionDenied,
            Error::Unauthenticated(_) => Code::Unauthenticated,
            Error::ResourceExhausted(_) => Code::ResourceExhausted,
            Error::Unavailable(_) => Code::Unavailable,
            Error::Database { source, .. } => database_code(source),
            Error::Internal(_) => Code::Internal,
        }
    }

    /// Whether the failure is the state of something outside the request —
    /// the database or the bus unreachable, busy or restarting — so the same
    /// request can succeed later unchanged.
    pub fn is_transient(&self) -> bool {
        self.code() == Code::Unavailable
    }
}

/// The gRPC code a database failure answers. Connection-level failures
/// (the socket closed or reset, the pool exhausted, PostgreSQL shutting
/// down or out of connections, SQLite busy, locked, full or unable to read
/// its file) are UNAVAILABLE: the client's retry with the same request_id
/// is safe, and gRPC clients retry UNAVAILABLE by convention.
pub fn database_code(e: &sqlx::Error) -> Code {
    use sqlx::Error as E;
    match e {
        E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => {
            Code::Unavailable
        }
        // The protocol out of step: a connection broken mid-message.
        E::Protocol(_) => Code::Unavailable,
        E::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                postgres_code(pg.code())
            } else if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLite reports its (extended) result code as a number.
                let primary = db
                    .code()
                    .and_then(|c| c.parse::<i32>().ok())
                    .map(|c| c & 0xff);
                match primary {
                    // BUSY, LOCKED, IOERR, FULL, CANTOPEN
                    Some(5 | 6 | 10 | 13 | 14) => Code::Unavailable,
                    _ => Code::Internal,
                }
            } else {
                Code::Internal
            }
        }
        _ => Code::Internal,
    }
}

/// PostgreSQL's SQLSTATE classes (Appendix A of its manual).
fn postgres_code(sqlstate: &str) -> Code {
    match sqlstate {
        // serialization_failure, deadlock_detected: retry the transaction.
        "40001" | "40P01" => Code::Aborted,
        // admin_shutdown, crash_shutdown, cannot_connect_now, and the
        // server going away for a replica promotion or a restart.
        "57P01" | "57P02" | "57P03" | "57P04" | "57P05" => Code::Unavailable,
        // connection_exception (08…), insufficient_resources (53…: disk
        // full, out of memory, too many connections).
        s if s.starts_with("08") || s.starts_with("53") => Code::Unavailable,
        _ => Code::Internal,
    }
}

/// Collects every violation of a request before answering, so the caller
/// learns about all bad fields at once rather than one per round trip.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Records the violation of a parse result and passes its value through.
    pub fn take<T>(&mut self, result: Result<T, FieldViolation>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(v) => {
                self.0.push(v);
                None
            }
        }
    }

    /// Like [`Violations::take`], for parsers that report several at once.
    pub fn take_many<T>(&mut self, result: Result<T, Vec<FieldViolation>>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(v) => {
                self.0.extend(v);
                None
            }
        }
    }

    /// Merges the violations of a parser returning [`Error`]: an
    /// `InvalidArgument` joins these; any other error is kept whole under `field`.
    pub fn absorb<T>(&mut self, field: &str, result: Result<T>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(Error::InvalidArgument(v)) => {
                self.0.extend(v);
                None
            }
            Err(other) => {
                self.add(field, other.to_string());
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was wrong, else one `InvalidArgument` with all.
    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidArgument(self.0))
        }
    }
}

/// Both results, or one error reporting the bad fields of both: a request
/// learns about every bad field at once, e.g. a malformed `request_id` and a
/// bad body together.
pub fn join<A, B>(a: Result<A>, b: Result<B>) -> Result<(A, B)> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(Error::InvalidArgument(mut x)), Err(Error::InvalidArgument(y))) => {
            x.extend(y);
            Err(Error::InvalidArgument(x))
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// Every parse of a request at once: `(a, b, c).all()?` is `(A, B, C)`
/// when each succeeded, else one error — the bad fields of all of them
/// together (an error other than a bad field wins as it is). No parse
/// result is unwrapped later on the promise that it was checked.
///
/// ```
/// # use markaz_kit::error::{AllValid, Error, FieldViolation};
/// let id: Result<u32, FieldViolation> = Err(FieldViolation::new("id", "required"));
/// let name: Result<&str, Error> = Err(Error::invalid("name", "too long"));
/// let Err(Error::InvalidArgument(bad)) = (id, name).all() else { panic!() };
/// assert_eq!(bad.len(), 2);
/// ```
pub trait AllValid {
    type Output;
    fn all(self) -> Result<Self::Output>;
}

/// Adds `e` to what is wrong so far.
fn gather(acc: &mut Option<Error>, e: Error) {
    *acc = Some(match (acc.take(), e) {
        (None, e) => e,
        (Some(Error::InvalidArgument(mut x)), Error::InvalidArgument(y)) => {
            x.extend(y);
            Error::InvalidArgument(x)
        }
        (Some(Error::InvalidArgument(_)), other) => other,
        (Some(first), _) => first,
    });
}

macro_rules! all_valid_for_tuples {
    ($($name:ident $err:ident),+) => {
        impl<$($name, $err: Into<Error>),+> AllValid for ($(std::result::Result<$name, $err>,)+) {
            type Output = ($($name,)+);
            #[allow(non_snake_case)]
            fn all(self) -> Result<Self::Output> {
                let ($($name,)+) = self;
                let mut wrong = None;
                $(
                    let $name = match $name {
                        Ok(v) => Some(v),
                        Err(e) => {
                            gather(&mut wrong, e.into());
                            None
                        }
                    };
                )+
                match ($($name,)+) {
                    ($(Some($name),)+) => Ok(($($name,)+)),
                    // A value is missing only where an error was gathered.
                    _ => Err(wrong.unwrap_or_else(|| Error::internal("a parse failed without saying why"))),
                }
            }
        }
    };
}

all_valid_for_tuples!(A EA);
all_valid_for_tuples!(A EA, B EB);
all_valid_for_tuples!(A EA, B EB, C EC);
all_valid_for_tuples!(A EA, B EB, C EC, D ED);
all_valid_for_tuples!(A EA, B EB, C EC, D ED, E EE);
all_valid_for_tuples!(A EA, B EB, C EC, D ED, E EE, F EF);
all_valid_for_tuples!(A EA, B EB, C EC, D ED, E EE, F EF, G EG);
all_valid_for_tuples!(A EA, B EB, C EC, D ED, E EE, F EF, G EG, H EH);

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(source: sqlx::Error) -> Self {
        let span = tracing::Span::current();
        let (module, during) = span
            .metadata()
            .map(|m| (m.target(), m.name()))
            .unwrap_or(("markaz", "a statement outside any span"));
        Error::Database {
            source,
            during,
            module,
        }
    }
}

impl From<Vec<FieldViolation>> for Error {
    fn from(v: Vec<FieldViolation>) -> Self {
        Error::InvalidArgument(v)
    }
}

impl From<FieldViolation> for Error {
    fn from(v: FieldViolation) -> Self {
        Error::InvalidArgument(vec![v])
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        let code = e.code();
        match e {
            Error::InvalidArgument(violations) => {
                let (message, shown) = bounded(&violations);
                let details = ErrorDetails::with_bad_request(shown);
                tonic::Status::with_error_details(code, message, details)
            }
            Error::NotFound { resource, id } => {
                let details = ErrorDetails::with_resource_info(resource, &id, "", "not found");
                tonic::Status::with_error_details(
                    code,
                    format!("{resource} '{id}' not found"),
                    details,
                )
            }
            Error::FailedPrecondition {
                kind,
                subject,
                description,
            } => {
                let details =
                    ErrorDetails::with_precondition_failure_violation(kind, subject, &description);
                tonic::Status::with_error_details(code, description, details)
            }
            Error::Database {
                source: cause,
                during,
                module,
            } => match code {
                Code::Unavailable => {
                    // Health reports the outage once; one line per refused
                    // request would bury it.
                    tracing::debug!(error = %cause, during, "database unavailable");
                    let message = match cause {
                        sqlx::Error::PoolTimedOut => "the database is busy; retry",
                        _ => "the database is unavailable; retry",
                    };
                    tonic::Status::unavailable(message)
                }
                Code::Aborted => {
                    tracing::debug!(error = %cause, during, "transaction aborted by the database");
                    tonic::Status::aborted("a concurrent change got in the way; retry")
                }
                _ => internal(&format_args!("{cause} (in {module}::{during})")),
            },
            Error::Internal(what) => internal(&what),
            other => tonic::Status::new(code, other.to_string()),
        }
    }
}

/// What of a long list of violations fits in the answer. gRPC sends the
/// message and the details as trailers, and C-core clients (Python, Ruby,
/// C#) refuse trailers over 16 KiB — they would see RESOURCE_EXHAUSTED
/// instead of the bad fields. So the message names the first few and says
/// how many there are, and the details carry the first ones up to
/// [`DETAILS_BUDGET`] bytes, then one more entry saying how many were left
/// out: every answer stays well under 8 KiB, whatever the request.
const DETAILS_BUDGET: usize = 3 * 1024;
const MESSAGE_VIOLATIONS: usize = 3;
/// Longest field path or description kept, in bytes (cut at a character).
const TEXT_MAX: usize = 200;

fn bounded(violations: &[FieldViolation]) -> (String, Vec<tonic_types::FieldViolation>) {
    let cut = |s: &str| -> String {
        if s.len() <= TEXT_MAX {
            return s.to_string();
        }
        let mut end = TEXT_MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    };
    let mut message = format!(
        "invalid request: {}",
        violations
            .iter()
            .take(MESSAGE_VIOLATIONS)
            .map(|v| format!("{}: {}", cut(&v.field), cut(&v.description)))
            .collect::<Vec<_>>()
            .join("; ")
    );
    if violations.len() > MESSAGE_VIOLATIONS {
        message.push_str(&format!(
            "; and {} more (all {} in the details, as far as they fit)",
            violations.len() - MESSAGE_VIOLATIONS,
            violations.len()
        ));
    }
    let mut shown = Vec::new();
    let mut used = 0;
    for v in violations {
        let (field, description) = (cut(&v.field), cut(&v.description));
        used += field.len() + description.len() + 8;
        if used > DETAILS_BUDGET {
            break;
        }
        shown.push(tonic_types::FieldViolation::new(field, description));
    }
    let left = violations.len() - shown.len();
    if left > 0 {
        shown.push(tonic_types::FieldViolation::new(
            "",
            format!(
                "and {left} more violations not listed, of {}",
                violations.len()
            ),
        ));
    }
    (message, shown)
}

/// The caller gets a reference to quote, the log gets the cause — inside
/// the request's span, so the line carries service, method, tenant and trace.
fn internal(cause: &dyn fmt::Display) -> tonic::Status {
    let reference = uuid::Uuid::now_v7().simple().to_string();
    tracing::error!(%reference, error = %cause, "internal error");
    tonic::Status::internal(format!("internal error (reference {reference})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_violations_travel_as_bad_request_details() {
        let mut v = Violations::new();
        v.add("organization.name", "required");
        v.add("organization.kind", "unknown value 42");
        let status: tonic::Status = v.finish().unwrap_err().into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let bad = status
            .get_details_bad_request()
            .expect("bad request details");
        let fields: Vec<_> = bad
            .field_violations
            .iter()
            .map(|f| f.field.as_str())
            .collect();
        assert_eq!(fields, ["organization.name", "organization.kind"]);
    }

    #[test]
    fn joined_results_report_the_bad_fields_of_both() {
        let a: Result<()> = Err(Error::invalid("request_id", "bad"));
        let b: Result<()> = Err(Error::invalid("person.full_name", "required"));
        let Err(Error::InvalidArgument(v)) = join(a, b) else {
            panic!("both reported")
        };
        assert_eq!(v.len(), 2);
        assert!(join(Ok::<_, Error>(1), Ok::<_, Error>(2)).is_ok());
    }

    #[test]
    fn database_errors_never_reach_the_caller() {
        let e: Error = sqlx::Error::ColumnNotFound("SELECT secret FROM t".into()).into();
        let status: tonic::Status = e.into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("SELECT"), "{}", status.message());
    }

    #[test]
    fn a_thousand_bad_fields_still_fit_every_client() {
        let mut v = Violations::new();
        for i in 0..1_000 {
            v.add(
                format!("marks[{i}].status"),
                "required: present, absent, excused or late; ".repeat(3),
            );
        }
        let status: tonic::Status = v.finish().unwrap_err().into();
        let response = status.clone().into_http::<tonic::body::Body>();
        let trailer_bytes: usize = response
            .headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum();
        assert!(
            trailer_bytes < 8 * 1024,
            "{trailer_bytes} bytes of trailers"
        );
        let bad = status.get_details_bad_request().expect("details");
        assert!(bad.field_violations.len() > 10, "the first ones are listed");
        let last = bad.field_violations.last().unwrap();
        assert!(last.description.contains("more"), "{}", last.description);
        assert!(status.message().contains("1000"), "{}", status.message());
    }

    #[test]
    fn a_lost_connection_is_unavailable_not_internal() {
        let eof = std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "expected to read 5 bytes, got 0 bytes at EOF",
        );
        let e: Error = sqlx::Error::Io(eof).into();
        assert!(e.is_transient());
        let status: tonic::Status = e.into();
        assert_eq!(status.code(), Code::Unavailable);
        assert!(!status.message().contains("EOF"), "{}", status.message());
        let e: Error = sqlx::Error::PoolTimedOut.into();
        assert_eq!(tonic::Status::from(e).code(), Code::Unavailable);
        assert_eq!(postgres_code("57P01"), Code::Unavailable);
        assert_eq!(postgres_code("08006"), Code::Unavailable);
        assert_eq!(postgres_code("53300"), Code::Unavailable);
        assert_eq!(postgres_code("40001"), Code::Aborted);
        assert_eq!(postgres_code("23505"), Code::Internal);
    }
}
