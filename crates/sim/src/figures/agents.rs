//! Agents in the fold: their state over time, the time they spend in each state (per agent, per
//! site, and per interval for each kind of agent), and which queues each kind of agent could take.
//!
//! Agents are grouped into **profiles**: the same site, skills and channel capacities. Time per
//! interval is kept per profile, not per agent, so memory grows with the kinds of agent and the
//! intervals, not with agents times intervals; a queue's agents staffed is the time of the
//! profiles that could take it.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use switchboard_core::event::AgentLoggedIn;
use switchboard_core::{
    AgentId, Channel, Level, NewContact, PerChannel, SiteId, SkillId, SkillRequirement, Timestamp,
};

use super::Collector;
use super::intervals::Intervals;

/// The states agent time is counted in, by index.
pub(super) const IDLE: usize = 0;
pub(super) const BUSY: usize = 1;
pub(super) const WRAP: usize = 2;
pub(super) const NOT_READY: usize = 3;

/// Staffed time (logged in and not `not_ready`; holding work counts, even on the way to a
/// break): every state but not ready.
pub(super) fn staffed(ms: &[u64; 4]) -> u64 {
    ms[IDLE] + ms[BUSY] + ms[WRAP]
}

/// Busy time: holding a contact or wrapping up.
pub(super) fn busy(ms: &[u64; 4]) -> u64 {
    ms[BUSY] + ms[WRAP]
}

/// A kind of agent: where they work, what they can do and how much at once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Profile {
    pub(super) site: usize,
    pub(super) skills: Vec<(SkillId, Level)>,
    pub(super) capacity: PerChannel<u8>,
}

/// What an agent needs to take a queue's contacts: the skills every contact of the queue
/// needed (at the lowest level any needed), and for face-to-face the sites contacts came to.
#[derive(Debug, Default, Clone)]
pub(crate) struct QueueNeeds {
    skills: Option<Vec<SkillRequirement>>,
    sites: Vec<SiteId>,
}

impl QueueNeeds {
    /// Narrows the needs to what this contact shares with those before it.
    pub(super) fn note(&mut self, contact: &NewContact) {
        match &mut self.skills {
            None => self.skills = Some(contact.skills.clone()),
            Some(needs) => needs.retain_mut(|need| {
                let theirs = contact.skills.iter().find(|s| s.skill == need.skill);
                if let Some(theirs) = theirs {
                    need.min_level = need.min_level.min(theirs.min_level);
                }
                theirs.is_some()
            }),
        }
        if contact.channel == Channel::FaceToFace
            && let Some(site) = &contact.site
            && !self.sites.contains(site)
        {
            self.sites.push(site.clone());
        }
    }

    /// Whether agents of `profile` (working at `site`) could take the queue's contacts.
    pub(super) fn admit(&self, profile: &Profile, site: &SiteId, channel: Channel) -> bool {
        let skilled = self.skills.iter().flatten().all(|need| {
            profile
                .skills
                .iter()
                .any(|(skill, level)| *skill == need.skill && *level >= need.min_level)
        });
        let placed =
            channel != Channel::FaceToFace || self.sites.is_empty() || self.sites.contains(site);
        profile.capacity.get(channel) > 0 && skilled && placed
    }
}

/// The wrap-up after a handling, counted with the handling's queue and interval.
#[derive(Debug, Clone, Copy)]
pub(super) struct WrapOf {
    pub(super) queue: usize,
    pub(super) interval: usize,
    pub(super) since: Timestamp,
}

/// One agent: state now, and totals in the measured window.
#[derive(Debug)]
pub(super) struct AgentTrack {
    pub(super) id: AgentId,
    pub(super) name: Arc<str>,
    pub(super) site: usize,
    pub(super) profile: usize,
    logged_in: bool,
    not_ready: bool,
    pub(super) wrap_up: bool,
    holds: u32,
    /// When the current state began.
    since: Timestamp,
    /// The not-ready reason in force.
    reason: Option<Arc<str>>,
    /// The handling the next (or current) wrap-up belongs to, when it counts.
    pub(super) wrap: Option<WrapOf>,
    /// Milliseconds in each state, in the window.
    pub(super) ms: [u64; 4],
    /// Milliseconds not ready per reason, in the window.
    pub(super) not_ready_ms: Vec<(Arc<str>, u64)>,
    /// Handlings per channel, their handle time with wrap-up.
    pub(super) handled: PerChannel<u64>,
    pub(super) handle_ms: u64,
    /// Sites where the agent spent time in the window.
    pub(super) sites_seen: Vec<usize>,
}

