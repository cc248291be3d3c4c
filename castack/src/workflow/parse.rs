//! Reading a workflow file into [`Workflow`]: jobs, their `needs:`, permissions,
//! timeout, outputs and steps. A key this runner cannot honour (`if:`, `shell:` …
//! on a step) is an error, so a workflow never runs differently here than on GitHub
//! without saying so.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use yaml_rust2::{Yaml, YamlLoader};

use super::{Job, Step, StepKind, Workflow};

impl Workflow {
    pub fn parse(text: &str) -> Result<Workflow> {
        let docs = YamlLoader::load_from_str(text).context("the workflow is not YAML")?;
        let doc = docs.first().context("the workflow is empty")?;
        let Yaml::Hash(jobs) = &doc["jobs"] else { bail!("the workflow has no `jobs:`") };
        let mut out = Vec::new();
        for (id, job) in jobs {
            let id = id.as_str().context("a job id is not a string")?.to_owned();
            out.push(parse_job(id, job)?);
        }
        Ok(Workflow { jobs: out })
    }

    pub fn job(&self, id: &str) -> Option<&Job> {
        self.jobs.iter().find(|it| it.id == id)
    }
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

fn parse_job(id: String, job: &Yaml) -> Result<Job> {
    let needs = match &job["needs"] {
        Yaml::String(one) => vec![one.clone()],
        Yaml::Array(many) => many.iter().filter_map(text).collect(),
        _ => Vec::new(),
    };
    let id_token = text(&job["permissions"]["id-token"]).as_deref() == Some("write");
    let minutes = job["timeout-minutes"].as_i64().unwrap_or(360);
    let Yaml::Array(steps) = &job["steps"] else { bail!("job {id} has no `steps:`") };
    let mut parsed = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let name = text(&step["name"]).unwrap_or_else(|| format!("step {}", i + 1));
        let kind = match (text(&step["run"]), text(&step["uses"])) {
            (Some(script), None) => StepKind::Run(script),
            (None, Some(uses)) => {
                let action = uses.split('@').next().unwrap_or_default().to_owned();
                StepKind::Uses(action, pairs(&step["with"])?.into_iter().collect())
            }
            _ => bail!("job {id}, {name}: a step needs exactly one of `run:` and `uses:`"),
        };
        for key in ["if", "shell", "working-directory", "continue-on-error"] {
            if !step[key].is_badvalue() {
                bail!("job {id}, {name}: `{key}:` is not modelled by this runner");
            }
        }
        parsed.push(Step { name, id: text(&step["id"]), kind, env: pairs(&step["env"])? });
    }
    Ok(Job {
        id,
        needs,
        id_token,
        timeout: Duration::from_secs(minutes.max(1) as u64 * 60),
        outputs: pairs(&job["outputs"])?,
        steps: parsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_jobs_steps_and_refuses_what_it_cannot_run() {
        let yaml = "jobs:\n  a:\n    timeout-minutes: 2\n    outputs:\n      o: ${{ steps.s.outputs.x }}\n    steps:\n      - uses: actions/checkout@abc\n        with:\n          persist-credentials: false\n      - id: s\n        run: echo x=1 >> \"$GITHUB_OUTPUT\"\n  b:\n    needs: a\n    permissions:\n      id-token: write\n    steps:\n      - run: echo hi\n";
        let workflow = Workflow::parse(yaml).unwrap();
        assert_eq!(workflow.jobs.len(), 2);
        assert!(workflow.job("b").unwrap().id_token && workflow.job("b").unwrap().needs == ["a"]);
        assert!(matches!(&workflow.job("a").unwrap().steps[0].kind, StepKind::Uses(a, _) if a == "actions/checkout"));
        let bad = "jobs:\n  a:\n    steps:\n      - if: always()\n        run: echo\n";
        assert!(Workflow::parse(bad).unwrap_err().to_string().contains("`if:` is not modelled"));
    }
}
