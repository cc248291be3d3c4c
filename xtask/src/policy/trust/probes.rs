//! The tokens the whole trust policy is tried with, each with the class of finding
//! it stands for: the fixed look-alikes (`scenario::counter_examples`),
//! the counter-examples the proof found in the policy's own `sub` patterns
//! (`subjects`), and the repositories that the policy's other claim conditions name
//! (`repository`, `repository_owner`, `job_workflow_ref`, `workflow_ref`), because a
//! pattern like `repo:*` next to `repository = someone-else/*` hands the role to
//! someone else without naming them in `sub`.

use super::{
    KEY_PREFIX,
    analysis::{Analysis, github_facing},
    scenario::{self, Class, Scenario, SubContext},
    subjects::Proof,
};
use crate::policy::glob;

/// The branch an attacker with write access pushes to.
const FEATURE_BRANCH: &str = "refs/heads/feature-x";

/// How many repositories named in other claims are tried as tokens.
const MAX_NAMED: usize = 16;

/// In how many contexts of counter-examples the other repositories are tried.
const MAX_CONTEXTS: usize = 8;

/// A subject taken apart under a template.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parsed {
    owner: String,
    owner_id: Option<String>,
    name: String,
    name_id: Option<String>,
    context: SubContext,
}

/// Splits `subject` by the claim keys of `template` (no value holds a `:`).
fn parse(subject: &str, template: &[String]) -> Option<Parsed> {
    let parts: Vec<&str> = subject.split(':').collect();
    let (mut i, mut repo, mut context) = (0, None, None);
    for key in template {
        match key.as_str() {
            "repo" if parts.get(i) == Some(&"repo") => {
                repo = parts.get(i + 1).copied();
                i += 2;
            }
            "context" => {
                context = Some(match *parts.get(i)? {
                    "environment" => SubContext::Environment(parts.get(i + 1)?.replace("%3A", ":")),
                    "pull_request" => SubContext::PullRequest,
                    "ref" => SubContext::Ref((*parts.get(i + 1)?).to_owned()),
                    _ => return None,
                });
                i += if context == Some(SubContext::PullRequest) { 1 } else { 2 };
            }
            _ => i += 2,
        }
    }
    let (owner, name) = repo?.split_once('/')?;
    let split = |part: &str| match part.split_once('@') {
        Some((name, id)) => (name.to_owned(), Some(id.to_owned())),
        None => (part.to_owned(), None),
    };
    let ((owner, owner_id), (name, name_id)) = (split(owner), split(name));
    Some(Parsed { owner, owner_id, name, name_id, context: context? })
}

