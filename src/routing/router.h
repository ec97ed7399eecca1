// Picking the deployment of one attempt: the best priority tier with a usable deployment (its
// circuit lets a request through, one of its channel's upstream keys may take one, and it has
// not already failed this request), then the group's strategy within that tier, or the sticky
// session's deployment. Pure logic over the snapshot and the health registry; the attempt loop
// that retries and falls back lives in server/endpoints.cpp.
#pragma once

#include "routing/model_table.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace sy::routing {

struct pick_request {
  steady::time_point now = steady::now();
  std::uint64_t random = 0;             // a fresh random number (weighted, exploration)
  std::optional<std::uint64_t> sticky;  // hash of the session (x-sy-session): same deployment
  std::int64_t expected_output = 256;   // output tokens expected (lowest_latency)
  // Deployments this request already tried and that failed: avoided while another is usable.
  const std::vector<const deployment*>* failed = nullptr;
  // A deployment's price per token, for lowest_cost (the input and output rates summed);
  // nullopt when it has none (those come last).
  std::function<std::optional<std::int64_t>(const deployment&)> cost;
};

// The deployment for the next attempt, its circuit asked (a half-open circuit's one probe is
// taken here); null when no deployment of any tier may take a request now.
const deployment* pick(const model_group& g, const pick_request& r);

// A session id's hash (rendezvous hashing picks the same deployment for it while it is usable).
std::uint64_t session_hash(std::string_view session);

// Whether `d` may take a request now, without taking a half-open probe.
bool usable(const deployment& d, steady::time_point now);
// Whether `d` is kept from taking one only by 429 cooldowns (of the deployment or its keys).
bool resting(const deployment& d, steady::time_point now);

}  // namespace sy::routing
