//! Table-driven tests of the permission analysis: each case is one or more
//! permission documents with the publish target and facts, the findings (id and
//! severity) they must produce, the ids they must not produce above `info`, and
//! the status.

use super::*;

pub(super) struct PermCase {
    name: &'static str,
    pub(super) policies: Vec<NamedPolicy>,
    pub(super) target: PublishTarget,
    pub(super) facts: PermissionFacts,
    want: &'static [(&'static str, Severity)],
    absent: &'static [&'static str],
    status: Status,
    says: Vec<(&'static str, &'static str)>,
    /// The role the documents are analysed as.
    pub(super) purpose: Purpose,
}

pub(super) fn perm(
    name: &'static str,
    policy: String,
    want: &'static [(&'static str, Severity)],
    status: Status,
) -> PermCase {
    PermCase {
        name,
        policies: vec![NamedPolicy::new("release", &policy)],
        target: target(),
        facts: PermissionFacts::default(),
        want,
        absent: &[],
        status,
        says: Vec::new(),
        purpose: Purpose::Release,
    }
}

impl PermCase {
    pub(super) fn analyse(&self) -> Vec<Finding> {
        analyse_permissions_as(self.purpose, &self.policies, &self.target, &self.facts)
    }
    pub(super) fn purpose(self, purpose: Purpose) -> PermCase {
        PermCase { purpose, ..self }
    }
    pub(super) fn target(self, target: PublishTarget) -> PermCase {
        PermCase { target, ..self }
    }
    pub(super) fn facts(self, facts: PermissionFacts) -> PermCase {
        PermCase { facts, ..self }
    }
    pub(super) fn absent(self, absent: &'static [&'static str]) -> PermCase {
        PermCase { absent, ..self }
    }
    pub(super) fn says(mut self, id: &'static str, text: &'static str) -> PermCase {
        self.says.push((id, text));
        self
    }
}

