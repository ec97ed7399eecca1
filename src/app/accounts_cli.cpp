// `switchyard users ...` and `switchyard keys ...`: flags to an admin API request, the request run
// by admin::handle on the store, the answer printed as JSON (--json) or as a table or summary.
#include "app/accounts_cli.h"

#include "admin/admin.h"
#include "common/crypto.h"
#include "common/log.h"
#include "config/config.h"
#include "store/migrations.h"
#include "store/sql.h"

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace sy {
namespace {

// Exit statuses (docs/cli.md).
constexpr int exit_ok = 0;
constexpr int exit_failed = 1;  // refused by the API, or no store to work on
constexpr int exit_usage = 2;   // bad flags, invalid config file

// Every flag of every accounts command: only one command runs, so they share one set.
struct flags {
  std::string config;
  std::string database;
  bool json = false;

  std::string id;
  std::string name;
  std::string email;
  std::string role;
  std::string enabled;
  std::vector<std::string> models;
  std::string user;
  std::string expires;
  std::int64_t rpm = 0;
  std::int64_t tpm = 0;
  std::int64_t max_concurrency = 0;
  std::vector<std::string> allow_ips;
  bool require_signature = false;
  std::string metadata;
  std::string budget_usd;
  std::string budget_period;
  std::int64_t limit = 0;
  std::string cursor;
  std::int64_t grace = 0;

  std::string group_by;
  std::string from;
  std::string to;
  std::string key;
  bool csv = false;
};

// What a command prints on success (human output; --json prints the body as is).
enum class shape {
  user_created,
  user_shown,
  user_updated,
  user_list,
  key_created,
  key_shown,
  key_revoked,
  key_list,
  key_rotated,
  usage_report,
  usage_csv,  // printed as received
};

// The API's field names, as the flags that set them.
std::string flag_of(std::string_view field) {
  if (field == "user_id") return "--user";
  if (field == "expires_at") return "--expires";
  if (field == "max_concurrency") return "--max-concurrency";
  if (field == "allowed_ips") return "--allow-ip";
  if (field == "require_signature") return "--require-signature";
  if (field == "grace_seconds") return "--grace";
  if (field == "group_by") return "--group-by";
  if (field == "key_id") return "--key";
  if (field == "budget_usd") return "--budget-usd";
  if (field == "budget_period") return "--budget-period";
  if (field == "from" || field == "to") return "--" + std::string(field);
  if (field == "name" || field == "email" || field == "role" || field == "enabled" ||
      field == "models" || field == "rpm" || field == "tpm" || field == "metadata" ||
      field == "limit" || field == "cursor")
    return "--" + std::string(field);
  return "";
}

std::string percent_encode(std::string_view s) {
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += fmt::format("%{:02X}", ch);
    }
  }
  return out;
}

void add_param(std::string& query, std::string_view name, std::string_view value) {
  if (!query.empty()) query += '&';
  query += name;
  query += '=';
  query += percent_encode(value);
}

// "2027-01-15T08:00:00Z" (as the API writes times) to unix seconds.
std::optional<std::int64_t> parse_utc(std::string_view s) {
  std::tm tm{};
  char z = 0;
  std::string text(s);
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z) != 7 ||
      z != 'Z')
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm));
}

// "1d 2h", "3h 5m", "45s": a duration for people, its two largest units.
std::string human_duration(std::int64_t seconds) {
  if (seconds <= 0) return "0s";
  const std::pair<std::int64_t, const char*> parts[] = {{seconds / 86400, "d"},
                                                        {seconds % 86400 / 3600, "h"},
                                                        {seconds % 3600 / 60, "m"},
                                                        {seconds % 60, "s"}};
  std::string out;
  int shown = 0;
  for (const auto& [n, unit] : parts) {
    if (shown == 2 || (shown == 0 && n == 0)) continue;
    ++shown;
    if (n != 0) out += (out.empty() ? "" : " ") + std::to_string(n) + unit;
  }
  return out;
}

// ---- rendering

