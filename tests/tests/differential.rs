//! Differential tests: old payloads generated at every version, with the tag
//! first, in the middle, last or absent, with unknown fields and wrong-typed
//! fields, are read three ways:
//!
//! - the typed fast path (`serde_json::from_str::<T>` and
//!   `schema_migrate::json::from_str::<T>`),
//! - the library's reference path (`schema_migrate::reference::from_value`),
//! - an independent migration written here by hand on `serde_json::Value`,
//!   decoded with plain serde types (no `schema_migrate` involved).
//!
//! All three must give the same value, or fail with the same `Error::kind()`.
//! Each generated payload holds at most one fault, so that which error comes
//! first is never a matter of reading order.

use std::fmt::Debug;

use proptest::prelude::*;
use proptest::sample::Index;
use schema_migrate::{DeserializeVersionedOwned, Versioned};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------
// The types under test.

use schema_migrate_tests::travel::{Travelers, TripState};

/// A `with` step, a step with remove + rename + transform of the renamed
/// field, a `remove(field: Type)` and two `add`s, and a nested versioned enum.
#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 4,
    migrate(from = 1, description = "Split name", with = split_name),
    migrate(from = 2, description = "Priority as a level", remove(legacy), rename(prio = priority), transform(priority: u8 => level)),
    migrate(from = 3, description = "Done and tags", remove(notes: String), add(done), add(tags = default_tags())),
)]
pub struct Task {
    pub first: String,
    pub last: String,
    pub priority: Level,
    pub contact: Contact,
    pub done: bool,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Level {
    Low,
    Mid,
    High,
    Urgent,
}

const LEVELS: [&str; 4] = ["Low", "Mid", "High", "Urgent"];

fn level(p: u8) -> Result<Level, String> {
    match p {
        0 => Ok(Level::Low),
        1 => Ok(Level::Mid),
        2 => Ok(Level::High),
        3 => Ok(Level::Urgent),
        _ => Err(format!("priority {p} out of range")),
    }
}

fn default_tags() -> Vec<String> {
    vec!["imported".to_owned()]
}

fn split_name(object: &mut Map<String, Value>) -> Result<(), String> {
    let Some(Value::String(name)) = object.remove("name") else {
        return Err("`name` must be a string".to_owned());
    };
    let (first, last) = name.split_once(' ').unwrap_or((&name, ""));
    object.insert("first".to_owned(), first.into());
    object.insert("last".to_owned(), last.into());
    Ok(())
}

/// An internally tagged enum with its own tag `rev`, renamed and removed variants.
#[derive(Debug, Clone, PartialEq, Versioned)]
#[serde(tag = "type")]
#[schema(
    version = 3,
    tag = "rev",
    migrate(from = 1, description = "Mail is Email", rename_variant(Mail = Email)),
    migrate(from = 2, description = "No fax; Sms is Text", remove_variant(Fax), rename_variant(Sms = Text)),
)]
pub enum Contact {
    Email {
        address: String,
    },
    Text {
        number: String,
    },
    Phone {
        number: String,
        #[serde(default)]
        ext: Option<u32>,
    },
}

// ---------------------------------------------------------------------------
// The independent reference: the histories above, by hand, on plain JSON.

type Kind = &'static str;

fn object(v: Value) -> Result<Map<String, Value>, Kind> {
    match v {
        Value::Object(o) => Ok(o),
        _ => Err("invalid_data"),
    }
}

/// The stored version: the tag anywhere in the object, or the oldest (1).
fn take_tag(o: &mut Map<String, Value>, tag: &str, current: u64) -> Result<u64, Kind> {
    match o.remove(tag) {
        None => Ok(1),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(0) => Err("too_old"),
            Some(v) if v > current => Err("future_version"),
            Some(v) => Ok(v),
            None => Err("invalid_tag"),
        },
        Some(_) => Err("invalid_tag"),
    }
}

fn decode<T: DeserializeOwned>(v: Value) -> Result<T, Kind> {
    serde_json::from_value(v).map_err(|_| "invalid_data")
}

/// A key already holding the new name at the old version is not a field of
/// that version: it is dropped.
fn rename(o: &mut Map<String, Value>, from: &str, to: &str) {
    o.remove(to);
    if let Some(v) = o.remove(from) {
        o.insert(to.to_owned(), v);
    }
}

#[derive(serde::Deserialize)]
struct TripPlain {
    destination_city: String,
    travelers: Travelers,
    #[serde(default)]
    budget: Option<f64>,
}

