//! Table-driven tests of the trust and permission analyses. Each case is a policy
//! with its context and facts, the findings (id and severity) it must produce, the
//! ids it must not produce above `info`, and the status. A coverage test checks
//! that the cases produce every finding id, and a robustness test feeds truncated
//! and garbled documents, which must give findings and never a panic.

use serde_json::{Value, json};

use super::*;
use permission::{PermCase, allow, bearer, combined_statement_policy, least_privilege_by_hand, perm, perm_cases};

mod duplicates;
mod patterns;
mod permission;
mod properties;
mod public;
mod published;
mod read_role;
mod round_three;
mod work;

const ACCOUNT: &str = "123456789012";
const OTHER_ACCOUNT: &str = "210987654321";
const PROVIDER: &str = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";
const SUB: &str = "token.actions.githubusercontent.com:sub";
const AUD: &str = "token.actions.githubusercontent.com:aud";
const ENV_SUB: &str = "repo:octo-org/yamause:environment:release";
const IMMUTABLE_ENV_SUB: &str = "repo:octo-org@9919/yamause@1296269:environment:release";

const D: &str = "arn:aws:codeartifact:eu-central-1:123456789012:domain/my-company";
const R: &str = "arn:aws:codeartifact:eu-central-1:123456789012:repository/my-company/python-packages";
const P: &str = "arn:aws:codeartifact:eu-central-1:123456789012:package/my-company/python-packages/pypi//yamause";

fn env_ctx() -> TrustContext {
    let mut ctx = TrustContext::new(RepoRef::new("octo-org", "yamause"));
    ctx.account = Some(ACCOUNT.to_owned());
    ctx
}

fn tag_ctx() -> TrustContext {
    TrustContext { environment: None, ..env_ctx() }
}

fn ids_ctx() -> TrustContext {
    TrustContext { repo: RepoRef::parse("octo-org@9919/yamause@1296269").unwrap(), ..env_ctx() }
}

fn target() -> PublishTarget {
    PublishTarget::new("eu-central-1", "my-company", ACCOUNT, "python-packages", "yamause")
}

fn doc(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// The GitHub statement of a trust policy, with `condition`.
fn github(condition: Value) -> Value {
    json!({
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    })
}

fn trust_with(condition: Value) -> String {
    doc(json!([github(condition)]))
}

fn sub_like(sub: &str) -> String {
    trust_with(json!({"StringEquals": {AUD: "sts.amazonaws.com"}, "StringLike": {SUB: sub}}))
}

fn sub_equals(sub: &str) -> String {
    trust_with(json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: sub}}))
}

/// The environment-pinned `StringEquals` statement with another principal.
fn trust_principal(principal: Value) -> String {
    let mut statement = github(json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: ENV_SUB}}));
    statement["Principal"] = principal;
    doc(json!([statement]))
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

struct TrustCase {
    name: &'static str,
    policy: String,
    ctx: TrustContext,
    facts: TrustFacts,
    want: &'static [(&'static str, Severity)],
    /// Ids that must not appear above `info`.
    absent: &'static [&'static str],
    status: Status,
    /// (id, text): some finding of the id must contain the text.
    says: Vec<(&'static str, &'static str)>,
}

