//! Switchboard's planning and simulation tools.
//!
//! - [`staffing`]: the maths a contact-centre manager uses to size a queue from its forecast
//!   volumes: Erlang B, Erlang C, Erlang A, the fewest agents meeting a service-level target, a
//!   staffing table and shrinkage.
//! - [`simulate`]: a discrete-event simulator in virtual time that drives the **real** routing
//!   core ([`switchboard_core::Router`]) through a day (or a month) described by a
//!   [`Scenario`], with seeded randomness, and measures it ([`Figures`]).
//! - [`figures`]: the one fold of events into a manager's figures, per queue and interval, per
//!   agent and per complaint stage, used by the simulator, what-if replay and the report of a
//!   recorded log alike.
//! - [`whatif`]: re-runs the contacts of a recorded event log under another routing
//!   configuration.
//! - [`report`]: self-contained HTML pages: a simulated run with charts over the day, and the
//!   management report of a recorded log.
//! - [`shortfall`]: staffing from measured figures: the Erlang requirement per queue and
//!   interval beside the agents actually staffed.
//!
//! **Architecture Invariant:** the staffing maths is pure: no I/O, no clock, no randomness, and
//! no dependency on `switchboard-core`.
//!
//! **Architecture Invariant:** the simulator holds no copy of the routing logic: every routing
//! decision is the core's. It does no I/O and reads no clock; its randomness comes from the seed
//! it is given. Events leave through an [`Observer`], which may write them to a real log.

mod error;
pub mod figures;
pub mod report;
pub mod scenario;
pub mod shortfall;
mod simulator;
pub mod staffing;
pub mod whatif;

pub use error::SimError;
pub use figures::{
    AgentFigures, Collector, ComplaintFigures, Figures, IntervalFigures, Intervals, Measured,
    QueueFigures, Sample,
};
pub use scenario::{Distribution, Scenario, single_queue_routing};
pub use simulator::{NoObserver, Observer, SimulationRun, simulate};