fn hand_trip(v: Value) -> Result<TripState, Kind> {
    let mut o = object(v)?;
    let version = take_tag(&mut o, "schema_version", 4)?;
    if version <= 1 {
        o.insert("travelers".into(), json!(1));
    }
    if version <= 2 {
        rename(&mut o, "destination", "destination_city");
    }
    if version <= 3 {
        let n: u32 = decode(o.remove("travelers").unwrap_or(Value::Null))?;
        o.insert("travelers".into(), json!({"adults": n, "children": 0}));
    }
    let p: TripPlain = decode(Value::Object(o))?;
    Ok(TripState {
        destination_city: p.destination_city,
        travelers: p.travelers,
        budget: p.budget,
    })
}

#[derive(serde::Deserialize)]
struct TaskPlain {
    first: String,
    last: String,
    priority: Level,
    contact: Value,
    done: bool,
    #[serde(default)]
    tags: Vec<String>,
}

fn hand_task(v: Value) -> Result<Task, Kind> {
    let mut o = object(v)?;
    let version = take_tag(&mut o, "_version", 4)?;
    if version <= 1 {
        let Some(Value::String(name)) = o.remove("name") else {
            return Err("step_failed");
        };
        let (first, last) = name.split_once(' ').unwrap_or((&name, ""));
        o.insert("first".into(), first.into());
        o.insert("last".into(), last.into());
    }
    if version <= 2 {
        o.remove("legacy");
        rename(&mut o, "prio", "priority");
        let p: u8 = decode(o.remove("priority").unwrap_or(Value::Null))?;
        let l = match p {
            0..=3 => LEVELS[usize::from(p)],
            _ => return Err("step_failed"),
        };
        o.insert("priority".into(), l.into());
    }
    if version <= 3 {
        o.remove("notes");
        o.insert("done".into(), false.into());
        o.insert("tags".into(), json!(["imported"]));
    }
    let p: TaskPlain = decode(Value::Object(o))?;
    Ok(Task {
        first: p.first,
        last: p.last,
        priority: p.priority,
        contact: hand_contact(p.contact)?,
        done: p.done,
        tags: p.tags,
    })
}

#[derive(serde::Deserialize)]
#[serde(tag = "type")]
enum ContactPlain {
    Email {
        address: String,
    },
    Text {
        number: String,
    },
    Phone {
        number: String,
        #[serde(default)]
        ext: Option<u32>,
    },
}

fn hand_contact(v: Value) -> Result<Contact, Kind> {
    let mut o = object(v)?;
    let version = take_tag(&mut o, "rev", 3)?;
    let variant = o.get("type").and_then(Value::as_str).map(str::to_owned);
    let mut set = |name: &str| {
        o.insert("type".into(), name.into());
    };
    match (version, variant.as_deref()) {
        (1, Some("Mail")) => set("Email"),
        (1 | 2, Some("Sms")) => set("Text"),
        (1 | 2, Some("Fax")) => return Err("step_failed"),
        // A variant's new name did not exist yet at the older version.
        (1, Some("Email")) | (1 | 2, Some("Text")) => return Err("invalid_data"),
        _ => {}
    }
    Ok(match decode(Value::Object(o))? {
        ContactPlain::Email { address } => Contact::Email { address },
        ContactPlain::Text { number } => Contact::Text { number },
        ContactPlain::Phone { number, ext } => Contact::Phone { number, ext },
    })
}

// ---------------------------------------------------------------------------
// Payloads: ordered objects, so the tag's position is ours to choose.

#[derive(Clone, Debug)]
enum J {
    V(Value),
    O(Vec<(String, J)>),
}

impl J {
    fn render(&self, out: &mut String) {
        match self {
            J::V(v) => out.push_str(&v.to_string()),
            J::O(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::from(k.as_str()).to_string());
                    out.push(':');
                    v.render(out);
                }
                out.push('}');
            }
        }
    }

    fn text(&self) -> String {
        let mut s = String::new();
        self.render(&mut s);
        s
    }

    /// A value of another JSON type than this one.
    fn wrong(&self) -> J {
        J::V(match self {
            J::V(Value::String(_)) => json!(5),
            J::V(Value::Number(_)) => json!("oops"),
            J::V(Value::Bool(_)) => json!("yes"),
            J::V(Value::Array(_)) => json!(3),
            J::V(Value::Null) => json!([1]),
            J::V(Value::Object(_)) | J::O(_) => json!("obj"),
        })
    }
}

