//! The command side of the wire contract: subjects, bodies, errors.

use std::sync::Arc;

use proptest::prelude::*;
use switchboard_core::{
    AgentId, AgentLogin, Channel, Command, ComplaintStage, Level, NewContact, OfferId, Outcome,
    PerChannel, Priority, Rejection, RejectionCode, SkillRequirement, Tier, Timestamp,
};
use switchboard_wire::command::CommandBody;
use switchboard_wire::{
    CommandKind, ErrorCode, Format, PAYLOAD_BYTES_MAX, QueryKind, Route, Subjects, WireError,
    decode_command,
};

/// One command of every kind, and of every kind's optional shapes.
fn every_command() -> Vec<Command> {
    let mut commands = contact_commands();
    commands.extend(agent_commands());
    commands.extend(work_in_hand_commands());
    commands.extend(complaint_commands());
    commands
}

/// A walk-in with every detail a contact can carry.
fn a_contact_with_every_detail() -> NewContact {
    let mut contact = NewContact::routine("c-1", Channel::FaceToFace, "council_tax");
    contact.skills = vec![
        SkillRequirement {
            skill: "council_tax".into(),
            min_level: Level::new(2).expect("level"),
        },
        SkillRequirement {
            skill: "benefits".into(),
            min_level: Level::MIN,
        },
    ];
    contact.language = Some("polish".into());
    contact.priority = Priority::new(7).expect("priority");
    contact.safeguarding = true;
    contact.vulnerable = true;
    contact.customer = Some("cust-9".into());
    contact.preferred_agent = Some("ann".into());
    contact.site = Some("town_hall".into());
    contact.due_at = Some(Timestamp::from_millis(1_795_424_400_123));
    contact.received_at = Some(Timestamp::from_millis(1_795_420_000_000));
    contact.complaint_stage = Some(ComplaintStage::Stage2);
    contact.attributes = vec![
        (Arc::from("caller_number"), Arc::from("+44 1632 960000")),
        (Arc::from("ivr_path"), Arc::from("1>3>2")),
    ];
    contact
}

/// Contacts arriving (with every detail, and routine) and abandoned.
fn contact_commands() -> Vec<Command> {
    vec![
        Command::CreateContact(Box::new(a_contact_with_every_detail())),
        Command::CreateContact(Box::new(NewContact::routine(
            "c-2",
            Channel::Email,
            "housing",
        ))),
        Command::AbandonContact {
            contact: "c-1".into(),
        },
    ]
}

/// An agent's logins (with every detail, and the least), presence and offer answers.
fn agent_commands() -> Vec<Command> {
    let ann = AgentId::from("ann");
    vec![
        Command::LoginAgent(Box::new(AgentLogin {
            agent: ann.clone(),
            name: "Ann Example".into(),
            tier: Tier::new(2).expect("tier"),
            site: "town_hall".into(),
            skills: vec![
                ("benefits".into(), Level::new(4).expect("level")),
                ("council_tax".into(), Level::MAX),
            ],
            channels: Some(PerChannel([1, 1, 3, 5, 0])),
        })),
        Command::LoginAgent(Box::new(AgentLogin {
            agent: ann.clone(),
            name: "ann".into(),
            tier: Tier::FIRST,
            site: "phones".into(),
            skills: vec![("council_tax".into(), Level::MIN)],
            channels: None,
        })),
        Command::MakeReady { agent: ann.clone() },
        Command::MakeNotReady {
            agent: ann.clone(),
            reason: "lunch".into(),
        },
        Command::LogoutAgent {
            agent: ann.clone(),
            force: true,
        },
        Command::AcceptOffer {
            agent: ann.clone(),
            offer: OfferId::new(42),
        },
        Command::RejectOffer {
            agent: ann.clone(),
            offer: OfferId::new(43),
            reason: Some("wrong language".into()),
        },
        Command::RejectOffer {
            agent: ann,
            offer: OfferId::new(44),
            reason: None,
        },
    ]
}