fn case(name: &'static str, policy: String, want: &'static [(&'static str, Severity)], status: Status) -> TrustCase {
    TrustCase {
        name,
        policy,
        ctx: env_ctx(),
        facts: TrustFacts::default(),
        want,
        absent: &[],
        status,
        says: Vec::new(),
    }
}

impl TrustCase {
    fn ctx(self, ctx: TrustContext) -> TrustCase {
        TrustCase { ctx, ..self }
    }
    fn facts(self, facts: TrustFacts) -> TrustCase {
        TrustCase { facts, ..self }
    }
    fn absent(self, absent: &'static [&'static str]) -> TrustCase {
        TrustCase { absent, ..self }
    }
    fn says(mut self, id: &'static str, text: &'static str) -> TrustCase {
        self.says.push((id, text));
        self
    }
}

use Severity::*;

/// Ids that must not appear in a passing or merely broad policy.
const BREAKAGE: &[&str] = &["trust.subject-mismatch", "trust.provider", "trust.audience", "trust.name-only-subject"];

/// Every trust case: this table, the pattern analysis (`patterns`) and the
/// policies of public examples (`public`).
fn trust_cases() -> Vec<TrustCase> {
    let mut cases = base_trust_cases();
    cases.extend(patterns::cases());
    cases.extend(public::cases());
    cases.extend(round_three::cases());
    cases.extend(published::cases());
    cases.extend(read_role::trust_cases());
    cases
}

fn base_trust_cases() -> Vec<TrustCase> {
    [
        base_trust_cases_1(),
        base_trust_cases_2(),
        base_trust_cases_3(),
        base_trust_cases_4(),
        base_trust_cases_5(),
        base_trust_cases_6(),
        base_trust_cases_7(),
        base_trust_cases_8(),
        base_trust_cases_9(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn base_trust_cases_1() -> Vec<TrustCase> {
    vec![
        case(
            "environment-pinned StringEquals policy",
            sub_equals(ENV_SUB),
            &[("trust.ok", Info), ("trust.name-only-subject", Info)],
            Status::Pass,
        )
        .absent(BREAKAGE),
        case(
            "generated policy, environment form",
            recommended_trust_policy(&env_ctx(), ACCOUNT).to_string(),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .absent(BREAKAGE),
        case(
            "generated policy, tag-push form",
            recommended_trust_policy(&tag_ctx(), ACCOUNT).to_string(),
            &[("trust.ok", Info), ("trust.tag-ruleset", Info)],
            Status::Pass,
        )
        .ctx(tag_ctx())
        .absent(BREAKAGE),
        case(
            "generated policy, immutable form",
            recommended_trust_policy(&ids_ctx(), ACCOUNT).to_string(),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .ctx(ids_ctx())
        .absent(BREAKAGE),
        case(
            "environment-pinned StringEquals policy, immutable form",
            sub_equals(IMMUTABLE_ENV_SUB),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .ctx(ids_ctx())
        .absent(BREAKAGE),
        case(
            "repository-wide StringLike repo:OWNER/REPO:*",
            sub_like("repo:octo-org/yamause:*"),
            &[("trust.broad-subject", High)],
            Status::Warn,
        )
        .absent(&["trust.org-wide", "trust.prefix-wildcard", "trust.any-repository", "trust.subject-mismatch"])
        .says("trust.broad-subject", "repo:octo-org/yamause:pull_request"),
        case(
            "prefix bug after the repository",
            sub_like("repo:octo-org/yamause*"),
            &[("trust.prefix-wildcard", Critical), ("trust.broad-subject", High)],
            Status::Fail,
        )
        .absent(&["trust.org-wide", "trust.any-repository"])
        .says("trust.prefix-wildcard", "yamause-anything"),
        case(
            "prefix bug after the owner",
            sub_like("repo:octo-org*"),
            &[("trust.prefix-wildcard", Critical), ("trust.org-wide", High), ("trust.broad-subject", High)],
            Status::Fail,
        )
        .absent(&["trust.any-repository"])
        .says("trust.prefix-wildcard", "repo:octo-org-evil/yamause"),
        case("repo:*", sub_like("repo:*"), &[("trust.any-repository", Critical)], Status::Fail)
            .absent(&["trust.org-wide", "trust.prefix-wildcard", "trust.broad-subject", "trust.sub-unrestricted"])
            .says("trust.any-repository", "repo:attacker/x:ref:refs/heads/main"),
        case("*", sub_like("*"), &[("trust.any-repository", Critical)], Status::Fail),
        case("repo:*/*", sub_like("repo:*/*"), &[("trust.any-repository", Critical)], Status::Fail),
        case(
            "owner-wide repo:OWNER/*",
            sub_like("repo:octo-org/*"),
            &[("trust.org-wide", High), ("trust.broad-subject", High)],
            Status::Warn,
        )
        .absent(&["trust.prefix-wildcard", "trust.any-repository", "trust.subject-mismatch"]),
    ]
}

fn base_trust_cases_2() -> Vec<TrustCase> {
    vec![
        case(
            "only aud is restricted",
            trust_with(json!({"StringEquals": {AUD: "sts.amazonaws.com"}})),
            &[("trust.sub-unrestricted", Critical)],
            Status::Fail,
        )
        .absent(&["trust.any-repository", "trust.audience"]),
        case(
            "no condition at all",
            doc(json!([{"Effect": "Allow", "Principal": {"Federated": PROVIDER}, "Action": "sts:AssumeRoleWithWebIdentity"}])),
            &[("trust.sub-unrestricted", Critical), ("trust.audience", Medium)],
            Status::Fail,
        ),
        case(
            "StringEquals with a wildcard",
            sub_equals("repo:octo-org/yamause:*"),
            &[("trust.stringequals-wildcard", Error), ("trust.subject-mismatch", Error)],
            Status::Fail,
        )
        .absent(&["trust.broad-subject"]),
        case(
            "ForAllValues on sub",
            trust_with(json!({
                "StringEquals": {AUD: "sts.amazonaws.com"},
                "ForAllValues:StringLike": {SUB: ENV_SUB},
            })),
            &[("trust.set-operator", Critical)],
            Status::Fail,
        )
        .absent(&["trust.subject-mismatch", "trust.sub-unrestricted"]),
        case(
            "ForAnyValue on aud",
            trust_with(json!({"ForAnyValue:StringEquals": {AUD: "sts.amazonaws.com"}, "StringEquals": {SUB: ENV_SUB}})),
            &[("trust.set-operator", Critical)],
            Status::Fail,
        ),
        case("aud missing", trust_with(json!({"StringEquals": {SUB: ENV_SUB}})), &[("trust.audience", Medium)], Status::Warn)
            .absent(&["trust.subject-mismatch"]),
        case(
            "aud is not the requested audience",
            trust_with(json!({"StringEquals": {AUD: "sigstore", SUB: ENV_SUB}})),
            &[("trust.audience", Error)],
            Status::Fail,
        )
        .absent(&["trust.subject-mismatch"])
        .says("trust.audience", "\"sigstore\""),
        case(
            "provider of another account",
            trust_principal(json!({"Federated": env_ctx().provider_arn(OTHER_ACCOUNT)})),
            &[("trust.provider", Error)],
            Status::Fail,
        )
        .absent(&["trust.subject-mismatch"])
        .says("trust.provider", OTHER_ACCOUNT),
        case(
            "provider ARN with https://",
            trust_principal(json!({"Federated": "arn:aws:iam::123456789012:oidc-provider/https://token.actions.githubusercontent.com"})),
            &[("trust.provider", Error)],
            Status::Fail,
        )
        .absent(&["trust.subject-mismatch"])
        .says("trust.provider", "https://"),
        case(
            "enterprise issuer suffix",
            trust_principal(json!({"Federated": format!("{PROVIDER}/octo-ent")})),
            &[("trust.provider", Error)],
            Status::Fail,
        )
        .says("trust.provider", "enterprise issuer"),
    ]
}

fn base_trust_cases_3() -> Vec<TrustCase> {
    vec![
        case(
            "issuer URL instead of the provider ARN",
            trust_principal(json!({"Federated": "token.actions.githubusercontent.com"})),
            &[("trust.provider", Error)],
            Status::Fail,
        ),
        case(
            "no GitHub provider at all",
            trust_principal(json!({"Service": "ec2.amazonaws.com"})),
            &[("trust.provider", Error), ("trust.extra-principal", High)],
            Status::Fail,
        )
        .says("trust.provider", "does not trust GitHub's OIDC provider"),
        case(
            "extra AWS * principal",
            doc(json!([
                github(json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: ENV_SUB}})),
                {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
            ])),
            &[("trust.extra-principal", High)],
            Status::Warn,
        )
        .absent(BREAKAGE),
        case(
            "extra service and account principals",
            doc(json!([
                github(json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: ENV_SUB}})),
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com", "AWS": "arn:aws:iam::210987654321:root"}, "Action": "sts:AssumeRole"},
            ])),
            &[("trust.extra-principal", High)],
            Status::Warn,
        )
        .says("trust.extra-principal", "210987654321"),
        case("Principal *", trust_principal(json!("*")), &[("trust.extra-principal", High)], Status::Warn).absent(BREAKAGE),
        case(
            "NotPrincipal with Allow",
            {
                let mut statement = github(json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: ENV_SUB}}));
                statement.as_object_mut().unwrap().remove("Principal");
                statement["NotPrincipal"] = json!({"AWS": "arn:aws:iam::123456789012:root"});
                doc(json!([statement]))
            },
            &[("trust.extra-principal", High)],
            Status::Warn,
        )
        .absent(BREAKAGE),
        case(
            "Action sts:*",
            {
                let mut statement = github(json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: ENV_SUB}}));
                statement["Action"] = json!("sts:*");
                doc(json!([statement]))
            },
            &[("trust.extra-principal", High)],
            Status::Warn,
        ),
        case(
            "AssumeRole instead of AssumeRoleWithWebIdentity",
            {
                let mut statement = github(json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: ENV_SUB}}));
                statement["Action"] = json!("sts:AssumeRole");
                doc(json!([statement]))
            },
            &[("trust.action", Error)],
            Status::Fail,
        )
        .absent(&["trust.subject-mismatch"]),
    ]
}

