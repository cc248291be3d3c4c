//! Reading a workflow file into [`Workflow`]: jobs, their `needs:`, `if:`,
//! environment, permissions, timeout, outputs, shell and steps. Every key at every
//! level is on an allow-list of what this runner honours; anything else (a job
//! `env:`, `strategy:`, an action input it does not model …) is an error, so a
//! workflow never runs differently here than on GitHub without saying so. An `if:`
//! is checked against the expressions this runner evaluates (`expr.rs`) when it
//! runs.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use yaml_rust2::{Yaml, YamlLoader, yaml::Hash};

use super::{Job, Shell, Step, StepKind, Workflow};

const WORKFLOW_KEYS: &[&str] = &["name", "on", "permissions", "concurrency", "defaults", "jobs"];
const JOB_KEYS: &[&str] = &[
    "name",
    "runs-on",
    "timeout-minutes",
    "permissions",
    "environment",
    "needs",
    "if",
    "outputs",
    "defaults",
    "steps",
];
const STEP_KEYS: &[&str] = &["name", "id", "if", "uses", "run", "with", "env", "shell"];

/// The inputs each modelled action takes.
const ACTIONS: &[(&str, &[&str])] = &[
    ("actions/checkout", &["persist-credentials"]),
    (
        "actions/upload-artifact",
        &["name", "path", "if-no-files-found", "retention-days", "overwrite", "include-hidden-files"],
    ),
    ("actions/download-artifact", &["name", "path"]),
];

impl Workflow {
    pub fn parse(text: &str) -> Result<Workflow> {
        let docs = YamlLoader::load_from_str(text).context("the workflow is not YAML")?;
        let doc = docs.first().context("the workflow is empty")?;
        let top = hash(doc, "the workflow")?;
        only_keys(top, WORKFLOW_KEYS, "the workflow")?;
        let shell = defaults_shell(&doc["defaults"], Shell::Default, "the workflow")?;
        let Yaml::Hash(jobs) = &doc["jobs"] else { bail!("the workflow has no `jobs:`") };
        let mut out = Vec::new();
        for (id, job) in jobs {
            let id = id.as_str().context("a job id is not a string")?.to_owned();
            out.push(parse_job(id, job, shell)?);
        }
        Ok(Workflow { jobs: out })
    }

    pub fn job(&self, id: &str) -> Option<&Job> {
        self.jobs.iter().find(|it| it.id == id)
    }
}

fn hash<'a>(yaml: &'a Yaml, what: &str) -> Result<&'a Hash> {
    match yaml {
        Yaml::Hash(map) => Ok(map),
        _ => bail!("{what} is not a map"),
    }
}

fn only_keys(map: &Hash, allowed: &[&str], what: &str) -> Result<()> {
    for key in map.keys() {
        let key = key.as_str().with_context(|| format!("{what}: a key is not text"))?;
        if !allowed.contains(&key) {
            bail!("{what}: `{key}:` is not modelled by this runner");
        }
    }
    Ok(())
}

fn text(yaml: &Yaml) -> Option<String> {
    match yaml {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        _ => None,
    }
}

fn pairs(yaml: &Yaml) -> Result<Vec<(String, String)>> {
    match yaml {
        Yaml::BadValue | Yaml::Null => Ok(Vec::new()),
        Yaml::Hash(map) => map
            .iter()
            .map(|(k, v)| Ok((text(k).context("a key is not text")?, text(v).context("a value is not text")?)))
            .collect(),
        _ => bail!("expected a map of names to values"),
    }
}

/// `defaults: run: shell: bash` (the only shell this runner has), or `inherited`.
fn defaults_shell(yaml: &Yaml, inherited: Shell, what: &str) -> Result<Shell> {
    if yaml.is_badvalue() {
        return Ok(inherited);
    }
    only_keys(hash(yaml, what)?, &["run"], &format!("{what} `defaults:`"))?;
    only_keys(hash(&yaml["run"], what)?, &["shell"], &format!("{what} `defaults: run:`"))?;
    shell(&yaml["run"]["shell"], what)
}

fn shell(yaml: &Yaml, what: &str) -> Result<Shell> {
    match text(yaml).as_deref() {
        Some("bash") => Ok(Shell::Bash),
        other => bail!("{what}: the shell {other:?} is not modelled by this runner (only `bash`)"),
    }
}