/// What an agent does with a contact in hand: complete, escalate, transfer.
fn work_in_hand_commands() -> Vec<Command> {
    let ann = AgentId::from("ann");
    vec![
        Command::CompleteContact {
            agent: ann.clone(),
            contact: "c-1".into(),
            outcome: Outcome::NoAction,
        },
        Command::EscalateContact {
            agent: ann.clone(),
            contact: "c-1".into(),
            reason: "needs a team leader".into(),
            to_tier: Some(Tier::new(4).expect("tier")),
        },
        Command::TransferContact {
            agent: ann,
            contact: "c-1".into(),
            service: "benefits".into(),
            skills: vec![SkillRequirement {
                skill: "benefits".into(),
                min_level: Level::new(3).expect("level"),
            }],
        },
    ]
}

/// Complaints and working-day clocks: stage changes, due-time extensions, designation.
fn complaint_commands() -> Vec<Command> {
    let ann = AgentId::from("ann");
    vec![
        Command::ChangeComplaintStage {
            contact: "c-1".into(),
            agent: Some(ann.clone()),
            to: ComplaintStage::Ombudsman,
            reason: "referred by the Ombudsman".into(),
            received_at: Some(Timestamp::from_millis(1_795_420_000_000)),
            due_at: Some(Timestamp::from_millis(1_796_000_000_000)),
        },
        Command::ChangeComplaintStage {
            contact: "c-1".into(),
            agent: None,
            to: ComplaintStage::Stage2,
            reason: "the customer asked".into(),
            received_at: None,
            due_at: None,
        },
        Command::ExtendDueTime {
            contact: "c-1".into(),
            agent: Some(ann),
            working_days: 10,
            reason: "waiting for the contractor's report".into(),
        },
        Command::ExtendDueTime {
            contact: "c-1".into(),
            agent: None,
            working_days: 1,
            reason: "x".into(),
        },
        Command::MarkPersistentComplainant {
            customer: "cust.9".into(),
            designated: false,
            reason: "designation reviewed and lifted".into(),
        },
        // As the wire reads it: the reference as given, no pseudonym yet (the node's).
        Command::ErasePersonalData {
            customer: Some("cust.9".into()),
            subject: "".into(),
            reason: switchboard_core::ErasureReason::Request,
        },
    ]
}

#[test]
fn every_command_kind_has_a_body() {
    let kinds: Vec<CommandKind> = every_command()
        .iter()
        .map(|c| CommandBody::from_command(c, None).0.kind())
        .collect();
    for kind in CommandKind::ALL {
        assert!(kinds.contains(&kind), "{kind} is not in every_command()");
    }
}

#[test]
fn new_commands_have_their_subjects() {
    let subjects = Subjects::default();
    for (kind, subject) in [
        (
            CommandKind::ChangeComplaintStage,
            "switchboard.cmd.contact.complaint_stage",
        ),
        (
            CommandKind::ExtendDueTime,
            "switchboard.cmd.contact.extend_due",
        ),
        (
            CommandKind::MarkPersistentComplainant,
            "switchboard.cmd.customer.persistent_complainant",
        ),
    ] {
        assert_eq!(subjects.command(kind, None).as_deref(), Some(subject));
        assert_eq!(subjects.parse(subject), Ok(Route::Command(kind, None)));
        assert_eq!(kind.to_string(), subject["switchboard.cmd.".len()..]);
        assert!(!kind.is_agent_command());
    }
}

