//! The load and the clients' records: contacts created by request and through the durable
//! intake, agents who log in, accept, complete and go ready, every command with an idempotency
//! key (`Nats-Msg-Id`) and retried by the rule of docs/wire.md ("Cluster mode"): the same key,
//! backoff from 50 ms doubling to 1 s, for at most [`RETRY_BOUND`].

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::{Client, HeaderMap};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};

use crate::PREFIX;

/// How long a client keeps retrying one command before it counts it as unanswered.
pub(crate) const RETRY_BOUND: Duration = Duration::from_secs(20);

/// Each attempt's wait for a reply.
const ATTEMPT: Duration = Duration::from_secs(2);

/// The agents logged in.
const AGENTS: usize = 4;

/// The service every contact is for, and the agents' skill.
const SERVICE: &str = "council_tax";

/// What the clients were told.
#[derive(Debug, Default)]
pub(crate) struct Records {
    /// Contacts created by request with an ok reply: (id, the reply's seq).
    pub(crate) created: Vec<(String, u64)>,
    /// Contacts JetStream acknowledged on the intake: (id, published during a fault).
    pub(crate) intake: Vec<(String, bool)>,
    /// Offers accepted with an ok reply: (offer id, contact).
    pub(crate) accepted: Vec<(u64, String)>,
    /// Contacts completed with an ok reply.
    pub(crate) completed: Vec<String>,
    /// Commands never answered within the retry bound.
    pub(crate) unanswered: usize,
    /// Commands answered only after at least one retry.
    pub(crate) retried: usize,
    /// Each create by request answered ok: when, how long from its first send, and whether
    /// the nemesis was at work meanwhile.
    pub(crate) create_latencies: Vec<(std::time::Instant, Duration, bool)>,
}

/// The clients' shared records and progress.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    pub(crate) records: Mutex<Records>,
    /// Acknowledged commands so far.
    acknowledged: AtomicUsize,
    progress: Notify,
    /// Set while the nemesis is at work.
    failover: AtomicBool,
}

impl Ledger {
    fn acknowledged(&self, record: impl FnOnce(&mut Records)) {
        record(&mut self.records.lock().expect("records"));
        self.acknowledged.fetch_add(1, Ordering::SeqCst);
        self.progress.notify_waiters();
    }

    /// Marks the time of a fault (intake publishes are tagged with it).
    pub(crate) fn set_failover(&self, on: bool) {
        self.failover.store(on, Ordering::SeqCst);
    }

    /// How long the creates by request sent from `since` to `until` (and answered) took,
    /// sorted.
    pub(crate) fn create_latencies(
        &self,
        since: std::time::Instant,
        until: std::time::Instant,
    ) -> Vec<Duration> {
        self.latencies_where(|sent, _| sent >= since && sent <= until)
    }

    /// How long the creates by request answered while the nemesis was idle took, sorted.
    pub(crate) fn quiet_create_latencies(&self) -> Vec<Duration> {
        self.latencies_where(|_, during| !during)
    }

    /// The creates' latencies `keep` keeps, by when each was first sent and whether the
    /// nemesis was at work.
    fn latencies_where(&self, keep: impl Fn(std::time::Instant, bool) -> bool) -> Vec<Duration> {
        let records = self.records.lock().expect("records");
        let mut took: Vec<Duration> = records
            .create_latencies
            .iter()
            .filter(|(answered, took, during)| keep(*answered - *took, *during))
            .map(|(_, took, _)| *took)
            .collect();
        took.sort();
        took
    }

    /// Commands acknowledged so far.
    pub(crate) fn acknowledged_so_far(&self) -> usize {
        self.acknowledged.load(Ordering::SeqCst)
    }

