//! Who the trust policy lets in: GitHub's OIDC provider of the role's own account
//! (`trust.provider`) with the web-identity action (`trust.action`), and nobody else
//! (`trust.extra-principal`, `trust.not-applicable`); with the provider facts,
//! whether that provider exists and accepts the release's audience
//! (`trust.provider`, `trust.audience`).

use super::{GITHUB_PROVIDER_HOST, WEB_IDENTITY, analysis::Analysis};
use crate::{
    arn,
    policy::{
        Finding, Severity,
        document::{Effect, Names, Principal, Principals, Statement},
        eval, quoted,
    },
};

impl Analysis<'_> {
    /// The provider ARN (`trust.provider`), other principals and actions
    /// (`trust.extra-principal`), and the action a GitHub statement must allow
    /// (`trust.action`).
    pub(super) fn check_principals(&self, out: &mut Vec<Finding>) {
        let mut trusts_github = false;
        for statement in self.doc.statements.iter().filter(|it| it.effect == Effect::Allow) {
            let Some(principals) = &statement.principal else { continue };
            trusts_github |= self.check_statement_principals(statement, principals, out);
            check_broad_actions(statement, out);
        }
        self.check_denies(out);
        if !trusts_github {
            out.push(Finding::new(
                "trust.provider",
                Severity::Error,
                format!(
                    "the trust policy does not trust GitHub's OIDC provider, so STS refuses the release job's token; \
                     add a statement {{\"Effect\": \"Allow\", \"Principal\": {{\"Federated\": \"{}\"}}, \
                     \"Action\": \"sts:AssumeRoleWithWebIdentity\", {}}}",
                    self.provider_arn(),
                    self.snippet(self.expected().immutable)
                ),
            ));
        }
    }

    /// The principals of one `Allow` statement: a GitHub provider of the wrong
    /// account or with the wrong action, a misspelt provider, and everyone else it
    /// lets in. Returns whether the statement lets GitHub tokens in.
    fn check_statement_principals(
        &self,
        statement: &Statement,
        principals: &Principals,
        out: &mut Vec<Finding>,
    ) -> bool {
        let label = statement.label();
        let web_identity = eval::covers_action(&statement.action, WEB_IDENTITY);
        let mut trusts_github = false;
        // What else this statement lets in, for trust.extra-principal.
        let mut extras: Vec<String> = Vec::new();
        if principals.negated {
            extras.push("every principal except the ones in its NotPrincipal".to_owned());
            trusts_github |= web_identity;
        } else if principals.any {
            extras.push("anyone (\"Principal\": \"*\" means any AWS account and any identity provider)".to_owned());
            trusts_github |= web_identity;
        }
        for entry in principals.entries.iter().filter(|_| !principals.negated) {
            if entry.kind != "Federated" && self.never_matches(entry).is_some() {
                out.push(Finding::new(
                    "trust.not-applicable",
                    Severity::Low,
                    format!(
                        "{label} names {:?}, a principal of another partition than the role's {} ({}): it can never \
                         assume the role, so remove it",
                        entry.value, self.ctx.partition, self.ctx.partition_source
                    ),
                ));
            } else if entry.kind != "Federated" {
                extras.push(other_principal(&entry.kind, &entry.value));
            } else if let Some(extra) = self.check_federated(statement, &label, web_identity, &entry.value, out) {
                extras.push(extra);
            } else {
                trusts_github = true;
            }
        }
        for what in extras {
            out.push(Finding::new(
                "trust.extra-principal",
                Severity::High,
                format!(
                    "{label} also allows {what} to assume the release role; the release role should trust only \
                     GitHub OIDC (\"Principal\": {{\"Federated\": \"{}\"}}): remove the rest, or move that use to a \
                     role of its own",
                    self.provider_arn()
                ),
            ));
        }
        trusts_github
    }

    /// A `Federated` principal: GitHub's provider (checked for its partition and
    /// account and the statement's action), a value that means GitHub but is not
    /// the provider's ARN, or another provider, which it returns as an extra
    /// principal.
    fn check_federated(
        &self,
        statement: &Statement,
        label: &str,
        web_identity: bool,
        value: &str,
        out: &mut Vec<Finding>,
    ) -> Option<String> {
        let arn = self.provider_arn();
        if let Some(found) = arn::github_provider(value) {
            let partition = &self.ctx.partition;
            if found.partition != *partition {
                out.push(Finding::new(
                    "trust.provider",
                    Severity::Error,
                    format!(
                        "{label} trusts GitHub's provider in partition {} ({value:?}), but the role is in partition \
                         {partition} ({}): STS looks the token's provider up in the role's own partition and account, \
                         so this statement never matches the release's request and the release cannot assume the \
                         role through it; use \"Federated\": \"{arn}\"",
                        found.partition, self.ctx.partition_source
                    ),
                ));
            } else if let Some(want) = self.ctx.account.as_deref()
                && found.account != want
            {
                out.push(Finding::new(
                    "trust.provider",
                    Severity::Error,
                    format!(
                        "{label} trusts the GitHub provider of account {}, but STS uses the provider in the role's \
                         own account {want}, so the release cannot assume the role through it; use \"Federated\": \
                         \"{arn}\"",
                        found.account
                    ),
                ));
            }
            if !web_identity {
                out.push(wrong_action(statement, label));
            }
            return None;
        }
        if !value.contains(GITHUB_PROVIDER_HOST) {
            return Some(format!("identities of the provider {value:?}"));
        }
        out.push(Finding::new(
            "trust.provider",
            Severity::Error,
            format!(
                "{label} trusts {value:?}, which is not GitHub's OIDC provider ARN: {}; STS refuses the token (\"Not \
                 authorized to perform sts:AssumeRoleWithWebIdentity\" or \"No OpenIDConnect provider found\"). Use \
                 \"Federated\": \"{arn}\"",
                why_not_the_provider(value)
            ),
        ));
        None
    }

    /// Deny statements that name principals STS never matches for this role
    /// (GitHub's provider of another partition or account, ARNs of another
    /// partition): for those the Deny refuses nothing, whatever it was meant to
    /// protect.
    pub(super) fn check_denies(&self, out: &mut Vec<Finding>) {
        for statement in self.doc.statements.iter().filter(|it| it.effect == Effect::Deny) {
            let Some(principals) = statement.principal.as_ref().filter(|it| !it.negated) else { continue };
            let elsewhere: Vec<String> = principals
                .entries
                .iter()
                .filter_map(|it| self.never_matches(it).map(|why| format!("{:?} ({why})", it.value)))
                .collect();
            if elsewhere.is_empty() {
                continue;
            }
            let what = if elsewhere.len() == principals.entries.len() && !principals.any {
                "this Deny refuses nothing and protects nothing"
            } else {
                "that part of the Deny refuses nothing"
            };
            out.push(Finding::new(
                "trust.not-applicable",
                Severity::Low,
                format!(
                    "{} (Deny) names {}: STS never matches such a principal for a role of partition {} ({}){}, so \
                     {what}; name \"Federated\": \"{}\" (or \"Principal\": \"*\") if it is meant to refuse GitHub \
                     tokens",
                    statement.label(),
                    elsewhere.join(", "),
                    self.ctx.partition,
                    self.ctx.partition_source,
                    self.ctx.account.as_deref().map(|it| format!(" and account {it}")).unwrap_or_default(),
                    self.provider_arn()
                ),
            ));
        }
    }

    /// Why `entry` never matches a request to this role: a GitHub provider of
    /// another partition (or, when the role's account is known, another
    /// account), or an ARN of another partition.
    fn never_matches(&self, entry: &Principal) -> Option<&'static str> {
        if let Some(found) = arn::github_provider(&entry.value) {
            if found.partition != self.ctx.partition {
                return Some("GitHub's provider of another partition");
            }
            let other_account = self.ctx.account.as_deref().is_some_and(|it| it != found.account);
            return other_account.then_some("GitHub's provider of another account");
        }
        let parsed = arn::parse(&entry.value)?;
        (parsed.partition != self.ctx.partition).then_some("principals of another partition")
    }

    /// Whether the provider exists (`trust.provider`) and accepts the audience
    /// (`trust.audience`), from facts.
    pub(super) fn check_provider_facts(&self, out: &mut Vec<Finding>) {
        let arn = self.provider_arn();
        let aud = &self.ctx.audience;
        match &self.facts.provider {
            None => out.push(Finding::new(
                "trust.provider",
                Severity::Info,
                format!(
                    "not checked offline: the OIDC provider {arn} must exist with client id {aud:?}; check with \
                     `aws iam get-open-id-connect-provider --open-id-connect-provider-arn {arn}`"
                ),
            )),
            Some(provider) if !provider.exists => out.push(Finding::new(
                "trust.provider",
                Severity::Error,
                format!(
                    "the OIDC provider {arn} does not exist, so STS answers \"No OpenIDConnect provider found in your \
                     account for https://{GITHUB_PROVIDER_HOST}\"; create it: `aws iam create-open-id-connect-provider \
                     --url https://{GITHUB_PROVIDER_HOST} --client-id-list {aud}`"
                ),
            )),
            Some(provider) if !provider.client_ids.contains(aud) => out.push(Finding::new(
                "trust.audience",
                Severity::Error,
                format!(
                    "the provider's client-id list is [{}] without {aud:?}, so STS answers \"Incorrect token \
                     audience\"; add it: `aws iam add-client-id-to-open-id-connect-provider \
                     --open-id-connect-provider-arn {arn} --client-id {aud}`",
                    quoted(&provider.client_ids)
                ),
            )),
            Some(_) => {}
        }
    }
}