#[test]
fn a_minimal_extend_due_and_stage_change_read_with_defaults() {
    let decoded = decode_command(
        CommandKind::ExtendDueTime,
        None,
        br#"{"contact_id":"e1","working_days":2,"reason":"waiting for a report"}"#,
        Format::Json,
    )
    .expect("valid");
    assert_eq!(
        decoded.command,
        Command::ExtendDueTime {
            contact: "e1".into(),
            agent: None,
            working_days: 2,
            reason: "waiting for a report".into(),
        }
    );
    let decoded = decode_command(
        CommandKind::ChangeComplaintStage,
        None,
        br#"{"contact_id":"e1","to":"stage_2","reason":"asked","received_at":"2026-11-23T09:00:00+01:00"}"#,
        Format::Json,
    )
    .expect("valid");
    assert_eq!(
        decoded.command,
        Command::ChangeComplaintStage {
            contact: "e1".into(),
            agent: None,
            to: ComplaintStage::Stage2,
            reason: "asked".into(),
            received_at: Some(Timestamp::from_millis(1_795_420_800_000)),
            due_at: None,
        }
    );
}

#[test]
fn every_command_round_trips_through_json_and_postcard_and_its_subject() {
    let subjects = Subjects::default();
    for format in [Format::Json, Format::Postcard] {
        for command in every_command() {
            let (body, agent) = CommandBody::from_command(&command, Some("cmd-1"));
            let subject = subjects
                .command(body.kind(), agent.as_ref())
                .expect("a subject");
            let Ok(Route::Command(kind, agent)) = subjects.parse(&subject) else {
                panic!("{subject} does not parse as a command");
            };
            assert_eq!(kind, body.kind());
            let bytes = body.encode(format).expect("encodes");
            let decoded = decode_command(kind, agent.as_ref(), &bytes, format)
                .unwrap_or_else(|e| panic!("{command:?} in {format:?}: {e}"));
            assert_eq!(decoded.command, command, "{format:?}");
            assert_eq!(decoded.command_id.as_deref(), Some("cmd-1"));
        }
    }
}

#[test]
fn a_minimal_create_reads_with_defaults() {
    let body = br#"{"contact_id":"call-1","channel":"phone","service":"council_tax"}"#;
    let decoded =
        decode_command(CommandKind::CreateContact, None, body, Format::Json).expect("valid");
    assert_eq!(
        decoded.command,
        Command::CreateContact(Box::new(NewContact::routine(
            "call-1",
            Channel::Phone,
            "council_tax"
        )))
    );
    assert_eq!(decoded.command_id, None);
}

#[test]
fn an_empty_body_is_an_empty_object() {
    let ann = AgentId::from("ann");
    for format in [Format::Json, Format::Postcard] {
        let decoded =
            decode_command(CommandKind::Ready, Some(&ann), b"", format).expect("ready needs none");
        assert_eq!(decoded.command, Command::MakeReady { agent: ann.clone() });
    }
    let error = decode_command(CommandKind::NotReady, Some(&ann), b"", Format::Json)
        .expect_err("not_ready needs a reason");
    assert!(error.message.contains("reason"), "{error}");
}

#[test]
fn channels_left_out_of_a_login_take_nothing() {
    let ann = AgentId::from("ann");
    let body = br#"{"tier":1,"site":"s","skills":{"chat":2},"channels":{"chat":4}}"#;
    let decoded = decode_command(CommandKind::Login, Some(&ann), body, Format::Json).expect("ok");
    let Command::LoginAgent(login) = decoded.command else {
        panic!("not a login");
    };
    assert_eq!(login.channels, Some(PerChannel([0, 0, 4, 0, 0])));
    assert_eq!(&*login.name, "ann", "the name defaults to the agent id");
}

#[test]
fn content_types_choose_the_format() {
    assert_eq!(Format::from_content_type(None), Format::Json);
    assert_eq!(
        Format::from_content_type(Some("application/json")),
        Format::Json
    );
    assert_eq!(
        Format::from_content_type(Some("Application/Postcard; v=1")),
        Format::Postcard
    );
    assert_eq!(Format::from_content_type(Some("text/plain")), Format::Json);
}

