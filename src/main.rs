//! The `portable-echo` command: parses flags, sets up logging and signals,
//! and runs the server.

use std::fmt;
use std::io::{self, ErrorKind, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use clap::Parser;
use log::{error, info, warn};
use portable_echo::{Config, Server};

/// The library's defaults, which the flags' defaults are.
fn defaults() -> Config {
    Config::default()
}

/// A TCP echo server: greets each client, then echoes every byte it sends.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on, IP:PORT or HOST:PORT (a host name listens on
    /// every address it resolves to); repeat it to listen on several. Port 0
    /// picks a free port, the same for every address given with port 0. An
    /// IPv6 address takes IPv6 clients only: [::] and 0.0.0.0 together take both
    #[arg(long = "addr", value_name = "HOST:PORT",
          default_values_t = defaults().addrs.into_iter().map(ListenAddr::Ip))]
    addrs: Vec<ListenAddr>,

    /// Text sent to each client before echoing (no newline is added)
    #[arg(
        long,
        value_name = "TEXT",
        default_value_t = String::from_utf8_lossy(&defaults().greeting).into_owned(),
        hide_default_value = true
    )]
    greeting: String,

    /// Most bytes one connection may owe its client; past it the server stops
    /// reading from that client until it reads (backpressure)
    #[arg(long, value_name = "BYTES", default_value_t = defaults().max_pending,
          value_parser = at_least_one)]
    max_pending: usize,

    /// Most connections served at once; extra ones are accepted and closed
    #[arg(long, value_name = "N", default_value_t = defaults().max_connections,
          value_parser = at_least_one)]
    max_connections: usize,

    /// Close connections idle this many seconds (0: never; fractions allowed)
    #[arg(long, value_name = "SECS",
          default_value_t = Seconds(defaults().idle_timeout.unwrap_or(Duration::ZERO)))]
    idle_timeout: Seconds,

    /// On SIGINT/SIGTERM (Ctrl-C), seconds to write owed bytes and wait for
    /// clients to close after the server's end of stream (fractions allowed)
    #[arg(long, value_name = "SECS",
          default_value_t = Seconds(defaults().shutdown_grace))]
    shutdown_grace: Seconds,

    /// Length of the listen queue (the kernel may cap it: Linux at
    /// net.core.somaxconn, logged at startup)
    #[arg(long, value_name = "N", default_value_t = defaults().backlog,
          value_parser = clap::value_parser!(u32).range(1..))]
    backlog: u32,

    /// Stop as on SIGTERM when standard input ends (for supervisors, test
    /// harnesses and WASI, which has no signals)
    #[arg(long)]
    stop_on_stdin_eof: bool,
}

/// A count of 1 or more (`--max-pending`, `--max-connections`), as
/// `Config::validate` asks.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse() {
        Ok(0) => Err("must be 1 or more".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{text}' is not a whole number")),
    }
}

/// An `--addr` as given: an IP address, or a host name resolved after the
/// flags are read (so a name that does not resolve is a runtime error, not
/// a usage error).
#[derive(Clone, Debug)]
enum ListenAddr {
    Ip(SocketAddr),
    Host(String, u16),
}

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(text: &str) -> Result<ListenAddr, String> {
        if let Ok(addr) = text.parse() {
            return Ok(ListenAddr::Ip(addr));
        }
        let no_port =
            || format!("'{text}' has no port: write HOST:PORT, e.g. localhost:9000 or [::1]:9000");
        let (host, port) = text.rsplit_once(':').ok_or_else(no_port)?;
        if host.is_empty() || host.contains(':') || host.starts_with('[') {
            // An IPv6 address needs brackets before its port; a bare one,
            // or a bracketed one that did not parse, is no host name.
            return Err(no_port());
        }
        let port = port
            .parse()
            .map_err(|_| format!("'{port}' in '{text}' is not a port (0 to 65535)"))?;
        Ok(ListenAddr::Host(host.to_string(), port))
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Ip(addr) => write!(f, "{addr}"),
            ListenAddr::Host(host, port) => write!(f, "{host}:{port}"),
        }
    }
}

