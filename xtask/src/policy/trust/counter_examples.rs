//! Who else the policy admits: tokens of other repositories, look-alike
//! owners and names, repositories the policy names outright, and other branches,
//! pull requests and environments of the release repository must all be refused.
//! The tokens come from `probes`; which kind gets through selects the finding, and
//! a blamed pattern whose wildcard spans a separator of the subject gets one more.

use super::{analysis::Analysis, scenario::Class, subjects::Proof};
use crate::policy::{Finding, Severity, budget::Budget, document::OpKind, eval::Tri, quoted};

/// A token that the policy does not refuse.
struct Hit {
    class: Class,
    sub: String,
    answer: Tri,
    /// The sub values that match it (`Analysis::culprits`).
    culprits: Vec<String>,
}

/// What the findings say about the hits of one class: the sub patterns to blame,
/// the subjects that get through, and a note when that depends on conditions the
/// check cannot evaluate.
struct Described {
    culprits: Vec<String>,
    who: String,
    subs: String,
    maybe: &'static str,
}

/// The refused subjects, the patterns the findings blamed, and the sub values
/// some token that got through showed admitting too much (decided: a finding
/// says so).
pub(super) struct Tried {
    pub(super) rejected: Vec<String>,
    pub(super) blamed: Vec<String>,
    pub(super) decided: Vec<String>,
}

