#!/usr/bin/env bash
# Side-by-side benchmark: wrk against the fake OpenAI upstream directly, through nginx, through
# Switchyard (passthrough), and through Switchyard translating to an Anthropic upstream, for a
# plain and a streamed chat completion; the codec micro-benchmarks (sy_codec_bench); and the
# ledger writer's throughput (sy_ledger_bench) on SQLite and, when a throwaway server can be
# started as tests/support/with_postgres.sh does, on PostgreSQL; and the routing strategies
# (ROUTING=1): one gateway in front of two fake upstreams, one failing ROUTING_FAIL_RATE of its
# requests and one slow, a model group per strategy, the success rate and latency a client sees.
# Prints the tables; raw outputs and server logs go to bench/results/<timestamp>/. See
# bench/README.md.
#
# Knobs (environment): BUILD_DIR WORKERS THREADS CONNECTIONS DURATION WARMUP TARGETS SCENARIOS
# CODEC CODEC_ARGS LEDGER LEDGER_ARGS ROUTING ROUTING_DURATION ROUTING_CONNECTIONS
# ROUTING_FAIL_RATE ROUTING_DELAY_MS ROUTING_GROUPS ROUTING_BREAKER KEEP_TMP.
# Example: TARGETS="direct nginx" DURATION=5s CODEC=0 LEDGER=0 bench/run.sh
# The routing part alone: TARGETS=none CODEC=0 LEDGER=0 bench/run.sh
set -euo pipefail

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$bench_dir/.." && pwd)"
cd "$root"

BUILD_DIR="${BUILD_DIR:-build}"
WORKERS="${WORKERS:-2}"            # server threads / processes, the same for all three servers
THREADS="${THREADS:-2}"            # wrk -t
CONNECTIONS="${CONNECTIONS:-64}"   # wrk -c
DURATION="${DURATION:-10s}"        # wrk -d, per scenario and target
WARMUP="${WARMUP:-1s}"             # unrecorded wrk run before each measurement; 0 to skip
TARGETS="${TARGETS:-direct nginx switchyard translated}"   # or none
SCENARIOS="${SCENARIOS:-chat-json chat-stream}"
CODEC="${CODEC:-1}"                # 1: run sy_codec_bench too (before the servers start)
CODEC_ARGS="${CODEC_ARGS:-}"       # extra sy_codec_bench arguments (--benchmark_filter=stream/)
LEDGER="${LEDGER:-1}"              # 1: run sy_ledger_bench too (before the servers start)
LEDGER_ARGS="${LEDGER_ARGS:-}"     # extra sy_ledger_bench arguments (--benchmark_filter=commit/)
ROUTING="${ROUTING:-1}"            # 1: run the routing strategies part too (after the others)
ROUTING_DURATION="${ROUTING_DURATION:-10s}"   # wrk -d, per model group
ROUTING_CONNECTIONS="${ROUTING_CONNECTIONS:-16}"  # wrk -c and -t there (a thread per connection)
ROUTING_FAIL_RATE="${ROUTING_FAIL_RATE:-0.3}"     # of the flaky upstream's chat requests: 503
ROUTING_DELAY_MS="${ROUTING_DELAY_MS:-40}"        # the slow upstream's wait before each answer
ROUTING_GROUPS="${ROUTING_GROUPS:-weighted round_robin least_inflight lowest_latency lowest_cost no_retries}"
ROUTING_BREAKER="${ROUTING_BREAKER:-}"  # the gateway's routing.breaker (YAML), e.g. "{ cooldown_ms: 1000 }"
KEEP_TMP="${KEEP_TMP:-0}"          # 1: keep the temp dir (configs) after the run

BENCH_KEY="sk-bench-0123456789abcdef"
CHAT_PATH="/v1/chat/completions"
START_TIMEOUT=20                   # seconds a server gets to answer after it was started