fn v(value: Value) -> J {
    J::V(value)
}

#[derive(Clone, Debug)]
enum Fault {
    None,
    WrongType(Index),
    Missing(Index),
    TagTooOld,
    TagFuture,
    TagString,
}

#[derive(Clone, Copy, Debug)]
enum TagPos {
    First,
    Middle,
    Last,
    Absent,
}

/// Everything about a payload but its own fields.
#[derive(Clone, Debug)]
struct Frame {
    version: u64,
    pos: TagPos,
    extras: Vec<(Index, Index)>,
    fault: Fault,
}

/// Unknown fields: names no version of any type here has.
const UNKNOWN_NAMES: &[&str] = &["note", "zz_extra", "x-unknown"];

fn extra_values() -> [Value; 6] {
    [
        Value::Null,
        json!(1),
        json!("s"),
        json!([1, 2]),
        json!({"a": {"b": [null]}}),
        json!(true),
    ]
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        12 => Just(Fault::None),
        3 => any::<Index>().prop_map(Fault::WrongType),
        3 => any::<Index>().prop_map(Fault::Missing),
        1 => Just(Fault::TagTooOld),
        1 => Just(Fault::TagFuture),
        1 => Just(Fault::TagString),
    ]
}

fn frame(current: u64) -> impl Strategy<Value = Frame> {
    (
        1..=current,
        prop_oneof![
            Just(TagPos::First),
            Just(TagPos::Middle),
            Just(TagPos::Last),
            Just(TagPos::Absent)
        ],
        prop::collection::vec((any::<Index>(), any::<Index>()), 0..3),
        fault(),
    )
        .prop_map(|(version, pos, extras, fault)| Frame {
            version,
            pos,
            extras,
            fault,
        })
}

impl Frame {
    /// The version the fields are written at: an untagged payload is read
    /// as version 1, so it mostly holds version 1's fields.
    fn fields_version(&self) -> u64 {
        match self.pos {
            TagPos::Absent => 1,
            _ => self.version,
        }
    }

    fn without_fault(mut self) -> Frame {
        self.fault = Fault::None;
        self
    }

    fn build(&self, tag: &str, current: u64, mut fields: Vec<(String, J)>, names: &[&str]) -> J {
        match &self.fault {
            Fault::WrongType(i) if !fields.is_empty() => {
                let i = i.index(fields.len());
                fields[i].1 = fields[i].1.wrong();
            }
            Fault::Missing(i) if !fields.is_empty() => {
                fields.remove(i.index(fields.len()));
            }
            _ => {}
        }
        let values = extra_values();
        for (name, value) in &self.extras {
            let name = names[name.index(names.len())];
            if name != tag && fields.iter().all(|(k, _)| k != name) {
                fields.push((
                    name.to_owned(),
                    v(values[value.index(values.len())].clone()),
                ));
            }
        }
        let tag_value = match self.fault {
            Fault::TagTooOld => json!(0),
            Fault::TagFuture => json!(current + 1),
            Fault::TagString => json!(self.version.to_string()),
            _ => json!(self.version),
        };
        let at = match self.pos {
            TagPos::First => Some(0),
            TagPos::Middle => Some(fields.len() / 2),
            TagPos::Last => Some(fields.len()),
            TagPos::Absent => None,
        };
        if let Some(at) = at {
            fields.insert(at, (tag.to_owned(), v(tag_value)));
        }
        J::O(fields)
    }
}

fn field(name: &str, value: J) -> (String, J) {
    (name.to_owned(), value)
}

#[derive(Clone, Debug)]
struct TripCase {
    frame: Frame,
    destination: String,
    travelers: u32,
    children: u32,
    /// Absent, null, or a number of quarters.
    budget: Option<Option<i32>>,
}

fn trip_case() -> impl Strategy<Value = TripCase> {
    (
        frame(4),
        "[A-Za-z ]{0,8}",
        0u32..20,
        0u32..5,
        prop::option::of(prop::option::of(-8i32..4000)),
    )
        .prop_map(
            |(frame, destination, travelers, children, budget)| TripCase {
                frame,
                destination,
                travelers,
                children,
                budget,
            },
        )
}

