//! The end of the fold: the window's last samples, agents' and contacts' ends, and the figures
//! per interval, per queue, per site and per agent built from the tallies.

use switchboard_core::Channel;

use super::agents::{busy, staffed};
use super::counters::{Counters, hours, ratio};
use super::{
    AgentFigures, ChannelCount, Collector, DEFAULT_SERVICE_LEVEL_TARGET, Figures, IntervalFigures,
    Measured, QueueFigures, ReasonHours, SiteFigures,
};

impl Collector {
    /// The figures of the window, with every state still open ended at the window's end.
    #[must_use]
    pub fn finish(mut self) -> Measured {
        let end = self.intervals.end();
        self.sample_until(end);
        self.close_agents(end);
        self.close_contacts(end);
        self.count_agents_staffed();
        let mut order: Vec<usize> = (0..self.queues.keys.len()).collect();
        order.sort_by(|&a, &b| self.queues.keys[a].cmp(&self.queues.keys[b]));
        let intervals = self.interval_figures(&order);
        let figures = self.period_figures(&order);
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
        }
    }

    /// Each queue's agents staffed per interval: the time of the profiles that could take it.
    fn count_agents_staffed(&mut self) {
        let agents = &self.agents;
        for (q, (_, channel)) in self.queues.keys.iter().enumerate() {
            let needs = &self.queues.needs[q];
            let admitted: Vec<usize> = (0..agents.profiles.len())
                .filter(|&p| {
                    let profile = &agents.profiles[p];
                    needs.admit(profile, &agents.site_names[profile.site], *channel)
                })
                .collect();
            for (i, counters) in self.queues.counters[q].iter_mut().enumerate() {
                counters.staffed_ms = admitted
                    .iter()
                    .map(|&p| staffed(&agents.profile_ms[p][i]))
                    .sum();
            }
        }
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
        figures.service_level_target = self.targets.as_ref().map(|targets| {
            targets
                .get(&(service.clone(), *channel))
                .copied()
                .unwrap_or(DEFAULT_SERVICE_LEVEL_TARGET)
        });
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
    fn period_figures(&self, order: &[usize]) -> Figures {
        let span_ms = self.intervals.end().as_millis() - self.measure_from.as_millis();
        let mut total = Counters::default();
        for i in 0..self.intervals.len() {
            total.add(&self.all_agents(i));
        }
        let queues = order
            .iter()
            .map(|&q| {
                let mut sum = Counters::default();
                for counters in &self.queues.counters[q] {
                    sum.add(counters);
                }
                total.add(&Counters {
                    staffed_ms: 0,
                    busy_ms: 0,
                    ..sum.clone()
                });
                self.queue_figures(q, &sum, span_ms)
            })
            .collect();
        Figures {
            total: total.figures(None, span_ms, true),
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

fn count<T>(items: impl Iterator<Item = T>) -> u32 {
    u32::try_from(items.count()).unwrap_or(u32::MAX)
}
