//! `cargo xtask install-help [VERSION]`: how consumers install a published version of
//! the package from CodeArtifact with pip, uv and poetry; the same text closes a
//! release (and its GitHub job summary).
//!
//! The token only ever lives in an environment variable of the consumer's shell,
//! fetched with `aws codeartifact get-authorization-token`: never in a file (no
//! `pip.conf`, no `poetry config http-basic`, which writes it to disk), never in an
//! index URL that a tool writes down (uv records the URL of a named index in
//! `uv.lock`, astral-sh/uv#8296). And only ever one index for the package:
//! - pip: `PIP_INDEX_URL` (`--index-url` from the environment, so the token stays out
//!   of pip's argument list), never `--extra-index-url`, with which pip takes the
//!   highest version of a name from any index, PyPI's same-named package included;
//! - uv: a named index with `explicit = true`, which only the packages that
//!   `[tool.uv.sources]` assign to it come from, and its credentials in
//!   `UV_INDEX_<NAME>_USERNAME`/`_PASSWORD` (uv's docs, "Package indexes" and the
//!   "AWS CodeArtifact" integration guide: https://docs.astral.sh/uv/concepts/indexes/,
//!   https://docs.astral.sh/uv/guides/integration/alternative-indexes/);
//! - poetry: a source with `--priority=explicit` and `POETRY_HTTP_BASIC_<NAME>_USERNAME`/
//!   `_PASSWORD` (poetry's docs, "Repositories":
//!   https://python-poetry.org/docs/repositories/).
//!
//! The command reads the repository's endpoint (`GetRepositoryEndpoint`) and checks
//! that the version is there, `Published` and published to the repository (not
//! ingested from outside: instructions for someone else's package would be worse than
//! none). It never asks for a token.

use anyhow::{Context, Result, bail};
use aws_sdk_codeartifact::types::PackageFormat;
use xshell::Shell;

use crate::{
    aws::{
        self,
        origin::{Arrival, Read},
    },
    flags,
    project::{self, Project},
    report,
    settings::{self, Settings},
    version,
};

/// The name of the index in uv's and poetry's configuration (and so in their
/// variables: `UV_INDEX_CODEARTIFACT_*`, `POETRY_HTTP_BASIC_CODEARTIFACT_*`).
const INDEX_NAME: &str = "codeartifact";
/// The variable the token lives in.
const TOKEN_VAR: &str = "CODEARTIFACT_AUTH_TOKEN";

/// How to install one version of the package.
#[derive(Debug, Clone)]
pub struct Instructions {
    package: String,
    version: String,
    /// `aws codeartifact get-authorization-token …`, reading the token.
    token_command: String,
    /// The simple index, without credentials: `https://HOST/pypi/REPO/simple/`.
    index: String,
    /// The same with `aws:${CODEARTIFACT_AUTH_TOKEN}@` in it, for pip.
    index_with_token: String,
    repository: String,
}

impl Instructions {
    /// For `package` (normalized) `version` in the repository at `endpoint` (what
    /// GetRepositoryEndpoint returned, checked: `https://HOST/pypi/REPO/`).
    pub fn new(endpoint: &str, settings: &Settings, package: &str, version: &str) -> Instructions {
        let index = format!("{endpoint}simple/");
        let index_with_token = match index.split_once("://") {
            Some((scheme, rest)) => format!("{scheme}://aws:${{{TOKEN_VAR}}}@{rest}"),
            None => index.clone(),
        };
        Instructions {
            package: package.to_owned(),
            version: version.to_owned(),
            token_command: format!(
                "aws codeartifact get-authorization-token --domain {} --domain-owner {} --region {} --query \
                 authorizationToken --output text",
                settings.domain, settings.domain_owner, settings.region
            ),
            index,
            index_with_token,
            repository: format!("{}/{}", settings.domain, settings.repository),
        }
    }

