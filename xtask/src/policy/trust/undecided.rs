//! What the analysis cannot vouch for, said as failures: a document larger than
//! IAM accepts (`policy.too-large`), sub values that admit subjects of other
//! repositories' own templates (`trust.foreign-repository`), and anything the
//! proof could not decide (`trust.unproven`): a value it could not finish within
//! its work budget, or one whose counter-examples the policy's other conditions
//! refused only on the sample tokens tried. The check fails closed: it never
//! passes, or merely warns, on what it did not show.

use super::{KEY_PREFIX, analysis::Analysis, counter_examples::Tried, scenario, subjects::Proof};
use crate::policy::{Finding, Severity, document::Document};

/// IAM's largest role trust policy, in characters without whitespace: the "Role
/// trust policy length" quota is 2,048 by default and 4,096 at most
/// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
pub(crate) const MAX_TRUST_POLICY: usize = 4096;
/// The default of that quota.
pub(crate) const DEFAULT_TRUST_POLICY: usize = 2048;

/// How many undecided values a finding names.
const NAMED: usize = 5;

/// A document larger than IAM accepts for a trust policy is not one: refused.
pub(super) fn size_limit(doc: &Document) -> Option<Finding> {
    (doc.size > MAX_TRUST_POLICY).then(|| {
        Finding::new(
            "policy.too-large",
            Severity::Error,
            format!(
                "trust policy: {} characters (whitespace not counted), more than IAM accepts for a role trust \
                 policy: the \"Role trust policy length\" quota is {DEFAULT_TRUST_POLICY} characters by default and \
                 {MAX_TRUST_POLICY} at most, whitespace not counted \
                 (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html). No role can have \
                 this document, so it is not analysed: pass the role's trust policy as `aws iam get-role \
                 --role-name ROLE --query Role.AssumeRolePolicyDocument` prints it",
                doc.size
            ),
        )
    })
}

/// Sub values that admit subjects another repository can write with a subject
/// template of its own.
pub(super) fn foreign_template(proof: &Proof) -> Option<Finding> {
    let (value, witness) = proof.foreign_template.first()?;
    let values: Vec<String> = proof.foreign_template.iter().map(|(v, _)| format!("{v:?}")).collect();
    Some(Finding::new(
        "trust.foreign-repository",
        Severity::Critical,
        format!(
            "sub value(s) {} admit subjects that other repositories write when they choose a subject template of \
             their own (any repository admin may, with `PUT /repos/OWNER/REPO/actions/oidc/customization/sub`): \
             {value:?} admits {witness:?}. Start every sub value with this repository's own \"repo:OWNER/REPO:\" \
             and spell out the context",
            values.join(", ")
        ),
    ))
}

/// The values named in a message: the first few, and how many more.
fn named(values: &[String]) -> String {
    let shown: Vec<String> = values.iter().take(NAMED).map(|it| format!("{it:?}")).collect();
    match values.len().saturating_sub(NAMED) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

impl Analysis<'_> {
    /// What the proof could not show, whatever else was found: the check cannot
    /// vouch for the policy, so it fails rather than pass (or warn) on the tokens
    /// it happened to try.
    pub(super) fn unproven(&self, proof: &Proof, tried: &Tried, out: &[Finding]) -> Option<Finding> {
        let ran_out = self.budgets.ran_out();
        // Values whose counter-examples no token showed getting through: whether
        // the other conditions refuse all of what they admit was only sampled.
        let sampled: Vec<(String, String)> = proof
            .offending
            .iter()
            .filter(|(v, _)| !tried.decided.contains(v) && !proof.unsearched.contains(v))
            .filter_map(|(v, w)| w.clone().map(|w| (v.clone(), w)))
            .collect();
        if !ran_out && proof.unsearched.is_empty() && sampled.is_empty() {
            // Nothing in particular; a proof that failed for want of a subject
            // template or a sub condition is what the other findings say.
            if proof.proven || out.iter().any(|it| it.severity > Severity::Info) {
                return None;
            }
        }
        let mut why: Vec<String> = Vec::new();
        if !proof.unsearched.is_empty() {
            why.push(format!(
                "the analysis could not work out what the sub value(s) {} admit within its work budget",
                named(&proof.unsearched)
            ));
        } else if ran_out {
            why.push(
                "the analysis ran out of its work budget before it had tried every token, so what the policy \
                 admits was not worked out in full"
                    .to_owned(),
            );
        }
        if let Some((value, witness)) = sampled.first() {
            let values: Vec<String> = sampled.iter().map(|(v, _)| v.clone()).collect();
            why.push(format!(
                "the sub value(s) {} admit more ({value:?} admits {witness:?}), and whether the policy's other \
                 conditions refuse all of that was tried on sample tokens only",
                named(&values)
            ));
        }
        if why.is_empty() {
            why.push(
                "its sub conditions admit more than the release job, and what refuses the rest was tried on \
                      sample tokens only"
                    .to_owned(),
            );
        }
        Some(Finding::new(
            "trust.unproven",
            Severity::Error,
            format!(
                "nothing shows that the trust policy admits only {}'s release job: {}. {}",
                self.ctx.repo.full_name(),
                why.join("; "),
                self.unproven_fix()
            ),
        ))
    }

    fn unproven_fix(&self) -> String {
        let (op, sub) = scenario::recommended_sub(self.ctx, self.ctx.repo.has_ids());
        format!(
            "Write the subject out with few wildcards, such as {op} {KEY_PREFIX}sub = {sub:?}, or add StringEquals \
             conditions on {KEY_PREFIX}repository and :environment (or :ref for tag pushes)"
        )
    }
}
