// The admin API's shapes (users, keys, times) and its input validation: fields, globs, CIDRs,
// times and the query string.
#include "admin/admin_internal.h"

#include "auth/cidr.h"
#include "billing/budget.h"
#include "common/civil_time.h"
#include "common/percent.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace sy::admin::detail {
namespace {

// 9999-12-31T23:59:59Z: the last instant RFC 3339 can write.
constexpr std::int64_t max_time = 253402300799;

// A JSON number that is an integer (1 and 1.0 are not the same to Boost.JSON; 1.0 is refused).
std::optional<std::int64_t> integer_of(const boost::json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(v.get_uint64());
  }
  return std::nullopt;
}

invalid wrong(std::string_view field, std::string message) {
  return invalid{std::string(field), std::move(message)};
}

}  // namespace

// ---- shapes

std::string format_time(std::int64_t t) {
  return civil::format_rfc3339(t);
}

std::optional<std::int64_t> parse_time(std::string_view s) {
  auto ms = civil::parse_rfc3339_ms(s);
  if (!ms) return std::nullopt;
  return *ms / 1000 - (*ms % 1000 < 0 ? 1 : 0);  // whole seconds, the fraction dropped
}

boost::json::value time_or_null(const std::optional<std::int64_t>& t) {
  if (!t) return nullptr;
  return boost::json::string(format_time(*t));
}

boost::json::array string_array(const std::vector<std::string>& items) {
  boost::json::array out;
  out.reserve(items.size());
  for (const auto& item : items)
    out.emplace_back(item);
  return out;
}

namespace {
boost::json::value integer_or_null(const std::optional<std::int64_t>& v) {
  if (!v) return nullptr;
  return *v;
}
}  // namespace

boost::json::object user_json(const store::user_row& u) {
  boost::json::object out;
  out["id"] = u.id;
  out["name"] = u.name;
  if (u.email) {
    out["email"] = *u.email;
  } else {
    out["email"] = nullptr;
  }
  out["role"] = u.role;
  out["models"] = string_array(u.models);
  out["enabled"] = u.enabled;
  out["budget_usd"] = usd_or_null(u.budget_nano_usd);
  out["budget_period"] = u.budget_period;
  out["created_at"] = format_time(u.created_at);
  return out;
}

boost::json::object key_json(const store::key_row& k) {
  boost::json::object out;
  out["id"] = k.id;
  out["name"] = k.name;
  if (k.user_id) {
    out["user_id"] = *k.user_id;
  } else {
    out["user_id"] = nullptr;
  }
  out["prefix"] = k.prefix;
  out["models"] = string_array(k.models);
  out["expires_at"] = time_or_null(k.expires_at);
  out["enabled"] = k.enabled;
  out["revoked_at"] = time_or_null(k.revoked_at);
  out["rpm"] = integer_or_null(k.rpm);
  out["tpm"] = integer_or_null(k.tpm);
  out["max_concurrency"] = integer_or_null(k.max_concurrency);
  out["allowed_ips"] = string_array(k.allowed_ips);
  out["require_signature"] = k.signing_secret.has_value();
  out["budget_usd"] = usd_or_null(k.budget_nano_usd);
  out["budget_period"] = k.budget_period;
  boost::system::error_code ec;
  auto metadata = boost::json::parse(k.metadata, ec);
  if (ec || !metadata.is_object()) metadata = boost::json::object{};
  out["metadata"] = std::move(metadata);
  out["created_at"] = format_time(k.created_at);
  out["updated_at"] = format_time(k.updated_at);
  return out;
}

// ---- input

std::variant<boost::json::object, invalid> parse_object(std::string_view body, bool empty_ok) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    if (empty_ok) return boost::json::object{};
    return invalid{"", "the body must be a JSON object"};
  }
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec) return invalid{"", "the body is not valid JSON: " + ec.message()};
  if (!v.is_object()) return invalid{"", "the body must be a JSON object"};
  return std::move(v.get_object());
}

std::optional<invalid> refuse_unknown(const boost::json::object& body,
                                      std::initializer_list<std::string_view> known) {
  for (const auto& member : body) {
    bool found = false;
    for (auto name : known)
      found = found || member.key() == name;
    if (!found) {
      std::string list;
      for (auto name : known) {
        if (!list.empty()) list += ", ";
        list += name;
      }
      return wrong(member.key(), "unknown field (expected one of: " + list + ")");
    }
  }
  return std::nullopt;
}