fn base_trust_cases_4() -> Vec<TrustCase> {
    vec![
        case(
            "Statement as an object",
            json!({"Version": "2012-10-17", "Statement": github(json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: ENV_SUB}}))})
                .to_string(),
            &[("trust.ok", Info)],
            Status::Pass,
        ),
        case("URL-encoded document", percent_encode(&sub_equals(ENV_SUB)), &[("trust.ok", Info)], Status::Pass),
        case(
            "malformed JSON",
            "{\"Version\": \"2012-10-17\", \"Statement\": [".to_owned(),
            &[("policy.malformed", Error)],
            Status::Fail,
        ),
        case(
            "a statement IAM would refuse",
            doc(json!([
                github(json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: ENV_SUB}})),
                {"Effect": "Permit", "Action": "sts:AssumeRole"},
            ])),
            &[("policy.malformed", Error)],
            Status::Fail,
        ),
        case(
            "a permission policy passed as the trust policy",
            least_privilege_policy(&target()).to_string(),
            &[("trust.not-a-trust-policy", Error)],
            Status::Fail,
        )
        .says("trust.not-a-trust-policy", "permission policy"),
        case(
            "unknown condition operator",
            trust_with(json!({"StringEquals": {AUD: "sts.amazonaws.com"}, "StringEqualz": {SUB: ENV_SUB}})),
            &[("policy.unknown-operator", Error), ("trust.unknowable-condition", Medium)],
            Status::Fail,
        ),
        case(
            "condition keys in another case",
            trust_with(json!({"StringEquals": {
                "Token.Actions.GitHubUserContent.com:AUD": "sts.amazonaws.com",
                "TOKEN.actions.githubusercontent.com:Sub": ENV_SUB,
            }})),
            &[("trust.ok", Info)],
            Status::Pass,
        ),
        case(
            "sub value in another case",
            sub_equals("repo:Octo-Org/yamause:environment:release"),
            &[("trust.subject-mismatch", Error)],
            Status::Fail,
        )
        .says("trust.subject-mismatch", "letter case"),
        case(
            "StringEqualsIgnoreCase tolerates case",
            trust_with(json!({
                "StringEquals": {AUD: "sts.amazonaws.com"},
                "StringEqualsIgnoreCase": {SUB: "repo:Octo-Org/yamause:environment:release"},
            })),
            &[("trust.ok", Info)],
            Status::Pass,
        ),
        case(
            "immutable repository, name-only policy",
            sub_equals(ENV_SUB),
            &[("trust.name-only-subject", Error)],
            Status::Fail,
        )
        .ctx(ids_ctx())
        .absent(&["trust.subject-mismatch"])
        .says("trust.name-only-subject", IMMUTABLE_ENV_SUB),
    ]
}

fn base_trust_cases_5() -> Vec<TrustCase> {
    vec![
        case(
            "name-only repository with known ids",
            sub_equals(ENV_SUB),
            &[("trust.name-only-subject", Medium)],
            Status::Warn,
        )
        .ctx(ids_ctx())
        .facts(TrustFacts { immutable_subjects: Some(false), ..TrustFacts::default() })
        .says("trust.name-only-subject", "1296269"),
        case(
            "name-only repository, immutable policy",
            sub_equals(IMMUTABLE_ENV_SUB),
            &[("trust.subject-mismatch", Error)],
            Status::Fail,
        )
        .ctx(ids_ctx())
        .facts(TrustFacts { immutable_subjects: Some(false), ..TrustFacts::default() })
        .says("trust.subject-mismatch", "immutable form"),
        case(
            "repository_id pinned next to a name-only sub",
            trust_with(json!({"StringEquals": {
                AUD: "sts.amazonaws.com",
                SUB: ENV_SUB,
                "token.actions.githubusercontent.com:repository_id": "1296269",
            }})),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .ctx(ids_ctx())
        .facts(TrustFacts { immutable_subjects: Some(false), ..TrustFacts::default() })
        .absent(&["trust.name-only-subject"]),
        case(
            "the job has an environment, the policy expects a tag",
            sub_like("repo:octo-org/yamause:ref:refs/tags/v*"),
            &[("trust.subject-mismatch", Error)],
            Status::Fail,
        )
        .says("trust.subject-mismatch", "uses environment \"release\""),
        case(
            "the job has no environment, the policy expects one",
            sub_equals(ENV_SUB),
            &[("trust.subject-mismatch", Error)],
            Status::Fail,
        )
        .ctx(tag_ctx())
        .says("trust.subject-mismatch", "expects environment"),
        // job_workflow_ref names the workflow a job calls, and a job in any
        // repository may call a reusable workflow (GitHub, "Using OpenID Connect with
        // reusable workflows": the token's sub and repository are the caller's), so
        // the workflow alone does not say whose job it is.
        case(
            "job_workflow_ref pinned to release tags, sub free",
            trust_with(json!({
                "StringEquals": {AUD: "sts.amazonaws.com"},
                "StringLike": {"token.actions.githubusercontent.com:job_workflow_ref":
                    "octo-org/yamause/.github/workflows/release.yml@refs/tags/v*"},
            })),
            &[("trust.any-repository", Critical)],
            Status::Fail,
        )
        .ctx(tag_ctx())
        .absent(&["trust.sub-unrestricted"]),
    ]
}

fn base_trust_cases_6() -> Vec<TrustCase> {
    vec![
        case(
            "job_workflow_ref of a known workflow file on a branch",
            trust_with(json!({
                "StringEquals": {AUD: "sts.amazonaws.com"},
                "StringLike": {"token.actions.githubusercontent.com:job_workflow_ref":
                    "octo-org/yamause/.github/workflows/release.yml@refs/heads/*"},
            })),
            &[("trust.subject-mismatch", Error), ("trust.any-repository", Critical)],
            Status::Fail,
        )
        .ctx(TrustContext { workflow: Some(".github/workflows/release.yml".into()), ..tag_ctx() }),
        case(
            "a Deny statement narrows an owner-wide Allow",
            doc(json!([
                github(json!({"StringEquals": {AUD: "sts.amazonaws.com"}, "StringLike": {SUB: "repo:octo-org/*"}})),
                {"Effect": "Deny", "Principal": {"Federated": PROVIDER}, "Action": "sts:AssumeRoleWithWebIdentity",
                 "Condition": {"StringNotEquals": {SUB: ENV_SUB}}},
            ])),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .absent(&["trust.org-wide", "trust.broad-subject"]),
        case(
            "a Deny statement refuses everything",
            doc(json!([
                github(json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: ENV_SUB}})),
                {"Effect": "Deny", "Principal": "*", "Action": "*"},
            ])),
            &[("trust.subject-mismatch", Error)],
            Status::Fail,
        )
        .says("trust.subject-mismatch", "denied explicitly by statement 2"),
        case(
            "claims pin the repository and the environment",
            trust_with(json!({
                "StringEquals": {
                    AUD: "sts.amazonaws.com",
                    "token.actions.githubusercontent.com:repository": "octo-org/yamause",
                    "token.actions.githubusercontent.com:environment": "release",
                },
                "StringLike": {SUB: "repo:*"},
            })),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .absent(&["trust.any-repository", "trust.broad-subject"]),
        case(
            "environment name with a colon",
            sub_equals("repo:octo-org/yamause:environment:prod%3Aeu"),
            &[("trust.colon-in-name", Info), ("trust.ok", Info)],
            Status::Pass,
        )
        .ctx(TrustContext { environment: Some("prod:eu".into()), ..env_ctx() }),
        case("provider missing", sub_equals(ENV_SUB), &[("trust.provider", Error)], Status::Fail)
            .facts(TrustFacts {
                provider: Some(ProviderFacts { exists: false, client_ids: vec![] }),
                ..TrustFacts::default()
            })
            .says("trust.provider", "create-open-id-connect-provider"),
    ]
}

