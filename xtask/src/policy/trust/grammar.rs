//! The grammar of the subjects GitHub writes, as languages (`policy::lang`): under
//! the default template a subject is `repo:OWNER/REPO:CONTEXT` or, immutable,
//! `repo:OWNER@ID/REPO@ID:CONTEXT`, where CONTEXT is `environment:NAME`,
//! `pull_request` or `ref:REF`, and no value holds a `:` (GitHub writes `%3A`); a
//! custom template joins its claims the same way. `subjects` proves the `sub`
//! conditions against it, in regions of whose subjects and which contexts.

use super::{TrustContext, scenario};
use crate::policy::lang::{Class, Lang, Seq};

/// Whose subjects a part of the grammar spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Who {
    Anyone,
    /// The configured owner, any repository.
    Owner,
    /// The configured repository.
    Repo,
}

/// Which contexts a part of the grammar spans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Ctx {
    Any,
    /// The release environment, or the release tags without one.
    Allowed,
    Environment(Option<String>),
    PullRequest,
    Ref(Option<String>),
}

/// The subjects of one subject template, for one repository.
pub(super) struct Grammar<'a> {
    ctx: &'a TrustContext,
    template: &'a [String],
}

impl<'a> Grammar<'a> {
    /// `None` when the template has no `repo` or no `context` claim: its subjects do
    /// not say which repository and context they are for (`trust.sub-template`
    /// reports that).
    pub(super) fn new(ctx: &'a TrustContext, template: &'a [String]) -> Option<Grammar<'a>> {
        let has = |key: &str| template.iter().any(|it| it == key);
        (has("repo") && has("context")).then_some(Grammar { ctx, template })
    }

    /// The subjects of `who` in `context`, in both forms.
    pub(super) fn lang(&self, who: Who, context: &Ctx) -> Lang {
        self.form(false, who, context).or(self.form(true, who, context))
    }

    /// The subjects of `who` in `context`, in the name-only or the immutable form.
    pub(super) fn form(&self, immutable: bool, who: Who, context: &Ctx) -> Lang {
        let mut fields: Vec<Vec<Seq>> = Vec::new();
        for key in self.template {
            fields.push(match key.as_str() {
                "repo" => vec![self.repo_field(immutable, who)],
                "context" => self.context_field(context),
                other => vec![Seq::new().text(other).sep(':').any(Class::Value)],
            });
        }
        let mut seqs = vec![Seq::new()];
        for (i, alternatives) in fields.iter().enumerate() {
            let mut next = Vec::new();
            for seq in &seqs {
                for alternative in alternatives {
                    let joined = if i == 0 { seq.clone() } else { seq.clone().sep(':') };
                    next.push(joined.then(alternative));
                }
            }
            seqs = next;
        }
        seqs.into_iter().fold(Lang::default(), |lang, seq| lang.or(seq.lang()))
    }

    /// Every string that starts as the subjects of the owner's repositories do
    /// (`repo:OWNER/` or `repo:OWNER@ID/`, the key in any case): whatever follows,
    /// no other owner's repository can write it, whatever its template, and the
    /// owner's own are the default grammar's concern.
    pub(super) fn owners(&self) -> Lang {
        let repo = &self.ctx.repo;
        let owner = Seq::new().caseless("repo").sep(':').caseless(&repo.owner);
        let immutable = match &repo.owner_id {
            Some(id) => owner.clone().text("@").text(id),
            None => owner.clone().text("@").some(Class::Digit),
        };
        let rest = |seq: Seq| seq.sep('/').any(Class::Any).lang();
        rest(owner).or(rest(immutable))
    }

    fn repo_field(&self, immutable: bool, who: Who) -> Seq {
        // The configured ids when known: other ids are another (perhaps recreated)
        // owner or repository, which is what the immutable form tells apart.
        let id = |seq: Seq, known: Option<&String>| match (immutable, known) {
            (false, _) => seq,
            (true, Some(id)) => seq.text("@").text(id),
            (true, None) => seq.text("@").some(Class::Digit),
        };
        let repo = &self.ctx.repo;
        let owner = Seq::new().text("repo").sep(':');
        let (owner, owner_id) = match who {
            Who::Anyone => (owner.some(Class::Name), None),
            _ => (owner.caseless(&repo.owner), repo.owner_id.as_ref()),
        };
        let name = id(owner, owner_id).sep('/');
        let (name, name_id) = match who {
            Who::Repo => (name.caseless(&repo.name), repo.name_id.as_ref()),
            _ => (name.some(Class::Name), None),
        };
        id(name, name_id)
    }

    fn context_field(&self, context: &Ctx) -> Vec<Seq> {
        let env = |name: Option<&str>| {
            let seq = Seq::new().text("environment").sep(':');
            match name {
                Some(name) => seq.caseless(&scenario::encode(name)),
                None => seq.some(Class::Value),
            }
        };
        let git_ref = |name: Option<&str>| {
            let seq = Seq::new().text("ref").sep(':');
            match name {
                Some(name) => seq.text(name),
                None => seq.text("refs/").some(Class::Value),
            }
        };
        match context {
            // Any ref at all, so the proof covers every subject GitHub could write;
            // counter-examples take `refs/…` ones (`Ctx::Ref`), which read better.
            Ctx::Any => {
                vec![env(None), Seq::new().text("pull_request"), Seq::new().text("ref").sep(':').some(Class::Value)]
            }
            Ctx::Allowed => match &self.ctx.environment {
                Some(name) => vec![env(Some(name))],
                None if self.ctx.release_ref.starts_with("refs/tags/v") => {
                    vec![Seq::new().text("ref").sep(':').text("refs/tags/v").any(Class::Value)]
                }
                None => vec![git_ref(Some(&self.ctx.release_ref))],
            },
            Ctx::Environment(name) => vec![env(name.as_deref())],
            Ctx::PullRequest => vec![Seq::new().text("pull_request")],
            Ctx::Ref(name) => vec![git_ref(name.as_deref())],
        }
    }
}
