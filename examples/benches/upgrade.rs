//! Upgrade benchmark for the performance targets in DESIGN.md section 6.
//!
//! Run with `cargo bench -p schema-migrate-examples --bench upgrade`.
//!
//! Data: an LLM agent's state (a conversation with tool calls, metadata, a
//! plan, counters) at ~1 KB, ~32 KB and ~1 MB serialized. Every case is
//! timed against a plain `#[derive(Deserialize)]` struct of the same shape
//! reading the current-version payload with `serde_json::from_str` (the
//! Serialize case against plain `#[derive(Serialize)]`), alternating baseline
//! and candidate batch by batch over many rounds; the table reports medians
//! and the p10-p90 spread of the per-round ratios. Peak heap is the highest
//! number of live bytes requested during one operation (a resize counts as
//! its size change), measured by the counting allocator below.
//!
//! Optional: `UPGRADE_BENCH_BUDGET_MS` sets the time per comparison (default
//! 3000), and a trailing argument keeps only the sizes or cases whose name
//! contains it (`cargo bench ... --bench upgrade -- "tag last"`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use schema_migrate::{Stored, Versioned};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

const COMMAND: &str = "cargo bench -p schema-migrate-examples --bench upgrade";
const TAG: &str = "schema_version";

// ---------------------------------------------------------------------------
// Counting allocator: live and peak bytes while `TRACKING` is on (and only
// then, so the timed loops pay one relaxed load per allocation, nothing more).

struct Counting;

static TRACKING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes as isize, Relaxed) + bytes as isize;
    PEAK.fetch_max(live, Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; the counters have no
// effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() && TRACKING.load(Relaxed) {
            ALLOCS.fetch_add(1, Relaxed);
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() && TRACKING.load(Relaxed) {
            ALLOCS.fetch_add(1, Relaxed);
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        if TRACKING.load(Relaxed) {
            LIVE.fetch_sub(layout.size() as isize, Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() && TRACKING.load(Relaxed) {
            ALLOCS.fetch_add(1, Relaxed);
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub((layout.size() - new_size) as isize, Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Peak live heap bytes and allocation count during one call of `op`,
/// including its result (dropped after the measurement).
fn heap_of<R>(op: &mut impl FnMut() -> R) -> (usize, usize) {
    drop(black_box(op())); // warm any lazily initialised state first
    LIVE.store(0, Relaxed);
    PEAK.store(0, Relaxed);
    ALLOCS.store(0, Relaxed);
    TRACKING.store(true, Relaxed);
    let out = black_box(op());
    TRACKING.store(false, Relaxed);
    drop(out);
    (PEAK.load(Relaxed).max(0) as usize, ALLOCS.load(Relaxed))
}

// ---------------------------------------------------------------------------
// The state, current shape (version 4). Nested types are plain serde types
// shared by every version.

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// JSON-encoded arguments, as chat-completion APIs return them.
    pub arguments: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Unix milliseconds.
    pub created_at: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub user_id: String,
    pub created_at: String,
    pub updated_at: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    InProgress,
    Done,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanStep {
    pub id: u32,
    pub description: String,
    pub status: StepStatus,
    #[serde(default)]
    pub result: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    pub turns: u32,
    pub tool_calls: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub errors: u32,
}

/// (1) The baseline: plain serde, current shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentState {
    pub session_id: String,
    pub model: String,
    pub temperature: f64,
    pub metadata: Metadata,
    pub plan: Vec<PlanStep>,
    pub messages: Vec<Message>,
    pub counters: Counters,
    pub tags: Vec<String>,
}

/// (2) The same shape, versioned, with three declarative steps from v1.
#[derive(Debug, Clone, PartialEq, Versioned)]
#[schema(
    version = 4,
    tag = "schema_version",
    migrate(from = 1, description = "Sampling temperature", add(temperature = 1.0)),
    migrate(
        from = 2,
        description = "Model renamed, debug trace dropped",
        rename(llm = model),
        remove(debug_trace: String = String::new())
    ),
    migrate(from = 3, description = "Tags as a list", transform(tags: String => split_tags, back = join_tags)),
)]
pub struct VersionedAgentState {
    pub session_id: String,
    pub model: String,
    pub temperature: f64,
    pub metadata: Metadata,
    pub plan: Vec<PlanStep>,
    pub messages: Vec<Message>,
    pub counters: Counters,
    pub tags: Vec<String>,
}

// By reference: writing an older version lends the field to `back`, so
// one that borrows it costs no clone.
#[allow(
    clippy::ptr_arg,
    reason = "a back function borrows the field as its type is"
)]
fn join_tags(tags: &Vec<String>) -> String {
    tags.join(",")
}

fn split_tags(tags: String) -> Vec<String> {
    if tags.is_empty() {
        Vec::new()
    } else {
        tags.split(',').map(str::to_owned).collect()
    }
}

/// The v1 shape, written with plain serde (not through the library).
#[derive(Serialize)]
struct AgentStateV1<'a> {
    session_id: &'a str,
    llm: &'a str,
    debug_trace: &'a str,
    metadata: &'a Metadata,
    plan: &'a [PlanStep],
    messages: &'a [Message],
    counters: &'a Counters,
    tags: String,
}

