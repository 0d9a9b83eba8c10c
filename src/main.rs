//! The `viaduc` command: `serve` runs the gateway, `check` tests the configured back-ends.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use viaduc::config::Config;

/// mimalloc instead of the C library's allocator: a GetItem allocates and frees buffers of tens of kilobytes
/// (TLS records, IMAP literals, the answer) on both worker threads, where glibc's malloc spent over a tenth of
/// Viaduc's CPU time (docs/performance.md, fifth round; the reason for this dependency: docs/rust-choices.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "viaduc",
    version,
    about = "Exchange protocols (Autodiscover, EWS, MAPI over HTTP) in front of IMAP, CalDAV/CardDAV, SMTP, Sieve and LDAP"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// The configuration file (TOML).
        #[arg(long, env = "VIADUC_CONFIG")]
        config: PathBuf,
    },
    /// Connect to every configured back-end and report what it offers; exits non-zero when something
    /// required is missing.
    Check {
        #[arg(long, env = "VIADUC_CONFIG")]
        config: PathBuf,
        /// A user to log in as, for the checks that need a login (IMAP capabilities, DAV homes).
        #[arg(long, env = "VIADUC_CHECK_USER")]
        user: Option<String>,
        /// That user's password (prefer the environment variable to keep it out of process lists).
        #[arg(long, env = "VIADUC_CHECK_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
}

fn init_logging(config: Option<&Config>) {
    let level = config.map(|c| c.logging.level.clone()).unwrap_or_else(|| "info".into());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let json = config.is_some_and(|c| c.logging.format.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn load(path: &PathBuf) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|e| {
        eprintln!("viaduc: {e}");
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("viaduc: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Serve { config } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            init_logging(Some(&config));
            let gateway = match viaduc::server::Gateway::new(config) {
                Ok(g) => Arc::new(g),
                Err(e) => {
                    eprintln!("viaduc: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(viaduc::server::serve(gateway)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("viaduc: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check { config, user, password } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            init_logging(None);
            let creds = match (&user, &password) {
                (Some(u), Some(p)) => Some((u.as_str(), p.as_str())),
                (None, None) => None,
                _ => {
                    eprintln!("viaduc: --user and --password go together");
                    return ExitCode::from(2);
                }
            };
            let report = runtime.block_on(viaduc::check::run(&config, creds));
            print!("{}", report.render());
            if report.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
    }
}
