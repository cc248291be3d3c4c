//! `iam-policy --format cloudformation` and `--format terraform`. The documents in
//! the template and in the configuration are the ones `--format json` prints (for
//! Terraform: what HashiCorp's HCL and Terraform's `jsonencode`, through tfparse,
//! make of them, hostile strings included), the build-deps job's read role's too
//! with private build dependencies; cfn-lint passes the templates and catches a
//! broken one; moto's CloudFormation deploys the template and `check-iam
//! --inspect-role` passes the roles it made (`--read-role` for the read role).

use std::{
    fs,
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use castack::{Deployment, GithubEnvironment, GithubRepo, RefType, Stack, StackConfig};
use serde_json::{Value, json};

use crate::support::{self, Creds, TempDir, copy_repo, release_env, text, tools_python};

/// moto's default account, where IAM files the calls of keys it did not issue: the
/// domain owner too, so that a stack deployed with any keys is in the role's account.
const ACCOUNT: &str = "123456789012";
const PROVIDER_HOST: &str = "token.actions.githubusercontent.com";

const TARGET: [(&str, &str); 4] = [
    ("AWS_REGION", "us-east-1"),
    ("CODEARTIFACT_DOMAIN", "my-company"),
    ("CODEARTIFACT_DOMAIN_OWNER", ACCOUNT),
    ("CODEARTIFACT_REPOSITORY", "python-packages"),
];

/// A value no repository or package name can hold, but an environment name can
/// carry into the trust policy's `sub`: HCL's template sequences (also already
/// escaped once), quotes, a backslash, control characters, a workflow command.
const HOSTILE_ENVIRONMENT: &str = "a${var.x}b%{if true}c$${d}\"e\\f\ng\t##[group]h\n::warning::i\u{7}";

/// One setting of `iam-policy`: `--environment`, `--github-repo` and extra variables.
struct Case {
    environment: &'static str,
    repo: &'static str,
    vars: &'static [(&'static str, &'static str)],
}

const CASES: [Case; 4] = [
    Case { environment: "release", repo: "octo-org/yamause", vars: &[] },
    Case { environment: "none", repo: "octo-org/yamause", vars: &[("CODEARTIFACT_PRIVATE_DEPENDENCIES", "true")] },
    Case { environment: "release", repo: "octo-org@100000000/yamause@100000001", vars: &[] },
    Case { environment: "prod", repo: "Octo-Org/YaMause", vars: &[("AWS_REGION", "cn-north-1")] },
];

/// Runs `iam-policy --format FORMAT` for `case` in `repo` with `TARGET`; its stdout.
fn iam_policy(repo: &Path, format: &str, case: &Case) -> String {
    let mut vars: Vec<(String, String)> = TARGET.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    vars.extend(case.vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let args = ["iam-policy", "--format", format, "--github-repo", case.repo, "--environment", case.environment];
    let out = support::run_xtask(repo, &args, &vars);
    assert!(out.status.success(), "iam-policy --format {format} failed:\n{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// The documents of `--format json`.
struct Documents {
    trust: Value,
    permissions: Value,
    /// The read role's (trust, permissions), with private build dependencies.
    read: Option<(Value, Value)>,
}

fn json_documents(repo: &Path, case: &Case) -> Documents {
    let all: Value = serde_json::from_str(&iam_policy(repo, "json", case)).unwrap();
    let read = all.get("readRole").map(|read| (read["trustPolicy"].clone(), read["permissionPolicy"].clone()));
    let private = case.vars.contains(&("CODEARTIFACT_PRIVATE_DEPENDENCIES", "true"));
    assert_eq!(read.is_some(), private, "readRole with private dependencies only: {all:#}");
    let keys = if private { 3 } else { 2 };
    assert_eq!(all.as_object().unwrap().len(), keys, "{all:#}");
    Documents { trust: all["trustPolicy"].clone(), permissions: all["permissionPolicy"].clone(), read }
}

/// The partition of the case's region, as the template's `AWS::Partition` will be.
fn partition(case: &Case) -> &'static str {
    let region = case.vars.iter().find(|(k, _)| *k == "AWS_REGION").map_or("us-east-1", |(_, v)| *v);
    if region.starts_with("cn-") { "aws-cn" } else { "aws" }
}

/// `value` with the intrinsic functions the template's documents use evaluated as
/// CloudFormation does in `ACCOUNT` of `partition`, the provider condition being
/// `creates`. Any other function fails the test.
fn resolve(value: &Value, template: &Value, partition: &str, creates: bool) -> Value {
    match value {
        Value::Object(map) if map.len() == 1 && map.keys().all(|k| k.starts_with("Fn::") || k == "Ref") => {
            let (name, arg) = map.iter().next().unwrap();
            match name.as_str() {
                "Fn::If" => {
                    let arg = arg.as_array().unwrap();
                    assert_eq!(arg[0], "CreatesOidcProvider", "{value}");
                    assert_eq!(
                        template["Conditions"]["CreatesOidcProvider"],
                        json!({"Fn::Equals": [{"Ref": "CreateOidcProvider"}, "true"]})
                    );
                    resolve(&arg[if creates { 1 } else { 2 }], template, partition, creates)
                }
                "Fn::GetAtt" => {
                    let provider = &template["Resources"][arg[0].as_str().unwrap()];
                    assert_eq!(
                        (provider["Type"].as_str(), arg[1].as_str()),
                        (Some("AWS::IAM::OIDCProvider"), Some("Arn"))
                    );
                    assert_eq!(provider["Condition"], "CreatesOidcProvider", "the provider exists only when created");
                    let host = provider["Properties"]["Url"].as_str().unwrap().strip_prefix("https://").unwrap();
                    json!(format!("arn:{partition}:iam::{ACCOUNT}:oidc-provider/{host}"))
                }
                "Fn::Sub" => {
                    let text = arg
                        .as_str()
                        .unwrap()
                        .replace("${AWS::Partition}", partition)
                        .replace("${AWS::AccountId}", ACCOUNT);
                    assert!(!text.contains("${"), "unexpected substitution in {text}");
                    json!(text)
                }
                _ => panic!("the documents use {name}, which this test does not evaluate: {value}"),
            }
        }
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), resolve(v, template, partition, creates))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve(v, template, partition, creates)).collect()),
        other => other.clone(),
    }
}

