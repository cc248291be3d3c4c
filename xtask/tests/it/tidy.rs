//! Tidy checks of the repository itself, as tests: what CI runs matches what the
//! README promises, the README stays short, every relative link and every path the
//! docs name resolves, every source file says what it is for, every finding id the
//! code can emit has its entry in docs/checks.md (and the guides name no other), and
//! the sources cite only what a maintainer can open.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

use crate::support::repo_root;

mod rust_source;

use rust_source::{Tok, lex, without_test_items};

/// The test command the README gives for a fresh machine.
fn readme_test_command() -> String {
    let readme = fs::read_to_string(repo_root().join("README.md")).unwrap();
    let marker = "# Run the whole test suite";
    let after = readme
        .split_once(marker)
        .expect("README.md names the test command after a `# Run the whole test suite` comment")
        .1;
    after.lines().nth(1).unwrap().trim().to_owned()
}

#[test]
fn ci_runs_the_readme_test_command() {
    let command = readme_test_command();
    assert!(command.starts_with("cargo "), "{command:?}");
    let ci = fs::read_to_string(repo_root().join(".ci/run")).unwrap();
    assert!(ci.lines().any(|line| line.trim() == command), ".ci/run does not run `{command}`");
    for lint in ["cargo fmt --all --check", "cargo clippy --locked --workspace --all-targets -- -D warnings"] {
        assert!(ci.lines().any(|line| line.trim() == lint), ".ci/run does not run `{lint}`");
    }
}

/// `cargo xtask` (and so every release and workflow) builds what Cargo.lock names
/// or stops; so does every cargo command CI runs.
#[test]
fn cargo_never_resolves_a_dependency_the_lock_does_not_name() {
    let config = fs::read_to_string(repo_root().join(".cargo/config.toml")).unwrap();
    let alias = config.lines().find(|it| it.starts_with("xtask =")).expect("an `xtask` alias in .cargo/config.toml");
    assert!(alias.contains("run --locked "), "{alias}");
    let ci = fs::read_to_string(repo_root().join(".ci/run")).unwrap();
    for line in ci.lines().filter(|it| it.starts_with("cargo ") && !it.starts_with("cargo fmt")) {
        assert!(line.contains(" --locked "), ".ci/run: `{line}` may update Cargo.lock");
    }
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let mut missing = Vec::new();
    for dir in ["xtask", "castack"] {
        visit(&repo_root().join(dir), &mut |path| {
            if path.extension().is_some_and(|it| it == "rs") {
                let text = fs::read_to_string(path).unwrap();
                if !text.trim_start().starts_with("//!") {
                    missing.push(path.display().to_string());
                }
            }
        });
    }
    assert!(missing.is_empty(), "add a `//!` line saying what the file is for: {missing:#?}");
}

fn visit(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|it| it != "target") {
                visit(&path, f);
            }
        } else {
            f(&path);
        }
    }
}

/// The release path (the binary release.yml compiles, `--no-default-features`)
/// compiles no IAM client, no setup crypto, no aws-lc C build and no server code.
#[test]
fn the_release_path_has_no_heavy_or_server_crates() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(&cargo)
        .args(["tree", "--package", "xtask", "--no-default-features", "--edges", "normal", "--prefix", "none"])
        .args(["--format", "{p} {f}"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8(out.stdout).unwrap();
    assert!(tree.contains("aws-sdk-codeartifact") && tree.contains("rustls"), "unexpected tree:\n{tree}");
    // icu_*: the idna_adapter pin (see xtask/Cargo.toml) keeps ICU4X out.
    for banned in [
        "aws-sdk-iam ",
        "crypto_box ",
        "aws-sdk-sso ",
        "aws-lc-sys ",
        "aws-lc-rs ",
        "castack ",
        "tiny_http ",
        "openssl-sys ",
        "icu_properties ",
        "tokio-macros ",
    ] {
        assert!(!tree.lines().any(|l| l.starts_with(banned)), "{banned}is in the release path:\n{tree}");
    }
    let hyper_features =
        tree.lines().filter(|l| l.starts_with("hyper ") || l.starts_with("hyper-util ")).collect::<Vec<_>>();
    assert!(hyper_features.iter().all(|l| !l.contains("server")), "server features in {hyper_features:?}");
    let tokio = tree.lines().find(|l| l.starts_with("tokio ")).unwrap_or_default();
    assert!(!tokio.contains("rt-multi-thread") && !tokio.contains("full"), "tokio features: {tokio}");
}

/// Every finding id the code can emit has an entry in docs/checks.md, and every
/// entry there is an id the code still has. The ids are the string literals of
/// `xtask/src` (test code left out) that have the shape of an id and the family of
/// one that `Finding::new` is called with, so an id passed through a constant, a
/// tuple or a helper is found too.
#[test]
fn every_finding_id_is_documented_in_docs_checks_md() {
    let code = code_finding_ids();
    for known in ["settings.missing", "trust.foreign-repository", "codeartifact.describe-domain.ok", "perm.safe-rerun"]
    {
        assert!(code.contains(known), "the scan of xtask/src missed {known}: {code:#?}");
    }
    let doc = ChecksDoc::read();
    let missing: Vec<&String> = code.difference(&doc.ids).collect();
    let stale: Vec<&String> = doc.ids.difference(&code).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "docs/checks.md is out of step with the code.\nIds the code emits without an entry (add a `### ID` \
         entry, or a `Passes as:` line for ID.ok, and a row of the index): {missing:#?}\nEntries for ids the code \
         no longer has (remove or rename them): {stale:#?}"
    );
    assert!(doc.index_problems.is_empty(), "docs/checks.md's index: {:#?}", doc.index_problems);
}

