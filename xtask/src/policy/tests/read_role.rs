//! The build-deps job's read role: its permission analysis (`Purpose::Read`: the
//! token calls, `ReadFromRepository` on the repository, and no write of any kind)
//! and its trust, pinned to the `build-deps` environment, which needs no reviewers.

use super::*;

/// The read role's statements: bearer token, authorization token, endpoint and
/// ReadFromRepository, with `replace` swapping one of them by index.
fn read_minimal(replace: Option<(usize, Value)>, extra: &[Value]) -> String {
    let mut statements = vec![
        bearer(),
        allow("codeartifact:GetAuthorizationToken", D),
        allow("codeartifact:GetRepositoryEndpoint", R),
        allow("codeartifact:ReadFromRepository", R),
    ];
    if let Some((i, statement)) = replace {
        statements[i] = statement;
    }
    statements.retain(|it| !it.is_null());
    statements.extend(extra.iter().cloned());
    doc(Value::Array(statements))
}

fn read(name: &'static str, policy: String, want: &'static [(&'static str, Severity)], status: Status) -> PermCase {
    perm(name, policy, want, status).purpose(Purpose::Read)
}

const READ_BREAKAGE: &[&str] = &[
    "perm.get-authorization-token",
    "perm.service-bearer-token",
    "perm.get-repository-endpoint",
    "perm.read-from-repository",
    "perm.read-role-can-write",
];

pub(super) fn perm_cases() -> Vec<PermCase> {
    let private = PublishTarget { private_dependencies: true, ..target() };
    vec![
        read("read: generated policy", read_role_policy(&private).to_string(), &[("perm.ok", Info)], Status::Pass)
            .target(private.clone())
            .absent(READ_BREAKAGE)
            .says("perm.ok", "build-deps job")
            .says("perm.ok", "codeartifact:ReadFromRepository on arn:aws:codeartifact:eu-central-1"),
        read("read: the four statements", read_minimal(None, &[]), &[("perm.ok", Info)], Status::Pass)
            .absent(READ_BREAKAGE),
        // AWS's read-only managed policy AWSCodeArtifactReadOnlyAccess, with the
        // bearer token: reads everything, writes nothing.
        read(
            "read: the read-only managed policy's actions",
            doc(json!([
                bearer(),
                allow("codeartifact:Describe*", "*"),
                allow("codeartifact:Get*", "*"),
                allow("codeartifact:List*", "*"),
                allow("codeartifact:ReadFromRepository", "*")
            ])),
            &[("perm.ok", Info)],
            Status::Pass,
        )
        .absent(READ_BREAKAGE),
        read(
            "read: the release role's policy",
            least_privilege_policy(&target()).to_string(),
            &[("perm.read-role-can-write", Critical), ("perm.read-from-repository", Error)],
            Status::Fail,
        )
        .says("perm.read-role-can-write", "codeartifact:PublishPackageVersion")
        .says("perm.read-role-can-write", "statement \"Publish\"")
        .says("perm.read-from-repository", "\"Sid\": \"ReadBuildRequirements\""),
        read(
            "read: codeartifact:* on *",
            doc(json!([bearer(), allow("codeartifact:*", "*")])),
            &[("perm.read-role-can-write", Critical)],
            Status::Fail,
        )
        .absent(&["perm.too-broad", "perm.read-from-repository", "perm.get-authorization-token"])
        .says("perm.read-role-can-write", "and 20 more"),
        read(
            "read: a publish wildcard on the repository's packages",
            read_minimal(None, &[allow("codeartifact:Publish*", &P.replace("/pypi//yamause", "/*"))]),
            &[("perm.read-role-can-write", Critical)],
            Status::Fail,
        )
        .says("perm.read-role-can-write", "codeartifact:PublishPackageVersion"),
        read(
            "read: PutPackageMetadata on the package",
            read_minimal(None, &[allow("codeartifact:PutPackageMetadata", P)]),
            &[("perm.read-role-can-write", Critical)],
            Status::Fail,
        )
        .says("perm.read-role-can-write", "codeartifact:PutPackageMetadata"),
        read(
            "read: deleting versions in another domain",
            read_minimal(
                None,
                &[allow(
                    "codeartifact:DeletePackageVersions",
                    "arn:aws:codeartifact:eu-central-1:123456789012:package/other/*",
                )],
            ),
            &[("perm.read-role-can-write", Critical)],
            Status::Fail,
        )
        .absent(&["perm.dangerous-action"]),
        read(
            "read: a repository policy change",
            read_minimal(None, &[allow("codeartifact:PutRepositoryPermissionsPolicy", R)]),
            &[("perm.read-role-can-write", Critical)],
            Status::Fail,
        ),
        read(
            "read: a write under a condition the check cannot evaluate",
            read_minimal(
                None,
                &[json!({"Effect": "Allow", "Action": "codeartifact:PublishPackageVersion", "Resource": P,
                         "Condition": {"StringEquals": {"aws:PrincipalTag/team": "release"}}})],
            ),
            &[("perm.read-role-can-write", Critical)],
            Status::Fail,
        ),
        read(
            "read: NotAction with Allow",
            read_minimal(None, &[json!({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})]),
            &[("perm.read-role-can-write", Critical), ("perm.dangerous-action", High)],
            Status::Fail,
        )
        .says("perm.dangerous-action", "the read role of the build-deps job can sts:AssumeRole")
        .says("perm.dangerous-action", "to download the build requirements"),
        read(
            "read: a write wildcard denied again",
            read_minimal(
                None,
                &[
                    allow("codeartifact:Publish*", "*"),
                    json!({"Effect": "Deny", "Action": "codeartifact:PublishPackageVersion", "Resource": "*"}),
                ],
            ),
            &[("perm.ok", Info)],
            Status::Pass,
        )
        .absent(READ_BREAKAGE),
        read(
            "read: ReadFromRepository missing",
            read_minimal(Some((3, Value::Null)), &[]),
            &[("perm.read-from-repository", Error)],
            Status::Fail,
        )
        .says("perm.read-from-repository", "no statement allows it")
        .says(
            "perm.read-from-repository",
            "\"Resource\": \"arn:aws:codeartifact:eu-central-1:123456789012:repository/my-company/python-packages\"",
        ),
        read(
            "read: ReadFromRepository on the package ARN",
            read_minimal(Some((3, allow("codeartifact:ReadFromRepository", P))), &[]),
            &[("perm.read-from-repository", Error)],
            Status::Fail,
        )
        .says("perm.read-from-repository", "repository ARN only"),
        read(
            "read: ReadFromRepository under an unknown condition",
            read_minimal(
                Some((
                    3,
                    json!({"Effect": "Allow", "Action": "codeartifact:ReadFromRepository", "Resource": R,
                    "Condition": {"StringEquals": {"aws:PrincipalTag/team": "build"}}}),
                )),
                &[],
            ),
            &[("perm.read-from-repository", Info)],
            Status::Pass,
        ),
        read(
            "read: bearer token missing",
            read_minimal(Some((0, Value::Null)), &[]),
            &[("perm.service-bearer-token", Error)],
            Status::Fail,
        ),
        read(
            "read: GetAuthorizationToken missing",
            read_minimal(Some((1, Value::Null)), &[]),
            &[("perm.get-authorization-token", Error)],
            Status::Fail,
        ),
        read(
            "read: GetRepositoryEndpoint missing",
            read_minimal(Some((2, Value::Null)), &[]),
            &[("perm.get-repository-endpoint", Error)],
            Status::Fail,
        ),
        read("read: cross-account role", read_minimal(None, &[]), &[("perm.cross-account", Info)], Status::Pass)
            .facts(PermissionFacts {
                role_arn: Some("arn:aws:iam::210987654321:role/read".into()),
                ..PermissionFacts::default()
            })
            .says("perm.cross-account", "the repository policy codeartifact:ReadFromRepository"),
        read("read: no safe re-run or origin checks", read_minimal(None, &[]), &[("perm.ok", Info)], Status::Pass)
            .facts(PermissionFacts { origin: Some(OriginPublish::Block), ..PermissionFacts::default() })
            .absent(&["perm.safe-rerun", "perm.origin-blocked", "perm.publish"]),
    ]
}

/// The read role's trust context: environment `build-deps`, no reviewers needed.
fn read_ctx() -> TrustContext {
    read_role_context(&env_ctx(), READ_ENVIRONMENT)
}

const READ_SUB: &str = "repo:octo-org/yamause:environment:build-deps";

pub(super) fn trust_cases() -> Vec<TrustCase> {
    let tag_rule = DeploymentPolicy::Custom(vec![RefRule { pattern: "v*".into(), kind: RefKind::Tag }]);
    let unreviewed = EnvironmentFacts {
        exists: true,
        required_reviewers: 0,
        prevent_self_review: false,
        can_admins_bypass: false,
        deployment: tag_rule,
    };
    let with_env = |env: EnvironmentFacts| TrustFacts { environment: Some(env), ..TrustFacts::default() };
    vec![
        case("read: pinned to build-deps", sub_equals(READ_SUB), &[("trust.ok", Info)], Status::Pass).ctx(read_ctx()),
        // The release role's trust policy does not let the build-deps job in.
        case("read: pinned to release", sub_equals(ENV_SUB), &[("trust.subject-mismatch", Error)], Status::Fail)
            .ctx(read_ctx()),
        // Nor the read role's the publish job.
        case("release: pinned to build-deps", sub_equals(READ_SUB), &[("trust.subject-mismatch", Error)], Status::Fail),
        // No reviewers, a v* tag rule: all the read role's environment needs.
        case(
            "read: environment without reviewers",
            sub_equals(READ_SUB),
            &[("trust.environment-protection.ok", Info)],
            Status::Pass,
        )
        .ctx(read_ctx())
        .facts(with_env(unreviewed.clone()))
        .absent(&["trust.environment-protection"])
        .says("trust.environment-protection.ok", "no administrator bypass, and deployments only from tags \"v*\""),
        // The release role's environment without reviewers is still a warning.
        case(
            "release: environment without reviewers",
            sub_equals(ENV_SUB),
            &[("trust.environment-protection", High)],
            Status::Warn,
        )
        .facts(with_env(unreviewed.clone()))
        .says("trust.environment-protection", "no required reviewers"),
        // The tag rule still counts for the read role.
        case(
            "read: environment open to any branch",
            sub_equals(READ_SUB),
            &[("trust.environment-protection", High)],
            Status::Warn,
        )
        .ctx(read_ctx())
        .facts(with_env(EnvironmentFacts { deployment: DeploymentPolicy::Any, ..unreviewed.clone() }))
        .says("trust.environment-protection", "No restriction")
        .says("trust.environment-protection", "add a deployment tag rule \"v*\" (no branch rules)"),
        case("read: no tag ruleset", sub_equals(READ_SUB), &[("trust.tag-ruleset", Low)], Status::Warn)
            .ctx(read_ctx())
            .facts(TrustFacts { tag_ruleset: Some(false), ..with_env(unreviewed) })
            .says("trust.tag-ruleset", "which has no reviewers (the role can only read)"),
    ]
}