// A decimal number as people write it: "12.5", "0.000001" (never "1.25E1" or "1e-06"). The API
// writes an amount of USD with at most 9 decimal places: the shortest text that reads back as the
// double is that amount.
std::string decimal(double d) {
  std::string text = fmt::format("{}", d);
  if (text.find_first_of("eE") == std::string::npos) return text;
  text = fmt::format("{:.9f}", d);
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.') text.pop_back();
  return text;
}

// One JSON value as a table cell: null "-", booleans yes/no, lists joined with ",", numbers as
// decimals.
std::string cell(const boost::json::value* v) {
  if (!v || v->is_null()) return "-";
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_bool()) return v->get_bool() ? "yes" : "no";
  if (v->is_double()) return decimal(v->get_double());
  if (v->is_array()) {
    if (v->get_array().empty()) return "-";
    std::string out;
    for (const auto& item : v->get_array())
      out += (out.empty() ? "" : ",") + cell(&item);
    return out;
  }
  if (v->is_object() && v->get_object().empty()) return "-";
  return boost::json::serialize(*v);
}

std::string field(const boost::json::object& o, std::string_view name) {
  return cell(o.if_contains(name));
}

// An aligned table: columns from `first_number` on are numbers, aligned to the right.
void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows,
                 std::size_t first_number = std::string::npos) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i)
    width[i] = header[i].size();
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  auto line = [&](const std::vector<std::string>& r) {
    std::string out;
    for (std::size_t i = 0; i < r.size(); ++i) {
      const std::string pad(width[i] - r[i].size(), ' ');
      if (i) out += "  ";
      if (i >= first_number) {
        out += pad + r[i];
      } else {
        out += r[i];
        if (i + 1 < r.size()) out += pad;
      }
    }
    std::printf("%s\n", out.c_str());
  };
  line(header);
  for (const auto& r : rows)
    line(r);
}

// The fields of one user or key, one per line, in the API's order (the secrets excepted).
void print_fields(const boost::json::object& o) {
  std::size_t width = 0;
  for (const auto& kv : o)
    width = std::max(width, kv.key().size());
  for (const auto& kv : o) {
    if (kv.key() == "id" || kv.key() == "key" || kv.key() == "signing_secret") continue;
    std::printf("  %-*s  %s\n", static_cast<int>(width), std::string(kv.key()).c_str(),
                cell(&kv.value()).c_str());
  }
}

// A key's state, as one word.
std::string key_status(const boost::json::object& k, std::int64_t now) {
  if (auto* r = k.if_contains("revoked_at"); r && !r->is_null()) return "revoked";
  if (auto* e = k.if_contains("enabled"); e && e->is_bool() && !e->get_bool()) return "disabled";
  if (auto* x = k.if_contains("expires_at"); x && x->is_string()) {
    if (auto at = parse_utc(x->get_string()); at && *at <= now) return "expired";
  }
  return "active";
}

std::string key_limits(const boost::json::object& k) {
  std::string out;
  for (auto [name, label] :
       {std::pair{"rpm", "rpm"}, {"tpm", "tpm"}, {"max_concurrency", "conc"}}) {
    auto* v = k.if_contains(name);
    if (!v || v->is_null()) continue;
    out += (out.empty() ? "" : " ") + std::string(label) + "=" + cell(v);
  }
  return out.empty() ? "-" : out;
}

// A user's or key's budget, as one cell: "12.5/month", or "-" without one.
std::string budget(const boost::json::object& o) {
  const auto* usd = o.if_contains("budget_usd");
  if (!usd || usd->is_null()) return "-";
  return cell(usd) + "/" + field(o, "budget_period");
}

void print_more(const boost::json::object& page, const char* command) {
  auto* next = page.if_contains("next_cursor");
  if (next && next->is_string()) {
    std::printf("(more: switchyard %s --cursor %s)\n", command,
                std::string(next->get_string()).c_str());
  }
}

void warn_secret_once() {
  std::fprintf(stderr,
               "switchyard: store the secret now: it is not stored anywhere and will not be "
               "shown again.\n");
}

// ---- the usage report

bool is_number(const boost::json::value* v) {
  return v && (v->is_int64() || v->is_uint64() || v->is_double());
}