impl TripCase {
    fn payload(&self, names: &[&str]) -> J {
        let dest = v(json!(self.destination));
        let mut fields = match self.frame.fields_version() {
            1 => vec![field("destination", dest)],
            2 => vec![
                field("destination", dest),
                field("travelers", v(json!(self.travelers))),
            ],
            3 => vec![
                field("destination_city", dest),
                field("travelers", v(json!(self.travelers))),
            ],
            _ => vec![
                field("destination_city", dest),
                field(
                    "travelers",
                    v(json!({"adults": self.travelers, "children": self.children})),
                ),
            ],
        };
        match self.budget {
            None => {}
            Some(None) => fields.push(field("budget", v(Value::Null))),
            Some(Some(q)) => fields.push(field("budget", v(json!(f64::from(q) / 4.0)))),
        }
        self.frame.build("schema_version", 4, fields, names)
    }
}

#[derive(Clone, Debug)]
struct ContactCase {
    frame: Frame,
    variant: Index,
    text: String,
    ext: Option<u32>,
    /// Whether a removed variant (a fault of its own) may be written.
    allow_removed: bool,
}

fn contact_case() -> impl Strategy<Value = ContactCase> {
    (
        frame(3),
        any::<Index>(),
        "[a-z0-9@.]{0,10}",
        prop::option::of(0u32..1000),
    )
        .prop_map(|(frame, variant, text, ext)| ContactCase {
            frame,
            variant,
            text,
            ext,
            allow_removed: true,
        })
}

/// Variant names by version; `None`: every name of any version.
fn variants(version: Option<u64>) -> &'static [&'static str] {
    match version {
        Some(1) => &["Mail", "Sms", "Phone", "Fax"],
        Some(2) => &["Email", "Sms", "Phone", "Fax"],
        Some(_) => &["Email", "Text", "Phone"],
        None => &["Mail", "Email", "Sms", "Text", "Phone", "Fax"],
    }
}

impl ContactCase {
    /// `any_variant`: variants of other versions too.
    fn payload(&self, names: &[&str], any_variant: bool) -> J {
        let version = self.frame.fields_version();
        let pool = variants((!any_variant).then_some(version));
        let variant = match pool[self.variant.index(pool.len())] {
            "Fax" if !self.allow_removed => "Phone",
            name => name,
        };
        let text = v(json!(self.text));
        let mut fields = vec![field("type", v(json!(variant)))];
        match variant {
            "Mail" | "Email" => fields.push(field("address", text)),
            "Phone" => {
                fields.push(field("number", text));
                if let Some(ext) = self.ext {
                    fields.push(field("ext", v(json!(ext))));
                }
            }
            _ => fields.push(field("number", text)),
        }
        self.frame.build("rev", 3, fields, names)
    }
}

#[derive(Clone, Debug)]
struct TaskCase {
    frame: Frame,
    first: String,
    last: String,
    prio: u8,
    legacy: Option<u8>,
    notes: Option<String>,
    done: bool,
    tags: Option<Vec<String>>,
    contact: ContactCase,
}

fn task_case() -> impl Strategy<Value = TaskCase> {
    (
        (frame(4), "[A-Z][a-z]{0,5}", "([A-Z][a-z]{0,5})?", 0u8..6),
        (
            prop::option::of(any::<u8>()),
            prop::option::of("[a-z ]{0,6}"),
            any::<bool>(),
            prop::option::of(prop::collection::vec("[a-z]{1,4}", 0..3)),
        ),
        contact_case(),
        any::<bool>(),
    )
        .prop_map(
            |(
                (frame, first, last, prio),
                (legacy, notes, done, tags),
                contact,
                fault_in_contact,
            )| {
                // One fault per payload: in the task or in its contact.
                let (frame, mut contact) = if fault_in_contact {
                    (frame.without_fault(), contact)
                } else {
                    (
                        frame,
                        ContactCase {
                            frame: contact.frame.clone().without_fault(),
                            ..contact
                        },
                    )
                };
                // Out-of-range priorities and removed variants are faults too.
                let faulty = |f: &Frame| !matches!(f.fault, Fault::None);
                let prio = if faulty(&frame) || faulty(&contact.frame) {
                    prio % 4
                } else {
                    prio
                };
                contact.allow_removed = !faulty(&frame);
                TaskCase {
                    frame,
                    first,
                    last,
                    prio,
                    legacy,
                    notes,
                    done,
                    tags,
                    contact,
                }
            },
        )
}

