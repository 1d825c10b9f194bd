//! Switchboard's planning and simulation tools.
//!
//! Today this crate holds the [`staffing`] maths a contact-centre manager uses to size a queue
//! from its forecast volumes: Erlang B, Erlang C, Erlang A, the fewest agents meeting a
//! service-level target, a staffing table and shrinkage. It will later also hold a
//! discrete-event simulator that drives the routing core.
//!
//! **Architecture Invariant:** the staffing maths is pure: no I/O, no clock, no randomness, and
//! no dependency on `switchboard-core`.

pub mod staffing;
