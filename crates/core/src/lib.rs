//! The deterministic, sans-IO routing core of Switchboard.
//!
//! The core decides where every contact goes. It does no I/O, reads no clock, spawns nothing and
//! uses no randomness: time arrives as an argument and the core reports its next deadline, so the
//! same commands at the same instants always give the same events.
//!
//! - [`Router`] is the driver's handle: [`Router::handle_command`] and
//!   [`Router::handle_timeout`] decide, [`Router::poll_event`] yields the resulting events in
//!   order, and [`Router::poll_timeout`] says when to call back.
//! - [`State`] is a fold over [`Event`]s; [`State::apply`] cannot fail, and replaying the log
//!   rebuilds the state exactly.
//! - [`RoutingConfig`] shapes decisions (plans, channel policies, service levels, opening hours,
//!   working-day clocks and complaint rules; see [`hours`]); what a decision
//!   computed from it travels in the event, so replay needs no configuration.
//!
//! The order of calls for a driver: for each command, `handle_command(command, now)` then drain
//! `poll_event` (append those events to the log; reply once they are durable); whenever
//! `poll_timeout()` is at or before the current time, `handle_timeout(now)` and drain again.

pub mod command;
pub mod config;
pub mod config_error;
pub mod event;
pub mod hours;
pub mod ids;
pub mod index;
pub mod model;
pub mod reach;
pub mod rejection;
pub mod router;
mod routing;
pub mod state;
pub mod time;

pub use command::{AgentLogin, Command, NewContact};
pub use config::{
    ChannelPolicy, PlanBinding, PlanStep, RoutingConfig, RoutingPlan, ServiceLevelTarget,
};
pub use config_error::ConfigError;
pub use event::{
    ComplaintStageChanged, ContactUnservable, Decision, DueTimeExtended, ErasureReason, Event,
    EventKind, PersonalDataErasure, Placement, QueueOrder, RevokeReason, Rule, Shortfall,
};
pub use hours::{ComplaintPolicy, DueWarning, OpeningRule, OutOfHours};
pub use ids::{AgentId, ContactId, CustomerId, OfferId, ServiceId, SiteId, SkillId};
pub use model::{
    Channel, ComplaintStage, Level, Outcome, PerChannel, Presence, Priority, SelectionStrategy,
    SkillRequirement, Tier,
};
pub use rejection::{Rejection, RejectionCode};
pub use router::{LIVE_EARLIER_ARRIVAL_MAX, Router};
pub use state::{BrokenInvariant, NAMES_MAX, State};
pub use time::Timestamp;
