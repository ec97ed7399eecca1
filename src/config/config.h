// The typed configuration: what `switchyard.yaml` (or the embedded defaults) turns into.
// Immutable once loaded; the running server holds it inside a snapshot (server/runtime.h).
#pragma once

#include "alerts/webhook.h"
#include "billing/price.h"
#include "providers/vendors.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sy {

using millis = std::chrono::milliseconds;

struct channel_timeouts {
  millis connect{5000};
  millis first_byte{60000};
  millis idle{60000};    // longest silence between two body chunks
  millis total{600000};  // whole exchange, first byte of the request to last of the response
};

struct mock_options {
  millis latency{0};      // before the first byte
  millis chunk_delay{0};  // between stream chunks
  int words{12};          // length of the answer
  int chunks{4};          // content chunks of a stream
};

// One model a channel serves. `public_name` may be a glob ("gpt-*"): then the upstream name is
// the name the client asked for.
struct model_route {
  std::string public_name;
  std::string upstream_name;
};

struct channel_config {
  std::string name;
  channel_type type = channel_type::openai;
  std::string vendor = "openai";  // the `type:` value as written (a row of providers/vendors.h)
  std::string base_url;
  std::vector<std::string> api_keys;
  std::vector<model_route> models;  // may be empty when the channel is used through `models:`
  unsigned weight = 1;
  channel_timeouts timeouts;
  mock_options mock;
  // `probe: { interval_ms }`: a deployment of this channel whose circuit is open is tested with a
  // one-token request of the gateway's own once its cooldown ended, checked this often, so a
  // recovered upstream is found without a user's request (docs/routing.md). None: no probes.
  std::optional<millis> probe_interval;
  std::string ca_file;  // PEM CA bundle to verify this upstream with, instead of the system store
  std::string api_version = "2024-10-21";        // azure: the api-version query parameter
  std::string anthropic_version = "2023-06-01";  // anthropic: the anthropic-version header
  // Prices for this channel's upstream models, consulted before the global ones
  // (billing/pricing.h). Empty: the global table only.
  std::vector<price_entry> pricing;
};

// How a model group picks among the healthy deployments of its best tier (routing/router.h).
enum class route_strategy { weighted, round_robin, least_inflight, lowest_latency, lowest_cost };

std::string_view to_string(route_strategy s);

// One deployment of a model group: a channel and the name its upstream knows the model by.
struct deployment_config {
  std::string channel;
  std::string model;  // the upstream model; empty: the group's own name
  unsigned weight = 1;
  int priority = 0;  // tier: 0 is used while any of its deployments is healthy, then 1, ...
};

// `hedge:` of a group: when no first byte came within `after` (fixed) or the group's recent p95
// time to first byte (`after: p95`), the same request is started on a second deployment and the
// first to answer is kept.
struct hedge_config {
  std::optional<millis> after;  // none: the group's p95 time to first byte
  millis min_after{50};         // never sooner than this (p95 of a fast group is tiny)
  int min_samples = 20;         // p95 is trusted from this many samples; no hedge before
};

// `models:` entry: a public model name served by deployments in priority tiers.
struct model_group_config {
  std::string name;
  route_strategy strategy = route_strategy::weighted;
  std::vector<deployment_config> deployments;
  // Other model names to try, in order, when this group's deployments all failed; the two
  // special lists replace `fallbacks` for an upstream's "context window exceeded" and "content
  // filtered" answers (which are not failures otherwise: they are relayed as they are).
  std::vector<std::string> fallbacks;
  std::vector<std::string> context_window_fallbacks;
  std::vector<std::string> content_policy_fallbacks;
  std::optional<int> retries;     // none: routing.retries
  std::optional<millis> timeout;  // the whole request, retries and backoff included
  std::optional<hedge_config> hedge;
};

// `routing.breaker:`: when a deployment or an upstream key is taken out of rotation
// (routing/circuit_breaker.h).
struct breaker_config {
  millis window{30000};
  int min_requests = 10;
  double error_rate = 0.5;
  int consecutive_failures = 5;
  millis cooldown{5000};
  millis max_cooldown{300000};
  millis rate_limit_cooldown{10000};  // a 429 without retry-after
};

// `routing:`: defaults for every model group, and for the one-line groups of channel models.
struct routing_config {
  int retries = 2;               // attempts after the first (x-sy-retries overrides per request)
  int max_retries = 10;          // the most x-sy-retries may ask for
  millis backoff_base{100};      // exponential backoff with full jitter between attempts ...
  millis backoff_max{5000};      // ... capped here
  millis max_retry_after{5000};  // a longer retry-after is not waited for: the 429 is relayed
  breaker_config breaker;
};

// Downloading images that a request references by URL, for upstreams that need the bytes
// inline (Gemini). Private, loopback and link-local addresses are refused unless allowed.
struct media_fetch_config {
  std::uint64_t max_bytes = 20u << 20;
  millis timeout{10000};
  bool allow_private = false;
};

