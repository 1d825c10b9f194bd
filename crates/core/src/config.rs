//! Routing configuration: plans, channel policies, service-level targets and selection strategy.
//!
//! Configuration shapes *decisions* only. Everything a decision computed from it (deadlines, queue
//! order, plan step) is written into the events, so replaying the log gives the same state under
//! any configuration, and a configuration change applies to decisions made after it.

use std::sync::Arc;
use std::time::Duration;

use rustc_hash::FxHashMap;
use switchboard_calendar::BusinessCalendar;

use crate::config_error::ConfigError;
use crate::hours::{ComplaintPolicy, DueWarning, OpeningRule, OutOfHours};
use crate::ids::{ServiceId, SiteId, SkillId};
use crate::model::{Channel, Level, PerChannel, SelectionStrategy};

/// One step of a routing plan: what a contact accepts once it has waited `after` in its queue.
///
/// Steps are not cumulative: each says in full what it accepts. A plan's steps are ordered by
/// `after`; a contact is at the last step whose `after` it has waited (counted from when it joined
/// its current queue, so an escalated contact starts its new plan at step 0).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub struct PlanStep {
    /// A short name that appears in decision records, e.g. `matched`, `any_tier`.
    pub name: Arc<str>,
    /// How long the contact must have waited in its queue before this step applies.
    pub after: Duration,
    /// Only the contact's preferred agent (case owner or last agent) may take it. A contact with
    /// no preferred agent skips such steps.
    pub preferred_agent_only: bool,
    /// Required proficiency is lowered by this many levels (never below 1). The safeguarding
    /// skill is never relaxed.
    pub level_relaxation: u8,
    /// Agents from the contact's tier up to this many tiers above it may take it (0: own tier
    /// only; 4: any tier from the contact's upwards). A contact never goes to a lower tier.
    pub tiers_above: u8,
    /// Agents at other sites may take it. Never applies to face-to-face contacts, which stay at
    /// their site.
    pub any_site: bool,
    /// The contact's language requirement is dropped (an interpreter line will be used).
    pub drop_language: bool,
}

impl PlanStep {
    /// A step that accepts exactly what the contact asked for, from its own tier and the next.
    #[must_use]
    pub fn matched(name: &str, after: Duration) -> Self {
        Self {
            name: name.into(),
            after,
            preferred_agent_only: false,
            level_relaxation: 0,
            tiers_above: 1,
            any_site: false,
            drop_language: false,
        }
    }
}

/// An ordered list of steps that relax a contact's requirements as it waits.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub struct RoutingPlan {
    /// The plan's name, for decision records.
    pub name: Arc<str>,
    /// At least one step; the first has `after` zero.
    pub steps: Vec<PlanStep>,
}

impl RoutingPlan {
    /// The most steps a plan may have (plan steps are numbered with a `u8`).
    pub const STEPS_MAX: usize = 16;

    /// The plan used when none is configured for a contact's service and channel.
    ///
    /// 0 s: skills at the required level, own tier or the next, own site (when the contact names
    /// one). 30 s: any higher tier. 60 s: proficiency relaxed by one level, any site.
    /// 120 s: proficiency relaxed by two levels and the language requirement dropped.
    #[must_use]
    pub fn default_plan() -> Self {
        Self {
            name: "default".into(),
            steps: vec![
                PlanStep::matched("matched", Duration::ZERO),
                PlanStep {
                    tiers_above: 4,
                    ..PlanStep::matched("any_higher_tier", Duration::from_secs(30))
                },
                PlanStep {
                    tiers_above: 4,
                    level_relaxation: 1,
                    any_site: true,
                    ..PlanStep::matched("relaxed_proficiency", Duration::from_secs(60))
                },
                PlanStep {
                    tiers_above: 4,
                    level_relaxation: 2,
                    any_site: true,
                    drop_language: true,
                    ..PlanStep::matched("language_dropped", Duration::from_secs(120))
                },
            ],
        }
    }