die() { echo "bench: error: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

# ---- Arguments and prerequisites ----------------------------------------------------------------

[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$root/$BUILD_DIR"
[[ "$WORKERS" =~ ^[1-9][0-9]*$ ]] || die "WORKERS must be a positive integer (got '$WORKERS')"
[[ "$THREADS" =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive integer (got '$THREADS')"
[[ "$CONNECTIONS" =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive integer"
((CONNECTIONS >= THREADS)) || die "CONNECTIONS ($CONNECTIONS) must be >= THREADS ($THREADS)"
[[ "$DURATION" =~ ^[0-9]+[smh]?$ ]] || die "DURATION must look like 10s, 1m or 30 (got '$DURATION')"
[[ "$WARMUP" =~ ^[0-9]+[smh]?$ ]] || die "WARMUP must look like 1s or 0 (got '$WARMUP')"

[[ -n "${TARGETS// /}" ]] || die "TARGETS is empty (TARGETS=none runs none of them)"
[[ "$TARGETS" == none ]] && TARGETS=""
want() { [[ " $TARGETS " == *" $1 "* ]]; }
for t in $TARGETS; do
  case "$t" in
    direct | nginx | switchyard | translated) ;;
    *) die "unknown target '$t' in TARGETS" ;;
  esac
done
for s in $SCENARIOS; do
  case "$s" in chat-json | chat-stream) ;; *) die "unknown scenario '$s' in SCENARIOS" ;; esac
done
[[ "$CODEC" == 0 || "$CODEC" == 1 ]] || die "CODEC must be 0 or 1 (got '$CODEC')"
[[ "$LEDGER" == 0 || "$LEDGER" == 1 ]] || die "LEDGER must be 0 or 1 (got '$LEDGER')"
[[ "$ROUTING" == 0 || "$ROUTING" == 1 ]] || die "ROUTING must be 0 or 1 (got '$ROUTING')"
[[ "$ROUTING_DURATION" =~ ^[0-9]+[smh]?$ ]] ||
  die "ROUTING_DURATION must look like 10s, 1m or 30 (got '$ROUTING_DURATION')"
[[ "$ROUTING_CONNECTIONS" =~ ^[1-9][0-9]*$ ]] || die "ROUTING_CONNECTIONS must be a positive integer"
((ROUTING_CONNECTIONS <= 256)) || die "ROUTING_CONNECTIONS must be at most 256 (a wrk thread each)"
[[ "$ROUTING_FAIL_RATE" =~ ^(0(\.[0-9]+)?|1(\.0*)?)$ ]] ||
  die "ROUTING_FAIL_RATE must be a number from 0 to 1 (got '$ROUTING_FAIL_RATE')"
[[ "$ROUTING_DELAY_MS" =~ ^[0-9]+$ ]] || die "ROUTING_DELAY_MS must be a whole number of ms"
for g in $ROUTING_GROUPS; do
  case "$g" in
    weighted | round_robin | least_inflight | lowest_latency | lowest_cost | no_retries) ;;
    *) die "unknown group '$g' in ROUTING_GROUPS" ;;
  esac
done
if [[ "$ROUTING" == 1 ]]; then [[ -n "${ROUTING_GROUPS// /}" ]] || die "ROUTING_GROUPS is empty"; fi
[[ -n "$TARGETS" || "$ROUTING" == 1 || "$CODEC" == 1 || "$LEDGER" == 1 ]] ||
  die "nothing to run: TARGETS=none, ROUTING=0, CODEC=0 and LEDGER=0"

fake_bin="$BUILD_DIR/bench/sy_fake_upstream"
sy_bin="$BUILD_DIR/switchyard"
codec_bin="$BUILD_DIR/bench/sy_codec_bench"
ledger_bin="$BUILD_DIR/bench/sy_ledger_bench"
with_postgres="$root/tests/support/with_postgres.sh"
[[ -x "$fake_bin" ]] ||
  die "$fake_bin not found: build it with 'cmake --build ${BUILD_DIR#"$root/"} --target sy_fake_upstream' (or 'make build')"
if want switchyard || want translated || [[ "$ROUTING" == 1 ]]; then
  [[ -x "$sy_bin" ]] ||
    die "$sy_bin not found: run 'make build' first, or TARGETS=\"direct nginx\" ROUTING=0 to leave it out"
fi
if [[ "$CODEC" == 1 ]]; then
  [[ -x "$codec_bin" ]] ||
    die "$codec_bin not found: it needs libbenchmark-dev (scripts/install-deps.sh --bench) and a build; CODEC=0 leaves it out"
fi
if [[ "$LEDGER" == 1 ]]; then
  [[ -x "$ledger_bin" ]] ||
    die "$ledger_bin not found: it needs libbenchmark-dev (scripts/install-deps.sh --bench) and a build; LEDGER=0 leaves it out"
fi
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk, or scripts/install-deps.sh --bench)"
command -v curl >/dev/null || die "curl not found (apt-get install curl)"
nginx_bin=""
if want nginx; then
  nginx_bin="$(command -v nginx || true)"
  [[ -n "$nginx_bin" ]] || { [[ -x /usr/sbin/nginx ]] && nginx_bin=/usr/sbin/nginx; }
  [[ -n "$nginx_bin" ]] || die "nginx not found (apt-get install nginx-light)"
fi

# ---- Processes and cleanup ----------------------------------------------------------------------

stamp="$(date +%Y%m%d-%H%M%S)"
run_dir="$bench_dir/results/$stamp"
mkdir -p "$run_dir"
ln -sfn "$stamp" "$bench_dir/results/latest"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/sy-bench.XXXXXX")"

declare -A pid=()      # target name -> server pid (upstream for the fake upstream)
declare -A base=()     # target name -> http://host:port

wrk_pid=""
# shellcheck disable=SC2317  # (run by the EXIT trap)
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local p
  [[ -n "$wrk_pid" ]] && kill -TERM "$wrk_pid" 2>/dev/null
  for p in "${pid[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pid[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then
      note "pid $p did not stop on SIGTERM, killing it"
      kill -KILL "$p" 2>/dev/null || true
    fi
    wait "$p" 2>/dev/null || true
  done
  if [[ "$KEEP_TMP" == 1 ]]; then note "kept $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A port nothing listens on right now. (The servers that can bind port 0 do so instead.)
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  die "no free port found"
}

log_tail() {  # name logfile
  echo "---- last lines of $2 ----" >&2
  tail -n 30 "$2" >&2 || true
  echo "----" >&2
}

alive_or_die() {  # name pid logfile
  kill -0 "$2" 2>/dev/null && return 0
  local rc=0
  wait "$2" 2>/dev/null || rc=$?
  log_tail "$1" "$3"
  die "$1 (pid $2) exited (status $rc)"
}

