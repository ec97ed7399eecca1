#include "billing/usage_query.h"

#include "common/civil_time.h"
#include "common/json.h"
#include "common/percent.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace sy::billing {
namespace {

using civil::civil_from_days;
using civil::days_from_civil;
using civil::parse_rfc3339_ms;

// 10000-01-01T00:00:00Z in unix milliseconds: past the last instant RFC 3339 can write.
constexpr std::int64_t end_of_time_ms = 253402300800000;

std::string_view group_name(group_by by) {
  switch (by) {
    case group_by::key:
      return "key";
    case group_by::user:
      return "user";
    case group_by::model:
      return "model";
    case group_by::channel:
      return "channel";
    case group_by::day:
      return "day";
  }
  return "";
}

// Groups whose "" means "none" (rows of config-file keys, of keys without a user): null in JSON.
bool empty_is_none(group_by by) {
  return by == group_by::key || by == group_by::user;
}

void append_int(std::string& out, std::int64_t v) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  out.append(buffer, end);
}

// Writes `name:value` pairs of the sums (no braces).
void append_sums(std::string& out, const usage_group& g, const display_currency& currency) {
  const std::pair<std::string_view, std::int64_t> counts[] = {
      {"requests", g.requests},
      {"input_tokens", g.input_tokens},
      {"cached_input_tokens", g.cached_input_tokens},
      {"cache_write_tokens", g.cache_write_tokens},
      {"cache_write_5m_tokens", g.cache_write_5m_tokens},
      {"cache_write_1h_tokens", g.cache_write_1h_tokens},
      {"output_tokens", g.output_tokens},
      {"reasoning_tokens", g.reasoning_tokens},
      {"estimated_requests", g.estimated_requests},
      {"unknown_cost_requests", g.unknown_cost_requests},
  };
  bool first = true;
  for (const auto& [name, v] : counts) {
    if (!first) out += ',';
    first = false;
    json::append_quoted(out, name);
    out += ':';
    append_int(out, v);
  }
  out += R"(,"cost_usd":)";
  out += format_nano_usd(g.cost_nano_usd);
  if (!currency.code.empty()) {
    out += R"(,"cost":)";
    out += format_in_currency(g.cost_nano_usd, currency);
    out += R"(,"currency":)";
    json::append_quoted(out, currency.code);
  }
}

// A whole number of 10^-scale units as a decimal, trailing zeros dropped.
std::string format_fixed(std::int64_t units, int scale) {
  const bool negative = units < 0;
  // Via unsigned: INT64_MIN has no positive counterpart.
  std::uint64_t magnitude =
      negative ? 0 - static_cast<std::uint64_t>(units) : static_cast<std::uint64_t>(units);
  std::uint64_t unit = 1;
  for (int i = 0; i < scale; ++i)
    unit *= 10;
  std::string out = negative ? "-" : "";
  out += std::to_string(magnitude / unit);
  std::uint64_t fraction = magnitude % unit;
  if (fraction == 0) return out;
  std::string digits_text = std::to_string(fraction);
  digits_text.insert(0, static_cast<std::size_t>(scale) - digits_text.size(), '0');
  while (!digits_text.empty() && digits_text.back() == '0')
    digits_text.pop_back();
  out += '.';
  out += digits_text;
  return out;
}

}  // namespace

// ---- times

std::optional<std::int64_t> parse_time_ms(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    std::int64_t seconds = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    if (seconds >= end_of_time_ms / 1000) return std::nullopt;
    return seconds * 1000;
  }
  auto ms = parse_rfc3339_ms(text);
  if (!ms || *ms < 0 || *ms >= end_of_time_ms) return std::nullopt;
  return ms;
}

std::string format_time_ms(std::int64_t ms) {
  return civil::format_rfc3339_ms(ms);
}

std::int64_t month_start_ms(std::int64_t ms) {
  std::int64_t days = ms / 86'400'000;
  if (ms % 86'400'000 < 0) --days;
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  return days_from_civil(y, m, 1) * 86'400'000;
}