impl AgentTrack {
    /// The state the agent's time counts in now, if logged in.
    const fn category(&self) -> Option<usize> {
        if !self.logged_in {
            None
        } else if self.holds > 0 {
            Some(BUSY)
        } else if self.wrap_up {
            Some(WRAP)
        } else if self.not_ready {
            Some(NOT_READY)
        } else {
            Some(IDLE)
        }
    }
}

/// Every agent seen, their profiles and sites, and time per profile and interval.
#[derive(Debug)]
pub(super) struct Agents {
    pub(super) tracks: Vec<AgentTrack>,
    index: FxHashMap<AgentId, usize>,
    pub(super) profiles: Vec<Profile>,
    profile_index: FxHashMap<Profile, usize>,
    /// `[profile][interval][state]`, from the start of measuring.
    pub(super) profile_ms: Vec<Vec<[u64; 4]>>,
    pub(super) site_names: Vec<SiteId>,
    site_index: FxHashMap<SiteId, usize>,
    /// `[site][state]`, in the window.
    pub(super) site_ms: Vec<[u64; 4]>,
    /// Agents in each state now.
    pub(super) count: [u32; 4],
    intervals: usize,
}

impl Agents {
    pub(super) fn new(intervals: usize) -> Self {
        Self {
            tracks: Vec::new(),
            index: FxHashMap::default(),
            profiles: Vec::new(),
            profile_index: FxHashMap::default(),
            profile_ms: Vec::new(),
            site_names: Vec::new(),
            site_index: FxHashMap::default(),
            site_ms: Vec::new(),
            count: [0; 4],
            intervals,
        }
    }

    fn site(&mut self, site: &SiteId) -> usize {
        if let Some(&i) = self.site_index.get(site) {
            return i;
        }
        let i = self.site_names.len();
        self.site_names.push(site.clone());
        self.site_index.insert(site.clone(), i);
        self.site_ms.push([0; 4]);
        i
    }

    fn profile(&mut self, profile: Profile) -> usize {
        if let Some(&i) = self.profile_index.get(&profile) {
            return i;
        }
        let i = self.profiles.len();
        self.profiles.push(profile.clone());
        self.profile_index.insert(profile, i);
        self.profile_ms.push(vec![[0; 4]; self.intervals]);
        i
    }

    /// The agent's track, made (logged out) on their first login.
    fn track(&mut self, login: &AgentLoggedIn, now: Timestamp) -> usize {
        let site = self.site(&login.site);
        let profile = self.profile(Profile {
            site,
            skills: login.skills.clone(),
            capacity: login.capacity,
        });
        let i = *self.index.entry(login.agent.clone()).or_insert_with(|| {
            self.tracks.push(AgentTrack {
                id: login.agent.clone(),
                name: Arc::clone(&login.name),
                site,
                profile,
                logged_in: false,
                not_ready: false,
                wrap_up: false,
                holds: 0,
                since: now,
                reason: None,
                wrap: None,
                ms: [0; 4],
                not_ready_ms: Vec::new(),
                handled: PerChannel::splat(0),
                handle_ms: 0,
                sites_seen: Vec::new(),
            });
            self.tracks.len() - 1
        });
        let track = &mut self.tracks[i];
        track.name = Arc::clone(&login.name);
        (track.site, track.profile) = (site, profile);
        i
    }

    /// Counts agent `i`'s time in its current state from its `since` to `now`: in the window
    /// from `measure_from` (per agent, site and reason) and per interval (per profile).
    fn spend(&mut self, i: usize, now: Timestamp, intervals: &Intervals, measure_from: Timestamp) {
        let track = &mut self.tracks[i];
        let Some(state) = track.category() else {
            return;
        };
        let from = track.since.max(measure_from);
        let to = now.min(intervals.end());
        if to <= from {
            return;
        }
        let ms = to.as_millis() - from.as_millis();
        track.ms[state] += ms;
        self.site_ms[track.site][state] += ms;
        if !track.sites_seen.contains(&track.site) {
            track.sites_seen.push(track.site);
        }
        if state == NOT_READY {
            let reason = track
                .reason
                .clone()
                .unwrap_or_else(|| Arc::from("not_ready"));
            match track.not_ready_ms.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, total)) => *total += ms,
                None => track.not_ready_ms.push((reason, ms)),
            }
        }
        let by_interval = &mut self.profile_ms[track.profile];
        for (interval, part) in intervals.split(from, to) {
            by_interval[interval][state] += part;
        }
    }
}