    /// The sections: a title, what it says, and its code lines.
    fn sections(&self) -> Vec<(&'static str, String, Vec<String>)> {
        let requirement = format!("\"{}=={}\"", self.package, self.version);
        let upper = INDEX_NAME.to_ascii_uppercase();
        vec![
            (
                "token",
                format!(
                    "The token is a secret: it goes into this variable of your shell and nowhere else (no file, no \
                     config, no URL written down); it lasts 12 hours at most. Every tool below reads it from {TOKEN_VAR}."
                ),
                vec![format!("export {TOKEN_VAR}=\"$({})\"", self.token_command)],
            ),
            (
                "pip",
                "PIP_INDEX_URL is pip's --index-url, from the environment. Never --extra-index-url: pip would take \
                 the highest version of a name from either index, a same-named package on PyPI included."
                    .to_owned(),
                vec![format!("PIP_INDEX_URL=\"{}\" pip install {requirement}", self.index_with_token)],
            ),
            (
                "uv",
                "In pyproject.toml, a named index that only the packages assigned to it in [tool.uv.sources] come \
                 from (explicit = true); no credentials in its url (uv writes the url into uv.lock):"
                    .to_owned(),
                vec![
                    "[[tool.uv.index]]".to_owned(),
                    format!("name = \"{INDEX_NAME}\""),
                    format!("url = \"{}\"", self.index),
                    "explicit = true".to_owned(),
                    String::new(),
                    "[tool.uv.sources]".to_owned(),
                    format!("{} = {{ index = \"{INDEX_NAME}\" }}", self.package),
                ],
            ),
            (
                "uv",
                "then, with the credentials in the environment only:".to_owned(),
                vec![
                    format!("export UV_INDEX_{upper}_USERNAME=aws"),
                    format!("export UV_INDEX_{upper}_PASSWORD=\"${TOKEN_VAR}\""),
                    format!("uv add {requirement}"),
                ],
            ),
            (
                "poetry",
                "An explicit source (only packages that name it come from it), credentials in the environment only \
                 (poetry config http-basic would write the token to disk):"
                    .to_owned(),
                vec![
                    format!("poetry source add --priority=explicit {INDEX_NAME} {}", self.index),
                    format!("export POETRY_HTTP_BASIC_{upper}_USERNAME=aws"),
                    format!("export POETRY_HTTP_BASIC_{upper}_PASSWORD=\"${TOKEN_VAR}\""),
                    format!("poetry add --source {INDEX_NAME} {requirement}"),
                ],
            ),
        ]
    }

    fn title(&self) -> String {
        format!("Install {} {} from CodeArtifact ({})", self.package, self.version, self.repository)
    }

    /// For a terminal and the release's log: each section's words, then its code
    /// indented by four spaces.
    pub fn text(&self) -> String {
        let mut out = format!("{}:\n", self.title());
        for (name, words, code) in self.sections() {
            out.push_str(&format!("\n{name}: {words}\n"));
            for line in code {
                out.push_str(&if line.is_empty() { "\n".to_owned() } else { format!("    {line}\n") });
            }
        }
        out
    }

    /// For the GitHub job summary: the same, with fenced code blocks.
    pub fn markdown(&self) -> String {
        let mut out = format!("#### {}\n", self.title());
        for (name, words, code) in self.sections() {
            let lang = if code.first().is_some_and(|it| it.starts_with('[')) { "toml" } else { "sh" };
            out.push_str(&format!("\n**{name}**: {words}\n\n```{lang}\n{}\n```\n", code.join("\n")));
        }
        out
    }
}

impl flags::InstallHelp {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let root = project::find_root()?;
        sh.change_dir(&root);
        let project = Project::load(&root)?;
        let settings = settings::required(&project.pyproject, "install-help names the repository from the settings")?;
        let version = match &self.version {
            Some(text) => version::parse_tag(text, version::Source::Argument)?.to_string(),
            None => project.current_version().context("read the version to show (or pass VERSION)")?,
        };
        crate::aws::sso::ensure_supported()?;
        let runtime = aws::runtime()?;
        let package = project.normalized_name();
        let endpoint = runtime.block_on(crate::interrupt::interruptible(checked(&settings, &package, &version)))??;
        report::out(Instructions::new(&endpoint, &settings, &package, &version).text().trim_end());
        Ok(())
    }
}

