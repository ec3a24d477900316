//! A real `gateway serve` process for the integration tests: both
//! listeners on port 0, the ports read from its log (no bind-and-release
//! race), killed when the test ends, passed or failed.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `gateway serve`, killed when the test ends, passed or failed.
pub struct Serve {
    child: Option<Child>,
    /// The main and admin listeners' addresses, as the process logged them.
    pub listen: String,
    pub admin: String,
}

impl Serve {
    #[allow(dead_code)]
    pub fn spawn(config_path: &Path) -> Serve {
        Self::spawn_with(serve_command(config_path))
    }

    /// `command` (from [`serve_command`], with the test's additions)
    /// started and awaited until it listens.
    #[allow(dead_code)]
    pub fn spawn_with(mut command: Command) -> Serve {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().expect("stdout is piped");
        // The guard first, so a process that never says where it listens
        // is killed when the wait below fails the test.
        let mut serve = Serve {
            child: Some(child),
            listen: String::new(),
            admin: String::new(),
        };
        let (listen, admin) = listening_addresses(stdout);
        (serve.listen, serve.admin) = (listen, admin);
        serve
    }

    #[allow(dead_code)]
    pub fn child(&self) -> &Child {
        self.child.as_ref().expect("the process is running")
    }

    #[allow(dead_code)]
    pub fn wait(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the process is running");
        child.wait().unwrap()
    }
}

/// `gateway serve --config CONFIG_PATH`, logging at info level.
pub fn serve_command(config_path: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gateway"));
    command
        .args(["serve", "--config"])
        .arg(config_path)
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR");
    command
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads the log until `gateway listening addr=.. admin_addr=..`, then
/// keeps draining it (a full pipe would block the gateway's logging).
fn listening_addresses(stdout: std::process::ChildStdout) -> (String, String) {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sender = Some(sender);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains("gateway listening")
                && let Some(sender) = sender.take()
            {
                let _ = sender.send(line);
            }
        }
    });
    let line = receiver
        .recv_timeout(Duration::from_secs(60))
        .expect("the gateway logs the addresses it listens on");
    // NO_COLOR is not set: the log is plain because it is not a terminal.
    assert!(
        !line.contains('\u{1b}'),
        "colour codes in a piped log: {line:?}"
    );
    let listen = field(&line, "addr").expect("addr=");
    let admin = field(&line, "admin_addr").expect("admin_addr=");
    (listen, admin)
}

/// The value of ` name=value` in a log line.
fn field(line: &str, name: &str) -> Option<String> {
    let start = line.find(&format!(" {name}="))? + name.len() + 2;
    let value = line[start..].split_whitespace().next()?;
    Some(value.to_owned())
}

impl Serve {
    /// SIGKILL, as a crash: nothing is flushed, nothing drains.
    #[allow(dead_code)]
    pub fn kill_9(mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}
