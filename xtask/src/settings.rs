//! Publish settings: where the package goes and how the release authenticates.
//!
//! Non-secret defaults live in `[tool.xtask.publish]` of `pyproject.toml`; the
//! environment variables (docs/setup-guide.ja.md §3.1) override them (an empty
//! variable counts as unset, as GitHub passes a missing secret as ""). Every value is
//! validated before any network call, and an error names the setting and where to
//! set it.

use std::{env, fmt, sync::LazyLock};

use anyhow::{Result, bail};
use regex_lite::Regex;

use crate::arn;

/// The table of `pyproject.toml` that holds the defaults.
pub const TABLE: &str = "[tool.xtask.publish]";

/// One setting: its environment variable and its key in the pyproject table.
#[derive(Clone, Copy)]
pub struct Key {
    pub env: &'static str,
    pub toml: &'static str,
}

pub const REGION: Key = Key { env: "AWS_REGION", toml: "region" };
pub const DOMAIN: Key = Key { env: "CODEARTIFACT_DOMAIN", toml: "domain" };
pub const DOMAIN_OWNER: Key = Key { env: "CODEARTIFACT_DOMAIN_OWNER", toml: "domain-owner" };
pub const REPOSITORY: Key = Key { env: "CODEARTIFACT_REPOSITORY", toml: "repository" };
pub const ROLE_ARN: Key = Key { env: "AWS_ROLE_ARN", toml: "role-arn" };
pub const AUDIENCE: Key = Key { env: "GITHUB_OIDC_AUDIENCE", toml: "oidc-audience" };
pub const TOKEN_DURATION: Key = Key { env: "CODEARTIFACT_TOKEN_DURATION", toml: "token-duration" };
pub const PRIVATE_DEPS: Key = Key { env: "CODEARTIFACT_PRIVATE_DEPENDENCIES", toml: "private-dependencies" };

/// The five settings of the setup guide, which release.yml passes from repository
/// secrets.
pub const WORKFLOW_SECRETS: [Key; 5] = [ROLE_ARN, REGION, DOMAIN, DOMAIN_OWNER, REPOSITORY];

/// Every setting, in the order docs/setup.md's table lists them.
pub const ALL: [Key; 8] = [REGION, DOMAIN, DOMAIN_OWNER, REPOSITORY, ROLE_ARN, AUDIENCE, TOKEN_DURATION, PRIVATE_DEPS];

/// Where a value came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Env,
    Pyproject,
}

/// A setting's value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub value: String,
    pub origin: Origin,
}

/// The publish target and the authentication options.
#[derive(Debug, Clone)]
pub struct Settings {
    pub region: String,
    pub domain: String,
    pub domain_owner: String,
    pub repository: String,
    pub role_arn: Option<String>,
    pub audience: String,
    /// Seconds: 0 (expire with the role session) or 900..=43200.
    pub token_duration: i64,
    /// Give the build the repository's index (with the token) for private build
    /// dependencies.
    pub private_dependencies: bool,
}

/// The outcome of reading the settings: complete, or which required ones are missing.
pub enum Target {
    Configured(Settings),
    /// The names of the missing settings (environment variable names).
    Missing(Vec<&'static str>),
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.env)
    }
}

/// How to set `key`, for error messages.
pub fn where_to_set(key: Key) -> String {
    format!(
        "set the environment variable {} (in GitHub Actions: a repository secret or variable passed through `env:`) \
         or `{} = \"…\"` in {TABLE} of pyproject.toml",
        key.env, key.toml
    )
}

