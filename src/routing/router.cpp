#include "routing/router.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sy::routing {

namespace {

// SplitMix64: a well-mixed 64-bit hash step.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

const deployment* weighted(const std::vector<const deployment*>& c, std::uint64_t random) {
  std::uint64_t total = 0;
  for (const auto* d : c)
    total += d->weight;
  auto point = random % total;
  for (const auto* d : c) {
    if (point < d->weight) return d;
    point -= d->weight;
  }
  return c.back();
}

// Weighted rendezvous hashing: each deployment scores -weight / ln(u), u uniform in (0, 1) from
// hash(session, deployment); the highest wins. The same session picks the same deployment as
// long as it is usable, and only the sessions of a deployment that left move elsewhere. It needs
// no shared state, so every gateway instance agrees.
const deployment* rendezvous(const std::vector<const deployment*>& c, std::uint64_t session) {
  const deployment* best = nullptr;
  double best_score = -std::numeric_limits<double>::infinity();
  for (const auto* d : c) {
    const auto h = mix(session ^ fnv1a(d->id));
    const double u = (static_cast<double>(h >> 11) + 0.5) / 9007199254740992.0;  // (0, 1)
    const double score = -static_cast<double>(d->weight) / std::log(u);
    if (score > best_score) {
      best_score = score;
      best = d;
    }
  }
  return best;
}

const deployment* least_inflight(const std::vector<const deployment*>& c, std::uint64_t random) {
  int least = std::numeric_limits<int>::max();
  for (const auto* d : c)
    least = std::min(least, d->health->inflight.load(std::memory_order_relaxed));
  std::vector<const deployment*> ties;
  for (const auto* d : c) {
    if (d->health->inflight.load(std::memory_order_relaxed) == least) ties.push_back(d);
  }
  return weighted(ties, random);
}

// Lowest expected time for the answer (EWMA time to first byte + expected output at the EWMA
// rate). Exploration: a deployment not yet observed goes first, and one pick in twenty is
// weighted random, so a deployment that was slow once is measured again.
const deployment* lowest_latency(const std::vector<const deployment*>& c, const pick_request& r) {
  if (mix(r.random) % 20 == 0) return weighted(c, r.random);
  const deployment* best = nullptr;
  double best_ms = std::numeric_limits<double>::infinity();
  for (const auto* d : c) {
    auto expected = d->health->expected_ms(r.expected_output);
    if (!expected) return d;  // unobserved: measure it
    if (*expected < best_ms) {
      best_ms = *expected;
      best = d;
    }
  }
  return best;
}

const deployment* lowest_cost(const std::vector<const deployment*>& c, const pick_request& r) {
  if (!r.cost) return weighted(c, r.random);
  std::optional<std::int64_t> least;
  std::vector<std::optional<std::int64_t>> costs;
  costs.reserve(c.size());
  for (const auto* d : c) {
    costs.push_back(r.cost(*d));
    if (costs.back() && (!least || *costs.back() < *least)) least = costs.back();
  }
  std::vector<const deployment*> ties;
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (costs[i] == least) ties.push_back(c[i]);  // none priced: all of them (nullopt == nullopt)
  }
  return weighted(ties, r.random);
}

const deployment* choose(const model_group& g, const std::vector<const deployment*>& c,
                         const pick_request& r) {
  if (c.size() == 1) return c.front();
  if (r.sticky) return rendezvous(c, *r.sticky);
  switch (g.strategy) {
    case route_strategy::round_robin:
      return c[g.next.fetch_add(1, std::memory_order_relaxed) % c.size()];
    case route_strategy::least_inflight:
      return least_inflight(c, r.random);
    case route_strategy::lowest_latency:
      return lowest_latency(c, r);
    case route_strategy::lowest_cost:
      return lowest_cost(c, r);
    default:
      return weighted(c, r.random);
  }
}

bool has_failed(const pick_request& r, const deployment* d) {
  return r.failed && std::find(r.failed->begin(), r.failed->end(), d) != r.failed->end();
}

}  // namespace

std::uint64_t session_hash(std::string_view session) {
  return mix(fnv1a(session));
}

bool usable(const deployment& d, steady::time_point now) {
  return d.health->breaker.available(now) && d.target->keys_available(now);
}

bool resting(const deployment& d, steady::time_point now) {
  const auto& b = d.health->breaker;
  if (b.only_cooling(now)) return d.target->keys_available(now) || d.target->keys_resting(now);
  return b.available(now) && d.target->keys_resting(now);
}

// Calls take(candidates) with the deployments of each tier, best first, that pass `keep`, until
// take returns one; that one, or null.
template <class Keep, class Take>
const deployment* by_tier(const model_group& g, Keep keep, Take take) {
  thread_local std::vector<const deployment*> candidates;
  std::size_t i = 0;
  const auto& all = g.deployments;
  while (i < all.size()) {
    const int tier = all[i].priority;
    candidates.clear();
    for (; i < all.size() && all[i].priority == tier; ++i) {
      if (keep(all[i])) candidates.push_back(&all[i]);
    }
    if (const auto* d = take(candidates)) return d;
  }
  return nullptr;
}

const deployment* pick(const model_group& g, const pick_request& r) {
  // First without the deployments that already failed this request; then, when none is left,
  // with them (a retry of the same deployment, after a backoff).
  for (int pass = 0; pass < 2; ++pass) {
    const auto* d = by_tier(
        g,
        [&](const deployment& d) { return (pass == 1 || !has_failed(r, &d)) && usable(d, r.now); },
        [&](std::vector<const deployment*>& candidates) -> const deployment* {
          while (!candidates.empty()) {
            const auto* chosen = choose(g, candidates, r);
            // Asking the circuit takes a half-open probe; a lost race for it moves on.
            if (chosen->health->breaker.allow(r.now)) return chosen;
            std::erase(candidates, chosen);
          }
          return nullptr;
        });
    if (d) return d;
    if (!r.failed || r.failed->empty()) break;
  }
  // Nothing usable, but some deployments are only resting after a 429 (their circuit is
  // closed): rather than answer "no deployment" for an upstream that is merely busy, the best
  // tier's resting ones not yet tried by this request get the request, and the upstream's own
  // answer (a 429 with its retry-after, or a success) is what the client sees.
  return by_tier(
      g, [&](const deployment& d) { return !has_failed(r, &d) && resting(d, r.now); },
      [&](std::vector<const deployment*>& candidates) -> const deployment* {
        return candidates.empty() ? nullptr : choose(g, candidates, r);
      });
}

}  // namespace sy::routing