/// Checks the template's documents and settings against `--format json`'s.
fn check_template(template: &Value, case: &Case, documents: &Documents) {
    let resources = &template["Resources"];
    let check_role = |(role_id, policy_id, output): (&str, &str, &str), (trust, permissions): (&Value, &Value)| {
        let role = &resources[role_id]["Properties"];
        for creates in [true, false] {
            let resolved = resolve(&role["AssumeRolePolicyDocument"], template, partition(case), creates);
            assert_eq!(&resolved, trust, "{role_id} trust ({:?}, CreateOidcProvider={creates})", case.environment);
        }
        let policy = &resources[policy_id];
        assert_eq!(policy["Type"], "AWS::IAM::ManagedPolicy");
        assert_eq!(&resolve(&policy["Properties"]["PolicyDocument"], template, partition(case), false), permissions);
        assert_eq!(policy["Properties"]["Roles"], json!([{"Ref": role_id}]));
        assert_eq!(role["MaxSessionDuration"], 3600, "the release asks STS for a one-hour session");
        assert_eq!(template["Outputs"][output]["Value"], json!({"Fn::GetAtt": [role_id, "Arn"]}));
    };
    check_role(("ReleaseRole", "ReleasePolicy", "RoleArn"), (&documents.trust, &documents.permissions));
    match &documents.read {
        Some((trust, permissions)) => {
            check_role(("ReadRole", "ReadPolicy", "ReadRoleArn"), (trust, permissions));
            assert_eq!(template["Parameters"]["ReadRoleName"]["Default"], "GitHubActions-CodeArtifact-read");
        }
        None => {
            let ids: Vec<&String> = resources.as_object().unwrap().keys().collect();
            assert_eq!(
                ids,
                ["GitHubOidcProvider", "ReleasePolicy", "ReleaseRole"],
                "no read role without private dependencies"
            );
            assert!(template["Outputs"].get("ReadRoleArn").is_none());
        }
    }
    let provider = &resources["GitHubOidcProvider"]["Properties"];
    assert_eq!(provider["Url"], format!("https://{PROVIDER_HOST}"));
    assert_eq!(provider["ClientIdList"], json!(["sts.amazonaws.com"]));
}

