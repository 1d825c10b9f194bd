//! The JSON Schemas in `docs/schemas` are as strict as the engine wherever JSON Schema can say
//! it: every input of a refusal matrix that the engine refuses for its shape also fails its
//! schema, and every input the engine accepts passes it. What JSON Schema cannot express (byte
//! lengths, a skill named twice, a body naming another agent than its subject, a key given
//! twice) is listed, checked to be refused by the engine and to pass the schema, and written
//! down in `docs/wire.md`.

use jsonschema::Validator;
use serde_json::{Value, json};
use switchboard_core::AgentId;
use switchboard_wire::schema::schemas;
use switchboard_wire::{
    CommandKind, Format, decode_command, decode_contact_query, decode_empty_query,
};

/// What a body is sent to.
#[derive(Copy, Clone, Debug)]
enum Target {
    Command(CommandKind),
    QueryContact,
    QueryQueues,
    QueryAgents,
}

impl Target {
    /// The schema file that describes its body.
    fn schema(self) -> String {
        use CommandKind::*;
        let command = match self {
            Self::QueryContact => return "query.contact.json".to_owned(),
            Self::QueryQueues => return "query.queues.json".to_owned(),
            Self::QueryAgents => return "query.agents.json".to_owned(),
            Self::Command(kind) => kind,
        };
        let group = match command {
            CreateContact | AbandonContact | ChangeComplaintStage | ExtendDueTime => "contact",
            MarkPersistentComplainant => "customer",
            _ => "agent",
        };
        format!("command.{group}.{}.json", command.verb())
    }

    /// The engine's verdict on `body` (agent commands come from agent `ann`'s subject).
    fn engine_accepts(self, body: &[u8]) -> Result<(), String> {
        let ann = AgentId::from("ann");
        let result = match self {
            Self::Command(kind) => {
                let agent = kind.is_agent_command().then_some(&ann);
                decode_command(kind, agent, body, Format::Json).map(drop)
            }
            Self::QueryContact => decode_contact_query(body, Format::Json).map(drop),
            Self::QueryQueues | Self::QueryAgents => {
                decode_empty_query(body, Format::Json).map(drop)
            }
        };
        result.map_err(|e| e.to_string())
    }
}

fn validators() -> Vec<(&'static str, Validator)> {
    schemas()
        .into_iter()
        .map(|(name, schema)| {
            let validator = jsonschema::validator_for(&schema)
                .unwrap_or_else(|e| panic!("{name} is not a valid JSON Schema: {e}"));
            (name, validator)
        })
        .collect()
}

fn validator<'v>(validators: &'v [(&'static str, Validator)], name: &str) -> &'v Validator {
    &validators
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no schema {name}"))
        .1
}

/// `base` with `field` set to `value` (or removed, for `Value::Null` given as `None`).
fn with(base: &Value, field: &str, value: Option<Value>) -> Value {
    let mut body = base.clone();
    let object = body.as_object_mut().expect("bases are objects");
    match value {
        Some(value) => object.insert(field.to_owned(), value),
        None => object.remove(field),
    };
    body
}

fn create() -> Value {
    json!({"contact_id": "c1", "channel": "phone", "service": "tax"})
}
fn login() -> Value {
    json!({"tier": 1, "site": "s", "skills": {"tax": 1}})
}
fn stage() -> Value {
    json!({"contact_id": "c1", "to": "stage_2", "reason": "the customer asked"})
}
fn extend() -> Value {
    json!({"contact_id": "c1", "working_days": 2, "reason": "awaiting a report"})
}

fn skills(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"skill": format!("s{i}"), "min_level": 1}))
            .collect(),
    )
}

fn many(n: usize, value: &Value) -> Value {
    Value::Object((0..n).map(|i| (format!("k{i}"), value.clone())).collect())
}