impl TaskCase {
    fn payload(&self, names: &[&str], contact_names: &[&str], any_variant: bool) -> J {
        let version = self.frame.fields_version();
        let contact = self.contact.payload(contact_names, any_variant);
        let name = if self.last.is_empty() {
            self.first.clone()
        } else {
            format!("{} {}", self.first, self.last)
        };
        let mut fields = match version {
            1 => vec![field("name", v(json!(name)))],
            _ => vec![
                field("first", v(json!(self.first))),
                field("last", v(json!(self.last))),
            ],
        };
        if version <= 2 {
            if let Some(legacy) = self.legacy {
                fields.push(field("legacy", v(json!(legacy))));
            }
            fields.push(field("prio", v(json!(self.prio))));
        } else {
            let level = LEVELS[usize::from(self.prio) % LEVELS.len()];
            fields.push(field("priority", v(json!(level))));
        }
        if version <= 3 {
            if let Some(notes) = &self.notes {
                fields.push(field("notes", v(json!(notes))));
            }
        } else {
            fields.push(field("done", v(json!(self.done))));
            if let Some(tags) = &self.tags {
                fields.push(field("tags", v(json!(tags))));
            }
        }
        fields.push(field("contact", contact));
        self.frame.build("_version", 4, fields, names)
    }
}

// ---------------------------------------------------------------------------
// The comparison.

type Outcome<T> = Result<T, Kind>;

/// Reads `text` every way and checks that they agree with `hand`.
fn agree<T>(text: &str, hand: impl FnOnce(Value) -> Outcome<T>) -> Result<(), TestCaseError>
where
    T: DeserializeVersionedOwned + DeserializeOwned + PartialEq + Debug,
{
    let value: Value = serde_json::from_str(text).expect("generated payloads are valid JSON");
    let by_serde = serde_json::from_str::<T>(text);
    let typed = schema_migrate::json::from_str::<T>(text);
    let reference = schema_migrate::reference::from_value::<T>(value.clone());
    let expected = hand(value);

    let typed: Outcome<T> = match typed {
        Ok(stored) => Ok(stored.value),
        Err(e) => Err(e.kind()),
    };
    let reference: Outcome<T> = match reference {
        Ok(stored) => Ok(stored.value),
        Err(e) => Err(e.kind()),
    };
    match (&by_serde, &typed) {
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "serde_json vs json::from_str"),
        (Err(_), Err(_)) => {}
        _ => prop_assert!(false, "serde_json {by_serde:?} vs json::from_str {typed:?}"),
    }
    prop_assert_eq!(&typed, &reference, "typed path vs library reference path");
    prop_assert_eq!(&typed, &expected, "typed path vs hand-written reference");
    Ok(())
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Every field name of every version of the type, as unknown-field candidates.
const TRIP_NAMES: &[&str] = &["destination", "destination_city", "travelers", "budget"];
const TASK_NAMES: &[&str] = &[
    "name", "first", "last", "legacy", "prio", "priority", "notes", "done", "tags",
];
const CONTACT_NAMES: &[&str] = &["address", "number", "ext"];

fn with_unknown(names: &[&'static str]) -> Vec<&'static str> {
    names.iter().chain(UNKNOWN_NAMES).copied().collect()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn trip_state_paths_agree(case in trip_case()) {
        agree::<TripState>(&case.payload(UNKNOWN_NAMES).text(), hand_trip)?;
    }

    #[test]
    fn contact_paths_agree(case in contact_case()) {
        agree::<Contact>(&case.payload(UNKNOWN_NAMES, false).text(), hand_contact)?;
    }

    #[test]
    fn task_paths_agree(case in task_case()) {
        // Errors in the contact (a fault, a removed variant) are left to
        // `nested_errors_keep_their_kind`.
        let case = TaskCase { contact: ContactCase { frame: case.contact.frame.clone().without_fault(), ..case.contact }, ..case };
        let contact = serde_json::from_str(&case.contact.payload(UNKNOWN_NAMES, false).text()).unwrap();
        prop_assume!(hand_contact(contact).is_ok());
        agree::<Task>(&case.payload(UNKNOWN_NAMES, UNKNOWN_NAMES, false).text(), hand_task)?;
    }

    /// A fault inside the nested contact: the error is the contact's own.
    #[test]
    fn nested_errors_keep_their_kind(case in task_case()) {
        agree::<Task>(&case.payload(UNKNOWN_NAMES, UNKNOWN_NAMES, false).text(), hand_task)?;
    }

    /// Unknown fields named like fields of other versions, and variants of
    /// other versions: where a rename's source is missing but its target is
    /// there, the paths must still agree.
    #[test]
    fn paths_agree_with_names_of_other_versions(
        trip in trip_case(),
        task in task_case(),
        contact in contact_case(),
    ) {
        agree::<TripState>(&trip.payload(&with_unknown(TRIP_NAMES)).text(), hand_trip)?;
        let task = TaskCase { contact: ContactCase { frame: task.contact.frame.clone().without_fault(), ..task.contact }, ..task };
        let nested = serde_json::from_str(&task.contact.payload(&with_unknown(CONTACT_NAMES), true).text()).unwrap();
        prop_assume!(hand_contact(nested).is_ok());
        agree::<Task>(
            &task.payload(&with_unknown(TASK_NAMES), &with_unknown(CONTACT_NAMES), true).text(),
            hand_task,
        )?;
        agree::<Contact>(&contact.payload(&with_unknown(CONTACT_NAMES), true).text(), hand_contact)?;
    }
}

// ---------------------------------------------------------------------------
// Fixed cases: the generators reach these, and the hand reference is right
// about them.

#[test]
fn generators_reach_every_version_and_tag_position() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut versions, mut absent, mut last, mut faults) = ([0; 5], 0, 0, 0);
    for _ in 0..400 {
        let case = task_case().new_tree(&mut runner).unwrap().current();
        versions[case.frame.version as usize] += 1;
        match case.frame.pos {
            TagPos::Absent => absent += 1,
            TagPos::Last => last += 1,
            _ => {}
        }
        if !matches!(case.frame.fault, Fault::None) {
            faults += 1;
        }
    }
    assert!(versions[1..].iter().all(|&n| n > 40), "{versions:?}");
    assert!(
        absent > 40 && last > 40 && faults > 40,
        "{absent} {last} {faults}"
    );
}

