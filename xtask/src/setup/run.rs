//! The order of `setup`: settings and names checked, the caller's identity, what IAM
//! and GitHub hold, the plan printed (the AWS part, then the GitHub part), the
//! changes (`--apply`, `--apply-github`), and after `--apply` the verdict of
//! `check-iam --inspect-role`, which runs outside this module's runtime because it
//! starts its own.
//!
//! With private build dependencies every part has the build-deps job's read role
//! too: its role, policy and attachment after the release role's, the `build-deps`
//! environment and its secrets after the release environment's, and its verdict
//! (`check-iam --inspect-role --read-role`) after the release role's.
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
    policy::{self, PartitionSource, PublishTarget, Purpose, TrustContext},
    project::{self, Project},
    report,
    settings::{self, Settings},
};

/// What the async part leaves for the verdict.
struct Outcome {
    role_arn: String,
    repo: String,
    /// The read role's ARN, with private build dependencies.
    read_role_arn: Option<String>,
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
        github_repo: Some(outcome.repo.clone()),
        environment: cmd.environment.clone(),
        inspect_role: true,
        role_arn: Some(outcome.role_arn),
        read_role: false,
    };
    let release = check.run(sh).context("check the role with `check-iam --inspect-role` after applying the plan");
    let Some(read_role_arn) = outcome.read_role_arn else { return release };
    // The read role's verdict even when the release role's failed: both are news.
    report::out(&format!("\n== Verdict: `cargo xtask check-iam --inspect-role --read-role` on {read_role_arn}"));
    let check = flags::CheckIam {
        format: None,
        trust_policy: None,
        permission_policy: Vec::new(),
        github_repo: Some(outcome.repo),
        environment: None,
        inspect_role: true,
        role_arn: Some(read_role_arn),
        read_role: true,
    };
    let read = check
        .run(sh)
        .context("check the read role with `check-iam --inspect-role --read-role` after applying the plan");
    release.and(read)
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
    let read = ReadRole::new(&names, &ctx, &target, &account)?;
    let client = iam::client(&session.config);
    let state = iam::read(&client, &names, read.as_ref().map(|it| &it.names))
        .await
        .context("read what IAM holds of the setup (read-only calls)")?;
    let inputs = plan::Inputs {
        names: &names,
        ctx: &ctx,
        target: &target,
        trust: &trust,
        permissions: &permissions,
        force: cmd.force,
    };
    let read_inputs = read.as_ref().map(|read| plan::Inputs {
        names: &read.names,
        ctx: &read.ctx,
        target: &target,
        trust: &read.trust,
        permissions: &read.permissions,
        force: cmd.force,
    });
    let plan = plan::build(&state, &inputs, read_inputs.as_ref());
    let roles = if read.is_some() { "the release role and the build-deps job's read role" } else { "the release role" };
    report::out(&format!(
        "== AWS: {roles} for {} in account {account} (as {})\n{}",
        ctx.repo,
        session.identity.arn,
        format!("{}{}", plan::render(&plan), origin::render(&origin_step, plan.steps.len() + 1)).trim_end()
    ));
    let github = github_plan(sh, cmd, &ctx, names.role_arn(), read.as_ref()).await;
    if cmd.apply {
        // Nothing at all is applied while a step is refused, this one included.
        origin_step.check_not_refused()?;
        report::out("\n== AWS: applying the plan");
        apply_aws(&client, (&names, read.as_ref().map(|it| &it.names)), &plan).await?;
    }
    if cmd.apply {
        let done = origin::apply(&session, settings, &origin_step).await;
        report::out(&done.context("set the package's origin controls (the IAM part is done); run setup again")?);
    }
    if cmd.apply_github {
        report::out("\n== GitHub: applying the plan");
        apply_github(settings, &github).await?;
    }
    Ok(Outcome {
        role_arn: names.role_arn(),
        repo: ctx.repo.to_string(),
        read_role_arn: read.map(|it| it.names.role_arn()),
    })
}

/// One environment of the GitHub part: what it is, the ARN of its role (the
/// `AWS_ROLE_ARN` secret), and what GitHub holds of it.
struct Environment<'a> {
    side: Side<'a>,
    role_arn: String,
    prepared: github::Prepared,
}

