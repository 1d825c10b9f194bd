//! The two baselines: a **bare relay** (each message in becomes one publish out) and a **durable
//! relay** (each batch in is appended to a file with one `fdatasync`, then published out, then
//! flushed: the floor for anything that acknowledges only what is durable).
//!
//! A relay runs on a thread of its own with a single-threaded tokio runtime (as `switchboard
//! serve` runs its loop by default) and its own NATS connection, so it is scheduled apart from
//! the load generator's sender and receiver, as the engine (another process) is.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use std::time::Duration;

use anyhow::{Context, Result};
use async_nats::{Client, Subscriber};
use bytes::{BufMut, Bytes, BytesMut};
use futures::{FutureExt, StreamExt};
use tokio::sync::oneshot;

/// The most messages one durable batch takes (the engine's default `batch_max`).
const BATCH_MAX: usize = 1024;

/// How long a relay message's number is, in ASCII digits at the start of its body.
pub(super) const NUMBER_BYTES: usize = 20;

/// The body of the message that proves a subscription live (shorter than a number, so never
/// taken for one).
const PROBE: &[u8] = b"loadgen-probe";

/// How long a probe may take to come back.
const PROBE_WAIT: Duration = Duration::from_secs(10);

/// Which baseline.
#[derive(Debug, Clone)]
pub(super) enum RelayKind {
    /// Publish each message on as it comes.
    Bare,
    /// Append each batch to this file, `fdatasync` once, publish, flush.
    Durable(PathBuf),
}

/// A running relay; stopped (its thread told to stop and waited for) on drop.
pub(super) struct Relay {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay").finish_non_exhaustive()
    }
}

impl Relay {
    /// Starts a relay from `input` to `output` on the NATS at `url`, writing bodies of
    /// `output_bytes` bytes; returns once it is subscribed.
    pub(super) async fn start(
        url: &str,
        kind: RelayKind,
        input: String,
        output: String,
        output_bytes: usize,
    ) -> Result<Self> {
        let (ready, subscribed) = oneshot::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let url = url.to_owned();
        let thread = on_own_thread("loadgen-relay", ready, move |ready| async move {
            tokio::select! {
                result = relay(&url, kind, input, output, output_bytes, ready) => {
                    if let Err(error) = result {
                        tracing::warn!("the relay stopped: {error:#}");
                    }
                }
                _ = stopped => {}
            }
        })?;
        let relay = Self {
            stop: Some(stop),
            thread: Some(thread),
        };
        subscribed
            .await
            .context("the relay stopped before it subscribed")??;
        Ok(relay)
    }
}

/// Runs `task` on a thread named `name` with a single-threaded tokio runtime of its own, as
/// `switchboard serve` runs its loop. The runtime is made on that thread (a runtime may not be
/// dropped in an async context, which the caller's is); if it cannot be, `ready` is told.
pub(super) fn on_own_thread<T, F, Fut>(
    name: &str,
    ready: oneshot::Sender<Result<T>>,
    task: F,
) -> Result<std::thread::JoinHandle<()>>
where
    T: Send + 'static,
    F: FnOnce(oneshot::Sender<Result<T>>) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(task(ready)),
                Err(error) => {
                    let _ = ready.send(Err(error).context("could not start a runtime"));
                }
            }
        })
        .with_context(|| format!("could not start the {name} thread"))
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // The thread ends as soon as its runtime sees the stop.
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::warn!("the relay's thread panicked");
        }
    }
}

/// Returns once nats-server routes messages on `subject` to `subscriber`: a probe published
/// on it, by the same connection, has come back.
///
/// `flush` is not enough: it only writes the subscription out. nats-server takes it in order
/// with this connection's later operations but not with other connections' publishes, and a
/// core NATS message published before the subscription is in place reaches no one (a CI run
/// lost the first message of a phase this way).
pub(super) async fn until_routed(
    client: &Client,
    subscriber: &mut Subscriber,
    subject: &str,
) -> Result<()> {
    client
        .publish(subject.to_owned(), Bytes::from_static(PROBE))
        .await
        .context("could not publish a probe")?;
    let came_back = async {
        while let Some(message) = subscriber.next().await {
            if message.payload.as_ref() == PROBE {
                return true;
            }
        }
        false
    };
    match tokio::time::timeout(PROBE_WAIT, came_back).await {
        Ok(true) => Ok(()),
        Ok(false) => {
            anyhow::bail!("the subscription to {subject} ended before its probe came back")
        }
        Err(_) => anyhow::bail!(
            "a probe on {subject} did not come back within {} s",
            PROBE_WAIT.as_secs()
        ),
    }
}