#[test]
fn hand_reference_is_right_on_known_payloads() {
    let trip = |s: &str| hand_trip(serde_json::from_str(s).unwrap());
    assert_eq!(
        trip(r#"{"destination":"Tokyo","schema_version":1}"#)
            .unwrap()
            .travelers,
        Travelers {
            adults: 1,
            children: 0
        }
    );
    assert_eq!(
        trip(r#"{"schema_version":2,"destination":"Tokyo"}"#).unwrap_err(),
        "invalid_data"
    );
    assert_eq!(
        trip(r#"{"schema_version":5}"#).unwrap_err(),
        "future_version"
    );
    let task = hand_task(json!({
        "name": "Ada Lovelace", "prio": 2, "legacy": 1, "notes": "x",
        "contact": {"type": "Sms", "number": "1"}
    }))
    .unwrap();
    assert_eq!(
        task,
        Task {
            first: "Ada".into(),
            last: "Lovelace".into(),
            priority: Level::High,
            contact: Contact::Text { number: "1".into() },
            done: false,
            tags: default_tags(),
        }
    );
    assert_eq!(
        hand_contact(json!({"rev": 2, "type": "Fax", "number": "1"})).unwrap_err(),
        "step_failed"
    );
}

#[test]
fn agree_detects_a_disagreement() {
    // A hand reference that is wrong must make `agree` fail.
    let wrong = |_: Value| -> Outcome<TripState> { Err("too_old") };
    let result = agree::<TripState>(r#"{"schema_version":1,"destination":"Tokyo"}"#, wrong);
    assert!(result.is_err());
}

/// Minimal reproduction of the rename divergence.
#[test]
fn rename_target_without_source() {
    let text = r#"{"schema_version":2,"destination_city":"Tokyo","travelers":2}"#;
    agree::<TripState>(text, |_| Err("invalid_data")).unwrap();
}

/// Minimal reproduction of the rename divergence, for an enum variant.
#[test]
fn renamed_variant_new_name_at_old_version() {
    let text = r#"{"rev":1,"type":"Email","address":"a@b"}"#;
    agree::<Contact>(text, |_| Err("invalid_data")).unwrap();
}

/// Minimal reproduction of the nested-kind divergence.
#[test]
fn nested_future_version_kind() {
    let text = r#"{"_version":4,"first":"A","last":"B","priority":"Low","done":true,
        "contact":{"rev":9,"type":"Email","address":"a@b"}}"#;
    let typed = schema_migrate::json::from_str::<Task>(text).unwrap_err();
    let reference =
        schema_migrate::reference::from_value::<Task>(serde_json::from_str(text).unwrap())
            .unwrap_err();
    assert_eq!(
        (typed.kind(), typed.type_name()),
        (reference.kind(), reference.type_name()),
        "typed: {typed}\nreference: {reference}"
    );
}
