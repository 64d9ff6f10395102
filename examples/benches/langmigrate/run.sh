#!/usr/bin/env bash
# Side by side with langmigrate (PyPI): the same N LangGraph checkpoints
# (release 1 of an agent state), the same three steps (add a field with a
# default, rename a field, change a field's type), each tool's batch upgrade
# timed on a fresh copy of the same data, on SQLite and on PostgreSQL; the
# upgraded shape is checked afterwards from outside; records/s and the ratio
# are printed. A benchmark, not a test: .ci/run does not call it.
#
#   bash examples/benches/langmigrate/run.sh            # N=100000
#   N=10000 bash examples/benches/langmigrate/run.sh
#   LANGMIGRATE_BENCH_PG=postgres://user@host/db bash ...  # reuse a server
#     (the role must be allowed to CREATE DATABASE; three databases
#      lm_bench_template, lm_bench_lang, lm_bench_ours are dropped and made)
#
# Everything Python lives in a venv under target/langmigrate/venv; nothing is
# installed into the system's Python. See BENCHMARKS.md, "Side by side with
# langmigrate", for what each tool does.
set -euo pipefail

N=${N:-100000}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
WORK=$ROOT/target/langmigrate
VENV=$WORK/venv
PY=$VENV/bin/python
BIN=$ROOT/target/release/checkpoint-migrate
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}
mkdir -p "$WORK"

say() { printf '\n== %s\n' "$*" >&2; }
now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

# --- Python side: a venv with langmigrate and LangGraph's savers ------------
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    say "python3-venv is missing: installing it with apt"
    apt-get update -qq && apt-get install -y -qq python3-venv
fi
if [ ! -x "$PY" ]; then
    say "creating $VENV"
    python3 -m venv "$VENV"
fi
say "pip install langmigrate[postgres] langgraph-checkpoint-sqlite"
"$PY" -m pip install -q --disable-pip-version-check \
    'langmigrate[postgres]==1.3.0' 'langgraph-checkpoint-sqlite==3.1.2'
"$PY" -m pip list --disable-pip-version-check 2>/dev/null \
    | grep -Ei '^(langmigrate|langgraph-checkpoint|psycopg |ormsgpack)' >&2

# --- Rust side: the ready command line wired to the versioned state ---------
say "cargo build --release --bin checkpoint-migrate"
(cd "$ROOT" && cargo build -q --release -p schema-migrate-examples --bin checkpoint-migrate)

# --- PostgreSQL: reuse a URL, or a throwaway server as the test harness does
PG_DIR=""
cleanup() {
    if [ -n "$PG_DIR" ]; then
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
}
trap cleanup EXIT
if [ -n "${LANGMIGRATE_BENCH_PG:-}" ]; then
    PG_ADMIN=$LANGMIGRATE_BENCH_PG
else
    PG_BIN=$(dirname "$(readlink -f "$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb | tail -1)")")
    PG_DIR=$(mktemp -d /tmp/lm-bench-pg.XXXXXX)
    chown postgres: "$PG_DIR"
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    say "throwaway PostgreSQL on 127.0.0.1:$PORT ($PG_DIR)"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
    # The test harness's settings: durability off (both tools run on the same server).
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null
    PG_ADMIN="postgresql://postgres@127.0.0.1:$PORT/postgres"
fi
pg_db() { # the URL of database $1 on the same server
    "$PY" -c 'import sys; from urllib.parse import urlsplit, urlunsplit
u = urlsplit(sys.argv[1]); print(urlunsplit(u._replace(path="/" + sys.argv[2])))' "$PG_ADMIN" "$1"
}
psql_q() { psql -X -At -v ON_ERROR_STOP=1 "$@"; }

RESULTS=$WORK/results.tsv
printf 'engine\ttool\trecords\tseconds\trecords_per_s\n' >"$RESULTS"
record() { # engine tool seconds
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$N" "$3" "$(rate "$N" "$3")" >>"$RESULTS"
}

# The three steps, as each tool writes them: examples/src/bin/checkpoint-migrate.rs
# (#[schema(...)] on AgentState) and migrations/r1..r3 (langmigrate revisions).
LM_PROJECT=$WORK/lm-project
mkdir -p "$LM_PROJECT"
printf '[langmigrate]\nmigrations_dir = "%s"\n' "$HERE/migrations" >"$LM_PROJECT/langmigrate.toml"
OUR_PG_ARGS=(--table checkpoints --key thread_id,checkpoint_ns,checkpoint_id --payload checkpoint --path /channel_values)

# ============================== PostgreSQL ==================================
say "PostgreSQL: generating $N checkpoints at release 1 (PostgresSaver's shape)"
for db in lm_bench_template lm_bench_lang lm_bench_ours; do
    psql_q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $db" >/dev/null