impl From<&AgentState> for VersionedAgentState {
    fn from(s: &AgentState) -> Self {
        let s = s.clone();
        VersionedAgentState {
            session_id: s.session_id,
            model: s.model,
            temperature: s.temperature,
            metadata: s.metadata,
            plan: s.plan,
            messages: s.messages,
            counters: s.counters,
            tags: s.tags,
        }
    }
}

/// (2b) The same history with a context (`#[schema(context = Region)]`):
/// the transform takes `&Region`, read inside `with_context`.
#[derive(Debug, Clone, PartialEq, Versioned)]
#[schema(
    version = 4,
    tag = "schema_version",
    context = Region,
    migrate(from = 1, description = "Sampling temperature", add(temperature = 1.0)),
    migrate(
        from = 2,
        description = "Model renamed, debug trace dropped",
        rename(llm = model),
        remove(debug_trace)
    ),
    migrate(from = 3, description = "Tags as a list", transform(tags: String => split_tags_in)),
)]
pub struct ContextAgentState {
    pub session_id: String,
    pub model: String,
    pub temperature: f64,
    pub metadata: Metadata,
    pub plan: Vec<PlanStep>,
    pub messages: Vec<Message>,
    pub counters: Counters,
    pub tags: Vec<String>,
}

/// Where the state lives; the tags of some regions were never split.
#[derive(Debug, Clone)]
pub struct Region {
    pub unsplit: bool,
}

fn split_tags_in(tags: String, region: &Region) -> Vec<String> {
    if region.unsplit {
        vec![tags]
    } else {
        split_tags(tags)
    }
}

// ---------------------------------------------------------------------------
// The naive upgrade: parse to a Value, apply the three steps to the map by
// hand, then `from_value` into the baseline struct.

fn naive_upgrade(text: &str) -> Result<AgentState, serde_json::Error> {
    let mut value: Value = serde_json::from_str(text)?;
    let map: &mut Map<String, Value> = value
        .as_object_mut()
        .ok_or_else(|| serde::de::Error::custom("not an object"))?;
    let version = map.remove(TAG).and_then(|v| v.as_u64()).unwrap_or(1);
    if version < 2 {
        map.insert("temperature".to_owned(), Value::from(1.0));
    }
    if version < 3 {
        if let Some(llm) = map.remove("llm") {
            map.insert("model".to_owned(), llm);
        }
        map.remove("debug_trace");
    }
    if version < 4 {
        if let Some(Value::String(tags)) = map.remove("tags") {
            let list = split_tags(tags).into_iter().map(Value::String).collect();
            map.insert("tags".to_owned(), Value::Array(list));
        }
    }
    serde_json::from_value(value)
}

// ---------------------------------------------------------------------------
// Deterministic data.

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "the",
    "flight",
    "to",
    "Lisbon",
    "hotel",
    "near",
    "a",
    "budget",
    "of",
    "and",
    "for",
    "please",
    "check",
    "availability",
    "on",
    "March",
    "itinerary",
    "options",
    "I",
    "found",
    "cheapest",
    "direct",
    "with",
    "layover",
    "in",
    "prefer",
    "morning",
    "departure",
    "window",
    "seat",
    "refund",
    "policy",
    "booking",
    "reference",
    "confirmed",
    "could",
    "you",
    "compare",
    "prices",
    "total",
    "including",
    "taxes",
    "is",
    "EUR",
    "per",
    "night",
    "breakfast",
    "included",
    "cancel",
    "free",
    "until",
    "48h",
    "before",
    "arrival",
    "traveler",
    "passport",
    "required",
];

