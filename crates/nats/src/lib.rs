//! The NATS driver: Switchboard's engine on the wire.
//!
//! [`run`] runs the engine on NATS. It is handed a connected [`async_nats::Client`], an opened
//! [`switchboard_engine::Engine`] and a shutdown signal. Inside, two halves
//! (docs/adr/0002-the-node.md):
//!
//! - **the node** (`node/`), which holds every rule and does no I/O: it decodes and validates
//!   each command (bad input gets an error reply with a code, a DEBUG log line, a metric and a
//!   share of a WARN summary at most every ten seconds — never a panic; see [`refusals`]),
//!   decides it in the core, gathers a turn's events into one append, and releases the turn's
//!   replies, intake acknowledgements, offers and desktop notices, in order, only once the log
//!   is durable up to the turn; it answers repeats of an idempotency key (`Nats-Msg-Id` header
//!   or `command_id` field) with the first reply, also after a restart (from the receipts the
//!   log keeps), answers queries from the state with the same wait, and feeds the events
//!   stream (`{p}.events.<type>`, a JetStream stream) in log order;
//! - **the shell** (`driver/`), which subscribes to `{p}.cmd.>`, `{p}.query.>` and the durable
//!   intake on `{p}.inbox.>`, hands what arrives to the node with the time, hands each turn to
//!   the log's group committer (one `fdatasync` for every turn submitted while the last one ran)
//!   and its durable points back, and sends what the node gives out.
//!
//! [`connect`] turns [`ConnectSettings`] (URL, credentials, TLS) into a client that reconnects
//! with backoff and reports reconnections and slow consumers as metrics and log lines.
//!
//! [`telemetry`] names every Prometheus metric (its [`telemetry::CATALOGUE`]) and turns
//! committed events and the state into counters and gauges; [`health`] holds the readiness
//! state the loop reports into; [`http`] serves `/metrics`, `/healthz` and `/readyz` (hyper);
//! [`disk`] reads the data directory's free space for both.

pub mod cluster;
mod connect;
pub mod disk;
mod driver;
mod feed;
pub mod health;
pub mod http;
mod node;
pub mod refusals;
pub mod telemetry;

pub use connect::{ConnectSettings, FIRST_CONNECT_WAIT, TlsSettings, connect};
pub use driver::{DriverError, DriverSettings, KeystoreSetting, SEQ_HEADER, SetupRetry, run};
