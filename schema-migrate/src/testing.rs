//! Guardrails for CI: a schema lock and golden fixtures, checked by a test.
//!
//! Most broken migrations are not a broken history but a change nobody
//! versioned: a field's type changed without a bump, or an old step edited,
//! and the first sign is production failing to read last month's records.
//! Two checks catch that before merge:
//!
//! - [`assert_schema_lock`] keeps `<dir>/<NAME>.json`, the wire shape of
//!   every version of the type as the derive knows it, and fails when a
//!   version's shape changed.
//! - [`assert_fixtures`] reads payloads as releases stored them
//!   (`<dir>/<label>.json`) and compares what they upgrade to with
//!   snapshots (`<dir>/<label>.upgraded.json`).
//!
//! ```
//! use schema_migrate::Versioned;
//!
//! #[derive(Versioned)]
//! #[schema(version = 2, migrate(from = 1, add(retries = 3)))]
//! struct Job { name: String, retries: u32 }
//!
//! # let dir = std::env::temp_dir().join(format!("sm-testing-doc-{}", std::process::id()));
//! # let (locks, fixtures) = (dir.join("locks"), dir.join("fixtures/Job"));
//! # std::fs::create_dir_all(&fixtures).unwrap();
//! # schema_migrate::testing::check_schema_lock::<Job>(&locks, true).unwrap();
//! # std::fs::write(fixtures.join("v1.json"), r#"{"_version":1,"name":"sync"}"#).unwrap();
//! # schema_migrate::testing::record_fixture(&fixtures, "v2", &Job { name: "index".into(), retries: 1 }).unwrap();
//! # schema_migrate::testing::check_fixtures::<Job>(&fixtures, true).unwrap();
//! // In a test (`#[test] fn schema_is_locked()`), on files committed with
//! // the crate (`tests/locks`, `tests/fixtures/Job`, say):
//! schema_migrate::testing::assert_schema_lock::<Job>(&locks);
//! schema_migrate::testing::assert_fixtures::<Job>(&fixtures);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
//!
//! Keep each type's fixtures in a directory of their own: every `.json`
//! file there is taken as a fixture of that type (a lock file included).
//!
//! `SCHEMA_MIGRATE_BLESS=1 cargo test` writes what is missing or changed on
//! purpose: a new version's shape, the shape of the current version while it
//! is not released, the fixtures' snapshots. It never rewrites an older
//! version's shape (released records have it), and never passes a history
//! with a version that has no fixture.
//!
//! What the lock cannot see: the inside of a field whose type is a plain
//! serde type (`#[derive(Deserialize)] struct Address`), which it records by
//! name only, and the shape below a `with = fn` step or of a hand-written
//! `Versioned` impl (recorded as "opaque"). A change there shows only in the
//! fixtures, so keep one per version. A field whose type is itself
//! versioned has its own lock: lock it too.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::{DeserializeVersionedOwned, Versioned};

/// The environment variable that makes the checks write what they would
/// otherwise fail on (where that is allowed): `SCHEMA_MIGRATE_BLESS=1`.
pub const BLESS: &str = "SCHEMA_MIGRATE_BLESS";

/// Why a check failed: a message for the developer, naming the type, the
/// version and the field or fixture, and saying what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardError {
    message: String,
}

