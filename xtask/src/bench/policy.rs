//! `cargo xtask bench policy`: the trust analysis of `check-iam` on generated worst
//! cases, documents as large as IAM accepts for a trust policy (2,048 characters
//! by default, 4,096 with a raised quota, whitespace not counted) and filled with
//! what costs the analysis most: wildcard-laden `sub` values, near-miss literals,
//! many statements, Deny statements and negated conditions whose values the
//! proof must take away, conditions on other claims that name repositories, long
//! patterns. Each document is analysed in this process, as `check-iam` does it,
//! on one core; the figures per size are the median and the maximum over the
//! documents (each the median of its runs), against the 0.5 s the analysis may
//! take and against the project's own recommended policy measured in the same run.
//!
//! The documents come from a fixed generator (a linear congruential one, seeded
//! per document), so every run measures the same ones.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::policy::{self, RepoRef, TrustContext, TrustFacts};

/// The sizes measured, in characters without whitespace: up to IAM's largest.
const SIZES: [usize; 4] = [1024, 2048, 3072, 4096];
/// Documents per family and size.
const SEEDS: u64 = 3;
/// What one analysis may take.
const LIMIT: Duration = Duration::from_millis(500);

const PROVIDER: &str = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";
const SUB: &str = "token.actions.githubusercontent.com:sub";
const AUD: &str = "token.actions.githubusercontent.com:aud";
const RELEASE: &str = "repo:octo-org/yamause:environment:release";

/// A small deterministic generator: the same documents on every run.
struct Gen(u64);

impl Gen {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// A `sub` pattern of subject pieces and wildcards.
    fn wild(&mut self) -> String {
        const PIECES: [&str; 22] = [
            "octo",
            "-org",
            "/",
            "yamause",
            ":",
            "environment",
            "release",
            "ref",
            "refs/",
            "tags/v",
            "@9",
            "e",
            "a",
            "r",
            "o",
            "*",
            "*",
            "?",
            "*?",
            "?*",
            "*e*",
            "pull_request",
        ];
        let mut out = if self.below(4) == 0 { String::new() } else { "repo:".to_owned() };
        for _ in 0..3 + self.below(9) {
            out.push_str(self.pick(&PIECES));
        }
        out
    }

    /// The release subject with one small edit: a near miss.
    fn near_miss(&mut self) -> String {
        let mut chars: Vec<char> = RELEASE.chars().collect();
        let at = self.below(chars.len());
        match self.below(3) {
            0 => chars[at] = self.pick(&["x", "O", "-", ":", "/", "@"]).chars().next().unwrap_or('x'),
            1 => chars.insert(at, 'z'),
            _ => {
                chars.remove(at);
            }
        }
        chars.into_iter().collect()
    }

    /// A long pattern of many short wildcard segments.
    fn long(&mut self) -> String {
        let mut out = "repo:".to_owned();
        for _ in 0..40 + self.below(80) {
            out.push_str(self.pick(&["*e", "*r", "?o", "*:", "*/", "*a?", "*-"]));
        }
        out.push('*');
        out
    }
}

fn allow(condition: Value) -> Value {
    json!({"Effect": "Allow", "Principal": {"Federated": PROVIDER}, "Action": "sts:AssumeRoleWithWebIdentity",
           "Condition": condition})
}

fn document(statements: Vec<Value>) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// The largest document `build` makes from items `next` gives that fits `size`.
fn fill(size: usize, build: &dyn Fn(&[String]) -> String, next: &mut dyn FnMut() -> String) -> String {
    let mut items: Vec<String> = Vec::new();
    loop {
        items.push(next());
        if policy::iam_size(&build(&items)) > size {
            items.pop();
            return build(&items);
        }
    }
}

