//! The core's test harness: the shared test centre and command builders of
//! `switchboard-testkit` (a real [`Router`](switchboard_core::Router), named agents and
//! contacts, a test clock in seconds, every step checked against the state's invariants), and a
//! random workload with a reference model (`workload`).

pub(crate) mod workload;

pub(crate) use switchboard_testkit::{Centre, login, needs};
