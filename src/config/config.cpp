#include "config/config.h"

#include "billing/budget.h"
#include "common/json.h"

#include <yaml-cpp/yaml.h>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace sy {
namespace {

// Thrown inside this file only, turned into a config_error at the API boundary.
struct bad_config {
  std::string message;
  std::string field;
};

class reader {
 public:
  reader(std::string source, const env_lookup& env) : source_(std::move(source)), env_(env) {}

  [[noreturn]] void fail(const YAML::Node& node, std::string path,
                         const std::string& message) const {
    std::string where = source_;
    if (node.IsDefined() && node.Mark().line >= 0) {
      where += ":" + std::to_string(node.Mark().line + 1);
    }
    // A lone channel (parse_channel) is read at the path "": its keys come as ".name".
    if (path.starts_with('.')) path.erase(0, 1);
    if (path.empty()) throw bad_config{where + ": " + message, path};
    throw bad_config{where + ": " + path + ": " + message, path};
  }

  std::string scalar(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar()) fail(node, path, "expected a string");
    return env_ ? substitute_env(node.Scalar(), env_) : node.Scalar();
  }

  template <class Int>
  Int integer(const YAML::Node& node, const std::string& path, long long min, long long max) const {
    auto text = scalar(node, path);
    char* end = nullptr;
    errno = 0;
    long long value = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0) fail(node, path, "expected an integer");
    if (value < min || value > max) {
      fail(node, path, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    return static_cast<Int>(value);
  }

  bool boolean(const YAML::Node& node, const std::string& path) const {
    auto text = scalar(node, path);
    if (text == "true" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "no" || text == "off") return false;
    fail(node, path, "expected true or false");
  }

  millis duration_ms(const YAML::Node& node, const std::string& path) const {
    return millis{integer<long long>(node, path, 1, 24LL * 3600 * 1000)};
  }

  std::vector<std::string> string_list(const YAML::Node& node, const std::string& path) const {
    std::vector<std::string> out;
    if (node.IsScalar()) {
      out.push_back(scalar(node, path));
      return out;
    }
    if (!node.IsSequence()) fail(node, path, "expected a list of strings");
    for (std::size_t i = 0; i < node.size(); ++i) {
      out.push_back(scalar(node[i], path + "[" + std::to_string(i) + "]"));
    }
    return out;
  }

  void only_keys(const YAML::Node& node, const std::string& path,
                 std::initializer_list<std::string_view> allowed) const {
    if (!node.IsMap()) fail(node, path, "expected a mapping");
    for (const auto& kv : node) {
      auto key = kv.first.as<std::string>();
      bool ok = false;
      for (auto a : allowed)
        ok = ok || a == key;
      if (!ok) {
        std::string list;
        for (auto a : allowed)
          list += (list.empty() ? "" : ", ") + std::string(a);
        fail(kv.first, path.empty() ? key : path + "." + key,
             "unknown key (expected one of: " + list + ")");
      }
    }
  }

  void listen(const YAML::Node& node, config& cfg) const {
    auto text = scalar(node, "listen");
    auto colon = text.rfind(':');
    if (colon == std::string::npos) fail(node, "listen", "expected host:port");
    auto host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    if (host.empty()) fail(node, "listen", "expected host:port");
    char* end = nullptr;
    auto port_text = text.substr(colon + 1);
    long port = std::strtol(port_text.c_str(), &end, 10);
    if (port_text.empty() || *end != '\0' || port < 0 || port > 65535) {
      fail(node, "listen", "port must be between 0 and 65535");
    }
    cfg.listen_host = host;
    cfg.listen_port = static_cast<std::uint16_t>(port);
  }

  void timeouts(const YAML::Node& node, const std::string& path, channel_timeouts& t) const {
    only_keys(node, path, {"connect_ms", "first_byte_ms", "idle_ms", "total_ms"});
    if (node["connect_ms"]) t.connect = duration_ms(node["connect_ms"], path + ".connect_ms");
    if (node["first_byte_ms"]) {
      t.first_byte = duration_ms(node["first_byte_ms"], path + ".first_byte_ms");
    }
    if (node["idle_ms"]) t.idle = duration_ms(node["idle_ms"], path + ".idle_ms");
    if (node["total_ms"]) t.total = duration_ms(node["total_ms"], path + ".total_ms");
  }

  void mock(const YAML::Node& node, const std::string& path, mock_options& m) const {
    only_keys(node, path, {"latency_ms", "chunk_delay_ms", "words", "chunks"});
    if (node["latency_ms"]) {
      m.latency = millis{integer<long long>(node["latency_ms"], path + ".latency_ms", 0, 600000)};
    }
    if (node["chunk_delay_ms"]) {
      m.chunk_delay =
          millis{integer<long long>(node["chunk_delay_ms"], path + ".chunk_delay_ms", 0, 60000)};
    }
    if (node["words"]) m.words = integer<int>(node["words"], path + ".words", 1, 100000);
    if (node["chunks"]) m.chunks = integer<int>(node["chunks"], path + ".chunks", 1, 10000);
  }

  std::vector<model_route> models(const YAML::Node& node, const std::string& path) const {
    std::vector<model_route> out;
    if (node.IsMap()) {
      for (const auto& kv : node) {
        auto name = kv.first.as<std::string>();
        out.push_back({name, scalar(kv.second, path + "." + name)});
      }
    } else {
      for (auto& name : string_list(node, path))
        out.push_back({name, name});
    }
    if (out.empty()) fail(node, path, "a channel must serve at least one model");
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i].public_name.empty() || out[i].upstream_name.empty()) {
        fail(node, path, "model names must not be empty");
      }
    }
    return out;
  }

  micro_usd_per_mtok usd_per_mtok(const YAML::Node& node, const std::string& path) const {
    auto value = parse_usd_per_mtok(scalar(node, path));
    if (!value) {
      fail(node, path,
           "expected USD per million tokens: a number from 0 to 1000000 with at most 6 decimals");
    }
    return *value;
  }

  price model_price(const YAML::Node& node, const std::string& path, bool tier = false) const {
    if (tier) {
      only_keys(node, path,
                {"above", "input", "cached_input", "cache_read", "cache_write_5m", "cache_write_1h",
                 "output", "reasoning"});
    } else {
      only_keys(node, path,
                {"input", "cached_input", "cache_read", "cache_write_5m", "cache_write_1h",
                 "output", "reasoning", "long_context"});
    }
    if (node["cached_input"] && node["cache_read"]) {
      fail(node["cache_read"], path + ".cache_read",
           "cache_read and cached_input name the same price: give one");
    }
    if (!node["input"]) fail(node, path, "missing key 'input'");
    if (!node["output"]) fail(node, path, "missing key 'output'");
    price p;
    p.input = usd_per_mtok(node["input"], path + ".input");
    p.output = usd_per_mtok(node["output"], path + ".output");
    auto optional = [&](const char* key, std::optional<micro_usd_per_mtok>& out) {
      if (node[key]) out = usd_per_mtok(node[key], path + "." + key);
    };
    optional("cached_input", p.cached_input);
    optional("cache_read", p.cached_input);
    optional("cache_write_5m", p.cache_write_5m);
    optional("cache_write_1h", p.cache_write_1h);
    optional("reasoning", p.reasoning);
    if (!tier && node["long_context"]) {
      // long_context: { above: 200000, input: 2.50, output: 15.00, ... }: the rates of prompts
      // longer than `above` tokens.
      const auto lc = node["long_context"];
      const auto at = path + ".long_context";
      if (!lc.IsMap()) fail(lc, at, "expected a mapping: above, input, output, ...");
      if (!lc["above"]) fail(lc, at, "missing key 'above' (prompt tokens)");
      p.long_context_above = integer<std::int64_t>(lc["above"], at + ".above", 1, 100'000'000);
      p.long_context.push_back(model_price(lc, at, true));
    }
    return p;
  }

  // `pricing:` model name or glob -> price, in the order written.
  std::vector<price_entry> pricing(const YAML::Node& node, const std::string& path) const {
    std::vector<price_entry> out;
    if (node.IsNull()) return out;
    if (!node.IsMap()) fail(node, path, "expected a mapping of model names to prices");
    std::set<std::string> seen;
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) fail(kv.first, path, "expected a model name");
      auto pattern = kv.first.Scalar();
      auto at = path + "." + pattern;
      if (pattern.empty()) fail(kv.first, path, "model names must not be empty");
      if (!seen.insert(pattern).second) {
        fail(kv.first, at, "duplicate model '" + pattern + "'");
      }
      out.push_back({pattern, model_price(kv.second, at)});
    }
    return out;
  }

  void currency(const YAML::Node& node, currency_config& c) const {
    only_keys(node, "currency", {"code", "rate"});
    if (!node["code"]) fail(node, "currency", "missing key 'code'");
    if (!node["rate"]) fail(node, "currency", "missing key 'rate'");
    c.code = scalar(node["code"], "currency.code");
    if (c.code.size() != 3 || !std::all_of(c.code.begin(), c.code.end(),
                                           [](char ch) { return ch >= 'A' && ch <= 'Z'; })) {
      fail(node["code"], "currency.code", "expected a three-letter currency code such as CNY");
    }
    auto text = scalar(node["rate"], "currency.rate");
    char* end = nullptr;
    errno = 0;
    double rate = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || errno != 0 || !std::isfinite(rate) || rate <= 0 ||
        rate > 1e9) {
      fail(node["rate"], "currency.rate", "expected a positive number (units per USD)");
    }
    c.rate = rate;
  }

  void alerts_section(const YAML::Node& node, config& cfg) const {
    if (node.IsNull()) return;
    only_keys(node, "alerts", {"webhook"});
    auto w = node["webhook"];
    if (!w) return;
    const std::string path = "alerts.webhook";
    only_keys(w, path, {"url", "secret", "timeout_ms", "max_attempts", "ca_file"});
    alerts::webhook_config hook;
    if (!w["url"]) fail(w, path, "missing key 'url'");
    hook.url = scalar(w["url"], path + ".url");
    if (auto why = alerts::check_webhook_url(hook.url)) fail(w["url"], path + ".url", *why);
    if (!w["secret"]) fail(w, path, "missing key 'secret'");
    hook.secret = scalar(w["secret"], path + ".secret");
    if (hook.secret.size() < 16) {
      // Never the value itself: it is a secret, even a short one.
      std::string message = "must have at least 16 characters";
      if (w["secret"].Scalar().find("${") != std::string::npos) {
        message += " (is its environment variable set?)";
      }
      fail(w["secret"], path + ".secret", message);
    }
    if (w["timeout_ms"]) hook.timeout = duration_ms(w["timeout_ms"], path + ".timeout_ms");
    if (w["max_attempts"]) {
      hook.max_attempts = integer<int>(w["max_attempts"], path + ".max_attempts", 1, 100);
    }
    if (w["ca_file"]) {
      hook.ca_file = scalar(w["ca_file"], path + ".ca_file");
      if (!std::ifstream(hook.ca_file)) {
        fail(w["ca_file"], path + ".ca_file", "cannot read '" + hook.ca_file + "'");
      }
    }
    cfg.webhook = std::move(hook);
  }

  // `in_file`: a channel of the config file, which may leave `models:` to the groups that name it
  // (read() checks that some group does); a channel of the admin API must serve models itself.
  channel_config channel(const YAML::Node& node, const std::string& path,
                         bool in_file = false) const {
    only_keys(node, path,
              {"name", "type", "base_url", "api_keys", "api_key", "models", "weight", "timeouts",
               "mock", "ca_file", "api_version", "anthropic_version", "pricing", "probe"});
    channel_config ch;
    if (!node["name"]) fail(node, path, "missing key 'name'");
    ch.name = scalar(node["name"], path + ".name");
    if (ch.name.empty()) fail(node["name"], path + ".name", "must not be empty");
    if (!node["type"]) fail(node, path, "missing key 'type'");
    auto type = scalar(node["type"], path + ".type");
    const vendor* v = find_vendor(type);
    if (!v) {
      std::string names;
      for (const auto& row : vendors()) {
        if (!names.empty()) names += ", ";
        names += row.name;
      }
      fail(node["type"], path + ".type",
           "unknown channel type '" + type + "' (expected: " + names + ")");
    }
    ch.type = v->type;
    ch.vendor = std::string(v->name);
    if (node["base_url"]) ch.base_url = scalar(node["base_url"], path + ".base_url");
    if (ch.base_url.empty()) ch.base_url = std::string(v->default_base_url);
    if (ch.type != channel_type::mock) {
      if (ch.base_url.empty()) fail(node, path, "missing key 'base_url'");
      auto url = boost::urls::parse_absolute_uri(ch.base_url);
      if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty()) {
        fail(node["base_url"] ? node["base_url"] : node, path + ".base_url",
             "expected an http:// or https:// URL, got '" + ch.base_url + "'");
      }
      while (!ch.base_url.empty() && ch.base_url.back() == '/')
        ch.base_url.pop_back();
    }
    if (node["api_version"]) ch.api_version = scalar(node["api_version"], path + ".api_version");
    if (node["anthropic_version"]) {
      ch.anthropic_version = scalar(node["anthropic_version"], path + ".anthropic_version");
    }
    for (const char* k : {"api_keys", "api_key"}) {
      if (!node[k]) continue;
      for (auto& key : string_list(node[k], path + "." + k)) {
        if (!key.empty()) ch.api_keys.push_back(key);  // an unset ${VAR} gives no key
      }
    }
    // A channel without models of its own serves only the groups that name it (`models:`).
    if (!node["models"] && !in_file) fail(node, path, "missing key 'models'");
    if (node["models"]) ch.models = models(node["models"], path + ".models");
    if (node["weight"]) ch.weight = integer<unsigned>(node["weight"], path + ".weight", 1, 1000000);
    if (node["timeouts"]) timeouts(node["timeouts"], path + ".timeouts", ch.timeouts);
    if (node["mock"]) mock(node["mock"], path + ".mock", ch.mock);
    if (auto p = node["probe"]) {
      only_keys(p, path + ".probe", {"interval_ms"});
      if (!p["interval_ms"]) fail(p, path + ".probe", "missing key 'interval_ms'");
      ch.probe_interval =
          millis{integer<long long>(p["interval_ms"], path + ".probe.interval_ms", 100, 3600000)};
    }
    if (node["ca_file"]) {
      ch.ca_file = scalar(node["ca_file"], path + ".ca_file");
      if (!std::ifstream(ch.ca_file)) {
        fail(node["ca_file"], path + ".ca_file", "cannot read '" + ch.ca_file + "'");
      }
    }
    if (node["pricing"]) ch.pricing = pricing(node["pricing"], path + ".pricing");
    return ch;
  }

  deployment_config deployment(const YAML::Node& node, const std::string& path) const {
    only_keys(node, path, {"channel", "model", "weight", "priority"});
    deployment_config d;
    if (!node["channel"]) fail(node, path, "missing key 'channel'");
    d.channel = scalar(node["channel"], path + ".channel");
    if (d.channel.empty()) fail(node["channel"], path + ".channel", "must not be empty");
    if (node["model"]) d.model = scalar(node["model"], path + ".model");
    if (node["weight"]) d.weight = integer<unsigned>(node["weight"], path + ".weight", 1, 1000000);
    if (node["priority"]) d.priority = integer<int>(node["priority"], path + ".priority", 0, 100);
    return d;
  }

  model_group_config model_group(const std::string& name, const YAML::Node& node,
                                 const std::string& path) const {
    only_keys(node, path,
              {"strategy", "deployments", "fallbacks", "context_window_fallbacks",
               "content_policy_fallbacks", "retries", "timeout_ms", "hedge"});
    model_group_config g;
    g.name = name;
    if (node["strategy"]) {
      auto text = scalar(node["strategy"], path + ".strategy");
      bool found = false;
      for (auto s :
           {route_strategy::weighted, route_strategy::round_robin, route_strategy::least_inflight,
            route_strategy::lowest_latency, route_strategy::lowest_cost}) {
        if (to_string(s) == text) {
          g.strategy = s;
          found = true;
        }
      }
      if (!found) {
        fail(node["strategy"], path + ".strategy",
             "expected weighted, round_robin, least_inflight, lowest_latency or lowest_cost");
      }
    }
    auto list = node["deployments"];
    if (!list) fail(node, path, "missing key 'deployments'");
    if (!list.IsSequence() || list.size() == 0) {
      fail(list, path + ".deployments", "expected a list of deployments");
    }
    std::set<std::pair<std::string, std::string>> seen;
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto at = path + ".deployments[" + std::to_string(i) + "]";
      auto d = deployment(list[i], at);
      if (!seen.emplace(d.channel, d.model.empty() ? name : d.model).second) {
        fail(list[i], at, "duplicate deployment: channel '" + d.channel + "' with this model");
      }
      g.deployments.push_back(std::move(d));
    }
    auto names = [&](const char* key, std::vector<std::string>& out) {
      if (!node[key]) return;
      out = string_list(node[key], path + "." + key);
      for (const auto& n : out) {
        if (n == name) fail(node[key], path + "." + key, "a group cannot fall back to itself");
        if (n.empty()) fail(node[key], path + "." + key, "model names must not be empty");
      }
    };
    names("fallbacks", g.fallbacks);
    names("context_window_fallbacks", g.context_window_fallbacks);
    names("content_policy_fallbacks", g.content_policy_fallbacks);
    if (node["retries"]) g.retries = integer<int>(node["retries"], path + ".retries", 0, 10);
    if (node["timeout_ms"]) g.timeout = duration_ms(node["timeout_ms"], path + ".timeout_ms");
    if (auto h = node["hedge"]) {
      only_keys(h, path + ".hedge", {"after", "after_ms", "min_after_ms", "min_samples"});
      hedge_config hc;
      if (h["after"] && h["after_ms"]) {
        fail(h, path + ".hedge", "give either after (p95) or after_ms");
      }
      if (!h["after"] && !h["after_ms"]) fail(h, path + ".hedge", "missing key 'after' (p95)");
      if (h["after"] && scalar(h["after"], path + ".hedge.after") != "p95") {
        fail(h["after"], path + ".hedge.after", "expected p95 (or give after_ms)");
      }
      if (h["after_ms"]) hc.after = duration_ms(h["after_ms"], path + ".hedge.after_ms");
      if (h["min_after_ms"]) {
        hc.min_after = duration_ms(h["min_after_ms"], path + ".hedge.min_after_ms");
      }
      if (h["min_samples"]) {
        hc.min_samples = integer<int>(h["min_samples"], path + ".hedge.min_samples", 1, 100000);
      }
      g.hedge = hc;
    }
    return g;
  }

  void routing_section(const YAML::Node& node, routing_config& r) const {
    only_keys(node, "routing",
              {"retries", "max_retries", "backoff_base_ms", "backoff_max_ms", "max_retry_after_ms",
               "breaker"});
    if (node["retries"]) r.retries = integer<int>(node["retries"], "routing.retries", 0, 10);
    if (node["max_retries"]) {
      r.max_retries = integer<int>(node["max_retries"], "routing.max_retries", 0, 10);
    }
    if (node["backoff_base_ms"]) {
      r.backoff_base = duration_ms(node["backoff_base_ms"], "routing.backoff_base_ms");
    }
    if (node["backoff_max_ms"]) {
      r.backoff_max = duration_ms(node["backoff_max_ms"], "routing.backoff_max_ms");
    }
    if (node["max_retry_after_ms"]) {
      r.max_retry_after = duration_ms(node["max_retry_after_ms"], "routing.max_retry_after_ms");
    }
    if (auto b = node["breaker"]) {
      const std::string at = "routing.breaker";
      only_keys(b, at,
                {"window_ms", "min_requests", "error_rate", "consecutive_failures", "cooldown_ms",
                 "max_cooldown_ms", "rate_limit_cooldown_ms"});
      auto& c = r.breaker;
      if (b["window_ms"]) c.window = duration_ms(b["window_ms"], at + ".window_ms");
      if (b["min_requests"]) {
        c.min_requests = integer<int>(b["min_requests"], at + ".min_requests", 1, 1000000);
      }
      if (b["error_rate"]) {
        auto text = scalar(b["error_rate"], at + ".error_rate");
        char* end = nullptr;
        double v = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || !(v > 0 && v <= 1)) {
          fail(b["error_rate"], at + ".error_rate", "expected a number above 0, at most 1");
        }
        c.error_rate = v;
      }
      if (b["consecutive_failures"]) {
        c.consecutive_failures =
            integer<int>(b["consecutive_failures"], at + ".consecutive_failures", 1, 1000000);
      }
      if (b["cooldown_ms"]) c.cooldown = duration_ms(b["cooldown_ms"], at + ".cooldown_ms");
      if (b["max_cooldown_ms"]) {
        c.max_cooldown = duration_ms(b["max_cooldown_ms"], at + ".max_cooldown_ms");
      }
      if (b["rate_limit_cooldown_ms"]) {
        c.rate_limit_cooldown =
            duration_ms(b["rate_limit_cooldown_ms"], at + ".rate_limit_cooldown_ms");
      }
      if (c.max_cooldown < c.cooldown) {
        fail(b, at + ".max_cooldown_ms", "must not be less than cooldown_ms");
      }
    }
    if (r.backoff_max < r.backoff_base) {
      fail(node, "routing.backoff_max_ms", "must not be less than backoff_base_ms");
    }
  }

  // `models:` after `channels:`: group names are unique, name no channel model, and their
  // deployments name known channels (unless the store may hold them).
  void model_groups(const YAML::Node& node, config& cfg) const {
    if (node.IsNull()) return;
    if (!node.IsMap()) fail(node, "models", "expected a mapping of model names to groups");
    std::set<std::string> channel_names;
    std::set<std::string> channel_models;
    for (const auto& ch : cfg.channels) {
      channel_names.insert(ch.name);
      for (const auto& m : ch.models)
        channel_models.insert(m.public_name);
    }
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) fail(kv.first, "models", "expected a model name");
      const auto name = kv.first.Scalar();
      const auto path = "models." + name;
      if (name.empty()) fail(kv.first, "models", "model names must not be empty");
      if (channel_models.count(name)) {
        fail(kv.first, path,
             "a channel's models: also serves '" + name +
                 "': name it in one place (add that channel to this group's deployments)");
      }
      auto g = model_group(name, kv.second, path);
      if (cfg.database == "none") {
        for (std::size_t i = 0; i < g.deployments.size(); ++i) {
          if (!channel_names.count(g.deployments[i].channel)) {
            fail(kv.second["deployments"][i],
                 path + ".deployments[" + std::to_string(i) + "].channel",
                 "no channel named '" + g.deployments[i].channel + "'");
          }
        }
      }
      cfg.models.push_back(std::move(g));
    }
  }

  key_config key(const YAML::Node& node, const std::string& path) const {
    only_keys(node, path, {"name", "key", "models", "budget_usd", "budget_period"});
    key_config k;
    if (!node["key"]) fail(node, path, "missing key 'key'");
    k.key = scalar(node["key"], path + ".key");
    if (k.key.size() < 8 || k.key.rfind("sk-", 0) != 0) {
      fail(node["key"], path + ".key",
           "a key must start with 'sk-' and have at least 8 characters");
    }
    k.name = node["name"] ? scalar(node["name"], path + ".name") : path;
    if (k.name == "master") {
      // The master key's name in the access log and the ledger: two keys must not share it.
      fail(node["name"], path + ".name", "'master' is the master key's name: choose another");
    }
    if (node["models"]) k.models = string_list(node["models"], path + ".models");
    if (node["budget_usd"]) {
      auto nano = billing::parse_usd_to_nano(scalar(node["budget_usd"], path + ".budget_usd"));
      if (!nano) {
        fail(node["budget_usd"], path + ".budget_usd",
             "expected a non-negative amount of USD with at most 9 decimal places");
      }
      k.budget_nano_usd = *nano;
    }
    if (node["budget_period"]) {
      k.budget_period = scalar(node["budget_period"], path + ".budget_period");
      if (!billing::parse_budget_period(k.budget_period)) {
        fail(node["budget_period"], path + ".budget_period", "expected day, month or total");
      }
    }
    return k;
  }

  config read(const YAML::Node& root) const {
    config cfg;
    cfg.source = source_;
    if (!root.IsDefined() || root.IsNull()) return cfg;
    only_keys(root, "",
              {"listen", "workers", "master_key", "database", "limits", "log", "media_fetch",
               "auth_guard", "channels", "models", "routing", "keys", "pricing", "currency",
               "budgets", "alerts"});
    if (root["listen"]) listen(root["listen"], cfg);
    if (root["workers"]) cfg.workers = integer<unsigned>(root["workers"], "workers", 0, 1024);
    if (root["master_key"]) {
      cfg.master_key = scalar(root["master_key"], "master_key");
      if (!cfg.master_key.empty() && cfg.master_key.size() < 8) {
        fail(root["master_key"], "master_key", "must have at least 8 characters");
      }
    }
    if (root["database"]) {
      cfg.database = scalar(root["database"], "database");
      const auto& db = cfg.database;
      if (db != "none" && !(db.starts_with("sqlite:") && db.size() > 7) &&
          !db.starts_with("postgres://") && !db.starts_with("postgresql://")) {
        fail(root["database"], "database",
             "expected sqlite:<path>, postgres://user:pass@host:port/db or none");
      }
    }
    if (auto l = root["limits"]) {
      only_keys(l, "limits",
                {"max_body_bytes", "max_header_bytes", "header_timeout_ms", "idle_timeout_ms",
                 "drain_timeout_ms"});
      if (l["max_body_bytes"]) {
        cfg.limits.max_body_bytes =
            integer<std::uint64_t>(l["max_body_bytes"], "limits.max_body_bytes", 1024, 1LL << 32);
      }
      if (l["max_header_bytes"]) {
        cfg.limits.max_header_bytes =
            integer<std::uint32_t>(l["max_header_bytes"], "limits.max_header_bytes", 1024, 1 << 20);
      }
      if (l["header_timeout_ms"]) {
        cfg.limits.header_timeout = duration_ms(l["header_timeout_ms"], "limits.header_timeout_ms");
      }
      if (l["idle_timeout_ms"]) {
        cfg.limits.idle_timeout = duration_ms(l["idle_timeout_ms"], "limits.idle_timeout_ms");
      }
      if (l["drain_timeout_ms"]) {
        cfg.limits.drain_timeout = duration_ms(l["drain_timeout_ms"], "limits.drain_timeout_ms");
      }
    }
    if (auto l = root["log"]) {
      only_keys(l, "log", {"level", "access"});
      if (l["level"]) {
        cfg.log.level = scalar(l["level"], "log.level");
        static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "off"};
        if (!levels.count(cfg.log.level)) {
          fail(l["level"], "log.level", "expected one of trace, debug, info, warn, error, off");
        }
      }
      if (l["access"]) {
        cfg.log.access = scalar(l["access"], "log.access");
        if (cfg.log.access == "false") cfg.log.access = "off";
      }
    }
    if (auto m = root["media_fetch"]) {
      only_keys(m, "media_fetch", {"max_bytes", "timeout_ms", "allow_private"});
      if (m["max_bytes"]) {
        cfg.media_fetch.max_bytes =
            integer<std::uint64_t>(m["max_bytes"], "media_fetch.max_bytes", 1024, 1LL << 30);
      }
      if (m["timeout_ms"])
        cfg.media_fetch.timeout = duration_ms(m["timeout_ms"], "media_fetch.timeout_ms");
      if (m["allow_private"]) {
        cfg.media_fetch.allow_private = boolean(m["allow_private"], "media_fetch.allow_private");
      }
    }
    if (auto g = root["auth_guard"]) {
      only_keys(
          g, "auth_guard",
          {"slow_after", "block_after", "window_s", "block_s", "base_delay_ms", "max_delay_ms"});
      auto& a = cfg.auth_guard;
      if (g["slow_after"])
        a.slow_after = integer<std::uint32_t>(g["slow_after"], "auth_guard.slow_after", 0, 1000000);
      if (g["block_after"]) {
        a.block_after =
            integer<std::uint32_t>(g["block_after"], "auth_guard.block_after", 1, 1000000);
      }
      if (g["window_s"]) {
        a.window = std::chrono::seconds(
            integer<std::uint32_t>(g["window_s"], "auth_guard.window_s", 1, 86400));
      }
      if (g["block_s"]) {
        a.block = std::chrono::seconds(
            integer<std::uint32_t>(g["block_s"], "auth_guard.block_s", 0, 86400 * 7));
      }
      if (g["base_delay_ms"])
        a.base_delay = duration_ms(g["base_delay_ms"], "auth_guard.base_delay_ms");
      if (g["max_delay_ms"])
        a.max_delay = duration_ms(g["max_delay_ms"], "auth_guard.max_delay_ms");
    }
    if (auto chans = root["channels"]) {
      if (!chans.IsSequence()) fail(chans, "channels", "expected a list of channels");
      std::set<std::string> names;
      for (std::size_t i = 0; i < chans.size(); ++i) {
        auto path = "channels[" + std::to_string(i) + "]";
        auto ch = channel(chans[i], path, true);
        if (!names.insert(ch.name).second) {
          fail(chans[i]["name"], path + ".name", "duplicate channel name '" + ch.name + "'");
        }
        cfg.channels.push_back(std::move(ch));
      }
    }
    if (root["models"]) model_groups(root["models"], cfg);
    if (root["routing"]) routing_section(root["routing"], cfg.routing);
    for (std::size_t i = 0; i < cfg.channels.size(); ++i) {
      const auto& ch = cfg.channels[i];
      if (!ch.models.empty()) continue;
      bool used = std::any_of(cfg.models.begin(), cfg.models.end(), [&](const auto& g) {
        return std::any_of(g.deployments.begin(), g.deployments.end(),
                           [&](const auto& d) { return d.channel == ch.name; });
      });
      if (!used) {
        const auto path = "channels[" + std::to_string(i) + "]";
        fail(root["channels"][i], path,
             "channel '" + ch.name + "' serves no model: give it models: or name it in a group");
      }
    }
    if (auto keys = root["keys"]) {
      if (!keys.IsSequence()) fail(keys, "keys", "expected a list of keys");
      std::set<std::string> seen;
      for (std::size_t i = 0; i < keys.size(); ++i) {
        auto path = "keys[" + std::to_string(i) + "]";
        auto k = key(keys[i], path);
        if (!seen.insert(k.key).second) fail(keys[i]["key"], path + ".key", "duplicate key");
        cfg.keys.push_back(std::move(k));
      }
    }
    if (root["pricing"]) cfg.pricing = pricing(root["pricing"], "pricing");
    if (root["currency"]) currency(root["currency"], cfg.currency);
    if (root["budgets"]) {
      only_keys(root["budgets"], "budgets", {"default_max_output_tokens"});
      if (root["budgets"]["default_max_output_tokens"]) {
        cfg.budgets.default_max_output_tokens =
            integer<std::int64_t>(root["budgets"]["default_max_output_tokens"],
                                  "budgets.default_max_output_tokens", 1, 10'000'000);
      }
    }
    if (root["alerts"]) alerts_section(root["alerts"], cfg);
    return cfg;
  }

 private:
  std::string source_;
  const env_lookup& env_;
};

}  // namespace

