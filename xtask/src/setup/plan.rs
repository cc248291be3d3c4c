//! The AWS part of the plan, in the order of docs/setup-guide.ja.md: the GitHub OIDC
//! provider, the role with its trust policy, the permission policy, its attachment;
//! then, with private build dependencies, the same three for the build-deps job's
//! read role. Each step says what exists and what will be created or changed (with
//! the diff of its document), and why a difference is kept or refused: the rules of
//! `decide`, so nothing is widened without saying so, narrowed without `--force`, or
//! deleted.

use serde_json::Value;

use super::{
    decide::{self, Verdict},
    diff,
    iam::{Change, MAX_POLICY_VERSIONS, Names, PROVIDER_URL, RoleState, State},
};
use crate::policy::{PublishTarget, Purpose, TrustContext};

/// What a step comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    UpToDate,
    Create,
    Update,
    /// Differs, and stays as it is (the reason is in the step).
    Kept,
    /// Nothing of the plan is applied while a step is refused.
    Refused,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::UpToDate => "up to date",
            Status::Create => "create",
            Status::Update => "update",
            Status::Kept => "kept as it is",
            Status::Refused => "refused",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub title: String,
    pub status: Status,
    pub lines: Vec<String>,
    pub diff: Option<String>,
    pub change: Option<Change>,
    /// The role the change is for (the provider's counts as the release role's).
    pub purpose: Purpose,
}

impl Step {
    fn new(title: String, status: Status) -> Step {
        Step { title, status, lines: Vec::new(), diff: None, change: None, purpose: Purpose::Release }
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// What each role's other policies allow beyond its needs: the role's name
    /// and the findings.
    pub others: Vec<(String, Vec<String>)>,
}

impl Plan {
    /// The changes, each with the role it is for.
    pub fn changes(&self) -> Vec<(Purpose, &Change)> {
        self.steps.iter().filter_map(|it| it.change.as_ref().map(|change| (it.purpose, change))).collect()
    }

    pub fn refused(&self) -> Vec<&Step> {
        self.steps.iter().filter(|it| it.status == Status::Refused).collect()
    }
}

/// What the plan of one role is made from besides IAM's state.
pub struct Inputs<'a> {
    pub names: &'a Names,
    pub ctx: &'a TrustContext,
    pub target: &'a PublishTarget,
    pub trust: &'a Value,
    pub permissions: &'a Value,
    pub force: bool,
}

/// The plan: the provider (for the release role's audience), the release role's
/// three steps, then the read role's when `read` is given.
pub fn build(state: &State, release: &Inputs, read: Option<&Inputs>) -> Plan {
    let mut steps = vec![provider(state, release)];
    let mut others = Vec::new();
    let roles = [(Some(&state.release), Some(release)), (state.read.as_ref(), read)];
    for (role_state, inputs) in roles {
        let (Some(role_state), Some(inputs)) = (role_state, inputs) else { continue };
        steps.extend(role_steps(role_state, inputs));
        let purpose = inputs.names.purpose;
        let found = role_state
            .role
            .as_ref()
            .map(|it| decide::other_policies(&it.others, inputs.target, purpose))
            .unwrap_or_default();
        if !found.is_empty() {
            others.push((inputs.names.role.clone(), found));
        }
    }
    Plan { steps, others }
}

/// The role with its trust policy, its permission policy and the attachment.
fn role_steps(state: &RoleState, inputs: &Inputs) -> Vec<Step> {
    let purpose = inputs.names.purpose;
    let attached = state.role.as_ref().is_some_and(|it| it.attached);
    let title = format!("Attachment of {} to the role {}", inputs.names.policy, inputs.names.role);
    let mut attach = Step::new(title, if attached { Status::UpToDate } else { Status::Create });
    if !attached {
        attach.change = Some(Change::Attach);
    }
    let mut steps = vec![role(state, inputs), permission_policy(state, inputs), attach];
    for step in &mut steps {
        step.purpose = purpose;
    }
    steps
}

/// What the role is for, as the plan says it.
fn job(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Release => "the release",
        Purpose::Read => "the build-deps job",
    }
}

