//! The tokens the simulation presents: the release job's (`expected`) and a fixed
//! list of look-alikes (`counter_examples`), each a `Scenario`
//! that knows its subject under a subject template and the other claims of its token.
//! Parts a job could choose freely (a pull request number, a workflow file name) stay
//! unknown (`Text`), so a policy is judged for every value they could take.

use super::{COUNTER_TAG, TrustContext, TrustFacts};
use crate::policy::glob::{self, Tok};

/// The recommended `sub` condition (operator, value): the environment form when the
/// job has an environment, else the tag-push pattern; immutable ids when asked.
pub(crate) fn recommended_sub(ctx: &TrustContext, immutable: bool) -> (&'static str, String) {
    let repo = if immutable { ctx.repo.immutable_name() } else { ctx.repo.full_name() };
    match &ctx.environment {
        Some(env) => ("StringEquals", format!("repo:{repo}:environment:{}", encode(env))),
        None if ctx.release_ref.starts_with("refs/tags/v") => ("StringLike", format!("repo:{repo}:ref:refs/tags/v*")),
        None => ("StringEquals", format!("repo:{repo}:ref:{}", ctx.release_ref)),
    }
}

/// GitHub writes `:` in a value of the sub as `%3A`.
pub(super) fn encode(value: &str) -> String {
    value.replace(':', "%3A")
}

/// The claim keys that make up the subject: the repository's custom template when
/// it has one, else GitHub's default (`repo`, then the context).
pub(super) fn template(facts: &TrustFacts) -> Vec<String> {
    match &facts.sub_template {
        Some(t) if !t.use_default && !t.include_claim_keys.is_empty() => t.include_claim_keys.clone(),
        _ => vec!["repo".to_owned(), "context".to_owned()],
    }
}

/// A claim value with parts the simulation does not know (`Any`, shown by name).
#[derive(Debug, Clone, Default)]
pub(super) struct Text(Vec<Part>);

#[derive(Debug, Clone)]
enum Part {
    Lit(String),
    Any(&'static str),
    /// Unknown, without `/` (a file name).
    Segment(&'static str),
    /// Unknown digits (an id GitHub assigned).
    Digits(&'static str),
}

impl Text {
    fn lit(text: impl Into<String>) -> Text {
        Text(vec![Part::Lit(text.into())])
    }
    fn any(name: &'static str) -> Text {
        Text(vec![Part::Any(name)])
    }
    fn known_or(value: &Option<String>, name: &'static str) -> Text {
        value.as_ref().map(Text::lit).unwrap_or(Text::any(name))
    }
    /// An id: as given, or some digits (GitHub's ids are numbers).
    fn id_or(value: &Option<String>, name: &'static str) -> Text {
        value.as_ref().map(Text::lit).unwrap_or(Text(vec![Part::Digits(name)]))
    }
    fn then(mut self, other: Text) -> Text {
        self.0.extend(other.0);
        self
    }
    fn and(self, text: &str) -> Text {
        self.then(Text::lit(text))
    }
    pub(super) fn shape(&self) -> Vec<Tok> {
        let mut out = Vec::new();
        for part in &self.0 {
            match part {
                Part::Lit(s) => out.extend(glob::literal(s)),
                Part::Any(_) => out.push(Tok::Star),
                Part::Segment(_) => out.push(Tok::Segment),
                Part::Digits(_) => out.push(Tok::Digits),
            }
        }
        out
    }
    pub(super) fn display(&self) -> String {
        self.0
            .iter()
            .map(|it| match it {
                Part::Lit(s) => s.as_str(),
                Part::Any(name) | Part::Segment(name) | Part::Digits(name) => name,
            })
            .collect()
    }
    /// The known text before the first unknown part.
    fn known_prefix(&self) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Any(_) | Part::Segment(_) | Part::Digits(_) => break,
            }
        }
        out
    }
    fn encoded(self) -> Text {
        Text(
            self.0
                .into_iter()
                .map(|it| match it {
                    Part::Lit(s) => Part::Lit(encode(&s)),
                    other => other,
                })
                .collect(),
        )
    }
}

/// The context part of a default subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SubContext {
    Environment(String),
    PullRequest,
    Ref(String),
}

/// A job that requests a token: whose repository, which trigger, which claims.
#[derive(Debug, Clone)]
pub(super) struct Scenario {
    pub(super) owner: String,
    pub(super) owner_id: Option<String>,
    pub(super) name: String,
    pub(super) name_id: Option<String>,
    pub(super) immutable: bool,
    pub(super) context: SubContext,
    /// The ref the job runs on (for an environment job); `None`: any ref.
    pub(super) job_ref: Option<String>,
    pub(super) aud: String,
    pub(super) workflow: Option<String>,
}

impl Scenario {
    fn git_ref(&self) -> Text {
        match &self.context {
            SubContext::Ref(r) => Text::lit(r),
            SubContext::PullRequest => Text::lit("refs/pull/").then(Text::any("NUMBER")).and("/merge"),
            SubContext::Environment(_) => Text::known_or(&self.job_ref, "REF"),
        }
    }

