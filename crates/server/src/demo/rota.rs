//! The demo's rota: who works at which desk, where, with which skills, and so what the demo's
//! traffic may ask for.
//!
//! The traffic draws only arrivals that some desk on the rota can take ([`Rota::arrivals`]), and
//! a desktop escalates only a contact that some more senior desk can take ([`Rota::can_serve`]),
//! so nothing the demo creates waits for ever. One-stop-shop advisors are generalists (every
//! service, safeguarding-trained), as a council's face-to-face staff usually are; the telephone
//! centre's staff are multi-skilled at random, each with one service of their own.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

/// The council's service areas in the demo.
pub(crate) const SERVICES: [&str; 5] = [
    "council_tax",
    "benefits",
    "environmental_services",
    "housing",
    "parking",
];

/// The one-stop shops (walk-ins are served only by staff at the site the customer is in).
pub(crate) const SITES: [&str; 3] = ["town_hall", "riverside", "market_square"];

/// Where the telephone, chat, email and callback staff sit.
const CONTACT_CENTRE: &str = "contact_centre";

/// The community language some contacts ask for (dropped after 120 s by the default plan).
const LANGUAGE: &str = "polish";

/// The skill a safeguarding concern needs at every plan step.
const SAFEGUARDING: &str = "safeguarding";

/// The most desks a demo may have.
pub(crate) const DESKS_MAX: u32 = 500;

/// The channels and their share of arrivals, like a council's day.
const CHANNEL_SHARES: [(&str, f64); 5] = [
    ("phone", 0.55),
    ("chat", 0.15),
    ("email", 0.15),
    ("face_to_face", 0.10),
    ("callback", 0.05),
];