healthy() { curl -fsS -o /dev/null --max-time 2 "$1/healthz" 2>/dev/null; }

# Waits until the server prints 'listening on http://HOST:PORT' or answers /healthz on the
# expected address; sets ready_url to its base URL. (Not run in $(...): it must see its children.)
ready_url=""
wait_ready() {  # name pid logfile expected_base
  local name=$1 p=$2 log=$3 expected=$4 url="" deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    alive_or_die "$name" "$p" "$log"
    url="$(grep -o -m1 'listening on http://[^ ,;)]*' "$log" 2>/dev/null | sed 's/^listening on //; s:/*$::' || true)"
    [[ -n "$url" ]] && healthy "$url" && { ready_url="$url"; return 0; }
    [[ -n "$expected" ]] && healthy "$expected" && { ready_url="$expected"; return 0; }
    sleep 0.1
  done
  log_tail "$name" "$log"
  die "$name did not answer GET /healthz within ${START_TIMEOUT}s${url:+ (it said it listens on $url)}"
}

# One real request of each kind through a target, checked, before wrk hammers it.
probe() {  # name base_url
  local name=$1 url="$2$CHAT_PATH" out="$tmp/probe.$1" code
  local json='{"model":"bench-model","messages":[{"role":"user","content":"hi"}]}'
  local stream='{"model":"bench-model","messages":[{"role":"user","content":"hi"}],"stream":true}'
  if [[ " $SCENARIOS " == *" chat-json "* ]]; then
    code="$(curl -sS -o "$out" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $BENCH_KEY" \
      -H 'Content-Type: application/json' -d "$json" "$url")" || code="curl failed"
    if [[ "$code" != 200 ]] || ! grep -q '"chat.completion"' "$out"; then
      head -c 1000 "$out" >&2 2>/dev/null || true; echo >&2
      die "$name: POST $CHAT_PATH answered '$code' instead of 200 with a chat.completion"
    fi
  fi
  if [[ " $SCENARIOS " == *" chat-stream "* ]]; then
    code="$(curl -sS -N -o "$out" -w '%{http_code} %{content_type}' --max-time 10 \
      -H "Authorization: Bearer $BENCH_KEY" -H 'Content-Type: application/json' \
      -d "$stream" "$url")" || code="curl failed"
    if [[ "$code" != "200 text/event-stream"* ]] || ! grep -q '^data: \[DONE\]' "$out" ||
      ! grep -q 'chat.completion.chunk' "$out"; then
      head -c 1000 "$out" >&2 2>/dev/null || true; echo >&2
      die "$name: streamed POST $CHAT_PATH answered '$code' instead of 200 text/event-stream ending in 'data: [DONE]'"
    fi
  fi
  note "$name answers at $2"
}

# The fake upstream's Anthropic side, which the `translated` target relays to.
probe_messages() {  # base_url
  local url="$1/v1/messages" out="$tmp/probe.messages" code
  local json='{"model":"bench-model","max_tokens":32,"messages":[{"role":"user","content":"hi"}]}'
  local stream='{"model":"bench-model","max_tokens":32,"messages":[{"role":"user","content":"hi"}],"stream":true}'
  code="$(curl -sS -o "$out" -w '%{http_code}' --max-time 10 -H 'x-api-key: sk-ant-bench' \
    -H 'anthropic-version: 2023-06-01' -H 'Content-Type: application/json' -d "$json" "$url")" ||
    code="curl failed"
  if [[ "$code" != 200 ]] || ! grep -q '"type":"message"' "$out"; then
    die "fake upstream: POST /v1/messages answered '$code' instead of 200 with a message"
  fi
  code="$(curl -sS -N -o "$out" -w '%{http_code}' --max-time 10 -H 'x-api-key: sk-ant-bench' \
    -H 'anthropic-version: 2023-06-01' -H 'Content-Type: application/json' -d "$stream" "$url")" ||
    code="curl failed"
  if [[ "$code" != 200 ]] || ! grep -q '^event: message_stop' "$out"; then
    die "fake upstream: streamed POST /v1/messages answered '$code' instead of 200 with message_stop"
  fi
}

# ---- Codec micro-benchmarks (before any server runs, on a quiet machine) ------------------------

if [[ "$CODEC" == 1 ]]; then
  note "codec micro-benchmarks: $codec_bin $CODEC_ARGS"
  # shellcheck disable=SC2086  # CODEC_ARGS is a list of arguments
  "$codec_bin" --benchmark_out="$run_dir/codec.json" --benchmark_out_format=json $CODEC_ARGS \
    >"$run_dir/codec.txt" 2>"$run_dir/codec.err" ||
    { cat "$run_dir/codec.err" "$run_dir/codec.txt" >&2; die "sy_codec_bench failed"; }
fi

# ---- The ledger writer's throughput (before any server runs, too) ------------------------------

