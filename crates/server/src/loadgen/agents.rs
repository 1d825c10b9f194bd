//! The simulated agents: each logs in on the wire contract with one phone line and the run's
//! own skill, subscribes to its own offer subject, accepts every offer at once, completes the
//! contact after the handle time and says ready again (ending wrap-up), so the engine keeps
//! offering. The moment an offer arrives on an agent's subscription is the end of a create→offer
//! latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use async_nats::Client;
use futures::StreamExt;
use serde_json::json;
use tokio::task::JoinHandle;

use super::tracker::Phases;

/// How many agents log in (or out) at once.
const LOGINS_IN_FLIGHT: usize = 64;

/// The names of one run: every id carries the run's random tag, so runs against the same engine
/// never collide and no other traffic's agents are offered this run's contacts.
#[derive(Debug, Clone)]
pub(super) struct Names {
    /// The subject prefix of the wire contract.
    pub(super) prefix: String,
    /// `lg` and the run's tag in hex: the service and skill of every contact and agent.
    pub(super) tag: String,
}

impl Names {
    pub(super) fn new(prefix: &str, run: u32) -> Self {
        Self {
            prefix: prefix.to_owned(),
            tag: format!("lg{run:08x}"),
        }
    }

    pub(super) fn agent(&self, n: u32) -> String {
        format!("{}-a{n}", self.tag)
    }

    /// Contact `n` of phase `phase`.
    pub(super) fn contact(&self, phase: u32, n: u64) -> String {
        format!("{}-{phase}-{n}", self.tag)
    }

    /// The phase and number of one of this run's contacts.
    pub(super) fn parse_contact(&self, contact: &str) -> Option<(u32, u64)> {
        let (phase, n) = contact
            .strip_prefix(self.tag.as_str())?
            .strip_prefix('-')?
            .split_once('-')?;
        Some((phase.parse().ok()?, n.parse().ok()?))
    }

    /// The create command's body for contact `n` of `phase`: a phone contact for the run's
    /// service from a customer of its own.
    pub(super) fn create_body(&self, phase: u32, n: u64) -> String {
        let id = self.contact(phase, n);
        format!(
            r#"{{"contact_id":"{id}","channel":"phone","service":"{}","customer_id":"{id}"}}"#,
            self.tag
        )
    }

    pub(super) fn create_subject(&self) -> String {
        format!("{}.cmd.contact.create", self.prefix)
    }

    fn command(&self, agent: &str, verb: &str) -> String {
        format!("{}.cmd.agent.{agent}.{verb}", self.prefix)
    }
}

/// Counters of the agents' side.
#[derive(Debug, Default)]
pub(super) struct DeskCounts {
    /// Offers received (all, including re-offers and late ones).
    pub(super) offers: AtomicU64,
    /// Offers whose body could not be read or named no contact of this run.
    pub(super) strays: AtomicU64,
    /// Accept, complete or ready commands that were refused or got no reply.
    pub(super) refused: AtomicU64,
    /// Contacts completed.
    pub(super) completed: AtomicU64,
    /// Offers an agent set to work on, and those whose work (accept, complete, ready) is over.
    started: AtomicU64,
    worked: AtomicU64,
    /// Woken when a piece of work is over.
    work_over: tokio::sync::Notify,
}

/// The part of an offer an agent reads; the rest is ignored.
#[derive(serde::Deserialize)]
struct Offer<'a> {
    offer_id: u64,
    #[serde(borrow)]
    contact_id: &'a str,
    #[serde(borrow)]
    agent_id: &'a str,
}

/// The logged-in agents and the task receiving their offers.
#[derive(Debug)]
pub(super) struct Desk {
    client: Client,
    names: Names,
    agents: Vec<String>,
    counts: Arc<DeskCounts>,
    receiver: JoinHandle<()>,
}

impl Desk {
    /// Subscribes `count` agents to their offers, logs them in and makes them ready, and starts
    /// receiving offers into `phases`.
    pub(super) async fn open(
        client: Client,
        names: Names,
        count: u32,
        handle_time: Duration,
        phases: Arc<Phases>,
    ) -> Result<Self> {
        let agents: Vec<String> = (0..count).map(|n| names.agent(n)).collect();
        let mut subscriptions = Vec::with_capacity(agents.len());
        for agent in &agents {
            subscriptions.push(
                client
                    .subscribe(format!("{}.agent.{agent}.offer", names.prefix))
                    .await
                    .context("could not subscribe to an agent's offers")?,
            );
        }
        client.flush().await?;
        let counts = Arc::new(DeskCounts::default());
        let receiver = tokio::spawn(receive_offers(
            client.clone(),
            names.clone(),
            futures::stream::select_all(subscriptions),
            handle_time,
            phases,
            counts.clone(),
        ));
        let logins = futures::stream::iter(agents.iter().enumerate())
            .map(|(n, agent)| log_in(&client, &names, agent, n))
            .buffer_unordered(LOGINS_IN_FLIGHT)
            .collect::<Vec<Result<()>>>()
            .await;
        logins.into_iter().collect::<Result<()>>()?;
        Ok(Self {
            client,
            names,
            agents,
            counts,
            receiver,
        })
    }

    pub(super) fn counts(&self) -> &DeskCounts {
        &self.counts
    }

