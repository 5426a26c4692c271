//! A crate's fidelity probes against what the real OS a cell stands for
//! documents (the record of `[project] fidelity`, ci/fidelity.toml here):
//! what a cell's probes saw, the verdict for each, the "what each runtime
//! proves" table, and the probes' one list as Rust for the crate's test.
//! A deviation is a fact for the report, never a failure; a test cell
//! whose probes did not all report fails.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::install::WASMTIME_VERSION;
use crate::matrix::{Build, Kind, Runner, Via};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fidelity {
    /// When `recorded` was measured.
    pub date: String,
    #[serde(rename = "probe")]
    pub probes: Vec<Probe>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    pub name: String,
    pub does: String,
    /// The probe whose expectations are this one's too (the same question
    /// with another peer); `expect` is then filled in from it.
    pub expect_as: Option<String>,
    #[serde(default)]
    pub expect: BTreeMap<Os, Expect>,
    /// The probe's peer is the runner's host peer (ci/src/peer.rs): in a
    /// cell without one it says n/a, which is then not compared with the
    /// record of its runtime.
    #[serde(default)]
    pub host_peer: bool,
    /// What each runtime here saw on `date`.
    pub recorded: BTreeMap<Runtime, String>,
}

/// What an OS documents for a probe: the tokens it allows (`None`: nothing
/// decides it), and the words and page that say so.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub seen: Option<Vec<String>>,
    pub source: String,
    pub url: Option<String>,
}

/// The real OS a cell stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    Linux,
    Windows,
    Macos,
    Freebsd,
    /// WASI preview 2: wasi-libc gives its sockets POSIX's interface.
    Posix,
}

impl Os {
    pub const ALL: [Os; 5] = [Os::Linux, Os::Windows, Os::Macos, Os::Freebsd, Os::Posix];

    /// The OS of a target triple (none for targets no probe runs on).
    pub fn of(target: &str) -> Option<Os> {
        match target {
            t if t.contains("-linux-") => Some(Os::Linux),
            t if t.contains("-windows-") => Some(Os::Windows),
            t if t.contains("-apple-darwin") => Some(Os::Macos),
            t if t.contains("-freebsd") => Some(Os::Freebsd),
            // wasi-libc gives WASI's sockets POSIX's interface; the other
            // Unixes are judged by POSIX, their own pages not read here.
            t if t.starts_with("wasm32-wasi") => Some(Os::Posix),
            t if ["-netbsd", "-openbsd", "-dragonfly", "-solaris", "-illumos"].iter().any(|os| t.ends_with(os)) => {
                Some(Os::Posix)
            }
            _ => None,
        }
    }
}

impl fmt::Display for Os {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = ["Linux", "Windows", "macOS", "FreeBSD", "POSIX"][*self as usize];
        f.write_str(name)
    }
}

/// The runtimes of the cells here, whose results `recorded` keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    /// Linux itself: the native Linux cells.
    Linux,
    QemuUser,
    Wine,
    Wasmtime,
}

impl Runtime {
    pub const ALL: [Runtime; 4] = [Runtime::Linux, Runtime::QemuUser, Runtime::Wine, Runtime::Wasmtime];

    /// The runtime a cell's probes run in, where it is one of those here
    /// (a native cell on another OS is that OS itself, recorded nowhere).
    pub fn of(build: &Build, kind: &Kind, via: Via) -> Option<Runtime> {
        match kind {
            Kind::Test(Runner::Qemu(_)) | Kind::Cross => Some(Runtime::QemuUser),
            Kind::Test(Runner::Wine) => Some(Runtime::Wine),
            // Preview 1 has no sockets: its probes are n/a, not wasmtime's record.
            Kind::Test(Runner::Wasmtime) if build.target != "wasm32-wasip1" => Some(Runtime::Wasmtime),
            Kind::Test(Runner::Native | Runner::Host) | Kind::Sanitizer(_)
                if Os::of(&build.target) == Some(Os::Linux) && via != Via::Cross =>
            {
                Some(Runtime::Linux)
            }
            _ => None,
        }
    }

