//! NATS subjects of the wire contract, and what each one asks for.
//!
//! Every subject starts with a configurable prefix (`switchboard` by default; it may have several
//! tokens, e.g. `council.switchboard`). Written `{p}` below:
//!
//! | subject | what |
//! |---|---|
//! | `{p}.cmd.contact.<verb>` | contact commands (request/reply): `create`, `abandon`, `complaint_stage`, `extend_due` |
//! | `{p}.cmd.customer.<verb>` | customer commands: `persistent_complainant` |
//! | `{p}.cmd.privacy.erase` | erasure of a customer's personal data (an administrator's) |
//! | `{p}.cmd.agent.<agent_id>.<verb>` | agent commands: `login`, `ready`, `not_ready`, `logout`, `accept`, `reject`, `complete`, `escalate`, `transfer` |
//! | `{p}.inbox.…` | the same commands, durable fire-and-forget intake through JetStream |
//! | `{p}.query.queues`, `{p}.query.agents`, `{p}.query.contact` | read-only queries |
//! | `{p}.events.<event_type>` | every event, published by the engine |
//! | `{p}.agent.<agent_id>.offer`, `{p}.agent.<agent_id>.<notice>` | what one desktop receives |

use std::fmt;

use switchboard_core::AgentId;

use crate::error::WireError;
use crate::names::{IdKind, check_id};

/// The default subject prefix.
pub const DEFAULT_PREFIX: &str = "switchboard";

/// The longest prefix, in bytes.
pub const PREFIX_BYTES_MAX: usize = 128;

/// The subjects of one engine, built from its prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
}

impl Default for Subjects {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_PREFIX.to_owned(),
        }
    }
}

/// What a subject asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// A command; agent commands carry the agent id from the subject. Subjects under
    /// `{p}.inbox.` map to the same routes as those under `{p}.cmd.`.
    Command(CommandKind, Option<AgentId>),
    /// A read-only query.
    Query(QueryKind),
}

/// The commands of the contract, one per subject verb.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum CommandKind {
    /// `{p}.cmd.contact.create`.
    CreateContact,
    /// `{p}.cmd.contact.abandon`.
    AbandonContact,
    /// `{p}.cmd.agent.<id>.login`.
    Login,
    /// `{p}.cmd.agent.<id>.ready`.
    Ready,
    /// `{p}.cmd.agent.<id>.not_ready`.
    NotReady,
    /// `{p}.cmd.agent.<id>.logout`.
    Logout,
    /// `{p}.cmd.agent.<id>.accept`.
    Accept,
    /// `{p}.cmd.agent.<id>.reject`.
    Reject,
    /// `{p}.cmd.agent.<id>.complete`.
    Complete,
    /// `{p}.cmd.agent.<id>.escalate`.
    Escalate,
    /// `{p}.cmd.agent.<id>.transfer`.
    Transfer,
    /// `{p}.cmd.contact.complaint_stage`: a complaint moves on a stage.
    ChangeComplaintStage,
    /// `{p}.cmd.contact.extend_due`: a due time moves back by working days.
    ExtendDueTime,
    /// `{p}.cmd.customer.persistent_complainant`: a designation is made or lifted.
    MarkPersistentComplainant,
    /// `{p}.cmd.privacy.erase`: a customer's personal data is erased (an administrator's
    /// command: NATS permissions keep it from everyone else).
    ErasePersonalData,
}

impl CommandKind {
    /// Every command, in declaration order.
    pub const ALL: [Self; 15] = [
        Self::CreateContact,
        Self::AbandonContact,
        Self::Login,
        Self::Ready,
        Self::NotReady,
        Self::Logout,
        Self::Accept,
        Self::Reject,
        Self::Complete,
        Self::Escalate,
        Self::Transfer,
        Self::ChangeComplaintStage,
        Self::ExtendDueTime,
        Self::MarkPersistentComplainant,
        Self::ErasePersonalData,
    ];

