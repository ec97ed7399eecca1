// Active probes (docs/routing.md, "Health"): for channels with `probe: { interval_ms }`, a
// deployment whose circuit is open is tested, once its cooldown ended, with a one-token request
// of the gateway's own (the half-open probe), so a recovered upstream is found without a user
// request being spent on it. Runs on one worker's event loop; its outcome goes to the breakers
// like any attempt's.
#pragma once

#include "common/net.h"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>

namespace sy {

class worker;
struct deployment;

// Probes until the worker drains.
asio::awaitable<void> run_probes(worker& w);

// The body of a one-token chat request to `d`'s upstream, in its channel's protocol.
std::string probe_body(const deployment& d);

}  // namespace sy
