//! The questions every permission check asks: may the role make this call, with
//! the request context a release's call carries, and which statements decide it.
//! The checks themselves live in the sibling modules, each an `impl Analysis` block.

use super::{BEARER_TOKEN, PermissionFacts, PublishTarget, Purpose};
use crate::{
    arn,
    policy::{
        Finding, Severity,
        document::{Document, Effect, Names},
        eval::{self, Claim, Outcome, Request},
        glob::{self, Tok},
        quoted,
    },
};

/// The role's permission documents, read together, and what they are asked about.
pub(super) struct Analysis<'a> {
    pub(super) names: Vec<String>,
    pub(super) docs: Vec<Document>,
    pub(super) target: &'a PublishTarget,
    pub(super) facts: &'a PermissionFacts,
    /// Whose documents they are: what the role must and must not do.
    pub(super) purpose: Purpose,
}

impl Analysis<'_> {
    /// The account of the release role, when its ARN is known.
    pub(super) fn role_account(&self) -> Option<&str> {
        self.facts.role_arn.as_deref().and_then(arn::parse).map(|it| it.account).filter(|it| !it.is_empty())
    }

    /// The release role's session as AWS names it in its answers, with placeholders
    /// for what is unknown; in the role's partition, else the region's.
    pub(super) fn session_arn(&self) -> String {
        let role = self.facts.role_arn.as_deref();
        let partition =
            role.and_then(arn::parse).map_or_else(|| arn::partition(&self.target.region), |it| it.partition);
        let name = role.and_then(|it| it.rsplit('/').next()).unwrap_or("ROLE");
        arn::assumed_role(partition, self.role_account().unwrap_or("ACCOUNT"), name, "SESSION")
    }

    /// The request context of `action`: what the release's call carries. Keys the
    /// check cannot know are `Unknown`, so conditions on them give `Maybe`.
    pub(super) fn context(&self, action: &str, service: Option<&str>, duration: Option<i64>) -> impl Fn(&str) -> Claim {
        let bearer = action.eq_ignore_ascii_case(BEARER_TOKEN);
        let codeartifact = action.to_ascii_lowercase().starts_with("codeartifact:");
        let region = self.target.region.clone();
        let owner = self.target.domain_owner.clone();
        let role_arn = self.facts.role_arn.clone();
        let role_account = self.role_account().map(str::to_owned);
        let service = service.map(str::to_owned);
        move |key: &str| match key {
            "sts:awsservicename" if bearer => service.as_deref().map(Claim::known).unwrap_or(Claim::Absent),
            "sts:durationseconds" if bearer => match duration {
                // With 0 the token lives as long as the session; what reaches STS
                // then is not documented.
                Some(0) => Claim::Unknown,
                Some(seconds) => Claim::known(&seconds.to_string()),
                None => Claim::Absent,
            },
            "sts:awsservicename" | "sts:durationseconds" => Claim::Absent,
            "aws:requestedregion" => Claim::known(&region),
            "aws:resourceaccount" if codeartifact => Claim::known(&owner),
            "aws:principalaccount" => role_account.as_deref().map(Claim::known).unwrap_or(Claim::Unknown),
            "aws:principalarn" => role_arn.as_deref().map(Claim::known).unwrap_or(Claim::Unknown),
            "aws:principaltype" => Claim::known("AssumedRole"),
            "aws:securetransport" => Claim::known("true"),
            _ => Claim::Unknown,
        }
    }

    pub(super) fn ask_with(
        &self,
        action: &str,
        resource: Vec<Tok>,
        context: &dyn Fn(&str) -> Claim,
        relax: &[&str],
    ) -> Outcome {
        let docs: Vec<&Document> = self.docs.iter().collect();
        eval::decide(&docs, &Request { action, resource: Some(resource), caller: None, context, relax, budget: None })
    }

    /// May the role call `action` on `resource` as a release does?
    pub(super) fn ask(&self, action: &str, resource: &str) -> Outcome {
        let context = self.context(action, None, None);
        self.ask_with(action, glob::literal(resource), &context, &[])
    }

    pub(super) fn label(&self, (d, s): (usize, usize)) -> String {
        format!("{} of policy {:?}", self.docs[d].statements[s].label(), self.names[d])
    }

    pub(super) fn labels(&self, at: &[(usize, usize)]) -> String {
        at.iter().map(|it| self.label(*it)).collect::<Vec<_>>().join(", ")
    }

    /// The resources of the `Allow` statements whose Action covers `action`.
    pub(super) fn granted_on(&self, action: &str) -> Vec<String> {
        let mut out = Vec::new();
        for doc in &self.docs {
            for statement in doc.statements.iter().filter(|it| it.effect == Effect::Allow) {
                if !eval::covers_action(&statement.action, action) {
                    continue;
                }
                let text = match &statement.resource {
                    Some(Names::Only(list)) => list.clone(),
                    Some(Names::Except(list)) => vec![format!("everything except {list:?}")],
                    None => Vec::new(),
                };
                for item in text {
                    if !out.contains(&item) {
                        out.push(item);
                    }
                }
            }
        }
        out
    }

    /// Why a required call is refused, as a clause: an explicit Deny, the wrong
    /// resources, or no grant at all.
    pub(super) fn why_refused(&self, action: &str, outcome: &Outcome) -> String {
        if !outcome.denied_by.is_empty() {
            return format!("it is denied explicitly by {}", self.labels(&outcome.denied_by));
        }
        let granted = self.granted_on(action);
        if granted.is_empty() {
            "no statement allows it".to_owned()
        } else {
            format!("it is allowed only on [{}] or under conditions the release does not meet", quoted(&granted))
        }
    }

    /// The sentence for a required call that the check cannot confirm.
    pub(super) fn unconfirmed(&self, id: &'static str, action: &str, resource: &str, outcome: &Outcome) -> Finding {
        Finding::new(
            id,
            Severity::Info,
            format!(
                "could not confirm that the role may call {action} on {resource}: {} depend on condition keys or \
                 operators this check cannot evaluate; confirm with `aws iam simulate-principal-policy`",
                self.labels(&outcome.allowed_by)
            ),
        )
    }
}