# Why with_postgres.sh cannot start a throwaway PostgreSQL server here ("" when it can): its own
# checks, made first so that a machine without PostgreSQL skips that half instead of failing.
postgres_unavailable() {
  local dir
  # shellcheck disable=SC2012  # version-sorted, as with_postgres.sh picks them
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] && { postgres_user_missing; return; }
  done
  if command -v pg_config >/dev/null; then
    dir="$(pg_config --bindir)"
    [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] && { postgres_user_missing; return; }
  fi
  echo "no PostgreSQL server binaries (initdb, pg_ctl; Debian package postgresql, scripts/install-deps.sh --test)"
}
postgres_user_missing() {  # the server refuses to run as root: with_postgres.sh runs it as `postgres`
  if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    echo "running as root and there is no 'postgres' user to run the server"
  fi
}

ledger_postgres=""   # "ran", or why it did not
if [[ "$LEDGER" == 1 ]]; then
  note "ledger writer: $ledger_bin${LEDGER_ARGS:+ $LEDGER_ARGS} (SQLite)"
  # shellcheck disable=SC2086  # LEDGER_ARGS is a list of arguments
  env -u SY_BENCH_POSTGRES_URL "$ledger_bin" --benchmark_out="$run_dir/ledger-sqlite.json" \
    --benchmark_out_format=json $LEDGER_ARGS >"$run_dir/ledger-sqlite.txt" \
    2>"$run_dir/ledger-sqlite.err" ||
    { cat "$run_dir/ledger-sqlite.err" "$run_dir/ledger-sqlite.txt" >&2; die "sy_ledger_bench failed (SQLite)"; }
  ledger_postgres="$(postgres_unavailable)"
  if [[ -z "$ledger_postgres" ]]; then
    note "ledger writer: $ledger_bin${LEDGER_ARGS:+ $LEDGER_ARGS} (PostgreSQL, a throwaway server from with_postgres.sh)"
    rc=0
    # shellcheck disable=SC2016,SC2086  # $SY_TEST_POSTGRES_URL is with_postgres.sh's, expanded there
    "$with_postgres" bash -c 'SY_BENCH_POSTGRES_URL="$SY_TEST_POSTGRES_URL" exec "$@"' sy_ledger_bench \
      "$ledger_bin" --benchmark_filter=/postgres --benchmark_out="$run_dir/ledger-postgres.json" \
      --benchmark_out_format=json $LEDGER_ARGS >"$run_dir/ledger-postgres.txt" \
      2>"$run_dir/ledger-postgres.err" || rc=$?
    if ((rc == 0)); then
      ledger_postgres=ran
    elif grep -q '^with_postgres.sh:' "$run_dir/ledger-postgres.err"; then
      # The server did not start (initdb or pg_ctl failed): that half is skipped, not failed.
      ledger_postgres="the throwaway server did not start: $(grep -m1 '^with_postgres.sh:' "$run_dir/ledger-postgres.err")"
    else
      cat "$run_dir/ledger-postgres.err" "$run_dir/ledger-postgres.txt" >&2
      die "sy_ledger_bench failed (PostgreSQL)"
    fi
  fi
  [[ "$ledger_postgres" == ran ]] || note "ledger writer on PostgreSQL skipped: $ledger_postgres"
fi

# ---- Start the servers --------------------------------------------------------------------------

note "results in ${run_dir#"$root/"}"
if [[ -n "$TARGETS" ]]; then
  "$fake_bin" --host 127.0.0.1 --port 0 --threads "$WORKERS" >"$run_dir/fake_upstream.log" 2>&1 &
  pid[direct]=$!
  wait_ready fake_upstream "${pid[direct]}" "$run_dir/fake_upstream.log" ""
  base[direct]="$ready_url"
  upstream_port="${base[direct]##*:}"
  probe direct "${base[direct]}"
  if want translated; then probe_messages "${base[direct]}"; fi
fi

if want nginx; then
  nginx_port="$(free_port)"
  mkdir -p "$tmp/nginx"
  sed -e "s|@WORKERS@|$WORKERS|g" -e "s|@PORT@|$nginx_port|g" \
    -e "s|@UPSTREAM_PORT@|$upstream_port|g" -e "s|@PREFIX@|$tmp/nginx|g" \
    -e "s|@ERROR_LOG@|$run_dir/nginx-error.log|g" \
    "$bench_dir/nginx.conf.in" >"$tmp/nginx/nginx.conf"
  "$nginx_bin" -t -q -p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" >"$run_dir/nginx-test.log" 2>&1 ||
    { log_tail nginx "$run_dir/nginx-test.log"; die "nginx rejected $tmp/nginx/nginx.conf"; }
  "$nginx_bin" -p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" >"$run_dir/nginx.log" 2>&1 &
  pid[nginx]=$!
  wait_ready nginx "${pid[nginx]}" "$run_dir/nginx-error.log" "http://127.0.0.1:$nginx_port"
  base[nginx]="$ready_url"
  probe nginx "${base[nginx]}"
fi