impl Collector {
    /// Changes agent `agent`'s state at `now` with `change`, counting the time spent in the old
    /// state first and the wrap-up that ends with it. Unknown agents are ignored.
    pub(super) fn agent_change(
        &mut self,
        agent: &AgentId,
        now: Timestamp,
        change: impl FnOnce(&mut AgentTrack),
    ) {
        let Some(&i) = self.agents.index.get(agent) else {
            return;
        };
        self.agent_change_at(i, now, change);
    }

    fn agent_change_at(&mut self, i: usize, now: Timestamp, change: impl FnOnce(&mut AgentTrack)) {
        self.agents
            .spend(i, now, &self.intervals, self.measure_from);
        let track = &mut self.agents.tracks[i];
        if let Some(old) = track.category() {
            self.agents.count[old] -= 1;
        }
        let was_wrapping = track.wrap_up;
        change(track);
        track.since = now;
        if let Some(new) = track.category() {
            self.agents.count[new] += 1;
        }
        if was_wrapping
            && !track.wrap_up
            && let Some(wrap) = track.wrap.take()
        {
            let ms = now.as_millis().saturating_sub(wrap.since.as_millis());
            track.handle_ms += ms;
            self.queues.counters[wrap.queue][wrap.interval].handle_ms += ms;
        }
    }

    /// An agent logs in at their site, not ready.
    pub(super) fn on_agent_logged_in(&mut self, now: Timestamp, login: &AgentLoggedIn) {
        // Time until now counts in the old profile and site; the new ones from now.
        if let Some(&i) = self.agents.index.get(&login.agent) {
            self.agent_change_at(i, now, |_| {});
        }
        let i = self.agents.track(login, now);
        self.agent_change_at(i, now, |a| {
            a.logged_in = true;
            a.not_ready = true;
            a.reason = Some(Arc::from("after_login"));
        });
    }

    pub(super) fn on_agent_ready(&mut self, now: Timestamp, agent: &AgentId) {
        self.agent_change(agent, now, |a| {
            a.not_ready = false;
            a.wrap_up = false;
            a.reason = None;
        });
    }

    pub(super) fn on_agent_not_ready(
        &mut self,
        now: Timestamp,
        agent: &AgentId,
        reason: &Arc<str>,
    ) {
        self.agent_change(agent, now, |a| {
            a.not_ready = true;
            a.wrap_up = false;
            a.reason = Some(Arc::clone(reason));
        });
    }

    pub(super) fn on_agent_logged_out(&mut self, now: Timestamp, agent: &AgentId) {
        self.agent_change(agent, now, |a| {
            a.logged_in = false;
            a.wrap_up = false;
            a.holds = 0;
        });
    }

    /// Wrap-up starts: it counts from now, for the handling just released.
    pub(super) fn on_wrap_up_started(&mut self, now: Timestamp, agent: &AgentId) {
        self.agent_change(agent, now, |a| {
            a.wrap_up = true;
            if let Some(wrap) = &mut a.wrap {
                wrap.since = now;
            }
        });
    }

    pub(super) fn on_wrap_up_ended(&mut self, now: Timestamp, agent: &AgentId) {
        self.agent_change(agent, now, |a| a.wrap_up = false);
    }

    /// The agent takes a contact.
    pub(super) fn agent_took(&mut self, now: Timestamp, agent: &AgentId) {
        self.agent_change(agent, now, |a| a.holds += 1);
    }

    /// The agent lets a contact go; a handling that counts is theirs, and so is the wrap-up
    /// that may follow.
    pub(super) fn agent_let_go(
        &mut self,
        now: Timestamp,
        agent: &AgentId,
        handling: Option<(WrapOf, Channel, u64)>,
    ) {
        self.agent_change(agent, now, |a| {
            a.holds = a.holds.saturating_sub(1);
            a.wrap = None;
            if let Some((wrap, channel, ms)) = handling {
                a.wrap = Some(wrap);
                a.handled.set(channel, a.handled.get(channel) + 1);
                a.handle_ms += ms;
            }
        });
    }

    /// Ends every agent's current state at the end of the window.
    pub(super) fn close_agents(&mut self, end: Timestamp) {
        for i in 0..self.agents.tracks.len() {
            self.agent_change_at(i, end, |a| a.wrap_up = false);
        }
    }
}