/// A family of worst cases: its name, and a document of at most `size` characters.
type Family = (&'static str, fn(&mut Gen, usize) -> String);

const FAMILIES: [Family; 9] = [
    ("wildcard values", |g, size| {
        let build = |v: &[String]| {
            document(vec![allow(json!({"StringEquals": {AUD: "sts.amazonaws.com"}, "StringLike": {SUB: v}}))])
        };
        fill(size, &build, &mut || g.wild())
    }),
    ("near-miss literals", |g, size| {
        let build = |v: &[String]| document(vec![allow(json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: v}}))]);
        fill(size, &build, &mut || g.near_miss())
    }),
    ("many statements", |g, size| {
        let build =
            |v: &[String]| document(v.iter().map(|it| allow(json!({"StringLike": {SUB: [it, RELEASE]}}))).collect());
        fill(size, &build, &mut || g.wild())
    }),
    ("Deny with negated values", |g, size| {
        let build = |v: &[String]| {
            let deny = json!({"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRoleWithWebIdentity",
                              "Condition": {"StringNotLike": {SUB: v}}});
            document(vec![allow(json!({"StringLike": {SUB: ["repo:octo-org/*", "repo:*:environment:*"]}})), deny])
        };
        fill(size, &build, &mut || g.wild())
    }),
    ("negated values in the Allow", |g, size| {
        let build =
            |v: &[String]| document(vec![allow(json!({"StringLike": {SUB: "repo:*"}, "StringNotLike": {SUB: v}}))]);
        fill(size, &build, &mut || g.wild())
    }),
    ("repositories in other claims", |g, size| {
        let build = |v: &[String]| {
            document(vec![allow(json!({"StringLike": {SUB: "repo:octo-org/*",
                "token.actions.githubusercontent.com:repository": v,
                "token.actions.githubusercontent.com:job_workflow_ref": v}}))])
        };
        let mut i = 0;
        fill(size, &build, &mut || {
            i += 1;
            format!("{}{i}/{}", g.pick(&["octo-org", "octo", "org*", "*"]), g.pick(&["yamause", "*", "y?m*"]))
        })
    }),
    ("values ignoring case", |g, size| {
        let build = |v: &[String]| document(vec![allow(json!({"StringEqualsIgnoreCase": {SUB: v}}))]);
        fill(size, &build, &mut || g.near_miss().to_uppercase())
    }),
    ("long patterns", |g, size| {
        let build = |v: &[String]| document(vec![allow(json!({"StringLike": {SUB: v}}))]);
        fill(size, &build, &mut || g.long())
    }),
    ("a mixture", |g, size| {
        let build = |v: &[String]| {
            let mut statements: Vec<Value> = Vec::new();
            for (i, value) in v.iter().enumerate() {
                statements.push(match i % 4 {
                    0 => allow(json!({"StringLike": {SUB: value}, "IpAddress": {"aws:SourceIp": "192.0.2.0/24"}})),
                    1 => json!({"Effect": "Deny", "Principal": {"Federated": PROVIDER},
                                "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringLike": {SUB: value}}}),
                    2 => allow(json!({"StringLike": {SUB: [value, RELEASE]}, "StringNotLike": {SUB: value}})),
                    _ => allow(json!({"ForAnyValue:StringLike": {SUB: value},
                                      "StringEquals": {"token.actions.githubusercontent.com:environment": "release"}})),
                });
            }
            document(statements)
        };
        fill(size, &build, &mut || g.wild())
    }),
];

/// The time this thread has run on a core, from Linux's scheduler statistics:
/// what the analysis costs whatever else the (shared) machine runs. `None`
/// elsewhere, and then the figures are wall-clock times.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// One document's figures: the medians of its runs on a core and on the clock,
/// and whether the analysis ran out of its work budget (and so failed closed).
struct Measured {
    cpu: Duration,
    wall: Duration,
    ran_out: bool,
}

fn analyse(text: &str, ctx: &TrustContext, runs: usize) -> Measured {
    let mut ran_out = false;
    let (mut cpu, mut wall): (Vec<Duration>, Vec<Duration>) = (Vec::new(), Vec::new());
    for _ in 0..runs.max(1) {
        let (start, on_core) = (Instant::now(), cpu_time());
        let findings = policy::analyse_trust(text, ctx, &TrustFacts::default());
        let elapsed = start.elapsed();
        cpu.push(on_core.zip(cpu_time()).map_or(elapsed, |(before, after)| after.saturating_sub(before)));
        wall.push(elapsed);
        ran_out = findings.iter().any(|it| it.id == "trust.unproven" && it.message.contains("work budget"));
    }
    cpu.sort();
    wall.sort();
    Measured { cpu: cpu[cpu.len() / 2], wall: wall[wall.len() / 2], ran_out }
}

/// The figures, one line per size.
pub(super) fn run(runs: usize) -> Vec<String> {
    let mut ctx =
        TrustContext::new(RepoRef { owner: "octo-org".into(), name: "yamause".into(), owner_id: None, name_id: None });
    ctx.account = Some("123456789012".to_owned());
    let recommended = policy::to_pretty_json(&policy::recommended_trust_policy(&ctx, "123456789012"));
    let baseline = analyse(&recommended, &ctx, runs).cpu;
    let mut lines = vec![format!(
        "policy: times on one core (the thread's CPU time; wall-clock max in brackets); the project's recommended \
         trust policy {:.4} s; {} families × {SEEDS} documents per size, each the median of {runs} run(s); limit {:.1} s",
        baseline.as_secs_f64(),
        FAMILIES.len(),
        LIMIT.as_secs_f64()
    )];
    for size in SIZES {
        let mut times: Vec<(Duration, Duration, String)> = Vec::new();
        let mut ran_out = 0;
        for (name, family) in FAMILIES {
            for seed in 0..SEEDS {
                let text = family(&mut Gen(seed * 7919 + size as u64), size);
                let measured = analyse(&text, &ctx, runs);
                ran_out += usize::from(measured.ran_out);
                times.push((measured.cpu, measured.wall, format!("{name} #{seed}, {} chars", policy::iam_size(&text))));
            }
        }
        times.sort();
        let (max, _, worst) = times.last().cloned().unwrap_or_default();
        let wall = times.iter().map(|it| it.1).max().unwrap_or_default();
        let median = times[times.len() / 2].0;
        lines.push(format!(
            "policy {size}: median {:.3} s, max {:.3} s ({worst}) [wall {:.3} s]; max/limit {:.2} ({}), \
             max/recommended {:.0}; {ran_out} of {} ran out of the work budget (and failed closed)",
            median.as_secs_f64(),
            max.as_secs_f64(),
            wall.as_secs_f64(),
            max.as_secs_f64() / LIMIT.as_secs_f64(),
            if max < LIMIT { "met" } else { "MISSED" },
            max.as_secs_f64() / baseline.as_secs_f64().max(1e-9),
            times.len()
        ));
    }
    lines
}