    /// Waits until `more` further commands are acknowledged; `None` after `bound`.
    pub(crate) async fn wait_for_more(&self, more: usize, bound: Duration) -> Option<()> {
        let target = self.acknowledged.load(Ordering::SeqCst) + more;
        tokio::time::timeout(bound, async {
            loop {
                let notified = self.progress.notified();
                if self.acknowledged.load(Ordering::SeqCst) >= target {
                    return;
                }
                notified.await;
            }
        })
        .await
        .ok()
    }
}

/// A client on the cluster, reconnecting to any of its servers.
pub(crate) async fn connect(urls: &str) -> Client {
    let servers: Vec<async_nats::ServerAddr> = urls
        .split(',')
        .map(|url| url.parse().expect("a server URL"))
        .collect();
    async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(servers)
        .await
        .expect("connect to the cluster")
}

/// Sends a command until it is answered (an `unavailable` error is not an answer), with the same
/// key each time (the retry rule); `None`
/// when it was not answered within [`RETRY_BOUND`]. The flag says whether it took a retry.
pub(crate) async fn command(
    client: &Client,
    subject: &str,
    body: &Value,
    key: &str,
) -> Option<(Value, bool)> {
    let deadline = tokio::time::Instant::now() + RETRY_BOUND;
    let first_sent = crate::wall();
    let mut backoff = Duration::from_millis(50);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", key);
        let sent =
            client.request_with_headers(subject.to_owned(), headers, body.to_string().into());
        if let Ok(Ok(reply)) = tokio::time::timeout(ATTEMPT, sent).await {
            let value: Value = serde_json::from_slice(&reply.payload).expect("a JSON reply");
            // `unavailable`: the engine stopped serving with it in hand; retry like a timeout.
            if value["error"]["code"] != "unavailable" {
                return Some((value, attempts > 1));
            }
        }
        if tokio::time::Instant::now() + backoff > deadline {
            // Said with the times, to be matched with the engines' logs.
            println!(
                "jepsen: {subject} (key {key}), first sent at {first_sent:.3} (unix s), was not \
                 answered in {attempts} attempts within {RETRY_BOUND:?}"
            );
            return None;
        }
        // The retry rule's backoff: no leader serves the domain yet.
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

/// Waits (at most `bound`) until a query is answered: some engine serves the domain. A query
/// is sent every 50 ms without waiting for the one before (each waits at most 500 ms), so that
/// one swallowed by a paused engine's subscription does not make the measure 500 ms coarse.
pub(crate) async fn wait_until_answered(client: &Client, bound: Duration) -> Option<()> {
    let subject = format!("{PREFIX}.query.queues");
    tokio::time::timeout(bound, async {
        let mut poll = tokio::time::interval(Duration::from_millis(50));
        let mut asking = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                _ = poll.tick() => {
                    let (client, subject) = (client.clone(), subject.clone());
                    asking.spawn(async move {
                        let asked = client.request(subject, "{}".into());
                        let answer = tokio::time::timeout(Duration::from_millis(500), asked);
                        matches!(answer.await, Ok(Ok(_)))
                    });
                }
                Some(Ok(true)) = asking.join_next() => return,
            }
        }
    })
    .await
    .ok()
}

/// The node id holding the domain's lease, if any (read from the lease bucket).
pub(crate) async fn lease_holder(client: &Client) -> Option<String> {
    switchboard_nats::cluster::lease_holder(client, &switchboard_nats::cluster::Domain::new(PREFIX))
        .await
}

/// Waits (at most `bound`) until some node holds the lease, and names it (a read may fail, or
/// find the key between a lapse and a takeover).
pub(crate) async fn wait_for_holder(client: &Client, bound: Duration) -> Option<String> {
    tokio::time::timeout(bound, async {
        let mut poll = tokio::time::interval(Duration::from_millis(50));
        loop {
            poll.tick().await;
            if let Some(holder) = lease_holder(client).await {
                return holder;
            }
        }
    })
    .await
    .ok()
}

