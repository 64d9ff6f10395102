//! The patterns of a Django / LangGraph checkpoint-migration guide, written
//! as a user would write them. Old payloads are JSON literals (what an older
//! release stored), never produced by the library itself.

use std::collections::BTreeMap;

use schema_migrate::{Error, Op, Stored, Versioned};
use serde_json::{json, Map, Value};

use schema_migrate_tests::{read_all_ways, round_trip};

// ---------------------------------------------------------------------------
// (a) Add a field with a default.

// Clippy reads `from = 1` and `from = 2` as the same nested attribute when
// the whole `#[schema]` parses as meta items (no `=>` or `:` in it).
#[allow(
    clippy::duplicated_attributes,
    reason = "false positive on repeated `migrate(from = N)` steps"
)]
#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 3,
    migrate(from = 1, description = "Retry budget", add(max_retries = 3)),
    migrate(from = 2, description = "Tool list", add(tools))
)]
pub struct AgentConfig {
    pub model: String,
    pub max_retries: u32,
    pub tools: Vec<String>,
}

#[test]
fn a_add_field_with_default() {
    let expected = |max_retries, tools: &[&str]| AgentConfig {
        model: "gpt-4o".into(),
        max_retries,
        tools: tools.iter().map(|s| s.to_string()).collect(),
    };
    read_all_ways(r#"{"_version":1,"model":"gpt-4o"}"#, &expected(3, &[]), 1);
    read_all_ways(
        r#"{"_version":2,"model":"gpt-4o","max_retries":7}"#,
        &expected(7, &[]),
        2,
    );
    read_all_ways(
        r#"{"_version":3,"model":"gpt-4o","max_retries":0,"tools":["search"]}"#,
        &expected(0, &["search"]),
        3,
    );
    // Untagged: the oldest version.
    read_all_ways(r#"{"model":"gpt-4o"}"#, &expected(3, &[]), 1);
    round_trip(
        &expected(3, &["a", "b"]),
        r#"{"_version":3,"model":"gpt-4o","max_retries":3,"tools":["a","b"]}"#,
    );
}

#[test]
fn a_added_field_missing_at_current_version_is_invalid_data() {
    let err =
        schema_migrate::json::from_str::<AgentConfig>(r#"{"_version":3,"model":"m"}"#).unwrap_err();
    match &err {
        Error::InvalidData {
            type_name: "AgentConfig",
            version: Some(3),
            message,
        } => assert!(message.contains("max_retries"), "{message}"),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------
// (b) Rename a field.

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 2,
    tag = "schema_version",
    migrate(from = 1, description = "msgs is messages", rename(msgs = messages)),
)]
pub struct Thread {
    pub thread_id: String,
    pub messages: Vec<String>,
}

#[test]
fn b_rename_a_field() {
    let expected = Thread {
        thread_id: "t-1".into(),
        messages: vec!["hi".into(), "there".into()],
    };
    read_all_ways(
        r#"{"schema_version":1,"thread_id":"t-1","msgs":["hi","there"]}"#,
        &expected,
        1,
    );
    read_all_ways(
        r#"{"msgs":["hi","there"],"thread_id":"t-1","schema_version":1}"#,
        &expected,
        1,
    );
    read_all_ways(
        r#"{"schema_version":2,"thread_id":"t-1","messages":["hi","there"]}"#,
        &expected,
        2,
    );
    round_trip(
        &expected,
        r#"{"schema_version":2,"thread_id":"t-1","messages":["hi","there"]}"#,
    );
}

#[test]
fn b_new_name_in_an_old_payload_is_not_read() {
    // Version 1 had no `messages`: a v1 payload without `msgs` misses it.
    let err = schema_migrate::json::from_str::<Thread>(
        r#"{"schema_version":1,"thread_id":"t","messages":[]}"#,
    )
    .unwrap_err();
    match &err {
        Error::InvalidData {
            type_name: "Thread",
            version: Some(1),
            message,
        } => assert!(message.contains("msgs"), "{message}"),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------
// (c) Flat `user_name` / `user_email` into a nested `user` object.

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct User {
    pub name: String,
    pub email: Option<String>,
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 3,
    migrate(from = 1, description = "Nest the user", with = nest_user),
    migrate(from = 2, description = "Turn counter", add(turns = 0)),
)]
pub struct Session {
    pub session_id: String,
    pub user: User,
    pub turns: u32,
}

fn nest_user(object: &mut Map<String, Value>) -> Result<(), String> {
    let name = object
        .remove("user_name")
        .ok_or_else(|| "user_name is missing".to_owned())?;
    let email = object.remove("user_email").unwrap_or(Value::Null);
    object.insert("user".into(), json!({ "name": name, "email": email }));
    Ok(())
}

#[test]
fn c_flat_fields_into_a_nested_object_with_a_map_function() {
    let ada = |email: Option<&str>, turns| Session {
        session_id: "s-9".into(),
        user: User {
            name: "Ada".into(),
            email: email.map(str::to_owned),
        },
        turns,
    };
    read_all_ways(
        r#"{"_version":1,"session_id":"s-9","user_name":"Ada","user_email":"ada@example.com"}"#,
        &ada(Some("ada@example.com"), 0),
        1,
    );
    read_all_ways(
        r#"{"session_id":"s-9","user_name":"Ada","_version":1}"#,
        &ada(None, 0),
        1,
    );
    read_all_ways(
        r#"{"_version":2,"session_id":"s-9","user":{"name":"Ada","email":null}}"#,
        &ada(None, 0),
        2,
    );
    round_trip(
        &ada(Some("a@b.c"), 4),
        r#"{"_version":3,"session_id":"s-9","user":{"name":"Ada","email":"a@b.c"},"turns":4}"#,
    );
}

#[test]
fn c_failing_map_function_is_a_step_failure() {
    let err = schema_migrate::json::from_str::<Session>(r#"{"_version":1,"session_id":"s"}"#)
        .unwrap_err();
    match &err {
        Error::StepFailed {
            type_name: "Session",
            from: 1,
            to: 2,
            description: Some("Nest the user"),
            op,
            source,
        } => {
            assert_eq!(op, "with = nest_user");
            assert_eq!(source.to_string(), "user_name is missing");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        r#"Session: migration step 1 -> 2 ("Nest the user") failed at with = nest_user: user_name is missing"#
    );
}

/// The same restructuring as a typed step: the old struct is a versioned
/// type of its own, and `From` does the move.
#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 1)]
pub struct ProfileV1 {
    pub session_id: String,
    pub user_name: String,
    pub user_email: Option<String>,
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = ProfileV1))]
pub struct Profile {
    pub session_id: String,
    pub user: User,
}

impl From<ProfileV1> for Profile {
    fn from(old: ProfileV1) -> Self {
        Profile {
            session_id: old.session_id,
            user: User {
                name: old.user_name,
                email: old.user_email,
            },
        }
    }
}

#[test]
fn c_flat_fields_into_a_nested_object_with_a_typed_step() {
    let expected = Profile {
        session_id: "s-1".into(),
        user: User {
            name: "Grace".into(),
            email: Some("g@navy.mil".into()),
        },
    };
    read_all_ways(
        r#"{"_version":1,"session_id":"s-1","user_name":"Grace","user_email":"g@navy.mil"}"#,
        &expected,
        1,
    );
    read_all_ways(
        r#"{"session_id":"s-1","user_email":"g@navy.mil","user_name":"Grace","_version":1}"#,
        &expected,
        1,
    );
    // Untagged: the previous type's oldest version.
    read_all_ways(
        r#"{"session_id":"s-1","user_name":"Grace","user_email":"g@navy.mil"}"#,
        &expected,
        1,
    );
    read_all_ways(
        r#"{"_version":2,"session_id":"s-1","user":{"name":"Grace","email":"g@navy.mil"}}"#,
        &expected,
        2,
    );
    round_trip(
        &expected,
        r#"{"_version":2,"session_id":"s-1","user":{"name":"Grace","email":"g@navy.mil"}}"#,
    );
    assert_eq!(
        Profile::history()[0].ops,
        &[Op::Typed {
            previous: "ProfileV1",
            fallible: false,
            reversible: false
        }]
    );
}

/// A fallible typed step: `TryFrom`, its error surfacing as a step failure.
#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = ProfileV1, fallible, description = "Email required"))]
pub struct VerifiedProfile {
    pub session_id: String,
    pub email: String,
}

impl TryFrom<ProfileV1> for VerifiedProfile {
    type Error = String;
    fn try_from(old: ProfileV1) -> Result<Self, String> {
        let email = old
            .user_email
            .ok_or_else(|| format!("{} has no email", old.user_name))?;
        Ok(VerifiedProfile {
            session_id: old.session_id,
            email,
        })
    }
}

#[test]
fn c_fallible_typed_step() {
    read_all_ways(
        r#"{"_version":1,"session_id":"s","user_name":"Lin","user_email":"l@x.io"}"#,
        &VerifiedProfile {
            session_id: "s".into(),
            email: "l@x.io".into(),
        },
        1,
    );
    let err = schema_migrate::json::from_str::<VerifiedProfile>(
        r#"{"_version":1,"session_id":"s","user_name":"Lin","user_email":null}"#,
    )
    .unwrap_err();
    match &err {
        Error::StepFailed {
            type_name: "VerifiedProfile",
            from: 1,
            to: 2,
            description: Some("Email required"),
            op,
            source,
        } => {
            assert_eq!(op, "TryFrom<ProfileV1>");
            assert_eq!(source.to_string(), "Lin has no email");
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------
// (d) A string becoming a list.

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 2,
    migrate(from = 1, description = "Tags as a list", transform(tags: String => split_tags)),
)]
pub struct Note {
    pub title: String,
    pub tags: Vec<String>,
}

fn split_tags(tags: String) -> Vec<String> {
    tags.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn d_string_becomes_a_list() {
    let note = |tags: &[&str]| Note {
        title: "todo".into(),
        tags: tags.iter().map(|s| s.to_string()).collect(),
    };
    read_all_ways(
        r#"{"_version":1,"title":"todo","tags":"home, urgent,,work"}"#,
        &note(&["home", "urgent", "work"]),
        1,
    );
    read_all_ways(r#"{"tags":"","title":"todo","_version":1}"#, &note(&[]), 1);
    read_all_ways(
        r#"{"_version":2,"title":"todo","tags":["a,b"]}"#,
        &note(&["a,b"]),
        2,
    );
    round_trip(
        &note(&["x", "y"]),
        r#"{"_version":2,"title":"todo","tags":["x","y"]}"#,
    );
    // A v1 payload holding the v2 shape is the wrong type for the transform's input.
    let err = schema_migrate::json::from_str::<Note>(r#"{"_version":1,"title":"t","tags":["a"]}"#)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidData {
                type_name: "Note",
                version: Some(1),
                ..
            }
        ),
        "{err:?}"
    );
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 2,
    migrate(from = 1, description = "Scores as a list", transform(scores: String => parse_scores)),
)]
pub struct Grades {
    pub scores: Vec<u8>,
}

fn parse_scores(scores: String) -> Result<Vec<u8>, String> {
    scores
        .split(',')
        .map(|s| s.parse::<u8>().map_err(|e| format!("bad score {s:?}: {e}")))
        .collect()
}

#[test]
fn d_fallible_transform_error_names_type_versions_op_and_field() {
    read_all_ways(
        r#"{"_version":1,"scores":"90,85,100"}"#,
        &Grades {
            scores: vec![90, 85, 100],
        },
        1,
    );
    let err =
        schema_migrate::json::from_str::<Grades>(r#"{"_version":1,"scores":"90,x"}"#).unwrap_err();
    match &err {
        Error::StepFailed {
            type_name: "Grades",
            from: 1,
            to: 2,
            description: Some("Scores as a list"),
            op,
            source,
        } => {
            assert_eq!(op, "transform(scores: String => parse_scores)");
            assert_eq!(
                source.to_string(),
                r#"bad score "x": invalid digit found in string"#
            );
        }
        other => panic!("{other:?}"),
    }
    let expected = r#"Grades: migration step 1 -> 2 ("Scores as a list") failed at transform(scores: String => parse_scores): bad score "x": invalid digit found in string"#;
    assert_eq!(err.to_string(), expected);
    assert_eq!(err.kind(), "step_failed");
    assert_eq!(err.type_name(), "Grades");
    // The same failure through the reference path and through serde_json.
    let by_reference =
        schema_migrate::reference::from_value::<Grades>(json!({"_version": 1, "scores": "90,x"}))
            .unwrap_err();
    assert_eq!(by_reference.to_string(), expected);
    let through_serde = serde_json::from_str::<Grades>(r#"{"_version":1,"scores":"90,x"}"#)
        .unwrap_err()
        .to_string();
    assert!(through_serde.starts_with(expected), "{through_serde}");
}

// ---------------------------------------------------------------------------
// (e) A timestamp added to every nested message: nested versioning.

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 2,
    tag = "v",
    migrate(from = 1, description = "Timestamp every message", add(ts = 0))
)]
pub struct Message {
    pub role: String,
    pub content: String,
    pub ts: u64,
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 3,
    migrate(from = 1, rename(history = messages)),
    migrate(from = 2, add(pinned)),
)]
pub struct Conversation {
    pub messages: Vec<Message>,
    pub pinned: Option<Message>,
    #[serde(default)]
    pub by_id: BTreeMap<String, Message>,
}

fn msg(role: &str, content: &str, ts: u64) -> Message {
    Message {
        role: role.into(),
        content: content.into(),
        ts,
    }
}

#[test]
fn e_nested_messages_migrate_on_their_own_history() {
    // Parent at v1, messages at v1, v2 and untagged (v1), tag first and last.
    read_all_ways(
        r#"{"_version":1,"history":[
            {"v":1,"role":"user","content":"hi"},
            {"role":"assistant","content":"hello","ts":1700000000,"v":2},
            {"role":"user","content":"bye"}
        ]}"#,
        &Conversation {
            messages: vec![
                msg("user", "hi", 0),
                msg("assistant", "hello", 1_700_000_000),
                msg("user", "bye", 0),
            ],
            pinned: None,
            by_id: BTreeMap::new(),
        },
        1,
    );
    // Parent at the current version, children still old.
    read_all_ways(
        r#"{"_version":3,"messages":[{"v":1,"role":"user","content":"a"}],
            "pinned":{"v":1,"role":"system","content":"be brief"},
            "by_id":{"m1":{"content":"c","role":"tool","v":1},"m2":{"v":2,"role":"tool","content":"d","ts":5}}}"#,
        &Conversation {
            messages: vec![msg("user", "a", 0)],
            pinned: Some(msg("system", "be brief", 0)),
            by_id: BTreeMap::from([
                ("m1".to_owned(), msg("tool", "c", 0)),
                ("m2".to_owned(), msg("tool", "d", 5)),
            ]),
        },
        3,
    );
    round_trip(
        &Conversation {
            messages: vec![msg("user", "a", 1)],
            pinned: Some(msg("system", "s", 2)),
            by_id: BTreeMap::from([("k".to_owned(), msg("tool", "t", 3))]),
        },
        r#"{"_version":3,"messages":[{"v":2,"role":"user","content":"a","ts":1}],"pinned":{"v":2,"role":"system","content":"s","ts":2},"by_id":{"k":{"v":2,"role":"tool","content":"t","ts":3}}}"#,
    );
}