/// A relay message's body: its number in ASCII digits, padded with `.` to `bytes`.
pub(super) fn body(number: u64, bytes: usize) -> Bytes {
    let mut body = BytesMut::with_capacity(bytes.max(NUMBER_BYTES));
    body.put_slice(format!("{number:0NUMBER_BYTES$}").as_bytes());
    body.resize(bytes.max(NUMBER_BYTES), b'.');
    body.freeze()
}

/// The number at the start of a relay message's body.
pub(super) fn number(body: &[u8]) -> Option<u64> {
    std::str::from_utf8(body.get(..NUMBER_BYTES)?)
        .ok()?
        .parse()
        .ok()
}

/// The same message as `input`, re-sized to `bytes` (its number kept).
fn relayed(input: &[u8], bytes: usize) -> Bytes {
    let mut body = BytesMut::with_capacity(bytes.max(NUMBER_BYTES));
    body.put_slice(input.get(..NUMBER_BYTES).unwrap_or(input));
    body.resize(bytes.max(NUMBER_BYTES), b'.');
    body.freeze()
}

async fn relay(
    url: &str,
    kind: RelayKind,
    input: String,
    output: String,
    output_bytes: usize,
    ready: oneshot::Sender<Result<()>>,
) -> Result<()> {
    let setup = async {
        let client = async_nats::connect(url)
            .await
            .context("the relay could not connect")?;
        let mut messages = client.subscribe(input.clone()).await?;
        until_routed(&client, &mut messages, &input).await?;
        let file = match &kind {
            RelayKind::Bare => None,
            RelayKind::Durable(path) => Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("could not open {}", path.display()))?,
            ),
        };
        anyhow::Ok((client, messages, file))
    };
    let (client, mut messages, file) = match setup.await {
        Ok(parts) => {
            let _ = ready.send(Ok(()));
            parts
        }
        Err(error) => {
            let _ = ready.send(Err(error));
            return Ok(());
        }
    };
    let output = async_nats::Subject::from(output);
    match file {
        None => {
            while let Some(message) = messages.next().await {
                client
                    .publish(output.clone(), relayed(&message.payload, output_bytes))
                    .await?;
            }
        }
        Some(mut file) => {
            let mut batch = Vec::with_capacity(BATCH_MAX);
            let mut buffer = Vec::new();
            while let Some(first) = messages.next().await {
                batch.push(first);
                // What has already arrived, without waiting, up to the bound: as the engine.
                while batch.len() < BATCH_MAX {
                    match messages.next().now_or_never() {
                        Some(Some(message)) => batch.push(message),
                        _ => break,
                    }
                }
                append_durably(&mut file, &mut buffer, &batch)?;
                for message in batch.drain(..) {
                    client
                        .publish(output.clone(), relayed(&message.payload, output_bytes))
                        .await?;
                }
                client.flush().await?;
            }
        }
    }
    Ok(())
}

/// One write of the whole batch and one `fdatasync`, on the loop's thread as the engine does.
fn append_durably(
    file: &mut File,
    buffer: &mut Vec<u8>,
    batch: &[async_nats::Message],
) -> Result<()> {
    buffer.clear();
    for message in batch {
        buffer.extend_from_slice(&message.payload);
    }
    file.write_all(buffer)
        .context("the durable relay could not write")?;
    file.sync_data()
        .context("the durable relay could not fdatasync")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relayed_message_keeps_its_number_at_any_size() {
        let message = body(42, 100);
        assert_eq!(message.len(), 100);
        assert_eq!(number(&message), Some(42));
        let out = relayed(&message, 700);
        assert_eq!(out.len(), 700);
        assert_eq!(number(&out), Some(42));
        assert_eq!(number(&relayed(&message, 3)), Some(42));
        assert_eq!(number(b"short"), None);
    }
}
