#!/usr/bin/env bash
# bench/ci-gate.sh — a speed regression gate for CI: is NEW_REF slower than BASE_REF?
#   1. builds qk-bench (and NEW's qk-bench-compare and qk-synth) for both commits, each in a
#      temporary git worktree outside the repository (one build when both name one commit);
#   2. writes a small random-weight model with NEW's qk-synth (no download: the tokenizer
#      metadata comes from a vocabulary GGUF);
#   3. runs qk-bench with the two builds interleaved over ROUNDS rounds in ABBA order
#      (base, new / new, base / ...), so that drift on a shared runner hits both sides;
#   4. compares them with qk-bench-compare --per-run --base ... --new ...: per test, each
#      run's geometric mean rate is one sample, and Welch's t interval on the log rates of
#      the two sides' runs decides (runs, not repetitions, are the independent units on a
#      shared machine), and writes OUT/compare.md (the
#      table for the pull request), OUT/ratios.gp/.png (when gnuplot is found) and
#      OUT/bench.json (github-action-benchmark's customBiggerIsBetter format); while
#      that is inconclusive (no test fails, but some interval still reaches below -PCT),
#      two more rounds at a time, up to --max-rounds; each of the L possible looks uses
#      confidence 1 - (1 - C) / L (Bonferroni), so that the gate's false-alarm rate on
#      two equal builds stays at most 1 - C;
#   5. exits 0, or 2 when a test is significantly slower by more than --fail-above PCT
#      (1 on any other error).
#
# usage: bench/ci-gate.sh [options] BASE_REF NEW_REF
#   --fail-above PCT   slowdown that fails the gate, when significant (default 5)
#   --confidence C     overall confidence of the gate (default 0.95; each look's
#                      intervals use 1 - (1 - C) / L, L = 1 + (max-rounds - rounds) / 2)
#   --rounds N         rounds, each running both builds once (default 6, at least 2)
#   --max-rounds N     while no test fails but some test's interval still reaches below
#                      -PCT (a slowdown beyond the gate is not ruled out: too noisy to
#                      tell), add rounds two at a time up to N (default 3 x --rounds);
#                      a quiet runner stops at --rounds
#   -r R               qk-bench repetitions per run (default 3)
#   -t LIST            thread counts (default 1)
#   -p LIST, -n LIST   prompt and generation tokens (default 64 and 32)
#   --shape NAME       qk-synth shape (default smollm2-135m); --layers N (default 4)
#   --vocab FILE       vocabulary GGUF for qk-synth (default: $QK_VOCAB, else
#                      <shared>/data/tokenizers/llama.cpp/ggml-vocab-llama-spm.gguf)
#   --shared DIR       the data directory passed to cmake as QK_SHARED_DIR (default:
#                      $QK_SHARED_DIR, else ../shared beside the repository)
#   -o DIR             output directory (default bench-gate)
#   -j N               build jobs (default: the online CPUs)
#   --new-env VAR=VAL  an environment setting for NEW's runs only (repeatable), e.g.
#                      QK_BENCH_TEST_DELAY_US=2000 to check that the gate fails
#   --keep             keep the temporary worktrees and model (their path is printed)
#   --base-bin DIR, --new-bin DIR   use these build/bin directories instead of building
#                      the ref (an earlier build of it, e.g. a CI cache; NEW's must hold
#                      qk-bench-compare and qk-synth too)
# BASE_REF and NEW_REF are anything git rev-parse accepts (HEAD~1, main, a SHA).
set -euo pipefail

