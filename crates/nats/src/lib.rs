//! The NATS driver: Switchboard's engine on the wire.
//!
//! [`run`] is the single-writer engine loop. It is handed a connected [`async_nats::Client`], an
//! opened [`switchboard_engine::Engine`] and a shutdown signal, and it:
//!
//! 1. gathers a batch: command requests on `{p}.cmd.>`, durable intake from the JetStream stream
//!    on `{p}.inbox.>`, and any timer the core asked for;
//! 2. decodes and validates every message (bad input gets an error reply with a code, a DEBUG
//!    log line, a metric and a share of a WARN summary at most every ten seconds — never a
//!    panic; see [`refusals`]) and decides it in the core;
//! 3. submits the batch's events to the log's group committer, which makes every batch submitted
//!    while its last `fdatasync` was in flight durable with **one** more, and prepares the
//!    replies, offers and notices; the loop goes on to the next batch meanwhile;
//! 4. only once the committer reports the batch durable, replies, acknowledges the intake
//!    messages, publishes offers to the agents' desktops, and flushes once; a task of its own
//!    then publishes every event to `{p}.events.<type>` (kept in a JetStream stream), in order,
//!    until JetStream has stored it, reading from the log whatever it fell behind on.
//!
//! Commands repeated with the same idempotency key (`Nats-Msg-Id` header or `command_id` field)
//! get the first reply and have no second effect. Queries on `{p}.query.>` are answered from the
//! state (and the log, for a contact's history) without blocking the loop; their replies too
//! wait until what they read is durable.
//!
//! [`connect`] turns [`ConnectSettings`] (URL, credentials, TLS) into a client that reconnects
//! with backoff and reports reconnections and slow consumers as metrics and log lines.
//!
//! [`telemetry`] names every Prometheus metric (its [`telemetry::CATALOGUE`]) and turns
//! committed events and the state into counters and gauges; [`health`] holds the readiness
//! state the loop reports into; [`http`] serves `/metrics`, `/healthz` and `/readyz` (hyper);
//! [`disk`] reads the data directory's free space for both.

mod connect;
pub mod disk;
mod driver;
mod events;
mod feed;
pub mod health;
pub mod http;
mod idempotency;
#[allow(
    dead_code,
    reason = "the driver's shell takes the node over in the next change"
)]
mod node;
pub mod refusals;
pub mod telemetry;

pub use connect::{ConnectSettings, FIRST_CONNECT_WAIT, TlsSettings, connect};
pub use driver::{DriverError, DriverSettings, SEQ_HEADER, run};