fn parse_job(id: String, job: &Yaml, inherited: Shell) -> Result<Job> {
    let what = format!("job {id}");
    only_keys(hash(job, &what)?, JOB_KEYS, &what)?;
    let needs = match &job["needs"] {
        Yaml::String(one) => vec![one.clone()],
        Yaml::Array(many) => many.iter().filter_map(text).collect(),
        _ => Vec::new(),
    };
    let id_token = text(&job["permissions"]["id-token"]).as_deref() == Some("write");
    let minutes = match &job["timeout-minutes"] {
        Yaml::BadValue => 360.0,
        Yaml::Integer(n) => *n as f64,
        other => other.as_f64().with_context(|| format!("{what}: `timeout-minutes:` is not a number"))?,
    };
    let job_shell = defaults_shell(&job["defaults"], inherited, &what)?;
    let Yaml::Array(steps) = &job["steps"] else { bail!("job {id} has no `steps:`") };
    let mut parsed = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let name = text(&step["name"]).unwrap_or_else(|| format!("step {}", i + 1));
        let what = format!("job {id}, {name}");
        only_keys(hash(step, &what)?, STEP_KEYS, &what)?;
        let kind = match (text(&step["run"]), text(&step["uses"])) {
            (Some(script), None) => StepKind::Run(script),
            (None, Some(uses)) => {
                let action = uses.split('@').next().unwrap_or_default().to_owned();
                let with = pairs(&step["with"])?;
                let Some((_, inputs)) = ACTIONS.iter().find(|(name, _)| *name == action) else {
                    bail!("{what}: the action {action} is not modelled by this runner");
                };
                if let Some((input, _)) = with.iter().find(|(key, _)| !inputs.contains(&key.as_str())) {
                    bail!("{what}: the input `{input}` of {action} is not modelled by this runner");
                }
                StepKind::Uses(action, with.into_iter().collect())
            }
            _ => bail!("{what}: a step needs exactly one of `run:` and `uses:`"),
        };
        let step_shell = if step["shell"].is_badvalue() { job_shell } else { shell(&step["shell"], &what)? };
        let condition = text(&step["if"]);
        parsed.push(Step {
            name,
            id: text(&step["id"]),
            condition,
            kind,
            env: pairs(&step["env"])?,
            shell: step_shell,
        });
    }
    // `environment: NAME` or `environment: {name: NAME, url: …}`.
    let environment = text(&job["environment"]).or_else(|| text(&job["environment"]["name"]));
    Ok(Job {
        id,
        needs,
        condition: text(&job["if"]),
        environment,
        id_token,
        timeout: Duration::from_secs_f64(minutes.max(0.0) * 60.0),
        outputs: pairs(&job["outputs"])?,
        steps: parsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_jobs_steps_and_refuses_what_it_cannot_run() {
        let yaml = "defaults:\n  run:\n    shell: bash\njobs:\n  a:\n    timeout-minutes: 2\n    outputs:\n      o: ${{ steps.s.outputs.x }}\n    steps:\n      - uses: actions/checkout@abc\n        with:\n          persist-credentials: false\n      - id: s\n        run: echo x=1 >> \"$GITHUB_OUTPUT\"\n  b:\n    needs: a\n    permissions:\n      id-token: write\n    steps:\n      - run: echo hi\n";
        let workflow = Workflow::parse(yaml).unwrap();
        assert_eq!(workflow.jobs.len(), 2);
        let (a, b) = (workflow.job("a").unwrap(), workflow.job("b").unwrap());
        assert!(b.id_token && b.needs == ["a"] && !a.id_token);
        assert!(matches!(&a.steps[0].kind, StepKind::Uses(name, _) if name == "actions/checkout"));
        assert_eq!(b.steps[0].shell, Shell::Bash, "the workflow's defaults reach every step");
        let plain = Workflow::parse("jobs:\n  a:\n    steps:\n      - run: echo\n").unwrap();
        assert_eq!(plain.jobs[0].steps[0].shell, Shell::Default, "no defaults: GitHub's `bash -e {{0}}`");

        for (bad, says) in [
            ("jobs:\n  a:\n    steps:\n      - continue-on-error: true\n        run: echo\n", "`continue-on-error:`"),
            ("env:\n  A: b\njobs:\n  a:\n    steps:\n      - run: echo\n", "`env:` is not modelled"),
            ("jobs:\n  a:\n    env:\n      A: b\n    steps:\n      - run: echo\n", "job a: `env:` is not modelled"),
            ("jobs:\n  a:\n    strategy:\n      matrix: {}\n    steps:\n      - run: echo\n", "`strategy:`"),
            ("jobs:\n  a:\n    steps:\n      - run: echo\n        shell: sh\n", "the shell Some(\"sh\")"),
            ("defaults:\n  run:\n    shell: pwsh\njobs:\n  a:\n    steps:\n      - run: echo\n", "\"pwsh\""),
            ("jobs:\n  a:\n    steps:\n      - uses: actions/cache@x\n", "actions/cache is not modelled"),
            (
                "jobs:\n  a:\n    steps:\n      - uses: actions/checkout@x\n        with:\n          fetch-depth: 0\n",
                "the input `fetch-depth`",
            ),
        ] {
            let err = Workflow::parse(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}\n→ {err}");
        }
    }
}
