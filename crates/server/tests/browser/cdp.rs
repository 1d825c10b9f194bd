//! A small Chrome DevTools Protocol client for the browser tests: starts Debian's Chromium
//! headless on a random debugging port (its own profile directory, killed on drop), opens
//! pages, evaluates JavaScript, presses keys, waits on conditions with a bound and takes
//! screenshots. The few CDP methods the tests use are sent as JSON over the browser's
//! WebSocket (tokio-websockets, which async-nats already builds); a crate generating the whole
//! protocol's types would cost minutes of compile time on a 2-core machine for six methods.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_websockets::{ClientBuilder, Message};

/// How long the browser may take to start and say where it listens: about 2 s on a quiet
/// machine, but a cold start of its 300 MB binary on a loaded 2-core CI box once took more than
/// 30 s. A bound on a wait, not a timed assertion.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long one CDP command may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a condition awaited by [`Page::wait_for`] may take to hold.
pub(crate) const WAIT: Duration = Duration::from_secs(20);
/// How often [`Page::wait_for`] looks again.
const POLL: Duration = Duration::from_millis(50);

/// The Chromium to drive: `SWITCHBOARD_CHROMIUM`, else Debian's `/usr/bin/chromium`, else a
/// `chromium` on the `PATH`; `None` when there is none.
pub(crate) fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SWITCHBOARD_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let debian = PathBuf::from("/usr/bin/chromium");
    if debian.is_file() {
        return Some(debian);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("chromium"))
            .find(|candidate| candidate.is_file())
    })
}

/// Replies awaited, by command id.
type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;
/// What each page reported: uncaught exceptions and console errors, by session id.
type Reports = Arc<Mutex<HashMap<String, Vec<String>>>>;

/// A headless Chromium, killed (with its profile directory removed) when dropped.
pub(crate) struct Browser {
    child: Child,
    /// Commands to send.
    outgoing: mpsc::UnboundedSender<Message>,
    pending: Pending,
    reports: Reports,
    next_id: Arc<AtomicU64>,
    /// What the browser printed, for a failing test to show.
    stderr: Arc<Mutex<Vec<String>>>,
    _profile: tempfile::TempDir,
}

/// Starts `binary` headless with a fresh profile in `profile` and DevTools on a random port,
/// its standard error piped (the address is printed there).
fn spawn_headless(binary: &Path, profile: &Path) -> Child {
    Command::new(binary)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--mute-audio",
            "--hide-scrollbars",
            "--remote-debugging-port=0",
            "--window-size=1400,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} starts: {e}", binary.display()))
}

impl Browser {
    /// Starts `binary` headless and connects to its DevTools endpoint.
    pub(crate) async fn launch(binary: &Path) -> Self {
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut child = spawn_headless(binary, profile.path());
        let stderr = child.stderr.take().expect("piped stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (found, endpoint) = std::sync::mpsc::channel::<String>();
        let kept = Arc::clone(&lines);
        // Reads the browser's standard error for good (a full pipe would stall it), keeping
        // the last lines and handing over the DevTools address when it is printed.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("ws://") {
                    let _ = found.send(line[at..].trim().to_owned());
                }
                // A test that failed while reading these lines poisons the lock; they are
                // still worth keeping.
                let mut kept = kept
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                kept.push(line);
                let excess = kept.len().saturating_sub(200);
                kept.drain(..excess);
            }
        });
        let url = tokio::task::spawn_blocking(move || endpoint.recv_timeout(START_TIMEOUT))
            .await
            .expect("waiting for the DevTools address")
            .unwrap_or_else(|_| {
                // Joined first, so that the lock is not held (and poisoned) by the panic.
                let printed = lines
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .join("\n");
                panic!(
                    "Chromium did not print its DevTools address within {START_TIMEOUT:?}:\n{printed}"
                )
            });
        let (socket, _) = ClientBuilder::new()
            .uri(&url)
            .expect("a DevTools URI")
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut to_send) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(message) = to_send.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let reports: Reports = Arc::default();
        let (waiting, reported) = (Arc::clone(&pending), Arc::clone(&reports));
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Some(text) = message.as_text() else {
                    continue;
                };
                let Ok(value) = serde_json::from_str::<Value>(text) else {
                    continue;
                };
                if let Some(id) = value["id"].as_u64() {
                    if let Some(reply) = waiting.lock().expect("pending").remove(&id) {
                        let _ = reply.send(value);
                    }
                } else if let Some(report) = report(&value) {
                    let session = value["sessionId"].as_str().unwrap_or_default().to_owned();
                    reported
                        .lock()
                        .expect("reports")
                        .entry(session)
                        .or_default()
                        .push(report);
                }
            }
        });
        Self {
            child,
            outgoing,
            pending,
            reports,
            next_id: Arc::new(AtomicU64::new(1)),
            stderr: lines,
            _profile: profile,
        }
    }

    /// Sends `method` (to a page when `session` is given) and returns its result.
    async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut command = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            command["sessionId"] = json!(session);
        }
        let (reply, answer) = oneshot::channel();
        self.pending.lock().expect("pending").insert(id, reply);
        self.outgoing
            .send(Message::text(command.to_string()))
            .expect("the DevTools connection is open");
        let value = tokio::time::timeout(CALL_TIMEOUT, answer)
            .await
            .unwrap_or_else(|_| panic!("{method}: no answer within {CALL_TIMEOUT:?}"))
            .unwrap_or_else(|_| {
                panic!(
                    "{method}: the DevTools connection closed\n{}",
                    self.stderr.lock().expect("lines").join("\n")
                )
            });
        assert!(value.get("error").is_none(), "{method} failed: {value}");
        value["result"].clone()
    }

    /// Opens `url` in a new tab of `width` × `height` pixels.
    pub(crate) async fn open(&self, url: &str, width: u32, height: u32) -> Page<'_> {
        let target = self
            .call(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let target_id = target["targetId"].as_str().expect("a target id").to_owned();
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target_id, "flatten": true}),
            )
            .await;
        let session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        let page = Page {
            browser: self,
            session,
        };
        page.call("Page.enable", json!({})).await;
        page.call("Runtime.enable", json!({})).await;
        page.resize(width, height).await;
        page.navigate(url).await;
        page
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Best effort: the process is ours alone, and dead either way afterwards.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An uncaught exception or a console error, in words, from a CDP event.
fn report(event: &Value) -> Option<String> {
    let params = &event["params"];
    match event["method"].as_str()? {
        "Runtime.exceptionThrown" => {
            let details = &params["exceptionDetails"];
            Some(format!(
                "uncaught: {} {}",
                details["text"].as_str().unwrap_or_default(),
                details["exception"]["description"]
                    .as_str()
                    .unwrap_or_default()
            ))
        }
        "Runtime.consoleAPICalled" if params["type"] == "error" => Some(format!(
            "console.error: {}",
            params["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|arg| arg["value"]
                    .as_str()
                    .or(arg["description"].as_str())
                    .unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" ")
        )),
        _ => None,
    }
}