impl GuardError {
    fn new(message: impl Into<String>) -> Self {
        GuardError {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for GuardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for GuardError {}

/// Whether `SCHEMA_MIGRATE_BLESS` is set to something other than `0` or
/// empty.
pub fn blessing() -> bool {
    std::env::var_os(BLESS).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Checks `<dir>/<NAME>.json` against the wire shape of every version of
/// `T`, and panics with what changed and what to do if it differs. Under
/// `SCHEMA_MIGRATE_BLESS=1` it writes the file where that is allowed (see
/// [`check_schema_lock`]).
///
/// # Panics
///
/// When the check fails: this is an assertion, for a test.
#[track_caller]
pub fn assert_schema_lock<T: Versioned>(dir: impl AsRef<Path>) {
    if let Err(e) = check_schema_lock::<T>(dir, blessing()) {
        panic!("{e}");
    }
}

/// The check of [`assert_schema_lock`], with blessing given rather than
/// read from the environment.
///
/// Fails when:
/// - the file is missing (with `bless`: writes it);
/// - the current version's shape changed (with `bless`: records it, for a
///   version not released yet; once released, the change needs a new version);
/// - an older version's shape changed: the history was rewritten, and
///   records stored at that version no longer read as they did. Always.
/// - a version is new, or one below `OLDEST` is no longer read (with
///   `bless`: recorded);
/// - the lock has versions above the current one, or another tag. Always:
///   records stored by the locked type may exist.
pub fn check_schema_lock<T: Versioned>(
    dir: impl AsRef<Path>,
    bless: bool,
) -> Result<(), GuardError> {
    let path = dir.as_ref().join(format!("{}.json", T::NAME));
    let name = T::NAME;
    let bless_hint = format!("run the test with {BLESS}=1 to write it, and commit it");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if bless {
                return write(&path, &schema_lock::<T>());
            }
            return Err(GuardError::new(format!(
                "schema lock of {name}: no file {}: {bless_hint}",
                path.display()
            )));
        }
        Err(e) => {
            return Err(GuardError::new(format!(
                "schema lock of {name}: cannot read {}: {e}",
                path.display()
            )))
        }
    };
    let locked = Lock::parse(&text).map_err(|e| {
        GuardError::new(format!(
            "schema lock of {name}: {} is not a lock file ({e}): restore it from version \
             control (it records released versions, so it is not regenerated)",
            path.display()
        ))
    })?;

    let mut hard = Vec::new();
    let mut soft = Vec::new();
    if locked.tag != T::TAG {
        hard.push(format!(
            "the version tag changed from {:?} to {:?}: stored records carry {:?}, and would \
             no longer be read at their version. Restore `tag = {:?}`.",
            locked.tag,
            T::TAG,
            locked.tag,
            locked.tag
        ));
    }
    // A version below the newest one, in the type or in the lock, is
    // frozen: a later version was made after it.
    let newest = locked
        .versions
        .keys()
        .next_back()
        .map_or(T::VERSION, |&v| v.max(T::VERSION));
    for (&version, lines) in &locked.versions {
        if version > T::VERSION {
            hard.push(format!(
                "{name} version {version} is in the lock but {name} is at version {}: records \
                 may have been stored at version {version}, and this type cannot read them. \
                 Restore the version (a version is never taken back once released; if it \
                 never was, delete it from the lock file by hand).",
                T::VERSION
            ));
            continue;
        }
        if version < T::OLDEST {
            soft.push(format!(
                "{name} version {version} is in the lock but no longer read (oldest = {}): {bless_hint}",
                T::OLDEST
            ));
            continue;
        }
        let now = shape_lines::<T>(version);
        if now == *lines {
            continue;
        }
        let diff = describe_diff(lines, &now);
        if version == newest {
            soft.push(format!(
                "{name} version {version} (the current version) changed without a new version:\n\
                 {diff}\
                 Records stored at version {version} have the locked shape and may no longer be \
                 read as they were stored. If version {version} was released, undo the change \
                 and make it version {next} instead (`version = {next}` with a step `migrate(from = \
                 {version}, ...)` that says how version-{version} records become version \
                 {next}: a transform, rename, add or remove, or no op when they read \
                 unchanged). If version {version} is \
                 not released yet, record the new shape with {BLESS}=1 and commit the lock file.",
                next = version + 1
            ));
        } else {
            hard.push(format!(
                "{name} version {version} changed, but it is an older version (the newest is \
                 {newest}): its history was rewritten.\n{diff}\
                 Records stored at version {version} still have the locked shape. Restore the \
                 fields and the steps after version {version} as they were (a step's ops decide \
                 the shape of the versions before it); {BLESS}=1 does not rewrite an older \
                 version."
            ));
        }
    }
    for version in T::OLDEST..=T::VERSION {
        if !locked.versions.contains_key(&version) {
            soft.push(format!(
                "{name} version {version} is not in the lock yet: {bless_hint}"
            ));
        }
    }
    if hard.is_empty() && (soft.is_empty() || bless) {
        if bless && !soft.is_empty() {
            return write(&path, &schema_lock::<T>());
        }
        return Ok(());
    }
    let mut message = format!("schema lock {} of {name} failed:", path.display());
    for problem in hard.iter().chain(&soft) {
        message.push_str("\n- ");
        message.push_str(&problem.replace('\n', "\n  "));
    }
    Err(GuardError::new(message))
}

/// The lock file of `T` as [`assert_schema_lock`] writes it: deterministic
/// (the same type gives the same bytes), sorted, one field per line.
///
/// ```
/// use schema_migrate::Versioned;
///
/// #[derive(Versioned)]
/// #[schema(version = 2, migrate(from = 1, rename(title = name)))]
/// struct Doc {
///     name: String,
///     #[serde(default, skip_serializing_if = "Option::is_none")]
///     note: Option<String>,
/// }
///
/// let lock = schema_migrate::testing::schema_lock::<Doc>();
/// assert!(lock.contains(r#""field title: String""#));
/// assert!(lock.contains(
///     r#""field note: Option<String> #[serde(default, skip_serializing_if = \"Option::is_none\")]""#
/// ));
/// ```
pub fn schema_lock<T: Versioned>() -> String {
    let mut out = String::new();
    out.push_str("{\n");
    let _ = writeln!(out, "  \"type\": {},", quote(T::NAME));
    let _ = writeln!(out, "  \"tag\": {},", quote(T::TAG));
    let _ = writeln!(out, "  \"oldest\": {},", T::OLDEST);
    let _ = writeln!(out, "  \"version\": {},", T::VERSION);
    out.push_str("  \"versions\": [\n");
    for version in T::OLDEST..=T::VERSION {
        out.push_str("    {\n");
        let _ = writeln!(out, "      \"version\": {version},");
        out.push_str("      \"shape\": [");
        let lines = shape_lines::<T>(version);
        for (i, line) in lines.iter().enumerate() {
            out.push_str(if i == 0 { "\n" } else { ",\n" });
            let _ = write!(out, "        {}", quote(line));
        }
        out.push_str(if lines.is_empty() {
            "]\n"
        } else {
            "\n      ]\n"
        });
        out.push_str(if version == T::VERSION {
            "    }\n"
        } else {
            "    },\n"
        });
    }
    out.push_str("  ]\n}\n");
    out
}

fn shape_lines<T: Versioned>(version: u32) -> Vec<String> {
    let mut lines: Vec<String> = T::wire_shape(version)
        .unwrap_or(&["opaque: no shape known for this version"])
        .iter()
        .map(|l| (*l).to_owned())
        .collect();
    lines.sort();
    lines
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn write(path: &Path, text: &str) -> Result<(), GuardError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| GuardError::new(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::write(path, text)
        .map_err(|e| GuardError::new(format!("cannot write {}: {e}", path.display())))
}

/// A lock file as read.
struct Lock {
    tag: String,
    versions: BTreeMap<u32, Vec<String>>,
}

impl Lock {
    fn parse(text: &str) -> Result<Lock, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let tag = value
            .get("tag")
            .and_then(Value::as_str)
            .ok_or("no \"tag\"")?
            .to_owned();
        let mut versions = BTreeMap::new();
        for entry in value
            .get("versions")
            .and_then(Value::as_array)
            .ok_or("no \"versions\" list")?
        {
            let version = entry
                .get("version")
                .and_then(Value::as_u64)
                .and_then(|v| u32::try_from(v).ok())
                .ok_or("a version without a \"version\" number")?;
            let mut lines: Vec<String> = entry
                .get("shape")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("version {version} has no \"shape\" list"))?
                .iter()
                .map(|l| l.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| format!("version {version}: a shape line that is not a string"))?;
            lines.sort();
            versions.insert(version, lines);
        }
        Ok(Lock { tag, versions })
    }
}

/// What identifies a line across versions of the shape: the field or
/// variant it describes, or the whole line.
fn line_key(line: &str) -> &str {
    if line.starts_with("field ") || line.starts_with("variant ") {
        line.split_once(':').map_or(line, |(key, _)| key)
    } else {
        line
    }
}

/// One line per difference, indented, each naming the field or variant.
fn describe_diff(locked: &[String], now: &[String]) -> String {
    let by_key = |lines: &[String]| -> BTreeMap<String, String> {
        lines
            .iter()
            .map(|l| (line_key(l).to_owned(), l.clone()))
            .collect()
    };
    let (locked, now) = (by_key(locked), by_key(now));
    let keys: BTreeSet<&String> = locked.keys().chain(now.keys()).collect();
    let mut out = String::new();
    for key in keys {
        let what = match key.split_once(' ') {
            Some((kind @ ("field" | "variant"), name)) => format!("{kind} `{name}`"),
            _ => format!("`{key}`"),
        };
        match (locked.get(key), now.get(key)) {
            (Some(a), Some(b)) if a != b => {
                let _ = writeln!(out, "  {what}: locked `{a}`, now `{b}`");
            }
            (Some(a), None) => {
                let _ = writeln!(out, "  {what} is gone (locked `{a}`)");
            }
            (None, Some(b)) => {
                let _ = writeln!(out, "  {what} is new: `{b}`");
            }
            _ => {}
        }
    }
    out
}

/// Checks the golden fixtures of `T` in `dir`, and panics with what failed
/// and what to do. See [`check_fixtures`]; under `SCHEMA_MIGRATE_BLESS=1` it
/// writes the snapshots.
///
/// # Panics
///
/// When the check fails: this is an assertion, for a test.
#[track_caller]
pub fn assert_fixtures<T>(dir: impl AsRef<Path>)
where
    T: Versioned + DeserializeVersionedOwned + Serialize,
{
    if let Err(e) = check_fixtures::<T>(dir, blessing()) {
        panic!("{e}");
    }
}

/// The check of [`assert_fixtures`], with blessing given rather than read
/// from the environment.
///
/// Every `<dir>/<label>.json` is a payload as some release stored it (and
/// with the features `msgpack` and `cbor`, every `<label>.msgpack` and
/// `<label>.cbor`: MessagePack with field names, CBOR; their snapshots are
/// JSON too, so labels are unique across formats). Each
/// must load as `T`; the loaded value, written at the current version,
/// must equal `<dir>/<label>.upgraded.json` as a JSON value (with `bless`, a
/// missing or different snapshot is written instead). A fixture's version is
/// the one its tag says, not its label, and every version from
/// [`Versioned::OLDEST`] to [`Versioned::VERSION`] needs one: that is
/// checked with `bless` too.
pub fn check_fixtures<T>(dir: impl AsRef<Path>, bless: bool) -> Result<(), GuardError>
where
    T: Versioned + DeserializeVersionedOwned + Serialize,
{
    let dir = dir.as_ref();
    let name = T::NAME;
    let mut labels = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                for ext in ["json", "msgpack", "cbor"] {
                    if let Some(label) = file.strip_suffix(&format!(".{ext}")) {
                        if !label.ends_with(".upgraded") {
                            labels.push((label.to_owned(), ext));
                        }
                    }
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(GuardError::new(format!(
                "fixtures of {name}: cannot read {}: {e}",
                dir.display()
            )))
        }
    }
    labels.sort();