/// Parses and evaluates a Terraform configuration folder with tfparse (HashiCorp's
/// HCL and Terraform's functions), optionally with tfvars files inside it; prints
/// the documents as Terraform would send them, and the settings around them.
const TFPARSE: &str = r#"
import json, sys
from tfparse import load_from_path
found = load_from_path(sys.argv[1], stop_on_hcl_error=True, vars_paths=sys.argv[2:])
def named(kind, name):
    return [r for r in found.get(kind, []) if r["__tfmeta"]["path"] == kind + "." + name]
def role(name):
    roles = named("aws_iam_role", name)
    if not roles:
        return None
    ((role,), (policy,), (attachment,)) = (roles, named("aws_iam_policy", name),
                                           named("aws_iam_role_policy_attachment", name))
    return {
        "trust": json.loads(role["assume_role_policy"]),
        "permissions": json.loads(policy["policy"]),
        "role": {"name": role["name"], "max_session_duration": role["max_session_duration"]},
        "attached_to": attachment["role"],
    }
print(json.dumps({
    "release": role("release"),
    "read": role("read"),
    "roles": len(found["aws_iam_role"]),
    "providers": [{"url": p["url"], "client_id_list": p["client_id_list"]}
                  for p in found.get("aws_iam_openid_connect_provider", [])],
    "outputs": sorted(o["__tfmeta"]["label"] for o in found.get("output", [])),
}))
"#;

/// The configuration `hcl`, evaluated by tfparse with `vars` (tfvars lines).
fn tfparse(hcl: &str, vars: Option<&str>) -> Result<Value, String> {
    let dir = TempDir::new("terraform");
    fs::write(dir.path().join("main.tf"), hcl).unwrap();
    let mut args = vec!["-c".to_owned(), TFPARSE.to_owned(), dir.path().display().to_string()];
    if let Some(vars) = vars {
        fs::write(dir.path().join("test.tfvars"), vars).unwrap();
        args.push("test.tfvars".to_owned());
    }
    let out = Command::new(tools_python("lint")).args(&args).output().expect("run the lint tools' python");
    if !out.status.success() {
        return Err(text(&out));
    }
    Ok(serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("not JSON ({err}):\n{}", text(&out))))
}

fn check_terraform(parsed: &Value, documents: &Documents, what: &str) {
    let check_role = |role: &Value, (trust, permissions): (&Value, &Value), name: &str| {
        assert_eq!(&role["trust"], trust, "trust policy of {name} ({what})");
        assert_eq!(&role["permissions"], permissions, "permission policy of {name} ({what})");
        assert_eq!(role["role"], json!({"name": name, "max_session_duration": 3600}));
        assert_eq!(role["attached_to"], name);
    };
    check_role(&parsed["release"], (&documents.trust, &documents.permissions), "GitHubActions-CodeArtifact");
    match &documents.read {
        Some((trust, permissions)) => {
            check_role(&parsed["read"], (trust, permissions), "GitHubActions-CodeArtifact-read");
            assert_eq!(parsed["outputs"], json!(["read_role_arn", "role_arn"]));
        }
        None => {
            assert_eq!(parsed["roles"], 1, "no read role without private dependencies ({what})");
            assert_eq!(parsed["outputs"], json!(["role_arn"]));
        }
    }
}