# Switchyard with one channel: `switchyard` relays to the fake upstream's OpenAI side as is,
# `translated` to its Anthropic side (the OpenAI request and answer go through the protocol hub).
start_switchyard() {  # target channel_type base_url
  local target=$1 type=$2 url=$3 port
  port="$(free_port)"
  cat >"$tmp/$target.yaml" <<EOF
listen: 127.0.0.1:$port
workers: $WORKERS
log: { access: off }
database: sqlite:$tmp/$target.db
channels:
  - name: bench
    type: $type
    base_url: $url
    api_keys: [ "sk-upstream-bench" ]
    models: [ bench-model ]
keys:
  - name: bench
    key: $BENCH_KEY
    models: [ "*" ]
EOF
  cp "$tmp/$target.yaml" "$run_dir/$target.yaml"
  "$sy_bin" serve --config "$tmp/$target.yaml" >"$run_dir/$target.log" 2>&1 &
  pid[$target]=$!
  wait_ready "$target" "${pid[$target]}" "$run_dir/$target.log" "http://127.0.0.1:$port"
  base[$target]="$ready_url"
  probe "$target" "${base[$target]}"
}
if want switchyard; then start_switchyard switchyard openai "http://127.0.0.1:$upstream_port/v1"; fi
if want translated; then start_switchyard translated anthropic "http://127.0.0.1:$upstream_port"; fi

# ---- Measure ------------------------------------------------------------------------------------

clk_tck="$(getconf CLK_TCK)"

# utime+stime, in clock ticks, of a process and its direct children (nginx's workers).
cpu_ticks() {  # pid
  local total=0 p stat
  for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null || true); do
    stat="$(cat "/proc/$p/stat" 2>/dev/null)" || continue
    stat="${stat##*) }"  # the fields after "(comm) "; utime and stime are the 12th and 13th
    read -r -a f <<<"$stat"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

# wrk prints latencies as 812.00us, 1.23ms, 2.00s, 1.50m.
to_us() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    m = (u == "us") ? 1 : (u == "ms") ? 1e3 : (u == "s") ? 1e6 : (u == "m") ? 6e7 : (u == "h") ? 3.6e9 : -1
    if (m < 0) { print ""; exit } printf "%.0f", n * m }'
}

# wrk in the background, so that a signal to this script is handled at once, not after the run.
run_wrk() {  # output_file wrk_args...
  local out=$1 rc=0
  shift
  wrk "$@" >"$out" 2>&1 &
  wrk_pid=$!
  wait "$wrk_pid" || rc=$?
  wrk_pid=""
  return "$rc"
}

declare -A rps=() p50=() p99=() errors=() cpu_req=()

for scenario in $SCENARIOS; do
  case "$scenario" in
    chat-json) script="$bench_dir/post_chat.lua" ;;
    chat-stream) script="$bench_dir/post_chat_stream.lua" ;;
  esac
  for target in direct nginx switchyard translated; do
    want "$target" || continue
    url="${base[$target]}$CHAT_PATH"
    out="$run_dir/$scenario-$target.txt"
    log="$run_dir/$([[ $target == direct ]] && echo fake_upstream || echo "$target").log"
    [[ $target == nginx ]] && log="$run_dir/nginx-error.log"
    note "$scenario -> $target ($url) for $DURATION"
    if [[ "$WARMUP" != 0 && "$WARMUP" != 0[smh] ]]; then
      run_wrk /dev/null -t "$THREADS" -c "$CONNECTIONS" -d "$WARMUP" -s "$script" "$url" || true
    fi
    c0="$(cpu_ticks "${pid[$target]}")"
    run_wrk "$out" -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --latency -s "$script" "$url" ||
      { cat "$out" >&2; die "wrk failed against $target"; }
    c1="$(cpu_ticks "${pid[$target]}")"
    alive_or_die "$target" "${pid[$target]}" "$log"
    [[ $target != direct ]] && alive_or_die fake_upstream "${pid[direct]}" "$run_dir/fake_upstream.log"

    k="$scenario/$target"
    rps[$k]="$(awk '/^Requests\/sec:/ {print $2}' "$out")"
    p50[$k]="$(to_us "$(awk '$1 == "50%" {print $2}' "$out")")"
    p99[$k]="$(to_us "$(awk '$1 == "99%" {print $2}' "$out")")"
    total="$(awk '/ requests in / {print $1; exit}' "$out")"
    errors[$k]="$(awk '/^ *Non-2xx or 3xx responses:/ {e += $NF}
      /^ *Socket errors:/ {gsub(/,/, ""); e += $4 + $6 + $8 + $10} END {print e + 0}' "$out")"
    [[ -n "${rps[$k]}" && -n "${p50[$k]}" && -n "${p99[$k]}" && -n "$total" ]] ||
      { cat "$out" >&2; die "could not parse the wrk output in $out"; }
    cpu_req[$k]="$(awk -v t="$((c1 - c0))" -v hz="$clk_tck" -v n="$total" \
      'BEGIN { if (n > 0) printf "%.0f", t * 1e6 / hz / n; else print "" }')"
  done
done

# ---- Routing strategies (ROUTING=1) -------------------------------------------------------------

# Two fake upstreams behind one gateway: `flaky` answers ROUTING_FAIL_RATE of its chat requests
# with a 503, `slow` waits ROUTING_DELAY_MS before each answer. One model group per strategy
# (ROUTING_GROUPS), both deployments in each. Every group has channels of its own (flaky-<group>,
# slow-<group>): the gateway keeps what it learns (circuit breakers, latencies) per deployment and
# per upstream key, and a group must not start with what the one before it taught the gateway.
declare -A r_rps=() r_p50=() r_p99=() r_total=() r_bad=() r_ok=() r_attempts=() r_by_flaky=() \
  r_by_slow=() r_flaky_calls=() r_flaky_503=() r_slow_calls=() r_statuses=()