std::optional<invalid> read_name(const boost::json::value& v, std::string_view field,
                                 std::string& out) {
  if (!v.is_string()) return wrong(field, std::string(field) + " must be a string");
  const auto& s = v.get_string();
  if (s.empty()) return wrong(field, std::string(field) + " must not be empty");
  if (s.size() > max_name_bytes) {
    return wrong(field, std::string(field) + " must be at most " + std::to_string(max_name_bytes) +
                            " bytes");
  }
  out.assign(s.data(), s.size());
  return std::nullopt;
}

std::optional<invalid> read_bool(const boost::json::value& v, std::string_view field, bool& out) {
  if (!v.is_bool()) return wrong(field, std::string(field) + " must be true or false");
  out = v.get_bool();
  return std::nullopt;
}

std::optional<invalid> read_positive(const boost::json::value& v, std::string_view field,
                                     std::int64_t& out) {
  auto n = integer_of(v);
  if (!n || *n < 1) return wrong(field, std::string(field) + " must be a positive integer");
  out = *n;
  return std::nullopt;
}

std::optional<invalid> read_budget_usd(const boost::json::value& v,
                                       std::optional<std::int64_t>& out) {
  static constexpr char message[] =
      "budget_usd must be a non-negative amount of USD (at most 9 decimal places) or null";
  if (v.is_null()) {
    out.reset();
    return std::nullopt;
  }
  std::string text;
  if (v.is_string()) {
    text = v.get_string();
  } else if (v.is_int64() || v.is_uint64()) {
    text = boost::json::serialize(v);
  } else if (v.is_double() && std::isfinite(v.get_double())) {
    // The shortest text that reads back as the same double: what the client wrote ("0.1").
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double(), std::chars_format::fixed);
    if (ec != std::errc()) return wrong("budget_usd", message);
    text.assign(buf, end);
  } else {
    return wrong("budget_usd", message);
  }
  auto nano = billing::parse_usd_to_nano(text);
  if (!nano) return wrong("budget_usd", message);
  out = *nano;
  return std::nullopt;
}

std::optional<invalid> read_budget_period(const boost::json::value& v, std::string& out) {
  if (!v.is_string() || !billing::parse_budget_period(v.get_string())) {
    return wrong("budget_period", "budget_period must be one of day, month, total");
  }
  out = v.get_string();
  return std::nullopt;
}

boost::json::value usd_or_null(const std::optional<std::int64_t>& nano) {
  if (!nano) return nullptr;
  if (*nano % 1'000'000'000 == 0) return *nano / 1'000'000'000;
  return static_cast<double>(*nano) / 1e9;
}

std::optional<invalid> read_budget(const boost::json::object& body,
                                   std::optional<std::int64_t>& nano, std::string& period) {
  if (const auto* v = body.if_contains("budget_usd")) {
    if (auto why = read_budget_usd(*v, nano)) return why;
  }
  if (const auto* v = body.if_contains("budget_period")) {
    if (auto why = read_budget_period(*v, period)) return why;
  }
  return std::nullopt;
}

std::optional<invalid> read_budget_patch(const boost::json::object& body,
                                         store::nullable<std::int64_t>& nano,
                                         std::optional<std::string>& period,
                                         boost::json::object& changes) {
  if (const auto* v = body.if_contains("budget_usd")) {
    auto& set = nano.emplace();
    if (auto why = read_budget_usd(*v, set)) return why;
    changes["budget_usd"] = usd_or_null(set);
  }
  if (const auto* v = body.if_contains("budget_period")) {
    std::string text;
    if (auto why = read_budget_period(*v, text)) return why;
    changes["budget_period"] = text;
    period = std::move(text);
  }
  return std::nullopt;
}

std::optional<invalid> read_models(const boost::json::value& v, std::vector<std::string>& out) {
  if (!v.is_array() || v.get_array().empty()) {
    return wrong("models", "models must be a non-empty list of model names or globs");
  }
  const auto& items = v.get_array();
  if (items.size() > max_list_items) {
    return wrong("models", "models may list at most " + std::to_string(max_list_items) + " items");
  }
  out.clear();
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& item = items[i];
    if (!item.is_string() || item.get_string().empty() ||
        item.get_string().size() > max_pattern_bytes) {
      return wrong("models", "models[" + std::to_string(i) + "] must be a non-empty string of at " +
                                 "most " + std::to_string(max_pattern_bytes) + " bytes");
    }
    out.emplace_back(item.get_string());
  }
  return std::nullopt;
}