    /// Checks the plan's shape: at least one step, the first at zero, `after` never decreasing.
    ///
    /// # Errors
    /// The first problem found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let plan = || self.name.to_string();
        let Some(first) = self.steps.first() else {
            return Err(ConfigError::PlanWithoutSteps { plan: plan() });
        };
        if self.steps.len() > Self::STEPS_MAX {
            return Err(ConfigError::PlanTooLong {
                plan: plan(),
                steps: self.steps.len(),
                steps_max: Self::STEPS_MAX,
            });
        }
        if !first.after.is_zero() {
            return Err(ConfigError::FirstStepDelayed {
                plan: plan(),
                step: first.name.to_string(),
            });
        }
        for pair in self.steps.windows(2) {
            if pair[1].after < pair[0].after {
                return Err(ConfigError::StepsOutOfOrder {
                    plan: plan(),
                    step: pair[1].name.to_string(),
                    above: pair[0].name.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// How a channel's contacts and offers behave.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub struct ChannelPolicy {
    /// How long an agent has to accept an offer before it expires.
    pub offer_timeout: Duration,
    /// Offers are accepted on the agent's behalf at once (e.g. emails pushed to a work list).
    pub auto_accept: bool,
    /// After-contact work once a contact of this channel is completed (zero: none).
    pub wrap_up: Duration,
    /// The capacity an agent gets on this channel when their login names no channels.
    pub default_capacity: u8,
    /// Live channels: the contact should be answered within this long of first arrival (the
    /// service-level threshold, e.g. 20 s for phone), unless a service sets its own.
    pub answer_within: Duration,
    /// Deferred channels: the due time given to a contact that arrives without one, in elapsed
    /// time from arrival (or from the opening, for a contact held out of hours).
    pub due_after: Option<Duration>,
    /// Deferred channels: the due time in working days of the business calendar instead ("reply
    /// within 2 working days": close of business on the second working day after the receipt
    /// day). Wins over `due_after` when set.
    pub due_working_days: Option<u32>,
}

/// A service level target for one service on one channel.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub struct ServiceLevelTarget {
    /// The answer threshold: a live contact answered within this long of first arrival counts as
    /// within the service level.
    pub answer_within: Duration,
    /// The share of contacts to answer within the threshold (e.g. 0.8), for reports and alerts.
    pub target: f64,
}

/// The longest `priority_step`: one hour.
pub const PRIORITY_STEP_MAX: Duration = Duration::from_secs(3600);

/// Everything that shapes routing decisions.
#[derive(Clone, Debug, PartialEq)]
pub struct RoutingConfig {
    /// The plan for contacts with no plan configured for their service and channel.
    pub default_plan: RoutingPlan,
    /// Plans by service and channel. Lookup order: (service, channel), (service, any channel),
    /// (any service, channel), then `default_plan`.
    pub plans: Vec<PlanBinding>,
    /// Per-channel behaviour.
    pub channels: PerChannel<ChannelPolicy>,
    /// Service-level targets by service and channel; a missing entry uses the channel's
    /// `answer_within` and a target of 80 %.
    pub service_levels: FxHashMap<(ServiceId, Channel), ServiceLevelTarget>,
    /// How to choose among agents who could all take a contact.
    pub strategy: SelectionStrategy,
    /// An agent who lets this many offers in a row expire goes not ready (`missed_offers`).
    pub missed_offers_limit: u8,
    /// A contact rejected by, or expired at, an agent is not offered to that agent again for this
    /// long (unless nobody else can take it by then, when the cool-down simply ends).
    pub reoffer_cooldown: Duration,
    /// Each point of priority lets a live contact go ahead of contacts that arrived up to this
    /// much earlier. This bounds overtaking: see [`crate::QueueOrder`].
    pub priority_step: Duration,
    /// Priority points added for a customer flagged as vulnerable.
    pub vulnerable_priority_boost: u8,
    /// The skill that safeguarding contacts always require, at every plan step.
    pub safeguarding_skill: SkillId,
    /// The proficiency a contact's language requires.
    pub language_min_level: Level,
    /// A deferred contact is reported at risk this long before its due time (never in the first
    /// half of the time it was given).
    pub due_warning: DueWarning,
    /// When each site's channels are open and what happens out of hours. Lookup order: (site,
    /// channel), (site, any channel), (any site, channel), (any site, any channel); a contact
    /// with no rule is always open.
    pub opening: Vec<OpeningRule>,
    /// The calendar of the working-day clocks: due times in working days, complaint clocks,
    /// extensions and warnings in working time. England and Wales council hours by default.
    pub business_calendar: Arc<BusinessCalendar>,
    /// How complaints are routed and timed.
    pub complaints: ComplaintPolicy,
}

/// A routing plan bound to a service and/or channel.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub struct PlanBinding {
    /// The service it applies to; `None` for every service.
    pub service: Option<ServiceId>,
    /// The channel it applies to; `None` for every channel.
    pub channel: Option<Channel>,
    /// The plan.
    pub plan: RoutingPlan,
}

impl ChannelPolicy {
    /// The built-in policy of a channel, used when configuration says nothing of it.
    #[must_use]
    pub const fn default_for(channel: Channel) -> Self {
        const fn secs(s: u64) -> Duration {
            Duration::from_secs(s)
        }
        match channel {
            Channel::Phone => Self {
                offer_timeout: secs(15),
                auto_accept: false,
                wrap_up: secs(30),
                default_capacity: 1,
                answer_within: secs(20),
                due_after: None,
                due_working_days: None,
            },
            Channel::FaceToFace => Self {
                offer_timeout: secs(30),
                auto_accept: false,
                wrap_up: secs(60),
                default_capacity: 1,
                answer_within: secs(15 * 60),
                due_after: None,
                due_working_days: None,
            },
            Channel::Chat => Self {
                offer_timeout: secs(30),
                auto_accept: false,
                wrap_up: Duration::ZERO,
                default_capacity: 3,
                answer_within: secs(60),
                due_after: None,
                due_working_days: None,
            },
            Channel::Email => Self {
                offer_timeout: secs(300),
                auto_accept: true,
                wrap_up: Duration::ZERO,
                default_capacity: 5,
                answer_within: secs(24 * 3600),
                due_after: Some(secs(2 * 24 * 3600)),
                due_working_days: None,
            },
            Channel::Callback => Self {
                offer_timeout: secs(30),
                auto_accept: false,
                wrap_up: secs(30),
                default_capacity: 1,
                answer_within: secs(3600),
                due_after: Some(secs(4 * 3600)),
                due_working_days: None,
            },
        }
    }
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            default_plan: RoutingPlan::default_plan(),
            plans: Vec::new(),
            channels: PerChannel(Channel::ALL.map(ChannelPolicy::default_for)),
            service_levels: FxHashMap::default(),
            strategy: SelectionStrategy::LongestIdle,
            missed_offers_limit: 2,
            reoffer_cooldown: Duration::from_secs(30),
            priority_step: Duration::from_secs(60),
            vulnerable_priority_boost: 2,
            safeguarding_skill: SkillId::from("safeguarding"),
            language_min_level: Level::COMPETENT,
            due_warning: DueWarning::Elapsed(Duration::from_secs(4 * 3600)),
            opening: Vec::new(),
            business_calendar: Arc::new(BusinessCalendar::council_default()),
            complaints: ComplaintPolicy::default(),
        }
    }
}

