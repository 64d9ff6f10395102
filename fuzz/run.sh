#!/usr/bin/env bash
# Fuzzes the generated readers for a total duration split across the targets.
#
#   fuzz/run.sh [TOTAL_SECONDS] [TARGET...]      (default: 600 s, all targets)
#
# Installs cargo-fuzz if missing; uses the nightly toolchain when rustup has
# one, otherwise stable with RUSTC_BOOTSTRAP=1 (cargo-fuzz needs nightly
# flags). One fuzzing process at a time, at the lowest priority, so that it
# can share a machine. Crashes go to fuzz/artifacts/<target>/, disagreements
# (the first input of each kind) to fuzz/artifacts/<target>/findings/, the
# libFuzzer output to fuzz/logs/<target>.log, the grown corpus to
# fuzz/corpus/<target>/ (all gitignored; the committed seeds are in fuzz/seeds/).
set -euo pipefail
cd "$(dirname "$0")"

total=${1:-600}
shift || true
if [ $# -gt 0 ]; then targets=("$@"); else targets=(json_raw cbor_raw msgpack_raw structured); fi

export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi

# The library forbids unsafe code: no sanitizer, for throughput. Debug
# assertions and overflow checks stay on (cargo-fuzz's default).
fuzz=(cargo "${toolchain[@]}" fuzz)
for t in "${targets[@]}"; do
    nice -n 19 "${fuzz[@]}" build -s none "$t"
done

per=$(( total / ${#targets[@]} ))
mkdir -p logs
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t/findings"
    echo "== $t: ${per}s" >&2
    # -jobs=1 makes libFuzzer write its output to fuzz-0.log in the current
    # directory; it is moved to logs/ afterwards.
    status=0
    FUZZ_FINDINGS_DIR="$PWD/artifacts/$t/findings" nice -n 19 "${fuzz[@]}" run -s none "$t" \
        "corpus/$t" "seeds/$t" -- \
        -max_total_time="$per" -jobs=1 -workers=1 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 || status=$?
    [ -f fuzz-0.log ] && mv fuzz-0.log "logs/$t.log"
    echo "== $t: exit $status; final stats:" >&2
    grep -E '^(stat::|Done|#[0-9]+ *DONE)' "logs/$t.log" >&2 || true
    ls "artifacts/$t" "artifacts/$t/findings" >&2
done