std::optional<invalid> read_cidrs(const boost::json::value& v, std::vector<std::string>& out) {
  if (!v.is_array()) return wrong("allowed_ips", "allowed_ips must be a list of CIDRs");
  const auto& items = v.get_array();
  if (items.size() > max_list_items) {
    return wrong("allowed_ips",
                 "allowed_ips may list at most " + std::to_string(max_list_items) + " items");
  }
  out.clear();
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string where = "allowed_ips[" + std::to_string(i) + "]";
    if (!items[i].is_string()) {
      return wrong("allowed_ips", where + " must be a CIDR such as 10.0.0.0/8 or 2001:db8::/32");
    }
    // The key table's parser: what is accepted here is what the data plane enforces.
    auto parsed = cidr::parse(items[i].get_string());
    if (auto* error = std::get_if<std::string>(&parsed)) {
      return wrong("allowed_ips", where + ": " + *error);
    }
    out.push_back(std::get<cidr>(parsed).to_string());
  }
  return std::nullopt;
}

std::optional<invalid> read_expiry(const boost::json::value& v, std::int64_t now,
                                   std::int64_t& out) {
  std::optional<std::int64_t> t;
  if (v.is_string()) {
    t = parse_time(v.get_string());
  } else {
    t = integer_of(v);
  }
  if (!t || *t < 0 || *t > max_time) {
    return wrong("expires_at",
                 "expires_at must be an RFC 3339 time (2026-11-26T12:00:00Z) or unix seconds");
  }
  if (*t <= now) return wrong("expires_at", "expires_at must be in the future");
  out = *t;
  return std::nullopt;
}

std::optional<invalid> read_metadata(const boost::json::value& v, std::string& out) {
  if (!v.is_object()) return wrong("metadata", "metadata must be a JSON object");
  out = boost::json::serialize(v);
  if (out.size() > max_metadata_bytes) {
    return wrong("metadata", "metadata must be at most 16 KiB of JSON");
  }
  return std::nullopt;
}

bool glob_covers(std::string_view bound, std::string_view requested) {
  // covered[i][j]: bound[i..] covers requested[j..]; small patterns, so a plain table.
  const std::size_t nb = bound.size(), nr = requested.size();
  std::vector<char> covered((nb + 1) * (nr + 1), 0);
  auto at = [&](std::size_t i, std::size_t j) -> char& { return covered[i * (nr + 1) + j]; };
  at(nb, nr) = 1;
  for (std::size_t i = nb; i-- > 0;) {
    for (std::size_t j = nr + 1; j-- > 0;) {
      const char b = bound[i];
      if (b == '*') {
        at(i, j) = at(i + 1, j) || (j < nr && at(i, j + 1));
      } else if (j < nr) {
        const char r = requested[j];
        const bool one = b == '?' ? r != '*' : r == b && r != '*' && r != '?';
        at(i, j) = one && at(i + 1, j + 1);
      }
    }
  }
  return at(0, 0);
}

// ---- query string

std::variant<std::vector<query_param>, invalid> parse_query(std::string_view query) {
  std::vector<query_param> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (piece.empty()) continue;
    auto eq = piece.find('=');
    auto name = percent_decode(piece.substr(0, eq));
    if (!name) return invalid{"", "the query string has an invalid %-escape"};
    auto value = percent_decode(eq == std::string_view::npos ? "" : piece.substr(eq + 1));
    if (!value) return invalid{*name, "the query parameter has an invalid %-escape"};
    out.push_back({std::move(*name), std::move(*value)});
  }
  return out;
}

const std::string* find_param(const std::vector<query_param>& params, std::string_view name) {
  // The last one wins, as in most frameworks.
  const std::string* found = nullptr;
  for (const auto& p : params) {
    if (p.name == name) found = &p.value;
  }
  return found;
}

std::optional<invalid> read_page(const std::vector<query_param>& params, page_request& page,
                                 std::initializer_list<std::string_view> extra) {
  for (const auto& p : params) {
    bool known = p.name == "limit" || p.name == "cursor";
    for (auto name : extra)
      known = known || p.name == name;
    if (!known) return wrong(p.name, "unknown query parameter");
  }
  if (const auto* limit = find_param(params, "limit")) {
    std::size_t n = 0;
    auto [end, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), n);
    if (limit->empty() || ec != std::errc{} || end != limit->data() + limit->size() || n < 1 ||
        n > max_page) {
      return wrong("limit", "limit must be an integer from 1 to " + std::to_string(max_page));
    }
    page.limit = n;
  }
  if (const auto* cursor = find_param(params, "cursor")) {
    if (!cursor->empty()) page.cursor = *cursor;
  }
  return std::nullopt;
}

}  // namespace sy::admin::detail