fn base_trust_cases_7() -> Vec<TrustCase> {
    let protected = EnvironmentFacts {
        exists: true,
        required_reviewers: 1,
        prevent_self_review: true,
        can_admins_bypass: false,
        deployment: DeploymentPolicy::Custom(vec![RefRule { pattern: "v*".into(), kind: RefKind::Tag }]),
    };
    let with_env = |env: EnvironmentFacts| TrustFacts { environment: Some(env), ..TrustFacts::default() };
    vec![
        case("provider without the audience", sub_equals(ENV_SUB), &[("trust.audience", Error)], Status::Fail)
            .facts(TrustFacts {
                provider: Some(ProviderFacts { exists: true, client_ids: vec!["sigstore".into()] }),
                ..TrustFacts::default()
            })
            .says("trust.audience", "Incorrect token audience"),
        case(
            "aud missing, provider accepts only sts",
            trust_with(json!({"StringEquals": {SUB: ENV_SUB}})),
            &[("trust.audience", Low)],
            Status::Warn,
        )
        .facts(TrustFacts {
            provider: Some(ProviderFacts { exists: true, client_ids: vec!["sts.amazonaws.com".into()] }),
            ..TrustFacts::default()
        }),
        case(
            "environment without protection",
            sub_equals(ENV_SUB),
            &[("trust.environment-protection", High)],
            Status::Warn,
        )
        .facts(with_env(EnvironmentFacts {
            required_reviewers: 0,
            deployment: DeploymentPolicy::Any,
            ..protected.clone()
        }))
        .says("trust.environment-protection", "No restriction"),
        case("environment missing", sub_equals(ENV_SUB), &[("trust.environment-protection", High)], Status::Warn)
            .facts(with_env(EnvironmentFacts { exists: false, ..protected.clone() })),
        case(
            "environment with admin bypass",
            sub_equals(ENV_SUB),
            &[("trust.environment-protection", Medium)],
            Status::Warn,
        )
        .facts(with_env(EnvironmentFacts { can_admins_bypass: true, ..protected.clone() })),
        case(
            "environment for protected branches only",
            sub_equals(ENV_SUB),
            &[("trust.environment-protection", Error)],
            Status::Fail,
        )
        .facts(with_env(EnvironmentFacts { deployment: DeploymentPolicy::ProtectedBranches, ..protected.clone() })),
        case(
            "environment with branch rules",
            sub_equals(ENV_SUB),
            &[("trust.environment-protection", High)],
            Status::Warn,
        )
        .facts(with_env(EnvironmentFacts {
            deployment: DeploymentPolicy::Custom(vec![
                RefRule { pattern: "v*".into(), kind: RefKind::Tag },
                RefRule { pattern: "main".into(), kind: RefKind::Branch },
            ]),
            ..protected.clone()
        })),
    ]
}

fn base_trust_cases_8() -> Vec<TrustCase> {
    let protected = EnvironmentFacts {
        exists: true,
        required_reviewers: 1,
        prevent_self_review: true,
        can_admins_bypass: false,
        deployment: DeploymentPolicy::Custom(vec![RefRule { pattern: "v*".into(), kind: RefKind::Tag }]),
    };
    let with_env = |env: EnvironmentFacts| TrustFacts { environment: Some(env), ..TrustFacts::default() };
    vec![
        case(
            "environment well protected",
            sub_equals(ENV_SUB),
            &[("trust.ok", Info), ("trust.environment-protection.ok", Info)],
            Status::Pass,
        )
        .facts(with_env(protected.clone()))
        .absent(&["trust.environment-protection"])
        .says("trust.environment-protection.ok", "tags \"v*\""),
        case(
            "GitHub facts missing for a reason",
            sub_equals(ENV_SUB),
            &[("trust.environment-protection", Info), ("trust.sub-template", Info)],
            Status::Pass,
        )
        .facts(TrustFacts {
            github_gaps: GithubGaps {
                environment: Some("the token lacks `actions: read`".into()),
                ..GithubGaps::default()
            },
            ..TrustFacts::default()
        })
        .says("trust.environment-protection", "not checked: the token lacks `actions: read`"),
        case(
            "tag push with a tag ruleset, default template",
            recommended_trust_policy(&tag_ctx(), ACCOUNT).to_string(),
            &[("trust.ok", Info), ("trust.tag-ruleset.ok", Info), ("trust.sub-template.ok", Info)],
            Status::Pass,
        )
        .ctx(tag_ctx())
        .facts(TrustFacts {
            tag_ruleset: Some(true),
            sub_template: Some(SubTemplate { use_default: true, include_claim_keys: Vec::new() }),
            ..TrustFacts::default()
        }),
        case("environment job without a tag ruleset", sub_equals(ENV_SUB), &[("trust.tag-ruleset", Low)], Status::Warn)
            .facts(TrustFacts { tag_ruleset: Some(false), ..TrustFacts::default() })
            .says("trust.tag-ruleset", "waits for the reviewers"),
        case(
            "tag push without a tag ruleset",
            recommended_trust_policy(&tag_ctx(), ACCOUNT).to_string(),
            &[("trust.tag-ruleset", Medium)],
            Status::Warn,
        )
        .ctx(tag_ctx())
        .facts(TrustFacts { tag_ruleset: Some(false), ..TrustFacts::default() }),
        case(
            "sub template with the owner only",
            sub_equals("repository_owner:octo-org"),
            &[("trust.sub-template", High), ("trust.org-wide", High), ("trust.broad-subject", High)],
            Status::Warn,
        )
        .facts(TrustFacts {
            sub_template: Some(SubTemplate { use_default: false, include_claim_keys: vec!["repository_owner".into()] }),
            ..TrustFacts::default()
        })
        .absent(BREAKAGE),
    ]
}

