//! Steps that see their context (`#[schema(context = Ctx)]`), the PostHog
//! case: one assistant state split per graph, where a subgraph's checkpoint
//! needs a different step from the root's.

use std::sync::{Arc, Barrier};

use schema_migrate::{with_context, Error};
use serde_json::{json, Value};

use schema_migrate_tests::posthog::{AssistantState, GraphCtx, Memory, Tenant};

const V1: &str = r#"{"_version":1,"messages":["hi","there"],"streaming":true,"title":"trip"}"#;

#[test]
fn the_context_chooses_the_step() {
    let root =
        schema_migrate::json::from_str_with::<AssistantState, _>(V1, &GraphCtx::root()).unwrap();
    assert_eq!(root.value.messages, ["hi", "there"]);
    assert!(root.value.subgraph_messages.is_empty());
    assert_eq!(
        (root.value.streaming.as_str(), root.value.title.as_str()),
        ("interactive", "TRIP")
    );

    let task = GraphCtx {
        thread_type: "task".into(),
        ..GraphCtx::subgraph("planner:1")
    };
    let sub: AssistantState = with_context(&task, || serde_json::from_str(V1)).unwrap();
    assert!(sub.messages.is_empty());
    assert_eq!(sub.subgraph_messages, ["hi", "there"]);
    assert_eq!(sub.streaming, "background");

    // Any format: MessagePack, with the context around the read.
    let v1: Value = serde_json::from_str(V1).unwrap();
    let bytes = rmp_serde::to_vec_named(&v1).unwrap();
    let read: AssistantState = with_context(&task, || rmp_serde::from_slice(&bytes)).unwrap();
    assert_eq!(read, sub);
}

#[test]
fn no_context_is_an_error_not_a_guess() {
    let err = schema_migrate::json::from_str::<AssistantState>(V1).unwrap_err();
    let Error::MissingContext {
        from,
        to,
        ref op,
        context,
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (from, to, op.as_str()),
        (1, 2, "with = split_per_graph, back = join_per_graph")
    );
    assert!(context.ends_with("GraphCtx"), "{context}");
    assert!(err.to_string().contains("needs a context of type"), "{err}");
    // Through serde_json, the same text.
    let err = serde_json::from_str::<AssistantState>(V1).unwrap_err();
    assert!(err.to_string().contains("needs a context"), "{err}");
    // A current payload needs none; neither does a step without a context
    // function (version 2 runs `mode_for`, which takes one: still an error).
    let current =
        r#"{"_version":3,"messages":[],"subgraph_messages":[],"streaming":"off","title":"T"}"#;
    assert!(schema_migrate::json::from_str::<AssistantState>(current).is_ok());
    let v2 = r#"{"_version":2,"messages":[],"subgraph_messages":[],"streaming":false,"title":"t"}"#;
    assert_eq!(
        schema_migrate::json::from_str::<AssistantState>(v2)
            .unwrap_err()
            .kind(),
        "missing_context"
    );
}

#[test]
fn nested_types_find_their_own_context_and_the_innermost_wins() {
    let payload = r#"{"_version":2,"messages":[],"subgraph_messages":[],"streaming":false,"title":"t",
        "memory":{"_version":1,"key":"prefs"}}"#;
    let read = |outer: &Tenant| {
        with_context(outer, || {
            with_context(&GraphCtx::root(), || {
                with_context(&Tenant("acme".into()), || {
                    schema_migrate::json::from_str::<AssistantState>(payload)
                })
            })
        })
    };
    let state = read(&Tenant("outer".into())).unwrap().value;
    assert_eq!(
        state.memory,
        Some(Memory {
            key: "acme/prefs".into()
        })
    );
    assert_eq!(state.streaming, "off");
    // The nested type's context missing: its own error, naming its step.
    let err = with_context(&GraphCtx::root(), || {
        schema_migrate::json::from_str::<AssistantState>(payload)
    })
    .unwrap_err();
    assert!(
        err.to_string().contains("Memory: migration step 1 -> 2"),
        "{err}"
    );
    // Scopes end with their call.
    assert_eq!(
        schema_migrate::json::from_str::<AssistantState>(V1)
            .unwrap_err()
            .kind(),
        "missing_context"
    );
}

#[test]
fn writing_back_uses_the_context_too() {
    let state = AssistantState {
        messages: vec![],
        subgraph_messages: vec!["x".into()],
        streaming: "background".into(),
        title: "T".into(),
        memory: None,
    };
    let at1 = with_context(&GraphCtx::subgraph("planner:1"), || {
        schema_migrate::json::to_value_at(&state, 1)
    })
    .unwrap();
    assert_eq!(
        at1,
        json!({"_version":1,"messages":["x"],"streaming":true,"title":"t","memory":null})
    );
    let err = schema_migrate::json::to_string_at(&state, 1).unwrap_err();
    let Error::MissingContext { from, to, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!((from, to), (3, 2), "the first step run backward is 3 -> 2");
}

/// Contexts are per thread: two threads reading at once each see their own.
#[test]
fn contexts_on_two_threads_at_once() {
    let barrier = Arc::new(Barrier::new(2));
    let run = |ctx: GraphCtx, barrier: Arc<Barrier>| {
        std::thread::spawn(move || {
            with_context(&ctx, || {
                barrier.wait();
                (0..200)
                    .map(|_| {
                        serde_json::from_str::<AssistantState>(V1)
                            .unwrap()
                            .messages
                            .len()
                    })
                    .sum::<usize>()
            })
        })
    };
    let root = run(GraphCtx::root(), barrier.clone());
    let sub = run(GraphCtx::subgraph("s"), barrier);
    assert_eq!((root.join().unwrap(), sub.join().unwrap()), (400, 0));
}

/// Under tokio, a task may move to another thread at every `.await`: the
/// read happens inside `with_context`, between awaits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_moving_between_threads_read_inside_the_scope() {
    let mut tasks = Vec::new();
    for i in 0..8 {
        tasks.push(tokio::spawn(async move {
            let ctx = if i % 2 == 0 {
                GraphCtx::root()
            } else {
                GraphCtx::subgraph("s")
            };
            let mut roots = 0;
            for _ in 0..50 {
                tokio::task::yield_now().await;
                let state: AssistantState =
                    with_context(&ctx, || serde_json::from_str(V1)).unwrap();
                roots += usize::from(!state.messages.is_empty());
            }
            (i, roots)
        }));
    }
    for task in tasks {
        let (i, roots) = task.await.unwrap();
        assert_eq!(roots, if i % 2 == 0 { 50 } else { 0 });
    }
}
