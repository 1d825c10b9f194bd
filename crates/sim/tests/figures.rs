//! The figures fold (issue 20), told as council mornings through the real routing core: which
//! interval a contact counts in, how the service level treats abandons and contacts still
//! waiting at the end, short abandons, agents staffed and each queue's share of them, time
//! per not-ready reason, and the complaint timescale table.

use std::collections::BTreeMap;
use std::time::Duration;

use switchboard_core::{
    AgentId, AgentLogin, Channel, Command, ComplaintStage, Event, EventKind, Level, NewContact,
    OfferId, Outcome, Router, RoutingConfig, Tier, Timestamp,
};
use switchboard_sim::figures::{Collector, Intervals, Measured, QueueFigures};

/// Monday 23 November 2026, midnight UTC (GMT: the local day too).
const DAY_MS: u64 = 1_795_392_000_000;

/// `09:05` or `09:05:10` on the day.
fn at(time: &str) -> Timestamp {
    let parts: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().expect("a number"))
        .collect();
    let secs = parts[0] * 3600 + parts[1] * 60 + parts.get(2).copied().unwrap_or(0);
    Timestamp::from_millis(DAY_MS + secs * 1000)
}

/// The real core and the fold, fed every event as it is decided.
struct Centre {
    router: Router,
    collector: Collector,
    /// The offer open for each agent, from the events.
    offers: BTreeMap<AgentId, OfferId>,
}

impl Centre {
    fn new(from: &str, to: &str, step_minutes: u64) -> Self {
        let intervals =
            Intervals::uniform(at(from), at(to), Duration::from_secs(step_minutes * 60));
        let measure_from = intervals.start();
        let config = RoutingConfig::default();
        let mut collector = Collector::new(intervals, measure_from);
        collector.set_service_level_targets(&config);
        Self {
            router: Router::new(config).expect("the default configuration is valid"),
            collector,
            offers: BTreeMap::new(),
        }
    }

    /// Lets time pass to `time`, then runs `command` then (it must be accepted).
    fn then(&mut self, time: &str, command: Command) -> &mut Self {
        let now = at(time);
        self.router.handle_timeout(now);
        self.take_events();
        if let Err(rejection) = self.router.handle_command(command, now) {
            panic!("at {time}: refused: {rejection:?}");
        }
        self.take_events();
        self
    }

    fn take_events(&mut self) {
        let events: Vec<Event> = self.router.drain_events().collect();
        for event in &events {
            match &event.kind {
                EventKind::OfferMade(offer) => {
                    self.offers.insert(offer.agent.clone(), offer.offer);
                }
                EventKind::OfferAccepted { agent, .. }
                | EventKind::OfferExpired { agent, .. }
                | EventKind::OfferRevoked { agent, .. }
                | EventKind::OfferRejected { agent, .. } => {
                    self.offers.remove(agent);
                }
                _ => {}
            }
            self.collector.observe(event);
        }
    }

    fn login(&mut self, time: &str, agent: &str, skills: &[&str]) -> &mut Self {
        let login = AgentLogin {
            agent: agent.into(),
            name: agent.into(),
            tier: Tier::FIRST,
            site: "contact_centre".into(),
            skills: skills.iter().map(|s| ((*s).into(), Level::MIN)).collect(),
            channels: None,
        };
        self.then(time, Command::LoginAgent(Box::new(login)));
        self.then(
            time,
            Command::MakeReady {
                agent: agent.into(),
            },
        )
    }

    fn arrive(&mut self, time: &str, contact: NewContact) -> &mut Self {
        self.then(time, Command::CreateContact(Box::new(contact)))
    }

    fn call(&mut self, time: &str, id: &str, service: &str) -> &mut Self {
        self.arrive(time, NewContact::routine(id, Channel::Phone, service))
    }

    /// The agent accepts the offer they hold now.
    fn accept(&mut self, time: &str, agent: &str) -> &mut Self {
        self.router.handle_timeout(at(time));
        self.take_events();
        let offer = *self
            .offers
            .get(&AgentId::from(agent))
            .unwrap_or_else(|| panic!("at {time}: {agent} holds no offer"));
        self.then(
            time,
            Command::AcceptOffer {
                agent: agent.into(),
                offer,
            },
        )
    }