    let mut problems = Vec::new();
    let mut covered = BTreeSet::new();
    for (label, ext) in &labels {
        let file = format!("{label}.{ext}");
        let path = dir.join(&file);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) => {
                problems.push(format!("{}: cannot read it: {e}", path.display()));
                continue;
            }
        };
        let (tagged, loaded) = load::<T>(ext, &bytes);
        let at = match tagged {
            Some(v) => format!(" (stored at version {v})"),
            None => String::new(),
        };
        let stored = match loaded {
            Ok(stored) => stored,
            Err(e) => {
                problems.push(format!(
                    "fixture `{file}`{at} no longer loads: {e}\n\
                     It is a payload as a release stored it: records like it are in stores. \
                     Fix the type or the step that broke it; do not edit the fixture."
                ));
                continue;
            }
        };
        covered.insert(stored.version);
        let written = match serde_json::to_string_pretty(&stored.value) {
            Ok(written) => written,
            Err(e) => {
                problems.push(format!(
                    "fixture `{file}`{at} loads but cannot be written: {e}"
                ));
                continue;
            }
        };
        let snapshot_path = dir.join(format!("{label}.upgraded.json"));
        let snapshot = match std::fs::read_to_string(&snapshot_path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                problems.push(format!("{}: cannot read it: {e}", snapshot_path.display()));
                continue;
            }
        };
        let difference = match &snapshot {
            None => Some(format!(
                "fixture `{file}`{at} has no snapshot `{label}.upgraded.json` of what it \
                 upgrades to: run the test with {BLESS}=1 to write it, review it and commit it"
            )),
            Some(snapshot) => match serde_json::from_str::<Value>(snapshot) {
                Err(e) => Some(format!(
                    "snapshot `{label}.upgraded.json` is not JSON ({e}): run the test with \
                     {BLESS}=1 to write it again"
                )),
                Ok(expected) => {
                    // Cannot fail: it was written from a value just now.
                    let now: Value = serde_json::from_str(&written).unwrap_or(Value::Null);
                    first_difference(&expected, &now, String::new()).map(|(at_path, a, b)| {
                        format!(
                            "fixture `{file}`{at}, upgraded to version {version}, differs \
                             from its snapshot `{label}.upgraded.json` at `{where_}`: the \
                             snapshot has {a}, the type now makes {b}.\n\
                             A step (or a default) now makes something else of records stored \
                             like this one. If that is intended, run the test with {BLESS}=1 \
                             and review the snapshot's diff; if not, fix the step.",
                            version = T::VERSION,
                            where_ = if at_path.is_empty() { "/" } else { &at_path },
                        )
                    })
                }
            },
        };
        if let Some(difference) = difference {
            if bless {
                if let Err(e) = write(&snapshot_path, &format!("{written}\n")) {
                    problems.push(e.message);
                }
            } else {
                problems.push(difference);
            }
        }
    }

    let missing: Vec<String> = (T::OLDEST..=T::VERSION)
        .filter(|v| !covered.contains(v))
        .map(|v| v.to_string())
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "{name} has no fixture at version{s} {list} (every version from {oldest} to {current} \
             needs one, read from its tag). Add a payload as that version was stored, as \
             `{dir}/<label>.json`; for the current version, \
             `schema_migrate::testing::record_fixture(dir, label, &value)` writes one.",
            s = if missing.len() == 1 { "" } else { "s" },
            list = missing.join(", "),
            oldest = T::OLDEST,
            current = T::VERSION,
            dir = dir.display(),
        ));
    }
    if problems.is_empty() {
        return Ok(());
    }
    let mut message = format!("fixtures of {name} in {} failed:", dir.display());
    for problem in &problems {
        message.push_str("\n- ");
        message.push_str(&problem.replace('\n', "\n  "));
    }
    Err(GuardError::new(message))
}

