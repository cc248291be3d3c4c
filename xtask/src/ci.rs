//! The CI context of the run, read from the environment once: whether this is GitHub
//! Actions (or another CI), and the run facts the release uses (the pushed tag, the
//! commit, the run id for the STS session name, the job summary file); and how a
//! value is written into a workflow command (`escape_data`).

use std::{env, path::PathBuf, sync::OnceLock};

#[derive(Debug, Default, Clone)]
pub struct Ci {
    /// `GITHUB_ACTIONS=true`.
    pub github_actions: bool,
    /// `CI=true` (set by GitHub Actions and most CI systems), or GitHub Actions.
    pub ci: bool,
    /// `GITHUB_REF_NAME` when `GITHUB_REF_TYPE` is `tag`: the pushed tag.
    pub pushed_tag: Option<String>,
    /// `GITHUB_SHA`: the commit of the run.
    pub sha: Option<String>,
    pub run_id: Option<String>,
    pub run_attempt: Option<String>,
    /// `GITHUB_STEP_SUMMARY`: the job summary file.
    pub step_summary: Option<PathBuf>,
}

impl Ci {
    fn from_env(var: impl Fn(&str) -> Option<String>) -> Ci {
        let set = |name: &str| var(name).filter(|it| !it.is_empty());
        let github_actions = set("GITHUB_ACTIONS").is_some_and(|it| it == "true");
        let tag_push = set("GITHUB_REF_TYPE").is_some_and(|it| it == "tag");
        Ci {
            github_actions,
            ci: github_actions || set("CI").is_some_and(|it| it == "true"),
            pushed_tag: set("GITHUB_REF_NAME").filter(|_| tag_push && github_actions),
            sha: set("GITHUB_SHA"),
            run_id: set("GITHUB_RUN_ID"),
            run_attempt: set("GITHUB_RUN_ATTEMPT"),
            step_summary: set("GITHUB_STEP_SUMMARY").map(PathBuf::from),
        }
    }
}

/// The context of this run.
pub fn context() -> &'static Ci {
    static CONTEXT: OnceLock<Ci> = OnceLock::new();
    CONTEXT.get_or_init(|| Ci::from_env(|name| env::var(name).ok()))
}

/// Escapes a value for a workflow command (the runner's `EscapeData`).
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_run_facts() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        let ci = Ci::from_env(env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REF_TYPE", "tag"),
            ("GITHUB_REF_NAME", "v1.0.0"),
            ("GITHUB_SHA", "abc"),
            ("GITHUB_STEP_SUMMARY", ""),
        ]));
        assert!(ci.github_actions && ci.ci);
        assert_eq!(ci.pushed_tag.as_deref(), Some("v1.0.0"));
        assert_eq!(ci.step_summary, None);
        // A branch push, and a CI that is not GitHub's.
        let ci = Ci::from_env(env(&[("CI", "true"), ("GITHUB_REF_TYPE", "branch"), ("GITHUB_REF_NAME", "main")]));
        assert!(!ci.github_actions && ci.ci && ci.pushed_tag.is_none());
    }
}