    fn complete(&mut self, time: &str, agent: &str, contact: &str) -> &mut Self {
        let complete = Command::CompleteContact {
            agent: agent.into(),
            contact: contact.into(),
            outcome: Outcome::Resolved,
        };
        self.then(time, complete)
    }

    fn finish(mut self) -> Measured {
        let end = self.collector.end();
        self.router
            .handle_timeout(end.saturating_sub(Duration::from_millis(1)));
        self.take_events();
        self.collector.finish()
    }
}

fn queue<'a>(figures: &'a [QueueFigures], service: &str) -> &'a QueueFigures {
    figures
        .iter()
        .find(|q| q.service.as_deref() == Some(service))
        .unwrap_or_else(|| panic!("no {service} in {figures:?}"))
}

#[test]
fn contacts_count_where_they_arrived_and_the_service_level_waits_for_their_outcome() {
    let mut centre = Centre::new("09:00", "09:30", 10);
    centre
        .login("08:55", "ann", &["council_tax"])
        .call("09:05", "c1", "council_tax")
        .accept("09:05:10", "ann")
        .call("09:08", "c2", "council_tax")
        .then(
            "09:08:03",
            Command::AbandonContact {
                contact: "c2".into(),
            },
        )
        .call("09:09", "c3", "council_tax")
        .complete("09:12", "ann", "c1");
    // Ann wraps up for 30 s, then takes the caller waiting since 09:09, long past 20 s; that
    // call counts in 09:00-09:10, where it arrived.
    centre
        .accept("09:12:35", "ann")
        .call("09:25", "c4", "council_tax")
        .call("09:29:55", "c5", "council_tax");
    let measured = centre.finish();
    let first = &measured.intervals[0].queues[0];
    assert_eq!((first.offered, first.answered, first.abandoned), (3, 2, 1));
    assert_eq!(first.short_abandoned, 1, "c2 left after 3 s");
    assert_eq!(first.answered_within_service_level, 1, "c1 only");
    assert!((first.service_level - 1.0 / 3.0).abs() < 1e-9, "{first:?}");
    assert_eq!(
        first.longest_wait_seconds, 215.0,
        "c3, from 09:09 to 09:12:35: {first:?}"
    );
    assert_eq!(measured.intervals[1].queues[0].offered, 0);
    // At the end c4 has waited 5 minutes (past its 20 s: it counts against the service level)
    // and c5 5 seconds (not yet failed: it does not count).
    let last = &measured.intervals[2].queues[0];
    assert_eq!(
        (last.offered, last.open_at_end, last.waiting_past_threshold),
        (2, 2, 1)
    );
    assert_eq!(last.service_level_counted(), 1);
    assert_eq!(last.service_level, 0.0);
    let period = &measured.figures.queues[0];
    assert_eq!(period.offered, 5);
    assert!((period.service_level - 0.25).abs() < 1e-9, "{period:?}");
    // The intervals add up to the period.
    let offered: u64 = measured.intervals.iter().map(|i| i.queues[0].offered).sum();
    assert_eq!(offered, period.offered);
    assert_eq!(measured.samples.last().map(|s| s.waiting), Some(2));
}