#[test]
fn templates_carry_the_documents_of_the_json_output() {
    let repo = copy_repo("iam-policy-formats");
    let hostile = Case { environment: HOSTILE_ENVIRONMENT, repo: "octo-org/yamause", vars: &[] };
    for case in CASES.iter().chain([&hostile]) {
        let documents = json_documents(repo.path(), case);
        let template: Value = serde_json::from_str(&iam_policy(repo.path(), "cloudformation", case)).unwrap();
        check_template(&template, case, &documents);

        let hcl = iam_policy(repo.path(), "terraform", case);
        let parsed =
            tfparse(&hcl, None).unwrap_or_else(|err| panic!("tfparse refused the configuration:\n{err}\n{hcl}"));
        check_terraform(&parsed, &documents, &format!("{:?}", case.environment));
        assert_eq!(
            parsed["providers"],
            json!([{"url": format!("https://{PROVIDER_HOST}"), "client_id_list": ["sts.amazonaws.com"]}])
        );
        let off = tfparse(&hcl, Some("create_oidc_provider = false\n")).unwrap();
        assert_eq!(off["providers"], json!([]), "create_oidc_provider = false creates no provider");
        check_terraform(&off, &documents, &format!("{:?}", case.environment));
    }
    // The hostile string really is in the documents, as a value.
    let documents = json_documents(repo.path(), &hostile);
    assert!(documents.trust.to_string().contains("${var.x}b%{if true}c$${d}"), "{}", documents.trust);
}

/// A configuration whose strings were not escaped: the template sequence becomes
/// an interpolation and the document changes; broken syntax is refused.
#[test]
fn tfparse_sees_an_unescaped_interpolation_and_broken_hcl() {
    let repo = copy_repo("iam-policy-formats-broken");
    let hostile = Case { environment: HOSTILE_ENVIRONMENT, repo: "octo-org/yamause", vars: &[] };
    let documents = json_documents(repo.path(), &hostile);
    let hcl = iam_policy(repo.path(), "terraform", &hostile);
    assert!(hcl.contains("a$${var.x}b%%{if true}c$$${d}"), "{hcl}");
    let unescaped = hcl.replace("a$${var.x}b", "a${var.x}b");
    // Refused, or evaluated into another document: either way not the JSON one.
    let same = tfparse(&unescaped, None).is_ok_and(|parsed| parsed["release"]["trust"] == documents.trust);
    assert!(!same, "an interpolation left the document unchanged");
    let broken = hcl.replacen("  })\n", "  }\n", 1);
    let err = tfparse(&broken, None).expect_err("tfparse accepted broken HCL");
    assert!(err.contains("main.tf"), "{err}");
    // The unchanged configuration passes the same check.
    check_terraform(&tfparse(&hcl, None).unwrap(), &documents, "hostile");

    // The read role's policy replaced in its configuration: the check sees it.
    let private = &CASES[1];
    let documents = json_documents(repo.path(), private);
    let hcl = iam_policy(repo.path(), "terraform", private);
    let (_, read_policy) = documents.read.as_ref().unwrap();
    let read_at = hcl.find("resource \"aws_iam_policy\" \"read\"").unwrap();
    let (head, tail) = hcl.split_at(read_at);
    let widened = format!("{head}{}", tail.replacen("codeartifact:ReadFromRepository", "codeartifact:*", 1));
    let parsed = tfparse(&widened, None).unwrap();
    assert_ne!(&parsed["read"]["permissions"], read_policy, "the edit did not reach the read role's policy");
    assert_eq!(parsed["release"]["permissions"], documents.permissions);
}

/// Runs cfn-lint on `templates`; its output, and whether it passed.
fn cfn_lint(templates: &[PathBuf]) -> (bool, String) {
    let python = tools_python("lint");
    let out = Command::new(python.with_file_name("cfn-lint")).args(templates).output().expect("run cfn-lint");
    (out.status.success(), text(&out))
}