std::string_view to_string(route_strategy s) {
  switch (s) {
    case route_strategy::round_robin:
      return "round_robin";
    case route_strategy::least_inflight:
      return "least_inflight";
    case route_strategy::lowest_latency:
      return "lowest_latency";
    case route_strategy::lowest_cost:
      return "lowest_cost";
    default:
      return "weighted";
  }
}

env_lookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (const char* v = std::getenv(name.c_str())) return std::string(v);
    return std::nullopt;
  };
}

std::string substitute_env(std::string_view text, const env_lookup& env, std::string* missing) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      auto close = text.find('}', i + 2);
      if (close != std::string_view::npos) {
        auto inner = text.substr(i + 2, close - i - 2);
        std::string name(inner);
        std::optional<std::string> fallback;
        if (auto dflt = inner.find(":-"); dflt != std::string_view::npos) {
          name = std::string(inner.substr(0, dflt));
          fallback = std::string(inner.substr(dflt + 2));
        }
        auto value = env(name);
        if (value && !value->empty()) {
          out += *value;
        } else if (fallback) {
          out += *fallback;
        } else if (missing && missing->empty()) {
          *missing = name;
        }
        i = close + 1;
        continue;
      }
    }
    out += text[i++];
  }
  return out;
}

std::variant<config, config_error> parse_config(const std::string& yaml_text,
                                                const std::string& source_name,
                                                const env_lookup& env) {
  try {
    auto root = YAML::Load(yaml_text);
    return reader(source_name, env).read(root);
  } catch (const bad_config& e) {
    return config_error{e.message, e.field};
  } catch (const YAML::Exception& e) {
    return config_error{source_name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg};
  }
}