// A sum of the report as a table cell: integers as they are; cost_usd and cost in the JSON
// text's own digits (never re-rounded through a double).
std::string amount(const boost::json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  if (!is_number(v)) return "-";
  if (v->is_double()) {
    // The API wrote the exact decimal: the shortest text that reads back as this double is it.
    std::string text = fmt::format("{}", v->get_double());
    if (text.find('e') == std::string::npos) return text;
    return fmt::format("{:.9f}", v->get_double());
  }
  return boost::json::serialize(*v);
}

void print_usage(const boost::json::object& o) {
  const std::string by = field(o, "group_by");
  const auto* currency = o.if_contains("currency");
  const std::string code =
      currency && currency->is_string() ? std::string(currency->get_string()) : std::string();
  std::vector<std::string> header;
  std::string upper = by;
  for (auto& ch : upper)
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  header.push_back(upper);
  if (by == "key") header.push_back("NAME");
  const std::size_t first_number = header.size();
  for (const char* h :
       {"REQUESTS", "INPUT", "CACHED", "CACHE_WRITE", "OUTPUT", "REASONING", "COST_USD"})
    header.emplace_back(h);
  if (!code.empty()) header.push_back("COST_" + code);

  auto line_of = [&](const boost::json::object& g, std::vector<std::string> cells) {
    for (const char* name : {"requests", "input_tokens", "cached_input_tokens",
                             "cache_write_tokens", "output_tokens", "reasoning_tokens", "cost_usd"})
      cells.push_back(amount(g, name));
    if (!code.empty()) cells.push_back(amount(g, "cost"));
    return cells;
  };
  std::vector<std::vector<std::string>> rows;
  if (auto* data = o.if_contains("data"); data && data->is_array()) {
    for (const auto& v : data->get_array()) {
      if (!v.is_object()) continue;
      const auto& g = v.get_object();
      std::vector<std::string> cells{field(g, "group")};
      if (by == "key") cells.push_back(field(g, "name"));
      rows.push_back(line_of(g, std::move(cells)));
    }
  }
  std::printf("usage from %s to %s, by %s\n", field(o, "from").c_str(), field(o, "to").c_str(),
              by.c_str());
  if (rows.empty()) {
    std::printf("no requests in this range\n");
    return;
  }
  const boost::json::object empty;
  const auto* total_value = o.if_contains("total");
  const auto& total = total_value && total_value->is_object() ? total_value->get_object() : empty;
  std::vector<std::string> total_cells{"TOTAL"};
  if (by == "key") total_cells.emplace_back("");
  rows.push_back(line_of(total, std::move(total_cells)));

  // Aligned: text columns to the left, numbers to the right.
  print_table(header, rows, first_number);

  const auto count = [&](std::string_view name) {
    const auto* v = total.if_contains(name);
    return v && v->is_int64() ? v->get_int64() : 0;
  };
  if (auto n = count("unknown_cost_requests")) {
    std::printf("%lld %s no known price: %s not in the sums\n", static_cast<long long>(n),
                n == 1 ? "request has" : "requests have", n == 1 ? "its cost is" : "their cost is");
  }
  if (auto n = count("estimated_requests")) {
    std::printf("%lld %s estimated token counts\n", static_cast<long long>(n),
                n == 1 ? "request has" : "requests have");
  }
}

