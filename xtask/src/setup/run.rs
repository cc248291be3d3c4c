//! The order of `setup`: settings and names checked, the caller's identity, what IAM
//! and GitHub hold, the plan printed (the AWS part, then the GitHub part), the
//! changes (`--apply`, `--apply-github`), and after `--apply` the verdict of
//! `check-iam --inspect-role`, which runs outside this module's runtime because it
//! starts its own.
//!
//! The output is in sections, each opened by a line starting with `== `: the AWS
//! part names the account, the role's ARN and the policies' ARNs (the plan is about
//! them); the GitHub part names secrets and never their values.

use anyhow::{Context, Result, bail};
use xshell::Shell;

use super::{
    DEFAULT_ROLE_NAME,
    github::{self, Side},
    github_apply::{self, SecretValue},
    iam::{self, Names},
    origin,
    plan::{self, Plan},
};
use crate::{
    arn, aws, check_iam, flags,
    policy::{self, PartitionSource, PublishTarget},
    project::{self, Project},
    report,
    settings::{self, Settings},
};

/// What the async part leaves for the verdict.
struct Outcome {
    role_arn: String,
    repo: String,
}

pub fn run(cmd: flags::Setup, sh: &Shell) -> Result<()> {
    let root = project::find_root()?;
    sh.change_dir(&root);
    let project = Project::load(&root)?;
    let settings =
        settings::required(&project.pyproject, "setup fills the policies and the GitHub secrets from the settings")?;
    crate::aws::sso::ensure_supported()?;
    let runtime = aws::runtime()?;
    let outcome = runtime.block_on(plan_and_apply(&cmd, sh, &project, &settings))?;
    drop(runtime);
    if !cmd.apply {
        report::out(
            "\nNothing was changed: this is the plan. `--apply` carries out the AWS part, `--apply-github` the GitHub \
             part.",
        );
        return Ok(());
    }
    report::out(&format!("\n== Verdict: `cargo xtask check-iam --inspect-role` on {}", outcome.role_arn));
    let check = flags::CheckIam {
        format: None,
        trust_policy: None,
        permission_policy: Vec::new(),
        github_repo: Some(outcome.repo),
        environment: cmd.environment.clone(),
        inspect_role: true,
        role_arn: Some(outcome.role_arn),
    };
    check.run(sh).context("check the role with `check-iam --inspect-role` after applying the plan")
}

async fn plan_and_apply(cmd: &flags::Setup, sh: &Shell, project: &Project, settings: &Settings) -> Result<Outcome> {
    let mut notes = Vec::new();
    let session = aws::authenticate(settings, &mut notes).await?;
    report::notes(&notes);
    let account = session.identity.account.clone();
    let names = names(cmd, settings, &account)?;
    let ctx = check_iam::trust_context(
        sh,
        cmd.github_repo.as_deref(),
        cmd.environment.as_deref(),
        Some(account.clone()),
        (names.partition.clone(), PartitionSource::Region(settings.region.clone())),
        &settings.audience,
    )?;
    let trust = policy::recommended_trust_policy(&ctx, &account);
    // The package's origin controls: the AWS plan's last step (`origin.rs`).
    let origin_step = origin::step(&session, settings, &project.normalized_name()).await;
    let target = PublishTarget::from_settings(settings, &project.normalized_name());
    let permissions = policy::least_privilege_policy(&target);
    let client = iam::client(&session.config);
    let state = iam::read(&client, &names).await.context("read what IAM holds of the setup (read-only calls)")?;
    let inputs = plan::Inputs {
        names: &names,
        ctx: &ctx,
        target: &target,
        trust: &trust,
        permissions: &permissions,
        force: cmd.force,
    };
    let plan = plan::build(&state, &inputs);
    report::out(&format!(
        "== AWS: the release role for {} in account {account} (as {})\n{}",
        ctx.repo,
        session.identity.arn,
        format!("{}{}", plan::render(&plan), origin::render(&origin_step, plan.steps.len() + 1)).trim_end()
    ));
    let side =
        Side { repo: &ctx.repo, environment: ctx.environment.as_deref(), reviewers: &cmd.reviewer, force: cmd.force };
    let prepared = github::prepare(sh, &side).await;
    let what = match side.environment {
        Some(env) => format!("the `{env}` environment of {} and its secrets", ctx.repo.full_name()),
        None => format!("the repository secrets of {}", ctx.repo.full_name()),
    };
    report::out(&format!("\n== GitHub: {what}\n{}", github::render(&prepared, &side).trim_end()));
    if cmd.apply {
        // Nothing at all is applied while a step is refused, this one included.
        origin_step.check_not_refused()?;
        report::out("\n== AWS: applying the plan");
        apply_aws(&client, &names, &plan).await?;
    }
    if cmd.apply {
        let done = origin::apply(&session, settings, &origin_step).await;
        report::out(&done.context("set the package's origin controls (the IAM part is done); run setup again")?);
    }
    if cmd.apply_github {
        report::out("\n== GitHub: applying the plan");
        let values = secret_values(settings, &names);
        let done = github_apply::apply(&prepared, &side, &values).await.context("set up the GitHub side")?;
        if done.is_empty() {
            report::out("nothing to change on GitHub: the environment, its tag rule and the secrets are in place");
        }
        for line in done {
            report::out(&line);
        }
    }
    Ok(Outcome { role_arn: names.role_arn(), repo: ctx.repo.to_string() })
}