/// Reads the settings from `table` (the pyproject table, if any) and `lookup` (the
/// environment), and validates them.
pub fn resolve(table: Option<&toml::Table>, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Target> {
    let source = Source { table, lookup };
    source.refuse_unknown_keys()?;
    // Optional settings are validated even when the target is incomplete, so a typo
    // is reported at once.
    let role_arn = source
        .get(ROLE_ARN)?
        .map(|it| check(ROLE_ARN, it, &ROLE_ARN_RE, "an IAM role ARN such as arn:aws:iam::123456789012:role/release"))
        .transpose()?;
    let audience = match source.get(AUDIENCE)? {
        Some(it) => check(AUDIENCE, it, &AUDIENCE_RE, "an audience such as sts.amazonaws.com")?,
        None => "sts.amazonaws.com".to_owned(),
    };
    let token_duration = token_duration(source.get(TOKEN_DURATION)?)?;
    let private_dependencies = source.private_dependencies()?;
    let region = source.get(REGION)?.or_else(|| {
        lookup("AWS_DEFAULT_REGION").filter(|it| !it.is_empty()).map(|value| Value { value, origin: Origin::Env })
    });
    let region = region.map(|it| check(REGION, it, &REGION_RE, "an AWS region such as us-east-1")).transpose()?;
    let domain = source.get(DOMAIN)?.map(|it| check(DOMAIN, it, &DOMAIN_RE, DOMAIN_FORM)).transpose()?;
    let domain_owner = (source.get(DOMAIN_OWNER)?)
        .map(|it| check(DOMAIN_OWNER, it, &ACCOUNT_RE, "a 12-digit AWS account id"))
        .transpose()?;
    let repository =
        source.get(REPOSITORY)?.map(|it| check(REPOSITORY, it, &REPOSITORY_RE, REPOSITORY_FORM)).transpose()?;
    match (region, domain, domain_owner, repository) {
        (Some(region), Some(domain), Some(domain_owner), Some(repository)) => Ok(Target::Configured(Settings {
            region,
            domain,
            domain_owner,
            repository,
            role_arn,
            audience,
            token_duration,
            private_dependencies,
        })),
        (region, domain, domain_owner, repository) => {
            let present = [
                (REGION, region.is_some()),
                (DOMAIN, domain.is_some()),
                (DOMAIN_OWNER, domain_owner.is_some()),
                (REPOSITORY, repository.is_some()),
            ];
            Ok(Target::Missing(present.into_iter().filter(|(_, ok)| !ok).map(|(key, _)| key.env).collect()))
        }
    }
}

const DOMAIN_FORM: &str = "a CodeArtifact domain name: 2 to 50 lowercase letters, digits and -, starting with a letter";
const REPOSITORY_FORM: &str =
    "a CodeArtifact repository name: 2 to 100 letters, digits, . _ -, starting with a letter or digit";

/// Where the settings come from: the environment first, then the pyproject table.
struct Source<'a> {
    table: Option<&'a toml::Table>,
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Source<'_> {
    /// The value of `key`, where it was found; an empty value counts as unset.
    fn get(&self, key: Key) -> Result<Option<Value>> {
        if let Some(value) = (self.lookup)(key.env).filter(|it| !it.trim().is_empty()) {
            return Ok(Some(Value { value: value.trim().to_owned(), origin: Origin::Env }));
        }
        match self.table.and_then(|it| it.get(key.toml)) {
            None => Ok(None),
            Some(toml::Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(Value { value: s.trim().to_owned(), origin: Origin::Pyproject })),
            Some(toml::Value::Integer(i)) => Ok(Some(Value { value: i.to_string(), origin: Origin::Pyproject })),
            Some(toml::Value::Boolean(b)) => Ok(Some(Value { value: b.to_string(), origin: Origin::Pyproject })),
            Some(other) => {
                bail!("`{}` in {TABLE} of pyproject.toml must be a string, not {}", key.toml, other.type_str())
            }
        }
    }

    fn private_dependencies(&self) -> Result<bool> {
        Ok(match self.get(PRIVATE_DEPS)?.map(|it| it.value.to_ascii_lowercase()) {
            None => false,
            Some(v) if ["true", "1", "yes"].contains(&v.as_str()) => true,
            Some(v) if ["false", "0", "no"].contains(&v.as_str()) => false,
            Some(v) => bail!("{PRIVATE_DEPS} = {v:?} is not true or false; {}", where_to_set(PRIVATE_DEPS)),
        })
    }

    fn refuse_unknown_keys(&self) -> Result<()> {
        for name in self.table.into_iter().flat_map(|it| it.keys()) {
            if !ALL.iter().any(|it| it.toml == name) {
                let known: Vec<&str> = ALL.iter().map(|it| it.toml).collect();
                bail!("unknown key `{name}` in {TABLE} of pyproject.toml: the known keys are {}", known.join(", "));
            }
        }
        Ok(())
    }
}