impl Analysis<'_> {
    /// Every token of another repository or context must be refused; which kind
    /// gets through selects the finding (`trust.any-repository`,
    /// `trust.prefix-wildcard`, `trust.org-wide`, `trust.foreign-repository`,
    /// `trust.broad-subject`).
    pub(super) fn check_counter_examples(&self, unrestricted: bool, proof: &Proof, out: &mut Vec<Finding>) -> Tried {
        let (hits, rejected) = self.try_probes(proof);
        let mut decided: Vec<String> = Vec::new();
        for hit in &hits {
            decided.extend(hit.culprits.iter().cloned());
        }
        decided.sort();
        decided.dedup();
        let describe = |class: Class| self.describe(&hits, class);
        let pin = self.snippet(self.expected().immutable);
        let mut blamed: Vec<String> = Vec::new();
        if let Some(any) = describe(Class::AnyRepository) {
            // `trust.sub-unrestricted` already says that any repository gets in.
            if !unrestricted {
                out.push(any_repository(&any, &pin));
            }
            return Tried { rejected, blamed: any.culprits, decided };
        }
        if let Some(owner_prefix) = describe(Class::OwnerPrefix) {
            out.push(self.owner_prefix(&owner_prefix, &pin));
            blamed.extend(owner_prefix.culprits);
        }
        if let Some(org_wide) = describe(Class::OrgWide) {
            out.push(self.org_wide(&org_wide, &pin));
            blamed.extend(org_wide.culprits);
        } else if let Some(repo_prefix) = describe(Class::RepoPrefix) {
            out.push(self.repo_prefix(&repo_prefix, &pin));
            blamed.extend(repo_prefix.culprits);
        }
        // What the broad classes do not already explain: repositories by name.
        let explained = blamed.clone();
        let foreign: Vec<&Hit> = hits
            .iter()
            .filter(|it| it.class == Class::Foreign)
            .filter(|it| it.culprits.is_empty() || it.culprits.iter().any(|c| !explained.contains(c)))
            .collect();
        if let Some(foreign) = self.describe_hits(&foreign) {
            out.push(self.foreign(&foreign, &pin));
            blamed.extend(foreign.culprits);
        }
        if let Some(same_repo) = describe(Class::SameRepo) {
            out.push(self.broad_subject(&same_repo, &pin));
            blamed.extend(same_repo.culprits);
        }
        Tried { rejected, blamed, decided }
    }

    /// A blamed `StringLike` pattern whose wildcard matches the `/` between owner
    /// and repository or the `:` between fields: it spans more than one name.
    pub(super) fn check_boundaries(&self, blamed: &[String], out: &mut Vec<Finding>) {
        let patterns: Vec<String> =
            self.values_of(super::SUB).into_iter().filter(|(k, _)| *k == OpKind::StringLike).map(|(_, v)| v).collect();
        // A crossing is found in a few hundred steps; more means a pattern no policy
        // needs, whose other findings say enough.
        let budget = Budget::new(50_000);
        for value in blamed.iter().filter(|it| patterns.contains(it)) {
            let Some((subject, separator)) = self.boundary_crossing(value, &budget) else { continue };
            let what = if separator == '/' {
                "the \"/\" between owner and repository, so it stands for any owner or repository"
            } else {
                "a \":\" between the fields of the subject, so it stands for several fields at once (repository, \
                 context)"
            };
            out.push(Finding::new(
                "trust.wildcard-boundary",
                Severity::High,
                format!(
                    "sub pattern {value:?} has a wildcard that also matches {what}: it admits {subject:?}. Keep \
                     every wildcard inside one field: spell out \"repo:{}:\" and the context, as in \
                     \"repo:{}:environment:NAME\" or \"repo:{}:ref:refs/tags/v*\"",
                    self.ctx.repo.full_name(),
                    self.ctx.repo.full_name(),
                    self.ctx.repo.full_name()
                ),
            ));
        }
    }

    /// Presents every probe: the ones that get through, and the subjects of the
    /// refused ones.
    fn try_probes(&self, proof: &Proof) -> (Vec<Hit>, Vec<String>) {
        let mut hits: Vec<Hit> = Vec::new();
        let mut rejected = Vec::new();
        for (class, scenario) in self.probes(proof) {
            let sub = scenario.sub(&self.template);
            let display = sub.display();
            let answer = self.allowed(&scenario);
            // An answer cut short by the budget is not one: stop there (the
            // analysis then fails closed, `trust.unproven`).
            if self.budgets.evaluation.ran_out() {
                break;
            }
            match answer {
                Tri::No if !rejected.contains(&display) => rejected.push(display),
                Tri::No => {}
                answer if !hits.iter().any(|it| it.class == class && it.sub == display) => {
                    let shape = sub.shape();
                    let culprits = self.culprits(&shape);
                    hits.push(Hit { class, sub: display, answer, culprits })
                }
                _ => {}
            }
        }
        (hits, rejected)
    }

    /// The hits of `class`, described for a finding; `None` when there are none.
    fn describe(&self, hits: &[Hit], class: Class) -> Option<Described> {
        let matched: Vec<&Hit> = hits.iter().filter(|it| it.class == class).collect();
        self.describe_hits(&matched)
    }

    fn describe_hits(&self, matched: &[&Hit]) -> Option<Described> {
        if matched.is_empty() {
            return None;
        }
        let mut culprits: Vec<String> = Vec::new();
        for hit in matched {
            for value in &hit.culprits {
                if !culprits.contains(value) {
                    culprits.push(value.clone());
                }
            }
        }
        let who = match culprits.len() {
            0 => "the trust policy".to_owned(),
            1 => format!("sub pattern {:?}", culprits[0]),
            _ => format!("sub patterns {}", quoted(&culprits)),
        };
        let mut subs: Vec<String> = Vec::new();
        for hit in matched {
            if !subs.contains(&hit.sub) {
                subs.push(hit.sub.clone());
            }
        }
        // Enough to show whom it admits; the rest adds nothing.
        subs.truncate(6);
        let maybe = if matched.iter().all(|it| it.answer == Tri::Maybe) {
            " (assuming that the conditions this check cannot evaluate pass)"
        } else {
            ""
        };
        Some(Described { culprits, who, subs: quoted(&subs), maybe })
    }

    fn owner_prefix(&self, it: &Described, pin: &str) -> Finding {
        let Described { who, subs, maybe, .. } = it;
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
        let Described { who, subs, maybe, .. } = it;
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
        let Described { who, subs, maybe, .. } = it;
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

    fn foreign(&self, it: &Described, pin: &str) -> Finding {
        let Described { who, subs, maybe, .. } = it;
        let repo = self.ctx.repo.full_name();
        Finding::new(
            "trust.foreign-repository",
            Severity::Critical,
            format!(
                "{who} admits repositories other than {repo}: it allows {subs}{maybe}. Whoever can run a workflow \
                 there can assume the release role and publish as {repo}. Remove it, or pin the subject: {pin}"
            ),
        )
    }

    fn broad_subject(&self, it: &Described, pin: &str) -> Finding {
        let Described { who, subs, maybe, .. } = it;
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
    let Described { who, subs, maybe, .. } = it;
    Finding::new(
        "trust.any-repository",
        Severity::Critical,
        format!(
            "{who} matches every repository on github.com; it allows {subs}{maybe}. The AWS creation-time check \
             accepts such patterns, but they restrict nothing: pin the subject with {pin}"
        ),
    )
}