void render(shape what, const boost::json::object& o) {
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  switch (what) {
    case shape::user_created:
    case shape::user_shown:
    case shape::user_updated: {
      const char* verb = what == shape::user_created   ? "created user "
                         : what == shape::user_updated ? "updated user "
                                                       : "user ";
      std::printf("%s%s\n", verb, field(o, "id").c_str());
      print_fields(o);
      return;
    }
    case shape::user_list: {
      std::vector<std::vector<std::string>> rows;
      if (auto* data = o.if_contains("data"); data && data->is_array()) {
        for (const auto& v : data->get_array()) {
          if (!v.is_object()) continue;
          const auto& u = v.get_object();
          rows.push_back({field(u, "id"), field(u, "name"), field(u, "role"), field(u, "enabled"),
                          field(u, "models"), budget(u), field(u, "email"),
                          field(u, "created_at")});
        }
      }
      if (rows.empty()) {
        std::printf("no users\n");
      } else {
        print_table({"ID", "NAME", "ROLE", "ENABLED", "MODELS", "BUDGET", "EMAIL", "CREATED"},
                    rows);
      }
      print_more(o, "users list");
      return;
    }
    case shape::key_created:
    case shape::key_shown:
    case shape::key_revoked: {
      const char* verb = what == shape::key_created   ? "created key "
                         : what == shape::key_revoked ? "revoked key "
                                                      : "key ";
      std::printf("%s%s\n", verb, field(o, "id").c_str());
      print_fields(o);
      if (auto* k = o.if_contains("key"); k && k->is_string()) {
        std::printf("\nkey:            %s\n", std::string(k->get_string()).c_str());
      }
      if (auto* s = o.if_contains("signing_secret"); s && s->is_string()) {
        std::printf("signing secret: %s\n", std::string(s->get_string()).c_str());
      }
      return;
    }
    case shape::key_list: {
      std::vector<std::vector<std::string>> rows;
      if (auto* data = o.if_contains("data"); data && data->is_array()) {
        for (const auto& v : data->get_array()) {
          if (!v.is_object()) continue;
          const auto& k = v.get_object();
          rows.push_back({field(k, "id"), field(k, "name"), field(k, "user_id"), field(k, "prefix"),
                          field(k, "models"), key_status(k, now), field(k, "expires_at"),
                          key_limits(k), budget(k)});
        }
      }
      if (rows.empty()) {
        std::printf("no keys\n");
      } else {
        print_table(
            {"ID", "NAME", "USER", "PREFIX", "MODELS", "STATUS", "EXPIRES", "LIMITS", "BUDGET"},
            rows);
      }
      print_more(o, "keys list");
      return;
    }
    case shape::usage_report:
      print_usage(o);
      return;
    case shape::usage_csv:
      return;  // printed as received, by execute()
    case shape::key_rotated: {
      std::printf("rotated key %s\n", field(o, "id").c_str());
      std::printf("\nkey:            %s\n", field(o, "key").c_str());
      auto* until = o.if_contains("previous_valid_until");
      if (until && until->is_string()) {
        std::string when(until->get_string());
        auto at = parse_utc(when);
        std::printf("the previous secret keeps working until %s%s\n", when.c_str(),
                    at ? (" (" + human_duration(*at - now) + " from now)").c_str() : "");
      } else {
        std::printf("the previous secret no longer works\n");
      }
      return;
    }
  }
}

// ---- running one request

// The message of a refused call, on stderr: "switchyard: role (--role): ... [invalid_request]".
void print_error(const admin::response& answer, const std::string& id) {
  boost::system::error_code ec;
  auto parsed = boost::json::parse(answer.body, ec);
  std::string code, message, field_name;
  if (!ec && parsed.is_object()) {
    if (auto* e = parsed.get_object().if_contains("error"); e && e->is_object()) {
      const auto& err = e->get_object();
      if (auto* v = err.if_contains("code"); v && v->is_string()) code = v->get_string();
      if (auto* v = err.if_contains("message"); v && v->is_string()) message = v->get_string();
      if (auto* v = err.if_contains("field"); v && v->is_string()) field_name = v->get_string();
    }
  }
  if (message.empty()) message = "the call failed with status " + std::to_string(answer.status);
  std::string where;
  if (!field_name.empty()) {
    auto flag = flag_of(field_name);
    where = field_name + (flag.empty() ? "" : " (" + flag + ")") + ": ";
  }
  if (answer.status == 404 && !id.empty() && message.find(id) == std::string::npos) {
    message += ": " + id;
  }
  std::fprintf(stderr, "switchyard: %s%s%s\n", where.c_str(), message.c_str(),
               code.empty() ? "" : (" [" + code + "]").c_str());
}

// The config, as `serve` finds it: --config, else ./switchyard.yaml, else the embedded defaults.
// Not read at all when --database is given without --config.
std::variant<std::optional<config>, int> load_config(const flags& f) {
  if (f.config.empty() && !f.database.empty()) return std::optional<config>{};
  std::string path = f.config;
  if (path.empty() && std::filesystem::exists("switchyard.yaml")) path = "switchyard.yaml";
  auto loaded = path.empty() ? default_config() : load_config_file(path);
  if (auto* e = std::get_if<config_error>(&loaded)) {
    std::fprintf(stderr, "switchyard: invalid configuration: %s\n", e->message.c_str());
    return exit_usage;
  }
  return std::optional<config>(std::get<config>(std::move(loaded)));
}

