//! Structure-aware payloads: an old-version payload of one of the types,
//! built from `arbitrary` choices (the version, which fields, the tag's
//! position or absence, unknown keys), with at most one fault, written with
//! its key order kept to JSON, CBOR and MessagePack (named).

use arbitrary::Arbitrary;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{json, Value};

use crate::types::*;
use crate::{check_raw, compare, Case, Format, Outcome};

/// A document whose maps keep the order they were built in.
#[derive(Debug, Clone)]
pub enum Node {
    Leaf(Value),
    List(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A map key: a string, or the integer or boolean a non-JSON format writes
/// as such (JSON writes it as a string).
#[derive(Debug, Clone)]
pub enum Key {
    Str(String),
    Int(u32),
    Bool(bool),
}

impl Key {
    fn is(&self, s: &str) -> bool {
        matches!(self, Key::Str(k) if k == s)
    }
}

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Key::Str(k) => s.serialize_str(k),
            Key::Int(i) => s.serialize_u32(*i),
            Key::Bool(b) => s.serialize_bool(*b),
        }
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Leaf(v) => v.serialize(s),
            Node::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(i)?;
                }
                seq.end()
            }
            Node::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

fn s(k: &str) -> Key {
    Key::Str(k.to_owned())
}

fn leaf(v: Value) -> Node {
    Node::Leaf(v)
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Word {
    A,
    Paris,
    Two,
    Empty,
    Comma,
    Unicode,
}

impl Word {
    fn text(self) -> &'static str {
        match self {
            Word::A => "a",
            Word::Paris => "Paris",
            Word::Two => "Jo Li",
            Word::Empty => "",
            Word::Comma => "x,y",
            Word::Unicode => "é\u{1F600}",
        }
    }
}

/// A value of the wrong type (or of the right type but out of range).
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Wrong {
    Null,
    Bool,
    Negative,
    Float,
    Str,
    NumericStr,
    EmptyList,
    EmptyMap,
    AboveU32,
    Level,
    Small(u8),
}