/// Bodies refused as `invalid_message`, one a line: the command's kind, the body, and a word the
/// refusal's message must contain.
const INVALID_BODIES: &str = r#"
CreateContact             | {not json | JSON
CreateContact             | [1,2] | object
CreateContact             | 42 | object
CreateContact             | {} | contact_id
CreateContact             | {"contact_id":"c1","service":"tax"} | channel
CreateContact             | {"contact_id":"c1","channel":"fax","service":"tax"} | fax
CreateContact             | {"contact_id":7,"channel":"phone","service":"tax"} | contact_id
CreateContact             | {"contact_id":"c1","channel":"phone","service":"tax","priority":10} | priority
CreateContact             | {"contact_id":"c1","channel":"phone","service":"tax","priority":300} | priority
CreateContact             | {"contact_id":"c1","channel":"phone","service":"tax","priority":-1} | priority
CreateContact             | {"contact_id":"c1","channel":"phone","service":"tax","priority":"high"} | priority
CreateContact             | {"contact_id":"c1","channel":"phone","service":"tax","safegaurding":true} | safegaurding
CreateContact             | {"contact_id":"c1","channel":"phone","service":"tax","skills":[{"skill":"tax","min_level":0}]} | skills[0].min_level
CreateContact             | {"contact_id":"c1","channel":"phone","service":"tax","skills":[{"skill":"tax","min_level":6}]} | min_level
CreateContact             | {"contact_id":"c1","channel":"phone","service":"tax","skills":[{"skill":"tax","min_level":1},{"skill":"tax","min_level":2}]} | twice
CreateContact             | {"contact_id":"c1","channel":"phone","service":"tax","skills":[{"skill":"tax","min_level":1,"level":2}]} | level
CreateContact             | {"contact_id":"c1","channel":"phone","service":"tax","service":"housing"} | duplicate field `service`
CreateContact             | {"contact_id":"c1","channel":"phone","service":"tax","attributes":{"a":"1","a":"2"}} | key `a` is given twice
CreateContact             | {"contact_id":"c1","channel":"phone","service":"tax","due_at":"tomorrow"} | due_at
CreateContact             | {"contact_id":"c1","channel":"phone","service":"tax","due_at":"1969-01-01T00:00:00Z"} | due_at
CreateContact             | {"contact_id":"c1","channel":"phone","service":"tax","complaint_stage":"stage_3"} | complaint_stage
CreateContact             | {"contact_id":"c1","channel":"phone","service":"tax","preferred_agent_id":"ann.smith"} | preferred_agent_id
CreateContact             | {"contact_id":"c1","channel":"phone","service":"tax","language":""} | language
CreateContact             | {"contact_id":"c 1","channel":"phone","service":"tax"} | contact_id
CreateContact             | {"contact_id":"c*","channel":"phone","service":"tax"} | contact_id
CreateContact             | {"contact_id":"c1","channel":"face_to_face","service":"tax"} | site
CreateContact             | {"contact_id":"c1","channel":"phone","service":"tax","attributes":{"a":1}} | attributes
CreateContact             | {"contact_id":"c1","channel":"phone","service":"tax","command_id":""} | command_id
CreateContact             | {"contact_id":"c1","channel":"phone","service":"tax"} trailing} | trailing
AbandonContact            | {"contact_id":""} | contact_id
Login                     | {"tier":0,"site":"s","skills":{"tax":1}} | tier
Login                     | {"tier":6,"site":"s","skills":{"tax":1}} | tier
Login                     | {"tier":1,"site":"s","skills":{}} | skills
Login                     | {"tier":1,"site":"s","skills":{"tax":1,"tax":5}} | key `tax` is given twice
Login                     | {"tier":1,"site":"s","skills":{"tax":9}} | skills.tax
Login                     | {"tier":1,"site":"s","skills":{"tax":1},"channels":{"fax":1}} | fax
Login                     | {"tier":1,"site":"s","skills":{"tax":1},"channels":{"chat":51}} | channels.chat
Login                     | {"tier":1,"site":"s","skills":{"tax":1},"agent_id":"bob"} | bob
Ready                     | {"agent_id":"bob"} | agent_id
NotReady                  | {"reason":"  "} | reason
Logout                    | {"force":"yes"} | force
Accept                    | {} | offer_id
Accept                    | {"offer_id":-3} | offer_id
Reject                    | {"offer_id":1,"reason":"a\u0000b"} | reason
Complete                  | {"contact_id":"c1","outcome":"sorted"} | outcome
Escalate                  | {"contact_id":"c1","reason":"x","to_tier":7} | to_tier
Escalate                  | {"contact_id":"c1"} | reason
Transfer                  | {"contact_id":"c1"} | service
ChangeComplaintStage      | {"contact_id":"c1","to":"stage_3","reason":"r"} | stage_3
ChangeComplaintStage      | {"contact_id":"c1","to":"stage_2","reason":"  "} | reason
ChangeComplaintStage      | {"contact_id":"c1","to":"stage_2"} | reason
ChangeComplaintStage      | {"contact_id":"c1","to":"stage_2","reason":"r","agent_id":"a.b"} | agent_id
ChangeComplaintStage      | {"contact_id":"c1","to":"stage_2","reason":"r","due_at":"tomorrow"} | due_at
ChangeComplaintStage      | {"contact_id":"c1","to":"stage_2","reason":"r","stage":"x"} | stage
ExtendDueTime             | {"contact_id":"c1","working_days":0,"reason":"r"} | working_days
ExtendDueTime             | {"contact_id":"c1","working_days":61,"reason":"r"} | working_days
ExtendDueTime             | {"contact_id":"c1","working_days":-1,"reason":"r"} | working_days
ExtendDueTime             | {"contact_id":"c1","working_days":2,"reason":""} | reason
ExtendDueTime             | {"contact_id":"","working_days":2,"reason":"r"} | contact_id
MarkPersistentComplainant | {"customer_id":"u1","reason":"r"} | designated
MarkPersistentComplainant | {"customer_id":"u 1","designated":true,"reason":"r"} | customer_id
MarkPersistentComplainant | {"customer_id":"u1","designated":true,"reason":"\t"} | reason
"#;

