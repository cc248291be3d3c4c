//! The one entry point of the emulator's server: sends each request to the
//! handler of its kind (control API, the fake GitHub REST API, OIDC token endpoint,
//! PyPI endpoint, STS, or the CodeArtifact control plane), gives every answer a request id, and writes
//! the request log.

use std::time::SystemTime;

use crate::{
    codeartifact, control, github_api,
    github_repo::API_PREFIX,
    http::{self, Request, Response},
    oidc,
    operation::{CodeArtifactOp, Operation},
    proxy,
    state::{Entry, LoggedRequest, State},
    sts, util,
};

pub(crate) fn handle(state: &State, req: Request) -> Response {
    let path = req.path().to_owned();
    // The control API's own requests stay out of the log it serves.
    if path == "/_castack" || path.starts_with("/_castack/") {
        return control::handle(state, &req);
    }
    let method = req.method.clone();
    let (via, connection) = (req.header("via").map(str::to_owned), req.connection);
    let mut entry = Entry::default();
    let response = if path == API_PREFIX || path.starts_with(&format!("{API_PREFIX}/")) {
        entry.operation = Operation::GithubApi;
        github_api::handle(state, &req)
    } else if path.starts_with("/_github/oidc/") {
        entry.operation = Operation::Oidc;
        entry.query = req.query().map(str::to_owned);
        oidc::handle(state, &req)
    } else if path.starts_with("/pypi/") {
        proxy::handle(state, req, &mut entry)
    } else if let Some(call) = CodeArtifactOp::route(&method, &path).is_none().then(|| sts::detect(&req)).flatten() {
        // CodeArtifact routes come first, so no form body or signature can turn one
        // of them into an STS call.
        sts::handle(state, &req, call, &mut entry)
    } else {
        codeartifact::handle(state, &req, &mut entry)
    };
    // Every answer carries a request id, as AWS answers do (pypiserver's too).
    let response = if response.headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("x-amzn-RequestId")) {
        response
    } else {
        response.with_header("x-amzn-RequestId", util::uuid())
    };
    let status = if response.after == http::After::KeepAlive { response.status } else { 0 };
    state.record(LoggedRequest {
        time: SystemTime::now(),
        method,
        path,
        query: entry.query,
        operation: entry.operation,
        status,
        access_key_id: entry.access_key_id,
        user: entry.user,
        file: entry.file,
        via,
        connection,
    });
    response
}