group_strategy() {  # group -> its strategy, as the table shows it
  case "$1" in
    no_retries) echo "weighted, retries: 0" ;;
    *) echo "$1" ;;
  esac
}

# The fake upstream's GET /stats: "answered failed".
upstream_stats() {  # base_url
  local json
  json="$(curl -fsS --max-time 5 "$1/stats")" || die "GET $1/stats failed"
  sed -E 's/.*"answered":([0-9]+).*"failed":([0-9]+).*/\1 \2/' <<<"$json"
}

if [[ "$ROUTING" == 1 ]]; then
  "$fake_bin" --host 127.0.0.1 --port 0 --threads "$WORKERS" --fail-rate "$ROUTING_FAIL_RATE" \
    >"$run_dir/routing-flaky.log" 2>&1 &
  pid[routing-flaky]=$!
  wait_ready routing-flaky "${pid[routing-flaky]}" "$run_dir/routing-flaky.log" ""
  base[routing-flaky]="$ready_url"
  "$fake_bin" --host 127.0.0.1 --port 0 --threads "$WORKERS" --delay-ms "$ROUTING_DELAY_MS" \
    >"$run_dir/routing-slow.log" 2>&1 &
  pid[routing-slow]=$!
  wait_ready routing-slow "${pid[routing-slow]}" "$run_dir/routing-slow.log" ""
  base[routing-slow]="$ready_url"
  upstream_stats "${base[routing-flaky]}" >/dev/null
  upstream_stats "${base[routing-slow]}" >/dev/null

  port="$(free_port)"
  {
    echo "listen: 127.0.0.1:$port"
    echo "workers: $WORKERS"
    echo "log: { access: off }"
    echo "database: sqlite:$tmp/routing.db"
    echo "channels:"
    for g in $ROUTING_GROUPS; do
      echo "  - { name: flaky-$g, type: openai, base_url: \"${base[routing-flaky]}/v1\","
      echo "      api_keys: [ sk-flaky-$g ], pricing: { m: { input: 0.50, output: 1.50 } } }"
      echo "  - { name: slow-$g, type: openai, base_url: \"${base[routing-slow]}/v1\","
      echo "      api_keys: [ sk-slow-$g ], pricing: { m: { input: 2.50, output: 10.00 } } }"
    done
    echo "models:"
    for g in $ROUTING_GROUPS; do
      strategy=$g retries=""
      [[ $g == no_retries ]] && strategy=weighted retries=" retries: 0,"
      echo "  $g: { strategy: $strategy,$retries deployments: [ { channel: flaky-$g, model: m },"
      echo "        { channel: slow-$g, model: m } ] }"
    done
    if [[ -n "$ROUTING_BREAKER" ]]; then echo "routing: { breaker: $ROUTING_BREAKER }"; fi
    echo "keys:"
    echo "  - { name: bench, key: $BENCH_KEY, models: [ \"*\" ] }"
  } >"$tmp/routing.yaml"
  cp "$tmp/routing.yaml" "$run_dir/routing.yaml"
  "$sy_bin" serve --config "$tmp/routing.yaml" >"$run_dir/routing.log" 2>&1 &
  pid[routing]=$!
  wait_ready routing "${pid[routing]}" "$run_dir/routing.log" "http://127.0.0.1:$port"
  base[routing]="$ready_url"
  note "routing: gateway at ${base[routing]}, flaky upstream (fails $ROUTING_FAIL_RATE) at" \
    "${base[routing-flaky]}, slow upstream (+${ROUTING_DELAY_MS} ms) at ${base[routing-slow]}"

  for g in $ROUTING_GROUPS; do
    out="$run_dir/routing-$g.txt"
    note "routing: model group $g ($(group_strategy "$g")) for $ROUTING_DURATION"
    stats="$(upstream_stats "${base[routing-flaky]}")"
    read -r fa0 ff0 <<<"$stats"
    stats="$(upstream_stats "${base[routing-slow]}")"
    read -r sa0 _ <<<"$stats"
    # No warm-up: what a strategy has to learn first (which deployment fails, which is slow) is
    # part of what is measured. One connection per wrk thread: the Lua script times each request
    # itself (wrk's --latency percentiles are corrected for coordinated omission, see the script).
    export SY_BENCH_MODEL="$g"
    run_wrk "$out" -t "$ROUTING_CONNECTIONS" -c "$ROUTING_CONNECTIONS" -d "$ROUTING_DURATION" \
      --timeout 10s -s "$bench_dir/post_chat_routing.lua" "${base[routing]}$CHAT_PATH" ||
      { cat "$out" >&2; die "wrk failed against the routing gateway (group $g)"; }
    stats="$(upstream_stats "${base[routing-flaky]}")"
    read -r fa1 ff1 <<<"$stats"
    stats="$(upstream_stats "${base[routing-slow]}")"
    read -r sa1 _ <<<"$stats"
    alive_or_die routing "${pid[routing]}" "$run_dir/routing.log"
    alive_or_die routing-flaky "${pid[routing-flaky]}" "$run_dir/routing-flaky.log"
    alive_or_die routing-slow "${pid[routing-slow]}" "$run_dir/routing-slow.log"

    r_rps[$g]="$(awk '/^Requests\/sec:/ {print $2}' "$out")"
    r_p50[$g]="$(awk '$1 == "routing:" && $2 == "p50_us" {print $3}' "$out")"
    r_p99[$g]="$(awk '$1 == "routing:" && $2 == "p99_us" {print $3}' "$out")"
    r_total[$g]="$(awk '/ requests in / {print $1; exit}' "$out")"
    r_bad[$g]="$(awk '/^ *Non-2xx or 3xx responses:/ {e += $NF}
      /^ *Socket errors:/ {gsub(/,/, ""); e += $4 + $6 + $8 + $10} END {print e + 0}' "$out")"
    r_ok[$g]="$(awk '$1 == "routing:" && $2 == "ok" {print $3}' "$out")"
    r_attempts[$g]="$(awk '$1 == "routing:" && $2 == "attempts" {print $3}' "$out")"
    r_by_flaky[$g]="$(awk '$1 == "routing:" && $2 == "served" && $3 ~ /^flaky-/ {n += $4}
      END {print n + 0}' "$out")"
    r_by_slow[$g]="$(awk '$1 == "routing:" && $2 == "served" && $3 ~ /^slow-/ {n += $4}
      END {print n + 0}' "$out")"
    r_statuses[$g]="$(awk '$1 == "routing:" && $2 == "status" {printf "%s%s x%s", sep, $3, $4; sep = ", "}' "$out")"
    r_flaky_calls[$g]=$((fa1 - fa0))
    r_flaky_503[$g]=$((ff1 - ff0))
    r_slow_calls[$g]=$((sa1 - sa0))
    [[ -n "${r_rps[$g]}" && -n "${r_p50[$g]}" && -n "${r_p99[$g]}" && -n "${r_total[$g]}" &&
      -n "${r_ok[$g]}" ]] || { cat "$out" >&2; die "could not parse the wrk output in $out"; }
    ((r_ok[$g] > 0)) ||
      { cat "$out" >&2; die "routing: no request of group $g succeeded (see $out, $run_dir/routing.log)"; }
  done