fn base_trust_cases_9() -> Vec<TrustCase> {
    vec![
        case(
            "sub template with the workflow",
            sub_equals(
                "repo:octo-org/yamause:environment:release:job_workflow_ref:\
                 octo-org/yamause/.github/workflows/release.yml@refs/tags/v1.0.0",
            ),
            &[("trust.sub-template", Info), ("trust.ok", Info)],
            Status::Pass,
        )
        .ctx(TrustContext { workflow: Some(".github/workflows/release.yml".into()), ..env_ctx() })
        .facts(TrustFacts {
            sub_template: Some(SubTemplate {
                use_default: false,
                include_claim_keys: vec!["repo".into(), "context".into(), "job_workflow_ref".into()],
            }),
            ..TrustFacts::default()
        }),
        case("session longer than the role allows", sub_equals(ENV_SUB), &[("trust.session-duration", Error)], Status::Fail)
            .facts(TrustFacts { max_session_duration: Some(1800), ..TrustFacts::default() }),
        case(
            "two StringEquals blocks in one Condition",
            // As written: the second block replaces the first in any JSON reader.
            format!(
                r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"Federated": "{PROVIDER}"}},
                "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {{
                "StringEquals": {{"{AUD}": "sts.amazonaws.com"}}, "StringEquals": {{"{SUB}": "{ENV_SUB}"}}}}}}]}}"#
            ),
            &[("trust.duplicate-key", Error)],
            Status::Fail,
        )
        // The other checks read the two blocks merged: aud is pinned.
        .absent(&["trust.audience", "trust.subject-mismatch"])
        .says("trust.duplicate-key", "Statement[0].Condition"),
        case(
            "two Action keys in the GitHub statement",
            format!(
                r#"{{"Statement": {{"Effect": "Allow", "Principal": {{"Federated": "{PROVIDER}"}}, "Action": "sts:TagSession",
                "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {{"StringEquals": {{"{AUD}": "sts.amazonaws.com",
                "{SUB}": "{ENV_SUB}"}}}}}}}}"#
            ),
            &[("trust.duplicate-key", Error)],
            Status::Fail,
        )
        .says("trust.duplicate-key", r#"["sts:TagSession","sts:AssumeRoleWithWebIdentity"]"#),
    ]
}

#[test]
fn trust_policies_are_judged_by_simulation() {
    let cases = trust_cases();
    assert!(cases.len() >= 40, "{} trust cases", cases.len());
    // Every case is judged, and the failures are listed together.
    let failed: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let findings = analyse_trust(&case.policy, &case.ctx, &case.facts);
            let judged = std::panic::catch_unwind(|| {
                judge(case.name, &findings, case.want, case.absent, case.status, &case.says)
            });
            judged.err().map(|it| it.downcast_ref::<String>().cloned().unwrap_or_else(|| case.name.to_owned()))
        })
        .collect();
    assert!(failed.is_empty(), "{} trust case(s) failed:\n\n{}", failed.len(), failed.join("\n\n"));
}

/// A case's findings against what it expects: the findings it wants (id and
/// severity), the ids it must not have above `info`, the status, and texts that
/// findings of an id must contain.
fn judge(
    name: &str,
    findings: &[Finding],
    want: &[(&str, Severity)],
    absent: &[&str],
    expected: Status,
    says: &[(&str, &str)],
) {
    let shown = render_text(findings);
    for (id, severity) in want {
        assert!(
            findings.iter().any(|it| it.id == *id && it.severity == *severity),
            "{name}: expected {id} ({severity}) in\n{shown}"
        );
    }
    for id in absent {
        assert!(!findings.iter().any(|it| it.id == *id && it.severity > Info), "{name}: unexpected {id} in\n{shown}");
    }
    assert_eq!(status(findings), expected, "{name}:\n{shown}");
    for (id, text) in says {
        assert!(
            findings.iter().any(|it| it.id == *id && it.message.contains(text)),
            "{name}: no {id} saying {text:?} in\n{shown}"
        );
    }
}

/// Every finding id the module can produce.
const ALL_IDS: &[&str] = &[
    "policy.malformed",
    "policy.unknown-operator",
    "trust.not-a-trust-policy",
    "trust.sub-unrestricted",
    "trust.any-repository",
    "trust.org-wide",
    "trust.prefix-wildcard",
    "trust.broad-subject",
    "trust.stringequals-wildcard",
    "trust.set-operator",
    "trust.subject-mismatch",
    "trust.environment-protection",
    "trust.tag-ruleset",
    "trust.audience",
    "trust.provider",
    "trust.extra-principal",
    "trust.action",
    "trust.sub-template",
    "trust.name-only-subject",
    "trust.colon-in-name",
    "trust.session-duration",
    "trust.ok",
    "trust.duplicate-key",
    "trust.environment-protection.ok",
    "trust.tag-ruleset.ok",
    "trust.sub-template.ok",
    "trust.wildcard-boundary",
    "trust.unproven",
    "trust.foreign-repository",
    "trust.unknowable-condition",
    "trust.not-applicable",
    "policy.too-large",
    "perm.not-a-permission-policy",
    "perm.get-authorization-token",
    "perm.service-bearer-token",
    "perm.bearer-token-condition",
    "perm.token-duration",
    "perm.get-repository-endpoint",
    "perm.publish",
    "perm.publish-resource",
    "perm.too-broad",
    "perm.dangerous-action",
    "perm.read-from-repository",
    "perm.read-role-can-write",
    "perm.safe-rerun",
    "perm.cross-account",
    "perm.origin-blocked",
    "perm.simulation",
    "perm.duplicate-key",
    "perm.ok",
];

#[test]
fn the_cases_cover_every_finding_id() {
    let mut seen = std::collections::BTreeSet::new();
    for case in trust_cases() {
        seen.extend(analyse_trust(&case.policy, &case.ctx, &case.facts).into_iter().map(|it| it.id));
    }
    for case in perm_cases().into_iter().chain(read_role::perm_cases()) {
        seen.extend(case.analyse().into_iter().map(|it| it.id));
    }
    let missing: Vec<&&str> = ALL_IDS.iter().filter(|it| !seen.contains(**it)).collect();
    assert!(missing.is_empty(), "no case produces {missing:?}");
    let unknown: Vec<&&str> = seen.iter().filter(|it| !ALL_IDS.contains(it)).collect();
    assert!(unknown.is_empty(), "add {unknown:?} to ALL_IDS (and to the report for the lead)");
}