fn provider(state: &State, inputs: &Inputs) -> Step {
    let audience = &inputs.ctx.audience;
    let title = format!("GitHub OIDC provider {}", inputs.names.provider_arn());
    match &state.provider {
        None => {
            let mut step = Step::new(title, Status::Create);
            step.lines.push(format!(
                "url {PROVIDER_URL}, audience {audience}; no thumbprint: IAM verifies GitHub's certificate through \
                 its own trusted certificate authorities"
            ));
            step.change = Some(Change::CreateProvider { audience: audience.clone() });
            step
        }
        Some(ids) if ids.contains(audience) => {
            let mut step = Step::new(title, Status::UpToDate);
            step.lines.push(format!("exists, with the audience {audience}"));
            let others: Vec<&String> = ids.iter().filter(|it| *it != audience).collect();
            if !others.is_empty() {
                step.lines.push(format!(
                    "it also accepts the audiences {others:?}; setup leaves them (it never removes anything): remove \
                     them if nothing else uses them"
                ));
            }
            step
        }
        Some(ids) => {
            let mut step = Step::new(title, Status::Update);
            step.lines.push(format!(
                "exists with the audiences {ids:?}; widens: it will also accept tokens for the audience {audience}, \
                 which the release requests"
            ));
            step.change = Some(Change::AddAudience { audience: audience.clone() });
            step
        }
    }
}

fn role(state: &RoleState, inputs: &Inputs) -> Step {
    let names = inputs.names;
    let purpose = names.purpose;
    let title = match purpose {
        Purpose::Release => format!("Role {} ({}) and its trust policy", names.role, names.role_arn()),
        Purpose::Read => {
            format!("Read role {} ({}) of the build-deps job and its trust policy", names.role, names.role_arn())
        }
    };
    let generated = inputs.trust.to_string();
    let Some(role) = &state.role else {
        let mut step = Step::new(title, Status::Create);
        step.lines.push(format!("MaxSessionDuration 3600 s, the session {} asks for", job(purpose)));
        if purpose == Purpose::Read {
            step.lines.push(read_role_note(inputs.ctx));
        }
        step.diff = Some(diff::added(inputs.trust));
        step.change = Some(Change::CreateRole { trust: generated });
        return step;
    };
    let diff = match diff::documents(&role.trust, inputs.trust) {
        Ok(None) => return Step::new(title, Status::UpToDate),
        Ok(Some(diff)) => diff,
        Err(why) => {
            // Unreadable: it may admit anyone, so it counts as admitting others.
            let verdict = Verdict { foreign: vec![format!("the trust policy cannot be read: {why}")], ..empty() };
            let change = Change::UpdateTrust { trust: generated };
            return judged(title, &verdict, inputs, change, None, "role");
        }
    };
    let verdict = decide::trust(&role.trust, inputs.ctx);
    judged(title, &verdict, inputs, Change::UpdateTrust { trust: generated }, Some(diff), "role")
}

/// Why the read role's environment needs no reviewers.
fn read_role_note(ctx: &TrustContext) -> String {
    let env = ctx.environment.as_deref().unwrap_or_default();
    format!(
        "trusted only for jobs of {} in the `{env}` environment (release.yml's build-deps job, which downloads the \
         locked build requirements so that the build job holds no token); its policy can read the repository and \
         write nothing, so `{env}` needs a deployment tag rule but no required reviewers: a release waits for \
         reviewers once, before the publish job",
        ctx.repo
    )
}