impl ListenAddr {
    /// The addresses to bind: the IP itself, or every address the name
    /// resolves to, in the resolver's order, each once.
    fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        let (host, port) = match self {
            ListenAddr::Ip(addr) => return Ok(vec![*addr]),
            ListenAddr::Host(host, port) => (host.as_str(), *port),
        };
        let context =
            |err: io::Error| io::Error::new(err.kind(), format!("resolving {self}: {err}"));
        let mut addrs = Vec::new();
        for addr in (host, port).to_socket_addrs().map_err(context)? {
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        if addrs.is_empty() {
            return Err(context(io::Error::new(ErrorKind::NotFound, "no address")));
        }
        info!(
            "{self} resolves to {}",
            addrs
                .iter()
                .map(SocketAddr::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(addrs)
    }
}

/// A duration given in seconds on the command line; fractions allowed
/// (`0.25`), so tests and impatient users can go below a second.
#[derive(Clone, Copy, Debug)]
struct Seconds(Duration);

impl FromStr for Seconds {
    type Err = String;

    fn from_str(text: &str) -> Result<Seconds, String> {
        let secs: f64 = text
            .parse()
            .map_err(|_| format!("'{text}' is not a number of seconds"))?;
        if !secs.is_finite() || secs < 0.0 {
            return Err(format!("'{text}' is not a number of seconds, 0 or more"));
        }
        Duration::try_from_secs_f64(secs)
            .map(Seconds)
            .map_err(|_| format!("'{text}' seconds is too long"))
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.as_secs_f64())
    }
}

impl Args {
    /// The library's config these flags ask for, with host names resolved.
    fn into_config(self) -> io::Result<Config> {
        let mut addrs = Vec::new();
        for addr in &self.addrs {
            addrs.extend(addr.resolve()?);
        }
        Ok(Config {
            addrs,
            greeting: self.greeting.into_bytes(),
            max_pending: self.max_pending,
            max_connections: self.max_connections,
            idle_timeout: (!self.idle_timeout.0.is_zero()).then_some(self.idle_timeout.0),
            shutdown_grace: self.shutdown_grace.0,
            backlog: self.backlog,
            stop_on_stdin_eof: self.stop_on_stdin_eof,
            ..Config::default()
        })
    }
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(err) if !err.use_stderr() => err.exit(), // --help, --version
        Err(err) => {
            // One line, not clap's multi-line block, so scripts can show it as is.
            let rendered = err.render().to_string();
            let line = rendered.lines().next().unwrap_or("invalid arguments");
            let line = line.strip_prefix("error: ").unwrap_or(line);
            eprintln!("portable-echo: {line} (see --help)");
            return ExitCode::from(2);
        }
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();

    let config = match args.into_config() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("portable-echo: {err}");
            return ExitCode::FAILURE;
        }
    };
    let server = match Server::bind(config) {
        Ok(server) => server,
        // The platform cannot serve at all (WASI preview 1): fail exactly as
        // mio's example does there.
        Err(err) if err.kind() == ErrorKind::Unsupported => panic!("{err}"),
        Err(err) => {
            eprintln!("portable-echo: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(err) = watch_shutdown_signals(&server) {
        eprintln!("portable-echo: {err}");
        return ExitCode::FAILURE;
    }
    announce(&server);
    match server.run() {
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            error!("{err}");
            eprintln!("portable-echo: {err}");
            ExitCode::FAILURE
        }
    }
}

/// A first SIGINT/SIGTERM (Ctrl-C) stops the server cleanly; a second
/// request, whichever way the first came, exits at once.
fn watch_shutdown_signals(server: &Server) -> io::Result<()> {
    let stop = server.stop_handle();
    portable_echo::watch_shutdown_signals(move |signal| {
        if stop.is_stopping() {
            warn!("{signal} while stopping: exiting without waiting");
            std::process::exit(1);
        }
        // Logged before the loop wakes and logs too: under qemu-i386, two
        // threads logging at once can end the process with "RefCell already
        // borrowed" in std's stderr.
        info!("{signal}: shutting down (send it again to exit at once)");
        stop.stop();
    })
}

/// One line per address, the first first: scripts that read one line
/// still find the first address there.
fn announce(server: &Server) {
    let mut stdout = io::stdout().lock();
    let announced = server
        .local_addrs()
        .iter()
        .try_for_each(|addr| writeln!(stdout, "listening on {addr} ({})", server.backend()))
        .and_then(|()| stdout.flush());
    drop(stdout);
    if let Err(err) = announced {
        // A closed stdout must not stop the server; the log still says it.
        warn!("writing the listening line to stdout: {err}");
    }
}