// Failed authentications from one client address (IPv6: its /64): answers slowed down past
// `slow_after` in the window, the address refused for `block` past `block_after`.
struct auth_guard_config {
  std::uint32_t slow_after = 5;
  std::uint32_t block_after = 20;
  std::chrono::seconds window{60};
  std::chrono::seconds block{300};
  millis base_delay{250};
  millis max_delay{2000};
};

struct key_config {
  std::string name;
  std::string key;
  std::vector<std::string> models{"*"};         // glob patterns
  std::optional<std::int64_t> budget_nano_usd;  // a spend limit (billing/budget.h); none: none
  std::string budget_period = "total";          // day | month | total
};

// `budgets:`: how a request's worst case is reserved against a budget.
struct budgets_config {
  // The output a request that sets no max_tokens is reserved for. Its real cost is still what
  // is billed; only the reservation (what may run concurrently) is bounded by this guess.
  std::int64_t default_max_output_tokens = 4096;
};

struct limits_config {
  std::uint64_t max_body_bytes = 32u << 20;
  std::uint32_t max_header_bytes = 16u << 10;
  millis header_timeout{10000};  // to receive a whole request header
  millis idle_timeout{60000};    // keep-alive connection with no request
  millis drain_timeout{30000};   // SIGTERM: how long in-flight requests may still run
};

struct log_config {
  std::string level = "info";
  std::string access = "stdout";  // stdout | stderr | off | a file path
};

// The currency reports show costs in besides USD (costs are always computed and stored in USD).
struct currency_config {
  std::string code = "USD";  // ISO 4217, three capital letters
  double rate = 1.0;         // units of `code` per USD
};

struct config {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;
  unsigned workers = 0;  // 0 = one per core
  std::string master_key;
  // Where users, managed keys, channels and the audit log live: "sqlite:<path>" (the default),
  // "postgres://user:pass@host:5432/db", or "none" (config-file keys only; no admin API).
  std::string database = "sqlite:./switchyard-data/switchyard.db";
  limits_config limits;
  log_config log;
  media_fetch_config media_fetch;
  auth_guard_config auth_guard;
  std::vector<channel_config> channels;
  // `models:`: model groups (routing/router.h); channels' own `models:` add one-line groups.
  std::vector<model_group_config> models;
  routing_config routing;
  std::vector<key_config> keys;
  // `pricing:`: prices that override or extend the shipped table (billing/pricing.h).
  std::vector<price_entry> pricing;
  currency_config currency;
  budgets_config budgets;
  // `alerts.webhook:`: where budget alerts are POSTed (alerts/webhook.h); none when absent.
  std::optional<alerts::webhook_config> webhook;
  std::string source = "<defaults>";  // where it came from, for messages
};

// Looks up an environment variable; tests substitute their own.
using env_lookup = std::function<std::optional<std::string>(const std::string&)>;
env_lookup process_env();

struct config_error {
  std::string message;  // "switchyard.yaml:12: channels[0].type: unknown channel type 'foo'"
  std::string field;    // the key path named in the message ("channels[0].type"); "" for none
};

// Parses YAML text. `${VAR}` and `${VAR:-default}` are substituted in scalar values (not at all
// when `env` is empty). Returns the config or the first error, naming the file, line and key.
std::variant<config, config_error> parse_config(const std::string& yaml_text,
                                                const std::string& source_name,
                                                const env_lookup& env = process_env());
std::variant<config, config_error> load_config_file(const std::string& path,
                                                    const env_lookup& env = process_env());

// The embedded defaults: 127.0.0.1:8080, the mock channel serving `demo`, and one channel per
// provider key found in the environment (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY;
// OPENAI_BASE_URL, ANTHROPIC_BASE_URL, GEMINI_BASE_URL move them).
std::variant<config, config_error> default_config(const env_lookup& env = process_env());

// One channel, as a YAML or JSON mapping with the keys and forms of a `channels:` entry of the
// config file, validated the same way, for channels received by the admin API. Nothing is
// substituted: "${HOME}" stays those seven characters, so that an API caller cannot read the
// process environment into a channel. An error's `field` is the key path inside the channel
// ("base_url", "timeouts.connect_ms", "api_keys[1]"; "" when the text is not a mapping), and its
// message starts with `source` and the line.
std::variant<channel_config, config_error> parse_channel(const std::string& text,
                                                         const std::string& source);

// A channel as one JSON object with the keys parse_channel reads (it reads the result back to an
// equal channel). The upstream keys only when `include_keys`: the admin API never shows them.
// Defaults are written out; `base_url`, `ca_file` and `pricing` only when set, `mock` only for a
// mock channel or when its options are not the defaults.
std::string channel_to_json(const channel_config& ch, bool include_keys = false);

// Whether `url` is an absolute http:// or https:// URL with a host, as a base_url must be.
bool valid_base_url(std::string_view url);

// Substitutes `${VAR}` / `${VAR:-default}`; an unset or empty variable without a default
// becomes "". Sets `missing` to the first such variable.
std::string substitute_env(std::string_view text, const env_lookup& env,
                           std::string* missing = nullptr);

}  // namespace sy
