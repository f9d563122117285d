//! What tests read from a refused request's status.

use tonic_types::StatusExt;

/// The fields a `BadRequest` detail names, in order.
pub fn field_violations(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.iter().map(|f| f.field.clone()).collect())
        .unwrap_or_default()
}

/// The machine-readable kind of a FAILED_PRECONDITION (its
/// `PreconditionFailure` detail's type), asserting the code.
pub fn precondition(status: &tonic::Status) -> String {
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    status
        .get_details_precondition_failure()
        .and_then(|p| p.violations.first().map(|v| v.r#type.clone()))
        .expect("a PreconditionFailure detail")
}

/// [`precondition`]'s kind with the status's message, for tests that also
/// check the reason given to the caller.
pub fn precondition_message(status: &tonic::Status) -> (String, String) {
    (precondition(status), status.message().to_string())
}

/// The code of a call's outcome (`Ok` when it succeeded).
pub fn code<T>(result: &Result<T, tonic::Status>) -> tonic::Code {
    match result {
        Ok(_) => tonic::Code::Ok,
        Err(s) => s.code(),
    }
}
