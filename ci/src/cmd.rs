//! A command a step runs, as data: what `--dry-run` prints, the docs
//! show, and the runner starts.

use std::fmt;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    /// Set (`Some`) or removed (`None`), in order.
    pub env: Vec<(String, Option<String>)>,
    /// Working directory, relative to the repository's root.
    pub dir: &'static str,
}

impl Cmd {
    pub fn new(program: &str) -> Cmd {
        Cmd { program: program.into(), ..Cmd::default() }
    }

    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Cmd {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: impl Into<String>) -> Cmd {
        self.env.push((key.into(), Some(value.into())));
        self
    }

    pub fn unset(mut self, key: &str) -> Cmd {
        self.env.push((key.into(), None));
        self
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let special = |s: &str| s.is_empty() || s.contains([' ', '\'', '"', '$', '*', ';']);
        let quote = |s: &str| if special(s) { format!("'{s}'") } else { s.to_string() };
        if !self.dir.is_empty() {
            write!(f, "cd {} && ", self.dir)?;
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => write!(f, "{k}={} ", quote(v))?,
                None => write!(f, "-u {k} ")?,
            }
        }
        write!(f, "{}", quote(&self.program))?;
        self.args.iter().try_for_each(|a| write!(f, " {}", quote(a)))
    }
}