/// Waits (at most `bound`) until a node other than `old` holds the lease.
pub(crate) async fn wait_for_holder_other_than(
    client: &Client,
    old: &str,
    bound: Duration,
) -> Option<()> {
    tokio::time::timeout(bound, async {
        let mut poll = tokio::time::interval(Duration::from_millis(50));
        loop {
            poll.tick().await;
            if lease_holder(client).await.is_some_and(|h| h != old) {
                return;
            }
        }
    })
    .await
    .ok()
}

/// The running load: stop it to end every client.
pub(crate) struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops the clients and waits for each to finish its command in hand.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            task.await.expect("a client task");
        }
    }
}

/// Starts the clients: a request creator, an intake publisher and the agents.
pub(crate) fn start(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    ledger: &Arc<Ledger>,
) -> Running {
    let (stop, stopped) = watch::channel(false);
    let mut tasks = vec![
        rt.spawn(create_by_request(
            client.clone(),
            ledger.clone(),
            stopped.clone(),
        )),
        rt.spawn(create_by_intake(
            client.clone(),
            ledger.clone(),
            stopped.clone(),
        )),
    ];
    for n in 1..=AGENTS {
        let id = format!("agent{n}");
        tasks.push(rt.spawn(agent(client.clone(), id, ledger.clone(), stopped.clone())));
    }
    Running { stop, tasks }
}

fn count(ledger: &Ledger, answered: Option<&(Value, bool)>) {
    let mut records = ledger.records.lock().expect("records");
    match answered {
        None => records.unanswered += 1,
        Some((_, true)) => records.retried += 1,
        Some((_, false)) => {}
    }
}

/// Creates a phone contact by request every 100 ms.
async fn create_by_request(client: Client, ledger: Arc<Ledger>, stop: watch::Receiver<bool>) {
    let subject = format!("{PREFIX}.cmd.contact.create");
    let mut pace = tokio::time::interval(Duration::from_millis(100));
    let mut n = 0_u64;
    while !*stop.borrow() {
        pace.tick().await;
        n += 1;
        let id = format!("req-{n}");
        let body = json!({"contact_id": id, "channel": "phone", "service": SERVICE});
        let (sent, during) = (
            std::time::Instant::now(),
            ledger.failover.load(Ordering::SeqCst),
        );
        let answered = command(&client, &subject, &body, &format!("create-{id}")).await;
        count(&ledger, answered.as_ref());
        if let Some((reply, _)) = answered
            && reply["ok"] == true
        {
            let seq = reply["seq"].as_u64().expect("a seq");
            let now = std::time::Instant::now();
            let during = during || ledger.failover.load(Ordering::SeqCst);
            ledger.acknowledged(|r| {
                r.created.push((id, seq));
                r.create_latencies.push((now, now - sent, during));
            });
        }
    }
}

/// Publishes a phone contact to the durable intake every 100 ms; JetStream's ack is the
/// acknowledgement.
async fn create_by_intake(client: Client, ledger: Arc<Ledger>, stop: watch::Receiver<bool>) {
    let js = async_nats::jetstream::new(client);
    let subject = format!("{PREFIX}.inbox.contact.create");
    let mut pace = tokio::time::interval(Duration::from_millis(100));
    let mut n = 0_u64;
    while !*stop.borrow() {
        pace.tick().await;
        n += 1;
        let id = format!("intake-{n}");
        let during = ledger.failover.load(Ordering::SeqCst);
        let body = json!({"contact_id": id, "channel": "phone", "service": SERVICE});
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.as_str());
        let published = js
            .publish_with_headers(subject.clone(), headers, body.to_string().into())
            .await;
        if let Ok(ack) = published
            && let Ok(Ok(_)) = tokio::time::timeout(ATTEMPT, ack).await
        {
            ledger.acknowledged(|r| r.intake.push((id, during)));
        }
    }
}

