//! What the config cell checks itself, beyond the generated files: facts
//! about pins that no schema knows, cross.toml against cross's own types,
//! and the links of the documentation.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::Deserialize;
use toml::Value;

use crate::matrix::{Matrix, three_numbers};

/// What a pinned vmactions VM action can boot: ci/vm-releases.toml, read
/// in the action's repository at the commit the workflow pins.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VmAction {
    action: String,
    commit: String,
    releases: Vec<String>,
}

/// The workflow: every action pinned by full SHA with its tag and date;
/// each VM of ci/matrix.toml booted by an action at the commit whose
/// releases were read, in a release it lists; every `runs-on` an image of
/// `[runners]` (or the matrix's); no cell's commands written in YAML
/// (they belong to `cargo xtask cell`).
pub fn workflow(root: &Path, file: &str, m: &Matrix) -> Vec<String> {
    let mut problems = Vec::new();
    let builds = |w: &str| ["test", "clippy", "check", "build", "doc", "fmt", "miri", "run", "nextest"].contains(&w);
    let text = fs::read_to_string(root.join(file)).unwrap_or_default();
    let vm_file = fs::read_to_string(root.join("ci/vm-releases.toml")).unwrap_or_default();
    let vms: BTreeMap<String, VmAction> = toml::from_str(&vm_file).unwrap_or_else(|e| {
        problems.push(format!("ci/vm-releases.toml: {e}"));
        BTreeMap::new()
    });
    let mut pinned = BTreeMap::new();
    for (n, line) in text.lines().enumerate().map(|(n, l)| (n + 1, l.trim())) {
        if let Some(uses) = line.strip_prefix("- uses: ").or_else(|| line.strip_prefix("uses: ")) {
            let (action, comment) = uses.split_once(" # ").unwrap_or((uses, ""));
            let (name, sha) = action.split_once('@').unwrap_or((action, ""));
            let full_sha = sha.len() == 40 && sha.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
            if !full_sha || !tag_and_date(comment) {
                problems.push(format!("{file}:{n}: `{uses}` is not owner/repo@<40-hex SHA> # vX.Y.Z (YYYY-MM-DD)"));
            }
            pinned.insert(name.to_string(), sha.to_string());
        }
        if let Some(label) = line.strip_prefix("runs-on: ")
            && label != "${{ matrix.os }}"
            && !m.runners.contains_key(label)
        {
            problems.push(format!("{file}:{n}: runs-on {label} is none of ci/matrix.toml's [runners]"));
        }
        let words: Vec<&str> = line.split_whitespace().filter(|w| !w.starts_with('+')).collect();
        for pair in words.windows(2).filter(|_| !line.starts_with('#')) {
            if ["cargo", "cross"].contains(&pair[0]) && builds(pair[1]) || pair[0] == "wasmtime" {
                problems.push(format!(
                    "{file}:{n}: runs `{}` itself: a cell's commands belong to `cargo xtask cell`",
                    pair.join(" ")
                ));
            }
        }
    }
    for (name, vm) in &m.vm {
        let Some(read) = vms.get(name) else {
            problems.push(format!("[vm.{name}] has no [{name}] in ci/vm-releases.toml"));
            continue;
        };
        match pinned.get(&read.action) {
            Some(sha) if *sha == read.commit => {}
            Some(sha) => problems
                .push(format!("{file} pins {}@{sha}, ci/vm-releases.toml was read at {}", read.action, read.commit)),
            None => problems.push(format!("{file} has no step that boots [vm.{name}] with {}", read.action)),
        }
        if !read.releases.contains(&vm.release) {
            problems.push(format!("[vm.{name}] release {:?} is not listed in ci/vm-releases.toml", vm.release));
        }
    }
    problems
}

/// `vX.Y.Z (YYYY-MM-DD)`: the tag and date read upstream beside a pin.
fn tag_and_date(comment: &str) -> bool {
    let Some((tag, date)) = comment.strip_prefix('v').and_then(|c| c.split_once(" (")) else { return false };
    three_numbers(tag, '.') && date.len() == 11 && three_numbers(date.trim_end_matches(')'), '-')
}

