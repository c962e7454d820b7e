//! A real browser for the presence-board tests: Debian's `chromium`, headless, driven over WebDriver
//! by `chromedriver` (package `chromium-driver`; `scripts/test` installs both when missing).
//!
//! Each [`Browser`] runs its own chromedriver in its own process group with a private profile
//! directory; [`Browser::close`] ends the session (chromedriver quits chromium), and dropping it
//! kills whatever of that process group is left.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};

fn binary(env: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(env).filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(default));
    assert!(
        path.is_file(),
        "\n\nsentinel_tests: {} not found; scripts/test installs Debian's chromium and chromium-driver (or set {env})\n\n",
        path.display()
    );
    path
}

pub struct Browser {
    client: Option<Client>,
    driver: Child,
    dir: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a headless chromium session (`--no-sandbox` when running as root).
    pub async fn start() -> Browser {
        let chromium = binary("SENTINEL_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = binary("SENTINEL_CHROMEDRIVER", "/usr/bin/chromedriver");
        let dir = crate::scratch_dir("browser");
        let port = sentinel_ops::services::free_port().expect("a free port");
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", dir.join("chromedriver.log").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: chromium and its helpers join it, and Drop ends exactly them.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", chromedriver.display()));
        let mut browser = Browser { client: None, driver, dir: dir.clone() };
        let endpoint = format!("http://127.0.0.1:{port}");
        let ready = {
            let status = format!("{endpoint}/status");
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            loop {
                let answered = reqwest::get(&status).await.ok().filter(|r| r.status().is_success());
                if answered.is_some() {
                    break true;
                }
                if tokio::time::Instant::now() > deadline {
                    break false;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        assert!(ready, "chromedriver did not answer on {endpoint} within 20 s");
        let mut args = vec![
            "--headless=new".to_string(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-extensions".into(),
            // Timers of a page nobody looks at must not be throttled (reconnect backoff, polling).
            "--disable-background-timer-throttling".into(),
            "--disable-renderer-backgrounding".into(),
            "--disable-backgrounding-occluded-windows".into(),
            "--window-size=1280,900".into(),
            format!("--user-data-dir={}", dir.join("profile").display()),
        ];
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            args.push("--no-sandbox".into());
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert("goog:chromeOptions".into(), json!({ "binary": chromium, "args": args }));
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&endpoint)
            .await
            .unwrap_or_else(|e| panic!("starting a chromium session through chromedriver: {e} (log: {})", dir.join("chromedriver.log").display()));
        browser.client = Some(client);
        browser
    }

    /// The WebDriver session.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("session open")
    }

    pub async fn goto(&self, url: &str) {
        self.client().goto(url).await.unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    /// The value of a JavaScript expression in the page.
    pub async fn eval(&self, expression: &str) -> Value {
        self.client().execute(&format!("return ({expression});"), Vec::new()).await.unwrap_or_else(|e| panic!("evaluating {expression}: {e}"))
    }

    /// Evaluates `expression` every 50 ms until `done` holds; panics with the last value after `timeout`.
    pub async fn wait_for(&self, what: &str, timeout: Duration, expression: &str, mut done: impl FnMut(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let value = self.eval(expression).await;
            if done(&value) {
                return value;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("{what}: not within {timeout:?}; last value of `{expression}`: {value}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ends the session (chromedriver quits chromium) and stops chromedriver.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let pgid = self.driver.id() as i32;
        // SAFETY: signalling the process group this Browser created (chromedriver and its chromium).
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