int execute(const flags& f, const admin::request& req, shape what, const std::string& id) {
  log::init("warn", "off");  // the application log on stderr: stdout is the answer's

  auto loaded = load_config(f);
  if (auto* rc = std::get_if<int>(&loaded)) return *rc;
  auto& cfg = std::get<std::optional<config>>(loaded);
  std::string url = !f.database.empty() ? f.database : cfg->database;
  if (url == "none") {
    std::fprintf(stderr,
                 "switchyard: the configuration (%s) has `database: none`: there are no users, "
                 "keys or usage to manage; set `database:` or pass --database URL\n",
                 cfg ? cfg->source.c_str() : "--database");
    return exit_failed;
  }

  auto from_env = crypto::sealer::from_env();
  if (auto* e = std::get_if<std::string>(&from_env)) {
    std::fprintf(stderr, "switchyard: SWITCHYARD_SECRET_KEY: %s\n", e->c_str());
    return exit_failed;
  }
  const crypto::sealer* sealer = std::get_if<crypto::sealer>(&from_env);

  auto opened = store::open(url);
  if (auto* e = std::get_if<store::db_error>(&opened)) {
    std::fprintf(stderr, "switchyard: database %s: %s\n", store::redact_url(url).c_str(),
                 e->message.c_str());
    return exit_failed;
  }
  auto db = std::move(std::get<std::unique_ptr<store::connection>>(opened));
  if (auto e = store::migrate(*db)) {
    std::fprintf(stderr, "switchyard: database %s: migration failed: %s\n",
                 store::redact_url(url).c_str(), e->message.c_str());
    return exit_failed;
  }

  admin::caller who{"cli", "admin", std::nullopt, std::nullopt, ""};
  admin::environment env{*db, sealer, cfg ? &*cfg : nullptr, {}};
  auto answer = admin::handle(req, who, env);

  if (answer.status >= 400) {
    if (f.json) std::printf("%s\n", answer.body.c_str());
    print_error(answer, id);
    return exit_failed;
  }
  if (what == shape::usage_csv) {
    std::fwrite(answer.body.data(), 1, answer.body.size(), stdout);
  } else if (f.json) {
    std::printf("%s\n", answer.body.c_str());
  } else {
    boost::system::error_code ec;
    auto parsed = boost::json::parse(answer.body, ec);
    if (ec || !parsed.is_object()) {
      std::printf("%s\n", answer.body.c_str());
    } else {
      render(what, parsed.get_object());
    }
  }
  std::fflush(stdout);
  if (what == shape::key_created || what == shape::key_rotated) warn_secret_once();
  return exit_ok;
}

// An input refused before it reaches the API (it could not be put into the body): reported like
// the API's own refusals.
int refuse(const flags& f, std::string_view message, std::string_view field_name) {
  auto answer = admin::error_response(400, "invalid_request", message, field_name);
  if (f.json) std::printf("%s\n", answer.body.c_str());
  print_error(answer, "");
  return exit_failed;
}

boost::json::array string_array(const std::vector<std::string>& items) {
  boost::json::array out;
  for (const auto& s : items)
    out.emplace_back(s);
  return out;
}

// RFC 3339 text stays text; unix seconds become a number (the API reads both).
boost::json::value time_value(const std::string& s) {
  bool digits = !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
  if (digits && s.size() < 19) return static_cast<std::int64_t>(std::stoll(s));
  return boost::json::value(s);
}

// ---- the commands

