//! Why a [`crate::RoutingConfig`] is refused: one variant per rule, carrying the names and
//! values at fault, each printing the sentence an operator reads.
//!
//! `Display` and `std::error::Error` are written by hand: the core depends on no error crate
//! (see ARCHITECTURE.md), and no variant has a source.

use std::fmt;
use std::time::Duration;

use crate::ids::{ServiceId, SiteId};
use crate::model::Channel;

/// The first problem [`crate::RoutingConfig::validate`] finds.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A routing plan has no steps.
    PlanWithoutSteps {
        /// The plan's name.
        plan: String,
    },
    /// A routing plan has more steps than [`crate::RoutingPlan::STEPS_MAX`].
    PlanTooLong {
        /// The plan's name.
        plan: String,
        /// How many steps it has.
        steps: usize,
        /// How many are allowed.
        steps_max: usize,
    },
    /// A plan's first step does not apply at once (its `after` is not zero).
    FirstStepDelayed {
        /// The plan's name.
        plan: String,
        /// The first step's name.
        step: String,
    },
    /// A plan's step applies before the step above it (`after` decreases).
    StepsOutOfOrder {
        /// The plan's name.
        plan: String,
        /// The step that applies too early.
        step: String,
        /// The step above it.
        above: String,
    },
    /// A channel's offers never time out and are not auto-accepted.
    OfferTimeoutZero {
        /// The channel.
        channel: Channel,
    },
    /// `missed_offers_limit` is zero.
    MissedOffersLimitZero,
    /// A channel's `due_working_days` is beyond the calendar's reach.
    DueWorkingDaysTooMany {
        /// The channel.
        channel: Channel,
        /// The days configured.
        days: u32,
        /// The most allowed ([`switchboard_calendar::WORKING_DAYS_MAX`]).
        days_max: u32,
    },
    /// A live channel (phone, chat, face to face) has a due time.
    LiveChannelDue {
        /// The channel.
        channel: Channel,
    },
    /// `priority_step` is longer than [`crate::config::PRIORITY_STEP_MAX`].
    PriorityStepTooLong {
        /// The step configured.
        step: Duration,
        /// The longest allowed.
        step_max: Duration,
    },
    /// Two routing plans are bound to the same service and channel.
    PlanRepeated {
        /// The second plan's name.
        plan: String,
        /// The service bound (`None`: any).
        service: Option<ServiceId>,
        /// The channel bound (`None`: any).
        channel: Option<Channel>,
    },
    /// An opening rule for callbacks turns out-of-hours callbacks into callbacks.
    OpeningCallbackToCallback {
        /// The rule's site (`None`: any).
        site: Option<SiteId>,
        /// The rule's channel (`None`: any).
        channel: Option<Channel>,
    },
    /// An opening rule's calendar is never open.
    OpeningNeverOpen {
        /// The rule's site (`None`: any).
        site: Option<SiteId>,
        /// The rule's channel (`None`: any).
        channel: Option<Channel>,
        /// The calendar's name.
        calendar: String,
    },
    /// Two opening rules are for the same site and channel.
    OpeningRepeated {
        /// The rule's site (`None`: any).
        site: Option<SiteId>,
        /// The rule's channel (`None`: any).
        channel: Option<Channel>,
    },
    /// A skill setting is empty.
    SkillUnnamed {
        /// The setting (`safeguarding_skill`, `complaints.skill`, ...).
        setting: &'static str,
    },
    /// A complaint stage's working days are beyond the calendar's reach.
    ComplaintDaysTooMany {
        /// The setting, below `complaints.` (`acknowledge_working_days`, ...).
        setting: &'static str,
        /// The days configured.
        days: u32,
        /// The most allowed ([`switchboard_calendar::WORKING_DAYS_MAX`]).
        days_max: u32,
    },
    /// A service level target is not in (0, 1].
    ServiceLevelTargetOutOfRange {
        /// The service.
        service: ServiceId,
        /// The channel.
        channel: Channel,
        /// The target configured.
        target: f64,
    },
}