/// The documents that name finding ids (the guides, the README) name ids the code has.
#[test]
fn the_guides_name_only_finding_ids_the_code_has() {
    let code = code_finding_ids();
    let families: BTreeSet<&str> = code.iter().filter_map(|it| it.split('.').next()).collect();
    let mut docs = vec![repo_root().join("README.md"), repo_root().join("castack/README.md")];
    for entry in fs::read_dir(repo_root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|it| it == "md") {
            docs.push(path);
        }
    }
    let mut unknown = Vec::new();
    for path in docs {
        let Ok(text) = fs::read_to_string(&path) else { continue };
        let mut fenced = false;
        for line in text.lines() {
            fenced ^= line.trim_start().starts_with("```");
            // The inline code spans of the line (a fenced block holds no ids).
            for span in line.split('`').skip(1).step_by(2).filter(|_| !fenced) {
                let family = span.split('.').next().unwrap_or_default();
                if has_id_shape(span) && families.contains(family) && !code.contains(span) {
                    unknown.push(format!("{}: `{span}`", path.strip_prefix(repo_root()).unwrap().display()));
                }
            }
        }
    }
    assert!(unknown.is_empty(), "these documents name finding ids the code does not emit: {unknown:#?}");
}

/// Comments, test names and messages cite only what a maintainer can open: no
/// checklist numbers or sections of a reference outside the repository, no "the
/// original guide" (the setup guide of this repository is docs/setup-guide.ja.md;
/// a finding is named by its id in docs/checks.md).
#[test]
fn sources_cite_only_what_a_maintainer_can_open() {
    const PHRASES: [&str; 7] = [
        "original guide",
        "original setup guide",
        "original_guide",
        "shared reference",
        "the reference's",
        "reference §",
        "wire reference",
    ];
    let mut found = Vec::new();
    for dir in ["xtask", "castack"] {
        visit(&repo_root().join(dir), &mut |path| {
            // This file names the phrases it looks for.
            if !path.extension().is_some_and(|it| it == "rs" || it == "py") || path.ends_with(file!()) {
                return;
            }
            let text = fs::read_to_string(path).unwrap();
            // Each line, and each line with the next, for a phrase a comment wraps.
            let plain: Vec<String> =
                text.lines().map(|it| it.trim_start().trim_start_matches(['/', '!']).trim().to_lowercase()).collect();
            for (n, line) in text.lines().enumerate() {
                let next = plain.get(n + 1).map(String::as_str).unwrap_or_default();
                let joined = format!("{} {next}", plain[n]);
                let phrase = PHRASES
                    .iter()
                    .find(|it| plain[n].contains(*it) || (joined.contains(*it) && !next.contains(*it)))
                    .map(|it| it.to_string());
                if let Some(what) = phrase.or_else(|| checklist_number(line)) {
                    let at = path.strip_prefix(repo_root()).unwrap().display();
                    found.push(format!("{at}:{}: {what:?} in {:?}", n + 1, line.trim()));
                }
            }
        });
    }
    assert!(
        found.is_empty(),
        "cite a finding id of docs/checks.md, a public URL or a file of this repository instead: {found:#?}"
    );
}

