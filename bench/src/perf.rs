//! `perf stat -e raw_syscalls:sys_enter -p PID`, enabled and disabled on
//! request through perf's `--control` FIFOs.

use std::fs;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Counts one process's system calls with `perf stat -e raw_syscalls:sys_enter`,
/// enabled and disabled on request so the count covers exactly the window
/// the caller measures (perf's `--delay=-1` and `--control`).
#[derive(Debug)]
pub struct SyscallCounter {
    child: Child,
    dir: PathBuf,
    ctl: fs::File,
    ack: fs::File,
}

impl SyscallCounter {
    /// Attaches perf to `pid`, counting nothing yet.
    pub fn attach(pid: u32) -> io::Result<SyscallCounter> {
        let dir = std::env::temp_dir().join(format!("echo-load-perf-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        let ctl_path = dir.join("ctl");
        let ack_path = dir.join("ack");
        for path in [&ctl_path, &ack_path] {
            let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
                .map_err(io::Error::other)?;
            // SAFETY: c is a valid NUL-terminated path.
            if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // Opened read-write so neither open waits for perf to open its end.
        let open = |p: &PathBuf| fs::OpenOptions::new().read(true).write(true).open(p);
        let ctl = open(&ctl_path)?;
        let ack = open(&ack_path)?;
        let child = Command::new("perf")
            .args(["stat", "-x,", "--delay=-1", "-e", "raw_syscalls:sys_enter"])
            .arg("--control")
            .arg(format!(
                "fifo:{},{}",
                ctl_path.display(),
                ack_path.display()
            ))
            .arg("-o")
            .arg(dir.join("out"))
            .arg("-p")
            .arg(pid.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| io::Error::new(err.kind(), format!("starting perf: {err}")))?;
        Ok(SyscallCounter {
            child,
            dir,
            ctl,
            ack,
        })
    }

    fn command(&mut self, what: &str) -> io::Result<()> {
        self.ctl.write_all(format!("{what}\n").as_bytes())?;
        // perf answers "ack\n" followed by a NUL; skip NULs left over from
        // the previous answer and read up to the newline.
        let mut reply = Vec::new();
        let mut byte = [0u8; 1];
        while byte[0] != b'\n' {
            self.ack.read_exact(&mut byte)?;
            if byte[0] != 0 {
                reply.push(byte[0]);
            }
        }
        if reply != b"ack\n" {
            return Err(io::Error::other(format!(
                "perf answered {:?} to {what:?}",
                String::from_utf8_lossy(&reply)
            )));
        }
        Ok(())
    }

    /// Starts counting; returns once perf confirms.
    pub fn enable(&mut self) -> io::Result<()> {
        self.command("enable")
    }

    /// Stops counting; returns once perf confirms.
    pub fn disable(&mut self) -> io::Result<()> {
        self.command("disable")
    }

    /// Ends perf and returns the count.
    pub fn finish(mut self) -> io::Result<u64> {
        // perf prints its count when interrupted.
        // SAFETY: signalling our own child, which has not been waited for.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        self.child.wait()?;
        let out = fs::read_to_string(self.dir.join("out"))?;
        out.lines()
            .filter(|line| line.contains("raw_syscalls:sys_enter"))
            .find_map(|line| line.split(',').next()?.trim().parse().ok())
            .ok_or_else(|| io::Error::other(format!("no count in perf output: {out:?}")))
    }
}

impl Drop for SyscallCounter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