/// Bodies the engine accepts: each must pass its schema too.
fn accepted() -> Vec<(Target, Value)> {
    use CommandKind::*;
    let full_create = json!({
        "contact_id": "call-1001", "channel": "face_to_face", "service": "council_tax",
        "skills": [{"skill": "council_tax", "min_level": 5}], "language": "polish",
        "priority": 9, "safeguarding": true, "vulnerable": true, "customer_id": "C-42",
        "preferred_agent_id": "ann", "site": "town.hall", "due_at": "2026-11-25T17:00:00Z",
        "received_at": "2026-11-23T10:25:00.123000+01:00", "complaint_stage": "stage_1",
        "attributes": many(32, &json!("x".repeat(1024))), "command_id": "tel-1001.create",
    });
    vec![
        (Target::Command(CreateContact), create()),
        (Target::Command(CreateContact), full_create),
        (
            Target::Command(CreateContact),
            with(&create(), "skills", Some(skills(16))),
        ),
        (
            Target::Command(CreateContact),
            with(&create(), "due_at", Some(json!("1970-01-01T00:00:00Z"))),
        ),
        (
            Target::Command(CreateContact),
            with(&create(), "contact_id", Some(json!("x".repeat(128)))),
        ),
        (Target::Command(Login), login()),
        (
            Target::Command(Login),
            json!({"tier": 5, "site": "s", "skills": many(256, &json!(5)),
                   "channels": {"phone": 1, "chat": 50}, "name": "Ann Jones", "agent_id": "ann"}),
        ),
        (Target::Command(Ready), json!({})),
        (Target::Command(Logout), json!({"force": true})),
        (Target::Command(NotReady), json!({"reason": "lunch"})),
        (
            Target::Command(NotReady),
            json!({"reason": "x".repeat(512)}),
        ),
        (Target::Command(Accept), json!({"offer_id": 1})),
        (
            Target::Command(Reject),
            json!({"offer_id": 1, "reason": ""}),
        ),
        (
            Target::Command(Complete),
            json!({"contact_id": "c1", "outcome": "no_action"}),
        ),
        (
            Target::Command(Escalate),
            json!({"contact_id": "c1", "reason": "r", "to_tier": 5}),
        ),
        (
            Target::Command(Transfer),
            json!({"contact_id": "c1", "service": "housing", "skills": skills(16)}),
        ),
        (Target::Command(AbandonContact), json!({"contact_id": "c1"})),
        (Target::Command(ChangeComplaintStage), stage()),
        (Target::Command(ExtendDueTime), extend()),
        (
            Target::Command(MarkPersistentComplainant),
            json!({"customer_id": "u1", "designated": false, "reason": "lifted"}),
        ),
        (Target::QueryContact, json!({"contact_id": "c1"})),
        (Target::QueryQueues, json!({})),
        (Target::QueryAgents, json!({})),
    ]
}

/// Bodies the engine refuses for their shape (`invalid_message`): each must fail its schema.
fn refused() -> Vec<(Target, Value)> {
    let mut out = Vec::new();
    refused_creates(&mut out);
    refused_logins(&mut out);
    refused_reasons(&mut out);
    refused_others(&mut out);
    out
}

/// `contact.create` bodies refused: each field at fault in turn.
fn refused_creates(out: &mut Vec<(Target, Value)>) {
    use CommandKind::CreateContact;
    out.push((Target::Command(CreateContact), json!([1, 2])));
    out.push((Target::Command(CreateContact), json!(42)));
    let mut add = |target: Target, base: &Value, field: &str, value: Option<Value>| {
        out.push((target, with(base, field, value)));
    };
    let c = Target::Command(CreateContact);
    for bad in [
        json!(""),
        json!("c 1"),
        json!("c*"),
        json!("c>"),
        json!("c\u{0}"),
        json!("c\u{3000}"),
        json!("x".repeat(129)),
        json!(7),
    ] {
        add(c, &create(), "contact_id", Some(bad));
    }
    add(c, &create(), "contact_id", None);
    add(c, &create(), "channel", None);
    add(c, &create(), "channel", Some(json!("fax")));
    add(c, &create(), "service", Some(json!("")));
    add(c, &create(), "service", Some(json!("a b")));
    add(c, &create(), "service", None);
    for bad in [
        json!([{"skill": "tax", "min_level": 0}]),
        json!([{"skill": "tax", "min_level": 6}]),
        json!([{"skill": "tax", "min_level": 255}]),
        json!([{"skill": "", "min_level": 1}]),
        json!([{"skill": "a b", "min_level": 1}]),
        json!([{"skill": "tax"}]),
        json!([{"skill": "tax", "min_level": 1, "level": 2}]),
        skills(17),
    ] {
        add(c, &create(), "skills", Some(bad));
    }
    add(c, &create(), "language", Some(json!("")));
    add(c, &create(), "language", Some(json!("pol ish")));
    for bad in [json!(10), json!(255), json!(-1), json!("high")] {
        add(c, &create(), "priority", Some(bad));
    }
    add(c, &create(), "safeguarding", Some(json!("yes")));
    add(c, &create(), "customer_id", Some(json!("c\tx")));
    add(c, &create(), "preferred_agent_id", Some(json!("ann.smith")));
    add(c, &create(), "preferred_agent_id", Some(json!("")));
    add(c, &create(), "site", Some(json!("a>b")));
    let walk_in = with(&create(), "channel", Some(json!("face_to_face")));
    add(c, &walk_in, "site", None);
    add(c, &walk_in, "site", Some(Value::Null));
    for bad in [
        json!("tomorrow"),
        json!("1969-12-31T23:59:59.999Z"),
        json!("0001-01-01T00:00:00Z"),
        json!("2026-11-23T10:25:00.1234Z"),
        json!("2026-13-01T00:00:00Z"),
        json!(1_795_424_400_000_u64),
    ] {
        add(c, &create(), "due_at", Some(bad.clone()));
        add(c, &create(), "received_at", Some(bad));
    }
    add(c, &create(), "complaint_stage", Some(json!("stage_3")));
    for bad in [
        json!({"a": 1}),
        many(33, &json!("v")),
        json!({"a b": "v"}),
        json!({"": "v"}),
        json!({"x".repeat(65): "v"}),
        json!({"a": "v".repeat(1025)}),
    ] {
        add(c, &create(), "attributes", Some(bad));
    }
    for bad in [json!(""), json!("a b"), json!("x".repeat(129))] {
        add(c, &create(), "command_id", Some(bad));
    }
    add(c, &create(), "safegaurding", Some(json!(true)));
}