/// One simulated agent's desk: who logs in there, and with what.
#[derive(Clone, Debug)]
pub(crate) struct Desk {
    /// The agent id, `agent00`, `agent01`, ...
    pub(crate) id: String,
    /// The desk's number, for the desktop's own seeded randomness.
    pub(crate) number: u32,
    /// Escalation tier, 1 to 4.
    pub(crate) tier: u8,
    /// A one-stop shop, or the contact centre.
    pub(crate) site: &'static str,
    /// Skills with proficiency levels.
    pub(crate) skills: Vec<(&'static str, u8)>,
    /// Channels with how many contacts of each the agent holds at once.
    pub(crate) channels: Vec<(&'static str, u8)>,
}

impl Desk {
    /// The skills as the desktop page's form writes them: `council_tax 4, benefits 2`.
    pub(crate) fn skills_text(&self) -> String {
        self.skills
            .iter()
            .map(|(skill, level)| format!("{skill} {level}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The body of the desk's `login` command.
    pub(crate) fn login_body(&self) -> Value {
        let skills: serde_json::Map<String, Value> = self
            .skills
            .iter()
            .map(|&(skill, level)| (skill.to_owned(), json!(level)))
            .collect();
        let channels: serde_json::Map<String, Value> = self
            .channels
            .iter()
            .map(|&(channel, n)| (channel.to_owned(), json!(n)))
            .collect();
        json!({
            "name": format!("Agent {}", self.number),
            "tier": self.tier,
            "site": self.site,
            "skills": skills,
            "channels": channels,
        })
    }

    /// Whether the agent at this desk is eligible for `need` at some step of the default plan:
    /// the channel, the site for a walk-in, the service's skill, safeguarding when flagged, and
    /// a tier at or above the contact's. (Proficiency is asked at level 1, and the language
    /// requirement is dropped at the last step, so neither can keep a contact from this desk.)
    fn can_take(&self, need: &Need<'_>) -> bool {
        let has = |skill: &str| self.skills.iter().any(|&(s, _)| s == skill);
        self.channels
            .iter()
            .any(|&(c, n)| c == need.channel && n > 0)
            && (need.channel != "face_to_face" || need.site == Some(self.site))
            && has(need.service)
            && (!need.safeguarding || has(SAFEGUARDING))
            && self.tier >= need.tier
    }
}

/// What a contact needs of an agent, as far as the rota decides it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Need<'a> {
    /// Its channel.
    pub(crate) channel: &'a str,
    /// Its service.
    pub(crate) service: &'a str,
    /// The site a walk-in is at.
    pub(crate) site: Option<&'a str>,
    /// A safeguarding concern.
    pub(crate) safeguarding: bool,
    /// The lowest tier that may take it.
    pub(crate) tier: u8,
}

/// One kind of arrival the traffic may draw, with its share of the traffic.
#[derive(Clone, Debug)]
pub(crate) struct Arrival {
    /// Its channel.
    pub(crate) channel: &'static str,
    /// Its service.
    pub(crate) service: &'static str,
    /// The one-stop shop of a walk-in.
    pub(crate) site: Option<&'static str>,
    /// Whether a safeguarding concern can be raised on it (some desk that takes it is trained).
    pub(crate) safeguarding_possible: bool,
    /// Its weight among the arrivals the rota can serve (not normalised).
    pub(crate) weight: f64,
}

impl Arrival {
    /// The body of the `contact.create` command for this arrival.
    pub(crate) fn body(
        &self,
        contact_id: &str,
        customer: u32,
        language: bool,
        vulnerable: bool,
        safeguarding: bool,
    ) -> Value {
        let mut body = json!({
            "contact_id": contact_id,
            "channel": self.channel,
            "service": self.service,
            "customer_id": format!("cust-{customer}"),
        });
        if let Some(site) = self.site {
            body["site"] = json!(site);
        }
        if language {
            body["language"] = json!(LANGUAGE);
        }
        if vulnerable {
            body["vulnerable"] = json!(true);
        }
        if safeguarding && self.safeguarding_possible {
            body["safeguarding"] = json!(true);
        }
        body
    }
}

/// The desks of a demo run.
#[derive(Clone, Debug)]
pub(crate) struct Rota {
    /// The desks, `agent00` first.
    desks: Vec<Desk>,
}

impl Rota {
    /// `agents` desks (at most [`DESKS_MAX`]): the first three at the one-stop shops, the rest
    /// at the contact centre; skills drawn from `seed`.
    pub(crate) fn new(agents: u32, seed: u64) -> Self {
        let desks = (0..agents.min(DESKS_MAX))
            .map(|n| Self::desk(n, seed))
            .collect();
        Self { desks }
    }

    fn desk(n: u32, seed: u64) -> Desk {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (u64::from(n) << 32));
        let mut skills = Vec::new();
        let tier = 1 + (n % 4) as u8;
        let id = format!("agent{n:02}");
        if let Some(&site) = SITES.get(n as usize) {
            // A one-stop shop's advisor takes whoever walks in: every service, and the
            // safeguarding training to spot a concern.
            for service in SERVICES {
                skills.push((service, rng.random_range(2..=5)));
            }
            skills.push((SAFEGUARDING, 3));
            if n == 0 {
                skills.push((LANGUAGE, 5));
            }
            return Desk {
                id,
                number: n,
                tier,
                site,
                skills,
                channels: vec![("face_to_face", 1)],
            };
        }
        let k = n as usize - SITES.len();
        let own = SERVICES[k % SERVICES.len()];
        for service in SERVICES {
            if service == own {
                skills.push((service, 4));
            } else if rng.random_bool(0.6) {
                skills.push((service, rng.random_range(2..=5)));
            }
        }
        if k.is_multiple_of(4) {
            skills.push((SAFEGUARDING, 3));
        }
        if k % 4 == 1 {
            skills.push((LANGUAGE, 5));
        }
        Desk {
            id,
            number: n,
            tier,
            site: CONTACT_CENTRE,
            skills,
            channels: vec![("phone", 1), ("chat", 2), ("email", 3), ("callback", 1)],
        }
    }

    /// The desk left for a person at the browser's desktop: one more contact-centre desk after
    /// the rota's, at tier 1. It is not on the rota: the traffic and the simulated escalations
    /// never count on it, so the demo runs the same whether or not anybody logs in there.
    pub(crate) fn person(&self, seed: u64) -> Desk {
        let n = u32::try_from(self.desks.len())
            .unwrap_or(DESKS_MAX)
            .max(u32::try_from(SITES.len()).unwrap_or(u32::MAX));
        Desk {
            tier: 1,
            ..Self::desk(n, seed)
        }
    }

    /// The desks.
    pub(crate) fn desks(&self) -> &[Desk] {
        &self.desks
    }

    /// Whether some desk can take `need` (see [`Desk::can_take`]).
    pub(crate) fn can_serve(&self, need: &Need<'_>) -> bool {
        self.desks.iter().any(|desk| desk.can_take(need))
    }

    /// Every kind of arrival some desk can take, weighted by its share of the traffic: channel
    /// shares as a council's day, services equally, walk-ins equally over the one-stop shops.
    /// Kinds nobody on the rota can take are left out, so they never arrive.
    pub(crate) fn arrivals(&self) -> Vec<Arrival> {
        let mut arrivals = Vec::new();
        for (channel, share) in CHANNEL_SHARES {
            let sites: &[&'static str] = if channel == "face_to_face" {
                &SITES
            } else {
                &[""]
            };
            for &site in sites {
                let site = (!site.is_empty()).then_some(site);
                for service in SERVICES {
                    let need = Need {
                        channel,
                        service,
                        site,
                        safeguarding: false,
                        tier: 1,
                    };
                    if self.can_serve(&need) {
                        arrivals.push(Arrival {
                            channel,
                            service,
                            site,
                            safeguarding_possible: self.can_serve(&Need {
                                safeguarding: true,
                                ..need
                            }),
                            weight: share / (sites.len() * SERVICES.len()) as f64,
                        });
                    }
                }
            }
        }
        arrivals
    }
}

/// Draws one of `arrivals` by weight; `None` when there are none.
pub(crate) fn draw<'a>(arrivals: &'a [Arrival], rng: &mut impl Rng) -> Option<&'a Arrival> {
    let total: f64 = arrivals.iter().map(|a| a.weight).sum();
    let mut roll = rng.random::<f64>() * total;
    for arrival in arrivals {
        if roll < arrival.weight {
            return Some(arrival);
        }
        roll -= arrival.weight;
    }
    arrivals.last()
}

#[cfg(test)]
mod tests {
    //! The rota against the real routing core: every arrival the traffic may draw is offered to
    //! someone, and an escalation is offered to someone exactly when the rota says it can be.

