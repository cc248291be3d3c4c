//! The release job's own token: it must be allowed, and when it is not, the finding
//! says why (`trust.audience`, `trust.provider`, `trust.name-only-subject` for the
//! subject form, `trust.subject-mismatch` for the environment, letter case and the
//! rest; `trust.unknowable-condition` when it depends on the request). When it is
//! allowed, tokens for another audience (`trust.audience`) and a recreated
//! repository of the same name (`trust.name-only-subject`) must not be.

use super::{
    AUD, JOB_WORKFLOW_REF, KEY_PREFIX, SUB,
    analysis::{Analysis, github_facing},
    scenario::{Scenario, SubContext},
};
use crate::policy::{Finding, Severity, document::OpKind, eval::Tri, glob, quoted};

impl Analysis<'_> {
    /// The release job's token must be allowed (`trust.subject-mismatch`,
    /// `trust.audience`, `trust.name-only-subject` when it is not).
    pub(super) fn check_expected(&self, out: &mut Vec<Finding>) -> Tri {
        let exp = self.expected();
        match self.allowed(&exp) {
            Tri::Yes => return Tri::Yes,
            Tri::Maybe => {
                out.push(self.unknowable_condition(&exp));
                return Tri::Maybe;
            }
            Tri::No => {}
        }
        let explained = self.refused_for_audience(&exp, out)
            || self.refused_for_provider(&exp, out)
            // No statement for GitHub tokens at all: trust.provider or trust.action said why.
            || !self.doc.statements.iter().any(github_facing)
            || self.refused_for_immutable_form(&exp, out);
        if !explained {
            out.push(self.subject_mismatch(&exp));
        }
        Tri::No
    }

    /// The release job's token is let in or not depending on what the check cannot
    /// know: say what.
    fn unknowable_condition(&self, exp: &Scenario) -> Finding {
        let mut what = self.unknowable(exp);
        if what.is_empty() {
            what.push("a condition whose outcome this check cannot work out".to_owned());
        }
        Finding::new(
            "trust.unknowable-condition",
            Severity::Medium,
            format!(
                "could not confirm that the trust policy allows the release job's token (sub {:?}): whether STS \
                 lets it in depends on {}",
                self.sub(exp),
                what.join("; and on ")
            ),
        )
    }

    /// The token is refused only for its audience.
    fn refused_for_audience(&self, exp: &Scenario, out: &mut Vec<Finding>) -> bool {
        if self.eval(exp, &[AUD], false) == Tri::No {
            return false;
        }
        let aud = &self.ctx.audience;
        let want: Vec<String> = self.values_of(AUD).into_iter().map(|(_, v)| v).collect();
        out.push(Finding::new(
            "trust.audience",
            Severity::Error,
            format!(
                "the release job requests a token for audience {aud:?}, but the trust policy requires aud = [{}]; \
                 set \"{AUD}\": \"{aud}\" in the trust policy (or request the audience the policy names with \
                 GITHUB_OIDC_AUDIENCE)",
                quoted(&want)
            ),
        ));
        true
    }

    /// The token is refused only for the provider the policy names.
    fn refused_for_provider(&self, exp: &Scenario, out: &mut Vec<Finding>) -> bool {
        if self.eval(exp, &[], true) == Tri::No && self.eval(exp, &[AUD], true) == Tri::No {
            return false;
        }
        // The provider ARN is what refuses it, and `check_principals` said so.
        if !out.iter().any(|it| it.id == "trust.provider" && it.severity == Severity::Error) {
            out.push(Finding::new(
                "trust.provider",
                Severity::Error,
                format!(
                    "the trust policy's Federated principal is not GitHub's provider in account {}; use {:?}",
                    self.account(),
                    self.provider_arn()
                ),
            ));
        }
        true
    }

    /// The repository emits immutable subjects, and the policy accepts only the
    /// name-only form.
    fn refused_for_immutable_form(&self, exp: &Scenario, out: &mut Vec<Finding>) -> bool {
        let named = Scenario { immutable: false, ..exp.clone() };
        if !exp.immutable || self.allowed(&named) == Tri::No {
            return false;
        }
        out.push(Finding::new(
            "trust.name-only-subject",
            Severity::Error,
            format!(
                "{} emits immutable subjects ({:?}), but the trust policy accepts only the name-only form ({:?}), so \
                 STS answers \"Not authorized to perform sts:AssumeRoleWithWebIdentity\"; update the condition: {}",
                self.ctx.repo.full_name(),
                self.sub(exp),
                self.sub(&named),
                self.snippet(true)
            ),
        ));
        true
    }

    /// The general refusal: the policy's sub values, the reasons this check could
    /// tell, and the condition to use.
    fn subject_mismatch(&self, exp: &Scenario) -> Finding {
        let (sub, aud) = (self.sub(exp), &self.ctx.audience);
        let mut why = Vec::new();
        let denied_by = self.denied_by(exp);
        if !denied_by.is_empty() {
            why.push(format!("it is denied explicitly by {}", denied_by.join(", ")));
        }
        why.extend(self.environment_mismatch(exp, &sub));
        why.extend(self.immutable_only(exp));
        why.extend(self.case_mismatch(exp));
        let values: Vec<String> = self.values_of(SUB).into_iter().map(|(_, v)| v).collect();
        let values = if values.is_empty() { "none".to_owned() } else { format!("[{}]", quoted(&values)) };
        let why = if why.is_empty() { String::new() } else { format!(": {}", why.join("; ")) };
        Finding::new(
            "trust.subject-mismatch",
            Severity::Error,
            format!(
                "the trust policy does not allow the release job's token (sub {sub:?}, aud {aud:?}), so STS answers \
                 \"Not authorized to perform sts:AssumeRoleWithWebIdentity\"{why}. The policy's sub values: \
                 {values}. Allow the release job with {}",
                self.snippet(exp.immutable)
            ),
        )
    }

    /// The policy expects a ref where the job's environment takes its place in the
    /// sub, or an environment the job does not have.
    fn environment_mismatch(&self, exp: &Scenario, sub: &str) -> Vec<String> {
        let mut why = Vec::new();
        match &self.ctx.environment {
            Some(env) => {
                let mut refs = vec![self.ctx.release_ref.clone(), "refs/heads/main".to_owned()];
                refs.dedup();
                for r in refs {
                    let alt = Scenario { context: SubContext::Ref(r.clone()), job_ref: Some(r), ..exp.clone() };
                    if self.allowed(&alt) != Tri::No {
                        why.push(format!(
                            "the job uses environment {env:?}, so its sub is {sub:?}, not {:?} (an environment takes \
                             precedence over the ref in the sub)",
                            self.sub(&alt)
                        ));
                        break;
                    }
                }
            }
            None => {
                for env in self.environments_named() {
                    let alt = Scenario { context: SubContext::Environment(env.clone()), ..exp.clone() };
                    if self.allowed(&alt) != Tri::No {
                        why.push(format!(
                            "the trust policy expects environment {env:?}, but the release job has no environment, so \
                             its sub is {sub:?}; add `environment: {env}` to the job or change the policy"
                        ));
                    }
                }
            }
        }
        why
    }

    /// The policy accepts only the immutable form, which the job does not present.
    fn immutable_only(&self, exp: &Scenario) -> Option<String> {
        let immutable = Scenario { immutable: true, ..exp.clone() };
        (!exp.immutable && self.allowed(&immutable) != Tri::No).then(|| {
            format!(
                "the trust policy accepts only the immutable form ({:?}), which a repository emits only when created \
                 on or after 2026-07-15 or opted in; if {} does, pass it as OWNER@OWNER_ID/REPO@REPO_ID",
                self.sub(&immutable),
                self.ctx.repo.full_name()
            )
        })
    }

    /// A sub value matches the job's only when letter case is ignored.
    fn case_mismatch(&self, exp: &Scenario) -> Option<String> {
        let exp_shape = exp.sub(&self.template).shape();
        let exp_lower = glob::lowercase(&exp_shape);
        let (mut exact, mut ignoring_case) = (false, false);
        for (kind, value) in self.values_of(SUB) {
            let policy = if kind == OpKind::StringLike { glob::pattern(&value) } else { glob::literal(&value) };
            exact |= kind != OpKind::StringEqualsIgnoreCase && glob::intersects(&policy, &exp_shape);
            ignoring_case |= glob::intersects(&glob::lowercase(&policy), &exp_lower);
        }
        (ignoring_case && !exact).then(|| {
            format!(
                "a sub value differs from it only in letter case: values are case-sensitive, and GitHub writes the \
                 names exactly as `gh api repos/{} --jq .full_name` prints them",
                self.ctx.repo.full_name()
            )
        })
    }

    /// Environment names that the policy's sub values spell out.
    fn environments_named(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, value) in self.values_of(SUB) {
            if let Some((_, rest)) = value.split_once(":environment:") {
                let env = rest.split(':').next().unwrap_or_default().replace("%3A", ":");
                if !env.is_empty() && !glob::has_wildcard(&env) && !out.contains(&env) {
                    out.push(env);
                }
            }
        }
        out
    }

    /// `trust.name-only-subject` (name-only form): a recreated repository of the same
    /// name must not get in.
    pub(super) fn check_name_reuse(&self, expected: Tri, out: &mut Vec<Finding>) {
        let exp = self.expected();
        // Out of budget, answers are cautious guesses (`trust.unproven` says so).
        if exp.immutable || expected != Tri::Yes || self.budgets.evaluation.ran_out() {
            return;
        }
        let reuse = Scenario { owner_id: Some("77700001".into()), name_id: Some("77700002".into()), ..exp.clone() };
        if self.allowed(&reuse) == Tri::No {
            return;
        }
        let repo = &self.ctx.repo;
        let (severity, how) = if repo.has_ids() {
            (Severity::Medium, String::new())
        } else {
            (
                Severity::Info,
                format!(" (look the ids up with `gh api repos/{} --jq '.owner.id, .id'`)", repo.full_name()),
            )
        };
        out.push(Finding::new(
            "trust.name-only-subject",
            severity,
            format!(
                "the trust policy trusts the name-only subject {:?}: if {} is deleted or renamed, whoever registers \
                 the name gets the role too. Prefer the immutable form (\"{}\") or add \"StringEquals\": \
                 {{\"{KEY_PREFIX}repository_id\": \"{}\"}}{how}",
                self.sub(&exp),
                repo.full_name(),
                self.recommended_sub(true).1,
                repo.name_id.as_deref().unwrap_or("REPO_ID")
            ),
        ));
    }

    /// `trust.audience`: tokens minted for another audience must be refused.
    pub(super) fn check_audience(&self, expected: Tri, out: &mut Vec<Finding>) {
        let exp = self.expected();
        let probe = Scenario { aud: format!("https://github.com/{}", self.ctx.repo.owner), ..exp };
        // When the release token itself is refused, look at the audience alone.
        let relax: &[&str] = if expected == Tri::Yes { &[] } else { &[SUB, JOB_WORKFLOW_REF] };
        if self.eval(&probe, relax, false) == Tri::No || self.budgets.evaluation.ran_out() {
            return;
        }
        let aud = &self.ctx.audience;
        let fix = format!("add \"StringEquals\": {{\"{AUD}\": \"{aud}\"}}");
        let (severity, note) = match &self.facts.provider {
            Some(p) if p.exists && p.client_ids.iter().all(|it| it == aud) => (
                Severity::Low,
                format!(
                    "; STS already refuses other audiences because the provider accepts only {aud:?}, but pin it anyway"
                ),
            ),
            Some(p) if p.exists => {
                let others: Vec<String> = p.client_ids.iter().filter(|it| *it != aud).cloned().collect();
                (Severity::Medium, format!("; the provider also accepts [{}]", quoted(&others)))
            }
            _ => (Severity::Medium, String::new()),
        };
        out.push(Finding::new(
            "trust.audience",
            severity,
            format!(
                "the trust policy does not pin aud = {aud:?}: tokens minted for other audiences that the provider \
                 accepts could be replayed{note}; {fix}"
            ),
        ));
    }
}
