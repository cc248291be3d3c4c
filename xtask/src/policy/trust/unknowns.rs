//! Conditions whose outcome for the release job's request the check cannot know,
//! each with what it cannot know: the runner's address (`aws:SourceIp`), the time
//! of the request, a claim STS may leave out of the request context, a policy
//! variable, or an operator IAM does not have. The operators are all known by name
//! (`document::OpKind`); what is unknowable is the request's value.

use super::{
    KEY_PREFIX, WEB_IDENTITY,
    analysis::{Analysis, STS_CLAIMS},
    scenario::Scenario,
};
use crate::policy::{
    document::{Condition, Effect, OpKind},
    eval::{self, Caller, Tri},
    glob,
};

/// Where GitHub says its addresses change and allowing by address is not advised.
const GITHUB_ADDRESSES: &str =
    "https://docs.github.com/en/authentication/keeping-your-account-and-data-secure/about-githubs-ip-addresses";

impl Analysis<'_> {
    /// The conditions that leave `scenario`'s request undecided, each said as what
    /// cannot be known, once.
    pub(super) fn unknowable(&self, scenario: &Scenario) -> Vec<String> {
        let sub = scenario.sub(&self.template).shape();
        let caller =
            Caller::GitHub { partition: self.ctx.partition.clone(), account: self.role_account(), any_provider: false };
        let mut out: Vec<String> = Vec::new();
        for statement in &self.doc.statements {
            let applies = eval::covers_action(&statement.action, WEB_IDENTITY)
                && statement.principal.as_ref().is_some_and(|it| eval::principal_matches(it, &caller));
            if !applies {
                continue;
            }
            for condition in &statement.conditions {
                let claim = self.claim(scenario, &sub, &condition.key_lower());
                let allow = statement.effect == Effect::Allow;
                if eval::condition_answer(condition, &claim, allow, Some(&self.budgets.evaluation)) != Tri::Maybe {
                    continue;
                }
                let why = format!("{} ({})", what_is_unknown(condition), statement.label());
                if !out.contains(&why) {
                    out.push(why);
                }
            }
        }
        out
    }
}

/// What the check cannot know about `condition` for the release job's request.
fn what_is_unknown(condition: &Condition) -> String {
    let (op, key) = (&condition.operator.name, &condition.key);
    let lower = condition.key_lower();
    if condition.operator.kind == OpKind::Unknown {
        return format!("{op} on {key}: {op:?} is not an IAM condition operator, and IAM refuses the document");
    }
    if let Some(value) = condition.values.iter().find(|it| glob::has_variable(it)) {
        return format!("{op} on {key}: the policy variable in {value:?} is replaced from the request");
    }
    if let Some(claim) = lower.strip_prefix(KEY_PREFIX)
        && !STS_CLAIMS.contains(&claim)
    {
        return format!(
            "{op} on {key}: STS may leave the claim {claim:?} out of the request context (it evaluates aud, sub and \
             the claims AWS lists), and then the key is missing"
        );
    }
    match lower.as_str() {
        "aws:sourceip" => format!(
            "{op} on {key}: the address the release job's request to STS comes from is the runner's, which this \
             check cannot know: a GitHub-hosted runner takes its address from ranges GitHub changes from time to \
             time, and GitHub advises against allowing by address ({GITHUB_ADDRESSES}), so the release may be \
             refused at random; keep such a condition only for self-hosted runners with fixed addresses"
        ),
        "aws:currenttime" | "aws:epochtime" => {
            format!("{op} on {key}: it depends on the time of the request, which this check does not assume")
        }
        _ => format!("{op} on {key}: a value of the release job's request that this check cannot know"),
    }
}