std::variant<channel_config, config_error> parse_channel(const std::string& text,
                                                         const std::string& source) {
  const env_lookup no_substitution;
  try {
    return reader(source, no_substitution).channel(YAML::Load(text), "");
  } catch (const bad_config& e) {
    return config_error{e.message, e.field};
  } catch (const YAML::Exception& e) {
    return config_error{source + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg};
  }
}

std::string channel_to_json(const channel_config& ch, bool include_keys) {
  std::string out = "{\"name\":";
  json::append_quoted(out, ch.name);
  // `vendor` when it names a vendor of this type (a channel built in code may have set only
  // `type`), else the vendor named after the type (each type has one: openai, azure, ...).
  std::string_view type = ch.vendor;
  if (const vendor* v = find_vendor(type); !v || v->type != ch.type) {
    for (const auto& row : vendors()) {
      if (row.type == ch.type) {
        type = row.name;
        break;
      }
    }
  }
  out += ",\"type\":";
  json::append_quoted(out, type);
  if (!ch.base_url.empty()) {
    out += ",\"base_url\":";
    json::append_quoted(out, ch.base_url);
  }
  if (include_keys) {
    out += ",\"api_keys\":[";
    for (std::size_t i = 0; i < ch.api_keys.size(); ++i) {
      if (i) out += ',';
      json::append_quoted(out, ch.api_keys[i]);
    }
    out += ']';
  }
  // The list form when every model keeps its name upstream, the map form otherwise.
  bool renamed = false;
  for (const auto& m : ch.models)
    renamed = renamed || m.public_name != m.upstream_name;
  out += renamed ? ",\"models\":{" : ",\"models\":[";
  for (std::size_t i = 0; i < ch.models.size(); ++i) {
    if (i) out += ',';
    json::append_quoted(out, ch.models[i].public_name);
    if (renamed) {
      out += ':';
      json::append_quoted(out, ch.models[i].upstream_name);
    }
  }
  out += renamed ? '}' : ']';
  const auto& t = ch.timeouts;
  out += ",\"weight\":" + std::to_string(ch.weight);
  out += ",\"timeouts\":{\"connect_ms\":" + std::to_string(t.connect.count()) +
         ",\"first_byte_ms\":" + std::to_string(t.first_byte.count()) +
         ",\"idle_ms\":" + std::to_string(t.idle.count()) +
         ",\"total_ms\":" + std::to_string(t.total.count()) + "}";
  out += ",\"api_version\":";
  json::append_quoted(out, ch.api_version);
  out += ",\"anthropic_version\":";
  json::append_quoted(out, ch.anthropic_version);
  if (ch.probe_interval) {
    out += ",\"probe\":{\"interval_ms\":" + std::to_string(ch.probe_interval->count()) + "}";
  }
  if (!ch.ca_file.empty()) {
    out += ",\"ca_file\":";
    json::append_quoted(out, ch.ca_file);
  }
  if (!ch.pricing.empty()) {
    out += ",\"pricing\":{";
    for (std::size_t i = 0; i < ch.pricing.size(); ++i) {
      const auto& p = ch.pricing[i].value;
      if (i) out += ',';
      json::append_quoted(out, ch.pricing[i].pattern);
      out += ":{\"input\":" + format_usd_per_mtok(p.input);
      auto optional = [&](const char* key, const std::optional<micro_usd_per_mtok>& v) {
        if (v) out += std::string(",\"") + key + "\":" + format_usd_per_mtok(*v);
      };
      optional("cached_input", p.cached_input);
      optional("cache_write_5m", p.cache_write_5m);
      optional("cache_write_1h", p.cache_write_1h);
      out += ",\"output\":" + format_usd_per_mtok(p.output);
      optional("reasoning", p.reasoning);
      if (!p.long_context.empty()) {
        const auto& t = p.long_context.front();
        out += ",\"long_context\":{\"above\":" + std::to_string(p.long_context_above);
        out += ",\"input\":" + format_usd_per_mtok(t.input);
        optional("cached_input", t.cached_input);
        optional("cache_write_5m", t.cache_write_5m);
        optional("cache_write_1h", t.cache_write_1h);
        out += ",\"output\":" + format_usd_per_mtok(t.output);
        optional("reasoning", t.reasoning);
        out += '}';
      }
      out += '}';
    }
    out += '}';
  }
  const mock_options defaults;
  const auto& m = ch.mock;
  if (ch.type == channel_type::mock || m.latency != defaults.latency ||
      m.chunk_delay != defaults.chunk_delay || m.words != defaults.words ||
      m.chunks != defaults.chunks) {
    out += ",\"mock\":{\"latency_ms\":" + std::to_string(m.latency.count()) +
           ",\"chunk_delay_ms\":" + std::to_string(m.chunk_delay.count()) +
           ",\"words\":" + std::to_string(m.words) + ",\"chunks\":" + std::to_string(m.chunks) +
           "}";
  }
  out += '}';
  return out;
}