    /// The OS this runtime's cells stand for, and how the docs name it
    /// (Wine is Debian 12's; wasmtime the one the runner installs).
    fn about(self) -> (Os, String) {
        match self {
            Runtime::Linux => (Os::Linux, "native Linux".into()),
            Runtime::QemuUser => (Os::Linux, "qemu-user (Linux)".into()),
            Runtime::Wine => (Os::Windows, "Wine 8.0 (Windows)".into()),
            Runtime::Wasmtime => (Os::Posix, format!("wasmtime {WASMTIME_VERSION} (POSIX, WASI preview 2)")),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Matches,
    Deviates,
    /// The OS's documentation does not decide the probe.
    Unknown,
    /// The probe cannot run here (it says why).
    NotApplicable,
}

/// One probe's line in a cell: `fidelity: NAME = SEEN; DETAIL`, judged.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Seen {
    pub probe: String,
    pub seen: String,
    pub detail: String,
    /// Filled in by [`Fidelity::judge`].
    pub verdict: Option<Verdict>,
    /// What this runtime saw when `recorded` was measured, where it saw
    /// something else.
    pub recorded: Option<String>,
    /// What the OS documents, in its words (filled in by the judge).
    pub documented: String,
}

impl Seen {
    /// The probe a line of the probes' binary reports, if it is one.
    pub fn parse(line: &str) -> Option<Seen> {
        let (probe, rest) = line.strip_prefix("fidelity: ")?.split_once(" = ")?;
        let (seen, detail) = rest.split_once("; ").unwrap_or((rest, ""));
        Some(Seen { probe: probe.into(), seen: seen.into(), detail: detail.into(), ..Seen::default() })
    }
}

impl Fidelity {
    pub fn load(root: &Path, record: &str) -> Result<Fidelity, String> {
        let text = std::fs::read_to_string(root.join(record)).map_err(|e| format!("{record}: {e}"))?;
        let mut fidelity: Fidelity = toml::from_str(&text).map_err(|e| format!("{record}: {e}"))?;
        let mut problems = Vec::new();
        for i in 0..fidelity.probes.len() {
            let p = &fidelity.probes[i];
            let Some(of) = &p.expect_as else { continue };
            let expect = match fidelity.probes.iter().find(|q| q.name == *of && q.expect_as.is_none()) {
                _ if !p.expect.is_empty() => Err(format!("probe {} has both `expect_as` and `expect`", p.name)),
                Some(q) => Ok(q.expect.clone()),
                None => Err(format!("probe {}: `expect_as` names no probe with expectations: {of}", p.name)),
            };
            match expect {
                Ok(expect) => fidelity.probes[i].expect = expect,
                Err(problem) => problems.push(problem),
            }
        }
        for (i, p) in fidelity.probes.iter().enumerate() {
            if fidelity.probes[..i].iter().any(|q| q.name == p.name) {
                problems.push(format!("probe {} is listed twice", p.name));
            }
            if let Some(os) = Os::ALL.iter().find(|os| !p.expect.contains_key(os)) {
                problems.push(format!("probe {} says nothing of {os}: give its `seen` and `source`", p.name));
            }
        }
        if problems.is_empty() { Ok(fidelity) } else { Err(format!("{record}: {}", problems.join("; "))) }
    }

    /// Judges what a cell standing for `os` saw, and marks what differs
    /// from the record of its runtime (`host_peer`: whether the runner
    /// served the probes' host peer). A probe the file does not know, or
    /// one that did not report, is a problem: the cell fails.
    pub fn judge(&self, os: Os, runtime: Option<Runtime>, host_peer: bool, seen: &mut [Seen]) -> Vec<String> {
        let mut problems = Vec::new();
        for s in seen.iter_mut() {
            let Some(probe) = self.probes.iter().find(|p| p.name == s.probe) else {
                problems.push(format!("probe {} is not in the record", s.probe));
                continue;
            };
            let expect = &probe.expect[&os];
            s.documented = format!("{os}: {}", expect.source);
            s.verdict = Some(match (&expect.seen, s.seen.as_str()) {
                (_, "n/a") => Verdict::NotApplicable,
                (None, _) => Verdict::Unknown,
                (Some(allowed), token) if allowed.iter().any(|a| a == token) => Verdict::Matches,
                (Some(_), _) => Verdict::Deviates,
            });
            let comparable = host_peer || !probe.host_peer;
            let recorded = runtime.filter(|_| comparable).and_then(|r| probe.recorded.get(&r));
            s.recorded = recorded.filter(|r| **r != s.seen).cloned();
        }
        for p in &self.probes {
            if !seen.iter().any(|s| s.probe == p.name) {
                problems.push(format!("the fidelity probe {} did not report", p.name));
            }
        }
        problems
    }