#[test]
fn cfn_lint_passes_the_templates_and_catches_a_broken_one() {
    let repo = copy_repo("iam-policy-cfn-lint");
    let dir = TempDir::new("cfn-lint");
    let mut files = Vec::new();
    for (i, case) in CASES.iter().enumerate().filter(|(_, case)| partition(case) == "aws") {
        let path = dir.path().join(format!("template-{i}.json"));
        fs::write(&path, iam_policy(repo.path(), "cloudformation", case)).unwrap();
        files.push(path);
    }
    let (passed, output) = cfn_lint(&files);
    assert!(passed, "cfn-lint found problems in the generated templates:\n{output}");

    // A misspelled property and a condition that does not exist.
    let good = fs::read_to_string(&files[0]).unwrap();
    let broken = dir.path().join("broken.json");
    let text = good.replacen("\"MaxSessionDuration\"", "\"MaxSessionDurations\"", 1).replacen(
        "\"Condition\": \"CreatesOidcProvider\"",
        "\"Condition\": \"CreatesOidcProviders\"",
        1,
    );
    assert_ne!(text, good);
    fs::write(&broken, text).unwrap();
    let (passed, output) = cfn_lint(&[broken]);
    assert!(!passed, "cfn-lint passed a broken template:\n{output}");
    assert!(output.contains("E3002") && output.contains("MaxSessionDurations"), "{output}");
    assert!(output.contains("CreatesOidcProviders"), "{output}");

    // The read role (private dependencies, CASES[1]) named by a parameter that does
    // not exist.
    let good = fs::read_to_string(&files[1]).unwrap();
    assert!(good.contains("\"ReadRole\""), "CASES[1] has the read role");
    let text = good.replacen("\"Ref\": \"ReadRoleName\"", "\"Ref\": \"ReadRoleNames\"", 1);
    assert_ne!(text, good);
    let broken = dir.path().join("broken-read.json");
    fs::write(&broken, text).unwrap();
    let (passed, output) = cfn_lint(&[broken]);
    assert!(!passed && output.contains("ReadRoleNames"), "cfn-lint passed a broken read role:\n{output}");
}