#[test]
fn e_a_future_nested_message_is_refused_inside_an_old_parent() {
    let err = schema_migrate::json::from_str::<Conversation>(
        r#"{"_version":1,"history":[{"v":3,"role":"user","content":"x","ts":1,"lang":"en"}]}"#,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::FutureVersion {
                type_name: "Message",
                found: 3,
                current: 2
            }
        ),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------
// (f) A renamed state class: enum variant history.

#[derive(Debug, PartialEq, Versioned)]
#[serde(tag = "type")]
#[schema(
    version = 3,
    migrate(from = 1, description = "Planning is Planner", rename_variant(Planning = Planner)),
    migrate(from = 2, description = "Drop legacy nodes", remove_variant(Legacy)),
)]
pub enum NodeState {
    Planner { goal: String },
    Executor { step: u32 },
    Done,
}

#[test]
fn f_internally_tagged_rename_variant() {
    let planner = NodeState::Planner {
        goal: "ship".into(),
    };
    read_all_ways(
        r#"{"_version":1,"type":"Planning","goal":"ship"}"#,
        &planner,
        1,
    );
    read_all_ways(
        r#"{"type":"Planning","goal":"ship","_version":1}"#,
        &planner,
        1,
    );
    read_all_ways(
        r#"{"_version":2,"type":"Planner","goal":"ship"}"#,
        &planner,
        2,
    );
    read_all_ways(
        r#"{"_version":3,"goal":"ship","type":"Planner"}"#,
        &planner,
        3,
    );
    read_all_ways(
        r#"{"_version":1,"type":"Executor","step":4}"#,
        &NodeState::Executor { step: 4 },
        1,
    );
    read_all_ways(r#"{"_version":2,"type":"Done"}"#, &NodeState::Done, 2);
    round_trip(&planner, r#"{"_version":3,"type":"Planner","goal":"ship"}"#);
    round_trip(
        &NodeState::Executor { step: 2 },
        r#"{"_version":3,"type":"Executor","step":2}"#,
    );
    round_trip(&NodeState::Done, r#"{"_version":3,"type":"Done"}"#);
}

#[test]
fn f_old_variant_name_at_the_current_version_is_unknown() {
    let err = schema_migrate::json::from_str::<NodeState>(
        r#"{"_version":3,"type":"Planning","goal":"x"}"#,
    )
    .unwrap_err();
    match &err {
        Error::InvalidData {
            type_name: "NodeState",
            version: Some(3),
            message,
        } => assert!(message.contains("Planning"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn f_removed_variant_gives_a_clear_error() {
    for payload in [
        r#"{"_version":2,"type":"Legacy","anything":[1,2]}"#,
        r#"{"_version":1,"type":"Legacy"}"#,
        r#"{"type":"Legacy","_version":2}"#,
    ] {
        let err = schema_migrate::json::from_str::<NodeState>(payload).unwrap_err();
        match &err {
            Error::StepFailed {
                type_name: "NodeState",
                from: 2,
                to: 3,
                description: Some("Drop legacy nodes"),
                op,
                source,
            } => {
                assert_eq!(op, "remove_variant(Legacy)", "{payload}");
                assert_eq!(
                    source.to_string(),
                    "variant `Legacy` no longer exists at version 3",
                    "{payload}"
                );
            }
            other => panic!("{payload}: {other:?}"),
        }
        let by_reference = schema_migrate::reference::from_value::<NodeState>(
            serde_json::from_str(payload).unwrap(),
        )
        .unwrap_err();
        assert_eq!(by_reference.to_string(), err.to_string(), "{payload}");
    }
}

#[derive(Debug, PartialEq, Versioned)]
#[serde(tag = "t", content = "c")]
#[schema(
    version = 2,
    migrate(
        from = 1,
        description = "Tool is ToolCall; Ping is gone",
        rename_variant(Tool = ToolCall),
        remove_variant(Ping)
    ),
)]
pub enum Event {
    Text(String),
    ToolCall { name: String, args: Value },
    Stop,
}

#[test]
fn f_adjacently_tagged_enum() {
    let call = Event::ToolCall {
        name: "search".into(),
        args: json!({"q": "rust"}),
    };
    read_all_ways(
        r#"{"_version":1,"t":"Tool","c":{"name":"search","args":{"q":"rust"}}}"#,
        &call,
        1,
    );
    read_all_ways(
        r#"{"c":{"name":"search","args":{"q":"rust"}},"t":"Tool","_version":1}"#,
        &call,
        1,
    );
    read_all_ways(
        r#"{"_version":1,"t":"Text","c":"hello"}"#,
        &Event::Text("hello".into()),
        1,
    );
    read_all_ways(r#"{"_version":1,"t":"Stop"}"#, &Event::Stop, 1);
    read_all_ways(
        r#"{"_version":2,"t":"ToolCall","c":{"name":"search","args":{"q":"rust"}}}"#,
        &call,
        2,
    );
    round_trip(
        &call,
        r#"{"_version":2,"t":"ToolCall","c":{"name":"search","args":{"q":"rust"}}}"#,
    );
    round_trip(
        &Event::Text("x".into()),
        r#"{"_version":2,"t":"Text","c":"x"}"#,
    );
    round_trip(&Event::Stop, r#"{"_version":2,"t":"Stop"}"#);

    let err =
        schema_migrate::json::from_str::<Event>(r#"{"_version":1,"t":"Ping","c":1}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Event: migration step 1 -> 2 ("Tool is ToolCall; Ping is gone") failed at remove_variant(Ping): variant `Ping` no longer exists at version 2"#
    );
    let err = schema_migrate::json::from_str::<Event>(r#"{"_version":1,"t":"Ping"}"#).unwrap_err();
    assert!(
        matches!(err, Error::StepFailed { from: 1, to: 2, .. }),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------
// (g) A LangGraph-style checkpoint: a plain serde envelope around versioned state.

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    pub v: u32,
    pub ts: String,
    pub id: String,
    pub channel_values: AgentState,
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 3,
    tag = "__state_version__",
    migrate(from = 1, description = "Rename step", rename(step = node)),
    migrate(from = 2, description = "Scratchpad list", transform(scratchpad: String => split_lines)),
)]
pub struct AgentState {
    pub node: String,
    pub messages: Vec<Message>,
    pub scratchpad: Vec<String>,
}

fn split_lines(s: String) -> Vec<String> {
    s.lines().map(str::to_owned).collect()
}

#[test]
fn g_langgraph_checkpoint_channel_values_migrate_inside_a_plain_envelope() {
    let old = r#"{
        "v": 1,
        "ts": "2024-05-01T12:00:00+00:00",
        "id": "1ef-abc",
        "channel_values": {
            "__state_version__": 1,
            "step": "agent",
            "messages": [{"role": "user", "content": "plan a trip"}],
            "scratchpad": "think\nact"
        }
    }"#;
    let expected = Checkpoint {
        v: 1,
        ts: "2024-05-01T12:00:00+00:00".into(),
        id: "1ef-abc".into(),
        channel_values: AgentState {
            node: "agent".into(),
            messages: vec![msg("user", "plan a trip", 0)],
            scratchpad: vec!["think".into(), "act".into()],
        },
    };
    let got: Checkpoint = serde_json::from_str(old).unwrap();
    assert_eq!(got, expected);
    let text = serde_json::to_string(&got).unwrap();
    assert_eq!(
        text,
        r#"{"v":1,"ts":"2024-05-01T12:00:00+00:00","id":"1ef-abc","channel_values":{"__state_version__":3,"node":"agent","messages":[{"v":2,"role":"user","content":"plan a trip","ts":0}],"scratchpad":["think","act"]}}"#
    );
    assert_eq!(serde_json::from_str::<Checkpoint>(&text).unwrap(), expected);
    // Through serde_json::Value, as a JSONB column hands it over.
    let from_value: Checkpoint =
        serde_json::from_value(serde_json::from_str(old).unwrap()).unwrap();
    assert_eq!(from_value, expected);
}

#[test]
fn g_failure_inside_the_envelope_names_the_inner_type() {
    let err = serde_json::from_str::<Checkpoint>(
        r#"{"v":1,"ts":"t","id":"i","channel_values":{"__state_version__":4,"node":"x"}}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("AgentState: stored at version 4, newer than the version 3"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// (h) A generic envelope carrying a versioned payload.

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 2,
    tag = "env_version",
    migrate(from = 1, description = "data is payload", rename(data = payload), add(attempt = 1)),
)]
pub struct Envelope<T> {
    pub id: String,
    pub attempt: u32,
    pub payload: T,
}

#[test]
fn h_generic_envelope_with_a_versioned_payload() {
    let expected = Envelope {
        id: "e1".into(),
        attempt: 1,
        payload: msg("user", "hi", 0),
    };
    read_all_ways(
        r#"{"env_version":1,"id":"e1","data":{"v":1,"role":"user","content":"hi"}}"#,
        &expected,
        1,
    );
    read_all_ways(
        r#"{"id":"e1","data":{"role":"user","content":"hi"}}"#,
        &expected,
        1,
    );
    read_all_ways(
        r#"{"env_version":2,"id":"e1","attempt":1,"payload":{"content":"hi","role":"user","v":1}}"#,
        &expected,
        2,
    );
    round_trip(
        &expected,
        r#"{"env_version":2,"id":"e1","attempt":1,"payload":{"v":2,"role":"user","content":"hi","ts":0}}"#,
    );
}

#[test]
fn h_generic_envelope_with_plain_payloads() {
    read_all_ways(
        r#"{"env_version":1,"id":"n","data":42}"#,
        &Envelope {
            id: "n".into(),
            attempt: 1,
            payload: 42u32,
        },
        1,
    );
    read_all_ways(
        r#"{"env_version":1,"id":"v","data":["a","b"]}"#,
        &Envelope {
            id: "v".into(),
            attempt: 1,
            payload: vec!["a".to_owned(), "b".to_owned()],
        },
        1,
    );
    round_trip(
        &Envelope {
            id: "o".into(),
            attempt: 3,
            payload: Some(1.5f64),
        },
        r#"{"env_version":2,"id":"o","attempt":3,"payload":1.5}"#,
    );
    // Envelopes nest: the inner one migrates on its own.
    read_all_ways(
        r#"{"env_version":1,"id":"outer","data":{"env_version":1,"id":"inner","data":7}}"#,
        &Envelope {
            id: "outer".into(),
            attempt: 1,
            payload: Envelope {
                id: "inner".into(),
                attempt: 1,
                payload: 7u8,
            },
        },
        1,
    );
}

// ---------------------------------------------------------------------------
// (i) The user's serde attributes keep working.

mod comma_list {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.join(","))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        let s = String::deserialize(d)?;
        Ok(if s.is_empty() {
            Vec::new()
        } else {
            s.split(',').map(str::to_owned).collect()
        })
    }
}

#[derive(Debug, PartialEq, Versioned)]
#[serde(rename_all = "camelCase")]
#[schema(
    version = 3,
    migrate(from = 1, description = "Destination city", rename(destination = destinationCity)),
    migrate(from = 2, description = "Traveler count", add(travelerCount = 1)),
)]
pub struct TripPlan {
    pub destination_city: String,
    pub traveler_count: u32,
    #[serde(rename = "budget_usd")]
    pub budget: f64,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotel_name: Option<String>,
    #[serde(with = "comma_list")]
    pub labels: Vec<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

fn plan(destination: &str, travelers: u32) -> TripPlan {
    TripPlan {
        destination_city: destination.into(),
        traveler_count: travelers,
        budget: 100.0,
        notes: vec![],
        hotel_name: None,
        labels: vec!["a".into(), "b".into()],
        extra: BTreeMap::new(),
    }
}

#[test]
fn i_rename_all_rename_default_with_and_skip_serializing_if() {
    read_all_ways(
        r#"{"_version":1,"destination":"Oslo","budget_usd":100.0,"labels":"a,b"}"#,
        &plan("Oslo", 1),
        1,
    );
    read_all_ways(
        r#"{"_version":2,"destinationCity":"Oslo","budget_usd":100.0,"labels":"a,b","hotelName":"Grand"}"#,
        &TripPlan {
            hotel_name: Some("Grand".into()),
            ..plan("Oslo", 1)
        },
        2,
    );
    read_all_ways(
        r#"{"labels":"a,b","notes":["n"],"budget_usd":100.0,"travelerCount":4,"destinationCity":"Oslo","_version":3}"#,
        &TripPlan {
            notes: vec!["n".into()],
            ..plan("Oslo", 4)
        },
        3,
    );
    round_trip(
        &plan("Rome", 2),
        r#"{"_version":3,"destinationCity":"Rome","travelerCount":2,"budget_usd":100.0,"notes":[],"labels":"a,b"}"#,
    );
    round_trip(
        &TripPlan {
            hotel_name: Some("Ritz".into()),
            labels: vec![],
            ..plan("Rome", 2)
        },
        r#"{"_version":3,"destinationCity":"Rome","travelerCount":2,"budget_usd":100.0,"notes":[],"hotelName":"Ritz","labels":""}"#,
    );
}

#[test]
fn i_flatten_captures_unknown_keys_but_not_the_tag() {
    let mut with_extra = plan("Oslo", 1);
    with_extra.extra = BTreeMap::from([
        ("color".to_owned(), json!("red")),
        ("seats".to_owned(), json!([1, 2])),
    ]);
    read_all_ways(
        r#"{"_version":1,"destination":"Oslo","color":"red","budget_usd":100.0,"labels":"a,b","seats":[1,2]}"#,
        &with_extra,
        1,
    );
    read_all_ways(
        r#"{"destination":"Oslo","color":"red","budget_usd":100.0,"labels":"a,b","seats":[1,2],"_version":1}"#,
        &with_extra,
        1,
    );
    read_all_ways(
        r#"{"color":"red","destinationCity":"Oslo","travelerCount":1,"budget_usd":100.0,"labels":"a,b","seats":[1,2],"_version":3}"#,
        &with_extra,
        3,
    );
    round_trip(
        &with_extra,
        r#"{"_version":3,"destinationCity":"Oslo","travelerCount":1,"budget_usd":100.0,"notes":[],"labels":"a,b","color":"red","seats":[1,2]}"#,
    );
}

#[derive(Debug, PartialEq, Versioned)]
#[serde(deny_unknown_fields)]
#[schema(
    version = 2,
    migrate(from = 1, description = "Drop cache", remove(cache), rename(n = count)),
)]
pub struct Strict {
    pub count: u32,
}

#[test]
fn i_deny_unknown_fields_applies_at_every_version_but_not_to_the_tag() {
    read_all_ways(
        r#"{"_version":1,"n":3,"cache":{"big":true}}"#,
        &Strict { count: 3 },
        1,
    );
    read_all_ways(r#"{"n":3,"_version":1}"#, &Strict { count: 3 }, 1);
    read_all_ways(r#"{"count":3,"_version":2}"#, &Strict { count: 3 }, 2);
    round_trip(&Strict { count: 9 }, r#"{"_version":2,"count":9}"#);

    for (payload, version, unknown) in [
        (r#"{"_version":2,"count":3,"extra":1}"#, 2, "extra"),
        (r#"{"_version":2,"count":3,"n":1}"#, 2, "n"),
        (r#"{"_version":1,"n":3,"count":1}"#, 1, "count"),
        (r#"{"n":3,"bogus":1,"_version":1}"#, 1, "bogus"),
    ] {
        let err = schema_migrate::json::from_str::<Strict>(payload).unwrap_err();
        match &err {
            Error::InvalidData {
                type_name: "Strict",
                version: Some(v),
                message,
            } => {
                assert_eq!(*v, version, "{payload}");
                assert!(
                    message.contains(&format!("unknown field `{unknown}`")),
                    "{payload}: {message}"
                );
            }
            other => panic!("{payload}: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// (j) Untagged payloads and the oldest readable version.

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, untagged = error, migrate(from = 1, add(priority = 5)))]
pub struct Task {
    pub name: String,
    pub priority: u8,
}

#[test]
fn j_untagged_error_rejects_untagged_payloads() {
    let err = schema_migrate::json::from_str::<Task>(r#"{"name":"x"}"#).unwrap_err();
    assert!(
        matches!(
            err,
            Error::MissingTag {
                type_name: "Task",
                tag: "_version"
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Task: no version tag `_version`, and untagged payloads are rejected"
    );
    let by_reference =
        schema_migrate::reference::from_value::<Task>(json!({"name": "x", "priority": 1}))
            .unwrap_err();
    assert!(
        matches!(by_reference, Error::MissingTag { .. }),
        "{by_reference:?}"
    );
    read_all_ways(
        r#"{"_version":1,"name":"x"}"#,
        &Task {
            name: "x".into(),
            priority: 5,
        },
        1,
    );
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 3,
    untagged = 2,
    migrate(from = 1, add(priority = 5)),
    migrate(from = 2, rename(name = title)),
)]
pub struct Ticket {
    pub title: String,
    pub priority: u8,
}

#[test]
fn j_untagged_reads_as_the_declared_version() {
    read_all_ways(
        r#"{"name":"bug","priority":1}"#,
        &Ticket {
            title: "bug".into(),
            priority: 1,
        },
        2,
    );
    read_all_ways(
        r#"{"_version":1,"name":"bug"}"#,
        &Ticket {
            title: "bug".into(),
            priority: 5,
        },
        1,
    );
    // An untagged v1 payload (no priority) does not fit version 2.
    let err = schema_migrate::json::from_str::<Ticket>(r#"{"name":"bug"}"#).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidData {
                type_name: "Ticket",
                version: Some(2),
                ..
            }
        ),
        "{err:?}"
    );
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 3, oldest = 2, migrate(from = 2, add(retries = 1)))]
pub struct Job {
    pub name: String,
    pub retries: u32,
}

#[test]
fn j_oldest_rejects_older_versions_as_too_old() {
    let err = schema_migrate::json::from_str::<Job>(r#"{"_version":1,"name":"x"}"#).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooOld {
                type_name: "Job",
                found: 1,
                oldest: 2
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Job: stored at version 1, older than the oldest readable version 2"
    );
    let err = schema_migrate::json::from_str::<Job>(r#"{"name":"x","_version":0}"#).unwrap_err();
    assert!(matches!(err, Error::TooOld { found: 0, .. }), "{err:?}");
    let expected = Job {
        name: "x".into(),
        retries: 1,
    };
    read_all_ways(r#"{"_version":2,"name":"x"}"#, &expected, 2);
    // Untagged defaults to the oldest readable version.
    read_all_ways(r#"{"name":"x"}"#, &expected, 2);
    assert_eq!(Job::OLDEST, 2);
    assert_eq!(Job::history().len(), 1);
    assert!(matches!(Job::path_from(1), Err(Error::TooOld { .. })));
}

#[test]
fn j_invalid_tags_are_errors() {
    for (payload, found) in [
        (r#"{"_version":"1","model":"m"}"#, r#"the string "1""#),
        (r#"{"_version":-1,"model":"m"}"#, "the negative number -1"),
        (
            r#"{"_version":1.5,"model":"m"}"#,
            "the floating-point number 1.5",
        ),
        (r#"{"_version":null,"model":"m"}"#, "null"),
    ] {
        let err = schema_migrate::json::from_str::<AgentConfig>(payload).unwrap_err();
        match &err {
            Error::InvalidTag {
                type_name: "AgentConfig",
                tag: "_version",
                found: f,
            } => assert_eq!(f, found, "{payload}"),
            other => panic!("{payload}: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// (k) `Stored<T>` gives the stored version.

#[test]
fn k_stored_gives_the_stored_version() {
    let s: Stored<AgentConfig> = serde_json::from_str(r#"{"_version":1,"model":"m"}"#).unwrap();
    assert_eq!(s.version, 1);
    assert!(s.was_upgraded());
    assert_eq!(s.value.max_retries, 3);

    let s: Stored<AgentConfig> =
        serde_json::from_str(r#"{"model":"m","tools":[],"max_retries":1,"_version":3}"#).unwrap();
    assert_eq!(
        s,
        Stored {
            value: AgentConfig {
                model: "m".into(),
                max_retries: 1,
                tools: vec![],
            },
            version: 3,
            upgraded: false
        }
    );
    assert!(!s.was_upgraded());

    // Untagged, typed chain, generic: the version the payload was read as.
    let s: Stored<Profile> =
        serde_json::from_str(r#"{"session_id":"s","user_name":"u","user_email":null}"#).unwrap();
    assert_eq!((s.version, s.was_upgraded()), (1, true));
    let s: Stored<Envelope<u8>> =
        serde_json::from_str(r#"{"env_version":2,"id":"i","attempt":2,"payload":1}"#).unwrap();
    assert_eq!((s.version, s.value.attempt), (2, 2));
    let s: Stored<Ticket> = serde_json::from_value(json!({"name": "n", "priority": 2})).unwrap();
    assert_eq!((s.version, s.value.title.as_str()), (2, "n"));
}

// ---------------------------------------------------------------------------
// (l) Introspection of a typed chain.

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 2,
    tag = "rev",
    migrate(from = 1, description = "Optional email", add(user_email))
)]
pub struct ChatStateV2 {
    pub user_name: String,
    pub user_email: Option<String>,
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 3, tag = "rev", migrate(from = ChatStateV2, description = "Nested user"))]
pub struct ChatState {
    pub user: User,
}

impl From<ChatStateV2> for ChatState {
    fn from(old: ChatStateV2) -> Self {
        ChatState {
            user: User {
                name: old.user_name,
                email: old.user_email,
            },
        }
    }
}

#[test]
fn l_history_and_path_from_on_a_typed_chain() {
    assert_eq!(
        (ChatState::VERSION, ChatState::TAG, ChatState::OLDEST),
        (3, "rev", 1)
    );
    let history = ChatState::history();
    assert_eq!(
        history.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        [
            r#"ChatStateV2 1 -> 2 "Optional email": add(user_email)"#,
            r#"ChatState 2 -> 3 "Nested user": From<ChatStateV2>"#,
        ]
    );
    assert_eq!(ChatState::STEPS.len(), 1);
    assert_eq!(
        *history[1],
        schema_migrate::Step {
            type_name: "ChatState",
            from: 2,
            to: 3,
            description: Some("Nested user"),
            ops: &[Op::Typed {
                previous: "ChatStateV2",
                fallible: false,
                reversible: false
            }],
        }
    );
    assert_eq!(
        history[0].ops,
        &[Op::Add {
            field: "user_email",
            default: None
        }]
    );

    let from = |v| {
        ChatState::path_from(v)
            .unwrap()
            .iter()
            .map(|s| (s.type_name, s.from, s.to))
            .collect::<Vec<_>>()
    };
    assert_eq!(from(1), [("ChatStateV2", 1, 2), ("ChatState", 2, 3)]);
    assert_eq!(from(2), [("ChatState", 2, 3)]);
    assert_eq!(from(3), []);
    assert!(matches!(
        ChatState::path_from(4),
        Err(Error::FutureVersion {
            type_name: "ChatState",
            found: 4,
            current: 3
        })
    ));
    assert!(matches!(
        ChatState::path_from(0),
        Err(Error::TooOld {
            type_name: "ChatState",
            found: 0,
            oldest: 1
        })
    ));

    // And the chain reads: v1 through both types.
    let alan = ChatState {
        user: User {
            name: "Alan".into(),
            email: None,
        },
    };
    read_all_ways(r#"{"rev":1,"user_name":"Alan"}"#, &alan, 1);
    read_all_ways(
        r#"{"user_name":"Alan","user_email":null,"rev":2}"#,
        &alan,
        2,
    );
    read_all_ways(r#"{"rev":3,"user":{"name":"Alan","email":null}}"#, &alan, 3);
    round_trip(&alan, r#"{"rev":3,"user":{"name":"Alan","email":null}}"#);
}

#[test]
fn l_history_of_a_declarative_type_lists_every_op() {
    let steps = TripPlan::history();
    assert_eq!(
        steps.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        [
            r#"TripPlan 1 -> 2 "Destination city": rename(destination = destinationCity)"#,
            r#"TripPlan 2 -> 3 "Traveler count": add(travelerCount = 1)"#,
        ]
    );
    assert_eq!(
        Event::history()[0].ops,
        &[
            Op::RenameVariant {
                from: "Tool",
                to: "ToolCall"
            },
            Op::RemoveVariant { variant: "Ping" },
        ]
    );
    assert_eq!(
        Grades::STEPS[0].ops,
        &[Op::Transform {
            field: "scores",
            from_type: "String",
            function: "parse_scores",
            back: None
        }]
    );
    assert_eq!(
        Session::STEPS[0].ops,
        &[Op::With {
            function: "nest_user",
            back: None
        }]
    );
    assert_eq!(
        Strict::STEPS[0].ops,
        &[
            Op::Remove {
                field: "cache",
                ty: None,
                restore: None
            },
            Op::Rename {
                from: "n",
                to: "count"
            },
        ]
    );
}

// ---------------------------------------------------------------------------
// Combinations a real history accumulates.

/// A field retyped twice, renamed, removed and re-added, with a `with` step
/// in the middle: payloads older than the `with` take the JSON path.
#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 5,
    migrate(from = 1, description = "Count as a number", transform(count: String => parse_count), remove(legacy)),
    migrate(from = 2, description = "Reshape", with = wrap_meta),
    migrate(from = 3, description = "count is travelers", rename(count = travelers), transform(travelers: u32 => by_type)),
    migrate(from = 4, description = "legacy is back", add(legacy = "none".to_owned())),
)]
pub struct Layered {
    pub travelers: Travelers,
    pub meta: Meta,
    pub legacy: String,
    #[serde(default)]
    pub messages: Vec<Message>,
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Travelers {
    pub adults: u32,
    pub children: u32,
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Meta {
    pub source: String,
}

fn parse_count(s: String) -> u32 {
    s.trim().parse().unwrap_or(0)
}

fn wrap_meta(object: &mut Map<String, Value>) -> Result<(), String> {
    let source = object.remove("source").unwrap_or_else(|| json!("unknown"));
    object.insert("meta".into(), json!({ "source": source }));
    Ok(())
}

fn by_type(n: u32) -> Result<Travelers, String> {
    if n > 100 {
        return Err(format!("{n} travelers is not a trip"));
    }
    Ok(Travelers {
        adults: n,
        children: 0,
    })
}

fn layered(adults: u32, source: &str, legacy: &str, messages: Vec<Message>) -> Layered {
    Layered {
        travelers: Travelers {
            adults,
            children: 0,
        },
        meta: Meta {
            source: source.into(),
        },
        legacy: legacy.into(),
        messages,
    }
}

#[test]
fn combined_history_reads_every_version() {
    read_all_ways(
        r#"{"_version":1,"count":" 4 ","legacy":{"x":1},"source":"web","messages":[{"role":"u","content":"c"}]}"#,
        &layered(4, "web", "none", vec![msg("u", "c", 0)]),
        1,
    );
    read_all_ways(
        r#"{"_version":2,"count":2}"#,
        &layered(2, "unknown", "none", vec![]),
        2,
    );
    read_all_ways(
        r#"{"meta":{"source":"cli"},"count":3,"_version":3,"messages":[{"v":2,"role":"a","content":"b","ts":9}]}"#,
        &layered(3, "cli", "none", vec![msg("a", "b", 9)]),
        3,
    );
    read_all_ways(
        r#"{"_version":4,"meta":{"source":"cli"},"travelers":{"adults":1,"children":2}}"#,
        &Layered {
            travelers: Travelers {
                adults: 1,
                children: 2,
            },
            ..layered(0, "cli", "none", vec![])
        },
        4,
    );
    round_trip(
        &layered(1, "s", "kept", vec![msg("r", "c", 1)]),
        r#"{"_version":5,"travelers":{"adults":1,"children":0},"meta":{"source":"s"},"legacy":"kept","messages":[{"v":2,"role":"r","content":"c","ts":1}]}"#,
    );
}

#[test]
fn combined_history_step_failures_from_the_json_path_and_the_typed_path() {
    let expected = r#"Layered: migration step 3 -> 4 ("count is travelers") failed at transform(travelers: u32 => by_type): 500 travelers is not a trip"#;
    // v1 goes through the `with` step, so through the JSON path.
    let err =
        schema_migrate::json::from_str::<Layered>(r#"{"_version":1,"count":"500"}"#).unwrap_err();
    assert_eq!(err.to_string(), expected);
    // v3 is after the `with` step: the typed reader.
    let err = schema_migrate::json::from_str::<Layered>(
        r#"{"_version":3,"count":500,"meta":{"source":"x"}}"#,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), expected);
    assert!(
        matches!(err, Error::StepFailed { from: 3, to: 4, .. }),
        "{err:?}"
    );
}

#[test]
fn a_nested_future_version_through_the_json_path() {
    let err = schema_migrate::json::from_str::<Layered>(
        r#"{"_version":1,"count":"1","messages":[{"v":7,"role":"u","content":"c"}]}"#,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::FutureVersion {
                type_name: "Message",
                found: 7,
                current: 2
            }
        ),
        "{err:?}"
    );
}

#[derive(Debug, PartialEq, serde::Deserialize)]
pub struct Report {
    pub grades: Vec<Grades>,
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, rename(results = grades)))]
pub struct Semester {
    pub grades: Vec<Grades>,
}

#[test]
fn a_nested_step_failure_keeps_the_inner_type_in_its_error() {
    let err = schema_migrate::json::from_str::<Semester>(
        r#"{"_version":1,"results":[{"_version":1,"scores":"1"},{"_version":1,"scores":"oops"}]}"#,
    )
    .unwrap_err();
    match &err {
        Error::StepFailed {
            type_name: "Grades",
            from: 1,
            to: 2,
            op,
            ..
        } => assert_eq!(op, "transform(scores: String => parse_scores)"),
        other => panic!("{other:?}"),
    }
    // Inside a plain serde struct, the text names the inner type and step.
    let text = serde_json::from_str::<Report>(r#"{"grades":[{"_version":1,"scores":"-1"}]}"#)
        .unwrap_err()
        .to_string();
    assert!(
        text.starts_with(r#"Grades: migration step 1 -> 2 ("Scores as a list") failed at transform(scores: String => parse_scores): bad score "-1""#),
        "{text}"
    );
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 3,
    migrate(from = 1, description = "Drop the counter", remove(counter: u64)),
    migrate(from = 2, description = "Optional label", transform(label: Option<String> => label_or_default)),
)]
pub struct Labelled {
    pub label: String,
    #[serde(alias = "nick")]
    pub name: String,
    #[serde(skip)]
    pub cache: Option<u32>,
}

fn label_or_default(label: Option<String>) -> String {
    label.unwrap_or_else(|| "unlabelled".into())
}

#[test]
fn remove_with_type_optional_transform_alias_and_skip() {
    let expected = |label: &str| Labelled {
        label: label.into(),
        name: "n".into(),
        cache: None,
    };
    read_all_ways(
        r#"{"_version":1,"counter":99,"name":"n"}"#,
        &expected("unlabelled"),
        1,
    );
    read_all_ways(
        r#"{"_version":2,"label":null,"name":"n"}"#,
        &expected("unlabelled"),
        2,
    );
    read_all_ways(
        r#"{"_version":2,"label":"x","name":"n"}"#,
        &expected("x"),
        2,
    );
    // The alias works at the current version.
    read_all_ways(
        r#"{"_version":3,"label":"y","nick":"n"}"#,
        &expected("y"),
        3,
    );
    let mut with_cache = expected("z");
    with_cache.cache = Some(5);
    let text = serde_json::to_string(&with_cache).unwrap();
    assert_eq!(text, r#"{"_version":3,"label":"z","name":"n"}"#);
    assert_eq!(
        serde_json::from_str::<Labelled>(&text).unwrap(),
        expected("z")
    );
    assert_eq!(
        Labelled::STEPS[0].ops,
        &[Op::Remove {
            field: "counter",
            ty: Some("u64"),
            restore: None
        }]
    );
}

#[derive(Debug, PartialEq, Versioned)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[schema(
    version = 2,
    migrate(from = 1, rename_variant(waiting = human_review)),
)]
pub enum Status {
    Running { node: String },
    HumanReview { reviewer: Option<String> },
    Finished(Outcome),
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    pub ok: bool,
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, add(status = Status::Running { node: "start".into() })))]
pub struct Workflow {
    pub id: u32,
    pub status: Status,
}

#[test]
fn enum_with_rename_all_newtype_variant_and_inside_a_versioned_struct() {
    read_all_ways(
        r#"{"_version":1,"kind":"waiting","reviewer":"ann"}"#,
        &Status::HumanReview {
            reviewer: Some("ann".into()),
        },
        1,
    );
    read_all_ways(
        r#"{"kind":"finished","ok":true,"_version":1}"#,
        &Status::Finished(Outcome { ok: true }),
        1,
    );
    round_trip(
        &Status::HumanReview { reviewer: None },
        r#"{"_version":2,"kind":"human_review","reviewer":null}"#,
    );
    round_trip(
        &Status::Finished(Outcome { ok: false }),
        r#"{"_version":2,"kind":"finished","ok":false}"#,
    );
    read_all_ways(
        r#"{"_version":1,"id":3}"#,
        &Workflow {
            id: 3,
            status: Status::Running {
                node: "start".into(),
            },
        },
        1,
    );
    read_all_ways(
        r#"{"_version":2,"id":3,"status":{"kind":"waiting","reviewer":null}}"#,
        &Workflow {
            id: 3,
            status: Status::HumanReview { reviewer: None },
        },
        2,
    );
    round_trip(
        &Workflow {
            id: 1,
            status: Status::Running { node: "n".into() },
        },
        r#"{"_version":2,"id":1,"status":{"_version":2,"kind":"running","node":"n"}}"#,
    );
}

#[test]
fn odd_tags_and_shapes_are_errors_not_panics() {
    let err = schema_migrate::json::from_str::<AgentConfig>(
        r#"{"_version":18446744073709551615,"model":"m"}"#,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::FutureVersion {
                found: 18446744073709551615,
                current: 3,
                ..
            }
        ),
        "{err:?}"
    );
    for payload in [
        r#"[1,2]"#,
        r#""text""#,
        "null",
        "3",
        r#"{"_version":{"a":1}}"#,
    ] {
        let err = schema_migrate::json::from_str::<AgentConfig>(payload).unwrap_err();
        assert_eq!(err.type_name(), "AgentConfig", "{payload}");
        assert!(
            matches!(err, Error::InvalidData { .. } | Error::InvalidTag { .. }),
            "{payload}: {err:?}"
        );
        let by_reference = schema_migrate::reference::from_value::<AgentConfig>(
            serde_json::from_str(payload).unwrap(),
        )
        .unwrap_err();
        assert_eq!(by_reference.kind(), err.kind(), "{payload}");
    }
}

// ---------------------------------------------------------------------------
// Probes of where the typed readers and the reference path could disagree.

#[test]
fn flatten_and_an_added_field_present_in_an_old_payload() {
    // At version 1 `travelerCount` did not exist: the v1 payload's key of
    // that name is an unknown key. The reference path's `add` overwrites it.
    let payload = r#"{"_version":2,"destinationCity":"Oslo","budget_usd":100.0,"labels":"a,b","travelerCount":5}"#;
    let by_reference =
        schema_migrate::reference::from_value::<TripPlan>(serde_json::from_str(payload).unwrap())
            .unwrap()
            .value;
    let by_serde: TripPlan = serde_json::from_str(payload).unwrap();
    assert_eq!(by_serde, by_reference);
    assert_eq!(by_serde, plan("Oslo", 1));
    // And what it writes back has each key once, and reads back.
    round_trip(
        &by_serde,
        r#"{"_version":3,"destinationCity":"Oslo","travelerCount":1,"budget_usd":100.0,"notes":[],"labels":"a,b"}"#,
    );
}

#[test]
fn flatten_and_a_renamed_field_present_in_an_old_payload() {
    let payload = r#"{"_version":1,"destination":"Oslo","destinationCity":"Rome","budget_usd":100.0,"labels":"a,b"}"#;
    let by_reference =
        schema_migrate::reference::from_value::<TripPlan>(serde_json::from_str(payload).unwrap())
            .unwrap()
            .value;
    assert_eq!(by_reference, plan("Oslo", 1));
    let by_serde: TripPlan = serde_json::from_str(payload).unwrap();
    assert_eq!(by_serde, by_reference);
}

#[derive(Debug, PartialEq, Versioned)]
#[serde(tag = "t", content = "c")]
#[schema(
    version = 3,
    migrate(from = 1, rename_variant(Item = Single)),
    migrate(from = 2, remove_variant(Gone)),
)]
pub enum AdjacentPayload<T> {
    Single(T),
    Many(Vec<T>),
    Empty,
}

#[test]
fn generic_adjacently_tagged_enum_with_variant_history() {
    read_all_ways(
        r#"{"_version":1,"t":"Item","c":5}"#,
        &AdjacentPayload::Single(5u32),
        1,
    );
    read_all_ways(
        r#"{"c":["a"],"t":"Many","_version":2}"#,
        &AdjacentPayload::Many(vec!["a".to_owned()]),
        2,
    );
    read_all_ways(
        r#"{"_version":1,"t":"Empty"}"#,
        &AdjacentPayload::<u8>::Empty,
        1,
    );
    round_trip(
        &AdjacentPayload::Single(1.5f64),
        r#"{"_version":3,"t":"Single","c":1.5}"#,
    );
    let err = schema_migrate::json::from_str::<AdjacentPayload<u8>>(
        r#"{"_version":1,"t":"Gone","c":null}"#,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "AdjacentPayload: migration step 2 -> 3 failed at remove_variant(Gone): variant `Gone` no longer exists at version 3"
    );
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 1)]
pub struct BoxV1<T> {
    pub item: T,
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = BoxV1<T>))]
pub struct Boxed<T> {
    pub items: Vec<T>,
}

impl<T> From<BoxV1<T>> for Boxed<T> {
    fn from(old: BoxV1<T>) -> Self {
        Boxed {
            items: vec![old.item],
        }
    }
}

#[test]
fn generic_typed_step() {
    read_all_ways(r#"{"_version":1,"item":3}"#, &Boxed { items: vec![3u8] }, 1);
    read_all_ways(
        r#"{"_version":2,"items":["a","b"]}"#,
        &Boxed {
            items: vec!["a".to_owned(), "b".to_owned()],
        },
        2,
    );
    round_trip(
        &Boxed { items: vec![true] },
        r#"{"_version":2,"items":[true]}"#,
    );
    assert_eq!(
        Boxed::<u8>::history()
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
        ["Boxed 1 -> 2: From<BoxV1<T>>"]
    );
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, rename(a = b)))]
pub struct SkipDe {
    pub b: u32,
    #[serde(skip_deserializing)]
    pub computed: u32,
}

#[test]
fn skip_deserializing_field_at_old_versions() {
    let expected = SkipDe { b: 1, computed: 0 };
    read_all_ways(r#"{"_version":1,"a":1,"computed":9}"#, &expected, 1);
    read_all_ways(r#"{"_version":2,"b":1,"computed":9}"#, &expected, 2);
    assert_eq!(
        serde_json::to_string(&SkipDe { b: 1, computed: 4 }).unwrap(),
        r#"{"_version":2,"b":1,"computed":4}"#
    );
}

/// BUG (does not compile, see the report): container `#[serde(default)]`.
mod container_default {
    use super::*;

    #[derive(Debug, PartialEq, Default, Versioned)]
    #[serde(default)]
    #[schema(version = 2, migrate(from = 1, description = "title is name", rename(title = name)))]
    pub struct Settings {
        pub name: String,
        pub verbose: bool,
        pub level: u8,
    }

    #[test]
    fn container_default_applies_to_old_payloads() {
        let expected = Settings {
            name: "x".into(),
            verbose: false,
            level: 0,
        };
        read_all_ways(r#"{"_version":2,"name":"x"}"#, &expected, 2);
        read_all_ways(r#"{"_version":1,"title":"x"}"#, &expected, 1);
    }
}

/// BUG (does not compile, see the report): a generic enum with a variant history.
mod generic_enum {
    use super::*;

    #[derive(Debug, PartialEq, Versioned)]
    #[serde(tag = "type")]
    #[schema(
    version = 3,
    migrate(from = 1, rename_variant(Item = Single)),
    migrate(from = 2, remove_variant(Gone)),
)]
    pub enum Payload<T> {
        Single { value: T },
        Many { values: Vec<T> },
    }

    #[test]
    fn generic_enum_with_variant_history() {
        read_all_ways(
            r#"{"_version":1,"type":"Item","value":5}"#,
            &Payload::Single { value: 5u32 },
            1,
        );
        read_all_ways(
            r#"{"_version":2,"type":"Many","values":["a"]}"#,
            &Payload::Many {
                values: vec!["a".to_owned()],
            },
            2,
        );
        round_trip(
            &Payload::Single { value: 1.5f64 },
            r#"{"_version":3,"type":"Single","value":1.5}"#,
        );
        let err = schema_migrate::json::from_str::<Payload<u8>>(r#"{"_version":1,"type":"Gone"}"#)
            .unwrap_err();
        assert_eq!(
        err.to_string(),
        "Payload: migration step 2 -> 3 failed at remove_variant(Gone): variant `Gone` no longer exists at version 3"
    );
    }
}
