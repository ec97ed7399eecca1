#!/usr/bin/env bash
# Instructions per relayed request, counted by callgrind on the gateway's worker thread: a
# repeatable number (unlike req/s on a shared machine) to compare two builds of the request path.
#   bench/instructions.sh [post_chat.lua|post_chat_stream.lua] [seconds]
# Needs valgrind (callgrind_control) and wrk; uses build/switchyard and build/bench/sy_fake_upstream.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
script=${1:-post_chat.lua}
seconds=${2:-5}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

wait_for() {  # file pattern
  for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "instructions.sh: no '$2' in $1" >&2; cat "$1" >&2; exit 1
}

"$BUILD_DIR/bench/sy_fake_upstream" --host 127.0.0.1 --port 0 --threads 1 > "$tmp/upstream.log" 2>&1 &
wait_for "$tmp/upstream.log" "listening on"
upstream=$(grep -o 'http://127.0.0.1:[0-9]*' "$tmp/upstream.log" | head -1)
cat > "$tmp/switchyard.yaml" <<YAML
listen: 127.0.0.1:0
workers: 1
log: { access: off }
channels:
  - { name: bench, type: openai, base_url: "$upstream/v1", api_keys: [ "sk-upstream-bench" ], models: [ bench-model ] }
keys:
  - { name: bench, key: sk-bench-0123456789abcdef, models: [ "*" ] }
YAML
valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$tmp/cg.out" \
  "$BUILD_DIR/switchyard" serve --config "$tmp/switchyard.yaml" > "$tmp/switchyard.log" 2>&1 &
vg=$!
wait_for "$tmp/switchyard.log" "listening on"
gateway=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$tmp/switchyard.log" | grep -o 'http.*')
# Warm up (connections, pools, caches), then count the steady state only.
wrk -t1 -c4 -d1s -s "bench/$script" "$gateway/v1/chat/completions" > /dev/null
callgrind_control -z "$vg" > /dev/null 2>&1
requests=$(wrk -t1 -c4 -d"${seconds}s" -s "bench/$script" "$gateway/v1/chat/completions" |
  awk '/requests in/ {print $1}')
kill -INT "$vg"; wait "$vg" || true
# The worker thread is the one that executed the most instructions.
total=$(for f in "$tmp"/cg.out-*; do awk '/^(totals|summary):/ {print $2; exit}' "$f"; done |
  sort -rn | head -1)
echo "$script: $requests requests, $((total / requests)) instructions per request"
if [[ -n "${KEEP:-}" ]]; then cp "$tmp"/cg.out-* "$KEEP"/; fi
