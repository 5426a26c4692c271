//! What the config cell checks itself, beyond the generated files: facts
//! about pins that no schema knows, and cross.toml against cross's own types.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::Deserialize;
use toml::Value;

use crate::matrix::three_numbers;

/// The workflow: every action pinned by full SHA with its tag and date; a
/// FreeBSD release that the pinned freebsd-vm boots; no cell's commands
/// written in YAML (they belong to `cargo xtask cell`).
pub fn workflow(root: &Path) -> Vec<String> {
    let (mut problems, mut freebsd_vm, mut release) = (Vec::new(), None, None);
    let builds = |w: &str| ["test", "clippy", "check", "build", "doc", "fmt", "miri", "run", "nextest"].contains(&w);
    let text = fs::read_to_string(root.join(".github/workflows/ci.yml")).unwrap_or_default();
    for (n, line) in text.lines().enumerate().map(|(n, l)| (n + 1, l.trim())) {
        if let Some(uses) = line.strip_prefix("- uses: ").or_else(|| line.strip_prefix("uses: ")) {
            let (action, comment) = uses.split_once(" # ").unwrap_or((uses, ""));
            let sha = action.split_once('@').map_or("", |(_, sha)| sha);
            let full_sha = sha.len() == 40 && sha.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
            if !full_sha || !tag_and_date(comment) {
                problems.push(format!("ci.yml:{n}: `{uses}` is not owner/repo@<40-hex SHA> # vX.Y.Z (YYYY-MM-DD)"));
            }
            if action.starts_with("vmactions/freebsd-vm@") {
                freebsd_vm = Some(sha.to_string());
            }
        }
        if let Some(value) = line.strip_prefix("FREEBSD_RELEASE:") {
            release = Some(value.trim().trim_matches('"').to_string());
        }
        let words: Vec<&str> = line.split_whitespace().filter(|w| !w.starts_with('+')).collect();
        for pair in words.windows(2).filter(|_| !line.starts_with('#')) {
            if ["cargo", "cross"].contains(&pair[0]) && builds(pair[1]) || pair[0] == "wasmtime" {
                problems.push(format!(
                    "ci.yml:{n}: runs `{}` itself: a cell's commands belong to `cargo xtask cell`",
                    pair.join(" ")
                ));
            }
        }
    }
    // ci/freebsd-vm-releases: what conf/ of the pinned freebsd-vm lists.
    let releases = fs::read_to_string(root.join("ci/freebsd-vm-releases")).unwrap_or_default();
    let listed: Vec<&str> = releases.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).collect();
    let read_at = listed.iter().find_map(|l| l.strip_prefix("commit ")).map(str::to_string);
    if read_at != freebsd_vm {
        problems.push(format!(
            "ci/freebsd-vm-releases was read at {read_at:?}, the workflow pins freebsd-vm at {freebsd_vm:?}"
        ));
    }
    if !release.as_deref().is_some_and(|r| listed.contains(&r)) {
        problems.push(format!("FREEBSD_RELEASE {release:?} is not listed in ci/freebsd-vm-releases"));
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

pub fn cross_config(root: &Path) -> Vec<String> {
    let text = fs::read_to_string(root.join("cross.toml")).unwrap_or_default();
    toml::from_str::<CrossToml>(&text).err().map(|e| vec![format!("cross.toml: {e}")]).unwrap_or_default()
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
    fn unknown_cross_keys_and_runners_are_rejected() {
        let err = |toml: &str| toml::from_str::<CrossToml>(toml).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err("[target.x]\nxargo = true").contains("unknown field `xargo`"));
        assert!(err("[target.x]\nrunner = \"wine\"").contains("unknown variant `wine`"));
        assert_eq!(err("[build.env]\npassthrough = [\"A\"]\n[target.x]\nimage = \"i\"\nrunner = \"native\""), "");
    }
}