/// 0 (the token expires with the role session) or 900 to 43200 seconds; 900 unset.
fn token_duration(value: Option<Value>) -> Result<i64> {
    let Some(it) = value else { return Ok(900) };
    match it.value.parse::<i64>() {
        Ok(n) if n == 0 || (900..=43200).contains(&n) => Ok(n),
        _ => bail!(
            "{} = {:?} ({}) is not a valid token duration: use 0 (the token expires with the role session) or 900 \
             to 43200 seconds; {}",
            TOKEN_DURATION,
            it.value,
            origin_text(it.origin),
            where_to_set(TOKEN_DURATION)
        ),
    }
}

/// The settings from this process's environment and the project's pyproject table.
pub fn from_env(pyproject: &toml::Table) -> Result<Target> {
    resolve(publish_table(pyproject)?, &|name| env::var(name).ok())
}

/// Whether the build requirements come from the CodeArtifact repository
/// (`private-dependencies`), which a build job knows without the publish target.
pub fn private_dependencies(pyproject: &toml::Table) -> Result<bool> {
    let source = Source { table: publish_table(pyproject)?, lookup: &|name| env::var(name).ok() };
    source.refuse_unknown_keys()?;
    source.private_dependencies()
}

fn publish_table(pyproject: &toml::Table) -> Result<Option<&toml::Table>> {
    match pyproject.get("tool").and_then(|it| it.get("xtask")).and_then(|it| it.get("publish")) {
        None => Ok(None),
        Some(toml::Value::Table(t)) => Ok(Some(t)),
        Some(_) => bail!("{TABLE} in pyproject.toml must be a table"),
    }
}

fn origin_text(origin: Origin) -> &'static str {
    match origin {
        Origin::Env => "from the environment",
        Origin::Pyproject => "from pyproject.toml",
    }
}

fn check(key: Key, value: Value, re: &Regex, what: &str) -> Result<String> {
    if !re.is_match(&value.value) {
        bail!("{key} = {:?} ({}) is not {what}: {}", value.value, origin_text(value.origin), where_to_set(key));
    }
    Ok(value.value)
}

static REGION_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$").unwrap());
static DOMAIN_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z][a-z0-9-]{0,48}[a-z0-9]$").unwrap());
static ACCOUNT_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[0-9]{12}$").unwrap());
static REPOSITORY_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,99}$").unwrap());
static ROLE_ARN_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^arn:aws(-cn|-us-gov|-iso|-iso-b)?:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$").unwrap()
});
static AUDIENCE_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9._:/-]{1,256}$").unwrap());

/// The error when the publish target is needed and settings are missing.
pub fn not_configured(missing: &[&str], alternatives: &str) -> anyhow::Error {
    anyhow::format_err!(
        "the publish target is not configured: {} missing; set them in the environment or in \
         [tool.xtask.publish] of pyproject.toml{alternatives}",
        missing.join(", ")
    )
}

/// The settings of `pyproject` and the environment, which a command that names
/// the publish target cannot do without: `why` says what it needs them for.
pub fn required(pyproject: &toml::Table, why: &str) -> anyhow::Result<Settings> {
    match from_env(pyproject)? {
        Target::Configured(settings) => Ok(settings),
        Target::Missing(missing) => anyhow::bail!(
            "{why}, and {} missing: set them in the environment or in {TABLE} of pyproject.toml",
            missing.join(", ")
        ),
    }
}