/// A statement that trusts GitHub's provider with actions other than the one a
/// GitHub token uses.
fn wrong_action(statement: &Statement, label: &str) -> Finding {
    let actions = match &statement.action {
        Names::Only(list) => quoted(list),
        Names::Except(list) => format!("every action except {}", quoted(list)),
    };
    Finding::new(
        "trust.action",
        Severity::Error,
        format!(
            "{label} trusts GitHub's provider but allows {actions}, not sts:AssumeRoleWithWebIdentity, the action a \
             GitHub token uses; set \"Action\": \"sts:AssumeRoleWithWebIdentity\""
        ),
    )
}

/// Why `value`, which names GitHub's issuer, is not the ARN of its IAM provider.
fn why_not_the_provider(value: &str) -> &'static str {
    if value.contains("://") {
        "IAM provider ARNs name the issuer host without the https:// scheme"
    } else if !value.starts_with("arn:") {
        "it is the issuer, not the ARN of the IAM provider"
    } else if value.contains(&format!("{GITHUB_PROVIDER_HOST}/")) {
        "it names an enterprise issuer (…/SLUG), but tokens come from the default issuer unless the enterprise has \
         set up a custom issuer (then the provider, this ARN and the condition keys all carry the slug)"
    } else {
        "it is not of the form arn:aws:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com"
    }
}