/// `agent.login` bodies refused: each field at fault in turn.
fn refused_logins(out: &mut Vec<(Target, Value)>) {
    use CommandKind::Login;
    let mut add = |target: Target, base: &Value, field: &str, value: Option<Value>| {
        out.push((target, with(base, field, value)));
    };
    let l = Target::Command(Login);
    for bad in [json!(0), json!(6), json!(255)] {
        add(l, &login(), "tier", Some(bad));
    }
    add(l, &login(), "site", Some(json!("")));
    add(l, &login(), "site", Some(json!("a b")));
    for bad in [
        json!({}),
        json!({"tax": 0}),
        json!({"tax": 6}),
        json!({"a b": 1}),
        many(257, &json!(1)),
    ] {
        add(l, &login(), "skills", Some(bad));
    }
    add(l, &login(), "channels", Some(json!({"fax": 1})));
    add(l, &login(), "channels", Some(json!({"chat": 51})));
    for bad in [json!(""), json!(" "), json!("a\nb"), json!("x".repeat(513))] {
        add(l, &login(), "name", Some(bad));
    }
    add(l, &login(), "agent_id", Some(json!("a.b")));
}

/// Every command with a required reason refuses a blank, controlled, over-long or missing one.
fn refused_reasons(out: &mut Vec<(Target, Value)>) {
    use CommandKind::*;
    let reason = |target: Target, base: &Value, out: &mut Vec<(Target, Value)>| {
        for bad in [
            json!(""),
            json!("  "),
            json!("\t"),
            json!("\u{a0}\u{3000}"),
            json!("a\u{7}b"),
            json!("x".repeat(513)),
        ] {
            out.push((target, with(base, "reason", Some(bad))));
        }
        out.push((target, with(base, "reason", None)));
    };
    reason(Target::Command(NotReady), &json!({"reason": "r"}), out);
    reason(
        Target::Command(Escalate),
        &json!({"contact_id": "c1", "reason": "r"}),
        out,
    );
    reason(Target::Command(ChangeComplaintStage), &stage(), out);
    reason(Target::Command(ExtendDueTime), &extend(), out);
    reason(
        Target::Command(MarkPersistentComplainant),
        &json!({"customer_id": "u1", "designated": true, "reason": "r"}),
        out,
    );
}