impl Analysis<'_> {
    /// Every token to try, with its class.
    pub(super) fn probes(&self, proof: &Proof) -> Vec<(Class, Scenario)> {
        let mentioned = self.mentioned();
        let mut out = scenario::counter_examples(self.ctx, &mentioned);
        let mut contexts: Vec<SubContext> = Vec::new();
        for witness in &proof.witnesses {
            let Some(parsed) = parse(witness, &self.template) else { continue };
            let (class, probe) = self.probe(parsed);
            // The other repositories in the same context: a pattern that pins the
            // context can still let any repository in.
            if !contexts.contains(&probe.context) && contexts.len() < MAX_CONTEXTS {
                contexts.push(probe.context.clone());
                let job = Scenario {
                    job_ref: if class == Class::SameRepo { None } else { probe.job_ref.clone() },
                    ..probe.clone()
                };
                out.extend(scenario::other_repositories(self.ctx, &mentioned, &job));
            }
            out.push((class, probe));
        }
        let mut named = self.named_repositories();
        // A few in a fixed order: each is tried in three contexts and both forms.
        named.sort();
        named.truncate(MAX_NAMED);
        for (owner, name) in named {
            for context in [self.allowed_context(), SubContext::PullRequest, SubContext::Ref("refs/heads/main".into())]
            {
                let parsed =
                    Parsed { owner: owner.clone(), owner_id: None, name: name.clone(), name_id: None, context };
                let (class, scenario) = self.probe(parsed);
                out.push((class, Scenario { immutable: true, ..scenario.clone() }));
                out.push((class, scenario));
            }
        }
        out
    }

    /// The token of a parsed subject: the release repository's (another context)
    /// or a foreign one, whose owner may choose every other claim.
    fn probe(&self, parsed: Parsed) -> (Class, Scenario) {
        let repo = &self.ctx.repo;
        // Another id under the same name is another (recreated) owner or repository.
        let same_id = |have: &Option<String>, want: &Option<String>| match (have, want) {
            (Some(have), Some(want)) => have == want,
            _ => true,
        };
        let same_owner = parsed.owner.eq_ignore_ascii_case(&repo.owner) && same_id(&parsed.owner_id, &repo.owner_id);
        let same =
            same_owner && parsed.name.eq_ignore_ascii_case(&repo.name) && same_id(&parsed.name_id, &repo.name_id);
        let made_up = |id: Option<String>, n: &str| id.or_else(|| Some(n.to_owned()));
        let immutable = parsed.owner_id.is_some();
        let (owner, name, owner_id, name_id) = if same {
            (repo.owner.clone(), repo.name.clone(), repo.owner_id.clone(), repo.name_id.clone())
        } else if same_owner {
            (repo.owner.clone(), parsed.name, repo.owner_id.clone(), made_up(parsed.name_id, "66600021"))
        } else {
            (parsed.owner, parsed.name, made_up(parsed.owner_id, "66600022"), made_up(parsed.name_id, "66600023"))
        };
        // The owner of a foreign repository picks every ref and workflow file; an
        // attacker in the release repository pushes a branch of their own.
        let job_ref = match &parsed.context {
            SubContext::Ref(r) => Some(r.clone()),
            SubContext::Environment(_) if same => Some(FEATURE_BRANCH.to_owned()),
            _ => None,
        };
        let scenario = Scenario {
            owner,
            owner_id,
            name,
            name_id,
            immutable,
            context: parsed.context,
            job_ref,
            aud: self.ctx.audience.clone(),
            // Any job may call any reusable workflow, so only the release job's own
            // token is known to name the release workflow.
            workflow: None,
        };
        (if same { Class::SameRepo } else { Class::Foreign }, scenario)
    }

    /// The context of the release job's own subject.
    fn allowed_context(&self) -> SubContext {
        match &self.ctx.environment {
            Some(env) => SubContext::Environment(env.clone()),
            None => SubContext::Ref(self.ctx.release_ref.clone()),
        }
    }

    /// Repositories other than the release repository that the GitHub-facing
    /// statements name in claims beside `sub`, wildcards filled in.
    fn named_repositories(&self) -> Vec<(String, String)> {
        let repo = &self.ctx.repo;
        let mut out: Vec<(String, String)> = Vec::new();
        for statement in self.doc.statements.iter().filter(|it| github_facing(it)) {
            for condition in statement.conditions.iter().filter(|it| it.operator.kind.restricts_subject()) {
                let key = condition.key_lower();
                let Some(claim) = key.strip_prefix(KEY_PREFIX) else { continue };
                for value in &condition.values {
                    let text = fill(value);
                    let mut segments = text.split('/');
                    let pair = match claim {
                        "repository" | "job_workflow_ref" | "workflow_ref" => segments.next().zip(segments.next()),
                        "repository_owner" => Some((text.as_str(), "x")),
                        _ => None,
                    };
                    let Some((owner, name)) = pair.filter(|(o, n)| !o.is_empty() && !n.is_empty()) else { continue };
                    let name = name.split('@').next().unwrap_or(name);
                    let ours = owner.eq_ignore_ascii_case(&repo.owner) && name.eq_ignore_ascii_case(&repo.name);
                    let pair = (owner.to_owned(), name.to_owned());
                    if !ours && !out.contains(&pair) {
                        out.push(pair);
                    }
                }
            }
        }
        out
    }

    /// Every condition value of the policy, lower-case, for made-up names to avoid.
    pub(super) fn mentioned(&self) -> String {
        let mut out = String::new();
        for statement in &self.doc.statements {
            for condition in &statement.conditions {
                for value in &condition.values {
                    out.push_str(&value.to_lowercase());
                    out.push('\n');
                }
            }
        }
        out
    }
}

/// A pattern with each wildcard replaced by `x`: one string it matches.
fn fill(pattern: &str) -> String {
    glob::pattern(pattern)
        .iter()
        .map(|tok| match tok {
            glob::Tok::Char(c) => *c,
            _ => 'x',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_split_by_their_template() {
        let default = ["repo".to_owned(), "context".to_owned()];
        let parsed = parse("repo:someone-else/x:environment:prod%3Aeu", &default).unwrap();
        assert_eq!((parsed.owner.as_str(), parsed.name.as_str()), ("someone-else", "x"));
        assert_eq!(parsed.context, SubContext::Environment("prod:eu".into()));
        let parsed = parse("repo:o@1/r@2:ref:refs/heads/x", &default).unwrap();
        assert_eq!((parsed.owner_id.as_deref(), parsed.name_id.as_deref()), (Some("1"), Some("2")));
        assert_eq!(parse("repo:o/r:pull_request", &default).unwrap().context, SubContext::PullRequest);
        let custom = ["repo".to_owned(), "context".to_owned(), "job_workflow_ref".to_owned()];
        let parsed = parse("repo:o/r:pull_request:job_workflow_ref:o/r/x.yml@refs/heads/x", &custom).unwrap();
        assert_eq!(parsed.context, SubContext::PullRequest);
        assert!(parse("repo:o:pull_request", &default).is_none());
        assert!(parse("nonsense", &default).is_none());
        assert_eq!(fill("someone-else/*"), "someone-else/x");
    }
}
