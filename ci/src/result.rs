//! A cell's result: what `run` writes for each cell, as JSON under
//! target/matrix-results/, and all that `report` reads.

use std::fmt;
use std::io;
use std::ops::Add;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fidelity::{Os, Seen};
use crate::matrix::Via;
use crate::matrix::{Cell, Matrix, Work};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Pass,
    #[default]
    Fail,
    Unavailable,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Unavailable => "UNAVAILABLE",
        })
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
}

impl Add for Counts {
    type Output = Counts;
    fn add(self, o: Counts) -> Counts {
        Counts { passed: self.passed + o.passed, failed: self.failed + o.failed, ignored: self.ignored + o.ignored }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CellResult {
    pub cell: String,
    pub target: String,
    pub kind: String,
    pub backend: String,
    pub via: String,
    pub host: String,
    pub status: Status,
    pub reason: Option<String>,
    pub seconds: u64,
    /// The steps that ran, in order; a failed one is marked `name FAILED`.
    pub steps: Vec<String>,
    /// Whether a step ran a test suite (not only a check, the fuzzer or the binary).
    pub tested: bool,
    pub in_process: Counts,
    /// Tests named as `[project] black_box` says: the launched binary.
    pub black_box: Counts,
    /// `binary: test`, for each failed test.
    pub failed_tests: Vec<String>,
    pub ignored_tests: Vec<Ignored>,
    pub exceptions: Vec<String>,
    /// What a step asked the report to say (its `report-note: ...` lines).
    #[serde(default)]
    pub notes: Vec<String>,
    /// mio's selector and waker files, read in mio's dep-info.
    pub mio: Vec<String>,
    /// The real OS the cell stands for, and what its fidelity probes saw.
    pub stands_for: Option<Os>,
    pub probes: Vec<Seen>,
    pub log: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Ignored {
    pub test: String,
    pub reason: Option<String>,
}

impl CellResult {
    pub fn new(m: &Matrix, cell: &Cell, via: Via, host: &str) -> CellResult {
        let (target, backend) = match &cell.work {
            Work::Build(b, _) => (b.target.clone(), m.sys[&b.sys].backend.clone()),
            Work::Config | Work::Adopt | Work::Distro(_) | Work::Act(_) => ("-".into(), "-".into()),
        };
        let (cell, kind, via, host) = (cell.name.clone(), cell.kind.clone(), via.to_string(), host.into());
        let log = format!("target/matrix-logs/{cell}.log");
        CellResult { cell, target, kind, backend, via, host, log, ..CellResult::default() }
    }

    pub fn tests(&self) -> Counts {
        self.in_process + self.black_box
    }

    pub fn path(root: &Path, cell: &str) -> PathBuf {
        root.join("target/matrix-results").join(format!("{cell}.json"))
    }

    pub fn save(&self, root: &Path) -> io::Result<()> {
        let path = CellResult::path(root, &self.cell);
        std::fs::create_dir_all(path.parent().expect("results have a directory"))?;
        std::fs::write(path, serde_json::to_string_pretty(self).expect("a result serializes") + "\n")
    }

    /// The saved result of `cell`, if it has one.
    pub fn load(root: &Path, cell: &str) -> Option<CellResult> {
        serde_json::from_str(&std::fs::read_to_string(CellResult::path(root, cell)).ok()?).ok()
    }
}