/// A checklist number such as `T8` or `P11` standing alone (not `P256`, `T2x`).
fn checklist_number(line: &str) -> Option<String> {
    let chars: Vec<char> = line.chars().collect();
    let word = |c: char| c.is_alphanumeric() || c == '_';
    for (i, c) in chars.iter().enumerate() {
        if !matches!(c, 'T' | 'P') || (i > 0 && word(chars[i - 1])) {
            continue;
        }
        let digits = chars[i + 1..].iter().take_while(|it| it.is_ascii_digit()).count();
        let end = i + 1 + digits;
        if (1..=2).contains(&digits) && chars.get(end).is_none_or(|it| !word(*it)) {
            return Some(chars[i..end].iter().collect());
        }
    }
    None
}

/// `family.name` or `family.name.ok`: lowercase words, the name kebab-case.
fn has_id_shape(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    let word = |it: &str| {
        !it.is_empty()
            && it.split('-').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
    };
    match parts.as_slice() {
        [family, name] | [family, name, "ok"] => {
            !family.is_empty() && family.bytes().all(|b| b.is_ascii_lowercase()) && word(name)
        }
        _ => false,
    }
}

/// Top-level domains: a host name the code spells (`github.com`) has the shape of
/// an id. (Not `invalid`: `settings.invalid` is an id.)
const TOP_LEVEL_DOMAINS: [&str; 6] = ["com", "net", "org", "io", "aws", "cn"];

/// The finding ids of `xtask/src`: see `every_finding_id_is_documented_in_docs_checks_md`.
fn code_finding_ids() -> BTreeSet<String> {
    let mut literals: Vec<String> = Vec::new();
    let mut families: BTreeSet<String> = BTreeSet::new();
    let mut test_only: Vec<PathBuf> = Vec::new();
    let mut files = Vec::new();
    visit(&repo_root().join("xtask/src"), &mut |path| {
        if path.extension().is_some_and(|it| it == "rs") {
            files.push(path.to_path_buf());
        }
    });
    files.sort();
    // First every file, for the test-only modules their parents declare.
    let lexed: Vec<(PathBuf, Vec<Tok>)> = files
        .into_iter()
        .map(|path| {
            let tokens = without_test_items(lex(&fs::read_to_string(&path).unwrap()), &path, &mut test_only);
            (path, tokens)
        })
        .collect();
    for (path, tokens) in lexed {
        if test_only.iter().any(|it| path.starts_with(it) || path.with_extension("") == *it) {
            continue;
        }
        for window in tokens.windows(6) {
            if let [Tok::Ident(a), Tok::Punct(':'), Tok::Punct(':'), Tok::Ident(b), Tok::Punct('('), Tok::Str(id)] =
                window
                && a == "Finding"
                && b == "new"
            {
                assert!(
                    has_id_shape(id),
                    "{}: Finding::new({id:?}) is not an id of the form family.name",
                    path.display()
                );
                families.insert(id.split('.').next().unwrap().to_owned());
            }
        }
        literals.extend(tokens.into_iter().filter_map(|it| match it {
            Tok::Str(text) => Some(text),
            _ => None,
        }));
    }
    assert!(families.len() >= 5, "Finding::new calls found for the families {families:?} only");
    let mut ids = BTreeSet::new();
    for text in literals {
        let family = text.split('.').next().unwrap_or_default();
        if !families.contains(family) {
            continue;
        }
        // An id built at run time (`format!("{id}.ok")`, `concat!("trust.", …)`) is
        // out of reach of this scan and of `grep`.
        assert!(
            has_id_shape(&text) || !(text.ends_with('.') || text.starts_with(&format!("{family}.{{"))),
            "{text:?} builds a finding id at run time: write each id as one literal"
        );
        let name = text.split('.').nth(1).unwrap_or_default();
        if has_id_shape(&text) && !TOP_LEVEL_DOMAINS.contains(&name) {
            ids.insert(text);
        }
    }
    ids
}

/// What docs/checks.md documents: the `### ID` entries and the `ID.ok` their
/// "Passes as" lines name, and what is wrong with its index.
struct ChecksDoc {
    ids: BTreeSet<String>,
    index_problems: Vec<String>,
}

