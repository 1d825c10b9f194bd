//! The web pages for the people who are not integrators: the wallboard (a team leader's live
//! view of the queues, the agents and the work falling due) and the agent desktop (log in,
//! ready, the ringing offer, accept, complete, escalate, transfer, wrap-up).
//!
//! The pages are static files embedded in the binary (`assets/`, nothing loads from a CDN),
//! served by the engine's one HTTP stack (`switchboard_nats::http::Endpoints::route` asks
//! [`Pages::asset`] for every path it does not know). In the browser they talk to NATS directly,
//! over its WebSocket listener, with the NATS JavaScript client (`js/`, bundled by esbuild from
//! `js/package-lock.json` into `assets/*.js`; `scripts/web-bundle` rebuilds them and CI checks
//! that the rebuild gives the committed bytes). So the pages hold no authority of their own:
//! the NATS user a page signs in as, and its permissions, decide everything it may read or send.
//!
//! The only thing the engine tells the pages is [`PageConfig`]: where NATS's WebSocket listener
//! is, the subject prefix and the service-level targets, written into each HTML page as a JSON
//! block when [`Pages::new`] is called (once, at start-up).

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::Serialize;

/// The home page: links to the wallboard and the desktop.
const INDEX_HTML: &str = include_str!("../assets/index.html");
/// The wallboard's page.
const WALLBOARD_HTML: &str = include_str!("../assets/wallboard.html");
/// The desktop's page.
const DESKTOP_HTML: &str = include_str!("../assets/desktop.html");
/// The style sheet both pages share.
const STYLE_CSS: &[u8] = include_bytes!("../assets/style.css");
/// The wallboard's script: `js/src/wallboard.js` with the NATS client, bundled.
const WALLBOARD_JS: &[u8] = include_bytes!("../assets/wallboard.js");
/// The desktop's script: `js/src/desktop.js` with the NATS client, bundled.
const DESKTOP_JS: &[u8] = include_bytes!("../assets/desktop.js");

/// Where each HTML page gets its [`PageConfig`].
const CONFIG_PLACEHOLDER: &str = "<!--switchboard-config-->";

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// The longest NATS WebSocket URL taken.
pub const NATS_WS_URL_BYTES_MAX: usize = 2048;

/// A refused setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// The NATS WebSocket URL is neither a `ws://`/`wss://` URL nor a path on the pages' origin.
    #[error(
        "nats_ws_url `{url}` is not a NATS WebSocket URL: give ws://HOST:PORT, wss://HOST/PATH, \
         or a path on the pages' own origin such as /nats (behind a reverse proxy)"
    )]
    NatsWsUrl {
        /// The URL given.
        url: String,
    },
}

/// The service-level target of one queue (a service on a channel), as configured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueTarget {
    /// The service.
    pub service: String,
    /// The channel (`phone`, `face_to_face`, `chat`, `email`, `callback`).
    pub channel: String,
    /// The answer threshold, in seconds.
    pub answer_within_secs: u64,
    /// The share to answer within it, 0 to 1.
    pub target: f64,
}

/// The engine's service-level targets, for the wallboard to colour its queues by.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceLevels {
    /// The target of a queue with none of its own (the engine's: 0.8).
    pub default_target: f64,
    /// The answer threshold of each channel, in seconds, for a queue with none of its own.
    pub answer_within_secs: BTreeMap<String, u64>,
    /// Queues with a target of their own.
    pub queues: Vec<QueueTarget>,
}

impl Default for ServiceLevels {
    fn default() -> Self {
        Self {
            default_target: 0.8,
            answer_within_secs: BTreeMap::new(),
            queues: Vec::new(),
        }
    }
}

/// What the pages are told by the engine.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PageConfig {
    /// NATS's WebSocket listener: `ws://HOST:PORT`, `wss://HOST/PATH`, or a path on the pages'
    /// own origin (`/nats`, when a reverse proxy serves both). `None`: not configured, and the
    /// pages say so instead of guessing.
    pub nats_ws_url: Option<String>,
    /// The subject prefix of the wire contract.
    pub subject_prefix: String,
    /// The service-level targets.
    pub service_levels: ServiceLevels,
}

impl Default for PageConfig {
    fn default() -> Self {
        Self {
            nats_ws_url: None,
            subject_prefix: "switchboard".to_owned(),
            service_levels: ServiceLevels::default(),
        }
    }
}

