//! Cluster mode's metrics (docs/operations.md), each labelled with the routing domain.

use crate::telemetry::{
    CLUSTER_LEADER, FAILOVER_DURATION, FAILOVERS, LEASE_LOST, LEASE_RENEWALS, LOG_FENCED_APPENDS,
    SNAPSHOT_UPLOAD_FAILURES, SNAPSHOT_UPLOADS, STANDBY_LAG,
};

use super::role::Takeover;

/// The cluster's metrics of one domain.
#[derive(Debug, Clone)]
pub(super) struct Metrics {
    domain: String,
    /// The standby's lag at its last look, for the log lines.
    lag: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Metrics {
    pub(super) fn new(domain: &str) -> Self {
        let metrics = Self {
            domain: domain.to_owned(),
            lag: std::sync::Arc::default(),
        };
        // Present from the start, so that a rate or an absence alert has a series to read.
        for counter in [
            LEASE_RENEWALS,
            LEASE_LOST,
            LOG_FENCED_APPENDS,
            FAILOVERS,
            SNAPSHOT_UPLOADS,
            SNAPSHOT_UPLOAD_FAILURES,
        ] {
            metrics::counter!(counter, "domain" => metrics.domain.clone()).increment(0);
        }
        metrics
    }

    pub(super) fn leader(&self, serving: bool) {
        metrics::gauge!(CLUSTER_LEADER, "domain" => self.domain.clone()).set(if serving {
            1.0
        } else {
            0.0
        });
    }

    pub(super) fn last_lag(&self) -> u64 {
        self.lag.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(super) fn standby_lag(&self, events: u64) {
        self.lag.store(events, std::sync::atomic::Ordering::Relaxed);
        metrics::gauge!(STANDBY_LAG, "domain" => self.domain.clone()).set(events as f64);
    }

    pub(super) fn renewed(&self) {
        metrics::counter!(LEASE_RENEWALS, "domain" => self.domain.clone()).increment(1);
    }

    pub(super) fn lost(&self) {
        metrics::counter!(LEASE_LOST, "domain" => self.domain.clone()).increment(1);
    }

    pub(super) fn fenced(&self) {
        metrics::counter!(LOG_FENCED_APPENDS, "domain" => self.domain.clone()).increment(1);
    }

    pub(super) fn snapshot_uploaded(&self, stored: bool) {
        let counter = if stored {
            SNAPSHOT_UPLOADS
        } else {
            SNAPSHOT_UPLOAD_FAILURES
        };
        metrics::counter!(counter, "domain" => self.domain.clone()).increment(1);
    }

    pub(super) fn serving(&self, takeover: Takeover) {
        self.leader(true);
        self.standby_lag(0);
        if takeover.failover {
            metrics::counter!(FAILOVERS, "domain" => self.domain.clone()).increment(1);
            metrics::histogram!(FAILOVER_DURATION, "domain" => self.domain.clone())
                .record(takeover.took.as_secs_f64());
        }
    }
}
