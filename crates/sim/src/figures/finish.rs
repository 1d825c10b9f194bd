//! The end of the fold: the window's last samples, agents' and contacts' ends, and the figures
//! per interval, per queue, per site and per agent built from the tallies.

use switchboard_core::Channel;

use super::agents::{Agents, busy, staffed};
use super::counters::{Counters, hours, ratio};
use super::{
    AgentFigures, ChannelCount, Collector, DEFAULT_SERVICE_LEVEL_TARGET, Figures, IntervalFigures,
    Measured, QueueFigures, Queues, ReasonHours, SiteFigures,
};

impl Collector {
    /// The figures of the window, with every state still open ended at the window's end.
    #[must_use]
    pub fn finish(mut self) -> Measured {
        let end = self.intervals.end();
        self.sample_until(end);
        self.close_agents(end);
        self.close_contacts(end);
        let admitted = self.count_agents_staffed();
        let mut order: Vec<usize> = (0..self.queues.keys.len()).collect();
        order.sort_by(|&a, &b| self.queues.keys[a].cmp(&self.queues.keys[b]));
        let pools = self.pools(&admitted, &order);
        let intervals = self.interval_figures(&order);
        let figures = self.period_figures(&order, &admitted);
        let mut samples = std::mem::take(&mut self.samples);
        // Samples taken before a queue was first seen are shorter; all follow the sorted order.
        for sample in &mut samples {
            let seen = std::mem::take(&mut sample.waiting_by_queue);
            sample.waiting_by_queue = order
                .iter()
                .map(|&i| seen.get(i).copied().unwrap_or(0))
                .collect();
        }
        Measured {
            figures,
            intervals,
            agents: self.agent_figures(),
            complaints: self.complaint_figures(),
            samples,
            pools,
        }
    }

    /// Each queue's agents staffed per interval: the time of the profiles that could take it,
    /// and its share of that time by workload. Returns the profiles that could take each queue.
    fn count_agents_staffed(&mut self) -> Vec<Vec<usize>> {
        let agents = &self.agents;
        let queues = &mut self.queues;
        // admitted[q]: the profiles that could take queue q.
        let admitted: Vec<Vec<usize>> = queues
            .keys
            .iter()
            .zip(&queues.needs)
            .map(|((_, channel), needs)| {
                (0..agents.profiles.len())
                    .filter(|&p| {
                        let profile = &agents.profiles[p];
                        needs.admit(profile, &agents.site_names[profile.site], *channel)
                    })
                    .collect()
            })
            .collect();
        for (q, profiles) in admitted.iter().enumerate() {
            for (i, counters) in queues.counters[q].iter_mut().enumerate() {
                counters.staffed_ms = profiles
                    .iter()
                    .map(|&p| staffed(&agents.profile_ms[p][i]))
                    .sum();
            }
        }
        share_by_workload(agents, queues, &admitted);
        admitted
    }