/// (subject kind, body, expected code, a word the message must contain)
fn bad_inputs() -> Vec<(CommandKind, Vec<u8>, ErrorCode, &'static str)> {
    let mut out: Vec<_> = INVALID_BODIES
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut columns = line.splitn(3, " | ");
            let (Some(kind), Some(body), Some(word)) =
                (columns.next(), columns.next(), columns.next())
            else {
                panic!("`{line}` is not `kind | body | word`");
            };
            let kind = CommandKind::ALL
                .into_iter()
                .find(|k| format!("{k:?}") == kind.trim())
                .unwrap_or_else(|| panic!("`{kind}` is not a command kind"));
            (
                kind,
                body.as_bytes().to_vec(),
                ErrorCode::InvalidMessage,
                word,
            )
        })
        .collect();
    out.push((
        CommandKind::CreateContact,
        vec![b' '; PAYLOAD_BYTES_MAX + 1],
        ErrorCode::PayloadTooLarge,
        "65536",
    ));
    out
}

#[test]
fn bad_input_is_refused_with_its_code_and_a_message_naming_the_problem() {
    let ann = AgentId::from("ann");
    for (kind, body, code, word) in bad_inputs() {
        let agent = kind.is_agent_command().then_some(&ann);
        let shown = String::from_utf8_lossy(&body[..body.len().min(120)]).into_owned();
        match decode_command(kind, agent, &body, Format::Json) {
            Ok(decoded) => panic!("{kind} {shown} was accepted as {decoded:?}"),
            Err(error) => {
                assert_eq!(error.code, code, "{kind} {shown}: {error}");
                assert!(
                    error.message.contains(word),
                    "{kind} {shown}: `{error}` does not mention `{word}`"
                );
            }
        }
    }
}