    /// The subject's last token: `create`, `abandon`, `login`, `ready`, `not_ready`...
    #[must_use]
    pub const fn verb(self) -> &'static str {
        match self {
            Self::CreateContact => "create",
            Self::AbandonContact => "abandon",
            Self::Login => "login",
            Self::Ready => "ready",
            Self::NotReady => "not_ready",
            Self::Logout => "logout",
            Self::Accept => "accept",
            Self::Reject => "reject",
            Self::Complete => "complete",
            Self::Escalate => "escalate",
            Self::Transfer => "transfer",
            Self::ChangeComplaintStage => "complaint_stage",
            Self::ExtendDueTime => "extend_due",
            Self::MarkPersistentComplainant => "persistent_complainant",
            Self::ErasePersonalData => "erase",
        }
    }

    /// What the command is about, the subject's token after `cmd`: `contact`, `agent`,
    /// `customer` or `privacy`.
    #[must_use]
    pub const fn noun(self) -> &'static str {
        match self {
            Self::CreateContact
            | Self::AbandonContact
            | Self::ChangeComplaintStage
            | Self::ExtendDueTime => "contact",
            Self::MarkPersistentComplainant => "customer",
            Self::ErasePersonalData => "privacy",
            Self::Login
            | Self::Ready
            | Self::NotReady
            | Self::Logout
            | Self::Accept
            | Self::Reject
            | Self::Complete
            | Self::Escalate
            | Self::Transfer => "agent",
        }
    }

    /// Whether the subject names an agent (`{p}.cmd.agent.<id>.<verb>`).
    #[must_use]
    pub const fn is_agent_command(self) -> bool {
        matches!(self.noun().as_bytes(), b"agent")
    }

    /// The command of a subject `{p}.cmd.<noun>.<verb>` (agent commands have an id between).
    fn of(noun: &str, verb: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.noun() == noun && kind.verb() == verb)
    }
}

impl fmt::Display for CommandKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.noun(), self.verb())
    }
}

/// The read-only queries.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum QueryKind {
    /// `{p}.query.queues`: live figures per queue.
    Queues,
    /// `{p}.query.agents`: every agent's presence and work.
    Agents,
    /// `{p}.query.contact`: one contact's status and history.
    Contact,
}

impl QueryKind {
    /// Every query.
    pub const ALL: [Self; 3] = [Self::Queues, Self::Agents, Self::Contact];

    /// The subject's last token.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queues => "queues",
            Self::Agents => "agents",
            Self::Contact => "contact",
        }
    }
}

impl Subjects {
    /// Subjects under `prefix`: one or more `.`-separated tokens, each non-empty, with no
    /// whitespace, control characters or wildcards (`*`, `>`).
    ///
    /// # Errors
    /// [`WireError`] (`invalid_message`) naming what is wrong with the prefix.
    pub fn new(prefix: &str) -> Result<Self, WireError> {
        if prefix.len() > PREFIX_BYTES_MAX {
            return Err(WireError::invalid(format!(
                "subject prefix is {} bytes long, more than {PREFIX_BYTES_MAX}",
                prefix.len()
            )));
        }
        for token in prefix.split('.') {
            check_id("subject prefix", token, IdKind::Agent).map_err(|_| {
                WireError::invalid(format!(
                    "subject prefix `{prefix}` must be non-empty tokens separated by `.`, \
                     with no whitespace, control characters, `*` or `>`"
                ))
            })?;
        }
        Ok(Self {
            prefix: prefix.to_owned(),
        })
    }

    /// The prefix.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `{p}.cmd.>`: every command, for the request/reply subscription.
    #[must_use]
    pub fn commands(&self) -> String {
        format!("{}.cmd.>", self.prefix)
    }

    /// `{p}.inbox.>`: every command of the durable intake (a JetStream stream's subjects).
    #[must_use]
    pub fn inbox(&self) -> String {
        format!("{}.inbox.>", self.prefix)
    }

    /// `{p}.query.>`: every query.
    #[must_use]
    pub fn queries(&self) -> String {
        format!("{}.query.>", self.prefix)
    }

    /// `{p}.events.>`: every published event (a JetStream stream's subjects).
    #[must_use]
    pub fn events_wildcard(&self) -> String {
        format!("{}.events.>", self.prefix)
    }

    /// `{p}.events.<event_type>`, e.g. `switchboard.events.offer_made`.
    #[must_use]
    pub fn event(&self, event_type: &str) -> String {
        format!("{}.events.{event_type}", self.prefix)
    }