    fn repo_part(&self) -> Text {
        if self.immutable {
            Text::lit(format!("{}@", self.owner))
                .then(Text::id_or(&self.owner_id, "OWNER_ID"))
                .and(&format!("/{}@", self.name))
                .then(Text::id_or(&self.name_id, "REPO_ID"))
        } else {
            Text::lit(format!("{}/{}", self.owner, self.name))
        }
    }

    fn context_part(&self) -> Text {
        match &self.context {
            SubContext::Environment(env) => Text::lit(format!("environment:{}", encode(env))),
            SubContext::PullRequest => Text::lit("pull_request"),
            SubContext::Ref(r) => Text::lit(format!("ref:{r}")),
        }
    }

    /// The value of claim `name` in this job's token; `None` when absent.
    pub(super) fn claim(&self, name: &str) -> Option<Text> {
        let repository = format!("{}/{}", self.owner, self.name);
        Some(match name {
            "aud" => Text::lit(&self.aud),
            "repository" => Text::lit(repository),
            "repository_owner" => Text::lit(&self.owner),
            "repository_id" => Text::id_or(&self.name_id, "REPO_ID"),
            "repository_owner_id" => Text::id_or(&self.owner_id, "OWNER_ID"),
            "environment" => match &self.context {
                SubContext::Environment(env) => Text::lit(env),
                _ => return None,
            },
            "ref" => self.git_ref(),
            "ref_type" => {
                let known = self.git_ref().known_prefix();
                if known.starts_with("refs/tags/") {
                    Text::lit("tag")
                } else if known.starts_with("refs/heads/") {
                    Text::lit("branch")
                } else {
                    Text::any("REF_TYPE")
                }
            }
            "event_name" => match self.context {
                SubContext::PullRequest => Text::lit("pull_request"),
                _ => Text::any("EVENT"),
            },
            // The workflow a job calls can be any repository's reusable workflow
            // (GitHub: "Using OpenID Connect with reusable workflows"), so unless
            // the job is known to be the release job, any value.
            "job_workflow_ref" if self.workflow.is_none() => Text::any("JOB_WORKFLOW_REF"),
            "job_workflow_ref" | "workflow_ref" => {
                let file = match &self.workflow {
                    Some(path) => Text::lit(path),
                    None => Text::lit(".github/workflows/").then(Text(vec![Part::Segment("WORKFLOW.yml")])),
                };
                Text::lit(format!("{repository}/")).then(file).and("@").then(self.git_ref())
            }
            // Claims the simulation does not model (actor, run_id, …) take any value.
            _ => Text::any("VALUE"),
        })
    }

    /// The sub built by `template` (GitHub's `include_claim_keys`).
    pub(super) fn sub(&self, template: &[String]) -> Text {
        let mut out = Text::default();
        for (i, key) in template.iter().enumerate() {
            if i > 0 {
                out = out.and(":");
            }
            out = match key.as_str() {
                "repo" => out.and("repo:").then(self.repo_part()),
                "context" => out.then(self.context_part()),
                other => out.and(&format!("{other}:")).then(self.claim(other).unwrap_or_default().encoded()),
            };
        }
        out
    }
}

/// The release job of `ctx`.
pub(super) fn expected(ctx: &TrustContext, facts: &TrustFacts) -> Scenario {
    Scenario {
        owner: ctx.repo.owner.clone(),
        owner_id: ctx.repo.owner_id.clone(),
        name: ctx.repo.name.clone(),
        name_id: ctx.repo.name_id.clone(),
        immutable: facts.immutable_subjects.unwrap_or(ctx.repo.has_ids()),
        context: match &ctx.environment {
            Some(env) => SubContext::Environment(env.clone()),
            None => SubContext::Ref(ctx.release_ref.clone()),
        },
        job_ref: Some(ctx.release_ref.clone()),
        aud: ctx.audience.clone(),
        workflow: ctx.workflow.clone(),
    }
}

/// What a counter-example stands for; selects the finding when it gets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    AnyRepository,
    OwnerPrefix,
    RepoPrefix,
    OrgWide,
    /// A repository the policy itself names (or a pattern of it), not the release
    /// repository: another owner's, or another of the owner's.
    Foreign,
    SameRepo,
}

/// The release job of `ctx` on a push of the counter-examples' tag.
fn tag_push(ctx: &TrustContext) -> Scenario {
    let tag = COUNTER_TAG.to_owned();
    Scenario {
        owner: ctx.repo.owner.clone(),
        owner_id: ctx.repo.owner_id.clone(),
        name: ctx.repo.name.clone(),
        name_id: ctx.repo.name_id.clone(),
        immutable: false,
        context: SubContext::Ref(tag.clone()),
        job_ref: Some(tag),
        aud: ctx.audience.clone(),
        // Not the release job: it may call any reusable workflow.
        workflow: None,
    }
}

