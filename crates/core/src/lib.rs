//! The deterministic, sans-IO routing core of Switchboard.