class commands final : public accounts_commands {
 public:
  explicit commands(CLI::App& app) {
    auto* users = app.add_subcommand("users", "Manage users (admin, developer, viewer)");
    users->require_subcommand(1);
    auto* keys = app.add_subcommand("keys", "Manage gateway keys");
    keys->require_subcommand(1);

    users_create_ = users->add_subcommand("create", "Create a user");
    users_create_->add_option("--name", f_.name, "Display name")->required();
    add_role(users_create_)->required();
    users_create_->add_option("--email", f_.email, "Email address");
    add_models(users_create_,
               "Model globs bounding every key of this user, comma-separated (default: *)");
    add_budget(users_create_,
               "Spend limit in USD over --budget-period, for all the user's keys "
               "together (default: none)");
    add_store(users_create_);

    users_list_ = users->add_subcommand("list", "List users, ordered by id");
    add_page(users_list_);
    add_store(users_list_);

    users_show_ = users->add_subcommand("show", "Show one user");
    users_show_->add_option("ID", f_.id, "User id (usr_...)")->required();
    add_store(users_show_);

    users_update_ = users->add_subcommand("update", "Change a user (only the fields given)");
    users_update_->add_option("ID", f_.id, "User id (usr_...)")->required();
    users_update_->add_option("--name", f_.name, "Display name");
    users_update_->add_option("--email", f_.email, "Email address (\"\" removes it)");
    add_role(users_update_);
    users_update_
        ->add_option("--enabled", f_.enabled,
                     "false refuses every key of the user at once; true allows them again")
        ->check(CLI::IsMember({"true", "false"}));
    add_models(users_update_, "Replace the user's model globs, comma-separated");
    add_budget(users_update_,
               "Spend limit in USD over --budget-period, for all the user's keys together "
               "(none or \"\" removes it)");
    add_store(users_update_);

    keys_create_ = keys->add_subcommand("create", "Create a key (its secret is shown once)");
    keys_create_->add_option("--name", f_.name, "Name of the key")->required();
    keys_create_->add_option("--user", f_.user, "Owner's user id (default: no user)");
    add_models(keys_create_,
               "Model globs the key may use, comma-separated (default: its user's models)");
    keys_create_->add_option("--expires", f_.expires,
                             "Expiry: RFC 3339 (2027-06-30T00:00:00Z) or unix seconds");
    keys_create_->add_option("--rpm", f_.rpm, "Requests per minute");
    keys_create_->add_option("--tpm", f_.tpm, "Tokens per minute");
    keys_create_->add_option("--max-concurrency", f_.max_concurrency, "Requests in flight");
    keys_create_
        ->add_option("--allow-ip", f_.allow_ips,
                     "Client addresses allowed (CIDR or address); repeatable (default: any)")
        ->delimiter(',')
        ->allow_extra_args(false);
    keys_create_->add_flag("--require-signature", f_.require_signature,
                           "Requests must be HMAC-signed (needs SWITCHYARD_SECRET_KEY); the "
                           "signing secret is shown once");
    keys_create_->add_option("--metadata", f_.metadata, "A JSON object of your own");
    add_budget(keys_create_, "Spend limit in USD over --budget-period (default: none)");
    add_store(keys_create_);

    keys_list_ = keys->add_subcommand("list", "List keys, ordered by id (never their secrets)");
    keys_list_->add_option("--user", f_.user, "Only this user's keys");
    add_page(keys_list_);
    add_store(keys_list_);

    keys_show_ = keys->add_subcommand("show", "Show one key");
    keys_show_->add_option("ID", f_.id, "Key id (key_...)")->required();
    add_store(keys_show_);

    keys_revoke_ = keys->add_subcommand("revoke", "Revoke a key: it stops working, for good");
    keys_revoke_->add_option("ID", f_.id, "Key id (key_...)")->required();
    add_store(keys_revoke_);

    keys_rotate_ = keys->add_subcommand(
        "rotate", "Issue a new secret for a key; the old one works for a grace period");
    keys_rotate_->add_option("ID", f_.id, "Key id (key_...)")->required();
    keys_rotate_->add_option("--grace", f_.grace,
                             "Seconds the old secret keeps working, 0 to 2592000 (default: "
                             "86400; 0 stops it at once)");
    add_store(keys_rotate_);

    usage_ = app.add_subcommand(
        "usage", "Sum the ledger by key, user, model, channel or day (or export it as CSV)");
    usage_
        ->add_option("--group-by", f_.group_by,
                     "key, user, model, channel or day (default: day; with --csv: one line per "
                     "request unless given)")
        ->check(CLI::IsMember({"key", "user", "model", "channel", "day"}));
    usage_->add_option("--from", f_.from,
                       "Start, inclusive: RFC 3339 or unix seconds (default: the start of the "
                       "UTC month of --to)");
    usage_->add_option("--to", f_.to, "End, exclusive: RFC 3339 or unix seconds (default: now)");
    usage_->add_option("--key", f_.key, "Only this key's usage (key_...)");
    usage_->add_option("--user", f_.user, "Only this user's usage (usr_...)");
    auto* csv = usage_->add_flag("--csv", f_.csv,
                                 "Print CSV: every ledger row, or the groups with --group-by");
    add_store(usage_);
    csv->excludes(usage_->get_option("--json"));
  }