#[test]
fn postcard_bodies_that_are_short_or_too_long_are_refused() {
    let ann = AgentId::from("ann");
    let (body, _) = CommandBody::from_command(
        &Command::AcceptOffer {
            agent: ann.clone(),
            offer: OfferId::new(7),
        },
        None,
    );
    let mut bytes = body.encode(Format::Postcard).expect("encodes");
    bytes.push(0);
    let error = decode_command(CommandKind::Accept, Some(&ann), &bytes, Format::Postcard)
        .expect_err("trailing byte");
    assert_eq!(error.code, ErrorCode::InvalidMessage);
    assert!(error.message.contains("trailing"), "{error}");
    let error =
        decode_command(CommandKind::Login, Some(&ann), &[1], Format::Postcard).expect_err("short");
    assert_eq!(error.code, ErrorCode::InvalidMessage);
}

#[test]
fn agent_commands_need_a_valid_agent_in_the_subject() {
    let error = decode_command(CommandKind::Ready, None, b"", Format::Json).expect_err("none");
    assert_eq!(error.code, ErrorCode::UnknownSubject);
    let bad = AgentId::from("a b");
    let error = decode_command(CommandKind::Ready, Some(&bad), b"", Format::Json).expect_err("bad");
    assert_eq!(error.code, ErrorCode::UnknownSubject);
}

#[test]
fn subjects_format_and_parse() {
    let subjects = Subjects::new("council.switchboard").expect("valid prefix");
    let ann = AgentId::from("ann-01");
    assert_eq!(subjects.commands(), "council.switchboard.cmd.>");
    assert_eq!(subjects.inbox(), "council.switchboard.inbox.>");
    assert_eq!(subjects.queries(), "council.switchboard.query.>");
    assert_eq!(subjects.events_wildcard(), "council.switchboard.events.>");
    assert_eq!(
        subjects.event("offer_made"),
        "council.switchboard.events.offer_made"
    );
    assert_eq!(
        subjects.agent_offer(&ann),
        "council.switchboard.agent.ann-01.offer"
    );
    assert_eq!(
        subjects.agent_notice(&ann, "state"),
        "council.switchboard.agent.ann-01.state"
    );
    assert_eq!(
        subjects.agent_wildcard(&ann),
        "council.switchboard.agent.ann-01.>"
    );
    for kind in CommandKind::ALL {
        let agent = kind.is_agent_command().then(|| ann.clone());
        for subject in [
            subjects.command(kind, agent.as_ref()),
            subjects.inbox_command(kind, agent.as_ref()),
        ] {
            let subject = subject.expect("a subject");
            assert_eq!(
                subjects.parse(&subject),
                Ok(Route::Command(kind, agent.clone())),
                "{subject}"
            );
        }
    }
    assert_eq!(subjects.command(CommandKind::Ready, None), None);
    for kind in QueryKind::ALL {
        assert_eq!(
            subjects.parse(&subjects.query(kind)),
            Ok(Route::Query(kind))
        );
    }
    assert_eq!(
        Subjects::default().parse("switchboard.cmd.contact.create"),
        Ok(Route::Command(CommandKind::CreateContact, None))
    );
}

#[test]
fn unknown_subjects_are_refused() {
    let subjects = Subjects::default();
    for subject in [
        "",
        "switchboard",
        "switchboard.",
        "switchboardx.cmd.contact.create",
        "other.cmd.contact.create",
        "switchboard.cmd.contact.delete",
        "switchboard.cmd.contact.create.now",
        "switchboard.cmd.agent.ann",
        "switchboard.cmd.agent.ann.dance",
        "switchboard.cmd.agent..ready",
        "switchboard.cmd.agent.*.ready",
        "switchboard.cmd.agent.>.ready",
        "switchboard.cmd.agent.ann.create",
        "switchboard.cmd.agent.ann.extend_due",
        "switchboard.cmd.contact.persistent_complainant",
        "switchboard.cmd.customer.create",
        "switchboard.cmd.customer.cust9.persistent_complainant",
        "switchboard.query.everything",
        "switchboard.events.offer_made",
    ] {
        let error = subjects.parse(subject).expect_err(subject);
        assert_eq!(error.code, ErrorCode::UnknownSubject, "{subject}");
    }
}