impl RoutingConfig {
    /// Checks every plan and policy.
    ///
    /// # Errors
    /// The first problem found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.default_plan.validate()?;
        for binding in &self.plans {
            binding.plan.validate()?;
        }
        for (channel, policy) in self.channels.iter() {
            if policy.offer_timeout.is_zero() && !policy.auto_accept {
                return Err(ConfigError::OfferTimeoutZero { channel });
            }
        }
        if self.missed_offers_limit == 0 {
            return Err(ConfigError::MissedOffersLimitZero);
        }
        for (channel, policy) in self.channels.iter() {
            if let Some(days) = policy
                .due_working_days
                .filter(|&n| n > switchboard_calendar::WORKING_DAYS_MAX)
            {
                return Err(ConfigError::DueWorkingDaysTooMany {
                    channel,
                    days,
                    days_max: switchboard_calendar::WORKING_DAYS_MAX,
                });
            }
        }
        for (channel, policy) in self.channels.iter() {
            if channel.is_live()
                && (policy.due_after.is_some() || policy.due_working_days.is_some())
            {
                return Err(ConfigError::LiveChannelDue { channel });
            }
        }
        if self.priority_step > PRIORITY_STEP_MAX {
            return Err(ConfigError::PriorityStepTooLong {
                step: self.priority_step,
                step_max: PRIORITY_STEP_MAX,
            });
        }
        for (i, binding) in self.plans.iter().enumerate() {
            if self.plans[..i]
                .iter()
                .any(|b| b.service == binding.service && b.channel == binding.channel)
            {
                return Err(ConfigError::PlanRepeated {
                    plan: binding.plan.name.to_string(),
                    service: binding.service.clone(),
                    channel: binding.channel,
                });
            }
        }
        self.validate_opening()?;
        for (name, skill) in [
            ("safeguarding_skill", &self.safeguarding_skill),
            ("complaints.skill", &self.complaints.skill),
            (
                "complaints.designated_officer_skill",
                &self.complaints.designated_officer_skill,
            ),
        ] {
            if skill.trim().is_empty() {
                return Err(ConfigError::SkillUnnamed { setting: name });
            }
        }
        let rules = &self.complaints.rules;
        for (name, days) in [
            ("acknowledge_working_days", rules.acknowledge_working_days),
            (
                "stage1_response_working_days",
                rules.stage1_response_working_days,
            ),
            (
                "stage2_response_working_days",
                rules.stage2_response_working_days,
            ),
        ] {
            if days > switchboard_calendar::WORKING_DAYS_MAX {
                return Err(ConfigError::ComplaintDaysTooMany {
                    setting: name,
                    days,
                    days_max: switchboard_calendar::WORKING_DAYS_MAX,
                });
            }
        }
        for ((service, channel), target) in &self.service_levels {
            if !(target.target > 0.0 && target.target <= 1.0) {
                return Err(ConfigError::ServiceLevelTargetOutOfRange {
                    service: service.clone(),
                    channel: *channel,
                    target: target.target,
                });
            }
        }
        Ok(())
    }

    fn validate_opening(&self) -> Result<(), ConfigError> {
        for (i, rule) in self.opening.iter().enumerate() {
            let (site, channel) = (rule.site.clone(), rule.channel);
            if rule.channel == Some(Channel::Callback)
                && rule.out_of_hours == Some(OutOfHours::Callback)
            {
                return Err(ConfigError::OpeningCallbackToCallback { site, channel });
            }
            if rule.calendar.hours().is_always_closed() {
                return Err(ConfigError::OpeningNeverOpen {
                    site,
                    channel,
                    calendar: rule.calendar_name.to_string(),
                });
            }
            if self.opening[..i]
                .iter()
                .any(|r| r.site == rule.site && r.channel == rule.channel)
            {
                return Err(ConfigError::OpeningRepeated { site, channel });
            }
        }
        Ok(())
    }

    /// The opening rule for a contact at `site` (if it names one) on `channel`, if any.
    #[must_use]
    pub fn opening_for(&self, site: Option<&SiteId>, channel: Channel) -> Option<&OpeningRule> {
        let find = |want_site: Option<&SiteId>, want_channel: Option<Channel>| {
            self.opening
                .iter()
                .find(|r| r.site.as_ref() == want_site && r.channel == want_channel)
        };
        site.and_then(|s| find(Some(s), Some(channel)).or_else(|| find(Some(s), None)))
            .or_else(|| find(None, Some(channel)))
            .or_else(|| find(None, None))
    }

    /// The service-level threshold for a live contact of `service` on `channel`.
    #[must_use]
    pub fn answer_within(&self, service: &ServiceId, channel: Channel) -> Duration {
        self.service_levels
            .get(&(service.clone(), channel))
            .map_or(self.channels.get(channel).answer_within, |t| {
                t.answer_within
            })
    }

    /// The plan for a contact of `service` on `channel`.
    #[must_use]
    pub fn plan_for(&self, service: &ServiceId, channel: Channel) -> &RoutingPlan {
        let exact =
            |b: &&PlanBinding| b.service.as_ref() == Some(service) && b.channel == Some(channel);
        let by_service =
            |b: &&PlanBinding| b.service.as_ref() == Some(service) && b.channel.is_none();
        let by_channel = |b: &&PlanBinding| b.service.is_none() && b.channel == Some(channel);
        self.plans
            .iter()
            .find(exact)
            .or_else(|| self.plans.iter().find(by_service))
            .or_else(|| self.plans.iter().find(by_channel))
            .map_or(&self.default_plan, |b| &b.plan)
    }
}