  std::optional<int> run() override {
    if (*users_create_) return users_create();
    if (*users_list_) return list("/admin/users", users_list_, shape::user_list);
    if (*users_show_) return show("/admin/users/", shape::user_shown);
    if (*users_update_) return users_update();
    if (*keys_create_) return keys_create();
    if (*keys_list_) return list("/admin/keys", keys_list_, shape::key_list);
    if (*keys_show_) return show("/admin/keys/", shape::key_shown);
    if (*keys_revoke_) {
      return execute(f_, {"DELETE", "/admin/keys/" + percent_encode(f_.id), "", ""},
                     shape::key_revoked, f_.id);
    }
    if (*keys_rotate_) return keys_rotate();
    if (*usage_) return usage();
    return std::nullopt;
  }

 private:
  CLI::Option* add_role(CLI::App* cmd) {
    return cmd->add_option("--role", f_.role, "admin, developer or viewer");
  }
  void add_models(CLI::App* cmd, const char* what) {
    cmd->add_option("--models", f_.models, what)->delimiter(',')->allow_extra_args(false);
  }
  void add_budget(CLI::App* cmd, const char* what) {
    cmd->add_option("--budget-usd", f_.budget_usd, what);
    cmd->add_option("--budget-period", f_.budget_period,
                    "What the budget covers: day or month (UTC, starting again each one) or total "
                    "(default: total)")
        ->check(CLI::IsMember({"day", "month", "total"}));
  }
  void add_page(CLI::App* cmd) {
    cmd->add_option("--limit", f_.limit, "Page size, 1 to 1000 (default 100)");
    cmd->add_option("--cursor", f_.cursor, "The next page: the cursor the previous page printed");
  }
  void add_store(CLI::App* cmd) {
    cmd->add_option("--config,-c", f_.config,
                    "YAML config file whose `database:` to use (default: ./switchyard.yaml if "
                    "present, else the embedded defaults)");
    cmd->add_option("--database", f_.database,
                    "Database URL, instead of the config's: sqlite:PATH or postgres://...");
    cmd->add_flag("--json", f_.json, "Print the API's JSON answer as is");
  }

  // --budget-usd as the text given (a JSON string: no digit lost to a double; the API checks it),
  // "none" or "" as null (no budget); --budget-period as is.
  void put_budget(CLI::App* cmd, boost::json::object& body) const {
    if (cmd->count("--budget-usd")) {
      if (f_.budget_usd.empty() || f_.budget_usd == "none") {
        body["budget_usd"] = nullptr;
      } else {
        body["budget_usd"] = f_.budget_usd;
      }
    }
    if (cmd->count("--budget-period")) body["budget_period"] = f_.budget_period;
  }

  int users_create() {
    boost::json::object body{{"name", f_.name}, {"role", f_.role}};
    if (users_create_->count("--email")) body["email"] = f_.email;
    if (users_create_->count("--models")) body["models"] = string_array(f_.models);
    put_budget(users_create_, body);
    return execute(f_, {"POST", "/admin/users", "", boost::json::serialize(body)},
                   shape::user_created, "");
  }

  int users_update() {
    boost::json::object body;
    auto* cmd = users_update_;
    if (cmd->count("--name")) body["name"] = f_.name;
    if (cmd->count("--email")) {
      if (f_.email.empty()) {
        body["email"] = nullptr;
      } else {
        body["email"] = f_.email;
      }
    }
    if (cmd->count("--role")) body["role"] = f_.role;
    if (cmd->count("--enabled")) body["enabled"] = f_.enabled == "true";
    if (cmd->count("--models")) body["models"] = string_array(f_.models);
    put_budget(cmd, body);
    return execute(
        f_, {"PATCH", "/admin/users/" + percent_encode(f_.id), "", boost::json::serialize(body)},
        shape::user_updated, f_.id);
  }