/// One tab.
pub(crate) struct Page<'b> {
    browser: &'b Browser,
    session: String,
}

impl Page<'_> {
    /// Sends `method` to this page.
    pub(crate) async fn call(&self, method: &str, params: Value) -> Value {
        self.browser.call(Some(&self.session), method, params).await
    }

    /// Loads `url` and waits for its document to be complete.
    pub(crate) async fn navigate(&self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
        self.wait_for(
            &format!("{url} to load"),
            "document.readyState === 'complete' && location.href !== 'about:blank'",
        )
        .await;
    }

    /// Makes the viewport `width` × `height` CSS pixels.
    pub(crate) async fn resize(&self, width: u32, height: u32) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}),
        )
        .await;
    }

    /// Evaluates `expression` (awaiting a promise) and returns its value; a thrown exception
    /// fails the test.
    pub(crate) async fn eval(&self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
            )
            .await;
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}\nthrew: {}",
            result["exceptionDetails"]
        );
        result["result"]["value"].clone()
    }

    /// Waits (at most [`WAIT`]) until `expression` is truthy and returns its value; the
    /// failure names `what` and shows the page's text.
    pub(crate) async fn wait_for(&self, what: &str, expression: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut poll = tokio::time::interval(POLL);
        let probe =
            format!("(() => {{ try {{ return ({expression}); }} catch {{ return null; }} }})()");
        loop {
            poll.tick().await;
            let value = self.eval(&probe).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
                Value::String(s) => !s.is_empty(),
                Value::Array(_) | Value::Object(_) => true,
            };
            if truthy {
                return value;
            }
            if tokio::time::Instant::now() >= deadline {
                let text = self
                    .eval("document.body ? document.body.innerText : ''")
                    .await;
                panic!(
                    "waited {WAIT:?} for {what} ({expression}); the page reads:\n{}",
                    text.as_str().unwrap_or_default()
                );
            }
        }
    }

    /// Focuses the element matching `selector`.
    pub(crate) async fn focus(&self, selector: &str) {
        let found = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({}); if (!e) return false; e.focus(); return document.activeElement === e; }})()",
                json!(selector)
            ))
            .await;
        assert_eq!(found, json!(true), "no focusable {selector}");
    }

    /// Focuses `selector` and presses `key` there, as a keyboard user would.
    pub(crate) async fn press_on(&self, selector: &str, key: &str) {
        self.focus(selector).await;
        self.press(key).await;
    }

    /// Types `text` into the focused element, as a keyboard would.
    pub(crate) async fn type_text(&self, text: &str) {
        self.call("Input.insertText", json!({"text": text})).await;
    }

    /// Focuses `selector`, clears it and types `text`.
    pub(crate) async fn fill(&self, selector: &str, text: &str) {
        self.focus(selector).await;
        self.eval(&format!(
            "document.querySelector({}).value = ''",
            json!(selector)
        ))
        .await;
        self.type_text(text).await;
    }

    /// Presses a key (`Enter`, `Tab`, ` ` for Space) on the focused element.
    pub(crate) async fn press(&self, key: &str) {
        let (code, key_code, text) = match key {
            "Enter" => ("Enter", 13, "\r"),
            "Tab" => ("Tab", 9, ""),
            " " => ("Space", 32, " "),
            other => panic!("no key code for {other:?}"),
        };
        for kind in ["keyDown", "keyUp"] {
            let mut params = json!({
                "type": kind, "key": key, "code": code,
                "windowsVirtualKeyCode": key_code, "nativeVirtualKeyCode": key_code,
            });
            if kind == "keyDown" && !text.is_empty() {
                params["text"] = json!(text);
            }
            self.call("Input.dispatchKeyEvent", params).await;
        }
    }

    /// Saves a PNG of the whole page to `path`.
    pub(crate) async fn screenshot(&self, path: &Path) {
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true}),
            )
            .await;
        let data = shot["data"].as_str().expect("screenshot data");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("base64 screenshot");
        std::fs::write(path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }

    /// Uncaught exceptions and console errors this page reported so far.
    pub(crate) fn reports(&self) -> Vec<String> {
        self.browser
            .reports
            .lock()
            .expect("reports")
            .get(&self.session)
            .cloned()
            .unwrap_or_default()
    }
}