/// A made-up name: not the release repository's own (`taken`), nor named in the
/// policy (`mentioned`, its condition values in lower case).
fn pick(want: &str, taken: &str, mentioned: &str) -> String {
    let mut name = want.to_owned();
    while name.eq_ignore_ascii_case(taken) || mentioned.contains(&name.to_lowercase()) {
        name.push('2');
    }
    name
}

/// The counter-examples of the other repositories (any owner, a look-alike owner,
/// a look-alike name, another repository of the owner) in the context of `job`, in
/// both forms: what a pattern that pins the context still lets in.
pub(super) fn other_repositories(ctx: &TrustContext, mentioned: &str, job: &Scenario) -> Vec<(Class, Scenario)> {
    let id = |n: &str| Some(n.to_owned());
    let base = Scenario {
        context: job.context.clone(),
        job_ref: job.job_ref.clone(),
        immutable: false,
        workflow: None,
        ..tag_push(ctx)
    };
    let list = [
        (
            Class::AnyRepository,
            Scenario {
                owner: pick("attacker", &ctx.repo.owner, mentioned),
                owner_id: id("66600001"),
                name: "x".into(),
                name_id: id("66600002"),
                ..base.clone()
            },
        ),
        (
            Class::OwnerPrefix,
            Scenario {
                owner: pick(&format!("{}-evil", ctx.repo.owner), "", mentioned),
                owner_id: id("66600003"),
                name_id: id("66600004"),
                ..base.clone()
            },
        ),
        (
            Class::RepoPrefix,
            Scenario {
                name: pick(&format!("{}-evil", ctx.repo.name), "", mentioned),
                name_id: id("66600005"),
                ..base.clone()
            },
        ),
        (Class::OrgWide, Scenario { name: pick("other", &ctx.repo.name, mentioned), name_id: id("66600006"), ..base }),
    ];
    list.iter()
        .flat_map(|(class, it)| [(*class, it.clone()), (*class, Scenario { immutable: !it.immutable, ..it.clone() })])
        .collect()
}

/// The fixed look-alikes every trust policy must refuse: another owner's
/// repository, `OWNER-evil/REPO`, `OWNER/REPO-evil`, `OWNER/other`, a pull request,
/// a feature branch and another environment of the repository (the kinds of
/// `trust.any-repository`, `trust.prefix-wildcard`, `trust.org-wide` and
/// `trust.broad-subject` in docs/checks.md), in the name-only and the immutable
/// form. The other repositories get made-up ids; the release repository keeps its
/// own (or unknown ones). The made-up names avoid `mentioned` (the policy's
/// condition values, lower-case), so that a repository the policy names outright is
/// reported as such and never as "any repository".
pub(super) fn counter_examples(ctx: &TrustContext, mentioned: &str) -> Vec<(Class, Scenario)> {
    let base = tag_push(ctx);
    let id = |n: &str| Some(n.to_owned());
    let pick = |want: &str, taken: &str| pick(want, taken, mentioned);
    let branch = "refs/heads/feature-x".to_owned();
    let main = "refs/heads/main".to_owned();
    let mut list = vec![
        (
            Class::AnyRepository,
            Scenario {
                owner: pick("attacker", &ctx.repo.owner),
                owner_id: id("66600001"),
                name: "x".into(),
                name_id: id("66600002"),
                context: SubContext::Ref(main.clone()),
                job_ref: Some(main),
                ..base.clone()
            },
        ),
        (
            Class::OwnerPrefix,
            Scenario {
                owner: pick(&format!("{}-evil", ctx.repo.owner), ""),
                owner_id: id("66600003"),
                name_id: id("66600004"),
                ..base.clone()
            },
        ),
        (
            Class::RepoPrefix,
            Scenario { name: pick(&format!("{}-evil", ctx.repo.name), ""), name_id: id("66600005"), ..base.clone() },
        ),
        (Class::OrgWide, Scenario { name: pick("other", &ctx.repo.name), name_id: id("66600006"), ..base.clone() }),
        (Class::SameRepo, Scenario { context: SubContext::PullRequest, job_ref: None, ..base.clone() }),
    ];
    if !(ctx.environment.is_none() && ctx.release_ref == branch) {
        list.push((
            Class::SameRepo,
            Scenario { context: SubContext::Ref(branch.clone()), job_ref: Some(branch.clone()), ..base.clone() },
        ));
    }
    if ctx.environment.as_deref() != Some("scratch") {
        // An environment job that an attacker starts from a branch of their own.
        list.push((
            Class::SameRepo,
            Scenario { context: SubContext::Environment("scratch".into()), job_ref: Some(branch), ..base },
        ));
    }
    let immutable: Vec<(Class, Scenario)> =
        list.iter().map(|(class, it)| (*class, Scenario { immutable: true, ..it.clone() })).collect();
    list.extend(immutable);
    list
}