#[test]
fn generated_documents_pass_their_own_analysis() {
    for ctx in [env_ctx(), tag_ctx(), ids_ctx(), TrustContext { account: None, ..env_ctx() }] {
        let policy = recommended_trust_policy(&ctx, ACCOUNT);
        let findings = analyse_trust(&to_pretty_json(&policy), &ctx, &TrustFacts::default());
        assert_eq!(status(&findings), Status::Pass, "{}", render_text(&findings));
    }
    let policy = least_privilege_policy(&target());
    let findings =
        analyse_permissions(&[NamedPolicy::new("p", &to_pretty_json(&policy))], &target(), &PermissionFacts::default());
    assert_eq!(status(&findings), Status::Pass, "{}", render_text(&findings));
    // With private build dependencies the release role's policy is the same (the
    // build-deps job's read role reads the repository, never the release role),
    // and the read role's documents pass the read role's analysis.
    let private = PublishTarget { private_dependencies: true, ..target() };
    assert_eq!(least_privilege_policy(&private), least_privilege_policy(&target()));
    let policy = read_role_policy(&private);
    let policies = [NamedPolicy::new("p", &to_pretty_json(&policy))];
    let findings = analyse_permissions_as(Purpose::Read, &policies, &private, &PermissionFacts::default());
    assert_eq!(status(&findings), Status::Pass, "{}", render_text(&findings));
    for ctx in [env_ctx(), tag_ctx(), ids_ctx()] {
        let read = read_role_context(&ctx, READ_ENVIRONMENT);
        let policy = recommended_trust_policy(&read, ACCOUNT);
        let findings = analyse_trust(&to_pretty_json(&policy), &read, &TrustFacts::default());
        assert_eq!(status(&findings), Status::Pass, "{}", render_text(&findings));
        // Pinned to build-deps: the publish job's token is refused, and the release
        // role's trust policy refuses the build-deps job's.
        let sub = policy["Statement"][0]["Condition"]["StringEquals"][SUB].as_str().unwrap();
        assert!(sub.ends_with(":environment:build-deps"), "{sub}");
        let release = to_pretty_json(&recommended_trust_policy(
            &TrustContext { environment: Some("release".into()), ..ctx },
            ACCOUNT,
        ));
        assert_eq!(status(&analyse_trust(&release, &read, &TrustFacts::default())), Status::Fail);
    }
}

/// China and GovCloud: the generated documents name the partition's ARNs and pass
/// their own analysis, and the analysis asks and answers in that partition too.
#[test]
fn other_partitions_spell_their_own_arns() {
    for (region, partition) in [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")] {
        let ctx = TrustContext { partition: partition.to_owned(), ..env_ctx() };
        let provider = format!("arn:{partition}:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com");
        assert_eq!(
            recommended_trust_policy(&ctx, ACCOUNT)["Statement"][0]["Principal"]["Federated"],
            provider.as_str()
        );
        let tag = TrustContext { environment: None, ..ctx.clone() };
        let ids = TrustContext { repo: ids_ctx().repo, ..ctx.clone() };
        for ctx in [ctx.clone(), tag, ids] {
            let policy = to_pretty_json(&recommended_trust_policy(&ctx, ACCOUNT));
            let findings = analyse_trust(&policy, &ctx, &TrustFacts::default());
            assert_eq!(status(&findings), Status::Pass, "{partition}: {}", render_text(&findings));
        }
        // What the messages suggest is the provider of the partition.
        let elsewhere = doc(json!([{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]));
        let findings = analyse_trust(&elsewhere, &ctx, &TrustFacts::default());
        let missing = findings.iter().find(|it| it.id == "trust.provider" && it.severity == Error).unwrap();
        assert!(missing.message.contains(&provider), "{}", missing.message);

        let target = PublishTarget::new(region, "my-company", ACCOUNT, "python-packages", "yamause");
        let prefix = format!("arn:{partition}:codeartifact:{region}:{ACCOUNT}");
        assert_eq!(target.package_arn(), format!("{prefix}:package/my-company/python-packages/pypi//yamause"));
        for target in [target.clone(), PublishTarget { private_dependencies: true, ..target.clone() }] {
            let policy = to_pretty_json(&least_privilege_policy(&target));
            let findings = analyse_permissions(&[NamedPolicy::new("p", &policy)], &target, &PermissionFacts::default());
            assert_eq!(status(&findings), Status::Pass, "{partition}: {}", render_text(&findings));
        }
        let read = to_pretty_json(&read_role_policy(&target));
        assert!(read.contains(&format!("\"arn:{partition}:codeartifact:{region}:")), "{read}");
        let policies = [NamedPolicy::new("p", &read)];
        let findings = analyse_permissions_as(Purpose::Read, &policies, &target, &PermissionFacts::default());
        assert_eq!(status(&findings), Status::Pass, "{partition}: {}", render_text(&findings));
        // A write in the partition is found; the same in the commercial partition
        // cannot apply there.
        for (arn_partition, found) in [("aws", false), (partition, true)] {
            let mut policy = read_role_policy(&target);
            policy["Statement"]
                .as_array_mut()
                .unwrap()
                .push(json!({"Effect": "Allow", "Action": "codeartifact:PublishPackageVersion",
                       "Resource": format!("arn:{arn_partition}:codeartifact:*")}));
            let policies = [NamedPolicy::new("p", &policy.to_string())];
            let findings = analyse_permissions_as(Purpose::Read, &policies, &target, &PermissionFacts::default());
            let writes = findings.iter().any(|it| it.id == "perm.read-role-can-write");
            assert_eq!(writes, found, "{partition}: {}", render_text(&findings));
        }
        // The probes for broader grants are ARNs of the partition: a grant in the
        // commercial partition cannot apply, one in this partition is found.
        let with = |extra: Value| {
            let mut policy = least_privilege_policy(&target);
            policy["Statement"].as_array_mut().unwrap().push(extra);
            analyse_permissions(&[NamedPolicy::new("p", &policy.to_string())], &target, &PermissionFacts::default())
        };
        for (arn_partition, found) in [("aws", false), (partition, true)] {
            let delete = json!({"Effect": "Allow", "Action": ["codeartifact:DeletePackageVersions",
                "codeartifact:PublishPackageVersion"], "Resource": format!("arn:{arn_partition}:codeartifact:*")});
            let findings = with(delete);
            assert_eq!(findings.iter().any(|it| it.id == "perm.dangerous-action"), found, "{}", render_text(&findings));
            let broad = findings.iter().find(|it| it.id == "perm.too-broad");
            assert_eq!(broad.is_some(), found, "{}", render_text(&findings));
            if let Some(broad) = broad {
                assert!(
                    broad.message.contains(&format!("(such as {prefix}:package/other-domain/")),
                    "{}",
                    broad.message
                );
            }
        }
        // AWS names the role session in the partition in its refusal.
        let role = format!("arn:{partition}:iam::{OTHER_ACCOUNT}:role/release");
        let facts = PermissionFacts { role_arn: Some(role), ..PermissionFacts::default() };
        let policy = doc(json!([bearer()]));
        let findings = analyse_permissions(&[NamedPolicy::new("p", &policy)], &target, &facts);
        let refused = findings.iter().find(|it| it.id == "perm.get-authorization-token").unwrap();
        let session = format!("arn:{partition}:sts::{OTHER_ACCOUNT}:assumed-role/release/SESSION");
        assert!(refused.message.contains(&session), "{}", refused.message);
        let anonymous = analyse_permissions(&[NamedPolicy::new("p", &policy)], &target, &PermissionFacts::default());
        let refused = anonymous.iter().find(|it| it.id == "perm.get-authorization-token").unwrap();
        assert!(refused.message.contains(&format!("arn:{partition}:sts::ACCOUNT:assumed-role/ROLE/SESSION")));
    }
}

#[test]
fn generated_documents_have_the_documented_shape() {
    let trust = recommended_trust_policy(&env_ctx(), ACCOUNT);
    assert_eq!(
        trust,
        json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": PROVIDER},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {AUD: "sts.amazonaws.com", SUB: ENV_SUB}},
        }]})
    );
    let immutable = recommended_trust_policy(&ids_ctx(), ACCOUNT);
    assert_eq!(immutable["Statement"][0]["Condition"]["StringEquals"][SUB], IMMUTABLE_ENV_SUB);
    let tag = recommended_trust_policy(&tag_ctx(), ACCOUNT);
    assert_eq!(tag["Statement"][0]["Condition"]["StringLike"][SUB], "repo:octo-org/yamause:ref:refs/tags/v*");
    assert_eq!(tag["Statement"][0]["Condition"]["StringEquals"][AUD], "sts.amazonaws.com");

    let permission = least_privilege_policy(&target());
    let by_hand: Value = serde_json::from_str(&least_privilege_by_hand()).unwrap();
    assert_eq!(permission, by_hand);
    let settings = crate::settings::Settings {
        region: "eu-central-1".into(),
        domain: "my-company".into(),
        domain_owner: ACCOUNT.into(),
        repository: "python-packages".into(),
        role_arn: None,
        audience: "sts.amazonaws.com".into(),
        token_duration: 0,
        private_dependencies: false,
    };
    let from_settings = PublishTarget::from_settings(&settings, "Yamause");
    assert_eq!(from_settings.package_arn(), settings.package_arn("yamause"));
    assert_eq!(from_settings.domain_arn(), settings.domain_arn());
    assert_eq!(from_settings.repository_arn(), settings.repository_arn());
    assert_eq!(from_settings.token_duration, 0);
}