/// Checks a NATS WebSocket URL: `ws://` or `wss://` and a host, or an absolute path (`/nats`);
/// at most [`NATS_WS_URL_BYTES_MAX`] bytes, with no white space, quotes, `;` or `,` (it is
/// written into the pages' Content-Security-Policy).
///
/// # Errors
/// [`WebError::NatsWsUrl`] naming the URL.
pub fn check_nats_ws_url(url: &str) -> Result<(), WebError> {
    let refused = || WebError::NatsWsUrl {
        url: url.to_owned(),
    };
    if url.len() > NATS_WS_URL_BYTES_MAX
        || url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'`;,<>\\".contains(c))
    {
        return Err(refused());
    }
    if let Some(rest) = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))
    {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if host.is_empty() || host.contains('@') {
            return Err(refused());
        }
        return Ok(());
    }
    if url.starts_with('/') && !url.starts_with("//") {
        return Ok(());
    }
    Err(refused())
}

/// The `scheme://host[:port]` of an absolute WebSocket URL, for the Content-Security-Policy.
fn websocket_origin(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")? + 3;
    let host_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |at| scheme_end + at);
    Some(&url[..host_end])
}

/// A file to serve: its content type, its bytes and the headers it needs.
#[derive(Clone, Debug)]
pub struct Asset {
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Bytes,
    /// More headers (name in lower case, value): the security headers of every page.
    pub headers: Vec<(&'static str, String)>,
}

/// The pages, with their configuration written in: cheap to clone (the bodies are shared).
#[derive(Clone, Debug)]
pub struct Pages {
    /// `/`
    index: Bytes,
    /// `/wallboard`
    wallboard: Bytes,
    /// `/desktop`
    desktop: Bytes,
    /// The Content-Security-Policy of every answer.
    content_security_policy: String,
}

impl Default for Pages {
    fn default() -> Self {
        Self::new(&PageConfig::default())
    }
}

impl Pages {
    /// The pages for `config`. A `nats_ws_url` that [`check_nats_ws_url`] refuses is treated
    /// as not configured (the configuration is checked where it is read).
    #[must_use]
    pub fn new(config: &PageConfig) -> Self {
        let mut config = config.clone();
        if config
            .nats_ws_url
            .as_deref()
            .is_some_and(|url| check_nats_ws_url(url).is_err())
        {
            config.nats_ws_url = None;
        }
        // `<` escaped, so that no text in it can close the script element it sits in.
        let json = serde_json::to_string(&config)
            .unwrap_or_else(|_| "{}".to_owned())
            .replace('<', "\\u003c");
        let block =
            format!("<script type=\"application/json\" id=\"switchboard-config\">{json}</script>");
        let page = |html: &str| Bytes::from(html.replace(CONFIG_PLACEHOLDER, &block));
        let connect = match config.nats_ws_url.as_deref().and_then(websocket_origin) {
            Some(origin) => format!("'self' {origin}"),
            None => "'self'".to_owned(),
        };
        Self {
            index: page(INDEX_HTML),
            wallboard: page(WALLBOARD_HTML),
            desktop: page(DESKTOP_HTML),
            content_security_policy: format!(
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 connect-src {connect}; base-uri 'none'; form-action 'none'; \
                 frame-ancestors 'none'"
            ),
        }
    }

    /// The asset at `path` (without its query), or `None` when there is none.
    #[must_use]
    pub fn asset(&self, path: &str) -> Option<Asset> {
        let (content_type, body) = match path {
            "/" => (HTML, self.index.clone()),
            "/wallboard" => (HTML, self.wallboard.clone()),
            "/desktop" => (HTML, self.desktop.clone()),
            "/assets/style.css" => (CSS, Bytes::from_static(STYLE_CSS)),
            "/assets/wallboard.js" => (JAVASCRIPT, Bytes::from_static(WALLBOARD_JS)),
            "/assets/desktop.js" => (JAVASCRIPT, Bytes::from_static(DESKTOP_JS)),
            _ => return None,
        };
        Some(Asset {
            content_type,
            body,
            headers: vec![
                (
                    "content-security-policy",
                    self.content_security_policy.clone(),
                ),
                ("x-content-type-options", "nosniff".to_owned()),
                ("referrer-policy", "no-referrer".to_owned()),
            ],
        })
    }