// ---- the query

std::variant<usage_query, usage_query_error> parse_usage_query(std::string_view raw,
                                                               const usage_query_rules& rules,
                                                               std::int64_t now_ms) {
  std::optional<std::string> group_text, from_text, to_text, key_id, user_id;
  while (!raw.empty()) {
    const auto amp = raw.find('&');
    const auto piece = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view{} : raw.substr(amp + 1);
    if (piece.empty()) continue;
    const auto eq = piece.find('=');
    auto name = percent_decode(piece.substr(0, eq));
    if (!name) return usage_query_error{"", "the query string has an invalid %-escape"};
    auto value = percent_decode(eq == std::string_view::npos ? "" : piece.substr(eq + 1));
    if (!value) return usage_query_error{*name, "the query parameter has an invalid %-escape"};
    std::optional<std::string>* slot = nullptr;
    if (*name == "group_by") slot = &group_text;
    if (*name == "from") slot = &from_text;
    if (*name == "to") slot = &to_text;
    if (rules.filters && *name == "key_id") slot = &key_id;
    if (rules.filters && *name == "user_id") slot = &user_id;
    if (!slot) return usage_query_error{*name, "unknown query parameter"};
    if (value->empty()) {
      slot->reset();
    } else {
      *slot = std::move(*value);
    }
  }

  usage_query out;
  if (group_text) {
    auto by = parse_group_by(*group_text);
    if (!by || std::find(rules.groups.begin(), rules.groups.end(), *by) == rules.groups.end()) {
      std::string allowed;
      for (auto g : rules.groups) {
        if (!allowed.empty()) allowed += ", ";
        allowed += group_name(g);
      }
      return usage_query_error{"group_by", "group_by must be one of " + allowed};
    }
    out.by = by;
  }
  const auto time_error = [](std::string_view name) {
    return usage_query_error{std::string(name),
                             std::string(name) +
                                 " must be an RFC 3339 time (2026-11-26T12:00:00Z) or unix "
                                 "seconds, from 1970 to 9999"};
  };
  out.to_ms = now_ms;
  if (to_text) {
    auto t = parse_time_ms(*to_text);
    if (!t) return time_error("to");
    out.to_ms = *t;
  }
  out.from_ms = month_start_ms(std::max<std::int64_t>(out.to_ms - 1, 0));
  if (from_text) {
    auto t = parse_time_ms(*from_text);
    if (!t) return time_error("from");
    out.from_ms = *t;
  }
  if (out.from_ms > out.to_ms) {
    return usage_query_error{"from", "from (" + format_time_ms(out.from_ms) + ") is after to (" +
                                         format_time_ms(out.to_ms) + ")"};
  }
  out.key_id = std::move(key_id);
  out.user_id = std::move(user_id);
  return out;
}

// ---- money

std::string format_nano_usd(std::int64_t nano) {
  return format_fixed(nano, 9);
}

std::string format_in_currency(std::int64_t nano_usd, const display_currency& c) {
  // To millionths of the currency: nano-USD x rate / 1000. A long double carries the 64-bit
  // product without losing a unit at the sums a ledger reaches.
  const long double micro = static_cast<long double>(nano_usd) * c.rate / 1000.0L;
  return format_fixed(static_cast<std::int64_t>(std::llround(micro)), 6);
}

// ---- answers