const TOOLS: &[&str] = &[
    "search_flights",
    "search_hotels",
    "get_weather",
    "book_flight",
    "lookup_policy",
];

fn sentence(rng: &mut Rng, min: usize, max: usize) -> String {
    let n = min + rng.below(max - min + 1);
    let mut s = String::with_capacity(n * 7);
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(rng.pick(WORDS));
    }
    s.push('.');
    s
}

/// Message `i` of the conversation; depends only on `i` so a longer
/// conversation extends a shorter one.
fn message(i: usize) -> Message {
    let mut rng = Rng::new(i as u64 + 1);
    let created_at = 1_714_550_400_000 + i as u64 * 7_919;
    let (role, content, tool_calls, tool_call_id) = match i % 5 {
        _ if i == 0 => (
            Role::System,
            format!(
                "You are a travel planning agent.\nRules:\n- Always confirm prices in EUR.\n- Never book without \"explicit\" consent.\n{}",
                sentence(&mut rng, 20, 30)
            ),
            Vec::new(),
            None,
        ),
        0 | 1 => (Role::User, sentence(&mut rng, 8, 30), Vec::new(), None),
        2 => {
            let calls = (0..1 + rng.below(2))
                .map(|k| {
                    let name = rng.pick(TOOLS).to_owned();
                    let arguments = format!(
                        r#"{{"query":"{}","date":"2024-03-{:02}","max_results":{},"filters":{{"direct":{},"cabin":"economy"}}}}"#,
                        sentence(&mut rng, 2, 5),
                        1 + rng.below(28),
                        5 + rng.below(20),
                        rng.below(2) == 0
                    );
                    ToolCall { id: format!("call_{i:05}_{k}"), name, arguments }
                })
                .collect();
            (Role::Assistant, String::new(), calls, None)
        }
        3 => (
            Role::Tool,
            format!(
                r#"{{"results":[{{"title":"{}","price":{}.{:02},"url":"https://example.com/r/{}"}},{{"title":"{}","price":{}.00}}]}}"#,
                sentence(&mut rng, 3, 6),
                40 + rng.below(900),
                rng.below(100),
                rng.next() % 100_000,
                sentence(&mut rng, 3, 6),
                40 + rng.below(900)
            ),
            Vec::new(),
            Some(format!("call_{:05}_0", i - 1)),
        ),
        _ => (
            Role::Assistant,
            format!(
                "{}\n\n| option | price |\n|---|---|\n| A | {} EUR |\n\n{}",
                sentence(&mut rng, 15, 40),
                50 + rng.below(500),
                sentence(&mut rng, 5, 20)
            ),
            Vec::new(),
            None,
        ),
    };
    Message {
        role,
        content,
        tool_calls,
        tool_call_id,
        created_at,
    }
}