fi

# ---- Report -------------------------------------------------------------------------------------

# One cell of the ledger table from Google Benchmark's JSON (one field a line): "commit:N" gives
# the rows/s of commit/<backend>/appenders:N and its rows per batch, "append" the CPU ns a call.
ledger_cell() {  # json_file backend commit:N|append
  [[ -f "$1" ]] || return 0
  awk -v backend="$2" -v want="$3" '
    function num(line) { sub(/^[^:]*: */, "", line); sub(/,$/, "", line); gsub(/"/, "", line); return line }
    function grouped(x,   s) { s = sprintf("%.0f", x); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s); return s }
    /"name":/ { name = num($0); ips = cpu = unit = rpb = "" }
    /"items_per_second":/ { ips = num($0) }
    /"rows_per_batch":/ { rpb = num($0) }
    /"cpu_time":/ { cpu = num($0) }
    /"time_unit":/ { unit = num($0) }
    /^ *}/ && name != "" {
      split(want, w, ":")
      if (w[1] == "commit" && index(name, "commit/" backend "/appenders:" w[2] "/") == 1 && ips != "") {
        printf "%s rows/s (%.0f/batch)\n", grouped(ips), rpb; exit
      }
      if (w[1] == "append" && name == "append/" backend && cpu != "") {
        m = (unit == "ns") ? 1 : (unit == "us") ? 1e3 : (unit == "ms") ? 1e6 : 1e9
        printf "%.0f ns\n", cpu * m; exit
      }
      name = ""
    }' "$1"
}

fmt_us() {  # microseconds -> 812us / 1.23ms / 2.10s
  awk -v u="$1" 'BEGIN { if (u == "") print "-"; else if (u < 1000) printf "%dus", u;
    else if (u < 1e6) printf "%.2fms", u / 1e3; else printf "%.2fs", u / 1e6 }'
}

