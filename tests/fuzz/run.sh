#!/usr/bin/env bash
# Real fuzzing with libFuzzer (clang, ASan + UBSan): builds the fuzz targets in build-fuzz/ and
# runs each for a while on a copy of its seed corpus. Exits non-zero if any target crashed.
#
#   tests/fuzz/run.sh [seconds-per-target] [target...]     (default: 30 s, every target)
#
# Environment: CXX_FUZZ (clang++ to use), SY_FUZZ_BUILD_DIR (default <repo>/build-fuzz),
# JOBS (build parallelism, default 2), FUZZ_ARGS (extra libFuzzer flags).
# Needs clang and libFuzzer: apt-get install clang-14 libclang-rt-14-dev
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:-30}
[[ $# -gt 0 ]] && shift
all_targets=(request_probe sse usage_sniffer stream_usage config key_table cidr tokenizer
             openai_codec openai_stream anthropic_codec anthropic_stream gemini_codec gemini_stream)
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")
build=${SY_FUZZ_BUILD_DIR:-$root/build-fuzz}

if [[ -z "${CXX_FUZZ:-}" ]]; then
  for c in clang++-14 clang++; do
    if command -v "$c" >/dev/null; then CXX_FUZZ=$c; break; fi
  done
fi
if [[ -z "${CXX_FUZZ:-}" ]]; then
  echo "run.sh: clang++ not found (apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 2
fi

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
# The fuzz directory is configured as a project of its own: only the parsers' sources are built.
cmake -S "$here" -B "$build" "${generator[@]}" -DCMAKE_CXX_COMPILER="$CXX_FUZZ" \
  -DCMAKE_BUILD_TYPE= >/dev/null
build_targets=()
for t in "${targets[@]}"; do build_targets+=("${t}_fuzz"); done
cmake --build "$build" -j "${JOBS:-2}" --target "${build_targets[@]}"

declare -A dict=([request_probe]=json [usage_sniffer]=json [stream_usage]=sse [sse]=sse [config]=config
                 [key_table]=key_table [cidr]=cidr [openai_codec]=json [anthropic_codec]=json
                 [gemini_codec]=json [openai_stream]=sse [anthropic_stream]=sse
                 [gemini_stream]=sse)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
summary=()
for t in "${targets[@]}"; do
  corpus=$build/corpus/$t       # grows from run to run; the seeds in tests/fuzz/corpus stay put
  artifacts=$build/artifacts/$t
  log=$build/logs/$t.log
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  cp -n "$here/corpus/$t/"* "$corpus/" 2>/dev/null || true
  args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
        -artifact_prefix="$artifacts/")
  [[ -n "${dict[$t]:-}" ]] && args+=(-dict="$here/dict/${dict[$t]}.dict")
  # shellcheck disable=SC2206
  args+=(${FUZZ_ARGS:-})
  echo "== $t: ${seconds}s (log: $log)"
  rc=0
  "$build/${t}_fuzz" "${args[@]}" "$corpus" >"$log" 2>&1 || rc=$?
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  per_sec=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if ((rc != 0)); then
    failed+=("$t")
    summary+=("$t: CRASH (exit $rc), artifacts in $artifacts/")
    echo "-- $t failed (exit $rc); end of the log:"
    tail -n 60 "$log"
    for a in "$artifacts"/*; do
      [[ -e "$a" ]] && echo "   reproduce: $build/${t}_fuzz $a"
    done
  else
    summary+=("$t: ${execs:-?} execs (${per_sec:-?}/s) ${done_line#*DONE }")
  fi
done

echo
echo "== summary"
printf '  %s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "crashed: ${failed[*]}" >&2
  exit 1
fi