// cross.toml, read with the keys of the pinned cross (its src/cross_toml.rs
// at ci/matrix.toml's [cross] rev): cross warns about a key it does not
// know, and a warning fails cross under CI. Values whose shapes cross
// accepts in several forms are only required to be present as TOML.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Read to be checked, never used.
struct CrossToml {
    build: Option<CrossBuild>,
    #[serde(default)]
    target: BTreeMap<String, CrossTarget>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[allow(dead_code)]
struct CrossBuild {
    env: Option<CrossEnv>,
    build_std: Option<Value>,
    zig: Option<Value>,
    default_target: Option<String>,
    pre_build: Option<Value>,
    dockerfile: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[allow(dead_code)]
struct CrossTarget {
    build_std: Option<Value>,
    zig: Option<Value>,
    image: Option<Value>,
    dockerfile: Option<Value>,
    pre_build: Option<Value>,
    runner: Option<CrossRunner>,
    env: Option<CrossEnv>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct CrossEnv {
    volumes: Option<Vec<String>>,
    passthrough: Option<Vec<String>>,
}

/// The runners of cross's docker/linux-runner.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
enum CrossRunner {
    Native,
    QemuUser,
    QemuSystem,
}

pub fn cross_config(root: &Path, file: &str) -> Vec<String> {
    let text = fs::read_to_string(root.join(file)).unwrap_or_default();
    toml::from_str::<CrossToml>(&text).err().map(|e| vec![format!("{file}: {e}")]).unwrap_or_default()
}

/// The Markdown the links check reads: README.md, ci/README.md and every
/// page under docs/.
fn pages(root: &Path) -> Vec<String> {
    let mut pages: Vec<String> = ["README.md", "ci/README.md"].map(String::from).into();
    let mut dirs = vec![root.join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                let relative = path.strip_prefix(root).expect("under the root");
                pages.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    pages.sort();
    pages.into_iter().filter(|p| root.join(p).is_file()).collect()
}

/// Every relative link of the pages resolves: the file exists, and an
/// `#anchor` names a heading of the page it points into.
pub fn links(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for page in pages(root) {
        let text = fs::read_to_string(root.join(&page)).unwrap_or_default();
        let dir = Path::new(&page).parent().unwrap_or(Path::new(""));
        for (n, target) in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let path = if file.is_empty() { page.clone() } else { normalize(&dir.join(file)) };
            if path.starts_with("..") || !root.join(&path).exists() {
                problems.push(format!("{page}:{n}: the link {target} names no file of the repository"));
            } else if !anchor.is_empty()
                && !anchors(&fs::read_to_string(root.join(&path)).unwrap_or_default()).contains(&anchor.to_string())
            {
                problems.push(format!("{page}:{n}: the link {target} names no heading of {path}"));
            }
        }
    }
    problems
}

/// `a/./b/../c` as `a/c`, with `/` between parts.
fn normalize(path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for part in path.components() {
        match part.as_os_str().to_string_lossy().as_ref() {
            "." => {}
            ".." if parts.last().is_some_and(|p| p != "..") => {
                parts.pop();
            }
            p => parts.push(p.to_string()),
        }
    }
    parts.join("/")
}

/// The targets of a page's inline links `[text](target)` and reference
/// definitions `[label]: target`, outside code, with their line numbers.
fn link_targets(text: &str) -> Vec<(usize, String)> {
    let (mut targets, mut fenced) = (Vec::new(), false);
    for (n, line) in text.lines().enumerate().map(|(n, l)| (n + 1, l)) {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
        }
        if fenced {
            continue;
        }
        // Inline code holds no links: drop what is between backticks.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        if let Some(rest) = prose.trim_start().strip_prefix('[')
            && let Some((_, target)) = rest.split_once("]: ")
        {
            targets.push((n, target.split_whitespace().next().unwrap_or_default().to_string()));
        }
        for (i, _) in prose.match_indices("](") {
            let rest = &prose[i + 2..];
            let end = rest.find([')', ' ']).unwrap_or(rest.len());
            targets.push((n, rest[..end].trim_start_matches('<').trim_end_matches('>').to_string()));
        }
    }
    targets
}

/// The anchors GitHub gives a page's headings: lowercase, spaces as
/// hyphens, punctuation but hyphens and underscores dropped; a repeated
/// one gets `-1`, `-2`, ...
fn anchors(text: &str) -> Vec<String> {
    let (mut anchors, mut seen): (Vec<String>, BTreeMap<String, usize>) = (Vec::new(), BTreeMap::new());
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") || line.trim_start().starts_with("~~~") {
            fenced = !fenced;
        }
        let Some(heading) = line.strip_prefix('#').filter(|_| !fenced) else { continue };
        let heading = heading.trim_start_matches('#').trim();
        let slug: String = heading
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let repeats = seen.entry(slug.clone()).or_insert(0);
        anchors.push(if *repeats == 0 { slug } else { format!("{slug}-{repeats}") });
        *repeats += 1;
    }
    anchors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_need_their_tag_and_date() {
        assert!(tag_and_date("v7.0.1 (2026-07-17)"));
        assert!(!tag_and_date("v7 (2026-07-17)") && !tag_and_date("v7.0.1") && !tag_and_date("v7.0.1 (2026-7-17)"));
    }

    #[test]
    fn links_and_anchors_are_read_as_github_renders_them() {
        let page = "# Run it\n## Flags, and `--addr`\n## Run it\n[a](docs/x.md#run-it) `[b](no.md)`\n```\n[c](no.md)\n```\n[d]: ../e.md\n";
        assert_eq!(anchors(page), ["run-it", "flags-and---addr", "run-it-1"]);
        let targets: Vec<_> = link_targets(page).into_iter().map(|(n, t)| format!("{n}:{t}")).collect();
        assert_eq!(targets, ["4:docs/x.md#run-it", "8:../e.md"]);
        assert_eq!(normalize(Path::new("docs/./a/../b.md")), "docs/b.md");
    }

    #[test]
    fn unknown_cross_keys_and_runners_are_rejected() {
        let err = |toml: &str| toml::from_str::<CrossToml>(toml).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err("[target.x]\nxargo = true").contains("unknown field `xargo`"));
        assert!(err("[target.x]\nrunner = \"wine\"").contains("unknown variant `wine`"));
        assert_eq!(err("[build.env]\npassthrough = [\"A\"]\n[target.x]\nimage = \"i\"\nrunner = \"native\""), "");
    }
}
