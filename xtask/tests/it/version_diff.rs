//! Differential test: our PEP 440 parser against the pinned `packaging` itself, on
//! several hundred version strings, valid and invalid. Normalized forms and
//! accept/refuse decisions must agree exactly.

use std::{
    io::Write,
    process::{Command, Stdio},
};

use crate::support;

/// Versions chosen by hand: packaging's own test cases and the spellings people use.
const HAND_PICKED: &[&str] = &[
    // valid, already normal
    "1.0",
    "1.0.0",
    "0.1",
    "2024.10.1",
    "7.1.1.1.1.1.1",
    "1.0a1",
    "1.0b2",
    "1.0rc1",
    "1.0.post456",
    "1.0.dev456",
    "1.0a12.dev456",
    "1.0b2.post345.dev456",
    "1.0.post456.dev34",
    "1!1.0",
    "1!1.0rc1.post2.dev3",
    "1.0+abc.5",
    // valid, not normal
    "v1.0",
    "V1.0",
    "1.0-alpha",
    "1.0.0-beta.2",
    "1.0RC1",
    "1.0-rc.1",
    "1.0_c1",
    "1.0pre",
    "1.0preview2",
    "1.0.0-rc.1",
    "01.2",
    "1.01",
    "1.0-1",
    "1.0-r4",
    "1.0_post",
    "1.0-post_5",
    "1.0.rev",
    "1.0DEV",
    "1.0-dev.3",
    "1.0a.1",
    "1.0a-1",
    "1.0a_1",
    "1.0.a1",
    "1.0_a1",
    "1.0-a1",
    "1.0alpha",
    "1.0beta",
    "1.0c",
    "1.0.post.dev",
    "1.0+ABC",
    "1.0+abc_def-1.7",
    "1.0+007",
    "00!1.0",
    "0!1.0",
    "1.0.0.0.0.0",
    " 1.0",
    "1.0 ",
    "\t1.0\n",
    "1.0a1.post",
    "1.0rc1-1",
    "1.0-1.dev2",
    "1.0.post1.dev",
    "000",
    "0.0.0",
    "1.0.0-RC.01",
    "1.0.POST1",
    "18446744073709551616.0",
    "1.0.99999999999999999999999999",
    // invalid
    "",
    " ",
    "v",
    "vv1.0",
    "french toast",
    "1.0+a+",
    "1.0++",
    "1.0+_foobar",
    "1.0+foo&asd",
    "1.0+1+1",
    "1..0",
    ".1",
    "1.",
    "1.0.",
    "1.0-",
    "1.0_",
    "1.0a1a1",
    "1.0rc1rc2",
    "1.0.post1.post2",
    "1.0.dev1.dev2",
    "1.0-1-1",
    "1.0--1",
    "1.0a..1",
    "1.0+",
    "1.0+.",
    "+1.0",
    "!1.0",
    "1!",
    "1!!1.0",
    "a1.0",
    "1.0x",
    "1.0 .0",
    "1,0",
    "1.0/1",
    "1.0:1",
    "-1.0",
    "1.0-r-1",
    "1.0pre_view",
    "1.0al",
    "1.0dev-",
    "v-1.0",
    "1.0++1",
    "1.0+a..b",
    "1.0+-a",
    "1.0+a-",
    "1.0.dev.1.",
    "1.0 rc1",
    "1.0\u{0}",
    "1.0\x1b",
    "1_0",
    "1-0",
    "1.0..post1",
    "1.0post1post",
];

/// Generated spellings: every combination of a few spellings of each segment,
/// plus the same strings broken in typical ways.
fn generated() -> Vec<String> {
    let prefixes = ["", "v", "V"];
    let epochs = ["", "1!", "00!", "12!"];
    let releases = ["0", "1.0", "01.02.003", "2024.10"];
    let pres = ["", "a1", "-alpha.2", "_beta", ".rc", "c3", "pre", "preview4", "RC05", "B"];
    let posts = ["", ".post1", "-1", "post", "_r2", "-rev", ".POST", "-post-3"];
    let devs = ["", ".dev", "-dev3", "DEV", "_dev_7"];
    let mut out = Vec::new();
    let mut i = 0usize;
    for prefix in prefixes {
        for epoch in epochs {
            for release in releases {
                for pre in pres {
                    for post in posts {
                        for dev in devs {
                            i += 1;
                            // A deterministic sample of the 19 200 combinations.
                            if !i.is_multiple_of(53) {
                                continue;
                            }
                            let s = format!("{prefix}{epoch}{release}{pre}{post}{dev}");
                            // Broken variants: doubled separator, stray suffix, a local part.
                            match i % 5 {
                                0 => out.push(format!("{s}..")),
                                1 => out.push(format!("{s}+local.7")),
                                2 => out.push(format!("{s}-")),
                                3 => out.push(s.replacen('.', "", 1)),
                                _ => out.push(format!("{s}x")),
                            }
                            out.push(s);
                        }
                    }
                }
            }
        }
    }
    out
}

/// What `packaging` says of each string: its normalized form, or None when invalid.
fn packaging_verdicts(inputs: &[String]) -> Vec<Option<String>> {
    let python = support::tools_python("release");
    let script = r#"
import json, sys
from packaging.version import InvalidVersion, Version
for line in sys.stdin:
    s = json.loads(line)
    try:
        print(json.dumps(str(Version(s))))
    except InvalidVersion:
        print("null")
"#;
    let mut child = Command::new(&python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the release tools' python");
    let mut stdin = child.stdin.take().unwrap();
    for s in inputs {
        writeln!(stdin, "{}", serde_json::Value::String(s.clone())).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "packaging failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout.lines().map(|line| serde_json::from_str::<Option<String>>(line).unwrap()).collect()
}

#[test]
fn agrees_with_packaging() {
    let mut inputs: Vec<String> = HAND_PICKED.iter().map(|it| it.to_string()).collect();
    inputs.extend(generated());
    let valid_count_floor = 100;
    assert!(inputs.len() >= 300, "only {} inputs", inputs.len());

    let verdicts = packaging_verdicts(&inputs);
    assert_eq!(verdicts.len(), inputs.len());
    let mut disagreements = Vec::new();
    let mut valid = 0;
    for (input, want) in inputs.iter().zip(&verdicts) {
        let ours = xtask::parse_version(input).ok().map(|it| it.as_str().to_owned());
        valid += usize::from(want.is_some());
        if &ours != want {
            disagreements.push(format!("{input:?}: packaging {want:?}, ours {ours:?}"));
        }
    }
    assert!(disagreements.is_empty(), "{} disagreement(s):\n{}", disagreements.len(), disagreements.join("\n"));
    // Both kinds must be well represented, or the test proves little.
    assert!(
        valid >= valid_count_floor && inputs.len() - valid >= valid_count_floor,
        "{valid} valid of {}",
        inputs.len()
    );
}