impl Settings {
    /// The domain's place in AWS, for its ARNs (`arn`, partition-aware).
    pub fn arn_domain(&self) -> arn::Domain<'_> {
        arn::Domain { region: &self.region, owner: &self.domain_owner, domain: &self.domain }
    }
    pub fn domain_arn(&self) -> String {
        self.arn_domain().domain()
    }
    pub fn repository_arn(&self) -> String {
        self.arn_domain().repository(&self.repository)
    }
    pub fn package_arn(&self, normalized_name: &str) -> String {
        self.arn_domain().pypi_package(&self.repository, normalized_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    const FULL: &[(&str, &str)] = &[
        ("AWS_REGION", "eu-central-1"),
        ("CODEARTIFACT_DOMAIN", "my-company"),
        ("CODEARTIFACT_DOMAIN_OWNER", "123456789012"),
        ("CODEARTIFACT_REPOSITORY", "python-packages"),
    ];

    #[test]
    fn environment_overrides_pyproject() {
        let table: toml::Table = "region = \"us-east-1\"\ndomain = \"other\"\ntoken-duration = 0\n".parse().unwrap();
        let Target::Configured(s) = resolve(Some(&table), &env_of(FULL)).unwrap() else { panic!() };
        assert_eq!((s.region.as_str(), s.domain.as_str()), ("eu-central-1", "my-company"));
        assert_eq!(s.token_duration, 0);
        assert_eq!(s.audience, "sts.amazonaws.com");
        assert_eq!(
            s.package_arn("yamause"),
            "arn:aws:codeartifact:eu-central-1:123456789012:package/my-company/python-packages/pypi//yamause"
        );
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let table: toml::Table =
            "region = \"us-east-1\"\ndomain = \"d1\"\ndomain-owner = \"123456789012\"\nrepository = \"r1\"\n"
                .parse()
                .unwrap();
        let empty = env_of(&[("AWS_REGION", ""), ("CODEARTIFACT_DOMAIN", "  "), ("AWS_ROLE_ARN", "")]);
        let Target::Configured(s) = resolve(Some(&table), &empty).unwrap() else { panic!() };
        assert_eq!(s.region, "us-east-1");
        assert_eq!(s.role_arn, None);
    }

    #[test]
    fn missing_settings_are_listed() {
        let Target::Missing(missing) = resolve(None, &env_of(&[("AWS_REGION", "us-east-1")])).unwrap() else {
            panic!()
        };
        assert_eq!(missing, ["CODEARTIFACT_DOMAIN", "CODEARTIFACT_DOMAIN_OWNER", "CODEARTIFACT_REPOSITORY"]);
    }

    #[test]
    fn bad_values_name_the_setting_and_where_to_set_it() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("CODEARTIFACT_DOMAIN_OWNER", "12345")],
                "CODEARTIFACT_DOMAIN_OWNER = \"12345\" (from the environment) is not a 12-digit AWS account id",
            ),
            (&[("AWS_REGION", "US East")], "AWS_REGION = \"US East\""),
            (&[("CODEARTIFACT_DOMAIN", "My_Domain")], "CODEARTIFACT_DOMAIN = \"My_Domain\""),
            (&[("CODEARTIFACT_REPOSITORY", "-repo")], "CODEARTIFACT_REPOSITORY = \"-repo\""),
            (&[("AWS_ROLE_ARN", "arn:aws:iam::123:role/x")], "AWS_ROLE_ARN"),
            (&[("CODEARTIFACT_TOKEN_DURATION", "600")], "not a valid token duration"),
            (&[("CODEARTIFACT_TOKEN_DURATION", "43201")], "not a valid token duration"),
            (&[("CODEARTIFACT_PRIVATE_DEPENDENCIES", "maybe")], "not true or false"),
            (&[("GITHUB_OIDC_AUDIENCE", "a b")], "GITHUB_OIDC_AUDIENCE"),
        ];
        for (overrides, want) in cases {
            let lookup =
                |name: &str| overrides.iter().chain(FULL).find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
            let err = resolve(None, &lookup).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(want), "{err:?} should contain {want:?}");
            assert!(err.contains("pyproject.toml") || err.contains("must be"), "{err}");
        }
    }

    #[test]
    fn unknown_pyproject_keys_are_refused() {
        let table: toml::Table = "regoin = \"us-east-1\"\n".parse().unwrap();
        let err = resolve(Some(&table), &env_of(&[])).err().unwrap().to_string();
        assert!(err.contains("unknown key `regoin`"), "{err}");
    }
}