    /// `{p}.agent.<agent_id>.offer`: where the agent's desktop receives offers.
    #[must_use]
    pub fn agent_offer(&self, agent: &AgentId) -> String {
        self.agent_notice(agent, "offer")
    }

    /// `{p}.agent.<agent_id>.<notice>`: the desktop's other notices (see [`crate::AgentNotice`]).
    #[must_use]
    pub fn agent_notice(&self, agent: &AgentId, notice: &str) -> String {
        // Joined rather than `format!`ed: every offer and desktop notice builds one, and
        // `core::fmt` took about a thousand instructions for it.
        [self.prefix.as_str(), ".agent.", agent.as_str(), ".", notice].concat()
    }

    /// `{p}.agent.<agent_id>.>`: everything one desktop receives (for its subscription, and for
    /// the NATS permissions that confine it).
    #[must_use]
    pub fn agent_wildcard(&self, agent: &AgentId) -> String {
        format!("{}.agent.{agent}.>", self.prefix)
    }

    /// The request subject of a command: `{p}.cmd.contact.create`, `{p}.cmd.agent.ann.ready`.
    /// `agent` is used only by agent commands; `None` when an agent command has no agent.
    #[must_use]
    pub fn command(&self, kind: CommandKind, agent: Option<&AgentId>) -> Option<String> {
        self.command_under("cmd", kind, agent)
    }

    /// The durable-intake subject of a command: `{p}.inbox.contact.create`...
    #[must_use]
    pub fn inbox_command(&self, kind: CommandKind, agent: Option<&AgentId>) -> Option<String> {
        self.command_under("inbox", kind, agent)
    }

    /// `{p}.query.<kind>`.
    #[must_use]
    pub fn query(&self, kind: QueryKind) -> String {
        format!("{}.query.{}", self.prefix, kind.as_str())
    }

    fn command_under(
        &self,
        root: &str,
        kind: CommandKind,
        agent: Option<&AgentId>,
    ) -> Option<String> {
        let p = &self.prefix;
        let (noun, verb) = (kind.noun(), kind.verb());
        match (kind.is_agent_command(), agent) {
            (true, Some(agent)) => Some(format!("{p}.{root}.{noun}.{agent}.{verb}")),
            (true, None) => None,
            (false, _) => Some(format!("{p}.{root}.{noun}.{verb}")),
        }
    }

    /// What a subject asks for.
    ///
    /// # Errors
    /// [`WireError`] with code `unknown_subject` when the subject is not one of the contract's
    /// (or its agent token breaks the id rules), naming the subject.
    pub fn parse(&self, subject: &str) -> Result<Route, WireError> {
        let unknown = || {
            WireError::unknown_subject(format!(
                "`{}` is not a subject of this engine (under `{}`)",
                truncate(subject),
                self.prefix
            ))
        };
        let rest = subject
            .strip_prefix(self.prefix.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .ok_or_else(unknown)?;
        let tokens: Vec<&str> = rest.split('.').collect();
        match tokens.as_slice() {
            [
                "cmd" | "inbox",
                noun @ ("contact" | "customer" | "privacy"),
                verb,
            ] => CommandKind::of(noun, verb)
                .map(|kind| Route::Command(kind, None))
                .ok_or_else(unknown),
            ["cmd" | "inbox", "agent", agent, verb] => {
                let kind = CommandKind::of("agent", verb).ok_or_else(unknown)?;
                check_id("agent_id", agent, IdKind::Agent).map_err(|e| {
                    WireError::unknown_subject(format!(
                        "`{}`: the agent token is not a valid agent id ({})",
                        truncate(subject),
                        e.message
                    ))
                })?;
                Ok(Route::Command(kind, Some(AgentId::from(*agent))))
            }
            ["query", query] => QueryKind::ALL
                .into_iter()
                .find(|kind| kind.as_str() == *query)
                .map(Route::Query)
                .ok_or_else(unknown),
            _ => Err(unknown()),
        }
    }
}

/// A subject cut short for an error message, so an enormous subject makes a small reply.
fn truncate(subject: &str) -> &str {
    const SHOWN: usize = 200;
    if subject.len() <= SHOWN {
        return subject;
    }
    let mut end = SHOWN;
    while !subject.is_char_boundary(end) {
        end -= 1;
    }
    &subject[..end]
}
