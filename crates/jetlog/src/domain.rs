//! The JetStream names of one routing domain (a subject prefix such as `switchboard` or
//! `council_a`): its log stream and subject, its snapshot bucket, and its key in the cluster's
//! lease bucket. Every engine of a domain, and every tool that reads its log, derives them here.

use crate::JetStreamConfig;

/// The KV bucket holding every domain's leader lease, one key per domain.
pub const LEASE_BUCKET: &str = "switchboard_leases";

/// The JetStream names of one routing domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainNames {
    /// The domain's subject prefix, as the wire contract uses it.
    pub prefix: String,
}

impl DomainNames {
    /// The names of the domain whose subject prefix is `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The log stream: `SB_LOG_<PREFIX>` (upper-cased, `.` and `-` as `_`).
    #[must_use]
    pub fn log_stream(&self) -> String {
        format!("SB_LOG_{}", self.upper())
    }

    /// The one subject the log stream captures: `<prefix>.log`.
    #[must_use]
    pub fn log_subject(&self) -> String {
        format!("{}.log", self.prefix)
    }

    /// The Object Store bucket of the domain's snapshots: `SB_SNAP_<PREFIX>`.
    #[must_use]
    pub fn snapshot_bucket(&self) -> String {
        format!("SB_SNAP_{}", self.upper())
    }

    /// The domain's key in [`LEASE_BUCKET`]: the prefix with `.` as `_`.
    #[must_use]
    pub fn lease_key(&self) -> String {
        self.prefix.replace('.', "_")
    }

    /// Where the domain's log lives, with `replicas` copies and the other settings' defaults.
    #[must_use]
    pub fn log_config(&self, replicas: usize) -> JetStreamConfig {
        let mut config = JetStreamConfig::new(self.log_stream(), self.log_subject());
        config.replicas = replicas;
        config
    }

    fn upper(&self) -> String {
        self.prefix.to_uppercase().replace(['.', '-'], "_")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prefix() {
        let names = DomainNames::new("council.north-east");
        assert_eq!(names.log_stream(), "SB_LOG_COUNCIL_NORTH_EAST");
        assert_eq!(names.log_subject(), "council.north-east.log");
        assert_eq!(names.snapshot_bucket(), "SB_SNAP_COUNCIL_NORTH_EAST");
        assert_eq!(names.lease_key(), "council_north-east");
        assert_eq!(names.log_config(3).replicas, 3);
    }
}
