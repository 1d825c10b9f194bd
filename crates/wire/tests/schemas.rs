//! The checked-in JSON Schemas (`docs/schemas/*.json`) match the message types. After a
//! deliberate change to a message, rewrite them with `UPDATE_SCHEMAS=1 cargo test -p
//! switchboard-wire --test schemas`.

use std::path::PathBuf;

use switchboard_wire::schema::schemas;

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/schemas")
}

#[test]
fn checked_in_schemas_match_the_message_types() {
    let dir = schema_dir();
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some_and(|v| v == "1");
    if update {
        std::fs::create_dir_all(&dir).expect("create docs/schemas");
    }
    let mut stale = Vec::new();
    let generated = schemas();
    for (name, schema) in &generated {
        let text = serde_json::to_string_pretty(schema).expect("a schema is JSON") + "\n";
        let path = dir.join(name);
        if update {
            std::fs::write(&path, &text).expect("write a schema");
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(*name);
        }
    }
    let mut strays = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("docs/schemas exists") {
        let name = entry.expect("a directory entry").file_name();
        let name = name.to_string_lossy().into_owned();
        if !generated.iter().any(|(known, _)| *known == name) {
            strays.push(name);
        }
    }
    assert!(
        stale.is_empty() && strays.is_empty(),
        "docs/schemas is out of date: differing {stale:?}, not generated {strays:?}; \
         run `UPDATE_SCHEMAS=1 cargo test -p switchboard-wire --test schemas` and review the diff"
    );
}

#[test]
fn every_schema_is_an_object_with_a_title() {
    for (name, schema) in schemas() {
        assert!(schema.get("title").is_some(), "{name} has no title");
        assert!(
            schema.get("$schema").is_some(),
            "{name} does not name its dialect"
        );
    }
}

#[test]
fn every_event_type_has_a_branch_in_the_event_schema() {
    let (_, event) = schemas()
        .into_iter()
        .find(|(name, _)| *name == "event.json")
        .expect("event.json is generated");
    let branches = event["oneOf"].as_array().expect("oneOf");
    assert_eq!(
        branches.len(),
        switchboard_core::EventKind::COUNT,
        "one branch per event type"
    );
    for branch in branches {
        let required = branch["required"].as_array().expect("required");
        assert!(required.iter().any(|r| r == "seq"));
        assert!(branch["properties"]["type"]["const"].is_string());
    }
}