#[test]
fn agents_staffed_count_everyone_who_could_take_a_queue_and_shares_count_each_agent_once() {
    let mut centre = Centre::new("09:00", "10:00", 60);
    centre
        .login("08:50", "ann", &["council_tax"])
        .login("08:50", "bob", &["benefits", "council_tax"])
        .call("09:10", "c1", "council_tax");
    let taker = centre.offers.keys().next().expect("offered").to_string();
    centre
        .accept("09:10:05", &taker)
        .complete("09:15", &taker, "c1")
        .call("09:20", "c2", "benefits")
        .accept("09:20:05", "bob")
        .complete("09:25", "bob", "c2")
        .then(
            "09:30",
            Command::MakeNotReady {
                agent: "ann".into(),
                reason: "break".into(),
            },
        )
        .then(
            "09:45",
            Command::MakeReady {
                agent: "ann".into(),
            },
        );
    let measured = centre.finish();
    let queues = &measured.intervals[0].queues;
    let (benefits, council_tax) = (queue(queues, "benefits"), queue(queues, "council_tax"));
    assert!(
        (benefits.agents_staffed - 1.0).abs() < 1e-6,
        "only Bob: {benefits:?}"
    );
    assert!(
        (council_tax.agents_staffed - 1.75).abs() < 1e-6,
        "Ann on a break for 15 min: {council_tax:?}"
    );
    let shares = benefits.agents_share + council_tax.agents_share;
    assert!((shares - 1.75).abs() < 1e-6, "each agent once: {shares}");
    assert!(council_tax.agents_share > 0.75 && benefits.agents_share < 1.0);
    assert_eq!(measured.pools, [vec![0, 1]], "Bob joins the two queues");
    let ann = measured
        .agents
        .iter()
        .find(|a| a.agent == "ann")
        .expect("Ann");
    assert!(
        (ann.logged_in_hours - 1.0).abs() < 1e-6,
        "counted from 09:00: {ann:?}"
    );
    assert!((ann.staffed_hours - 0.75).abs() < 1e-6, "{ann:?}");
    let breaks: Vec<(&str, f64)> = ann
        .not_ready
        .iter()
        .map(|r| (r.reason.as_str(), r.hours))
        .collect();
    assert_eq!(breaks, [("break", 0.25)]);
    let bob = measured
        .agents
        .iter()
        .find(|a| a.agent == "bob")
        .expect("Bob");
    assert!(bob.handlings >= 1 && bob.aht_seconds > 290.0, "{bob:?}");
}

#[test]
fn the_complaint_table_counts_each_stage_as_it_happens() {
    let mut centre = Centre::new("00:00", "24:00", 60);
    let complaint = |id: &str| {
        let mut email = NewContact::routine(id, Channel::Email, "council_tax");
        email.complaint_stage = Some(ComplaintStage::Stage1);
        email
    };
    let move_on =
        |id: &str, to: ComplaintStage, due_at: Option<Timestamp>| Command::ChangeComplaintStage {
            contact: id.into(),
            agent: None,
            to,
            reason: "the customer asked".into(),
            received_at: None,
            due_at,
        };
    centre
        .login("09:00", "cara", &["council_tax", "customer_relations"])
        // Email is accepted for the agent as it is offered.
        .arrive("09:00", complaint("k1"))
        .then(
            "09:01",
            Command::MakeNotReady {
                agent: "cara".into(),
                reason: "casework".into(),
            },
        )
        .arrive("09:02", complaint("k2"))
        .arrive("09:03", complaint("k3"))
        .complete("09:30", "cara", "k1")
        .then("10:00", move_on("k2", ComplaintStage::Stage2, None))
        .then(
            "10:05",
            Command::ExtendDueTime {
                contact: "k2".into(),
                agent: None,
                working_days: 5,
                reason: "we are waiting for the housing team".into(),
            },
        )
        .then(
            "10:10",
            move_on("k3", ComplaintStage::Ombudsman, Some(at("23:00"))),
        );
    let measured = centre.finish();
    let table: Vec<(&str, [u64; 7])> = measured
        .complaints
        .iter()
        .map(|c| {
            let row = [
                c.opened,
                c.closed,
                c.closed_within_timescale,
                c.extended,
                c.escalated_to_stage_2,
                c.referred_to_ombudsman,
                c.open_at_end,
            ];
            (c.stage.as_str(), row)
        })
        .collect();
    assert_eq!(
        table,
        [
            ("stage_1", [3, 1, 1, 0, 1, 1, 0]),
            ("stage_2", [1, 0, 0, 1, 0, 0, 1]),
            ("ombudsman", [1, 0, 0, 0, 0, 0, 1]),
        ]
    );
}

#[test]
fn events_before_the_window_set_the_scene_and_those_after_it_are_left_out() {
    let mut centre = Centre::new("09:00", "09:30", 30);
    centre
        .login("08:00", "ann", &["council_tax"])
        .call("08:59", "early", "council_tax")
        .accept("08:59:05", "ann")
        .complete("09:10", "ann", "early");
    let measured = centre.finish();
    let q = &measured.figures.queues[0];
    assert_eq!(q.offered, 0, "arrived before the window");
    assert_eq!(q.handlings, 0, "the handling began before the window");
    let ann = &measured.agents[0];
    assert!((ann.logged_in_hours - 0.5).abs() < 1e-6, "{ann:?}");
    assert!(
        ann.busy_hours > 0.15,
        "busy from 09:00 with the early caller: {ann:?}"
    );
}