    /// Every path [`Pages::asset`] answers.
    #[must_use]
    pub fn paths() -> [&'static str; 6] {
        [
            "/",
            "/wallboard",
            "/desktop",
            "/assets/style.css",
            "/assets/wallboard.js",
            "/assets/desktop.js",
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(asset: &Asset) -> String {
        String::from_utf8(asset.body.to_vec()).expect("UTF-8")
    }

    #[test]
    fn every_path_answers_with_its_type_and_the_security_headers() {
        let pages = Pages::default();
        for path in Pages::paths() {
            let asset = pages.asset(path).unwrap_or_else(|| panic!("{path}"));
            assert!(!asset.body.is_empty(), "{path} is empty");
            let names: Vec<&str> = asset.headers.iter().map(|(name, _)| *name).collect();
            assert_eq!(
                names,
                [
                    "content-security-policy",
                    "x-content-type-options",
                    "referrer-policy"
                ],
                "{path}"
            );
        }
        assert_eq!(pages.asset("/desktop").map(|a| a.content_type), Some(HTML));
        assert_eq!(
            pages.asset("/assets/desktop.js").map(|a| a.content_type),
            Some(JAVASCRIPT)
        );
        assert!(pages.asset("/wallboard/").is_none());
        assert!(pages.asset("/assets/").is_none());
        assert!(pages.asset("/assets/../Cargo.toml").is_none());
    }

    #[test]
    fn the_configuration_is_written_into_each_page_and_cannot_close_its_script() {
        let pages = Pages::new(&PageConfig {
            nats_ws_url: Some("wss://nats.council.example/ws".to_owned()),
            subject_prefix: "council".to_owned(),
            service_levels: ServiceLevels {
                queues: vec![QueueTarget {
                    service: "tax</script><script>alert(1)".to_owned(),
                    channel: "phone".to_owned(),
                    answer_within_secs: 30,
                    target: 0.9,
                }],
                ..ServiceLevels::default()
            },
        });
        for path in ["/", "/wallboard", "/desktop"] {
            let asset = pages.asset(path).expect("a page");
            let html = text(&asset);
            assert!(!html.contains(CONFIG_PLACEHOLDER), "{path}");
            let json = html
                .split_once("id=\"switchboard-config\">")
                .and_then(|(_, rest)| rest.split_once("</script>"))
                .map(|(json, _)| json)
                .expect("the configuration block");
            let config: serde_json::Value = serde_json::from_str(json).expect("JSON");
            assert_eq!(config["nats_ws_url"], "wss://nats.council.example/ws");
            assert_eq!(config["subject_prefix"], "council");
            assert_eq!(config["service_levels"]["default_target"], 0.8);
            assert_eq!(
                config["service_levels"]["queues"][0]["service"],
                "tax</script><script>alert(1)"
            );
            let (_, policy) = &asset.headers[0];
            assert!(
                policy.contains("connect-src 'self' wss://nats.council.example;"),
                "{policy}"
            );
        }
    }

    #[test]
    fn only_websocket_urls_and_paths_are_taken() {
        for good in [
            "ws://127.0.0.1:8080",
            "wss://nats.council.example",
            "wss://nats.council.example:443/ws",
            "/nats",
        ] {
            assert_eq!(check_nats_ws_url(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "nats://127.0.0.1:4222",
            "http://127.0.0.1",
            "ws://",
            "//evil.example/nats",
            "ws://a b",
            "ws://user:secret@host",
            "wss://host; script-src *",
            "nats",
        ] {
            assert!(check_nats_ws_url(bad).is_err(), "{bad}");
        }
        let message = check_nats_ws_url("nats://x")
            .expect_err("refused")
            .to_string();
        assert!(message.contains("`nats://x`"), "{message}");
        // A refused URL is not written into the pages: they say it is not configured.
        let pages = Pages::new(&PageConfig {
            nats_ws_url: Some("javascript:alert(1)".to_owned()),
            ..PageConfig::default()
        });
        let html = text(&pages.asset("/wallboard").expect("page"));
        assert!(html.contains("\"nats_ws_url\":null"), "{html}");
    }

    #[test]
    fn nothing_loads_from_elsewhere() {
        let pages = Pages::default();
        for path in ["/", "/wallboard", "/desktop", "/assets/style.css"] {
            let body = text(&pages.asset(path).expect("asset"));
            for needle in ["http://", "https://", "src=\"//", "href=\"//", "@import"] {
                assert!(!body.contains(needle), "{path} holds {needle}");
            }
        }
    }
}
