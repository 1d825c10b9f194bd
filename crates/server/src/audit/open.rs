//! `switchboard audit open`: the contacts still open in an event log (waiting, ringing, being
//! handled or held out of hours), longest wait first, each with where it is and how long the
//! customer has waited; a table for people, `--json` for scripts.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::{Value, json};
use switchboard_core::State;
use switchboard_core::state::{Contact, ContactStatus};

/// `switchboard audit open`.
#[derive(Debug, clap::Args)]
pub(crate) struct OpenArgs {
    #[command(flatten)]
    source: crate::logsource::LogSource,
    /// Print the contacts as JSON (for scripts) instead of a table.
    #[arg(long)]
    json: bool,
}

/// One open contact, as the table and the JSON show it.
struct OpenContact<'a> {
    contact: &'a Contact,
    /// `waiting`, `offered`, `assigned` or `held`.
    status: &'static str,
    /// The agent it is offered or assigned to.
    agent: Option<&'a str>,
    /// Waited from first contact to the log's last event, in seconds.
    waited_secs: u64,
}

/// Rebuilds the state from the whole log and lists its open contacts, longest wait first.
/// Waits are counted from the customer's first contact up to the log's last event (not to the
/// time the command runs: a stopped engine's contacts are not waiting meanwhile, and a
/// running engine's last event is at most moments old).
pub(crate) fn open(args: &OpenArgs) -> Result<ExitCode> {
    let (state, _) = crate::replay::replay_log(&args.source, args.json)?;

    let as_of = state.clock();
    let mut open: Vec<OpenContact<'_>> = state
        .contacts()
        .map(|contact| {
            let (status, agent) = match &contact.status {
                ContactStatus::Queued => ("waiting", None),
                ContactStatus::Offered { agent, .. } => ("offered", Some(*agent)),
                ContactStatus::Assigned { agent, .. } => ("assigned", Some(*agent)),
                ContactStatus::Held { .. } => ("held", None),
            };
            OpenContact {
                contact,
                status,
                agent: agent.map(|a| state.agent_at(a).id.as_str()),
                waited_secs: (as_of - contact.first_arrived_at).as_secs(),
            }
        })
        .collect();
    open.sort_by(|a, b| {
        b.waited_secs
            .cmp(&a.waited_secs)
            .then_with(|| a.contact.id.cmp(&b.contact.id))
    });

    if args.json {
        let contacts: Vec<Value> = open.iter().map(|o| to_json(&state, o)).collect();
        say!(
            "{}",
            json!({ "as_of": as_of.to_string(), "open": contacts.len(), "contacts": contacts })
        );
        return Ok(ExitCode::SUCCESS);
    }
    if open.is_empty() {
        say!("No contact is open as of the log's last event, at {as_of}.");
        return Ok(ExitCode::SUCCESS);
    }
    say!(
        "{} contacts open as of the log's last event, at {as_of} (waits are counted from the \
         customer's first contact up to then), longest wait first:",
        open.len()
    );
    say!(
        "{:<24} {:<13} {:<24} {:<14} {:<22} {:>8} {:>5} {:>5}",
        "contact",
        "channel",
        "service",
        "site",
        "status",
        "waited s",
        "step",
        "tier"
    );
    for o in &open {
        let c = o.contact;
        let status = match (o.status, o.agent, &c.status) {
            (_, Some(agent), _) => format!("{} {agent}", o.status),
            (_, None, ContactStatus::Held { until }) => format!("held until {until}"),
            (status, None, _) => status.to_owned(),
        };
        let mut flags = String::new();
        if c.safeguarding {
            flags.push_str(" SAFEGUARDING");
        }
        if c.vulnerable {
            flags.push_str(" vulnerable");
        }
        say!(
            "{:<24} {:<13} {:<24} {:<14} {:<22} {:>8} {:>5} {:>5}{flags}",
            c.id.as_str(),
            c.channel.as_str(),
            state.service_name(c.service).as_str(),
            site(&state, c).unwrap_or("-"),
            status,
            o.waited_secs,
            c.placement.step,
            c.profile.tier.get()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The site a contact names (where a walk-in stands), if any.
fn site<'s>(state: &'s State, contact: &Contact) -> Option<&'s str> {
    contact
        .profile
        .site
        .map(|site| state.site_name(site).as_str())
}

fn to_json(state: &State, o: &OpenContact<'_>) -> Value {
    let c = o.contact;
    let (since, held_until) = match &c.status {
        ContactStatus::Assigned { since, .. } => (Some(since.to_string()), None),
        ContactStatus::Held { until } => (None, Some(until.to_string())),
        ContactStatus::Queued | ContactStatus::Offered { .. } => (None, None),
    };
    json!({
        "contact_id": c.id.as_str(),
        "channel": c.channel.as_str(),
        "service": state.service_name(c.service).as_str(),
        "site": site(state, c),
        "status": o.status,
        "agent_id": o.agent,
        "assigned_since": since,
        "held_until": held_until,
        "first_arrived_at": c.first_arrived_at.to_string(),
        "queued_at": c.queued_at.to_string(),
        "waited_seconds": o.waited_secs,
        "plan_step": c.placement.step,
        "tier": c.profile.tier.get(),
        "safeguarding": c.safeguarding,
        "vulnerable": c.vulnerable,
        "customer_id": c.customer.as_ref().map(|id| id.as_str()),
    })
}