    use std::time::Duration;

    use serde_json::{Value, json};
    use switchboard_core::state::ContactStatus;
    use switchboard_core::{Rejection, Router, RoutingConfig, Timestamp};
    use switchboard_wire::{Format, Route, Subjects, decode_command};

    use super::{Need, Rota, SERVICES, SITES};

    /// Longer than the default plan's last step (120 s), so a contact is at every step in turn.
    const PATIENCE: Duration = Duration::from_secs(300);

    /// Decodes `body` on `verb`'s subject exactly as the engine would, and hands it to the core.
    fn send(router: &mut Router, subject: &str, body: &Value, now: Timestamp) -> usize {
        let subjects = Subjects::new("switchboard").expect("prefix");
        let Ok(Route::Command(kind, agent)) = subjects.parse(subject) else {
            panic!("not a command subject: {subject}");
        };
        let decoded = decode_command(
            kind,
            agent.as_ref(),
            body.to_string().as_bytes(),
            Format::Json,
        )
        .unwrap_or_else(|e| panic!("{subject} {body}: {e}"));
        router
            .handle_command(decoded.command, now)
            .unwrap_or_else(|e: Rejection| panic!("{subject} {body}: {e}"))
    }

    /// A router with every desk of `rota` logged in and ready.
    fn staffed(rota: &Rota, now: Timestamp) -> Router {
        let mut router = Router::new(RoutingConfig::default()).expect("default config");
        for desk in rota.desks() {
            let cmd = |verb: &str| format!("switchboard.cmd.agent.{}.{verb}", desk.id);
            send(&mut router, &cmd("login"), &desk.login_body(), now);
            send(&mut router, &cmd("ready"), &json!({}), now);
        }
        router
    }