/// moto_server from the lint tools, whose CloudFormation the stack's moto lacks;
/// killed when dropped.
struct CloudFormationMoto {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl CloudFormationMoto {
    fn start() -> CloudFormationMoto {
        let dir = TempDir::new("moto-cloudformation");
        let log = fs::File::create(dir.path().join("moto.log")).unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(tools_python("lint"))
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .env("HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start moto_server from the lint tools");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = child.try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                let _ = child.kill();
                let log = fs::read_to_string(dir.path().join("moto.log")).unwrap_or_default();
                panic!("moto_server did not start on port {port} ({exited:?}):\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        CloudFormationMoto { child, port, _dir: dir }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for CloudFormationMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Deploys the template (argv[2]) to moto's CloudFormation at argv[1]. It tries
/// `CreateOidcProvider=true` first, which moto refuses (it has no
/// AWS::IAM::OIDCProvider), then creates the provider through IAM and deploys with
/// `false`. Prints what happened and the stack's outputs.
const DEPLOY: &str = r#"
import json, sys, boto3
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1",
          aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret")
cfn, iam = boto3.client("cloudformation", **kw), boto3.client("iam", **kw)
body = open(sys.argv[2]).read()
def deploy(name, create):
    cfn.create_stack(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_NAMED_IAM"],
                     Parameters=[{"ParameterKey": "CreateOidcProvider", "ParameterValue": create}])
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return stack["StackStatus"], {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
try:
    with_provider = ["created"] + list(deploy("release-with-provider", "true"))
except Exception as err:
    with_provider = ["refused", str(err)]
iam.create_open_id_connect_provider(Url="https://token.actions.githubusercontent.com",
                                    ClientIDList=["sts.amazonaws.com"])
status, outputs = deploy("release", "false")
print(json.dumps({"with_provider": with_provider, "status": status, "outputs": outputs}))
"#;

#[test]
fn the_template_deploys_to_motos_cloudformation_and_check_iam_passes_the_role() {
    let mut config = StackConfig::new(tools_python("stack"));
    config.account = ACCOUNT.to_owned();
    let stack = Stack::start(config).expect("start the castack stack");
    // GitHub writes the immutable subject of this repository, and the template's
    // trust policy asks for it.
    // The build-deps job's environment: a `v*` tag rule and no reviewers, which is
    // all the read role's needs.
    let mut github = GithubRepo { use_immutable_subject: true, ..GithubRepo::default() };
    github.environments.push(GithubEnvironment {
        name: "build-deps".to_owned(),
        reviewers: Vec::new(),
        prevent_self_review: false,
        can_admins_bypass: false,
        wait_timer: 0,
        deployment: Deployment::Custom(vec![("v*".to_owned(), RefType::Tag)]),
    });
    stack.emulator().set_github_repo(github);
    let moto = CloudFormationMoto::start();
    let repo = copy_repo("iam-policy-deploy");
    let github_repo = "octo-org@100000000/yamause@100000001";

    let mut vars = release_env(&stack, Creds::Static, "", &[]);
    vars.push(("GITHUB_TOKEN".to_owned(), stack.emulator().github_token()));
    // With the read role of the build-deps job.
    vars.push(("CODEARTIFACT_PRIVATE_DEPENDENCIES".to_owned(), "true".to_owned()));
    let dir = TempDir::new("iam-policy-deploy");
    let template = dir.path().join("template.json");
    let out = support::run_xtask(
        repo.path(),
        &["iam-policy", "--format", "cloudformation", "--github-repo", github_repo],
        &vars,
    );
    assert!(out.status.success(), "{}", text(&out));
    fs::write(&template, &out.stdout).unwrap();

    let out = Command::new(tools_python("lint"))
        .args(["-c", DEPLOY, &moto.url(), template.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "deploying to moto's CloudFormation failed:\n{}", text(&out));
    let deployed: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("{err}: {}", text(&out)));
    // When moto learns AWS::IAM::OIDCProvider, deploy with the provider as well.
    assert_eq!(deployed["with_provider"][0], "refused", "moto now creates the provider: {deployed:#}");
    assert!(deployed["with_provider"][1].as_str().unwrap().contains("GitHubOidcProvider"), "{deployed:#}");
    assert_eq!(deployed["status"], "CREATE_COMPLETE", "{deployed:#}");
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/GitHubActions-CodeArtifact");
    assert_eq!(deployed["outputs"]["RoleArn"], role_arn.as_str(), "{deployed:#}");
    let read_role_arn = format!("{role_arn}-read");
    assert_eq!(deployed["outputs"]["ReadRoleArn"], read_role_arn.as_str(), "{deployed:#}");

    // check-iam reads the role from the IAM the stack was deployed to.
    vars.retain(|(k, _)| k != "AWS_ENDPOINT_URL_IAM");
    vars.push(("AWS_ENDPOINT_URL_IAM".to_owned(), moto.url()));
    for key in ["CARGO", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"] {
        if let Ok(value) = std::env::var(key) {
            vars.push((key.to_owned(), value));
        }
    }
    let target =
        std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| support::repo_root().join("target").display().to_string());
    vars.push(("CARGO_TARGET_DIR".to_owned(), target));
    // The release role, then the read role (which the release role's analysis
    // would fail: it cannot publish) as the read role.
    for (arn, read) in [(&role_arn, false), (&read_role_arn, true)] {
        let mut args =
            vec!["check-iam", "--inspect-role", "--role-arn", arn, "--github-repo", github_repo, "--format", "json"];
        if read {
            args.push("--read-role");
        }
        let out = support::run_xtask(repo.path(), &args, &vars);
        let report: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("not JSON ({err}):\n{}", text(&out)));
        let findings = report["findings"].as_array().unwrap();
        let ids: Vec<&str> = findings.iter().map(|f| f["id"].as_str().unwrap()).collect();
        for id in ["trust.ok", "perm.ok"] {
            assert!(ids.contains(&id), "{id} missing ({arn}):\n{report:#}");
        }
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(report["status"], "pass", "{arn}: {report:#}");
        let ok = findings.iter().find(|f| f["id"] == "perm.ok").unwrap()["message"].as_str().unwrap();
        assert_eq!(ok.contains("build-deps job"), read, "{ok}");
    }
}