#[test]
fn prefixes_with_wildcards_or_empty_tokens_are_refused() {
    for prefix in ["", ".", "a.", ".a", "a..b", "a*", "a.>", "a b", "a\tb"] {
        assert!(Subjects::new(prefix).is_err(), "{prefix:?}");
    }
    assert!(Subjects::new("a.b-c_d").is_ok());
}

#[test]
fn every_rejection_code_maps_to_its_error_code() {
    let codes = [
        (RejectionCode::UnknownAgent, ErrorCode::UnknownAgent),
        (RejectionCode::UnknownContact, ErrorCode::UnknownContact),
        (RejectionCode::UnknownOffer, ErrorCode::UnknownOffer),
        (
            RejectionCode::InvalidTransition,
            ErrorCode::InvalidTransition,
        ),
        (RejectionCode::NotYourOffer, ErrorCode::NotYourOffer),
        (RejectionCode::DuplicateContact, ErrorCode::DuplicateContact),
        (RejectionCode::InvalidCommand, ErrorCode::InvalidCommand),
        (RejectionCode::Closed, ErrorCode::Closed),
    ];
    for (rejection, code) in codes {
        let error = WireError::from(&Rejection {
            code: rejection,
            message: "why".to_owned(),
            opens_at: None,
        });
        assert_eq!(error.code, code);
        assert_eq!(error.code.as_str(), rejection.as_str(), "same wire name");
        assert_eq!(error.message, "why");
        assert_eq!(error.opens_at, None);
    }
    for code in ErrorCode::ALL {
        let json = serde_json::to_string(&code).expect("serializes");
        assert_eq!(json, format!("\"{}\"", code.as_str()));
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "[a-z_ .*>]{0,12}".prop_map(serde_json::Value::from),
        prop_oneof![
            Just("phone"),
            Just("face_to_face"),
            Just("2026-11-23T09:00:00Z"),
            Just("resolved"),
            Just("stage_2"),
            Just("ombudsman")
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        let key = prop_oneof![
            Just("contact_id".to_owned()),
            Just("channel".to_owned()),
            Just("service".to_owned()),
            Just("skills".to_owned()),
            Just("priority".to_owned()),
            Just("tier".to_owned()),
            Just("site".to_owned()),
            Just("offer_id".to_owned()),
            Just("reason".to_owned()),
            Just("due_at".to_owned()),
            Just("attributes".to_owned()),
            Just("channels".to_owned()),
            Just("to".to_owned()),
            Just("working_days".to_owned()),
            Just("customer_id".to_owned()),
            Just("designated".to_owned()),
            Just("received_at".to_owned()),
            "[a-z_]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(key, inner, 0..8)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        kind in prop::sample::select(CommandKind::ALL.to_vec()),
        body in prop::collection::vec(any::<u8>(), 0..256),
        postcard in any::<bool>(),
    ) {
        let ann = AgentId::from("ann");
        let format = if postcard { Format::Postcard } else { Format::Json };
        let _ = decode_command(kind, Some(&ann), &body, format);
    }

    #[test]
    fn arbitrary_json_never_panics(
        kind in prop::sample::select(CommandKind::ALL.to_vec()),
        value in json_value(),
    ) {
        let ann = AgentId::from("ann");
        let body = serde_json::to_vec(&value).expect("a value serializes");
        if let Err(error) = decode_command(kind, Some(&ann), &body, Format::Json) {
            prop_assert!(!error.message.is_empty());
        }
    }

    #[test]
    fn arbitrary_subjects_never_panic(subject in "[a-z.*> ]{0,40}") {
        let _ = Subjects::default().parse(&subject);
        let _ = Subjects::new(&subject);
    }
}