FAIL_ABOVE=5 CONF=0.95 ROUNDS=6 MAX_ROUNDS= REPS=3 THREADS=1 NP=64 NG=32 SHAPE=smollm2-135m LAYERS=4
VOCAB=${QK_VOCAB:-} SHARED=${QK_SHARED_DIR:-} OUT=bench-gate JOBS=$(nproc 2>/dev/null || echo 2) KEEP=0
NEW_ENV=() POS=() BASE_BIN= NEW_BIN=
die() { echo "ci-gate.sh: error: $*" >&2; exit 1; }
need() { [ $# -ge 2 ] || die "option $1 needs a value — see --help"; }
while [ $# -gt 0 ]; do
    case $1 in
        --fail-above) need "$@"; FAIL_ABOVE=$2; shift 2 ;;
        --confidence) need "$@"; CONF=$2; shift 2 ;;
        --rounds) need "$@"; ROUNDS=$2; shift 2 ;;
        --max-rounds) need "$@"; MAX_ROUNDS=$2; shift 2 ;;
        -r) need "$@"; REPS=$2; shift 2 ;;
        -t) need "$@"; THREADS=$2; shift 2 ;;
        -p) need "$@"; NP=$2; shift 2 ;;
        -n) need "$@"; NG=$2; shift 2 ;;
        --shape) need "$@"; SHAPE=$2; shift 2 ;;
        --layers) need "$@"; LAYERS=$2; shift 2 ;;
        --vocab) need "$@"; VOCAB=$2; shift 2 ;;
        --shared) need "$@"; SHARED=$2; shift 2 ;;
        -o) need "$@"; OUT=$2; shift 2 ;;
        -j) need "$@"; JOBS=$2; shift 2 ;;
        --new-env) need "$@"; [[ $2 == *=* ]] || die "--new-env takes VAR=VALUE, got '$2'"; NEW_ENV+=("$2"); shift 2 ;;
        --keep) KEEP=1; shift ;;
        --base-bin) need "$@"; BASE_BIN=$2; shift 2 ;;
        --new-bin) need "$@"; NEW_BIN=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option '$1' — see --help" ;;
        *) POS+=("$1"); shift ;;
    esac
done
[ ${#POS[@]} -eq 2 ] || die "need BASE_REF NEW_REF — see --help"
set -- "${POS[@]}"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] && [ "$ROUNDS" -ge 2 ] || die "--rounds expects an integer >= 2 (one run per side gives no interval), got '$ROUNDS'"
[ -n "$MAX_ROUNDS" ] || MAX_ROUNDS=$((3 * ROUNDS))
[[ $MAX_ROUNDS =~ ^[1-9][0-9]*$ ]] && [ "$MAX_ROUNDS" -ge "$ROUNDS" ] || die "--max-rounds expects an integer >= --rounds ($ROUNDS), got '$MAX_ROUNDS'"
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "-r expects a positive integer, got '$REPS'"

REPO=$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null) || die "$0 is not inside a git checkout — run the repository's bench/ci-gate.sh"
BASE_SHA=$(git -C "$REPO" rev-parse --verify "$1^{commit}" 2>/dev/null) || die "unknown commit '$1' — pass a ref git knows"
NEW_SHA=$(git -C "$REPO" rev-parse --verify "$2^{commit}" 2>/dev/null) || die "unknown commit '$2' — pass a ref git knows"
[ -n "$SHARED" ] || SHARED=$(cd "$REPO/.." && pwd)/shared
[ -n "$VOCAB" ] || VOCAB=$SHARED/data/tokenizers/llama.cpp/ggml-vocab-llama-spm.gguf
[ -f "$VOCAB" ] || die "no vocabulary GGUF at '$VOCAB' — pass --vocab FILE or set QK_VOCAB"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/qk-ci-gate.XXXXXX")
cleanup() {
    for wt in "$WORK"/src-*; do [ -d "$wt" ] && git -C "$REPO" worktree remove --force "$wt" >/dev/null 2>&1; done
    rm -rf "$WORK"
}
if [ "$KEEP" = 1 ]; then echo "ci-gate.sh: keeping $WORK" >&2; else trap cleanup EXIT; fi

# build SHA TARGET... -> prints the bin directory (BASE needs only qk-bench, which older
# commits have; NEW also the comparison and the model writer)
build() {
    local sha=$1 wt=$WORK/src-$1 t missing=0
    shift
    for t in "$@"; do [ -x "$wt/build/bin/$t" ] || missing=1; done
    if [ "$missing" = 1 ]; then
        if [ ! -d "$wt" ]; then
            git -C "$REPO" worktree add --detach "$wt" "$sha" >/dev/null 2>&1 || die "cannot check out $sha into $wt"
        fi
        echo "ci-gate.sh: building ${sha:0:12}" >&2
        cmake -S "$wt" -B "$wt/build" -DCMAKE_BUILD_TYPE=Release -DQK_SHARED_DIR="$SHARED" >"$WORK/cmake-$sha.log" 2>&1 ||
            die "cmake failed for ${sha:0:12} — see the end of $WORK/cmake-$sha.log (run with --keep)"
        make -C "$wt/build" -j"$JOBS" "$@" >>"$WORK/make-$sha.log" 2>&1 ||
            die "build failed for ${sha:0:12} — see $WORK/make-$sha.log (run with --keep)"
    fi
    echo "$wt/build/bin"
}
[ -n "$BASE_BIN" ] || BASE_BIN=$(build "$BASE_SHA" qk-bench)
[ -n "$NEW_BIN" ] || NEW_BIN=$(build "$NEW_SHA" qk-bench qk-bench-compare qk-synth)
[ -x "$BASE_BIN/qk-bench" ] && [ -x "$NEW_BIN/qk-bench" ] || die "no qk-bench in '$BASE_BIN' or '$NEW_BIN'"
"$NEW_BIN/qk-bench-compare" --help | grep -q -- '--base FILE' ||
    die "NEW_REF's qk-bench-compare has no BASE NEW mode — NEW_REF must contain bench/ci-gate.sh's tools"