impl Wrong {
    fn value(self) -> Value {
        match self {
            Wrong::Null => Value::Null,
            Wrong::Bool => json!(true),
            Wrong::Negative => json!(-1),
            Wrong::Float => json!(1.5),
            Wrong::Str => json!("x"),
            Wrong::NumericStr => json!("7"),
            Wrong::EmptyList => json!([]),
            Wrong::EmptyMap => json!({}),
            Wrong::AboveU32 => json!(4_294_967_296u64),
            Wrong::Level => json!("High"),
            Wrong::Small(n) => json!(n),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Unknown {
    Extra,
    OldName(u8),
    CaseOf(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Fault {
    None,
    /// Drop the n-th field.
    Missing(u8),
    /// Replace the n-th field's value.
    Wrong(u8, Wrong),
    /// Add a key the version does not have, at a position.
    Unknown(u8, Unknown),
    /// No tag at all (read as the oldest version).
    NoTag,
    /// A tag that is not a valid version number.
    BadTag(Wrong),
    /// A version out of range: 0, or newer than the current one.
    OutOfRange(u8),
    /// A value that a migration step refuses (a priority of 4, 5000
    /// travelers, the removed variant `Fax`).
    StepFails,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Which {
    Trip,
    Task,
    Contact,
    Envelope,
    Ledger,
}

#[derive(Arbitrary, Debug, Clone)]
pub struct Payload {
    pub which: Which,
    pub version: u8,
    pub tag_at: u8,
    pub fault: Fault,
    /// Put the fault in the nested value (where the type has one).
    pub in_nested: bool,
    pub nested_version: u8,
    pub nested_tag_at: u8,
    pub variant: u8,
    pub words: [Word; 3],
    pub nums: [u16; 3],
    pub flag: bool,
    pub budget: Option<i16>,
    pub big: u64,
    pub ids: Vec<(u16, Word)>,
}

/// Every old and current field name of the types, for unknown keys.
const NAMES: &[&str] = &[
    "destination",
    "destination_city",
    "travelers",
    "budget",
    "name",
    "first",
    "last",
    "prio",
    "priority",
    "legacy",
    "notes",
    "contact",
    "done",
    "tags",
    "type",
    "address",
    "number",
    "ext",
    "id",
    "payload",
    "body",
    "amount",
    "total",
    "ids",
    "by_id",
    "flags",
];

struct Object {
    tag: &'static str,
    current: u32,
    version: u32,
    entries: Vec<(Key, Node)>,
}

impl Object {
    /// Applies the fault (if `faulty`) and places the tag.
    fn finish(mut self, fault: Fault, faulty: bool, tag_at: u8) -> Node {
        let mut tag = Some(json!(self.version));
        if faulty {
            let n = self.entries.len().max(1);
            match fault {
                Fault::None | Fault::StepFails => {}
                Fault::Missing(i) => {
                    if !self.entries.is_empty() {
                        self.entries.remove(usize::from(i) % n);
                    }
                }
                Fault::Wrong(i, w) => {
                    if let Some(e) = self.entries.get_mut(usize::from(i) % n) {
                        e.1 = leaf(w.value());
                    }
                }
                Fault::Unknown(at, u) => {
                    let key = match u {
                        Unknown::Extra => "zz_extra".to_owned(),
                        Unknown::OldName(i) => NAMES[usize::from(i) % NAMES.len()].to_owned(),
                        Unknown::CaseOf(i) => NAMES[usize::from(i) % NAMES.len()].to_uppercase(),
                    };
                    // A key already present would be a duplicate, a second fault.
                    if !self.entries.iter().any(|(k, _)| k.is(&key)) && key != self.tag {
                        let at = usize::from(at) % (self.entries.len() + 1);
                        self.entries.insert(at, (Key::Str(key), leaf(json!(1))));
                    }
                }
                Fault::NoTag => tag = None,
                Fault::BadTag(w) => tag = Some(w.value()),
                Fault::OutOfRange(k) => {
                    tag = Some(match k % 4 {
                        0 => json!(0),
                        1 => json!(self.current + 1),
                        2 => json!(u64::from(u32::MAX) + 1),
                        _ => json!(self.current + 1 + u32::from(k)),
                    })
                }
            }
        }
        if let Some(t) = tag {
            let at = usize::from(tag_at) % (self.entries.len() + 1);
            self.entries.insert(at, (s(self.tag), leaf(t)));
        }
        Node::Map(self.entries)
    }
}

fn pick_version(v: u8, current: u32) -> u32 {
    1 + u32::from(v) % current
}

impl Payload {
    fn word(&self, i: usize) -> Value {
        json!(self.words[i].text())
    }

    /// Whether the step-failing values go into this level.
    fn fails(&self, faulty: bool) -> bool {
        faulty && matches!(self.fault, Fault::StepFails)
    }

    /// The version of a level: an untagged payload is built at the oldest
    /// version, so that the absent tag is the only fault.
    fn version_of(&self, v: u8, current: u32, faulty: bool) -> u32 {
        if faulty && matches!(self.fault, Fault::NoTag) {
            1
        } else {
            pick_version(v, current)
        }
    }

    fn fault_top(&self) -> bool {
        !self.in_nested || matches!(self.which, Which::Trip | Which::Contact | Which::Ledger)
    }

    fn contact(&self, faulty: bool) -> Node {
        let version = self.version_of(self.nested_version, 3, faulty);
        let names: &[&str] = match version {
            1 => &["Mail", "Sms", "Phone"],
            2 => &["Email", "Sms", "Phone"],
            _ => &["Email", "Text", "Phone"],
        };
        let variant = if self.fails(faulty) && version <= 2 {
            "Fax"
        } else {
            names[usize::from(self.variant) % names.len()]
        };
        let mut entries = vec![(s("type"), leaf(json!(variant)))];
        match variant {
            "Mail" | "Email" => entries.push((s("address"), leaf(self.word(0)))),
            _ => entries.push((s("number"), leaf(self.word(1)))),
        }
        if variant == "Phone" && self.flag {
            entries.push((s("ext"), leaf(json!(self.nums[2]))));
        }
        Object {
            tag: "rev",
            current: 3,
            version,
            entries,
        }
        .finish(self.fault, faulty, self.nested_tag_at)
    }

    pub fn build(&self) -> Node {
        let top = self.fault_top();
        match self.which {
            Which::Trip => {
                let version = self.version_of(self.version, 4, top);
                let travelers = if self.fails(top) {
                    5000
                } else {
                    self.nums[0] % 1001
                };
                let dest = if version <= 2 {
                    "destination"
                } else {
                    "destination_city"
                };
                let mut entries = vec![(s(dest), leaf(self.word(0)))];
                match version {
                    1 => {}
                    2 | 3 => entries.push((s("travelers"), leaf(json!(travelers)))),
                    _ => entries.push((
                        s("travelers"),
                        leaf(json!({"adults": self.nums[0], "children": self.nums[1]})),
                    )),
                }
                if let Some(b) = self.budget {
                    entries.push((s("budget"), leaf(json!(f64::from(b) / 4.0))));
                }
                Object {
                    tag: "schema_version",
                    current: 4,
                    version,
                    entries,
                }
                .finish(self.fault, top, self.tag_at)
            }
            Which::Task => {
                let version = self.version_of(self.version, 4, top);
                let prio = if self.fails(top) { 4 } else { self.nums[0] % 4 };
                let mut entries = Vec::new();
                if version == 1 {
                    entries.push((
                        s("name"),
                        leaf(json!(format!(
                            "{} {}",
                            self.words[0].text(),
                            self.words[1].text()
                        ))),
                    ));
                } else {
                    entries.push((s("first"), leaf(self.word(0))));
                    entries.push((s("last"), leaf(self.word(1))));
                }
                if version <= 2 {
                    entries.push((s("prio"), leaf(json!(prio))));
                    entries.push((s("legacy"), leaf(json!(self.nums[1]))));
                } else {
                    entries.push((
                        s("priority"),
                        leaf(json!(LEVELS[usize::from(self.nums[0] % 4)])),
                    ));
                }
                if version <= 3 {
                    entries.push((s("notes"), leaf(self.word(2))));
                }
                entries.push((s("contact"), self.contact(!top)));
                if version == 4 {
                    entries.push((s("done"), leaf(json!(self.flag))));
                    if self.flag {
                        entries.push((s("tags"), leaf(json!([self.words[2].text()]))));
                    }
                }
                Object {
                    tag: "_version",
                    current: 4,
                    version,
                    entries,
                }
                .finish(self.fault, top, self.tag_at)
            }
            Which::Contact => self.contact(true),
            Which::Envelope => {
                let version = self.version_of(self.version, 2, top);
                let body = if version == 1 { "payload" } else { "body" };
                let entries = vec![
                    (s("id"), leaf(json!(self.big))),
                    (s(body), self.contact(!top)),
                ];
                Object {
                    tag: "_version",
                    current: 2,
                    version,
                    entries,
                }
                .finish(self.fault, top, self.tag_at)
            }
            Which::Ledger => {
                let version = self.version_of(self.version, 2, top);
                let (total, ids) = if version == 1 {
                    ("amount", "ids")
                } else {
                    ("total", "by_id")
                };
                let mut seen = std::collections::BTreeSet::new();
                let map = self
                    .ids
                    .iter()
                    .filter(|(k, _)| seen.insert(*k))
                    .map(|(k, w)| (Key::Int(u32::from(*k)), leaf(json!(w.text()))))
                    .collect();
                let mut entries = vec![
                    (s("name"), leaf(self.word(0))),
                    (s(total), leaf(json!(self.big))),
                    (s(ids), Node::Map(map)),
                ];
                if self.flag {
                    entries.push((
                        s("flags"),
                        Node::Map(vec![(
                            Key::Bool(self.nums[2] % 2 == 0),
                            leaf(json!(self.nums[1] % 256)),
                        )]),
                    ));
                }
                Object {
                    tag: "_version",
                    current: 2,
                    version,
                    entries,
                }
                .finish(self.fault, top, self.tag_at)
            }
        }
    }
}

fn check_formats<T: Case>(node: &Node, json: &[u8], data: &[u8]) {
    // JSON: fast path against the reference, round trip, tag first.
    check_raw::<T>(Format::Json, json);
    // The same payload in each format, through the same serde path, reads to
    // the same value or the same kind of error as JSON does.
    let by_json = Format::Json.read::<T>(json);
    let text = String::from_utf8_lossy(json).into_owned();
    for format in [Format::Cbor, Format::Msgpack] {
        let bytes = match format.write(node) {
            Ok(b) => b,
            Err(e) => panic!("cannot write {node:?} as {}: {e}", format.name()),
        };
        let other = format.read::<T>(&bytes);
        if other.is_ok() {
            check_raw::<T>(format, &bytes);
        }
        if other.agrees(&by_json) {
            continue;
        }
        // Not a finding: README "serde parity", CBOR reads a held entry by
        // MessagePack's rules (an integer variant index accepted).
        // The index may also land on a removed variant (`step_failed`).
        // Only where the entry is held by the enum itself: an entry after
        // its parent's tag is not held (see the README of fuzz/, finding 2).
        if format == Format::Cbor && held_numeric_type(node) {
            continue;
        }
        // Not a finding: rmp-serde reads an identifier from an integer (as
        // serde_derive does under rmp-serde), serde_json does not.
        if format == Format::Msgpack && numeric_type(node) {
            continue;
        }
        // Not a finding: rmp-serde's own bug, a negative integer read as a
        // u128 wraps around (tests/format_rules.rs); serde_json refuses it.
        if format == Format::Msgpack
            && other.is_ok()
            && matches!(&by_json, Outcome::Err(_, m) if m.contains("number out of range") || m.contains("expected u128"))
        {
            continue;
        }
        // Not a finding: ciborium does not read an `f64` from an integer,
        // serde_json does (serde_derive's own behaviour in each format).
        if format == Format::Cbor
            && by_json.is_ok()
            && matches!(&other, Outcome::Err(_, m) if m.contains("expected float"))
        {
            continue;
        }
        let sig = format!("structured-{}-{}", format.name(), T::NAME);
        compare(
            &sig,
            data,
            &format!("{text} ({bytes:02x?})"),
            (format.name(), &other),
            ("json", &by_json),
        );
    }
}

/// A numeric `"type"` before `"rev"` (or without one) in its own map: held
/// until the enum's version tag is read.
fn held_numeric_type(node: &Node) -> bool {
    match node {
        Node::Leaf(_) => false,
        Node::List(items) => items.iter().any(held_numeric_type),
        Node::Map(entries) => {
            let ty = entries
                .iter()
                .position(|(k, v)| k.is("type") && matches!(v, Node::Leaf(Value::Number(_))));
            let rev = entries.iter().position(|(k, _)| k.is("rev"));
            let held = match (ty, rev) {
                (Some(t), Some(r)) => t < r,
                (Some(_), None) => true,
                _ => false,
            };
            held || entries.iter().any(|(_, v)| held_numeric_type(v))
        }
    }
}

fn numeric_type(node: &Node) -> bool {
    match node {
        Node::Leaf(_) => false,
        Node::List(items) => items.iter().any(numeric_type),
        Node::Map(entries) => entries.iter().any(|(k, v)| {
            ((k.is("type") || k.is("priority")) && matches!(v, Node::Leaf(Value::Number(_))))
                || numeric_type(v)
        }),
    }
}

/// The structured target: builds the payload and runs every check.
pub fn check(data: &[u8]) {
    let Ok(payload) = Payload::arbitrary(&mut arbitrary::Unstructured::new(data)) else {
        return;
    };
    let node = payload.build();
    let json = serde_json::to_vec(&node).expect("a node writes as JSON");
    match payload.which {
        Which::Trip => check_formats::<Trip>(&node, &json, data),
        Which::Task => check_formats::<Task>(&node, &json, data),
        Which::Contact => check_formats::<Contact>(&node, &json, data),
        Which::Envelope => check_formats::<Envelope<Contact>>(&node, &json, data),
        Which::Ledger => check_formats::<Ledger>(&node, &json, data),
    }
}
