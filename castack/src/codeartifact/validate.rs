//! Request validation of the control plane: the checks CodeArtifact makes on the
//! query parameters before it looks anything up, in its order (so the error a
//! client sees first is the one CodeArtifact would give), with its wording. Also
//! the page tokens and durations, which are parsed where they are checked.

use crate::{
    config::{valid_account, valid_domain, valid_repository},
    operation::CodeArtifactOp as Op,
    util::Query,
};

use super::error::ApiError;

/// The package formats CodeArtifact knows; castack serves PyPI only, and answers
/// the others with "not found" as an empty repository would.
const FORMATS: [&str; 8] = ["npm", "pypi", "maven", "nuget", "generic", "ruby", "swift", "cargo"];
/// The status values ListPackageVersions takes.
const STATUSES: [&str; 6] = ["Published", "Unfinished", "Unlisted", "Archived", "Disposed", "Deleted"];
/// The pattern of package, namespace and version names.
const NAME_PATTERN: &str = "Member must satisfy regular expression pattern: [^#/\\s]+";

/// The parameters every operation shares, after validation; empty when the
/// operation has no such parameter.
pub(crate) struct Target {
    pub domain: String,
    pub owner: String,
    pub repository: String,
    pub format: String,
    pub package: String,
    pub version: String,
}

/// Checks `query` for `op` and returns its target; `account` is the domain owner
/// when the query names none.
pub(crate) fn validate(query: &Query, op: Op, account: &str) -> Result<Target, ApiError> {
    let mut target = domain_and_owner(query, account)?;
    if op.has_repository() {
        target.repository = repository(query)?;
    }
    if op == Op::GetRepositoryEndpoint || op.has_package() {
        target.format = format(query)?;
    }
    if op == Op::GetRepositoryEndpoint {
        endpoint_type(query)?;
    }
    if op.has_package() {
        target.package = package(query, &target.format)?;
    }
    if op.has_version() {
        target.version = checked_name(required(query, "version", "packageVersion")?, "packageVersion")?;
    }
    if op == Op::GetAuthorizationToken && query.get("duration").is_some() {
        parse_duration(query)?;
    }
    if op.paginated() {
        paging(query)?;
    }
    if op == Op::ListPackageVersions {
        version_filters(query)?;
    }
    Ok(target)
}

fn domain_and_owner(query: &Query, account: &str) -> Result<Target, ApiError> {
    let domain = required(query, "domain", "domain")?;
    if !valid_domain(domain) {
        return Err(invalid(
            domain,
            "domain",
            "Member must satisfy regular expression pattern: [a-z][a-z0-9\\-]{0,48}[a-z0-9]",
        ));
    }
    let owner = query.get("domain-owner").unwrap_or(account);
    if !valid_account(owner) {
        return Err(invalid(owner, "domainOwner", "Member must satisfy regular expression pattern: [0-9]{12}"));
    }
    Ok(Target {
        domain: domain.to_owned(),
        owner: owner.to_owned(),
        repository: String::new(),
        format: String::new(),
        package: String::new(),
        version: String::new(),
    })
}

fn repository(query: &Query) -> Result<String, ApiError> {
    let repository = required(query, "repository", "repository")?;
    if !valid_repository(repository) {
        return Err(invalid(
            repository,
            "repository",
            "Member must satisfy regular expression pattern: [A-Za-z0-9][A-Za-z0-9._\\-]{1,99}",
        ));
    }
    Ok(repository.to_owned())
}

fn format(query: &Query) -> Result<String, ApiError> {
    let format = required(query, "format", "format")?;
    one_of(format, "format", &FORMATS)?;
    Ok(format.to_owned())
}

fn endpoint_type(query: &Query) -> Result<(), ApiError> {
    match query.get("endpointType") {
        Some(kind) => one_of(kind, "endpointType", &["ipv4", "dualstack"]),
        None => Ok(()),
    }
}

/// The package name, after the namespace, which PyPI packages must not have.
fn package(query: &Query, format: &str) -> Result<String, ApiError> {
    if let Some(namespace) = query.get("namespace") {
        checked_name(namespace, "namespace")?;
        if format == "pypi" {
            return Err(ApiError::validation(
                "FIELD_VALIDATION_FAILED",
                "PyPI packages have no namespace: omit the namespace parameter",
            ));
        }
    }
    checked_name(required(query, "package", "package")?, "package")
}