MODEL=$WORK/gate-$SHAPE.gguf
"$NEW_BIN/qk-synth" --shape "$SHAPE" --layers "$LAYERS" --vocab "$VOCAB" -o "$MODEL" >/dev/null ||
    die "qk-synth could not write the model — check --shape and --vocab"

# the options a build's qk-bench knows (older builds lack the probes' off switches)
bench_args() {
    local help
    help=$("$1/qk-bench" --help)
    local a=(-m "$MODEL" -p "$NP" -n "$NG" -t "$THREADS" -r "$REPS" -o json)
    grep -q -- '--no-roofline' <<<"$help" && a+=(--no-roofline)
    grep -q -- '--no-peak' <<<"$help" && a+=(--no-peak)
    printf '%s\n' "${a[@]}"
}
mapfile -t BASE_ARGS < <(bench_args "$BASE_BIN")
mapfile -t NEW_ARGS < <(bench_args "$NEW_BIN")

BASE_FILES=() NEW_FILES=()
run_side() { # side round
    local f=$WORK/$1-$2.json
    if [ "$1" = base ]; then
        "$BASE_BIN/qk-bench" "${BASE_ARGS[@]}" >"$f" || die "BASE's qk-bench failed in round $2"
        BASE_FILES+=(--base "$f")
    else
        env ${NEW_ENV[@]+"${NEW_ENV[@]}"} "$NEW_BIN/qk-bench" "${NEW_ARGS[@]}" >"$f" || die "NEW's qk-bench failed in round $2"
        NEW_FILES+=(--new "$f")
    fi
}
round() { # k
    echo "ci-gate.sh: round $1 (of $ROUNDS, at most $MAX_ROUNDS)" >&2
    if (($1 % 2)); then run_side base "$1"; run_side new "$1"; else run_side new "$1"; run_side base "$1"; fi
}
for ((k = 1; k <= ROUNDS; k++)); do round "$k"; done

# Inconclusive: some test's interval still reaches below 1 - PCT/100, so a slowdown beyond
# the gate is not ruled out although none is shown (its lower bound, from the CI JSON).
inconclusive() {
    grep -o 'CI [0-9.]*' "$OUT/bench.json" | awk -v lim="$FAIL_ABOVE" '$2 < 1 - lim / 100 { n++ } END { exit n ? 0 : 1 }'
}
# Every look at the data may end the gate, so each look gets an equal share of the allowed
# false-alarm rate (Bonferroni): with L possible looks, confidence 1 - (1 - C) / L, and an
# A/A gate still fails with probability at most 1 - C however many rounds it takes.
LOOKS=$((1 + (MAX_ROUNDS - ROUNDS) / 2))
CONF_LOOK=$(awk -v c="$CONF" -v l="$LOOKS" 'BEGIN { v = 1 - (1 - c) / l; if (v > 0.9999) v = 0.9999; printf "%.6g", v }')
mkdir -p "$OUT"
set +e
while :; do
    "$NEW_BIN/qk-bench-compare" --confidence "$CONF_LOOK" --fail-above "$FAIL_ABOVE" -o "$OUT" --plot \
        --per-run --ci-json "$OUT/bench.json" "${BASE_FILES[@]}" "${NEW_FILES[@]}" >"$OUT/compare.out"
    rc=$?
    [ $rc = 0 ] && [ $((k + 1)) -le "$MAX_ROUNDS" ] && inconclusive || break
    echo "ci-gate.sh: inconclusive after $((k - 1)) rounds (an interval reaches below -$FAIL_ABOVE %): two more" >&2
    round "$k"; round $((k + 1))
    k=$((k + 2))
done
cat "$OUT/compare.out"
set -e
echo "ci-gate.sh: base ${BASE_SHA:0:12}, new ${NEW_SHA:0:12}: $( [ $rc = 0 ] && echo pass || { [ $rc = 2 ] && echo FAIL || echo error; })" >&2
exit $rc