    /// Waits until every offer received so far has been worked (accepted, completed and the
    /// agent ready again), for at most `bound`; returns whether they all were.
    pub(super) async fn until_idle(&self, bound: Duration) -> bool {
        let counts = &self.counts;
        let idle = async {
            loop {
                let over = counts.work_over.notified();
                if counts.worked.load(Ordering::Acquire) >= counts.started.load(Ordering::Acquire) {
                    return;
                }
                over.await;
            }
        };
        tokio::time::timeout(bound, idle).await.is_ok()
    }

    /// Logs every agent out (forced, best effort) and stops receiving offers.
    pub(super) async fn close(self) {
        let names = &self.names;
        let client = &self.client;
        futures::stream::iter(&self.agents)
            .map(|agent| {
                crate::demo::request(
                    client,
                    names.command(agent, "logout"),
                    json!({"force": true}),
                )
            })
            .buffer_unordered(LOGINS_IN_FLIGHT)
            .for_each(|_| async {})
            .await;
        self.receiver.abort();
    }
}

async fn log_in(client: &Client, names: &Names, agent: &str, n: usize) -> Result<()> {
    let login = json!({
        "name": format!("Loadgen agent {n}"),
        "tier": 1,
        "site": "loadgen",
        "skills": {names.tag.as_str(): 3},
        "channels": {"phone": 1},
    });
    for (verb, body) in [("login", login), ("ready", json!({}))] {
        let reply = crate::demo::request(client, names.command(agent, verb), body)
            .await
            .with_context(|| format!("no reply to agent {agent}'s {verb}"))?;
        if reply["ok"] != true {
            anyhow::bail!("the engine refused agent {agent}'s {verb}: {reply}");
        }
    }
    Ok(())
}

/// Receives every agent's offers: timestamps each on arrival, records it in its phase, and sets
/// the agent to work on it.
async fn receive_offers(
    client: Client,
    names: Names,
    mut offers: futures::stream::SelectAll<async_nats::Subscriber>,
    handle_time: Duration,
    phases: Arc<Phases>,
    counts: Arc<DeskCounts>,
) {
    while let Some(message) = offers.next().await {
        let arrived = Instant::now();
        counts.offers.fetch_add(1, Ordering::Relaxed);
        let Ok(offer) = serde_json::from_slice::<Offer<'_>>(&message.payload) else {
            counts.strays.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        match names
            .parse_contact(offer.contact_id)
            .and_then(|(phase, n)| Some((phases.get(phase)?, n)))
        {
            Some((tracker, n)) => {
                tracker.answered(n, arrived, message.payload.len());
            }
            None => {
                counts.strays.fetch_add(1, Ordering::Relaxed);
            }
        }
        counts.started.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(work(
            client.clone(),
            names.clone(),
            offer.agent_id.to_owned(),
            offer.offer_id,
            offer.contact_id.to_owned(),
            handle_time,
            counts.clone(),
        ));
    }
}

/// One agent's work on one offer ([`work_offer`]), counted when over.
async fn work(
    client: Client,
    names: Names,
    agent: String,
    offer: u64,
    contact: String,
    handle_time: Duration,
    counts: Arc<DeskCounts>,
) {
    let job = (offer, contact.as_str(), handle_time);
    work_offer(&client, &names, &agent, job, &counts).await;
    counts.worked.fetch_add(1, Ordering::AcqRel);
    counts.work_over.notify_waiters();
}

/// Accept, handle, complete, ready again.
async fn work_offer(
    client: &Client,
    names: &Names,
    agent: &str,
    (offer, contact, handle_time): (u64, &str, Duration),
    counts: &DeskCounts,
) {
    let accept = format!(r#"{{"offer_id":{offer}}}"#);
    if !command(client, names.command(agent, "accept"), accept).await {
        counts.refused.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if !handle_time.is_zero() {
        tokio::time::sleep(handle_time).await;
    }
    let complete = format!(r#"{{"contact_id":"{contact}","outcome":"resolved"}}"#);
    if !command(client, names.command(agent, "complete"), complete).await {
        counts.refused.fetch_add(1, Ordering::Relaxed);
        return;
    }
    counts.completed.fetch_add(1, Ordering::Relaxed);
    if !command(client, names.command(agent, "ready"), "{}".to_owned()).await {
        counts.refused.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sends one command and says whether the engine answered ok (the reply is not otherwise read,
/// to keep the load generator's own CPU use down).
async fn command(client: &Client, subject: String, body: String) -> bool {
    client
        .request(subject, body.into())
        .await
        .is_ok_and(|reply| reply.payload.starts_with(br#"{"ok":true"#))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_ids_name_their_run_phase_and_number() {
        let names = Names::new("switchboard", 0xabc);
        let id = names.contact(3, 1234);
        assert_eq!(id, "lg00000abc-3-1234");
        assert_eq!(names.parse_contact(&id), Some((3, 1234)));
        assert_eq!(
            names.parse_contact("lg00000abd-3-1234"),
            None,
            "another run"
        );
        assert_eq!(names.parse_contact("lg00000abc-3"), None);
        let body: serde_json::Value =
            serde_json::from_str(&names.create_body(3, 1234)).expect("JSON");
        assert_eq!(body["contact_id"], id);
        assert_eq!(body["service"], "lg00000abc");
    }
}