    /// The docs' table: each runtime here against what the OS it stands
    /// for documents, from `recorded`; then what each OS documents.
    pub fn table(&self) -> String {
        let mut md = String::from("| probe |");
        Runtime::ALL.iter().for_each(|r| md += &format!(" {} |", r.about().1));
        md += "\n| --- |";
        md += &" --- |".repeat(Runtime::ALL.len());
        md += "\n";
        for p in &self.probes {
            md += &format!("| `{}`: {} |", p.name, p.does);
            for runtime in Runtime::ALL {
                let os = runtime.about().0;
                let cell = match (p.recorded.get(&runtime), &p.expect[&os].seen) {
                    (None, _) => "not recorded".to_string(),
                    (Some(seen), _) if seen == "n/a" => "n/a".into(),
                    (Some(seen), None) => format!("{seen} ({os} documents nothing that decides it)"),
                    (Some(seen), Some(allowed)) if allowed.contains(seen) => format!("matches: {seen}"),
                    (Some(seen), Some(allowed)) => {
                        format!("**deviates**: {seen}, {os} documents {}", allowed.join(" or "))
                    }
                };
                md += &format!(" {cell} |");
            }
            md += "\n";
        }
        md += &format!(
            "\nRecorded {} by `cargo xtask matrix` on the reference host. What each OS documents:\n\n",
            self.date
        );
        md += "| probe |";
        Os::ALL.iter().for_each(|os| md += &format!(" {os} |"));
        md += "\n| --- |";
        md += &" --- |".repeat(Os::ALL.len());
        md += "\n";
        for p in self.probes.iter().filter(|p| p.expect_as.is_none()) {
            let also: Vec<_> = self.probes.iter().filter(|q| q.expect_as.as_ref() == Some(&p.name)).collect();
            let also: String = also.iter().map(|q| format!(", `{}`", q.name)).collect();
            md += &format!("| `{}`{also} |", p.name);
            for os in Os::ALL {
                let e = &p.expect[&os];
                let says = e.seen.as_ref().map_or("not decided".into(), |s| s.join(" or "));
                md += &match &e.url {
                    Some(url) => format!(" [{says}]({url}) |"),
                    None => format!(" {says} |"),
                };
            }
            md += "\n";
        }
        md
    }
}

impl Fidelity {
    /// The probes' one list, as Rust for the crate's probe test: an enum it
    /// must match exhaustively, their names, and the variable at which the
    /// runner gives the host peer's address (`peer_var`).
    pub fn rust(&self, record: &str, peer_var: &str) -> String {
        let variant = |name: &str| -> String {
            let words = name.split('-').map(|w| w[..1].to_uppercase() + &w[1..]);
            words.collect()
        };
        let mut rs = format!("// Written by `cargo xtask gen` from {record}; do not edit.\n\n");
        rs += &format!("//! The fidelity probes of {record}, in its order: the one list the probes'\n");
        rs += "//! test, the matrix runner and the record share.\n\n";
        rs += "/// A probe of the record.\n#[derive(Clone, Copy, Debug)]\npub(crate) enum Probe {\n";
        for p in &self.probes {
            rs += &format!("    /// {}\n    {},\n", p.does, variant(&p.name));
        }
        rs += "}\n\nimpl Probe {\n    /// Every probe, in the record's order.\n";
        rs += &format!("    pub(crate) const ALL: [Probe; {}] = [\n", self.probes.len());
        self.probes.iter().for_each(|p| rs += &format!("        Probe::{},\n", variant(&p.name)));
        rs += "    ];\n\n    /// The name its line reports: `fidelity: NAME = SEEN; DETAIL`.\n";
        rs += "    pub(crate) fn name(self) -> &'static str {\n        match self {\n";
        self.probes.iter().for_each(|p| rs += &format!("            Probe::{} => \"{}\",\n", variant(&p.name), p.name));
        rs += "        }\n    }\n}\n\n";
        rs += "/// The variable at which the matrix runner gives its host peer's address.\n";
        rs + &format!("pub(crate) const HOST_PEER: &str = \"{peer_var}\";\n")
    }
}

/// The report's section: per cell that ran the probes, each probe's
/// verdict, then what each deviation saw.
pub fn report(results: &[(&str, Option<String>, &[Seen])]) -> String {
    let Some((_, _, first)) = results.iter().find(|(_, _, seen)| !seen.is_empty()) else { return String::new() };
    let mut md = String::from("\n#### Fidelity probes (ci/fidelity.toml)\n\n| cell | stands for |");
    first.iter().for_each(|s| md += &format!(" {} |", s.probe));
    md += &format!("\n| --- | --- |{}\n", " --- |".repeat(first.len()));
    let mut details = String::new();
    for (cell, os, seen) in results.iter().filter(|(_, _, seen)| !seen.is_empty()) {
        md += &format!("| {cell} | {} |", os.as_deref().unwrap_or("-"));
        for s in seen.iter() {
            let word = match s.verdict {
                Some(Verdict::Matches) => "matches".into(),
                Some(Verdict::Deviates) => format!("**deviates**: {}", s.seen),
                Some(Verdict::Unknown) => format!("{} (not decided)", s.seen),
                Some(Verdict::NotApplicable) => "n/a".into(),
                None => format!("{} (not judged)", s.seen),
            };
            let changed = s.recorded.as_ref().map(|r| format!("; recorded {r}")).unwrap_or_default();
            md += &format!(" {}{changed} |", word.replace('|', "\\|"));
            if s.verdict == Some(Verdict::Deviates) || s.recorded.is_some() {
                details += &format!("- {cell}: `{}` = {}: {}{changed}. {}\n", s.probe, s.seen, s.detail, s.documented);
            }
        }
        md += "\n";
    }
    if !details.is_empty() {
        md += &format!(
            "\n<details><summary>What the deviations, and results unlike the record, saw</summary>\n\n{details}\n</details>\n"
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Fidelity {
        Fidelity::load(crate::root(), "ci/fidelity.toml").unwrap()
    }

    #[test]
    fn the_rust_list_names_every_probe_in_the_records_order() {
        let rs = record().rust("ci/fidelity.toml", "P_FIDELITY_PEER");
        assert!(rs.contains("    /// the peer closes with SO_LINGER 0 (an abortive close); what the next read returns\n    ResetByRead,\n"));
        assert!(rs.contains("        Probe::ResetByRead,\n        Probe::ResetByWrite,\n"), "{rs}");
        assert!(rs.contains("            Probe::HostResetByAccept => \"host-reset-by-accept\",\n"), "{rs}");
        assert!(rs.ends_with("pub(crate) const HOST_PEER: &str = \"P_FIDELITY_PEER\";\n"), "{rs}");
    }

    #[test]
    fn a_line_is_judged_against_the_os_and_compared_with_the_record() {
        let fidelity = record();
        let lines = [
            "fidelity: reset-by-read = end-of-stream; read: 0 bytes",
            "fidelity: reset-by-accept = not-connected; accept: OS Error 10057",
            "fidelity: half-close = no-read-closed; events: readable",
            "fidelity: waker-coalescing = n/a; mio has no Waker on WASI",
        ];
        let mut seen: Vec<Seen> = lines.iter().map(|l| Seen::parse(l).unwrap()).collect();
        assert_eq!(Seen::parse("test x ... ok").map(|s| s.probe), None);
        let problems = fidelity.judge(Os::Windows, Some(Runtime::Wine), true, &mut seen);
        let verdicts: Vec<_> = seen.iter().map(|s| s.verdict.unwrap()).collect();
        use Verdict::*;
        assert_eq!(verdicts, [Deviates, Deviates, Unknown, NotApplicable]);
        assert_eq!(seen[0].detail, "read: 0 bytes");
        assert!(problems.contains(&"the fidelity probe reset-by-write did not report".to_string()), "{problems:?}");
        seen[0].seen = "reset".into();
        fidelity.judge(Os::Windows, Some(Runtime::Wine), true, &mut seen);
        assert_eq!((seen[0].verdict, seen[0].recorded.as_deref()), (Some(Matches), Some("end-of-stream")));
        // Without the host peer its probes say n/a, unlike the record, which is no news.
        let line = "fidelity: host-reset-by-read = n/a; no host peer";
        for (served, recorded) in [(true, Some("reset")), (false, None)] {
            let mut seen = [Seen::parse(line).unwrap()];
            fidelity.judge(Os::Linux, Some(Runtime::QemuUser), served, &mut seen);
            assert_eq!((seen[0].verdict, seen[0].recorded.as_deref()), (Some(NotApplicable), recorded));
        }
    }
}