  int keys_create() {
    auto* cmd = keys_create_;
    boost::json::object body{{"name", f_.name}};
    if (cmd->count("--user")) body["user_id"] = f_.user;
    if (cmd->count("--models")) body["models"] = string_array(f_.models);
    if (cmd->count("--expires")) body["expires_at"] = time_value(f_.expires);
    if (cmd->count("--rpm")) body["rpm"] = f_.rpm;
    if (cmd->count("--tpm")) body["tpm"] = f_.tpm;
    if (cmd->count("--max-concurrency")) body["max_concurrency"] = f_.max_concurrency;
    if (cmd->count("--allow-ip")) body["allowed_ips"] = string_array(f_.allow_ips);
    if (f_.require_signature) body["require_signature"] = true;
    if (cmd->count("--metadata")) {
      boost::system::error_code ec;
      auto metadata = boost::json::parse(f_.metadata, ec);
      if (ec) return refuse(f_, "metadata is not valid JSON: " + ec.message(), "metadata");
      body["metadata"] = std::move(metadata);
    }
    put_budget(cmd, body);
    return execute(f_, {"POST", "/admin/keys", "", boost::json::serialize(body)},
                   shape::key_created, "");
  }

  int keys_rotate() {
    std::string body;
    if (keys_rotate_->count("--grace")) {
      body = boost::json::serialize(boost::json::object{{"grace_seconds", f_.grace}});
    }
    return execute(f_, {"POST", "/admin/keys/" + percent_encode(f_.id) + "/rotate", "", body},
                   shape::key_rotated, f_.id);
  }

  int list(const char* path, CLI::App* cmd, shape what) {
    std::string query;
    if (auto* user = cmd->get_option_no_throw("--user"); user && user->count()) {
      add_param(query, "user_id", f_.user);
    }
    if (cmd->count("--limit")) add_param(query, "limit", std::to_string(f_.limit));
    if (cmd->count("--cursor")) add_param(query, "cursor", f_.cursor);
    return execute(f_, {"GET", path, query, ""}, what, "");
  }

  int show(const char* path_prefix, shape what) {
    return execute(f_, {"GET", path_prefix + percent_encode(f_.id), "", ""}, what, f_.id);
  }

  int usage() {
    std::string query;
    if (usage_->count("--group-by")) add_param(query, "group_by", f_.group_by);
    if (usage_->count("--from")) add_param(query, "from", f_.from);
    if (usage_->count("--to")) add_param(query, "to", f_.to);
    if (usage_->count("--key")) add_param(query, "key_id", f_.key);
    if (usage_->count("--user")) add_param(query, "user_id", f_.user);
    if (f_.csv) {
      return execute(f_, {"GET", "/admin/usage/export.csv", query, ""}, shape::usage_csv, "");
    }
    return execute(f_, {"GET", "/admin/usage", query, ""}, shape::usage_report, "");
  }

  flags f_;
  CLI::App* usage_ = nullptr;
  CLI::App* users_create_ = nullptr;
  CLI::App* users_list_ = nullptr;
  CLI::App* users_show_ = nullptr;
  CLI::App* users_update_ = nullptr;
  CLI::App* keys_create_ = nullptr;
  CLI::App* keys_list_ = nullptr;
  CLI::App* keys_show_ = nullptr;
  CLI::App* keys_revoke_ = nullptr;
  CLI::App* keys_rotate_ = nullptr;
};

}  // namespace

std::unique_ptr<accounts_commands> add_accounts_commands(CLI::App& app) {
  return std::make_unique<commands>(app);
}

int usage_exit(CLI::App& app, const CLI::ParseError& e) {
  // CLI11 prints help and --version on stdout with status 0, and errors on stderr.
  return app.exit(e) == 0 ? exit_ok : exit_usage;
}

}  // namespace sy