fn paging(query: &Query) -> Result<(), ApiError> {
    if let Some(max) = query.get("max-results")
        && !max.parse::<u32>().is_ok_and(|it| (1..=1000).contains(&it))
    {
        return Err(invalid(max, "maxResults", "Member must have value between 1 and 1000"));
    }
    if let Some(token) = query.get("next-token") {
        if token.is_empty() || token.len() > 2000 || token.chars().any(char::is_whitespace) {
            return Err(invalid(token, "nextToken", "Member must satisfy regular expression pattern: \\S+"));
        }
        parse_next_token(token)?;
    }
    Ok(())
}

/// The filters of ListPackageVersions, which take fixed values.
fn version_filters(query: &Query) -> Result<(), ApiError> {
    let checks: [(&str, &[&str]); 3] =
        [("status", &STATUSES), ("sortBy", &["PUBLISHED_TIME"]), ("originType", &["INTERNAL", "EXTERNAL", "UNKNOWN"])];
    for (member, allowed) in checks {
        if let Some(value) = query.get(member) {
            one_of(value, member, allowed)?;
        }
    }
    Ok(())
}

fn required<'a>(query: &'a Query, wire: &str, member: &str) -> Result<&'a str, ApiError> {
    query.get(wire).ok_or_else(|| {
        ApiError::validation(
            "FIELD_VALIDATION_FAILED",
            format!(
                "1 validation error detected: Value null at '{member}' failed to satisfy constraint: \
                 Member must not be null"
            ),
        )
    })
}

fn one_of(value: &str, member: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(invalid(value, member, &format!("Member must satisfy enum value set: [{}]", allowed.join(", "))))
}

/// A package, namespace or version name: 1 to 255 characters without `#`, `/` or
/// white space.
fn checked_name(value: &str, member: &str) -> Result<String, ApiError> {
    let valid =
        (1..=255).contains(&value.chars().count()) && !value.chars().any(|c| c == '#' || c == '/' || c.is_whitespace());
    if !valid {
        return Err(invalid(value, member, NAME_PATTERN));
    }
    Ok(value.to_owned())
}

fn invalid(value: &str, member: &str, constraint: &str) -> ApiError {
    let shown: String = value.chars().take(100).collect();
    ApiError::validation(
        "FIELD_VALIDATION_FAILED",
        format!(
            "1 validation error detected: Value '{shown}' at '{member}' failed to satisfy constraint: {constraint}"
        ),
    )
}

/// GetAuthorizationToken's `duration`: 0 (the session's length) or 900 to 43,200
/// seconds.
pub(crate) fn parse_duration(query: &Query) -> Result<u64, ApiError> {
    let raw = query.get("duration").unwrap_or("");
    match raw.parse::<i64>() {
        Ok(0) => Ok(0),
        Ok(it) if (900..=43_200).contains(&it) => Ok(it as u64),
        Ok(_) => Err(invalid(raw, "durationSeconds", "Member must be 0 or between 900 and 43200")),
        Err(_) => Err(ApiError::validation(
            "CANNOT_PARSE",
            format!("durationSeconds must be an integer, not '{}'", raw.chars().take(100).collect::<String>()),
        )),
    }
}

/// The token of the page that starts at `offset` (`castack-<offset>`).
pub(crate) fn page_token(offset: usize) -> String {
    format!("castack-{offset}")
}

/// Page tokens are `castack-<offset>` (`page_token`).
fn parse_next_token(token: &str) -> Result<usize, ApiError> {
    token.strip_prefix("castack-").and_then(|it| it.parse().ok()).ok_or_else(|| {
        ApiError::validation(
            "FIELD_VALIDATION_FAILED",
            "The next token is not valid; pass the nextToken of the previous page",
        )
    })
}

/// The page of `items` that `next-token` and `max-results` ask for, and the token
/// of the next page if there is one.
pub(crate) fn paginate<T>(items: Vec<T>, query: &Query) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start = query.get("next-token").map(parse_next_token).transpose()?.unwrap_or(0);
    let max: usize = query.get("max-results").and_then(|it| it.parse().ok()).unwrap_or(100);
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let next = (start + max < total).then(|| page_token(start + max));
    Ok((page, next))
}