std::string usage_json(const usage_report& report, group_by by, std::int64_t from_ms,
                       std::int64_t to_ms, const display_currency& currency) {
  std::string out;
  out.reserve(256 + report.data.size() * 400);
  out += R"({"group_by":)";
  json::append_quoted(out, group_name(by));
  out += R"(,"from":)";
  json::append_quoted(out, format_time_ms(from_ms));
  out += R"(,"to":)";
  json::append_quoted(out, format_time_ms(to_ms));
  if (!currency.code.empty()) {
    out += R"(,"currency":)";
    json::append_quoted(out, currency.code);
  }
  out += R"(,"data":[)";
  bool first = true;
  for (const auto& g : report.data) {
    out += first ? "{" : ",{";
    first = false;
    const bool none = g.group.empty() && empty_is_none(by);
    out += R"("group":)";
    if (none) {
      out += "null";
    } else {
      json::append_quoted(out, g.group);
    }
    if (by == group_by::key) {
      out += R"(,"name":)";
      if (none) {
        out += "null";
      } else {
        json::append_quoted(out, g.name);
      }
    }
    out += ',';
    append_sums(out, g, currency);
    out += '}';
  }
  out += R"(],"total":{)";
  append_sums(out, report.total, currency);
  out += "}}";
  return out;
}

void append_csv_field(std::string& out, std::string_view value, bool text) {
  const bool formula = text && !value.empty() &&
                       (value[0] == '=' || value[0] == '+' || value[0] == '-' || value[0] == '@' ||
                        value[0] == '\t' || value[0] == '\r');
  const bool quote = value.find_first_of(",\"\r\n") != std::string_view::npos;
  if (quote) out += '"';
  if (formula) out += '\'';
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  if (quote) out += '"';
}

std::string usage_csv(const usage_report& report, group_by by, const display_currency& currency) {
  std::string out;
  out.reserve(256 + report.data.size() * 160);
  out += group_name(by);
  if (by == group_by::key) out += ",name";
  out +=
      ",requests,input_tokens,cached_input_tokens,cache_write_tokens,cache_write_5m_tokens,"
      "cache_write_1h_tokens,output_tokens,reasoning_tokens,estimated_requests,"
      "unknown_cost_requests,cost_usd";
  if (!currency.code.empty()) {
    out += ",cost_";
    append_csv_field(out, currency.code);
  }
  out += "\r\n";
  for (const auto& g : report.data) {
    append_csv_field(out, g.group);
    if (by == group_by::key) {
      out += ',';
      append_csv_field(out, g.name);
    }
    for (auto v : {g.requests, g.input_tokens, g.cached_input_tokens, g.cache_write_tokens,
                   g.cache_write_5m_tokens, g.cache_write_1h_tokens, g.output_tokens,
                   g.reasoning_tokens, g.estimated_requests, g.unknown_cost_requests}) {
      out += ',';
      append_int(out, v);
    }
    out += ',';
    out += format_nano_usd(g.cost_nano_usd);
    if (!currency.code.empty()) {
      out += ',';
      out += format_in_currency(g.cost_nano_usd, currency);
    }
    out += "\r\n";
  }
  return out;
}

std::string ledger_csv_header() {
  return "time,request_id,key_id,key_name,user_id,api,model,channel,upstream_model,input_tokens,"
         "cached_input_tokens,cache_write_5m_tokens,cache_write_1h_tokens,output_tokens,"
         "reasoning_tokens,estimated,cost_usd,status,duration_ms,ttfb_ms\r\n";
}

void append_ledger_csv(std::string& out, const ledger_row& r) {
  out += format_time_ms(r.at);
  for (const auto* text :
       {&r.request_id, r.key_id ? &*r.key_id : nullptr, &r.key_name,
        r.user_id ? &*r.user_id : nullptr, &r.api, &r.model, &r.channel, &r.upstream_model}) {
    out += ',';
    if (text) append_csv_field(out, *text);
  }
  for (auto v : {r.input_tokens, r.cached_input_tokens, r.cache_write_5m_tokens,
                 r.cache_write_1h_tokens, r.output_tokens, r.reasoning_tokens}) {
    out += ',';
    append_int(out, v);
  }
  out += r.estimated ? ",true," : ",false,";
  if (r.cost_nano_usd) out += format_nano_usd(*r.cost_nano_usd);
  out += ',';
  append_int(out, r.status);
  out += ',';
  append_int(out, r.duration_ms);
  out += ',';
  if (r.ttfb_ms) append_int(out, *r.ttfb_ms);
  out += "\r\n";
}

}  // namespace sy::billing