/// The changes of the plan, in order; nothing at all while a step is refused.
async fn apply_aws(client: &aws_sdk_iam::Client, names: &Names, plan: &Plan) -> Result<()> {
    let refused = plan.refused();
    if !refused.is_empty() {
        let why: Vec<String> = refused.iter().map(|it| format!("{}: {}", it.title, it.lines.join("; "))).collect();
        bail!("nothing was changed, because the plan refuses a step: {}", why.join(" | "));
    }
    let changes = plan.changes();
    if changes.is_empty() {
        report::out(
            "nothing to change: the OIDC provider, the role, its trust policy, the permission policy and its \
             attachment are as the plan wants them",
        );
        return Ok(());
    }
    let mut done = Vec::new();
    for change in changes {
        let line = change.apply(client, names).await.map_err(|err| iam::context(err, &done))?;
        report::out(&line);
        done.push(line);
    }
    Ok(())
}

/// The role (`--role-name`, else the name in AWS_ROLE_ARN, else the guide's) and
/// its policy, in the caller's account.
fn names(cmd: &flags::Setup, settings: &Settings, account: &str) -> Result<Names> {
    let partition = arn::partition(&settings.region).to_owned();
    let from_setting = settings.role_arn.as_deref().and_then(arn::parse);
    let role = match (&cmd.role_name, &from_setting) {
        (Some(name), _) => name.clone(),
        (None, Some(parsed)) if parsed.account != account => bail!(
            "{} names a role in account {}, but the credentials are of account {account}, where setup would create \
             it: sign in to {} (or pass --role-name NAME to set up a role in {account})",
            settings::ROLE_ARN,
            parsed.account,
            parsed.account
        ),
        (None, Some(parsed)) => parsed.resource.rsplit('/').next().unwrap_or(DEFAULT_ROLE_NAME).to_owned(),
        (None, None) => DEFAULT_ROLE_NAME.to_owned(),
    };
    let ok =
        (1..=64).contains(&role.len()) && role.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if !ok {
        bail!("the role name {role:?} is not an IAM role name: 1 to 64 letters, digits and +=,.@_- (--role-name)");
    }
    let policy = format!("{role}-publish");
    Ok(Names { partition, account: account.to_owned(), role, policy })
}

/// The five settings `release.yml` reads, with the role's ARN as setup makes it.
fn secret_values(settings: &Settings, names: &Names) -> Vec<SecretValue> {
    [
        (settings::ROLE_ARN, names.role_arn()),
        (settings::REGION, settings.region.clone()),
        (settings::DOMAIN, settings.domain.clone()),
        (settings::DOMAIN_OWNER, settings.domain_owner.clone()),
        (settings::REPOSITORY, settings.repository.clone()),
    ]
    .into_iter()
    .map(|(key, value)| SecretValue::new(key.env, value))
    .collect()
}