    /// Runs the core's timers until `contact` is offered (or, for email, assigned at once), for
    /// at most [`PATIENCE`]: the offer to accept, if any, and the agent; or `None`.
    fn offered(
        router: &mut Router,
        contact: &str,
        now: &mut Timestamp,
    ) -> Option<(Option<u64>, String)> {
        let until = *now + PATIENCE;
        loop {
            let state = router.state();
            match state.contact(contact).map(|c| &c.status) {
                Some(ContactStatus::Offered { offer, agent }) => {
                    return Some((Some(offer.get()), state.agent_at(*agent).id.to_string()));
                }
                Some(ContactStatus::Assigned { agent, .. }) => {
                    return Some((None, state.agent_at(*agent).id.to_string()));
                }
                _ => {}
            }
            let next = router.poll_timeout().filter(|next| *next <= until)?;
            *now = next.max(*now);
            router.handle_timeout(*now);
        }
    }

    #[test]
    fn every_arrival_the_traffic_may_draw_is_offered_and_escalations_go_where_the_rota_says() {
        for agents in [1, 2, 3, 4, 5, 8, 12, 20] {
            for seed in [1, 2, 7] {
                let rota = Rota::new(agents, seed);
                let arrivals = rota.arrivals();
                assert!(!arrivals.is_empty(), "{agents} agents, seed {seed}");
                for (n, arrival) in arrivals.iter().enumerate() {
                    for safeguarding in [false, true] {
                        let start = Timestamp::from_millis(1_000_000);
                        let mut now = start;
                        let mut router = staffed(&rota, now);
                        let id = format!("c{n}");
                        let body = arrival.body(&id, 1, true, false, safeguarding);
                        send(&mut router, "switchboard.cmd.contact.create", &body, now);
                        let case = format!("{agents} agents, seed {seed}: {body}");
                        let (offer, agent) = offered(&mut router, &id, &mut now)
                            .unwrap_or_else(|| panic!("never offered: {case}"));
                        let cmd = |verb: &str| format!("switchboard.cmd.agent.{agent}.{verb}");
                        if arrival.channel != "email" {
                            send(
                                &mut router,
                                &cmd("accept"),
                                &json!({"offer_id": offer}),
                                now,
                            );
                        }
                        let contact = router.state().contact(&id).expect("open");
                        let desk = rota.desks().iter().find(|d| d.id == agent).expect("a desk");
                        let need = Need {
                            channel: arrival.channel,
                            service: arrival.service,
                            site: arrival.site,
                            safeguarding: contact.safeguarding,
                            tier: contact.profile.tier.get().max(desk.tier) + 1,
                        };
                        let servable = rota.can_serve(&need);
                        let escalate = json!({"contact_id": id, "reason": "needs a senior"});
                        send(&mut router, &cmd("escalate"), &escalate, now);
                        assert_eq!(
                            offered(&mut router, &id, &mut now).is_some(),
                            servable,
                            "escalated by {agent} (tier {}): {case}",
                            desk.tier
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_persons_desk_is_off_the_rota_at_the_contact_centre() {
        for agents in [1, 3, 12] {
            let rota = Rota::new(agents, 7);
            let person = rota.person(7);
            assert!(
                rota.desks().iter().all(|desk| desk.id != person.id),
                "{agents} desks: {} is on the rota",
                person.id
            );
            assert_eq!(person.site, super::CONTACT_CENTRE);
            assert_eq!(person.tier, 1);
            assert!(!person.skills.is_empty());
            assert_eq!(
                person.skills_text().split(", ").count(),
                person.skills.len()
            );
        }
    }

    #[test]
    fn a_full_rota_takes_every_service_on_every_channel_and_at_every_site() {
        let rota = Rota::new(12, 1);
        let arrivals = rota.arrivals();
        assert_eq!(
            arrivals.len(),
            4 * SERVICES.len() + SITES.len() * SERVICES.len()
        );
        assert!(arrivals.iter().all(|a| a.safeguarding_possible));
    }
}
