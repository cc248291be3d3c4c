//! The GitHub workflows: the pinned linters pass on ours and fail on a bad one, the
//! release workflow keeps its hardened shape, and every `cargo xtask …` command the
//! documentation shows exists.

use std::fs;

use crate::support::{TempDir, repo_root, text, xtask};

#[test]
fn our_workflows_pass_the_linters() {
    let out = xtask(&repo_root(), &["lint"], &[]);
    assert!(
        out.status.success(),
        "cargo xtask lint failed (it needs python3 3.11+ and Node.js with npm):\n{}",
        text(&out)
    );
    assert!(text(&out).contains("2 workflow file(s)"), "{}", text(&out));
}

#[test]
fn the_linters_catch_a_bad_workflow() {
    let dir = TempDir::new("bad-workflow");
    fs::write(
        dir.path().join("bad.yml"),
        "on:\n  push:\n    tags: [\"v*\"]\npermissions:\n  id-tokens: write\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: echo \"${{ github.ref_name }}\"\n",
    )
    .unwrap();
    let out = xtask(&repo_root(), &["lint", dir.path().to_str().unwrap()], &[]);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("bad.yml:11: a `${{ … }}` expression inside a `run:` script"), "{log}");
    assert!(log.contains("zizmor (default persona) reported findings"), "{log}");
    assert!(log.contains("actionlint reported problems") && log.contains("id-tokens"), "{log}");
}

fn release_yml() -> String {
    fs::read_to_string(repo_root().join(".github/workflows/release.yml")).unwrap()
}

/// The lines of one job: from `  NAME:` to the next key at the same indentation.
fn job<'a>(yaml: &'a str, name: &str) -> &'a str {
    let start = yaml.find(&format!("\n  {name}:\n")).unwrap_or_else(|| panic!("no job {name}")) + 1;
    let rest = &yaml[start..];
    let mut len = 0;
    for (i, line) in rest.split_inclusive('\n').enumerate() {
        let next_key = line.starts_with("  ") && !line.starts_with("   ") && !line.trim().is_empty();
        if i > 0 && (next_key || !line.starts_with(' ') && !line.trim().is_empty()) {
            break;
        }
        len += line.len();
    }
    &rest[..len]
}