/// The GitHub part, read (with a token) and printed: the release environment, and
/// the read role's `build-deps` environment with private build dependencies.
async fn github_plan<'a>(
    sh: &Shell,
    cmd: &'a flags::Setup,
    ctx: &'a TrustContext,
    role_arn: String,
    read: Option<&'a ReadRole>,
) -> Vec<Environment<'a>> {
    let release = Side {
        repo: &ctx.repo,
        environment: ctx.environment.as_deref(),
        reviewers: &cmd.reviewer,
        force: cmd.force,
        needs_reviewers: true,
    };
    let mut sides = vec![(release, role_arn)];
    if let Some(read) = read {
        let side = Side {
            repo: &ctx.repo,
            environment: read.ctx.environment.as_deref(),
            reviewers: &[],
            force: cmd.force,
            needs_reviewers: false,
        };
        sides.push((side, read.names.role_arn()));
    }
    let mut out = Vec::new();
    for (side, role_arn) in sides {
        let prepared = github::prepare(sh, &side).await;
        let what = match side.environment {
            Some(env) => format!("the `{env}` environment of {} and its secrets", ctx.repo.full_name()),
            None => format!("the repository secrets of {}", ctx.repo.full_name()),
        };
        report::out(&format!("\n== GitHub: {what}\n{}", github::render(&prepared, &side).trim_end()));
        out.push(Environment { side, role_arn, prepared });
    }
    out
}

/// The GitHub part of the plan, environment by environment.
async fn apply_github(settings: &Settings, environments: &[Environment<'_>]) -> Result<()> {
    let mut changed = false;
    for environment in environments {
        let values = secret_values(settings, &environment.role_arn);
        let done = github_apply::apply(&environment.prepared, &environment.side, &values)
            .await
            .context("set up the GitHub side")?;
        changed |= !done.is_empty();
        for line in done {
            report::out(&line);
        }
    }
    if !changed {
        report::out(if environments.len() > 1 {
            "nothing to change on GitHub: the environments, their tag rules and the secrets are in place"
        } else {
            "nothing to change on GitHub: the environment, its tag rule and the secrets are in place"
        });
    }
    Ok(())
}

/// The build-deps job's read role, with private build dependencies: its names, its
/// trust context (the `build-deps` environment, no reviewers) and its documents.
struct ReadRole {
    names: Names,
    ctx: TrustContext,
    trust: serde_json::Value,
    permissions: serde_json::Value,
}

impl ReadRole {
    fn new(names: &Names, ctx: &TrustContext, target: &PublishTarget, account: &str) -> Result<Option<ReadRole>> {
        if !target.private_dependencies {
            return Ok(None);
        }
        if ctx.environment.as_deref() == Some(policy::READ_ENVIRONMENT) {
            bail!(
                "--environment {env}: with private-dependencies the environment {env} belongs to the build-deps job, \
                 whose read role it unlocks without reviewers; give the publish job another environment (the \
                 default is release)",
                env = policy::READ_ENVIRONMENT
            );
        }
        let ctx = policy::read_role_context(ctx, policy::READ_ENVIRONMENT);
        Ok(Some(ReadRole {
            names: names.read(),
            trust: policy::recommended_trust_policy(&ctx, account),
            permissions: policy::read_role_policy(target),
            ctx,
        }))
    }
}

/// The changes of the plan, in order, each with its role's names; nothing at all
/// while a step is refused.
async fn apply_aws(client: &aws_sdk_iam::Client, (names, read): (&Names, Option<&Names>), plan: &Plan) -> Result<()> {
    let refused = plan.refused();
    if !refused.is_empty() {
        let why: Vec<String> = refused.iter().map(|it| format!("{}: {}", it.title, it.lines.join("; "))).collect();
        bail!("nothing was changed, because the plan refuses a step: {}", why.join(" | "));
    }
    let changes = plan.changes();
    if changes.is_empty() {
        let read =
            if read.is_some() { "; so are the read role, its trust policy, its policy and attachment" } else { "" };
        report::out(&format!(
            "nothing to change: the OIDC provider, the role, its trust policy, the permission policy and its \
             attachment are as the plan wants them{read}"
        ));
        return Ok(());
    }
    let mut done = Vec::new();
    for (purpose, change) in changes {
        let names = match (purpose, read) {
            (Purpose::Read, Some(read)) => read,
            (Purpose::Read, None) => bail!("the plan changes a read role it has no names for; this is a bug of setup"),
            (Purpose::Release, _) => names,
        };
        let line = change.apply(client, names).await.map_err(|err| iam::context(err, &done))?;
        report::out(&line);
        done.push(line);
    }
    Ok(())
}

/// The role (`--role-name`, else the name in AWS_ROLE_ARN, else
/// `DEFAULT_ROLE_NAME`) and its policy, in the caller's account.
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
    Ok(Names { partition, account: account.to_owned(), role, policy, purpose: Purpose::Release })
}

/// The five settings `release.yml` reads, with the ARN of the environment's role
/// as setup makes it.
fn secret_values(settings: &Settings, role_arn: &str) -> Vec<SecretValue> {
    [
        (settings::ROLE_ARN, role_arn.to_owned()),
        (settings::REGION, settings.region.clone()),
        (settings::DOMAIN, settings.domain.clone()),
        (settings::DOMAIN_OWNER, settings.domain_owner.clone()),
        (settings::REPOSITORY, settings.repository.clone()),
    ]
    .into_iter()
    .map(|(key, value)| SecretValue::new(key.env, value))
    .collect()
}