std::variant<config, config_error> load_config_file(const std::string& path,
                                                    const env_lookup& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return config_error{path + ": cannot open the file"};
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path, env);
}

bool valid_base_url(std::string_view text) {
  // The scheme first: Boost.URL 1.81 asserts on "http:<" and the like (boostorg/url#665).
  if (!text.starts_with("http://") && !text.starts_with("https://")) return false;
  auto url = boost::urls::parse_absolute_uri(text);
  return url && (url->scheme() == "http" || url->scheme() == "https") && !url->host().empty();
}

std::variant<config, config_error> default_config(const env_lookup& env) {
  config cfg;
  channel_config mock;
  mock.name = "mock";
  mock.type = channel_type::mock;
  mock.models = {{"demo", "demo"}};
  cfg.channels.push_back(mock);
  if (auto key = env("OPENAI_API_KEY"); key && !key->empty()) {
    channel_config openai;
    openai.name = "openai";
    openai.type = channel_type::openai;
    auto base = env("OPENAI_BASE_URL");
    openai.base_url = base && !base->empty() ? *base : "https://api.openai.com/v1";
    if (!valid_base_url(openai.base_url)) {
      return config_error{"OPENAI_BASE_URL: expected an http:// or https:// URL, got '" +
                          openai.base_url + "'"};
    }
    while (!openai.base_url.empty() && openai.base_url.back() == '/')
      openai.base_url.pop_back();
    openai.api_keys = {*key};
    for (const char* m : {"gpt-*", "chatgpt-*", "o1*", "o3*", "o4*", "text-embedding-*"}) {
      openai.models.push_back({m, m});
    }
    cfg.channels.push_back(openai);
  }
  // Anthropic and Gemini likewise, each with its models' name prefix.
  struct vendor_env {
    const char* name;
    channel_type type;
    const char* key_var;
    const char* url_var;
    const char* url;
    const char* models;
  };
  static constexpr vendor_env more[] = {
      {"anthropic", channel_type::anthropic, "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
       "https://api.anthropic.com", "claude-*"},
      {"gemini", channel_type::gemini, "GEMINI_API_KEY", "GEMINI_BASE_URL",
       "https://generativelanguage.googleapis.com", "gemini-*"},
  };
  for (const auto& v : more) {
    auto key = env(v.key_var);
    if (!key || key->empty()) continue;
    channel_config ch;
    ch.name = v.name;
    ch.type = v.type;
    ch.vendor = v.name;
    auto base = env(v.url_var);
    ch.base_url = base && !base->empty() ? *base : v.url;
    if (!valid_base_url(ch.base_url)) {
      return config_error{std::string(v.url_var) + ": expected an http:// or https:// URL, got '" +
                          ch.base_url + "'"};
    }
    while (!ch.base_url.empty() && ch.base_url.back() == '/')
      ch.base_url.pop_back();
    ch.api_keys = {*key};
    ch.models.push_back({v.models, v.models});
    cfg.channels.push_back(ch);
  }
  if (auto master = env("SWITCHYARD_MASTER_KEY"); master && !master->empty()) {
    cfg.master_key = *master;
  }
  if (auto db = env("SWITCHYARD_DATABASE"); db && !db->empty()) cfg.database = *db;
  return cfg;
}

}  // namespace sy