/// One agent: logs in, goes ready, and accepts and completes each offer, going ready again.
async fn agent(client: Client, id: String, ledger: Arc<Ledger>, stop: watch::Receiver<bool>) {
    let mut offers = client
        .subscribe(format!("{PREFIX}.agent.{id}.offer"))
        .await
        .expect("subscribe to offers");
    let cmd = |verb: &str| format!("{PREFIX}.cmd.agent.{id}.{verb}");
    let login = json!({"tier": 1, "site": "hq", "skills": {SERVICE: 3}});
    let answered = command(&client, &cmd("login"), &login, &format!("login-{id}")).await;
    count(&ledger, answered.as_ref());
    let mut turn = 0_u64;
    while !*stop.borrow() {
        turn += 1;
        let ready = command(
            &client,
            &cmd("ready"),
            &json!({}),
            &format!("ready-{id}-{turn}"),
        )
        .await;
        count(&ledger, ready.as_ref());
        let Ok(Some(offer)) = tokio::time::timeout(Duration::from_secs(1), offers.next()).await
        else {
            continue;
        };
        let offer: Value = serde_json::from_slice(&offer.payload).expect("an offer");
        let offer_id = offer["offer_id"].as_u64().expect("offer_id");
        let contact = offer["contact_id"].as_str().expect("contact_id").to_owned();
        let body = json!({"offer_id": offer_id});
        let accepted = command(
            &client,
            &cmd("accept"),
            &body,
            &format!("accept-{offer_id}"),
        )
        .await;
        count(&ledger, accepted.as_ref());
        if !accepted.is_some_and(|(reply, _)| reply["ok"] == true) {
            continue;
        }
        ledger.acknowledged(|r| r.accepted.push((offer_id, contact.clone())));
        let body = json!({"contact_id": contact, "outcome": "resolved"});
        let completed = command(
            &client,
            &cmd("complete"),
            &body,
            &format!("complete-{contact}"),
        )
        .await;
        count(&ledger, completed.as_ref());
        if completed.is_some_and(|(reply, _)| reply["ok"] == true) {
            ledger.acknowledged(|r| r.completed.push(contact));
        }
    }
}

/// Every write to the domain's lease the clients saw, with when (a KV watch on its key): the
/// phase of a failover until another engine took the lease.
#[derive(Debug, Default)]
pub(crate) struct LeaseWrites(Mutex<Vec<(std::time::Instant, String)>>);

impl LeaseWrites {
    /// The first write of a holder seen after `since`: how long after, and who.
    pub(crate) fn first_after(&self, since: std::time::Instant) -> Option<(Duration, String)> {
        let writes = self.0.lock().expect("lease writes");
        writes
            .iter()
            .find(|(at, _)| *at > since)
            .map(|(at, holder)| (at.duration_since(since), holder.clone()))
    }
}

/// Watches the domain's lease key for the whole run, into `writes` (watching again if the
/// watch ends, as it may when a nats-server restarts).
pub(crate) fn watch_lease(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    writes: &Arc<LeaseWrites>,
) -> tokio::task::JoinHandle<()> {
    let (client, writes) = (client.clone(), writes.clone());
    rt.spawn(async move {
        let js = async_nats::jetstream::new(client);
        let key = switchboard_nats::cluster::Domain::new(PREFIX).lease_key();
        // A watch is asked for again at most every 100 ms while the bucket does not answer.
        let mut pace = tokio::time::interval(Duration::from_millis(100));
        loop {
            pace.tick().await;
            let watched = async {
                let kv = js
                    .get_key_value(switchboard_nats::cluster::LEASE_BUCKET)
                    .await
                    .ok()?;
                kv.watch(&key).await.ok()
            };
            let Some(mut watch) = watched.await else {
                continue;
            };
            while let Some(Ok(entry)) = watch.next().await {
                if entry.operation == async_nats::jetstream::kv::Operation::Put {
                    let holder = String::from_utf8_lossy(&entry.value).into_owned();
                    let now = std::time::Instant::now();
                    writes.0.lock().expect("lease writes").push((now, holder));
                }
            }
        }
    })
}
