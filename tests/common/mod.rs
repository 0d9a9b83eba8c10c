//! Shared helpers for integration tests: find the backend stack that `scripts/test` started (its state dir is
//! in `VIADUC_TEST_STACK`), write a Viaduc configuration for it, start the real `viaduc` binary on a free
//! loopback port, and drive it with curl. Nothing here talks to anything but 127.0.0.1.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The running backend stack.
pub struct Stack {
    pub dir: PathBuf,
    pub ports: HashMap<String, String>,
}

impl Stack {
    /// The stack started by `scripts/test`. Panics with a clear message when the tests are run without it.
    pub fn from_env() -> Stack {
        let dir = std::env::var("VIADUC_TEST_STACK").unwrap_or_else(|_| {
            panic!("VIADUC_TEST_STACK is not set: run the integration tests through scripts/test (it starts the backend stack)")
        });
        let dir = PathBuf::from(dir);
        let env = std::fs::read_to_string(dir.join("ports.env"))
            .unwrap_or_else(|e| panic!("cannot read {}/ports.env: {e}", dir.display()));
        let mut ports = HashMap::new();
        for line in env.lines() {
            let line = line.trim().trim_start_matches("export ");
            if line.starts_with('#') {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                // Values may be followed by a shell comment.
                let v = v.split(" #").next().unwrap_or(v).split("\t#").next().unwrap_or(v);
                ports.insert(k.trim().to_string(), v.trim().trim_matches('"').trim_matches('\'').to_string());
            }
        }
        Stack { dir, ports }
    }

    /// Any value of ports.env (ports, CA_FILE, MASTER_PW, ...).
    pub fn var(&self, name: &str) -> &str {
        self.ports.get(name).map(String::as_str).unwrap_or_else(|| panic!("{name} missing from ports.env"))
    }

    pub fn port(&self, name: &str) -> u16 {
        self.ports.get(name).and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{name} missing from ports.env"))
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("tls/ca.pem")
    }

    /// A Viaduc configuration for this stack, listening on `port` (from testenv/gen-config.sh).
    pub fn config_text(&self, port: u16) -> String {
        let out = Command::new(repo_root().join("testenv/gen-config.sh"))
            .arg(&self.dir)
            .arg(port.to_string())
            .stderr(Stdio::inherit())
            .output()
            .expect("run testenv/gen-config.sh");
        assert!(out.status.success(), "gen-config.sh failed");
        String::from_utf8(out.stdout).expect("utf-8 config")
    }
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A free loopback TCP port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A running `viaduc serve`, stopped (SIGTERM, then kill) on drop.
pub struct Viaduc {
    pub port: u16,
    pub url: String,
    pub ca_file: PathBuf,
    pub config_path: PathBuf,
    pub log_path: PathBuf,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Viaduc {
    /// Starts Viaduc against `stack` with its generated config, edited by `edit`.
    pub fn start_with(stack: &Stack, edit: impl FnOnce(String) -> String) -> Viaduc {
        let port = free_port();
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("viaduc.toml");
        std::fs::write(&config_path, edit(stack.config_text(port))).expect("write config");
        let log_path = dir.path().join("viaduc.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_viaduc"))
            .args(["serve", "--config"])
            .arg(&config_path)
            .env("RUST_LOG", "viaduc=debug,info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            .spawn()
            .expect("start viaduc");
        let v = Viaduc {
            port,
            url: format!("https://127.0.0.1:{port}"),
            ca_file: stack.ca_file(),
            config_path,
            log_path,
            child: Some(child),
            _dir: dir,
        };
        v.wait_listening();
        v
    }

    pub fn start(stack: &Stack) -> Viaduc {
        Viaduc::start_with(stack, |c| c)
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("viaduc did not listen on {} in time; log:\n{}", self.port, self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Runs curl against `path` with extra arguments; returns (status, headers, body).
    pub fn curl(&self, path: &str, args: &[&str]) -> Response {
        curl(&format!("{}{}", self.url, path), &self.ca_file, args)
    }

    /// Sends SIGTERM and waits for the process to exit; returns whether it exited by itself in time.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else { return true };
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for Viaduc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What curl saw.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_string())
    }
}

/// curl `url` trusting `ca`, with `args`; never follows redirects; 30 s limit.
pub fn curl(url: &str, ca: &Path, args: &[&str]) -> Response {
    let dir = tempfile::tempdir().expect("tempdir");
    let head = dir.path().join("head");
    let body = dir.path().join("body");
    let out: Output = Command::new("curl")
        .args(["-sS", "--max-time", "30", "--cacert"])
        .arg(ca)
        .arg("-D")
        .arg(&head)
        .arg("-o")
        .arg(&body)
        .args(["-w", "%{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .expect("run curl");
    let status = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
    Response {
        status,
        headers: std::fs::read_to_string(&head).unwrap_or_default(),
        body: std::fs::read_to_string(&body).unwrap_or_default(),
    }
}