impl ChecksDoc {
    fn read() -> ChecksDoc {
        let text = fs::read_to_string(repo_root().join("docs/checks.md")).expect("docs/checks.md exists");
        let mut ids = BTreeSet::new();
        let mut entries = Vec::new();
        let mut current = String::new();
        let mut index: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            if let Some(heading) = line.strip_prefix("### ") {
                let id = heading.trim().to_owned();
                assert!(has_id_shape(&id), "docs/checks.md: `### {id}` is not a finding id (entries are `### ID`)");
                assert!(ids.insert(id.clone()), "docs/checks.md documents {id} twice");
                entries.push(id.clone());
                current = id;
            } else if line.trim_start().starts_with("- **Passes as:**") {
                // "- **Passes as:** `ID.ok` (what it says)".
                let span = line.split('`').nth(1).unwrap_or_default();
                assert_eq!(span, format!("{current}.ok"), "docs/checks.md: the passing form of {current}");
                ids.insert(span.to_owned());
            } else if let Some(row) = line.strip_prefix("| [") {
                let (id, rest) = row.split_once("](#").unwrap_or_else(|| panic!("index row {line:?}"));
                let anchor = rest.split_once(')').unwrap_or_else(|| panic!("index row {line:?}")).0;
                index.push((id.to_owned(), anchor.to_owned()));
            }
        }
        let mut index_problems = Vec::new();
        let listed: Vec<&String> = index.iter().map(|(id, _)| id).collect();
        for id in entries.iter().filter(|it| !listed.contains(it)) {
            index_problems.push(format!("{id} has an entry but no row"));
        }
        for (id, anchor) in &index {
            if !entries.contains(id) {
                index_problems.push(format!("row {id} has no entry"));
            }
            // GitHub's anchor of a heading: lower case, punctuation other than - and _ dropped.
            if *anchor != id.replace('.', "") {
                index_problems.push(format!("row {id} links #{anchor}, not #{}", id.replace('.', "")));
            }
        }
        ChecksDoc { ids, index_problems }
    }
}

/// The README is the front door: what this is, the two commands, the release in a
/// few lines and where to go next. Everything else lives in docs/.
#[test]
fn readme_stays_short() {
    let readme = fs::read_to_string(repo_root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 160, "README.md has {lines} lines (at most 160): move the detail into docs/ and link to it");
}

/// Every relative link of the documentation leads somewhere: the file exists, and an
/// `#anchor` into a Markdown file (or within the same one) names one of its headings
/// as GitHub writes their anchors.
#[test]
fn docs_links_resolve() {
    let root = repo_root();
    let mut broken = Vec::new();
    let mut checked = 0;
    for doc in &markdown_documents() {
        let text = fs::read_to_string(doc).unwrap();
        let at = doc.strip_prefix(&root).unwrap().display().to_string();
        for (line, target) in markdown_links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let path = if file.is_empty() { doc.clone() } else { doc.parent().unwrap().join(file) };
            if !path.exists() {
                broken.push(format!("{at}:{line}: {target}: no file {}", path.display()));
                continue;
            }
            if anchor.is_empty() || path.extension().is_none_or(|it| it != "md") {
                continue;
            }
            let anchors = heading_anchors(&fs::read_to_string(&path).unwrap());
            if !anchors.contains(anchor) {
                broken.push(format!("{at}:{line}: {target}: no heading with the anchor #{anchor}"));
            }
        }
    }
    assert!(checked >= 20, "only {checked} relative links found: is the link scan broken?");
    assert!(broken.is_empty(), "relative links that lead nowhere (fix the path or the anchor): {broken:#?}");
}

/// Every path of the repository that the documentation names in a code span
/// (`xtask/src/release/build.rs`, `docs/checks.md` …) exists: a module that moves
/// takes its mentions along (docs/architecture.md maps each step to its files).
#[test]
fn docs_name_only_paths_that_exist() {
    let root = repo_root();
    let mut missing = Vec::new();
    let mut checked = 0;
    for doc in markdown_documents() {
        let text = fs::read_to_string(&doc).unwrap();
        let at = doc.strip_prefix(&root).unwrap().display().to_string();
        let mut fenced = false;
        for (n, line) in text.lines().enumerate() {
            fenced ^= line.trim_start().starts_with("```");
            for span in line.split('`').skip(1).step_by(2).filter(|_| !fenced) {
                let is_path = ["xtask/", "castack/", "docs/", ".github/", ".ci/", "yamause/"]
                    .iter()
                    .any(|it| span.starts_with(it))
                    // Patterns and placeholders (`xtask/src/release/verify/strict_*.py`) name no one file.
                    && !span.contains(['*', '<', '{', ' ']);
                if is_path {
                    checked += 1;
                    if !root.join(span).exists() {
                        missing.push(format!("{at}:{}: `{span}`", n + 1));
                    }
                }
            }
        }
    }
    assert!(checked >= 50, "only {checked} paths found: is the scan broken?");
    assert!(missing.is_empty(), "the docs name paths that do not exist (moved? update the docs): {missing:#?}");
}

/// The Markdown documents a newcomer reads: the READMEs and docs/*.md.
fn markdown_documents() -> Vec<PathBuf> {
    let root = repo_root();
    let mut docs: Vec<PathBuf> =
        ["README.md", "castack/README.md", "xtask/tools/README.md"].iter().map(|it| root.join(it)).collect();
    for entry in fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|it| it == "md") {
            docs.push(path);
        }
    }
    docs.sort();
    docs
}