pub(super) fn bearer() -> Value {
    json!({"Effect": "Allow", "Action": "sts:GetServiceBearerToken", "Resource": "*",
           "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}})
}

pub(super) fn allow(action: &str, resource: &str) -> Value {
    json!({"Effect": "Allow", "Action": action, "Resource": resource})
}

pub(super) fn rerun() -> Value {
    json!({"Effect": "Allow", "Action": ["codeartifact:ListPackageVersionAssets", "codeartifact:DescribePackageVersion"],
           "Resource": P})
}

/// The statements of the least-privilege policy, with `replace` swapping one of them
/// by index.
pub(super) fn minimal(replace: Option<(usize, Value)>, extra: &[Value]) -> String {
    let mut statements = vec![
        bearer(),
        allow("codeartifact:GetAuthorizationToken", D),
        allow("codeartifact:GetRepositoryEndpoint", R),
        allow("codeartifact:PublishPackageVersion", P),
        rerun(),
    ];
    if let Some((i, statement)) = replace {
        statements[i] = statement;
    }
    statements.retain(|it| !it.is_null());
    statements.extend(extra.iter().cloned());
    doc(Value::Array(statements))
}

const PERM_BREAKAGE: &[&str] = &[
    "perm.get-authorization-token",
    "perm.service-bearer-token",
    "perm.get-repository-endpoint",
    "perm.publish",
    "perm.publish-resource",
];

/// The least-privilege policy written out by hand, with placeholders filled in:
/// `least_privilege_policy` must generate exactly this.
pub(super) fn least_privilege_by_hand() -> String {
    r#"{
      "Version": "2012-10-17",
      "Statement": [
        {"Sid": "BearerTokenForCodeArtifact", "Effect": "Allow", "Action": "sts:GetServiceBearerToken",
         "Resource": "*", "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}},
        {"Sid": "AuthorizationToken", "Effect": "Allow", "Action": "codeartifact:GetAuthorizationToken",
         "Resource": "arn:aws:codeartifact:REGION:ACCOUNT:domain/DOMAIN"},
        {"Sid": "RepositoryEndpoint", "Effect": "Allow", "Action": "codeartifact:GetRepositoryEndpoint",
         "Resource": "arn:aws:codeartifact:REGION:ACCOUNT:repository/DOMAIN/REPO"},
        {"Sid": "Publish", "Effect": "Allow", "Action": "codeartifact:PublishPackageVersion",
         "Resource": "arn:aws:codeartifact:REGION:ACCOUNT:package/DOMAIN/REPO/pypi//yamause"},
        {"Sid": "SafeRerunChecks", "Effect": "Allow",
         "Action": ["codeartifact:ListPackageVersionAssets", "codeartifact:DescribePackageVersion"],
         "Resource": "arn:aws:codeartifact:REGION:ACCOUNT:package/DOMAIN/REPO/pypi//yamause"}
      ]
    }"#
    .replace("REGION", "eu-central-1")
    .replace("ACCOUNT", ACCOUNT)
    .replace("DOMAIN", "my-company")
    .replace("REPO", "python-packages")
}

/// A common hand-written policy: one statement for the token, the endpoint and
/// publishing on three resources, publishing on every package (`package/…/*`), and
/// no safe re-run actions.
pub(super) fn combined_statement_policy() -> String {
    r#"{
      "Version": "2012-10-17",
      "Statement": [
        {
          "Effect": "Allow",
          "Action": ["codeartifact:GetAuthorizationToken", "codeartifact:GetRepositoryEndpoint",
                     "codeartifact:PublishPackageVersion"],
          "Resource": [
            "arn:aws:codeartifact:YOUR_REGION:YOUR_ACCOUNT_ID:domain/YOUR_DOMAIN",
            "arn:aws:codeartifact:YOUR_REGION:YOUR_ACCOUNT_ID:repository/YOUR_DOMAIN/YOUR_REPOSITORY",
            "arn:aws:codeartifact:YOUR_REGION:YOUR_ACCOUNT_ID:package/YOUR_DOMAIN/YOUR_REPOSITORY/*"
          ]
        },
        {
          "Effect": "Allow",
          "Action": "sts:GetServiceBearerToken",
          "Resource": "*",
          "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}
        }
      ]
    }"#
    .replace("YOUR_REGION", "eu-central-1")
    .replace("YOUR_ACCOUNT_ID", ACCOUNT)
    .replace("YOUR_DOMAIN", "my-company")
    .replace("YOUR_REPOSITORY", "python-packages")
}

pub(super) fn perm_cases() -> Vec<PermCase> {
    [perm_cases_1(), perm_cases_2(), perm_cases_3(), perm_cases_4(), perm_cases_5()].into_iter().flatten().collect()
}

fn perm_cases_1() -> Vec<PermCase> {
    let package_arn =
        |name: &str| format!("arn:aws:codeartifact:eu-central-1:{ACCOUNT}:package/my-company/python-packages/{name}");
    vec![
        perm(
            "least-privilege policy written by hand",
            least_privilege_by_hand(),
            &[("perm.ok", Info), ("perm.token-duration", Info)],
            Status::Pass,
        )
        .absent(PERM_BREAKAGE),
        perm("generated policy", least_privilege_policy(&target()).to_string(), &[("perm.ok", Info)], Status::Pass)
            .absent(PERM_BREAKAGE),
        perm(
            "one statement for three calls, publishing on package/*",
            combined_statement_policy(),
            &[("perm.safe-rerun", Low), ("perm.too-broad", Medium), ("perm.token-duration", Info)],
            Status::Warn,
        )
        .absent(PERM_BREAKAGE)
        .says("perm.safe-rerun", "safe re-runs need"),
        perm(
            "codeartifact:* on *",
            doc(json!([bearer(), allow("codeartifact:*", "*")])),
            &[("perm.too-broad", High), ("perm.dangerous-action", High), ("perm.read-from-repository", Info)],
            Status::Warn,
        )
        .absent(PERM_BREAKAGE)
        .says("perm.too-broad", "packages in other domains"),
        perm(
            "publish on * only",
            minimal(Some((3, allow("codeartifact:PublishPackageVersion", "*"))), &[]),
            &[("perm.too-broad", High)],
            Status::Warn,
        ),
        perm(
            "publish ARN without //",
            minimal(Some((3, allow("codeartifact:PublishPackageVersion", &package_arn("pypi/yamause")))), &[]),
            &[("perm.publish-resource", Error)],
            Status::Fail,
        )
        .says("perm.publish-resource", "empty namespace"),
        perm(
            "publish ARN with the wrong format segment",
            minimal(Some((3, allow("codeartifact:PublishPackageVersion", &package_arn("npm//yamause")))), &[]),
            &[("perm.publish-resource", Error)],
            Status::Fail,
        )
        .says("perm.publish-resource", "format segment \"npm\""),
        perm(
            "publish ARN with a non-normalized name",
            minimal(Some((3, allow("codeartifact:PublishPackageVersion", &package_arn("pypi//Yamause")))), &[]),
            &[("perm.publish-resource", Error)],
            Status::Fail,
        )
        .says("perm.publish-resource", "not normalized"),
        perm(
            "publish ARN with yam_ause",
            doc(json!([
                bearer(),
                allow("codeartifact:GetAuthorizationToken", D),
                allow("codeartifact:GetRepositoryEndpoint", R),
                allow("codeartifact:PublishPackageVersion", &package_arn("pypi//yam_ause")),
            ])),
            &[("perm.publish-resource", Error), ("perm.safe-rerun", Low)],
            Status::Fail,
        )
        .target(PublishTarget::new("eu-central-1", "my-company", ACCOUNT, "python-packages", "yam_ause"))
        .says("perm.publish-resource", "\"yam-ause\""),
    ]
}

fn perm_cases_2() -> Vec<PermCase> {
    [perm_cases_2_1(), perm_cases_2_2()].into_iter().flatten().collect()
}

fn perm_cases_2_1() -> Vec<PermCase> {
    vec![
        perm(
            "publish on the repository ARN",
            minimal(Some((3, allow("codeartifact:PublishPackageVersion", R))), &[]),
            &[("perm.publish-resource", Error)],
            Status::Fail,
        )
        .says("perm.publish-resource", "package ARN"),
        perm("no publish at all", minimal(Some((3, Value::Null)), &[]), &[("perm.publish", Error)], Status::Fail)
            .absent(&["perm.publish-resource"]),
        perm(
            "publish denied explicitly",
            minimal(None, &[json!({"Effect": "Deny", "Action": "codeartifact:Publish*", "Resource": "*"})]),
            &[("perm.publish", Error)],
            Status::Fail,
        )
        .says("perm.publish", "denied explicitly"),
        perm(
            "bearer token missing",
            minimal(Some((0, Value::Null)), &[]),
            &[("perm.service-bearer-token", Error)],
            Status::Fail,
        ),
        perm(
            "bearer token without condition",
            minimal(Some((0, allow("sts:GetServiceBearerToken", "*"))), &[]),
            &[("perm.bearer-token-condition", Low)],
            Status::Warn,
        ),
        perm(
            "bearer token for another service",
            minimal(
                Some((
                    0,
                    json!({"Effect": "Allow", "Action": "sts:GetServiceBearerToken", "Resource": "*",
                    "Condition": {"StringEquals": {"sts:AWSServiceName": "ecr.amazonaws.com"}}}),
                )),
                &[],
            ),
            &[("perm.service-bearer-token", Error)],
            Status::Fail,
        )
        .says("perm.service-bearer-token", "refuse a request for codeartifact.amazonaws.com"),
    ]
}

fn perm_cases_2_2() -> Vec<PermCase> {
    vec![
        perm(
            "bearer token on a resource ARN",
            minimal(Some((0, allow("sts:GetServiceBearerToken", "arn:aws:sts::123456789012:*"))), &[]),
            &[("perm.service-bearer-token", Error)],
            Status::Fail,
        ),
        perm(
            "token lifetime bounded below the release's",
            minimal(
                Some((
                    0,
                    json!({"Effect": "Allow", "Action": "sts:GetServiceBearerToken", "Resource": "*",
                    "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"},
                                  "NumericLessThanEquals": {"sts:DurationSeconds": 900}}}),
                )),
                &[],
            ),
            &[("perm.service-bearer-token", Error)],
            Status::Fail,
        )
        .target(PublishTarget { token_duration: 43200, ..target() })
        .says("perm.service-bearer-token", "43200"),
        perm(
            "token lifetime bounded",
            minimal(
                Some((
                    0,
                    json!({"Effect": "Allow", "Action": "sts:GetServiceBearerToken", "Resource": "*",
                    "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"},
                                  "NumericLessThanEquals": {"sts:DurationSeconds": "900"}}}),
                )),
                &[],
            ),
            &[("perm.ok", Info)],
            Status::Pass,
        )
        .absent(&["perm.token-duration"]),
    ]
}