    /// The live queues in groups sharing agents, by their place in the sorted `order`.
    fn pools(&self, admitted: &[Vec<usize>], order: &[usize]) -> Vec<Vec<usize>> {
        let live: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&q| self.queues.keys[q].1.is_live())
            .collect();
        let mut pools: Vec<Vec<usize>> = Vec::new();
        for &q in &live {
            // Every pool sharing a profile with q joins q's.
            let (joined, rest): (Vec<Vec<usize>>, Vec<Vec<usize>>) =
                pools.into_iter().partition(|pool| {
                    pool.iter()
                        .any(|&other| admitted[q].iter().any(|p| admitted[other].contains(p)))
                });
            pools = rest;
            let mut pool: Vec<usize> = joined.into_iter().flatten().collect();
            pool.push(q);
            pools.push(pool);
        }
        let place = |q: usize| order.iter().position(|&o| o == q).unwrap_or(usize::MAX);
        let mut pools: Vec<Vec<usize>> = pools
            .into_iter()
            .map(|pool| {
                let mut places: Vec<usize> = pool.into_iter().map(place).collect();
                places.sort_unstable();
                places
            })
            .collect();
        pools.sort();
        pools
    }

    /// All agents' staffed and busy time in interval `i`.
    fn all_agents(&self, i: usize) -> Counters {
        let mut all = Counters::default();
        for by_interval in &self.agents.profile_ms {
            all.staffed_ms += staffed(&by_interval[i]);
            all.busy_ms += busy(&by_interval[i]);
        }
        all
    }

    /// A queue's figures from its tallies, with its target.
    fn queue_figures(&self, q: usize, counters: &Counters, span_ms: u64) -> QueueFigures {
        let (service, channel) = &self.queues.keys[q];
        let mut figures = counters.figures(Some((service.as_str(), *channel)), span_ms, false);
        if let Some(config) = &self.config {
            let key = (service.clone(), *channel);
            figures.service_level_target = Some(
                config
                    .service_levels
                    .get(&key)
                    .map_or(DEFAULT_SERVICE_LEVEL_TARGET, |t| t.target),
            );
            figures.service_level_threshold_seconds = channel
                .is_live()
                .then(|| config.answer_within(service, *channel).as_secs_f64());
        }
        figures
    }

    fn interval_figures(&self, order: &[usize]) -> Vec<IntervalFigures> {
        (0..self.intervals.len())
            .map(|i| {
                let span_ms = self.intervals.millis(i);
                let mut total = self.all_agents(i);
                let queues = order
                    .iter()
                    .map(|&q| {
                        let counters = &self.queues.counters[q][i];
                        total.add(&Counters {
                            staffed_ms: 0,
                            busy_ms: 0,
                            ..counters.clone()
                        });
                        self.queue_figures(q, counters, span_ms)
                    })
                    .collect();
                let (start, end) = self.intervals.bounds(i);
                IntervalFigures {
                    start_ms: start.as_millis(),
                    end_ms: end.as_millis(),
                    total: total.figures(None, span_ms, true),
                    queues,
                }
            })
            .collect()
    }

    /// The whole window's figures: per queue, in total and per site.
    fn period_figures(&self, order: &[usize], admitted: &[Vec<usize>]) -> Figures {
        let span_ms = self.intervals.end().as_millis() - self.measure_from.as_millis();
        let mut total = Counters::default();
        for i in 0..self.intervals.len() {
            total.add(&self.all_agents(i));
        }
        let mut live = total.clone();
        let shares = period_shares(&self.agents, &self.queues, admitted);
        let queues = order
            .iter()
            .map(|&q| {
                let mut sum = Counters::default();
                for counters in &self.queues.counters[q] {
                    sum.add(counters);
                }
                sum.share_ms = shares[q];
                let contacts = Counters {
                    staffed_ms: 0,
                    busy_ms: 0,
                    ..sum.clone()
                };
                total.add(&contacts);
                if self.queues.keys[q].1.is_live() {
                    live.add(&contacts);
                }
                self.queue_figures(q, &sum, span_ms)
            })
            .collect();
        Figures {
            total: total.figures(None, span_ms, true),
            live: live.figures(None, span_ms, true),
            queues,
            sites: self.site_figures(),
        }
    }

    fn site_figures(&self) -> Vec<SiteFigures> {
        let agents = &self.agents;
        let mut sites: Vec<SiteFigures> = agents
            .site_names
            .iter()
            .zip(&agents.site_ms)
            .enumerate()
            .map(|(i, (name, ms))| SiteFigures {
                site: name.as_str().to_owned(),
                agents: count(agents.tracks.iter().filter(|t| t.sites_seen.contains(&i))),
                staffed_hours: hours(staffed(ms)),
                busy_hours: hours(busy(ms)),
                occupancy: ratio(busy(ms), staffed(ms)),
            })
            .filter(|site| site.agents > 0)
            .collect();
        sites.sort_by(|a, b| a.site.cmp(&b.site));
        sites
    }

    fn agent_figures(&self) -> Vec<AgentFigures> {
        let mut agents: Vec<AgentFigures> = self
            .agents
            .tracks
            .iter()
            .filter(|t| t.ms.iter().sum::<u64>() > 0 || t.handled.0.iter().sum::<u64>() > 0)
            .map(|t| {
                let handlings = t.handled.0.iter().sum::<u64>();
                let mut not_ready: Vec<ReasonHours> = t
                    .not_ready_ms
                    .iter()
                    .map(|(reason, ms)| ReasonHours {
                        reason: reason.to_string(),
                        hours: hours(*ms),
                    })
                    .collect();
                not_ready.sort_by(|a, b| a.reason.cmp(&b.reason));
                AgentFigures {
                    agent: t.id.as_str().to_owned(),
                    name: t.name.to_string(),
                    site: self.agents.site_names[t.site].as_str().to_owned(),
                    handled: Channel::ALL
                        .iter()
                        .map(|&c| ChannelCount {
                            channel: c.as_str().to_owned(),
                            count: t.handled.get(c),
                        })
                        .filter(|c| c.count > 0)
                        .collect(),
                    handlings,
                    aht_seconds: ratio(t.handle_ms, handlings) / 1000.0,
                    logged_in_hours: hours(t.ms.iter().sum()),
                    staffed_hours: hours(staffed(&t.ms)),
                    busy_hours: hours(busy(&t.ms)),
                    occupancy: ratio(busy(&t.ms), staffed(&t.ms)),
                    not_ready,
                }
            })
            .collect();
        agents.sort_by(|a, b| a.agent.cmp(&b.agent));
        agents
    }
}