fn state(n_messages: usize) -> AgentState {
    let messages: Vec<Message> = (0..n_messages).map(message).collect();
    let plan_len = (1 + n_messages / 40).min(12);
    let plan = (0..plan_len)
        .map(|k| {
            let mut rng = Rng::new(1000 + k as u64);
            PlanStep {
                id: k as u32 + 1,
                description: sentence(&mut rng, 3, 8),
                status: [
                    StepStatus::Done,
                    StepStatus::InProgress,
                    StepStatus::Pending,
                ][k.min(2)],
                result: (k == 0).then(|| "ok".to_owned()),
            }
        })
        .collect();
    let tool_calls = messages.iter().map(|m| m.tool_calls.len() as u32).sum();
    AgentState {
        session_id: "sess_01HV3K9Q2Z7X".to_owned(),
        model: "gpt-4o-2024-08-06".to_owned(),
        temperature: 1.0,
        metadata: Metadata {
            user_id: "user_8842".to_owned(),
            created_at: "2024-05-01T08:00:00Z".to_owned(),
            updated_at: "2024-05-01T09:12:44Z".to_owned(),
            labels: [("channel", "web"), ("locale", "en-GB")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        },
        plan,
        counters: Counters {
            turns: (n_messages / 5) as u32,
            tool_calls,
            prompt_tokens: n_messages as u64 * 412,
            completion_tokens: n_messages as u64 * 97,
            errors: 1,
        },
        messages,
        tags: vec!["travel".to_owned(), "priority".to_owned(), "eu".to_owned()],
    }
}

/// The smallest conversation whose current-version payload reaches `target` bytes.
fn state_of_size(target: usize) -> AgentState {
    let size = |n| {
        serde_json::to_string(&VersionedAgentState::from(&state(n)))
            .unwrap()
            .len()
    };
    let mut hi = 1;
    while size(hi) < target {
        hi *= 2;
    }
    let mut lo = hi / 2;
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        if size(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    state(hi)
}

struct Payloads {
    current: String,
    v1_first: String,
    v1_last: String,
}

fn payloads(s: &AgentState) -> Payloads {
    let current = serde_json::to_string(&VersionedAgentState::from(s)).unwrap();
    let v1 = serde_json::to_string(&AgentStateV1 {
        session_id: &s.session_id,
        llm: &s.model,
        debug_trace:
            "planner=v2 retries=0 last_error=none spans=[plan,search,compare] sampled=true",
        metadata: &s.metadata,
        plan: &s.plan,
        messages: &s.messages,
        counters: &s.counters,
        tags: s.tags.join(","),
    })
    .unwrap();
    let body = &v1[1..v1.len() - 1];
    Payloads {
        current,
        v1_first: format!("{{\"{TAG}\":1,{body}}}"),
        v1_last: format!("{{{body},\"{TAG}\":1}}"),
    }
}

// ---------------------------------------------------------------------------
// Timing.

struct Measured {
    base_ns: f64,
    cand_ns: f64,
    ratio: f64,
    p10: f64,
    p90: f64,
    rounds: usize,
    iters: usize,
}

fn time_batch<R>(op: &mut impl FnMut() -> R, iters: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        black_box(op());
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    quantile(&v, 0.5)
}

/// Alternates baseline and candidate batches (the order flips every round so
/// neither always runs first), for about `budget`.
fn compare<A, B>(
    base: &mut impl FnMut() -> A,
    cand: &mut impl FnMut() -> B,
    budget: Duration,
) -> Measured {
    // Warm up and estimate one op of each.
    let warm = Instant::now();
    let mut one = (f64::MAX, f64::MAX);
    while warm.elapsed() < budget / 20 || one.0 == f64::MAX {
        one.0 = one.0.min(time_batch(base, 1));
        one.1 = one.1.min(time_batch(cand, 1));
    }
    // Batches of at least ~0.5 ms so the clock's cost does not matter.
    let per_op = one.0.max(one.1);
    let iters = ((500_000.0 / per_op).ceil() as usize).max(1);
    let round_ns = iters as f64 * (one.0 + one.1);
    let rounds = ((budget.as_nanos() as f64 * 0.9 / round_ns) as usize).clamp(21, 2001);

    let (mut base_ns, mut cand_ns, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..rounds {
        let (a, b) = if r % 2 == 0 {
            let a = time_batch(base, iters);
            (a, time_batch(cand, iters))
        } else {
            let b = time_batch(cand, iters);
            (time_batch(base, iters), b)
        };
        base_ns.push(a);
        cand_ns.push(b);
        ratios.push(b / a);
    }
    ratios.sort_by(f64::total_cmp);
    Measured {
        base_ns: median(base_ns),
        cand_ns: median(cand_ns),
        ratio: quantile(&ratios, 0.5),
        p10: quantile(&ratios, 0.1),
        p90: quantile(&ratios, 0.9),
        rounds,
        iters,
    }
}

// ---------------------------------------------------------------------------
// Report.

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|g| std::str::from_utf8(g).unwrap())
        .collect();
    groups.join(",")
}

struct Row {
    size: &'static str,
    case: &'static str,
    payload: usize,
    time: Measured,
    base_heap: (usize, usize),
    cand_heap: (usize, usize),
    target: Option<f64>,
}

impl Row {
    fn print(&self) {
        let t = &self.time;
        let heap_ratio = self.cand_heap.0 as f64 / self.base_heap.0 as f64;
        let verdict = match self.target {
            Some(max) if t.ratio <= max && heap_ratio <= max => format!("<= {max:.2}x: ok"),
            Some(max) => format!("<= {max:.2}x: **MISS**"),
            None => "reported".to_owned(),
        };
        println!(
            "| {} | {} | {} | {} | {} | **{:.3}x** | {:.3}–{:.3} | {} | {} | **{:.3}x** | {} → {} | {} | {}×{} |",
            self.size,
            self.case,
            thousands(self.payload as u64),
            thousands(t.base_ns as u64),
            thousands(t.cand_ns as u64),
            t.ratio,
            t.p10,
            t.p90,
            thousands(self.base_heap.0 as u64),
            thousands(self.cand_heap.0 as u64),
            heap_ratio,
            thousands(self.base_heap.1 as u64),
            thousands(self.cand_heap.1 as u64),
            verdict,
            t.rounds,
            t.iters,
        );
    }
}

fn sanity_check(s: &AgentState, p: &Payloads) {
    let expected = VersionedAgentState::from(s);
    let base: AgentState = serde_json::from_str(&p.current).unwrap();
    assert_eq!(&base, s, "baseline, current payload");
    for (name, text, version) in [
        ("current", &p.current, 4),
        ("v1 tag first", &p.v1_first, 1),
        ("v1 tag last", &p.v1_last, 1),
    ] {
        let got: VersionedAgentState =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("versioned, {name}: {e}"));
        assert!(got == expected, "versioned, {name}: decoded value differs");
        let stored: Stored<VersionedAgentState> = serde_json::from_str(text).unwrap();
        assert_eq!(stored.version, version, "versioned, {name}: stored version");
    }
    for (name, text) in [("v1 tag first", &p.v1_first), ("v1 tag last", &p.v1_last)] {
        let got = naive_upgrade(text).unwrap_or_else(|e| panic!("naive, {name}: {e}"));
        assert!(&got == s, "naive, {name}: decoded value differs");
    }
    assert!(p.v1_first.starts_with(&format!("{{\"{TAG}\":1,")));
    assert!(p.v1_last.ends_with(&format!(",\"{TAG}\":1}}")));
    assert!(p.v1_first.contains("\"llm\":") && p.v1_first.contains("\"debug_trace\":"));
    // Written back at each older version, every one reads back as the
    // value (the temperature added at 2 is at its default 1.0 here).
    for version in 1..=4 {
        let text = schema_migrate::json::to_string_at(&expected, version).unwrap();
        let stored: Stored<VersionedAgentState> = serde_json::from_str(&text).unwrap();
        assert_eq!(stored.version, version, "to_string_at({version})");
        assert!(
            stored.value == expected,
            "to_string_at({version}): read back differs"
        );
    }
    let plain = serde_json::to_string(s).unwrap();
    assert_eq!(
        p.current,
        format!("{{\"{TAG}\":4,{}", &plain[1..]),
        "Serialize"
    );
}

