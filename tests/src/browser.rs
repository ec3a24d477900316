//! A real headless Chromium for the browser tests (the CORS test): the
//! OS package's `chromedriver` started on a free port on 127.0.0.1,
//! driven over WebDriver with `fantoccini`, and a page server whose
//! origins the page's scripts call the gateway from.
//!
//! CI installs `chromium` and `chromium-driver` (`.ci/run`) and sets
//! [`REQUIRE_ENV`]; elsewhere a machine without them skips the test, saying
//! so, like the Redis tests (`redis_server`). One browser serves a whole
//! test: starting Chromium costs far more than a page load.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// Set (by `.ci/run`) where a missing Chromium must fail the browser tests
/// rather than skip them.
pub const REQUIRE_ENV: &str = "GATEWAY_TESTS_REQUIRE_CHROMIUM";

/// The chromedriver program, and the browsers it may drive (Debian's
/// package names first).
const DRIVER: &str = "chromedriver";
const BROWSERS: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];

/// How long chromedriver may take to answer `/status` as ready.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A headless Chromium session; chromedriver (and the browser it started)
/// is killed on drop.
pub struct Browser {
    pub client: Client,
    driver: Driver,
}

/// The chromedriver process, in its own process group: the browser it
/// starts joins the group, so killing the group on drop ends both, even
/// after a failed test.
struct Driver(Option<Child>);

impl Browser {
    /// A started browser, or `None` (the test is skipped, saying so) when
    /// chromedriver or Chromium is not installed, unless [`REQUIRE_ENV`]
    /// is set, where that fails the test.
    pub async fn start_or_skip(test: &str) -> Option<Browser> {
        let browser = BROWSERS.into_iter().find_map(which);
        match (which(DRIVER), browser) {
            (Some(_), Some(binary)) => Some(Self::start(&binary).await),
            _ => {
                assert!(
                    std::env::var_os(REQUIRE_ENV).is_none(),
                    "{test}: chromium / chromedriver are not installed and {REQUIRE_ENV} is set"
                );
                eprintln!(
                    "{test}: skipped: chromium and chromedriver are not installed (CI installs them)"
                );
                None
            }
        }
    }

    async fn start(binary: &str) -> Browser {
        // The port is found free, then handed to chromedriver; another
        // process could take it in between, so a failed start is retried.
        for _ in 0..5 {
            let port = free_port().port();
            let mut driver = Driver::spawn(port);
            let url = format!("http://127.0.0.1:{port}");
            if !driver.wait_until_ready(&url).await {
                continue;
            }
            let client =
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(capabilities(binary))
                    .connect(&url)
                    .await
                    .expect("a Chromium session");
            return Browser { client, driver };
        }
        panic!("chromedriver did not come up on a free port");
    }

    /// Runs `fetch(url, init)` in the current page and returns what the
    /// page saw: `{ok: true, status, headers, body}` (the headers the
    /// script may read; `body` as text, or base64 with `init.binary`), or
    /// `{ok: false, error}` when the browser refused the response (a
    /// CORS failure is a `TypeError`, with no detail, by design). With
    /// `init.bytes` (an array of numbers), the request body is those bytes.
    pub async fn fetch(&self, url: &str, init: Value) -> Value {
        self.client
            .execute_async(FETCH_SCRIPT, vec![json!(url), init])
            .await
            .expect("the fetch script ran")
    }

    /// Ends the session (the browser exits), then chromedriver.
    pub async fn close(self) {
        let Browser { client, driver } = self;
        let _ = client.close().await;
        drop(driver);
    }
}

impl Driver {
    fn spawn(port: u16) -> Driver {
        let mut command = Command::new(DRIVER);
        command
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .spawn()
            .expect("chromedriver starts (install chromium-driver)");
        Driver(Some(child))
    }

    /// Polls `/status` until the driver says it is ready (a child process
    /// has no event to await).
    async fn wait_until_ready(&mut self, url: &str) -> bool {
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        while tokio::time::Instant::now() < deadline {
            if let Some(child) = self.0.as_mut()
                && let Ok(Some(_)) = child.try_wait()
            {
                return false;
            }
            if let Ok(response) = http.get(format!("{url}/status")).send().await
                && let Ok(status) = response.json::<Value>().await
                && status["value"]["ready"] == true
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            // The whole group: chromedriver and the browser it started.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The script behind [`Browser::fetch`]: WebDriver's async script, the
/// last argument being the callback.
const FETCH_SCRIPT: &str = r#"
const [url, init, done] = arguments;
const options = Object.assign({}, init);
if (options.bytes) { options.body = new Uint8Array(options.bytes); delete options.bytes; }
const binary = options.binary; delete options.binary;
fetch(url, options).then(async (response) => {
  const headers = {};
  response.headers.forEach((value, name) => { headers[name] = value; });
  let body;
  if (binary) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    let text = '';
    for (const b of bytes) text += String.fromCharCode(b);
    body = btoa(text);
  } else {
    body = await response.text();
  }
  done({ ok: true, status: response.status, headers, body });
}).catch((error) => done({ ok: false, error: String(error) }));
"#;

/// Headless Chromium as root in a container: no sandbox (it needs user
/// namespaces), no `/dev/shm` (often tiny), no first-run work.
fn capabilities(binary: &str) -> serde_json::Map<String, Value> {
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": binary,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--disable-background-networking",
            ],
        },
        "timeouts": { "script": 20_000, "pageLoad": 20_000 },
    });
    match caps {
        Value::Object(map) => map,
        _ => unreachable!("an object literal"),
    }
}

fn which(program: &str) -> Option<String> {
    let output = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .ok()?;
    let path = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !path.is_empty()).then_some(path)
}

fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address")
}

/// Page servers: each listener is its own origin
/// (`http://127.0.0.1:PORT`), serving one blank HTML page at `/`, so a
/// script running there makes cross-origin requests to the gateway.
pub struct PageOrigins {
    origins: Vec<String>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl PageOrigins {
    /// `count` origins on free ports.
    pub async fn start(count: usize) -> PageOrigins {
        let mut origins = Vec::with_capacity(count);
        let mut tasks = Vec::with_capacity(count);
        for _ in 0..count {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("its address");
            origins.push(format!("http://{addr}"));
            let app = axum::Router::new().route(
                "/",
                axum::routing::get(|| async {
                    axum::response::Html("<!doctype html><title>page</title><p>page</p>")
                }),
            );
            tasks.push(tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            }));
        }
        PageOrigins { origins, tasks }
    }

    /// The `index`th origin, `http://127.0.0.1:PORT` (no trailing slash,
    /// as a browser sends it in `Origin`).
    pub fn origin(&self, index: usize) -> &str {
        &self.origins[index]
    }
}

impl Drop for PageOrigins {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