#[test]
fn pretty_json_keeps_iam_key_order() {
    let text = to_pretty_json(&recommended_trust_policy(&env_ctx(), ACCOUNT));
    let at = |key: &str| text.find(&format!("\"{key}\"")).unwrap_or_else(|| panic!("{key} missing in {text}"));
    assert!(at("Version") < at("Statement"));
    assert!(at("Effect") < at("Principal") && at("Principal") < at("Action") && at("Action") < at("Condition"));
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), recommended_trust_policy(&env_ctx(), ACCOUNT));
    assert!(text.starts_with("{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n"), "{text}");
    assert_eq!(to_pretty_json(&json!({})), "{}\n");
    assert_eq!(to_pretty_json(&json!([])), "[]\n");
}

#[test]
fn subjects_follow_the_context() {
    let none = TrustFacts::default();
    assert_eq!(expected_subject(&env_ctx(), &none), ENV_SUB);
    assert_eq!(expected_subject(&tag_ctx(), &none), "repo:octo-org/yamause:ref:refs/tags/v1.0.0");
    assert_eq!(expected_subject(&ids_ctx(), &none), IMMUTABLE_ENV_SUB);
    let named = TrustFacts { immutable_subjects: Some(false), ..TrustFacts::default() };
    assert_eq!(expected_subject(&ids_ctx(), &named), ENV_SUB);
    let immutable = TrustFacts { immutable_subjects: Some(true), ..TrustFacts::default() };
    assert_eq!(expected_subject(&env_ctx(), &immutable), "repo:octo-org@OWNER_ID/yamause@REPO_ID:environment:release");
    let colon = TrustContext { environment: Some("prod:eu".into()), ..env_ctx() };
    assert_eq!(expected_subject(&colon, &none), "repo:octo-org/yamause:environment:prod%3Aeu");

    let counters = counter_example_subjects(&env_ctx(), &none);
    assert_eq!(counters.len(), 14, "{counters:#?}");
    for want in [
        "repo:attacker/x:ref:refs/heads/main",
        "repo:octo-org-evil/yamause:ref:refs/tags/v1.0.0",
        "repo:octo-org/yamause-evil:ref:refs/tags/v1.0.0",
        "repo:octo-org/other:ref:refs/tags/v1.0.0",
        "repo:octo-org/yamause:pull_request",
        "repo:octo-org/yamause:ref:refs/heads/feature-x",
        "repo:octo-org/yamause:environment:scratch",
        "repo:attacker@66600001/x@66600002:ref:refs/heads/main",
        "repo:octo-org@OWNER_ID/yamause@REPO_ID:pull_request",
    ] {
        assert!(counters.iter().any(|it| it == want), "{want} missing from {counters:#?}");
    }
    assert!(
        counter_example_subjects(&ids_ctx(), &none)
            .contains(&"repo:octo-org@9919/yamause@1296269:pull_request".to_owned())
    );
    // The release repository itself is never a counter-example.
    let other = TrustContext { repo: RepoRef::new("octo-org", "other"), ..env_ctx() };
    let counters = counter_example_subjects(&other, &none);
    assert!(!counters.iter().any(|it| it == "repo:octo-org/other:ref:refs/tags/v1.0.0"), "{counters:#?}");
    assert!(counters.iter().any(|it| it == "repo:octo-org/other2:ref:refs/tags/v1.0.0"), "{counters:#?}");
}

#[test]
fn repositories_parse_with_or_without_ids() {
    let plain = RepoRef::parse(" octo-org/yamause ").unwrap();
    assert_eq!((plain.full_name(), plain.has_ids()), ("octo-org/yamause".to_owned(), false));
    let ids = RepoRef::parse("octo-org@9919/yamause@1296269").unwrap();
    assert_eq!((ids.owner_id.as_deref(), ids.name_id.as_deref()), (Some("9919"), Some("1296269")));
    assert_eq!(ids.to_string(), "octo-org@9919/yamause@1296269");
    assert_eq!(ids.full_name(), "octo-org/yamause");
    for bad in
        ["yamause", "octo-org/", "/yamause", "octo-org@x/yamause@1", "octo-org@1/yamause", "a b/c", "-x/y", "o/.."]
    {
        let err = RepoRef::parse(bad).unwrap_err().to_string();
        assert!(err.contains("OWNER/REPO"), "{bad}: {err}");
    }
}

