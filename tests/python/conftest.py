"""Shared fixtures for Viaduc's Python end-to-end tests (run by scripts/test).

They need a running, seeded backend stack (testenv/start.sh + testenv/seed.sh) whose state
directory is in the environment variable VIADUC_TEST_STACK; scripts/test does all of that.

Fixtures
  stack   (session)  the backend stack: .dir, .ports (dict NAME_PORT -> int), .env (all of
                     ports.env), .ca_file, .password, .domain, .users, .ssl_context(), .addr(user)
  viaduc  (session)  a Viaduc started for the stack: .url, .port, .ca_file, .stack_dir, .ports,
                     .config_file, .log_file, .ssl_context(), .session(user) (a requests.Session
                     trusting the CA, with Basic auth), .log_tail()

Environment
  VIADUC_TEST_STACK      state dir of the stack (required)
  VIADUC_BIN             Viaduc binary (default: <repo>/target/debug/viaduc)
  VIADUC_START_TIMEOUT   seconds to wait for https://127.0.0.1:PORT/healthz (default 60)
"""
import os
import pathlib
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
TESTENV = REPO / "testenv"
_started = []  # Viaduc instances started in this session (for the failure summary)


def parse_env_file(path):
    """KEY=VALUE lines of a ports.env (comments after '#', optional double quotes)."""
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "=" in line:
                key, value = line.split("=", 1)
                env[key.strip()] = value.strip().strip('"')
    return env


def viaduc_binary():
    """The Viaduc binary under test: VIADUC_BIN, else the debug build in CARGO_TARGET_DIR or <repo>/target."""
    if os.environ.get("VIADUC_BIN"):
        return pathlib.Path(os.environ["VIADUC_BIN"])
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    return target / "debug" / "viaduc"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ca_context(ca_file):
    """TLS client context that trusts only the stack's CA (hostname/IP checked)."""
    ctx = ssl.create_default_context(cafile=str(ca_file))
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


class Stack:
    def __init__(self, state_dir):
        self.dir = pathlib.Path(state_dir).resolve()
        self.env = parse_env_file(self.dir / "ports.env")
        self.ports = {k: int(v) for k, v in self.env.items() if k.endswith("_PORT") and v.isdigit()}
        self.ca_file = pathlib.Path(self.env.get("CA_FILE") or self.dir / "tls" / "ca.pem")
        self.password = self.env.get("PASSWORD", "viaduc-demo")
        self.domain = self.env.get("DOMAIN", "example.test")
        self.users = self.env.get("USERS", "alice bob carol shared").split()
        self.master_user = self.env.get("MASTER_USER", "master")
        self.master_password = self.env.get("MASTER_PW", "viaduc-master")
        self.dav_url = self.env.get("DAV_URL") or f"http://127.0.0.1:{self.ports['DAV_PORT']}/"

    def addr(self, user):
        return f"{user}@{self.domain}"

    def ssl_context(self):
        return ca_context(self.ca_file)

    def __repr__(self):
        return f"Stack({self.dir})"


class Viaduc:
    def __init__(self, stack, port, binary, config_file, log_file):
        self.stack = stack
        self.stack_dir = stack.dir
        self.ports = stack.ports
        self.ca_file = stack.ca_file
        self.port = port
        self.url = f"https://127.0.0.1:{port}"
        self.binary = binary
        self.config_file = config_file
        self.log_file = log_file
        self.process = None

    def ssl_context(self):
        return ca_context(self.ca_file)

    def session(self, user=None, password=None):
        """requests.Session that trusts the stack CA; Basic auth as user (bare name or address)."""
        import requests

        s = requests.Session()
        s.trust_env = False  # no proxies from the environment: loopback only
        s.verify = str(self.ca_file)
        if user is not None:
            s.auth = (user, password if password is not None else self.stack.password)
        return s

    def log_tail(self, lines=60):
        try:
            with open(self.log_file, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError as e:
            return f"(no log: {e})"

    # -- lifecycle
    def start(self, timeout):
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info")
        env.setdefault("RUST_BACKTRACE", "1")
        log = open(self.log_file, "ab")
        try:
            self.process = subprocess.Popen(
                [str(self.binary), "serve", "--config", str(self.config_file)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=str(self.stack_dir), env=env, start_new_session=True)
        finally:
            log.close()
        ctx = self.ssl_context()
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"viaduc exited with status {self.process.returncode} during startup")
            try:
                with urllib.request.urlopen(self.url + "/healthz", context=ctx, timeout=2) as r:
                    r.read()
                    return
            except urllib.error.HTTPError as e:  # it answers HTTP: up (but /healthz is not 200)
                last = f"HTTP {e.code}"
                return
            except (urllib.error.URLError, OSError) as e:
                last = e
            time.sleep(0.1)
        raise RuntimeError(f"viaduc did not answer {self.url}/healthz within {timeout}s (last error: {last})")

    def stop(self):
        p = self.process
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


@pytest.fixture(scope="session")
def stack():
    state = os.environ.get("VIADUC_TEST_STACK")
    if not state:
        pytest.fail("VIADUC_TEST_STACK is not set. Run scripts/test, or start a stack yourself:\n"
                    "  testenv/start.sh /tmp/s && testenv/seed.sh /tmp/s && export VIADUC_TEST_STACK=/tmp/s",
                    pytrace=False)
    if not os.path.isfile(os.path.join(state, "ports.env")):
        pytest.fail(f"VIADUC_TEST_STACK={state}: no ports.env there (start it with testenv/start.sh)",
                    pytrace=False)
    return Stack(state)


@pytest.fixture(scope="session")
def viaduc(stack):
    binary = viaduc_binary()
    if not os.access(binary, os.X_OK):
        pytest.fail(f"Viaduc binary {binary} not found (cargo build --bin viaduc, or set VIADUC_BIN)",
                    pytrace=False)
    port = free_port()
    config = stack.dir / f"viaduc-pytest-{port}.toml"
    out = subprocess.run([str(TESTENV / "gen-config.sh"), str(stack.dir), str(port)],
                         capture_output=True, text=True, check=True)
    config.write_text(out.stdout)
    log_dir = stack.dir / "log"
    log_dir.mkdir(exist_ok=True)
    v = Viaduc(stack, port, binary, config, log_dir / f"viaduc-pytest-{port}.log")
    _started.append(v)
    try:
        v.start(float(os.environ.get("VIADUC_START_TIMEOUT", "60")))
    except Exception as e:  # noqa: BLE001
        v.stop()
        pytest.fail(f"{e}\n--- {v.log_file} (tail) ---\n{v.log_tail()}", pytrace=False)
    yield v
    v.stop()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """On failures, show the end of every Viaduc log of this session."""
    if exitstatus == 0:
        return
    for v in _started:
        terminalreporter.section(f"viaduc log tail: {v.log_file}")
        terminalreporter.write(v.log_tail())
