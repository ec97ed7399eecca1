// GET /admin/health: every deployment and upstream key of the serving snapshot with its state
// (closed, open, half_open, cooling, disabled), why, its recent error rate, latencies (time to
// first byte and whole answer, p50 / p95 over the last 256 answers, moving averages), attempts
// in flight; every model group with its strategy and how many of its deployments are usable;
// and the config's routing problems (deployments naming no channel). docs/routing.md.
#pragma once

#include "server/runtime.h"

#include <string>
#include <string_view>

namespace sy {

std::string health_json(const runtime& rt);

// Closes the circuit of `target` (an id of the report: "deployment:<channel>/<model>" or
// "key:<channel>#<fingerprint>") and re-enables it if a 401/403 disabled it. False when the
// snapshot has no such target.
bool reset_health(const runtime& rt, std::string_view target);

}  // namespace sy