fn main() {
    let budget = Duration::from_millis(
        std::env::var("UPGRADE_BENCH_BUDGET_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3000),
    );
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let keep = |size: &str, case: &str| {
        filter
            .as_deref()
            .is_none_or(|f| size.contains(f) || case.contains(f))
    };
    let started = Instant::now();

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());

    let mut rows = Vec::new();
    let mut sizes_line = Vec::new();
    for (size, target) in [("1 KB", 1 << 10), ("32 KB", 32 << 10), ("1 MB", 1 << 20)] {
        let s = state_of_size(target);
        let v = VersionedAgentState::from(&s);
        let p = payloads(&s);
        sanity_check(&s, &p);
        sizes_line.push(format!(
            "{size}: {} messages, current {} B, v1 {} B",
            s.messages.len(),
            thousands(p.current.len() as u64),
            thousands(p.v1_first.len() as u64)
        ));

        let mut base_de = || serde_json::from_str::<AgentState>(black_box(&p.current)).unwrap();
        let base_de_heap = heap_of(&mut base_de);
        let mut de = |text: &'static str, payload: &String, target: Option<f64>| {
            if !keep(size, text) {
                return;
            }
            let mut cand =
                || serde_json::from_str::<VersionedAgentState>(black_box(payload)).unwrap();
            let cand_heap = heap_of(&mut cand);
            rows.push(Row {
                size,
                case: text,
                payload: payload.len(),
                time: compare(&mut base_de, &mut cand, budget),
                base_heap: base_de_heap,
                cand_heap,
                target,
            });
        };
        de("current-version payload", &p.current, Some(1.03));
        de("v1 payload, tag first (3 steps)", &p.v1_first, Some(1.10));
        de("v1 payload, tag last (3 steps)", &p.v1_last, Some(1.10));

        if keep(size, "Serialize") {
            let mut base_ser = || serde_json::to_string(black_box(&s)).unwrap();
            let mut cand_ser = || serde_json::to_string(black_box(&v)).unwrap();
            rows.push(Row {
                size,
                case: "Serialize (`to_string`)",
                payload: p.current.len(),
                base_heap: heap_of(&mut base_ser),
                cand_heap: heap_of(&mut cand_ser),
                time: compare(&mut base_ser, &mut cand_ser, budget),
                target: Some(1.03),
            });
        }

        // Writing an older version (a rolling deploy's `write_version`, a
        // rollback's `--to`), against plain serde writing the current one.
        for (case, version) in [
            ("`to_string_at` v3 (1 step back)", 3),
            ("`to_string_at` v1 (3 steps back)", 1),
        ] {
            if !keep(size, case) {
                continue;
            }
            let mut base_ser = || serde_json::to_string(black_box(&s)).unwrap();
            let mut cand = || schema_migrate::json::to_string_at(black_box(&v), version).unwrap();
            rows.push(Row {
                size,
                case,
                payload: cand().len(),
                base_heap: heap_of(&mut base_ser),
                cand_heap: heap_of(&mut cand),
                time: compare(&mut base_ser, &mut cand, budget),
                target: Some(1.10),
            });
        }

        // A step that takes a context, read inside `with_context`: the
        // scope's push and pop and one lookup per read.
        if keep(size, "context") {
            let region = Region { unsplit: false };
            let payload = &p.v1_first;
            let mut cand = || {
                schema_migrate::with_context(&region, || {
                    serde_json::from_str::<ContextAgentState>(black_box(payload)).unwrap()
                })
            };
            let cand_heap = heap_of(&mut cand);
            rows.push(Row {
                size,
                case: "v1 payload, tag first, a step taking a context",
                payload: payload.len(),
                time: compare(&mut base_de, &mut cand, budget),
                base_heap: base_de_heap,
                cand_heap,
                target: Some(1.10),
            });
        }

        for (case, payload) in [
            ("naive Value path, v1 tag first", &p.v1_first),
            ("naive Value path, v1 tag last", &p.v1_last),
        ] {
            if !keep(size, case) {
                continue;
            }
            let mut cand = || naive_upgrade(black_box(payload)).unwrap();
            let cand_heap = heap_of(&mut cand);
            rows.push(Row {
                size,
                case,
                payload: payload.len(),
                time: compare(&mut base_de, &mut cand, budget),
                base_heap: base_de_heap,
                cand_heap,
                target: None,
            });
        }
        eprintln!("{size} done after {:.1?}", started.elapsed());
    }

    println!("## schema-migrate upgrade benchmark\n");
    println!("- command: `{COMMAND}`");
    println!("- machine: {cores} cores, {cpu}");
    println!("- data: {}", sizes_line.join("; "));
    println!(
        "- baseline: plain `#[derive(Deserialize)]` reading the current-version payload with \
         `serde_json::from_str` (Serialize row: plain `#[derive(Serialize)]` with `serde_json::to_string`)"
    );
    println!(
        "- time: median ns per op over rounds × ops per batch, baseline and candidate batches \
         alternating (order flipped every round); ratio = median and p10–p90 of the per-round ratios"
    );
    println!(
        "- heap: peak live bytes requested during one op (result included), and allocations per op\n"
    );
    println!(
        "| size | case | payload B | baseline ns/op | candidate ns/op | time ratio | ratio p10–p90 \
         | baseline peak heap B | candidate peak heap B | heap ratio | allocs/op | DESIGN §6 target | rounds×batch |"
    );
    println!("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|");
    for row in &rows {
        row.print();
    }
    println!(
        "\nSerialize's peak heap is the output `String`'s capacity, which doubles as it grows; \
         the versioned output is {} bytes longer (the tag), so a size just past a power of two \
         shows up as 2x there.",
        format!("\"{TAG}\":4,").len()
    );
    println!("\ntotal bench time: {:.1?}", started.elapsed());
}