/// Each queue's AHT over the period in milliseconds (1 for a queue with no handling yet, so
/// that its arrivals still weigh), for splitting agents' time by workload.
fn workload_aht_ms(queues: &Queues) -> Vec<u64> {
    queues
        .counters
        .iter()
        .map(|by_interval| {
            let (handle_ms, handlings) = by_interval
                .iter()
                .fold((0, 0), |(ms, n), c| (ms + c.handle_ms, n + c.handlings));
            handle_ms.checked_div(handlings).map_or(1, |aht| aht.max(1))
        })
        .collect()
}

/// Splits `staffed_ms` of agents who could take the queues `takes` among them in proportion to
/// `offered` times AHT, adding each part to `share`.
fn split(
    staffed_ms: u64,
    takes: &[usize],
    offered: &dyn Fn(usize) -> u64,
    aht_ms: &[u64],
    share: &mut dyn FnMut(usize, u64),
) {
    let loads: Vec<u128> = takes
        .iter()
        .map(|&q| u128::from(offered(q)) * u128::from(aht_ms[q]))
        .collect();
    let total: u128 = loads.iter().sum();
    if total == 0 {
        return;
    }
    for (&q, load) in takes.iter().zip(loads) {
        share(
            q,
            u64::try_from(u128::from(staffed_ms) * load / total).unwrap_or(u64::MAX),
        );
    }
}

/// The queues each profile could take.
fn takes(admitted: &[Vec<usize>], profiles: usize) -> Vec<Vec<usize>> {
    (0..profiles)
        .map(|p| {
            (0..admitted.len())
                .filter(|&q| admitted[q].contains(&p))
                .collect()
        })
        .collect()
}

/// Splits each profile's staffed time in each interval among the queues it could take, in
/// proportion to their workload there.
fn share_by_workload(agents: &Agents, queues: &mut Queues, admitted: &[Vec<usize>]) {
    let aht_ms = workload_aht_ms(queues);
    let takes = takes(admitted, agents.profiles.len());
    for (p, by_interval) in agents.profile_ms.iter().enumerate() {
        for (i, ms) in by_interval.iter().enumerate() {
            let mut parts = Vec::new();
            let offered = |q: usize| queues.counters[q][i].offered;
            split(staffed(ms), &takes[p], &offered, &aht_ms, &mut |q, part| {
                parts.push((q, part));
            });
            for (q, part) in parts {
                queues.counters[q][i].share_ms += part;
            }
        }
    }
}

/// Each queue's share of the agents' time over the whole window, split by the window's
/// workload (so it does not depend on how the window is cut into intervals).
fn period_shares(agents: &Agents, queues: &Queues, admitted: &[Vec<usize>]) -> Vec<u64> {
    let aht_ms = workload_aht_ms(queues);
    let takes = takes(admitted, agents.profiles.len());
    let offered: Vec<u64> = queues
        .counters
        .iter()
        .map(|by_interval| by_interval.iter().map(|c| c.offered).sum())
        .collect();
    let mut shares = vec![0; queues.keys.len()];
    for (p, by_interval) in agents.profile_ms.iter().enumerate() {
        let staffed_ms: u64 = by_interval.iter().map(staffed).sum();
        split(
            staffed_ms,
            &takes[p],
            &|q| offered[q],
            &aht_ms,
            &mut |q, part| shares[q] += part,
        );
    }
    shares
}

fn count<T>(items: impl Iterator<Item = T>) -> u32 {
    u32::try_from(items.count()).unwrap_or(u32::MAX)
}
