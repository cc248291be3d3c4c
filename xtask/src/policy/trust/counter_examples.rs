//! The counter-examples (T2–T5): tokens of other repositories, look-alike owners
//! and names, and other branches, pull requests and environments of the release
//! repository must all be refused. Which kind gets through selects the finding.

use super::{
    analysis::Analysis,
    scenario::{Class, counter_examples},
};
use crate::policy::{Finding, Severity, eval::Tri, glob::Tok, quoted};

/// A counter-example that the policy does not refuse.
struct Hit {
    class: Class,
    sub: String,
    shape: Vec<Tok>,
    answer: Tri,
}

/// What the findings say about the hits of one class: the sub patterns to blame,
/// the subjects that get through, and a note when that depends on conditions the
/// check cannot evaluate.
struct Described {
    who: String,
    subs: String,
    maybe: &'static str,
}

impl Analysis<'_> {
    /// T2–T5: every counter-example must be refused. Returns the refused subjects.
    pub(super) fn check_counter_examples(&self, unrestricted: bool, out: &mut Vec<Finding>) -> Vec<String> {
        let (hits, rejected) = self.try_counter_examples();
        let describe = |class: Class| self.describe(&hits, class);
        let pin = self.snippet(self.expected().immutable);
        if let Some(any) = describe(Class::AnyRepository) {
            // T1 already says that any repository gets in.
            if !unrestricted {
                out.push(any_repository(&any, &pin));
            }
            return rejected;
        }
        if let Some(owner_prefix) = describe(Class::OwnerPrefix) {
            out.push(self.owner_prefix(&owner_prefix, &pin));
        }
        if let Some(org_wide) = describe(Class::OrgWide) {
            out.push(self.org_wide(&org_wide, &pin));
        } else if let Some(repo_prefix) = describe(Class::RepoPrefix) {
            out.push(self.repo_prefix(&repo_prefix, &pin));
        }
        if let Some(same_repo) = describe(Class::SameRepo) {
            out.push(self.broad_subject(&same_repo, &pin));
        }
        rejected
    }

    /// Presents every counter-example: the ones that get through, and the subjects
    /// of the refused ones.
    fn try_counter_examples(&self) -> (Vec<Hit>, Vec<String>) {
        let mut hits = Vec::new();
        let mut rejected = Vec::new();
        for (class, scenario) in counter_examples(self.ctx) {
            let sub = scenario.sub(&self.template);
            match self.allowed(&scenario) {
                Tri::No => rejected.push(sub.display()),
                answer => hits.push(Hit { class, sub: sub.display(), shape: sub.shape(), answer }),
            }
        }
        (hits, rejected)
    }

    /// The hits of `class`, described for a finding; `None` when there are none.
    fn describe(&self, hits: &[Hit], class: Class) -> Option<Described> {
        let matched: Vec<&Hit> = hits.iter().filter(|it| it.class == class).collect();
        if matched.is_empty() {
            return None;
        }
        let mut culprits: Vec<String> = Vec::new();
        for hit in &matched {
            for value in self.culprits(&hit.shape) {
                if !culprits.contains(&value) {
                    culprits.push(value);
                }
            }
        }
        let who = match culprits.len() {
            0 => "the trust policy".to_owned(),
            1 => format!("sub pattern {:?}", culprits[0]),
            _ => format!("sub patterns {}", quoted(&culprits)),
        };
        let mut subs: Vec<String> = Vec::new();
        for hit in &matched {
            if !subs.contains(&hit.sub) {
                subs.push(hit.sub.clone());
            }
        }
        let maybe = if matched.iter().all(|it| it.answer == Tri::Maybe) {
            " (assuming that the conditions this check cannot evaluate pass)"
        } else {
            ""
        };
        Some(Described { who, subs: quoted(&subs), maybe })
    }

    fn owner_prefix(&self, it: &Described, pin: &str) -> Finding {
        let Described { who, subs, maybe } = it;
        let owner = &self.ctx.repo.owner;
        Finding::new(
            "trust.prefix-wildcard",
            Severity::Critical,
            format!(
                "{who} also matches other owners whose name starts with {owner:?}, which anyone can register; it \
                 allows {subs}{maybe}. End the owner segment with \"/\" and the repository segment with \":\", as in \
                 {pin}"
            ),
        )
    }

    fn org_wide(&self, it: &Described, pin: &str) -> Finding {
        let Described { who, subs, maybe } = it;
        let (owner, repo) = (&self.ctx.repo.owner, self.ctx.repo.full_name());
        Finding::new(
            "trust.org-wide",
            Severity::High,
            format!(
                "{who} allows every repository of {owner}, including repositories created later; it allows \
                 {subs}{maybe}. Pin it to {repo}: {pin}"
            ),
        )
    }

    fn repo_prefix(&self, it: &Described, pin: &str) -> Finding {
        let Described { who, subs, maybe } = it;
        let name = &self.ctx.repo.name;
        Finding::new(
            "trust.prefix-wildcard",
            Severity::Critical,
            format!(
                "{who} also matches repositories named {name}-anything; it allows {subs}{maybe}. End the repository \
                 segment with \":\", as in {pin}"
            ),
        )
    }

    fn broad_subject(&self, it: &Described, pin: &str) -> Finding {
        let Described { who, subs, maybe } = it;
        let repo = self.ctx.repo.full_name();
        let preferred = match &self.ctx.environment {
            Some(env) => format!("environment:{env}"),
            None => "ref:refs/tags/v* (or, better, an environment: environment:release)".to_owned(),
        };
        Finding::new(
            "trust.broad-subject",
            Severity::High,
            format!(
                "{who} lets other branches, same-repository pull requests or other environments of {repo} obtain \
                 publish credentials; it allows {subs}{maybe}. Anyone with write access could push a workflow and \
                 publish. Restrict it to {preferred}: {pin}"
            ),
        )
    }
}

fn any_repository(it: &Described, pin: &str) -> Finding {
    let Described { who, subs, maybe } = it;
    Finding::new(
        "trust.any-repository",
        Severity::Critical,
        format!(
            "{who} matches every repository on github.com; it allows {subs}{maybe}. The AWS creation-time check \
             accepts such patterns, but they restrict nothing: pin the subject with {pin}"
        ),
    )
}