/// The repository's endpoint, once the version is known to be there, `Published`
/// and the repository's own.
async fn checked(settings: &Settings, package: &str, version: &str) -> Result<String> {
    let mut notes = Vec::new();
    let session = aws::authenticate(settings, &mut notes).await?;
    report::notes(&notes);
    let endpoint = session
        .codeartifact
        .get_repository_endpoint()
        .domain(&settings.domain)
        .domain_owner(&settings.domain_owner)
        .repository(&settings.repository)
        .format(PackageFormat::Pypi)
        .send()
        .await
        .map_err(|err| aws::explain_codeartifact("GetRepositoryEndpoint", &err, settings, None))?;
    let endpoint = aws::check_endpoint(endpoint.repository_endpoint().unwrap_or_default())?;
    let versions = match aws::origin::list_versions(&session, settings, package).await? {
        Read::Got(Some(versions)) => versions,
        Read::Got(None) => bail!(
            "{package} is not in {}/{}: release it first (`cargo xtask release`), or check the settings",
            settings.domain,
            settings.repository
        ),
        Read::Denied(why) => {
            report::warn(&format!("whether {package} {version} is published was not checked: {why}"));
            return Ok(endpoint);
        }
    };
    let Some(found) = versions.iter().find(|it| it.version == version) else {
        let listed: Vec<&str> = versions.iter().map(|it| it.version.as_str()).collect();
        bail!(
            "{package} {version} is not in {}/{} (it has: {}): pass a published VERSION",
            settings.domain,
            settings.repository,
            if listed.is_empty() { "no versions".to_owned() } else { listed.join(", ") }
        );
    };
    if found.arrival != Arrival::Published {
        bail!(
            "{package} {version} in the repository is {}, not published to it by a release: no install instructions \
             for it. `cargo xtask check-iam` says what that means and what to do",
            found.arrival
        );
    }
    if found.status != "Published" {
        bail!("{package} {version} is {} in the repository, not Published: pass a published VERSION", found.status);
    }
    Ok(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instructions() -> Instructions {
        let settings = Settings {
            region: "eu-central-1".into(),
            domain: "my-company".into(),
            domain_owner: "123456789012".into(),
            repository: "python-packages".into(),
            role_arn: None,
            audience: "sts.amazonaws.com".into(),
            token_duration: 900,
            private_dependencies: false,
        };
        let endpoint =
            "https://my-company-123456789012.d.codeartifact.eu-central-1.amazonaws.com/pypi/python-packages/";
        Instructions::new(endpoint, &settings, "yamause", "1.2.0")
    }

    #[test]
    fn the_token_lives_in_the_environment_only_and_no_extra_index_is_used() {
        let text = instructions().text();
        let host = "my-company-123456789012.d.codeartifact.eu-central-1.amazonaws.com";
        for want in [
            "export CODEARTIFACT_AUTH_TOKEN=\"$(aws codeartifact get-authorization-token --domain my-company \
             --domain-owner 123456789012 --region eu-central-1 --query authorizationToken --output text)\"",
            &format!(
                "    PIP_INDEX_URL=\"https://aws:${{CODEARTIFACT_AUTH_TOKEN}}@{host}/pypi/python-packages/simple/\" pip \
                 install \"yamause==1.2.0\""
            ),
            &format!("    url = \"https://{host}/pypi/python-packages/simple/\"\n    explicit = true\n"),
            "    yamause = { index = \"codeartifact\" }",
            "    export UV_INDEX_CODEARTIFACT_PASSWORD=\"$CODEARTIFACT_AUTH_TOKEN\"",
            "    uv add \"yamause==1.2.0\"",
            &format!(
                "    poetry source add --priority=explicit codeartifact https://{host}/pypi/python-packages/simple/"
            ),
            "    export POETRY_HTTP_BASIC_CODEARTIFACT_USERNAME=aws",
            "    poetry add --source codeartifact \"yamause==1.2.0\"",
        ] {
            assert!(text.contains(want), "{want:?} missing:\n{text}");
        }
        // The token appears only as the variable, and only pip's URL (in pip's
        // environment) carries it; never an extra index, never a file.
        let code: Vec<&str> = text.lines().filter(|it| it.starts_with("    ")).collect();
        for line in &code {
            assert!(!line.contains("--extra-index-url") && !line.contains("EXTRA_INDEX"), "{line}");
            assert!(!line.contains("http-basic") && !line.contains("pip config") && !line.contains('>'), "{line}");
            if line.contains("@") {
                assert!(line.trim_start().starts_with("PIP_INDEX_URL="), "{line}");
            }
        }
        let markdown = instructions().markdown();
        assert!(
            markdown.contains("```toml\n[[tool.uv.index]]") && markdown.contains("```sh\nexport UV_INDEX"),
            "{markdown}"
        );
    }
}