/// The place of an opening rule, as its errors name it.
struct OpeningPlace<'a>(&'a Option<SiteId>, &'a Option<Channel>);

impl fmt::Display for OpeningPlace<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "opening rule for site {} and channel {}",
            self.0.as_deref().unwrap_or("*"),
            self.1.map_or("*", Channel::as_str)
        )
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PlanWithoutSteps { plan } => write!(f, "routing plan `{plan}` has no steps"),
            Self::PlanTooLong {
                plan,
                steps,
                steps_max,
            } => write!(
                f,
                "routing plan `{plan}` has {steps} steps; at most {steps_max} are allowed"
            ),
            Self::FirstStepDelayed { plan, step } => write!(
                f,
                "routing plan `{plan}`: the first step `{step}` must apply at once (after = 0)"
            ),
            Self::StepsOutOfOrder { plan, step, above } => write!(
                f,
                "routing plan `{plan}`: step `{step}` applies before the step `{above}` above it"
            ),
            Self::OfferTimeoutZero { channel } => write!(
                f,
                "channel {channel}: offer_timeout must be more than zero unless offers are auto-accepted"
            ),
            Self::MissedOffersLimitZero => f.write_str("missed_offers_limit must be at least 1"),
            Self::DueWorkingDaysTooMany {
                channel, days_max, ..
            } => write!(
                f,
                "channel {channel}: due_working_days must be at most {days_max}"
            ),
            Self::LiveChannelDue { channel } => write!(
                f,
                "channel {channel}: a live channel has no due time (due_after, \
                 due_working_days); its clock is the service level's answer_within"
            ),
            Self::PriorityStepTooLong { step, step_max } => write!(
                f,
                "priority_step is {} s; at most {} s (priorities 0–9 times the step bound how \
                 long a routine contact can be overtaken)",
                step.as_secs(),
                step_max.as_secs()
            ),
            Self::PlanRepeated {
                plan,
                service,
                channel,
            } => write!(
                f,
                "routing plan `{plan}` is the second for service {} and channel {}; one plan each",
                service.as_ref().map_or("*", |s| s.as_str()),
                channel.map_or("*", Channel::as_str)
            ),
            Self::OpeningCallbackToCallback { site, channel } => write!(
                f,
                "{}: a callback request cannot be turned into a callback; use `hold` or `refuse`",
                OpeningPlace(site, channel)
            ),
            Self::OpeningNeverOpen {
                site,
                channel,
                calendar,
            } => write!(
                f,
                "{}: calendar `{calendar}` is never open",
                OpeningPlace(site, channel)
            ),
            Self::OpeningRepeated { site, channel } => {
                write!(f, "{} is given twice", OpeningPlace(site, channel))
            }
            Self::SkillUnnamed { setting } => write!(f, "{setting} must name a skill"),
            Self::ComplaintDaysTooMany {
                setting,
                days,
                days_max,
            } => write!(f, "complaints.{setting} is {days}; at most {days_max}"),
            Self::ServiceLevelTargetOutOfRange {
                service,
                channel,
                target,
            } => write!(
                f,
                "service level for {service} on {channel}: target must be in (0, 1], got {target}"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PRIORITY_STEP_MAX, PlanStep, RoutingConfig, ServiceLevelTarget};
    use crate::router::Router;

    /// The default configuration changed by `change`, validated: its error and sentence.
    fn refused(change: impl FnOnce(&mut RoutingConfig)) -> (ConfigError, String) {
        let mut config = RoutingConfig::default();
        change(&mut config);
        let error = config.validate().expect_err("the change is refused");
        let sentence = error.to_string();
        (error, sentence)
    }

    #[test]
    fn plan_rules_name_the_plan_and_step() {
        let (error, sentence) = refused(|c| c.default_plan.steps.clear());
        assert_eq!(
            error,
            ConfigError::PlanWithoutSteps {
                plan: "default".to_owned()
            }
        );
        assert_eq!(sentence, "routing plan `default` has no steps");

        let (error, sentence) = refused(|c| {
            c.default_plan.steps[0] = PlanStep::matched("late", Duration::from_secs(5));
        });
        assert_eq!(
            error,
            ConfigError::FirstStepDelayed {
                plan: "default".to_owned(),
                step: "late".to_owned()
            }
        );
        assert_eq!(
            sentence,
            "routing plan `default`: the first step `late` must apply at once (after = 0)"
        );

        let (error, sentence) = refused(|c| {
            c.default_plan.steps[2].after = Duration::from_secs(1);
        });
        assert_eq!(
            error,
            ConfigError::StepsOutOfOrder {
                plan: "default".to_owned(),
                step: "relaxed_proficiency".to_owned(),
                above: "any_higher_tier".to_owned()
            }
        );
        assert_eq!(
            sentence,
            "routing plan `default`: step `relaxed_proficiency` applies before the step \
             `any_higher_tier` above it"
        );
    }

    #[test]
    fn policy_rules_carry_the_values_at_fault() {
        let (error, sentence) = refused(|c| c.missed_offers_limit = 0);
        assert_eq!(error, ConfigError::MissedOffersLimitZero);
        assert_eq!(sentence, "missed_offers_limit must be at least 1");

        let (error, sentence) = refused(|c| c.priority_step = Duration::from_secs(7200));
        assert_eq!(
            error,
            ConfigError::PriorityStepTooLong {
                step: Duration::from_secs(7200),
                step_max: PRIORITY_STEP_MAX
            }
        );
        assert!(
            sentence.starts_with("priority_step is 7200 s; at most 3600 s ("),
            "{sentence}"
        );

        let (error, sentence) = refused(|c| {
            let mut phone = c.channels.get(Channel::Phone);
            phone.due_after = Some(Duration::from_secs(60));
            c.channels.set(Channel::Phone, phone);
        });
        assert_eq!(
            error,
            ConfigError::LiveChannelDue {
                channel: Channel::Phone
            }
        );
        assert!(
            sentence.starts_with("channel phone: a live channel has no due time"),
            "{sentence}"
        );

        let (error, sentence) = refused(|c| c.safeguarding_skill = " ".into());
        assert_eq!(
            error,
            ConfigError::SkillUnnamed {
                setting: "safeguarding_skill"
            }
        );
        assert_eq!(sentence, "safeguarding_skill must name a skill");

        let (error, sentence) = refused(|c| {
            c.service_levels.insert(
                ("bins".into(), Channel::Chat),
                ServiceLevelTarget {
                    answer_within: Duration::from_secs(60),
                    target: 1.5,
                },
            );
        });
        assert_eq!(
            error,
            ConfigError::ServiceLevelTargetOutOfRange {
                service: "bins".into(),
                channel: Channel::Chat,
                target: 1.5
            }
        );
        assert_eq!(
            sentence,
            "service level for bins on chat: target must be in (0, 1], got 1.5"
        );
    }

    #[test]
    fn the_router_refuses_with_the_same_error_and_keeps_its_config() {
        let bad = RoutingConfig {
            missed_offers_limit: 0,
            ..RoutingConfig::default()
        };
        assert_eq!(
            Router::new(bad.clone()).err(),
            Some(ConfigError::MissedOffersLimitZero)
        );
        let mut router = Router::new(RoutingConfig::default()).expect("the default is valid");
        assert_eq!(
            router.set_config(bad),
            Err(ConfigError::MissedOffersLimitZero)
        );
        assert_eq!(
            router.config().missed_offers_limit,
            RoutingConfig::default().missed_offers_limit
        );
        let error: &dyn std::error::Error = &ConfigError::MissedOffersLimitZero;
        assert!(error.source().is_none(), "the sentence says it all");
    }
}