#[test]
fn the_release_workflow_keeps_its_hardened_shape() {
    let yaml = release_yml();
    assert!(yaml.contains("\npermissions: {}\n"), "no workflow-level `permissions: {{}}`");
    assert!(yaml.contains("tags: [\"v*\"]") && yaml.contains("workflow_dispatch:"));
    assert!(yaml.contains("cancel-in-progress: false"));
    // One release at a time per repository (two tags of one version must not race).
    assert!(yaml.contains("\n  group: release\n"), "the concurrency group is not one per repository");
    // "Re-run all jobs" uploads the artifact again under its name.
    assert!(yaml.contains("overwrite: true"));
    assert!(!yaml.contains("actions/cache") && !yaml.contains("cache:"), "no caches in the release workflow");
    for line in yaml.lines().filter(|l| l.trim_start().starts_with("uses:") || l.trim_start().starts_with("- uses:")) {
        let reference = line.split("uses:").nth(1).unwrap().trim();
        let (action, rest) = reference.split_once('@').unwrap_or_else(|| panic!("{line}: not pinned"));
        let sha: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
        assert!(
            sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
            "{action} is not pinned to a commit: {line}"
        );
        assert!(rest.contains("# v"), "{action}@{sha} has no version comment");
    }
    assert_eq!(yaml.matches("persist-credentials: false").count(), yaml.matches("actions/checkout@").count());

    let code = |text: &str| -> String {
        text.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n")
    };
    // One compile: the compile job records the binary's hash as its output and runs
    // nothing else; the other jobs check the binary against it before running it,
    // and run no cargo.
    let compile = job(&yaml, "compile");
    assert!(compile.contains("contents: read") && !compile.contains("id-token"), "compile job:\n{compile}");
    let built = compile
        .find("cargo build --locked --package xtask --bin xtask --no-default-features")
        .expect("the compile job compiles the release's own commands only");
    let recorded = compile.find("echo \"sha256=$sum\" >> \"$GITHUB_OUTPUT\"").expect("the hash is a step output");
    assert!(built < recorded, "compile job:\n{compile}");
    assert!(compile.contains("xtask-sha256: ${{ steps.compile.outputs.sha256 }}"), "compile job:\n{compile}");
    assert!(!code(compile).contains("xtask release"), "the compile job runs the release:\n{compile}");
    // The compile job checks the lock of the build requirements and says whether
    // the build-deps job is needed.
    assert!(compile.contains("xtask\" lock --check >> \"$GITHUB_OUTPUT\""), "compile job:\n{compile}");
    let build = job(&yaml, "build");
    assert!(build.contains("contents: read") && !build.contains("id-token"), "build job:\n{build}");
    assert!(build.contains("needs: [compile, build-deps]"), "build job:\n{build}");
    assert!(!code(build).contains("secrets."), "the build job gets a secret:\n{build}");
    // Private build dependencies come from a job of their own, with a read-only
    // identity of its own environment, and only when the project has them.
    let deps = job(&yaml, "build-deps");
    assert!(deps.contains("environment: build-deps") && deps.contains("id-token: write"), "{deps}");
    assert!(deps.contains("if: needs.compile.outputs.private-dependencies == 'true'"), "{deps}");
    assert!(!code(deps).contains("--build-only") && !code(deps).contains("--publish-only"), "{deps}");
    let publish = job(&yaml, "publish");
    assert!(publish.contains("needs: [compile, build]") && publish.contains("environment: release"), "{publish}");
    assert!(publish.contains("id-token: write") && publish.contains("contents: read"));
    let check_step = |job: &str| -> String {
        let start = job.find("      - name: Check the release tool").expect("a check step");
        let rest = &job[start..];
        rest[..rest[8..].find("\n      - ").map_or(rest.len(), |i| i + 8)].to_owned()
    };
    assert_eq!(check_step(build), check_step(publish), "the two jobs check the binary differently");
    assert_eq!(check_step(deps), check_step(publish), "the two jobs check the binary differently");
    for (name, text, runs) in [
        ("build-deps", deps, "release --fetch-build-deps"),
        ("build", build, "release --build-only"),
        ("publish", publish, "release --publish-only dist"),
    ] {
        assert!(!code(text).contains("cargo"), "the {name} job invokes cargo:\n{text}");
        let checked = text.find("sha256sum --check --strict").expect("the job checks the binary");
        let used = text.find(runs).expect("the job runs the binary");
        assert!(checked < used, "the {name} job runs the binary before it is checked:\n{text}");
        assert!(text.contains("XTASK_SHA256: ${{ needs.compile.outputs.xtask-sha256 }}"), "{name} job:\n{text}");
        assert!(text.contains("timeout-minutes:"));
    }
    for name in crate::support::WORKFLOW_SECRETS {
        for job in [publish, deps] {
            assert!(job.contains(&format!("{name}: ${{{{ secrets.{name} }}}}")), "{name} is not passed through env:");
        }
    }
}

/// Every `cargo xtask SUBCOMMAND …` shown in the README and the guide exists.
#[test]
fn documented_commands_exist() {
    let mut docs = vec![repo_root().join("README.md")];
    if let Ok(entries) = fs::read_dir(repo_root().join("docs")) {
        docs.extend(
            entries.filter_map(|it| it.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "md")),
        );
    }
    let mut seen = 0;
    for doc in docs {
        let body = fs::read_to_string(&doc).unwrap();
        for (i, _) in body.match_indices("cargo xtask ") {
            // The command ends with its line or its code span.
            let rest = &body[i + "cargo xtask ".len()..];
            let rest = &rest[..rest.find(['\n', '`']).unwrap_or(rest.len())];
            let words: Vec<&str> = rest.split_whitespace().collect();
            let Some(sub) = words.first() else { continue };
            if sub.starts_with('-') || sub.starts_with('…') {
                continue;
            }
            // Only the subcommand and its flags are checked; values and tags vary.
            let flags: Vec<&str> = words.iter().skip(1).filter(|w| w.starts_with("--")).copied().collect();
            let out = xtask(&repo_root(), &[sub, "--help"], &[]);
            assert!(out.status.success(), "{}: `cargo xtask {sub}` does not exist:\n{}", doc.display(), text(&out));
            // The help lists every command; the part of this one runs from `xtask SUB`
            // to the next `xtask …` heading.
            let help = String::from_utf8_lossy(&out.stdout).into_owned();
            let section = help.split(&format!("\nxtask {sub}\n")).nth(1).unwrap_or_default();
            let section = section.split("\nxtask ").next().unwrap_or_default();
            for flag in flags {
                let flag = flag.split('=').next().unwrap().trim_end_matches([',', '.', ')', ':']);
                assert!(section.contains(flag), "{}: `cargo xtask {sub}` has no {flag}", doc.display());
            }
            seen += 1;
        }
    }
    assert!(seen >= 3, "only {seen} documented commands found");
}