fn perm_cases_3() -> Vec<PermCase> {
    vec![
        perm(
            "GetAuthorizationToken missing",
            minimal(Some((1, Value::Null)), &[]),
            &[("perm.get-authorization-token", Error)],
            Status::Fail,
        )
        .says("perm.get-authorization-token", "is not authorized to perform: codeartifact:GetAuthorizationToken"),
        perm(
            "GetAuthorizationToken inside the bearer-token statement",
            doc(json!([
                {"Effect": "Allow", "Action": ["sts:GetServiceBearerToken", "codeartifact:GetAuthorizationToken"],
                 "Resource": "*", "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}},
                allow("codeartifact:GetRepositoryEndpoint", R),
                allow("codeartifact:PublishPackageVersion", P),
                rerun(),
            ])),
            &[("perm.get-authorization-token", Error)],
            Status::Fail,
        )
        .absent(&["perm.service-bearer-token"])
        .says("perm.get-authorization-token", "sts:AWSServiceName"),
        perm(
            "GetRepositoryEndpoint on the domain ARN",
            minimal(Some((2, allow("codeartifact:GetRepositoryEndpoint", D))), &[]),
            &[("perm.get-repository-endpoint", Error)],
            Status::Fail,
        )
        .says("perm.get-repository-endpoint", "domain/my-company"),
        perm(
            "dangerous extra actions",
            minimal(None, &[json!({"Effect": "Allow", "Action": ["codeartifact:PutPackageOriginConfiguration", "iam:PassRole"], "Resource": "*"})]),
            &[("perm.dangerous-action", High)],
            Status::Warn,
        )
        .absent(&["perm.too-broad"])
        .says("perm.dangerous-action", "dependency substitution"),
        perm(
            "sts:AssumeRole on a role",
            minimal(None, &[allow("sts:AssumeRole", "arn:aws:iam::123456789012:role/admin")]),
            &[("perm.dangerous-action", High)],
            Status::Warn,
        )
        .says("perm.dangerous-action", "sts:AssumeRole"),
        perm(
            "NotAction with Allow",
            minimal(None, &[json!({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})]),
            &[("perm.too-broad", High), ("perm.dangerous-action", High)],
            Status::Warn,
        ),
        perm(
            "ReadFromRepository",
            minimal(None, &[allow("codeartifact:ReadFromRepository", R)]),
            &[("perm.read-from-repository", Info)],
            Status::Pass,
        ),
        // With private build dependencies the build-deps job's read role reads, and
        // the release role still only publishes: a note, never a requirement.
        perm(
            "ReadFromRepository with private dependencies",
            minimal(None, &[allow("codeartifact:ReadFromRepository", R)]),
            &[("perm.read-from-repository", Info)],
            Status::Pass,
        )
        .target(PublishTarget { private_dependencies: true, ..target() })
        .says("perm.read-from-repository", "build-deps job's read role"),
        perm(
            "no ReadFromRepository with private dependencies",
            minimal(None, &[]),
            &[("perm.ok", Info)],
            Status::Pass,
        )
        .target(PublishTarget { private_dependencies: true, ..target() })
        .absent(&["perm.read-from-repository"]),
        perm(
            "read-only wildcard",
            minimal(None, &[allow("codeartifact:Describe*", P)]),
            &[("perm.ok", Info)],
            Status::Pass,
        )
        .absent(&["perm.too-broad"]),
    ]
}

fn perm_cases_4() -> Vec<PermCase> {
    let role_elsewhere = "arn:aws:iam::210987654321:role/release";
    vec![
        perm(
            "write wildcard",
            minimal(None, &[allow("codeartifact:Put*", P)]),
            &[("perm.too-broad", High), ("perm.dangerous-action", High)],
            Status::Warn,
        ),
        perm(
            "safe-rerun actions missing",
            minimal(Some((4, Value::Null)), &[]),
            &[("perm.safe-rerun", Low)],
            Status::Warn,
        ),
        perm(
            "a trust policy passed as a permission policy",
            sub_equals(ENV_SUB),
            &[("perm.not-a-permission-policy", Error), ("perm.publish", Error)],
            Status::Fail,
        ),
        perm(
            "unknown operator",
            minimal(
                Some((
                    0,
                    json!({"Effect": "Allow", "Action": "sts:GetServiceBearerToken", "Resource": "*",
                    "Condition": {"StringEqualz": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}}),
                )),
                &[],
            ),
            &[("policy.unknown-operator", Error), ("perm.service-bearer-token", Info)],
            Status::Fail,
        ),
        perm(
            "malformed document",
            "{\"Statement\": [".to_owned(),
            &[("policy.malformed", Error), ("perm.publish", Error)],
            Status::Fail,
        ),
        perm(
            "statement without Resource",
            minimal(None, &[json!({"Effect": "Allow", "Action": "codeartifact:ListPackages"})]),
            &[("policy.malformed", Error)],
            Status::Fail,
        ),
        perm("URL-encoded document", percent_encode(&minimal(None, &[])), &[("perm.ok", Info)], Status::Pass),
        perm(
            "condition on the region holds",
            minimal(
                Some((
                    1,
                    json!({"Effect": "Allow", "Action": "codeartifact:GetAuthorizationToken", "Resource": D,
                    "Condition": {"StringEquals": {"AWS:RequestedRegion": "eu-central-1"}}}),
                )),
                &[],
            ),
            &[("perm.ok", Info)],
            Status::Pass,
        ),
        perm(
            "condition on an unknown key",
            minimal(
                Some((
                    1,
                    json!({"Effect": "Allow", "Action": "codeartifact:GetAuthorizationToken", "Resource": D,
                    "Condition": {"StringEquals": {"aws:PrincipalTag/team": "release"}}}),
                )),
                &[],
            ),
            &[("perm.get-authorization-token", Info)],
            Status::Pass,
        ),
        perm("cross-account role without facts", minimal(None, &[]), &[("perm.cross-account", Info)], Status::Pass)
            .facts(PermissionFacts { role_arn: Some(role_elsewhere.into()), ..PermissionFacts::default() })
            .says("perm.cross-account", "210987654321"),
        perm("origin controls block publishing", minimal(None, &[]), &[("perm.origin-blocked", Error)], Status::Fail)
            .facts(PermissionFacts { origin: Some(OriginPublish::Block), ..PermissionFacts::default() }),
    ]
}

fn perm_cases_5() -> Vec<PermCase> {
    vec![
        perm(
            "two Action keys in one statement",
            minimal(None, &[]).replacen(
                r#""Action":"codeartifact:GetAuthorizationToken""#,
                r#""Action":"codeartifact:GetAuthorizationToken","Action":"codeartifact:GetRepositoryEndpoint""#,
                1,
            ),
            &[("perm.duplicate-key", Error)],
            Status::Fail,
        )
        .says("perm.duplicate-key", "Statement[1]"),
    ]
}

#[test]
fn permission_policies_are_judged_by_evaluation() {
    let mut cases = perm_cases();
    cases.push(PermCase {
        name: "statements split across an attached and an inline policy",
        policies: vec![
            NamedPolicy::new("attached", &doc(json!([bearer(), allow("codeartifact:GetAuthorizationToken", D)]))),
            NamedPolicy::new(
                "inline",
                &doc(json!([
                    allow("codeartifact:GetRepositoryEndpoint", R),
                    allow("codeartifact:PublishPackageVersion", P),
                    rerun()
                ])),
            ),
        ],
        ..perm("", String::new(), &[("perm.ok", Info)], Status::Pass)
    });
    assert!(cases.len() >= 30, "{} permission cases", cases.len());
    cases.extend(super::read_role::perm_cases());
    for case in cases {
        judge(case.name, &case.analyse(), case.want, case.absent, case.status, &case.says);
    }
}
