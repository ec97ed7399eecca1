// Fuzz target: sy::parse_config (src/config/config.h, yaml-cpp underneath).
//
// The input is the YAML text, parsed with a fixed fake environment. Properties: never crashes and
// never throws (every failure is a config_error naming the source); a config that parses keeps
// the documented invariants (docs/configuration.md): ranges, required keys, unique channel names
// and keys, http(s) base URLs without a trailing '/', key format. Also: substitute_env leaves text
// without "${" unchanged.
#include "config/config.h"

#include "fuzz_check.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <typeinfo>
#include <variant>

namespace {

using namespace std::chrono_literals;

std::optional<std::string> fake_env(const std::string& name) {
  if (name == "KEY") return "sk-from-env-0001";
  if (name == "URL") return "http://127.0.0.1:9/v1/";
  if (name == "PORT") return "8080";
  if (name == "EMPTY") return "";
  if (name == "SPACE") return " ";
  return std::nullopt;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

void check_config(const sy::config& cfg) {
  FUZZ_CHECK(cfg.source == "fuzz.yaml");
  FUZZ_CHECK(!cfg.listen_host.empty());
  FUZZ_CHECK(cfg.workers <= 1024);
  FUZZ_CHECK(cfg.master_key.empty() || cfg.master_key.size() >= 8);
  FUZZ_CHECK(cfg.limits.max_body_bytes >= 1024 && cfg.limits.max_body_bytes <= (1ull << 32));
  FUZZ_CHECK(cfg.limits.max_header_bytes >= 1024 && cfg.limits.max_header_bytes <= (1u << 20));
  FUZZ_CHECK(cfg.limits.header_timeout >= 1ms && cfg.limits.idle_timeout >= 1ms &&
             cfg.limits.drain_timeout >= 1ms);
  static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "off"};
  FUZZ_CHECK(levels.count(cfg.log.level) == 1);
  FUZZ_CHECK(cfg.log.access != "false");

  std::set<std::string> names;
  for (const auto& ch : cfg.channels) {
    FUZZ_CHECK(!ch.name.empty());
    FUZZ_CHECK(names.insert(ch.name).second);
    FUZZ_CHECK(!ch.models.empty());
    for (const auto& m : ch.models) {
      FUZZ_CHECK(!m.public_name.empty() && !m.upstream_name.empty());
    }
    for (const auto& k : ch.api_keys)
      FUZZ_CHECK(!k.empty());
    FUZZ_CHECK(ch.weight >= 1 && ch.weight <= 1000000);
    FUZZ_CHECK(ch.timeouts.connect >= 1ms && ch.timeouts.first_byte >= 1ms &&
               ch.timeouts.idle >= 1ms && ch.timeouts.total >= 1ms);
    FUZZ_CHECK(ch.mock.latency >= 0ms && ch.mock.chunk_delay >= 0ms);
    FUZZ_CHECK(ch.mock.words >= 1 && ch.mock.chunks >= 1);
    if (ch.type != sy::channel_type::mock) {
      FUZZ_CHECK(starts_with(ch.base_url, "http://") || starts_with(ch.base_url, "https://"));
      FUZZ_CHECK(ch.base_url.back() != '/');
    }
    FUZZ_CHECK(sy::find_vendor(ch.vendor) && sy::find_vendor(ch.vendor)->type == ch.type);
  }
  std::set<std::string> keys;
  for (const auto& k : cfg.keys) {
    FUZZ_CHECK(k.key.size() >= 8 && starts_with(k.key, "sk-"));
    FUZZ_CHECK(keys.insert(k.key).second);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  const sy::env_lookup env = fake_env;
  try {
    auto result = sy::parse_config(text, "fuzz.yaml", env);
    if (auto* err = std::get_if<sy::config_error>(&result)) {
      FUZZ_CHECK(starts_with(err->message, "fuzz.yaml"));
    } else {
      check_config(std::get<sy::config>(result));
    }
    if (text.find("${") == std::string::npos) {
      std::string missing;
      FUZZ_CHECK(sy::substitute_env(text, env, &missing) == text);
      FUZZ_CHECK(missing.empty());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parse_config threw %s: %s\n", typeid(e).name(), e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "parse_config threw a non-std exception\n");
    std::abort();
  }
  return 0;
}