/// The other agent commands, complaint and due-time commands, and queries.
fn refused_others(out: &mut Vec<(Target, Value)>) {
    use CommandKind::*;
    let mut add = |target: Target, body: Value| out.push((target, body));
    add(Target::Command(Ready), json!({"agent_id": "a b"}));
    add(Target::Command(Ready), json!({"x": 1}));
    add(Target::Command(Logout), json!({"force": "yes"}));
    add(Target::Command(Accept), json!({}));
    add(Target::Command(Accept), json!({"offer_id": -3}));
    add(Target::Command(Accept), json!({"offer_id": 1.5}));
    add(Target::Command(Accept), json!({"offer_id": "1"}));
    add(
        Target::Command(Reject),
        json!({"offer_id": 1, "reason": "a\u{0}b"}),
    );
    add(
        Target::Command(Reject),
        json!({"offer_id": 1, "reason": "x".repeat(513)}),
    );
    add(
        Target::Command(Complete),
        json!({"contact_id": "c1", "outcome": "sorted"}),
    );
    add(
        Target::Command(Complete),
        json!({"contact_id": "", "outcome": "resolved"}),
    );
    for tier in [0, 6, 255] {
        add(
            Target::Command(Escalate),
            json!({"contact_id": "c1", "reason": "r", "to_tier": tier}),
        );
    }
    add(
        Target::Command(Escalate),
        json!({"contact_id": "a b", "reason": "r"}),
    );
    add(Target::Command(Transfer), json!({"contact_id": "c1"}));
    add(
        Target::Command(Transfer),
        json!({"contact_id": "c1", "service": ""}),
    );
    add(
        Target::Command(Transfer),
        json!({"contact_id": "c1", "service": "s", "skills": skills(17)}),
    );
    add(
        Target::Command(Transfer),
        json!({"contact_id": "c1", "service": "s", "skills": [{"skill": "s", "min_level": 0}]}),
    );
    let s = Target::Command(ChangeComplaintStage);
    add(s, with(&stage(), "to", Some(json!("stage_3"))));
    add(s, with(&stage(), "agent_id", Some(json!("a.b"))));
    add(
        s,
        with(&stage(), "received_at", Some(json!("1969-12-31T23:00:00Z"))),
    );
    add(s, with(&stage(), "due_at", Some(json!("tomorrow"))));
    add(s, with(&stage(), "stage", Some(json!("x"))));
    let e = Target::Command(ExtendDueTime);
    for days in [json!(0), json!(61), json!(-1)] {
        add(e, with(&extend(), "working_days", Some(days)));
    }
    add(e, with(&extend(), "contact_id", Some(json!(""))));
    add(
        Target::Command(MarkPersistentComplainant),
        json!({"customer_id": "u 1", "designated": true, "reason": "r"}),
    );
    add(
        Target::Command(MarkPersistentComplainant),
        json!({"customer_id": "u1", "reason": "r"}),
    );
    add(Target::Command(AbandonContact), json!({"contact_id": ""}));
    add(Target::QueryContact, json!({"contact_id": ""}));
    add(Target::QueryContact, json!({"contact_id": "c1", "x": 1}));
    add(Target::QueryQueues, json!({"x": 1}));
    add(Target::QueryAgents, json!({"x": 1}));
    add(Target::QueryQueues, json!([]));
}

/// Raw bodies the engine refuses but JSON Schema cannot tell apart from good ones, each with
/// the reason (written down in docs/wire.md).
fn beyond_json_schema() -> Vec<(Target, Vec<u8>, &'static str)> {
    use CommandKind::*;
    let body = |v: Value| serde_json::to_vec(&v).expect("JSON");
    let e65 = "é".repeat(65);
    vec![
        (
            Target::Command(CreateContact),
            body(with(&create(), "contact_id", Some(json!(e65)))),
            "an id of 65 characters but 130 bytes (JSON Schema counts characters)",
        ),
        (
            Target::Command(NotReady),
            body(json!({"reason": "é".repeat(300)})),
            "a reason of 300 characters but 600 bytes",
        ),
        (
            Target::Command(CreateContact),
            body(with(
                &create(),
                "attributes",
                Some(json!({"é".repeat(40): "v"})),
            )),
            "an attribute name of 40 characters but 80 bytes",
        ),
        (
            Target::Command(CreateContact),
            body(with(
                &create(),
                "attributes",
                Some(json!({"a": "é".repeat(600)})),
            )),
            "an attribute value of 600 characters but 1200 bytes",
        ),
        (
            Target::Command(CreateContact),
            body(with(
                &create(),
                "skills",
                Some(json!([{"skill": "tax", "min_level": 1}, {"skill": "tax", "min_level": 2}])),
            )),
            "a skill named twice (uniqueItems compares whole entries)",
        ),
        (
            Target::Command(Login),
            body(with(&login(), "agent_id", Some(json!("bob")))),
            "a body naming another agent than its subject's",
        ),
        (
            Target::Command(CreateContact),
            br#"{"contact_id":"c1","channel":"phone","service":"tax","service":"tax"}"#.to_vec(),
            "a field given twice (a JSON parser keeps one of them)",
        ),
        (
            Target::Command(Login),
            br#"{"tier":1,"site":"s","skills":{"tax":1,"tax":5}}"#.to_vec(),
            "a map key given twice",
        ),
        (
            Target::Command(CreateContact),
            body(with(
                &create(),
                "due_at",
                Some(json!("1970-01-01T00:30:00+01:00")),
            )),
            "an instant before 1970 only by its offset",
        ),
    ]
}

