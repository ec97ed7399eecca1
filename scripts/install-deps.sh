#!/usr/bin/env bash
# Installs what Switchyard needs to build, test and benchmark on Debian 12, and nothing that is
# already there. Safe to run again; `make run`, `make test` and `make bench` call it.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config ccache ca-certificates
  libboost1.81-dev libssl-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev
  libsimdjson-dev libsqlite3-dev libpq-dev libgtest-dev libgmock-dev libbenchmark-dev
  nodejs npm
)
# The store tests run against a throwaway PostgreSQL server (tests/support/with_postgres.sh).
if [[ "${1:-}" == "--test" ]]; then packages+=(postgresql); fi
if [[ "${1:-}" == "--bench" ]]; then packages+=(wrk nginx-light); fi
if [[ "${1:-}" == "--fuzz" ]]; then packages+=(clang-14 libclang-rt-14-dev); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A machine may carry node/npm outside Debian's packages (e.g. /usr/bin/node from NodeSource).
if command -v node >/dev/null && command -v npm >/dev/null; then
  keep=(); for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || keep+=("$p"); done
  missing=("${keep[@]}")
fi
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [[ "${1:-}" == "--test" ]]; then
  # The end-to-end clients: the official SDKs, pinned by tests/e2e/package-lock.json.
  if [[ ! -d tests/e2e/node_modules ]] || [[ tests/e2e/package-lock.json -nt tests/e2e/node_modules ]]; then
    (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