done
psql_q "$PG_ADMIN" -c "CREATE DATABASE lm_bench_template" >/dev/null
"$PY" "$HERE/bench.py" gen-postgres "$(pg_db lm_bench_template)" "$N"
psql_q "$PG_ADMIN" -c "CREATE DATABASE lm_bench_lang TEMPLATE lm_bench_template" >/dev/null
psql_q "$PG_ADMIN" -c "CREATE DATABASE lm_bench_ours TEMPLATE lm_bench_template" >/dev/null
PG_LANG=$(pg_db lm_bench_lang)
PG_OURS=$(pg_db lm_bench_ours)
psql_q "$PG_LANG" -c "SELECT checkpoint->'channel_values', metadata FROM checkpoints LIMIT 1" >&2

say "PostgreSQL: langmigrate upgrade head"
t0=$(now)
(cd "$LM_PROJECT" && LANGMIGRATE_URL=$PG_LANG "$VENV/bin/langmigrate" upgrade head) >&2
t1=$(now)
record postgres langmigrate "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"

say "PostgreSQL: checkpoint-migrate --path /channel_values"
t0=$(now)
"$BIN" --store "$PG_OURS" "${OUR_PG_ARGS[@]}" >&2
t1=$(now)
record postgres schema-migrate "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"

say "PostgreSQL: checking the upgraded shape with psql"
UPGRADED="checkpoint->'channel_values' ?& array['destination_city','currency','budget'] \
  AND NOT checkpoint->'channel_values' ? 'destination' \
  AND checkpoint->'channel_values'->>'currency' = 'EUR' \
  AND jsonb_typeof(checkpoint->'channel_values'->'budget') = 'number'"
for url in "$PG_LANG" "$PG_OURS"; do
    got=$(psql_q "$url" -c "SELECT count(*) FROM checkpoints WHERE $UPGRADED")
    [ "$got" = "$N" ] || { echo "only $got of $N upgraded in $url" >&2; exit 1; }
    psql_q "$url" -c "SELECT checkpoint->'channel_values', metadata, checkpoint->'channel_versions' FROM checkpoints ORDER BY thread_id, checkpoint_id LIMIT 1" >&2
    psql_q "$url" -c "SELECT 'checkpoint_blobs rows: ' || count(*) FROM checkpoint_blobs" >&2
    "$PY" "$HERE/bench.py" read-back postgres "$url"
done
echo "both: $N of $N checkpoints upgraded" >&2

# ================================ SQLite ====================================
say "SQLite: generating $N checkpoints at release 1 (SqliteSaver's shape)"
SQ_TEMPLATE=$WORK/template.db
rm -f "$WORK"/*.db "$WORK"/*.db-wal "$WORK"/*.db-shm
"$PY" "$HERE/bench.py" gen-sqlite "$SQ_TEMPLATE" "$N"
sqlite3 "$SQ_TEMPLATE" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
cp "$SQ_TEMPLATE" "$WORK/lang.db"
cp "$SQ_TEMPLATE" "$WORK/ours.db"

say "SQLite: langmigrate's run_batch_upgrade over SqliteSaver (its CLI has no SQLite adapter)"
t0=$(now)
"$PY" "$HERE/bench.py" upgrade-sqlite "$WORK/lang.db" "$HERE/migrations"
t1=$(now)
record sqlite langmigrate "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"

say "SQLite: checkpoint-migrate --format msgpack --path /channel_values"
t0=$(now)
"$BIN" --store "sqlite:$WORK/ours.db" "${OUR_PG_ARGS[@]}" --format msgpack >&2
t1=$(now)
record sqlite schema-migrate "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"

say "SQLite: checking the upgraded shape (sqlite3 for the rows, ormsgpack for the blobs)"
for db in "$WORK/lang.db" "$WORK/ours.db"; do
    sqlite3 "$db" "SELECT count(*), sum(type = 'msgpack') FROM checkpoints" >&2
    sqlite3 -separator ' ' "$db" "SELECT quote(checkpoint_id), hex(checkpoint) FROM checkpoints" \
        | "$PY" -c '
import sys, ormsgpack
n = bad = 0
for line in sys.stdin:
    _, blob = line.split()
    cv = ormsgpack.unpackb(bytes.fromhex(blob))["channel_values"]
    n += 1
    ok = ("destination" not in cv and cv.get("currency") == "EUR"
          and isinstance(cv.get("budget"), float) and "destination_city" in cv)
    bad += not ok
    if n == 1:
        print(cv, file=sys.stderr)
print(f"{n - bad} of {n} upgraded", file=sys.stderr)
sys.exit(1 if bad or n != int(sys.argv[1]) else 0)' "$N"
    "$PY" "$HERE/bench.py" read-back sqlite "$db"
done

# ================================ Report ====================================
say "Results ($N checkpoints; $(nproc) cores; $(uname -m))"
"$PY" - "$RESULTS" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
by = {(r["engine"], r["tool"]): r for r in rows}
print(f"{'engine':<11}{'langmigrate rec/s':>19}{'schema-migrate rec/s':>22}{'ratio':>8}")
for engine in ("sqlite", "postgres"):
    lang, ours = by[(engine, "langmigrate")], by[(engine, "schema-migrate")]
    l, o = float(lang["records_per_s"]), float(ours["records_per_s"])
    print(f"{engine:<11}{l:>12,.0f} ({float(lang['seconds']):5.1f} s){o:>13,.0f} ({float(ours['seconds']):5.1f} s){o / l:>7.1f}x")
EOF