/// Reads a fixture: the version its tag says (for messages), and the value.
fn load<T>(ext: &str, bytes: &[u8]) -> (Option<u64>, Result<crate::Stored<T>, String>)
where
    T: Versioned + DeserializeVersionedOwned,
{
    let tag = |v: Option<Value>| v.and_then(|v| v.get(T::TAG).and_then(Value::as_u64));
    match ext {
        "json" => {
            let text = match std::str::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => return (None, Err(format!("not UTF-8: {e}"))),
            };
            (
                tag(serde_json::from_str(text).ok()),
                crate::json::from_str::<T>(text).map_err(|e| e.to_string()),
            )
        }
        #[cfg(feature = "msgpack")]
        "msgpack" => (
            tag(rmp_serde::from_slice(bytes).ok()),
            rmp_serde::from_slice::<crate::Stored<T>>(bytes).map_err(|e| e.to_string()),
        ),
        #[cfg(feature = "cbor")]
        "cbor" => (
            tag(ciborium::from_reader(bytes).ok()),
            ciborium::from_reader::<crate::Stored<T>, _>(bytes).map_err(|e| e.to_string()),
        ),
        other => (
            None,
            Err(format!(
                "reading `.{other}` fixtures needs the cargo feature `{other}` of schema-migrate"
            )),
        ),
    }
}