fn permission_policy(state: &RoleState, inputs: &Inputs) -> Step {
    let names = inputs.names;
    let title = format!("Permission policy {} ({}), a managed policy", names.policy, names.policy_arn());
    let generated = inputs.permissions.to_string();
    let Some(policy) = &state.policy else {
        let mut step = Step::new(title, Status::Create);
        step.diff = Some(diff::added(inputs.permissions));
        step.change = Some(Change::CreatePolicy { document: generated });
        return step;
    };
    let (verdict, diff) = match diff::documents(&policy.document, inputs.permissions) {
        Ok(None) => return Step::new(title, Status::UpToDate),
        Ok(Some(diff)) => {
            let text = diff::decode(&policy.document);
            (decide::permission(&names.policy, &text, inputs.target, names.purpose), Some(diff))
        }
        Err(why) => (Verdict { broader: vec![format!("the document cannot be read: {why}")], ..empty() }, None),
    };
    let change = Change::NewPolicyVersion { document: generated };
    let mut step = judged(title, &verdict, inputs, change, diff, "policy");
    if step.change.is_some() && policy.versions >= MAX_POLICY_VERSIONS {
        step.status = Status::Refused;
        step.change = None;
        step.lines.push(format!(
            "the policy has {} versions, IAM's limit, and setup never deletes one: delete a version you no longer \
             need (`aws iam list-policy-versions --policy-arn {arn}`, then `aws iam delete-policy-version \
             --policy-arn {arn} --version-id vN`, not the default one) and run setup again",
            policy.versions,
            arn = names.policy_arn()
        ));
    }
    step
}

fn empty() -> Verdict {
    Verdict { foreign: Vec::new(), broader: Vec::new(), missing: Vec::new() }
}

/// The step for an existing document that differs from the generated one: the rules
/// of the module header, with the analysis' words for what changes.
fn judged(title: String, verdict: &Verdict, inputs: &Inputs, change: Change, diff: Option<String>, what: &str) -> Step {
    let (force, job) = (inputs.force, job(inputs.names.purpose));
    let lines = |label: &str, items: &[String]| items.iter().map(|it| format!("{label}: {it}")).collect::<Vec<_>>();
    let mut step = Step::new(title, Status::Update);
    step.diff = diff;
    if !verdict.foreign.is_empty() && !force {
        step.status = Status::Refused;
        step.lines.push(
            "the existing trust policy admits other repositories or principals, so setup does not touch this role \
             (nor attach anything to it); --force replaces the trust policy with the generated one"
                .to_owned(),
        );
        step.lines.extend(lines("admits", &verdict.foreign));
        return step;
    }
    if !verdict.broader.is_empty() && !force {
        step.status = Status::Kept;
        let document = if what == "role" { "trust policy" } else { "policy" };
        step.lines.push(format!(
            "the existing {document} allows more than {job} needs, and setup narrows nothing unless asked: \
             --force replaces it with the generated one"
        ));
        step.lines.extend(lines("allows more", &verdict.broader));
        step.lines.extend(lines(&format!("and lacks ({job} fails until it is fixed)"), &verdict.missing));
        return step;
    }
    if verdict.fine() && !force {
        step.status = Status::Kept;
        step.lines.push(format!(
            "it differs from the generated document, but the analysis finds it allows what {job} needs and nothing \
             more; --force replaces it"
        ));
        return step;
    }
    step.lines.extend(lines("narrows, no longer", &verdict.foreign));
    step.lines.extend(lines("narrows, no longer", &verdict.broader));
    step.lines.extend(lines(&format!("widens, adds what {job} needs"), &verdict.missing));
    if verdict.fine() {
        step.lines.push("replaced (--force); the analysis finds no difference in what they allow".to_owned());
    }
    if matches!(change, Change::NewPolicyVersion { .. }) {
        step.lines.push("as a new default version; the current one stays in IAM".to_owned());
    }
    step.change = Some(change);
    step
}

/// The plan as text: numbered steps, their lines, and each diff indented.
pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    for (i, step) in plan.steps.iter().enumerate() {
        out.push_str(&format!("{}. {}: {}\n", i + 1, step.title, step.status.label()));
        for line in &step.lines {
            out.push_str(&format!("   {}\n", line.replace('\n', "\n   ")));
        }
        if let Some(diff) = &step.diff {
            out.push_str("   --- in IAM\n   +++ generated (as `cargo xtask iam-policy` prints it)\n");
            for line in diff.lines() {
                out.push_str(&format!("   {line}\n"));
            }
        }
    }
    for (role, lines) in &plan.others {
        out.push_str(&format!(
            "The other policies of the role {role} allow more than it needs; setup never detaches or deletes a \
             policy, so remove what nothing else needs yourself:\n"
        ));
        for line in lines {
            out.push_str(&format!("   {line}\n"));
        }
    }
    out
}