#[test]
fn package_names_normalize_like_pep_503() {
    for (name, want) in
        [("yamause", "yamause"), ("Yamause", "yamause"), ("yam_ause", "yam-ause"), ("My.__Pkg", "my-pkg")]
    {
        assert_eq!(normalize_package_name(name), want);
    }
}

#[test]
fn status_and_renderings() {
    let info = Finding::new("trust.ok", Info, "fine");
    let low = Finding::new("perm.safe-rerun", Low, "add \"x\"\nsecond line");
    let critical = Finding::new("trust.any-repository", Critical, "bad");
    let error = Finding::new("perm.publish", Error, "broken");
    assert_eq!(status(&[]), Status::Pass);
    assert_eq!(status(std::slice::from_ref(&info)), Status::Pass);
    assert_eq!(status(&[info.clone(), low.clone()]), Status::Warn);
    assert_eq!(status(&[low.clone(), critical.clone()]), Status::Fail);
    assert_eq!(status(std::slice::from_ref(&error)), Status::Fail);

    let findings = vec![critical.clone(), low.clone(), info.clone()];
    let json = render_json(&findings);
    assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), to_json(&findings));
    assert_eq!(
        to_json(&findings),
        json!({"status": "fail", "findings": [
            {"id": "trust.any-repository", "severity": "critical", "message": "bad"},
            {"id": "perm.safe-rerun", "severity": "low", "message": "add \"x\"\nsecond line"},
            {"id": "trust.ok", "severity": "info", "message": "fine"},
        ]})
    );
    let (status_at, findings_at) = (json.find("\"status\"").unwrap(), json.find("\"findings\"").unwrap());
    assert!(status_at < findings_at, "{json}");
    let (id_at, severity_at, message_at) =
        (json.find("\"id\"").unwrap(), json.find("\"severity\"").unwrap(), json.find("\"message\"").unwrap());
    assert!(id_at < severity_at && severity_at < message_at, "{json}");
    assert_eq!(serde_json::from_str::<Value>(&render_json(&[])).unwrap(), json!({"status": "pass", "findings": []}));

    let text = render_text(&findings);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "FAIL trust.any-repository (critical): bad");
    assert_eq!(lines[1], "WARN perm.safe-rerun (low): add \"x\"");
    assert_eq!(lines[2], "    second line");
    // A passed check (`.ok`) reads PASS.
    assert_eq!(lines[3], "PASS trust.ok (info): fine");
    assert!(lines[4].starts_with("Status: fail."), "{text}");
    assert!(render_text(&[low]).trim_end().ends_with("should be fixed."));
    assert!(render_text(&[info]).contains("Status: pass."));
}

#[test]
fn findings_come_most_severe_first() {
    let findings = analyse_trust(&sub_like("repo:octo-org*"), &env_ctx(), &TrustFacts::default());
    let severities: Vec<Severity> = findings.iter().map(|it| it.severity).collect();
    let mut sorted = severities.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(severities, sorted);
    assert_eq!(findings[0].severity, Critical);
}

/// A tiny deterministic generator, so the garbling is the same on every run.
fn lcg(seed: &mut u64) -> usize {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (*seed >> 33) as usize
}

#[test]
fn truncated_and_garbled_documents_never_panic() {
    let documents = [
        sub_equals(ENV_SUB),
        sub_like("repo:octo-org/*"),
        recommended_trust_policy(&ids_ctx(), ACCOUNT).to_string(),
        percent_encode(&sub_equals(ENV_SUB)),
        least_privilege_policy(&target()).to_string(),
        combined_statement_policy(),
        trust_with(
            json!({"ForAllValues:StringLike": {SUB: "*"}, "Null": {AUD: "false"}, "NumericLessThan": {"x": "y"}}),
        ),
        // Repeated keys at every level, for the reader that reports them.
        format!(
            r#"{{"Version": "1", "Version": "2", "Statement": [{{"Effect": "Allow", "Effect": "Deny",
            "Principal": {{"Federated": "{PROVIDER}", "Federated": ["x", "{PROVIDER}"]}}, "Action": "sts:*",
            "Action": ["sts:AssumeRoleWithWebIdentity"], "Condition": {{"StringLike": {{"{SUB}": "repo:*"}},
            "StringLike": {{"{SUB}": ["{ENV_SUB}"], "{AUD}": 1}}}}}}]}}"#
        ),
    ];
    let noise = ["", "{", "}", "[", "]", "\"", ":", ",", "*", "?", "%", "%7B", "null", "1e999", "\\u0000", "é", "${*}"];
    let trust_ctx = env_ctx();
    let perm_target = target();
    let check = |text: &str| {
        let findings = analyse_trust(text, &trust_ctx, &TrustFacts::default());
        assert!(!findings.is_empty(), "{text:?}");
        let findings = analyse_permissions(&[NamedPolicy::new("p", text)], &perm_target, &PermissionFacts::default());
        assert!(!findings.is_empty(), "{text:?}");
    };
    let mut seed = 7u64;
    for text in &documents {
        let boundaries: Vec<usize> = (0..=text.len()).filter(|it| text.is_char_boundary(*it)).collect();
        for end in boundaries.iter().step_by(7) {
            check(&text[..*end]);
        }
        for _ in 0..60 {
            let mut garbled = text.clone();
            for _ in 0..1 + lcg(&mut seed) % 4 {
                let at = boundaries[lcg(&mut seed) % boundaries.len()].min(garbled.len());
                let at = (0..=at).rev().find(|it| garbled.is_char_boundary(*it)).unwrap_or(0);
                garbled.insert_str(at, noise[lcg(&mut seed) % noise.len()]);
            }
            check(&garbled);
        }
    }
    for odd in [
        "null",
        "0",
        "[]",
        "{}",
        "{\"Statement\": []}",
        "{\"Statement\": [null, 1, \"x\", []]}",
        "{\"Statement\": {\"Effect\": \"Allow\", \"Action\": \"*\", \"Principal\": {\"Federated\": []}}}",
        "{\"Statement\": {\"Effect\": \"Allow\", \"Action\": \"*\", \"Principal\": {}}}",
        "{\"Statement\": {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\", \"Condition\": {\"StringLike\": {}}}}",
        "%",
        "%%%%",
        "%7B%7D",
        "\u{feff}{}",
    ] {
        check(odd);
    }
}