/// Writes `value` as `<dir>/<label>.json`, a fixture of the current version:
/// run it once when a release bumps the version, and commit the file.
///
/// A fixture is history, so an existing one is never replaced: a file
/// already there with another value is an error (pick another label).
/// Returns the path written.
///
/// ```
/// use schema_migrate::Versioned;
///
/// #[derive(Versioned)]
/// #[schema(version = 1)]
/// struct Job { name: String }
///
/// let dir = std::env::temp_dir().join(format!("sm-record-doc-{}", std::process::id()));
/// let path = schema_migrate::testing::record_fixture(&dir, "v1", &Job { name: "sync".into() })?;
/// assert_eq!(
///     std::fs::read_to_string(&path)?,
///     "{\n  \"_version\": 1,\n  \"name\": \"sync\"\n}\n"
/// );
/// assert!(schema_migrate::testing::record_fixture(&dir, "v1", &Job { name: "x".into() }).is_err());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn record_fixture<T>(
    dir: impl AsRef<Path>,
    label: &str,
    value: &T,
) -> Result<PathBuf, GuardError>
where
    T: Versioned + Serialize,
{
    let valid = !label.is_empty()
        && !label.ends_with(".upgraded")
        && !label.contains(['/', '\\'])
        && label != "."
        && label != "..";
    if !valid {
        return Err(GuardError::new(format!(
            "fixture label {label:?}: expected a file name without `/`, not ending in `.upgraded`"
        )));
    }
    let path = dir.as_ref().join(format!("{label}.json"));
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| GuardError::new(format!("{}: cannot write the value: {e}", T::NAME)))?;
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let same = serde_json::from_str::<Value>(&existing).ok()
            == serde_json::from_str::<Value>(&text).ok();
        if same {
            return Ok(path);
        }
        return Err(GuardError::new(format!(
            "{} exists with another value: a fixture is a payload a release stored, so it is \
             not replaced; record this one under another label",
            path.display()
        )));
    }
    write(&path, &format!("{text}\n"))?;
    Ok(path)
}

/// The first place where `a` and `b` differ: its JSON Pointer and both
/// values there (`absent` where one has nothing).
fn first_difference(a: &Value, b: &Value, at: String) -> Option<(String, String, String)> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => first_difference(p, q, here),
                    (p, q) => Some((here, shown(p), shown(q))),
                }
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, format!("{at}/{i}"))),
        _ if a == b => None,
        _ => Some((at, shown(Some(a)), shown(Some(b)))),
    }
}

fn shown(value: Option<&Value>) -> String {
    match value {
        Some(v) => format!("`{v}`"),
        None => "nothing (absent)".to_owned(),
    }
}