/// A principal that is not a `Federated` one, as the extra it lets in.
fn other_principal(kind: &str, value: &str) -> String {
    match kind {
        "AWS" if value == "*" => "every AWS account and principal (\"AWS\": \"*\")".to_owned(),
        "AWS" if value.ends_with(":root") || value.bytes().all(|it| it.is_ascii_digit()) => {
            format!("every principal of AWS account {value:?} (as far as that account's own policies permit)")
        }
        "AWS" => format!("the AWS principal {value:?}"),
        "Service" => format!("the AWS service {value:?}"),
        kind => format!("the {kind} principal {value:?}"),
    }
}

/// An `Action` of `*`, `sts:*` or a `NotAction` covers every STS action, not only
/// the web-identity one.
fn check_broad_actions(statement: &Statement, out: &mut Vec<Finding>) {
    let broad: Vec<String> = match &statement.action {
        Names::Only(list) => list.iter().filter(|it| *it == "*" || it.eq_ignore_ascii_case("sts:*")).cloned().collect(),
        Names::Except(list) => vec![format!("NotAction {}", quoted(list))],
    };
    if !broad.is_empty() {
        out.push(Finding::new(
            "trust.extra-principal",
            Severity::High,
            format!(
                "{} allows {}, which covers every sts:AssumeRole* and session action; the release role needs only \
                 \"Action\": \"sts:AssumeRoleWithWebIdentity\"",
                statement.label(),
                broad.join(", ")
            ),
        ));
    }
}