/// The targets of the inline links `[text](target)` of a Markdown text, with their
/// line numbers; fenced blocks and code spans hold no links.
fn markdown_links(text: &str) -> Vec<(usize, String)> {
    let mut links = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // A link may wrap onto the next line only in its text, so the target is whole.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = prose.as_str();
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let end = after.find(')').unwrap_or(after.len());
            // `(path "title")` and `(<path>)` forms.
            let target = after[..end].split_whitespace().next().unwrap_or_default();
            links.push((n + 1, target.trim_start_matches('<').trim_end_matches('>').to_owned()));
            rest = &after[end..];
        }
    }
    links
}

/// The anchors GitHub gives the headings of a Markdown text: the heading's text in
/// lower case, punctuation other than `-` and `_` dropped, spaces turned into `-`,
/// and `-1`, `-2` … after a repeated one.
fn heading_anchors(text: &str) -> BTreeSet<String> {
    let mut anchors = BTreeSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        let hashes = line.chars().take_while(|it| *it == '#').count();
        if fenced || !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let slug = github_anchor(line[hashes..].trim().trim_end_matches('#').trim());
        let mut unique = slug.clone();
        let mut n = 0;
        while !anchors.insert(unique.clone()) {
            n += 1;
            unique = format!("{slug}-{n}");
        }
    }
    anchors
}

fn github_anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn github_anchors_follow_githubs_rules() {
    assert_eq!(github_anchor("trust.foreign-repository"), "trustforeign-repository");
    assert_eq!(
        github_anchor("Setting up AWS and GitHub: `cargo xtask setup`"),
        "setting-up-aws-and-github-cargo-xtask-setup"
    );
    assert_eq!(github_anchor("Settings (`settings.*`)"), "settings-settings");
    assert_eq!(github_anchor("3.1 シークレット（または変数）"), "31-シークレットまたは変数");
    let anchors = heading_anchors("# A\n\n```sh\n# not a heading\n```\n## A\n#nope\n");
    assert_eq!(anchors, BTreeSet::from(["a".to_owned(), "a-1".to_owned()]));
    let links = markdown_links("see [x](a.md#b) and `[y](not.md)`\n```\n[z](fenced.md)\n```\n[w](<c.md> \"t\")\n");
    assert_eq!(links, [(1, "a.md#b".to_owned()), (5, "c.md".to_owned())]);
}

/// No message holds a run of blanks where a line continuation (`\` at the end of
/// the line) was lost: such a string prints the next line's indentation in the
/// middle of a sentence. Runs after an escaped newline (`\n    `) are layout.
#[test]
fn messages_hold_no_lost_line_continuation() {
    let mut found = Vec::new();
    for dir in ["xtask/src", "castack/src"] {
        visit(&repo_root().join(dir), &mut |path| {
            if path.extension().is_none_or(|it| it != "rs") {
                return;
            }
            for token in lex(&fs::read_to_string(path).unwrap()) {
                let Tok::Str(text) = token else { continue };
                if let Some(at) = lost_continuation(&text) {
                    let file = path.strip_prefix(repo_root()).unwrap().display();
                    found.push(format!("{file}: {:?}", &text[at.saturating_sub(30)..(at + 40).min(text.len())]));
                }
            }
        });
    }
    assert!(found.is_empty(), "end the line with `\\` where the string goes on: {found:#?}");
    assert_eq!(lost_continuation("a version of              that name"), Some(12));
    assert_eq!(lost_continuation("job:\\n    permissions:\\n      contents"), None);
    assert_eq!(lost_continuation("goes on \\\n     here"), None);
    assert_eq!(lost_continuation("  type        = string"), None);
}

/// Where a run of six or more blanks follows a printed character (not an escaped
/// newline, not a `\` continuation) and goes on with a word, as written in the
/// source.
fn lost_continuation(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b' ' {
            let start = i;
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            let before = &bytes[..start];
            let layout = before.is_empty()
                || before.ends_with(b"\\n")
                || before.ends_with(b"\n")
                || before.ends_with(b"\\\n")
                || before.last() == Some(&b' ');
            // Alignment (`type        = string`, `{:<60}`) is followed by a sign; a
            // lost continuation by the next word.
            let word = bytes.get(i).is_some_and(|it| it.is_ascii_alphanumeric() || b"`(".contains(it));
            if i - start >= 6 && !layout && word {
                return Some(start);
            }
        } else {
            i += 1;
        }
    }
    None
}