#[test]
fn every_input_the_engine_accepts_passes_its_schema() {
    let validators = validators();
    for (target, body) in accepted() {
        let bytes = serde_json::to_vec(&body).expect("JSON");
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(160)]).into_owned();
        target
            .engine_accepts(&bytes)
            .unwrap_or_else(|e| panic!("the engine refused {target:?} {shown}: {e}"));
        let schema = target.schema();
        let errors: Vec<String> = validator(&validators, &schema)
            .iter_errors(&body)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{schema} refused {shown}: {errors:?}");
    }
}

#[test]
fn every_input_the_engine_refuses_for_its_shape_fails_its_schema() {
    let validators = validators();
    let matrix = refused();
    assert!(matrix.len() > 100, "the matrix covers every rule");
    for (target, body) in matrix {
        let bytes = serde_json::to_vec(&body).expect("JSON");
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(160)]).into_owned();
        let refusal = target.engine_accepts(&bytes).err();
        assert!(
            refusal
                .as_deref()
                .is_some_and(|r| r.starts_with("invalid_message")),
            "the engine did not refuse {target:?} {shown} as invalid_message: {refusal:?}"
        );
        let schema = target.schema();
        assert!(
            !validator(&validators, &schema).is_valid(&body),
            "{schema} accepts {shown}, which the engine refuses: {refusal:?}"
        );
    }
}

#[test]
fn what_json_schema_cannot_express_is_refused_by_the_engine_alone() {
    let validators = validators();
    for (target, bytes, why) in beyond_json_schema() {
        let refusal = target.engine_accepts(&bytes).err();
        assert!(
            refusal
                .as_deref()
                .is_some_and(|r| r.starts_with("invalid_message")),
            "{why}: the engine did not refuse it: {refusal:?}"
        );
        let value: Value = serde_json::from_slice(&bytes).expect("JSON");
        // Should the schema learn to refuse it, move it to the matrix above.
        assert!(
            validator(&validators, &target.schema()).is_valid(&value),
            "{why}: the schema refuses it now; move it to `refused`"
        );
    }
}

/// A body holding a given character.
type BodyWith = fn(char) -> Value;

/// The id and text patterns agree with the engine's checks, character by character (every
/// character of the Basic Multilingual Plane up to U+3100, and a few beyond).
#[test]
fn the_id_and_text_patterns_agree_with_the_engine_character_by_character() {
    let validators = validators();
    let chars = (0..=0x3100_u32)
        .chain([0xFEFF, 0xFFFD, 0x1_F600, 0x10_FFFF])
        .filter_map(char::from_u32);
    let cases: [(Target, BodyWith); 4] = [
        (
            Target::QueryContact,
            |c| json!({"contact_id": format!("x{c}")}),
        ),
        (Target::Command(CommandKind::CreateContact), |c| {
            with(
                &create(),
                "preferred_agent_id",
                Some(json!(format!("x{c}"))),
            )
        }),
        (
            Target::Command(CommandKind::NotReady),
            |c| json!({"reason": format!("x{c}")}),
        ),
        (
            Target::Command(CommandKind::NotReady),
            |c| json!({"reason": format!("{c}")}),
        ),
    ];
    let mut checked = 0_u32;
    for c in chars {
        for (target, make) in &cases {
            let body = make(c);
            let bytes = serde_json::to_vec(&body).expect("JSON");
            let engine = target.engine_accepts(&bytes).is_ok();
            let schema = validator(&validators, &target.schema()).is_valid(&body);
            assert_eq!(
                engine,
                schema,
                "{target:?} with U+{:04X}: the engine says {engine}, the schema {schema}",
                u32::from(c)
            );
            checked += 1;
        }
    }
    assert!(checked > 40_000);
}