{
  if [[ -n "$TARGETS" ]]; then
    echo "Switchyard benchmark $stamp: $(nproc) CPUs, servers with $WORKERS workers each;"
    echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION on the same machine (it shares the CPUs)."
    echo "cpu/req: CPU time of the target process(es) alone (for nginx and switchyard: the proxy,"
    echo "without the fake upstream behind it) per completed request. translated: Switchyard"
    echo "relaying the same OpenAI requests to an Anthropic upstream (type: anthropic), through the"
    echo "protocol hub; vs passthru = its req/s / switchyard's."
    echo
    printf '%-11s %-11s %10s %9s %9s %7s %8s %9s %11s %20s\n' scenario target req/s p50 p99 \
      errors cpu/req "vs nginx" "vs passthru" "added p50 vs direct"
    for scenario in $SCENARIOS; do
      for target in direct nginx switchyard translated; do
        want "$target" || continue
        k="$scenario/$target"
        ratio="" added="" passthru=""
        if [[ ($target == switchyard || $target == translated) && -n "${rps[$scenario/nginx]:-}" ]]; then
          ratio="$(awk -v a="${rps[$k]}" -v b="${rps[$scenario/nginx]}" \
            'BEGIN { if (b > 0) printf "%.2fx", a / b }')"
        fi
        if [[ $target == translated && -n "${rps[$scenario/switchyard]:-}" ]]; then
          passthru="$(awk -v a="${rps[$k]}" -v b="${rps[$scenario/switchyard]}" \
            'BEGIN { if (b > 0) printf "%.2fx", a / b }')"
        fi
        if [[ $target != direct && -n "${p50[$scenario/direct]:-}" ]]; then
          added="$(awk -v a="${p50[$k]}" -v b="${p50[$scenario/direct]}" \
            'BEGIN { d = a - b; printf "%s%dus", (d >= 0 ? "+" : ""), d }')"
        fi
        printf '%-11s %-11s %10.0f %9s %9s %7s %8s %9s %11s %20s\n' "$scenario" "$target" \
          "${rps[$k]}" "$(fmt_us "${p50[$k]}")" "$(fmt_us "${p99[$k]}")" "${errors[$k]}" \
          "$(fmt_us "${cpu_req[$k]}")" "${ratio:--}" "${passthru:--}" "${added:--}"
      done
    done
  fi
  if [[ "$CODEC" == 1 ]]; then
    echo
    echo "Codec micro-benchmarks (sy_codec_bench; full output in codec.txt and codec.json):"
    sed -n '/^Per-item CPU time/,$p' "$run_dir/codec.txt"
  fi
  if [[ "$LEDGER" == 1 ]]; then
    echo
    echo "Ledger writer (sy_ledger_bench; full output in ledger-*.txt and ledger-*.json): rows"
    echo "committed per second by N appending threads, mean rows per transaction, and what one"
    echo "append() costs the request path (CPU time)."
    printf '%-22s %28s %28s\n' benchmark SQLite PostgreSQL
    for row in commit:1 commit:8 append; do
      line="" sq="" pg=""
      case "$row" in
        commit:1) line="commit, 1 appender" ;;
        commit:8) line="commit, 8 appenders" ;;
        append) line="append (CPU per call)" ;;
      esac
      sq="$(ledger_cell "$run_dir/ledger-sqlite.json" sqlite "$row")"
      if [[ "$ledger_postgres" == ran ]]; then
        pg="$(ledger_cell "$run_dir/ledger-postgres.json" postgres "$row")"
      else
        pg="skipped"
      fi
      printf '%-22s %28s %28s\n' "$line" "${sq:--}" "${pg:--}"
    done
    [[ "$ledger_postgres" == ran ]] || echo "PostgreSQL skipped: $ledger_postgres"
  fi
  if [[ "$ROUTING" == 1 ]]; then
    echo
    echo "Routing strategies: one gateway, two deployments of one model (wrk -t$ROUTING_CONNECTIONS"
    echo "-c$ROUTING_CONNECTIONS -d$ROUTING_DURATION per group, from a cold start): flaky answers"
    echo "$ROUTING_FAIL_RATE of its requests with a 503 and is cheaper; slow answers all, after"
    echo "${ROUTING_DELAY_MS} ms. success: 2xx / all answers. p50, p99: of all answers, timed by the"
    echo "Lua script (not wrk's --latency). by flaky, by slow: who served the 2xx"
    echo "(x-sy-deployment). tries/req: upstream attempts per client request (x-sy-attempts)."
    echo "flaky calls, slow calls: requests the upstreams got (503s: flaky's failures)."
    echo "routing.breaker: ${ROUTING_BREAKER:-the defaults}."
    printf '%-15s %-21s %7s %8s %8s %8s %8s %8s %9s %18s %10s\n' group strategy req/s success \
      p50 p99 "by flaky" "by slow" "tries/req" "flaky calls (503s)" "slow calls"
    for g in $ROUTING_GROUPS; do
      printf '%-15s %-21s %7.0f %8s %8s %8s %8s %8s %9s %18s %10s\n' "$g" "$(group_strategy "$g")" \
        "${r_rps[$g]}" \
        "$(awk -v t="${r_total[$g]}" -v b="${r_bad[$g]}" \
          'BEGIN { if (t > 0) printf "%.2f%%", (t - b) * 100 / t; else print "-" }')" \
        "$(fmt_us "${r_p50[$g]}")" "$(fmt_us "${r_p99[$g]}")" \
        "$(awk -v n="${r_by_flaky[$g]}" -v ok="${r_ok[$g]}" 'BEGIN { printf "%.1f%%", n * 100 / ok }')" \
        "$(awk -v n="${r_by_slow[$g]}" -v ok="${r_ok[$g]}" 'BEGIN { printf "%.1f%%", n * 100 / ok }')" \
        "$(awk -v a="${r_attempts[$g]:-0}" -v t="${r_total[$g]}" \
          'BEGIN { if (t > 0) printf "%.3f", a / t; else print "-" }')" \
        "${r_flaky_calls[$g]} (${r_flaky_503[$g]})" "${r_slow_calls[$g]}"
    done
    for g in $ROUTING_GROUPS; do
      if [[ -n "${r_statuses[$g]}" ]]; then echo "$g: failed answers by status: ${r_statuses[$g]}"; fi
    done
  fi
} | tee "$run_dir/summary.txt"

bad=0
for k in "${!errors[@]}"; do
  if ((errors[$k] > 0)); then
    note "warning: $k had ${errors[$k]} errors (non-2xx responses or socket errors), see $run_dir/${k/\//-}.txt"
    bad=1
  fi
done
note "raw wrk outputs and server logs: ${run_dir#"$root/"}/"
exit "$bad"
