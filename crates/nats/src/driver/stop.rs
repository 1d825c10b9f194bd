//! The shell's two endings: a clean stop at shutdown, and a failed log.

use std::time::Duration;

use switchboard_engine::EngineError;
use switchboard_engine::EngineLog;

use super::DriverError;
use super::shell::Shell;
use crate::node::Node;

/// After a log failure, how long the `unavailable` replies to what was waiting may take to go
/// out (NATS may be down too; the process stops either way).
const LOG_FAILED_NATS_WAIT: Duration = Duration::from_secs(5);

impl Shell {
    /// The log failed: every request still waiting is answered `unavailable` (NATS gets
    /// [`LOG_FAILED_NATS_WAIT`] at most; the process stops either way).
    pub(super) async fn log_failed(&mut self) {
        self.telemetry.log_failed();
        let replies = self.node.handle_log_failed();
        match tokio::time::timeout(LOG_FAILED_NATS_WAIT, self.transmit()).await {
            Ok(Ok(())) => tracing::info!(
                replies,
                "requests waiting for the failed log were answered unavailable"
            ),
            Ok(Err(error)) => tracing::warn!(
                %error,
                replies,
                "could not answer the requests waiting for the failed log; their senders will retry"
            ),
            Err(_) => tracing::warn!(
                replies,
                "NATS did not take the unavailable replies in time; their senders will retry"
            ),
        }
    }

    /// A clean stop: what was taken is decided, made durable and answered, and the events
    /// stream given what it lacks, all within `wait` (NATS may be down: senders retry what got
    /// no reply, JetStream redelivers what got no ack, and the next start publishes the events
    /// the stream lacks). The committer and snapshotter stop; the log is handed back.
    pub(super) async fn stop(mut self, wait: Duration) -> Result<(Node, EngineLog), DriverError> {
        tracing::info!("shutting down: finishing the last turn");
        self.stopping = true;
        match tokio::time::timeout(wait, self.serve(std::pin::pin!(std::future::pending()))).await {
            Ok(Ok(())) => {}
            Ok(Err(error @ DriverError::Engine(_))) => return Err(error),
            Ok(Err(error)) => tracing::warn!(%error, "the last answers may not have gone out"),
            Err(_) => tracing::warn!(
                wait_secs = wait.as_secs_f64(),
                "NATS did not take the last answers and events in time; senders retry, \
                 JetStream redelivers, and the next start publishes the events it lacks"
            ),
        }
        self.work.shutdown().await;
        self.snapshotter.stop();
        let log = self.committer.shutdown().map_err(EngineError::Log)?;
        if tokio::time::timeout(wait, self.client.flush())
            .await
            .is_err()
        {
            tracing::warn!(
                wait_secs = wait.as_secs_f64(),
                "NATS did not take the last messages in time"
            );
        }
        Ok((self.node, log))
    }
}
