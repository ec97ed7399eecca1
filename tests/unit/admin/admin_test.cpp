// The admin operations (admin::handle) on a real store: SQLite always, PostgreSQL under the ctest
// entry store_postgres (the suite's name ends in "store_backend" for that).
#include "admin/admin.h"

#include "admin_fixture.h"

#include "../store/store_fixture.h"
#include "admin/admin_internal.h"
#include "common/crypto.h"
#include "store/accounts.h"
#include "store/migrations.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <algorithm>
#include <regex>
#include <set>
#include <tuple>

namespace sy::test {
namespace {

namespace json = boost::json;

// 2027-01-15T08:00:00Z
constexpr std::int64_t start_time = 1'800'000'000;

std::string text_of(const json::value& v) {
  return v.is_string() ? std::string(v.get_string()) : json::serialize(v);
}

crypto::sealer test_sealer() {
  auto made = crypto::sealer::from_secret("0123456789abcdef0123456789abcdef-test");
  return std::get<crypto::sealer>(std::move(made));
}

class admin_store_backend : public store_backend {
 protected:
  void SetUp() override {
    store_backend::SetUp();
    if (HasFatalFailure()) return;
    db_ = open();
    ASSERT_TRUE(db_);
    ASSERT_FALSE(store::migrate(*db_));
    accounts_ = std::make_unique<store::accounts>(*db_, [this] { return clock_; });
    env_ = std::make_unique<admin::environment>(
        admin::environment{*db_, &sealer_, nullptr, [this] { return clock_; }});
  }

  answer call(const admin::caller& who, std::string method, std::string path, std::string body = "",
              std::string query = "") {
    auto r = admin::handle({std::move(method), std::move(path), std::move(query), std::move(body)},
                           who, *env_);
    auto out = answer_of(r);
    answers_.push_back(r.body);
    return out;
  }

  // A user made through the API by the master key; its caller identity.
  admin::caller make_user(const std::string& name, const std::string& role,
                          const std::string& models = R"(["*"])") {
    auto a = call(master_, "POST", "/admin/users",
                  R"({"name":")" + name + R"(","role":")" + role + R"(","models":)" + models + "}");
    EXPECT_EQ(a.status, 201u) << a.text;
    return admin::caller{a.str("id"), role, a.str("id"), std::nullopt, "192.0.2.7"};
  }

  // A key owned by `owner` (made by the master key); returns its id and keeps its secret.
  std::string make_key(const admin::caller& owner, const std::string& name = "k") {
    auto a = call(master_, "POST", "/admin/keys",
                  R"({"name":")" + name + R"(","user_id":")" + *owner.user_id + R"("})");
    EXPECT_EQ(a.status, 201u) << a.text;
    secrets_.push_back(a.str("key"));
    return a.str("id");
  }

  std::vector<store::audit_row> audit_rows(std::optional<std::string> actor = {},
                                           std::optional<std::string> action = {}) {
    store::audit_filter f;
    f.actor = std::move(actor);
    f.action = std::move(action);
    f.limit = 1000;
    auto r = accounts_->list_audit(f);
    if (auto* e = std::get_if<store::db_error>(&r)) {
      ADD_FAILURE() << e->message;
      return {};
    }
    return std::get<store::page<store::audit_row, store::audit_cursor>>(r).items;
  }

  std::optional<store::key_row> key_row(const std::string& id) {
    auto r = accounts_->get_key(id);
    if (auto* e = std::get_if<store::db_error>(&r)) {
      ADD_FAILURE() << e->message;
      return std::nullopt;
    }
    return std::get<std::optional<store::key_row>>(r);
  }

  std::int64_t clock_ = start_time;
  crypto::sealer sealer_ = test_sealer();
  std::unique_ptr<store::connection> db_;
  std::unique_ptr<store::accounts> accounts_;
  std::unique_ptr<admin::environment> env_;
  admin::caller master_{"master", "admin", std::nullopt, std::nullopt, "127.0.0.1"};
  admin::caller cli_{"cli", "admin", std::nullopt, std::nullopt, ""};
  std::vector<std::string> answers_;  // every answer body, to look for secrets in
  std::vector<std::string> secrets_;  // every gateway key and signing secret handed out
};

// ---- pure helpers

TEST(admin_fields, times_round_trip_in_utc) {
  using admin::detail::format_time;
  using admin::detail::parse_time;
  EXPECT_EQ(format_time(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_time(start_time), "2027-01-15T08:00:00Z");
  EXPECT_EQ(format_time(951782400), "2000-02-29T00:00:00Z");
  EXPECT_EQ(parse_time("2027-01-15T08:00:00Z"), start_time);
  EXPECT_EQ(parse_time("2027-01-15t08:00:00z"), start_time);
  EXPECT_EQ(parse_time("2027-01-15T09:30:00.123+01:30"), start_time);
  EXPECT_EQ(parse_time("2027-01-15T03:00:00-05:00"), start_time);
  EXPECT_EQ(parse_time("2000-02-29T00:00:00Z"), 951782400);
  for (auto bad : {"", "2027-01-15", "2027-01-15T08:00:00", "2027-13-01T00:00:00Z",
                   "2027-02-29T00:00:00Z", "2027-01-15T24:00:00Z", "2027-01-15T08:00:00Zx",
                   "2027-01-15T08:00:00.Z", "2027-01-15T08:00:00+0100", "27-01-15T08:00:00Z"}) {
    EXPECT_FALSE(parse_time(bad)) << bad;
  }
}

TEST(admin_fields, glob_bounds_are_decided_on_the_patterns) {
  using admin::detail::glob_covers;
  EXPECT_TRUE(glob_covers("*", "anything-*"));
  EXPECT_TRUE(glob_covers("gpt-*", "gpt-4o"));
  EXPECT_TRUE(glob_covers("gpt-*", "gpt-*"));
  EXPECT_TRUE(glob_covers("gpt-*", "gpt-4*"));
  EXPECT_TRUE(glob_covers("gpt-*", "gpt-?"));
  EXPECT_TRUE(glob_covers("gpt-?o", "gpt-4o"));
  EXPECT_TRUE(glob_covers("gpt-?o", "gpt-?o"));
  EXPECT_TRUE(glob_covers("claude-3-haiku", "claude-3-haiku"));
  EXPECT_FALSE(glob_covers("gpt-*", "*"));
  EXPECT_FALSE(glob_covers("gpt-*", "gpt*"));
  EXPECT_FALSE(glob_covers("gpt-4*", "gpt-*"));
  EXPECT_FALSE(glob_covers("claude-3-haiku", "claude-3-*"));
  // A literal match of the pattern as text would accept these, but they reach names outside.
  EXPECT_FALSE(glob_covers("a?c", "a*c"));
  EXPECT_FALSE(glob_covers("gpt-?o", "gpt-*o"));
  EXPECT_FALSE(glob_covers("gpt-4", "gpt-?"));
}

TEST(admin_fields, query_strings_are_decoded) {
  auto parsed = admin::detail::parse_query("a=1&b=x%20y+z&&c&from=2027-01-15T08%3A00%3A00Z");
  auto& params = std::get<std::vector<admin::detail::query_param>>(parsed);
  ASSERT_EQ(params.size(), 4u);
  EXPECT_EQ(params[1].value, "x y z");
  EXPECT_EQ(params[2].name, "c");
  EXPECT_EQ(params[2].value, "");
  EXPECT_EQ(params[3].value, "2027-01-15T08:00:00Z");
  EXPECT_TRUE(std::holds_alternative<admin::detail::invalid>(admin::detail::parse_query("a=%4")));
  EXPECT_TRUE(std::holds_alternative<admin::detail::invalid>(admin::detail::parse_query("a=%zz")));
}

TEST(admin_error, has_the_documented_shape) {
  auto r = admin::error_response(400, "invalid_request", "name must not be empty", "name");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(
      r.body,
      R"({"error":{"code":"invalid_request","message":"name must not be empty","field":"name"}})");
  EXPECT_EQ(admin::error_response(404, "not_found", "x").body,
            R"({"error":{"code":"not_found","message":"x"}})");
}

// ---- roles

// One admin call, with the caller's own things and someone else's made fresh for it.
struct action_case {
  std::string name;
  std::string audit_action;
  // allowed for admin, developer, viewer
  bool admin, developer, viewer;
};

TEST_P(admin_store_backend, every_role_against_every_action) {
  auto admin_user = make_user("Ada", "admin");
  auto dev = make_user("Dev", "developer");
  auto viewer = make_user("Vic", "viewer");
  auto other = make_user("Bob", "developer");

  const std::vector<action_case> cases = {
      {"create user", "user.create", true, false, false},
      {"list users", "user.list", true, true, true},
      {"read own user", "user.read", true, true, true},
      {"read another user", "user.read", true, false, false},
      {"update a user", "user.update", true, false, false},
      {"create own key", "key.create", true, true, false},
      {"create a key for another user", "key.create", true, false, false},
      {"list keys", "key.list", true, true, true},
      {"list another user's keys", "key.list", true, false, false},
      {"read own key", "key.read", true, true, true},
      {"read another user's key", "key.read", true, false, false},
      {"update own key", "key.update", true, false, false},
      {"revoke own key", "key.revoke", true, true, false},
      {"revoke another user's key", "key.revoke", true, false, false},
      {"rotate own key", "key.rotate", true, true, false},
      {"rotate another user's key", "key.rotate", true, false, false},
      {"read the audit log", "audit.list", true, false, false},
  };
  int checked = 0;
  for (const auto* who : {&admin_user, &dev, &viewer}) {
    for (const auto& c : cases) {
      SCOPED_TRACE(who->role + ": " + c.name);
      const std::string own_key = make_key(*who);
      const std::string other_key = make_key(other);
      const std::string& me = *who->user_id;
      answer a;
      if (c.name == "create user") {
        a = call(*who, "POST", "/admin/users", R"({"name":"New","role":"viewer"})");
      } else if (c.name == "list users") {
        a = call(*who, "GET", "/admin/users");
      } else if (c.name == "read own user") {
        a = call(*who, "GET", "/admin/users/" + me);
      } else if (c.name == "read another user") {
        a = call(*who, "GET", "/admin/users/" + *other.user_id);
      } else if (c.name == "update a user") {
        a = call(*who, "PATCH", "/admin/users/" + *other.user_id, R"({"enabled":false})");
      } else if (c.name == "create own key") {
        a = call(*who, "POST", "/admin/keys", R"({"name":"mine"})");
      } else if (c.name == "create a key for another user") {
        a = call(*who, "POST", "/admin/keys",
                 R"({"name":"theirs","user_id":")" + *other.user_id + R"("})");
      } else if (c.name == "list keys") {
        a = call(*who, "GET", "/admin/keys");
      } else if (c.name == "list another user's keys") {
        a = call(*who, "GET", "/admin/keys", "", "user_id=" + *other.user_id);
      } else if (c.name == "read own key") {
        a = call(*who, "GET", "/admin/keys/" + own_key);
      } else if (c.name == "read another user's key") {
        a = call(*who, "GET", "/admin/keys/" + other_key);
      } else if (c.name == "update own key") {
        a = call(*who, "PATCH", "/admin/keys/" + own_key, R"({"rpm":10})");
      } else if (c.name == "revoke own key") {
        a = call(*who, "DELETE", "/admin/keys/" + own_key);
      } else if (c.name == "revoke another user's key") {
        a = call(*who, "DELETE", "/admin/keys/" + other_key);
      } else if (c.name == "rotate own key") {
        a = call(*who, "POST", "/admin/keys/" + own_key + "/rotate");
      } else if (c.name == "rotate another user's key") {
        a = call(*who, "POST", "/admin/keys/" + other_key + "/rotate");
      } else if (c.name == "read the audit log") {
        a = call(*who, "GET", "/admin/audit");
      } else {
        FAIL() << "no call for " << c.name;
      }
      if (a.obj().contains("key")) secrets_.push_back(a.str("key"));
      const bool allowed = who->role == "admin"       ? c.admin
                           : who->role == "developer" ? c.developer
                                                      : c.viewer;
      auto denied = audit_rows(who->actor, c.audit_action);
      std::erase_if(denied, [](const store::audit_row& r) { return r.result != "denied"; });
      if (allowed) {
        EXPECT_GE(a.status, 200u) << a.text;
        EXPECT_LT(a.status, 300u) << a.text;
        EXPECT_TRUE(denied.empty());
      } else {
        EXPECT_EQ(a.status, 403u) << a.text;
        EXPECT_EQ(a.error_code(), "forbidden");
        ASSERT_EQ(denied.size(), 1u);
        EXPECT_EQ(denied[0].role, who->role);
        EXPECT_EQ(denied[0].client_ip, "192.0.2.7");
        // Rows are kept per (caller, action): later cases must not count this one again.
        ASSERT_FALSE(db_->query("DELETE FROM audit_log WHERE id = $1", {denied[0].id}).index());
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 3 * 17);
}

TEST_P(admin_store_backend, the_master_key_and_the_cli_act_as_admins) {
  admin::caller cli_without_role{"cli", "", std::nullopt, std::nullopt, ""};
  auto a = call(cli_without_role, "POST", "/admin/users", R"({"name":"A","role":"admin"})");
  EXPECT_EQ(a.status, 201u) << a.text;
  auto rows = audit_rows("cli", "user.create");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].role, "admin");
  EXPECT_EQ(call(master_, "GET", "/admin/audit").status, 200u);
  // A role the API does not know may do nothing.
  admin::caller odd{"usr_x", "owner", std::string("usr_x"), std::nullopt, "10.0.0.1"};
  EXPECT_EQ(call(odd, "GET", "/admin/users").status, 403u);
}

TEST_P(admin_store_backend, lists_of_the_other_roles_hold_only_their_own_things) {
  auto dev = make_user("Dev", "developer");
  auto other = make_user("Bob", "developer");
  auto mine = make_key(dev);
  make_key(other);
  make_key(other);
  auto users = call(dev, "GET", "/admin/users");
  ASSERT_EQ(users.data().size(), 1u);
  EXPECT_EQ(text_of(users.data()[0].at("id")), *dev.user_id);
  auto keys = call(dev, "GET", "/admin/keys");
  ASSERT_EQ(keys.data().size(), 1u);
  EXPECT_EQ(text_of(keys.data()[0].at("id")), mine);
  EXPECT_EQ(call(dev, "GET", "/admin/keys", "", "user_id=" + *dev.user_id).data().size(), 1u);
  EXPECT_EQ(call(master_, "GET", "/admin/keys").data().size(), 3u);
  EXPECT_EQ(call(master_, "GET", "/admin/keys", "", "user_id=" + *other.user_id).data().size(), 2u);
}

// ---- users

TEST_P(admin_store_backend, users_are_created_read_listed_and_updated) {
  auto a = call(master_, "POST", "/admin/users",
                R"({"name":"Ada","email":"ada@example.com","role":"developer","models":["gpt-*"],)"
                R"("budget_usd":0.1,"budget_period":"month"})");
  ASSERT_EQ(a.status, 201u) << a.text;
  const auto id = a.str("id");
  clock_ += 1;  // the audit log's order within one second is by random id
  EXPECT_TRUE(std::regex_match(id, std::regex("usr_[0-9a-f]{16}"))) << id;
  EXPECT_EQ(
      a.body,
      json::parse(R"({"id":")" + id +
                  R"(","name":"Ada","email":"ada@example.com","role":"developer",)"
                  R"("models":["gpt-*"],"enabled":true,"budget_usd":0.1,"budget_period":"month",)"
                  R"("created_at":"2027-01-15T08:00:00Z"})"));
  EXPECT_NE(a.text.find(R"("budget_usd":0.1,)"), std::string::npos) << a.text;  // not 1E-1
  EXPECT_EQ(call(master_, "GET", "/admin/users/" + id).body, a.body);

  auto defaults = call(master_, "POST", "/admin/users", R"({"name":"Vic","role":"viewer"})");
  EXPECT_EQ(defaults.obj().at("models"), json::parse(R"(["*"])"));
  EXPECT_TRUE(defaults.obj().at("email").is_null());
  EXPECT_TRUE(defaults.obj().at("budget_usd").is_null());
  EXPECT_EQ(defaults.str("budget_period"), "total");

  auto changed = call(master_, "PATCH", "/admin/users/" + id,
                      R"({"role":"viewer","enabled":false,"models":["o1"],"email":null,)"
                      R"("budget_usd":null,"budget_period":"day"})");
  ASSERT_EQ(changed.status, 200u) << changed.text;
  EXPECT_EQ(changed.str("role"), "viewer");
  EXPECT_EQ(changed.obj().at("enabled"), false);
  EXPECT_EQ(changed.obj().at("models"), json::parse(R"(["o1"])"));
  EXPECT_TRUE(changed.obj().at("email").is_null());
  EXPECT_EQ(changed.str("name"), "Ada");
  EXPECT_TRUE(changed.obj().at("budget_usd").is_null());
  EXPECT_EQ(changed.str("budget_period"), "day");

  auto created = audit_rows("master", "user.create");
  ASSERT_EQ(created.size(), 2u);
  EXPECT_EQ(created[1].target, id);  // newest first
  EXPECT_EQ(created[1].result, "ok");
  EXPECT_EQ(json::parse(created[1].changes),
            json::parse(R"({"name":"Ada","email":"ada@example.com","role":"developer",)"
                        R"("models":["gpt-*"],"enabled":true,"budget_usd":0.1,)"
                        R"("budget_period":"month"})"));
  auto updated = audit_rows("master", "user.update");
  ASSERT_EQ(updated.size(), 1u);
  EXPECT_EQ(json::parse(updated[0].changes),
            json::parse(R"({"role":"viewer","enabled":false,"models":["o1"],"email":null,)"
                        R"("budget_usd":null,"budget_period":"day"})"));
  EXPECT_EQ(updated[0].client_ip, "127.0.0.1");
}

// ---- validation

struct bad_input {
  std::string method, path, body, query, field;
};

TEST_P(admin_store_backend, invalid_input_is_400_naming_the_field) {
  auto dev = make_user("Dev", "developer");
  auto key = make_key(dev);
  const std::string keys = "/admin/keys", user = "/admin/users/" + *dev.user_id;
  const std::string long_name(201, 'n');
  const std::string big_metadata =
      R"({"name":"k","metadata":{"a":")" + std::string(16400, 'x') + R"("}})";
  const std::vector<bad_input> cases = {
      {"POST", "/admin/users", "", "", ""},
      {"POST", "/admin/users", "{", "", ""},
      {"POST", "/admin/users", "[]", "", ""},
      {"POST", "/admin/users", R"({"role":"viewer"})", "", "name"},
      {"POST", "/admin/users", R"({"name":"","role":"viewer"})", "", "name"},
      {"POST", "/admin/users", R"({"name":")" + long_name + R"(","role":"viewer"})", "", "name"},
      {"POST", "/admin/users", R"({"name":7,"role":"viewer"})", "", "name"},
      {"POST", "/admin/users", R"({"name":"A"})", "", "role"},
      {"POST", "/admin/users", R"({"name":"A","role":"root"})", "", "role"},
      {"POST", "/admin/users", R"({"name":"A","role":"viewer","email":"nobody"})", "", "email"},
      {"POST", "/admin/users", R"({"name":"A","role":"viewer","models":[]})", "", "models"},
      {"POST", "/admin/users", R"({"name":"A","role":"viewer","models":"*"})", "", "models"},
      {"POST", "/admin/users", R"({"name":"A","role":"viewer","models":[""]})", "", "models"},
      {"POST", "/admin/users", R"({"name":"A","role":"viewer","models":[1]})", "", "models"},
      {"POST", "/admin/users", R"({"name":"A","role":"viewer","enabled":"yes"})", "", "enabled"},
      {"POST", "/admin/users", R"({"name":"A","role":"viewer","colour":"red"})", "", "colour"},
      {"PATCH", user, R"({})", "", ""},
      {"PATCH", user, R"({"role":"god"})", "", "role"},
      {"PATCH", user, R"({"budget_usd":-1})", "", "budget_usd"},
      {"PATCH", user, R"({"budget_period":"week"})", "", "budget_period"},
      {"POST", "/admin/users", R"({"name":"A","role":"viewer","budget_usd":"1e3"})", "",
       "budget_usd"},
      {"PATCH", user, R"({"id":"usr_x"})", "", "id"},
      {"POST", keys, R"({})", "", "name"},
      {"POST", keys, R"({"name":"k","user_id":5})", "", "user_id"},
      {"POST", keys, R"({"name":"k","user_id":"usr_nobody"})", "", "user_id"},
      {"POST", keys, R"({"name":"k","models":["gpt-4o",""]})", "", "models"},
      {"POST", keys, R"({"name":"k","expires_at":"2020-01-01T00:00:00Z"})", "", "expires_at"},
      {"POST", keys, R"({"name":"k","expires_at":1000})", "", "expires_at"},
      {"POST", keys, R"({"name":"k","expires_at":"tomorrow"})", "", "expires_at"},
      {"POST", keys, R"({"name":"k","expires_at":1.9e9})", "", "expires_at"},
      {"POST", keys, R"({"name":"k","rpm":0})", "", "rpm"},
      {"POST", keys, R"({"name":"k","tpm":-5})", "", "tpm"},
      {"POST", keys, R"({"name":"k","max_concurrency":1.5})", "", "max_concurrency"},
      {"POST", keys, R"({"name":"k","rpm":"10"})", "", "rpm"},
      {"POST", keys, R"({"name":"k","budget_usd":0.0000000001})", "", "budget_usd"},
      {"POST", keys, R"({"name":"k","budget_usd":1000000001})", "", "budget_usd"},
      {"POST", keys, R"({"name":"k","budget_usd":true})", "", "budget_usd"},
      {"POST", keys, R"({"name":"k","budget_usd":"-0.5"})", "", "budget_usd"},
      {"POST", keys, R"({"name":"k","budget_period":null})", "", "budget_period"},
      {"POST", keys, R"({"name":"k","budget_period":"Month"})", "", "budget_period"},
      {"POST", keys, R"({"name":"k","allowed_ips":["10.0.0.0/33"]})", "", "allowed_ips"},
      {"POST", keys, R"({"name":"k","allowed_ips":["10.0.0.0/8","not-an-ip"]})", "", "allowed_ips"},
      {"POST", keys, R"({"name":"k","allowed_ips":["2001:db8::/129"]})", "", "allowed_ips"},
      {"POST", keys, R"({"name":"k","allowed_ips":"10.0.0.0/8"})", "", "allowed_ips"},
      {"POST", keys, R"({"name":"k","allowed_ips":["10.1.2.3/8"]})", "", "allowed_ips"},
      {"POST", keys, R"({"name":"k","allowed_ips":[" 10.0.0.0/8"]})", "", "allowed_ips"},
      {"POST", keys, R"({"name":"k","allowed_ips":[8]})", "", "allowed_ips"},
      {"POST", keys, R"({"name":"k","metadata":[1]})", "", "metadata"},
      {"POST", keys, big_metadata, "", "metadata"},
      {"POST", keys, R"({"name":"k","require_signature":1})", "", "require_signature"},
      {"POST", keys, R"({"name":"k","key":"sk-mine"})", "", "key"},
      {"PATCH", keys + "/" + key, R"({"user_id":"usr_x"})", "", "user_id"},
      {"PATCH", keys + "/" + key, R"({"rpm":0})", "", "rpm"},
      {"PATCH", keys + "/" + key, R"({"expires_at":"2027-01-15T07:59:59Z"})", "", "expires_at"},
      {"PATCH", keys + "/" + key, R"({"prefix":"sk-abcd"})", "", "prefix"},
      {"POST", keys + "/" + key + "/rotate", R"({"grace_seconds":-1})", "", "grace_seconds"},
      {"POST", keys + "/" + key + "/rotate", R"({"grace_seconds":2592001})", "", "grace_seconds"},
      {"POST", keys + "/" + key + "/rotate", R"({"grace_seconds":"60"})", "", "grace_seconds"},
      {"POST", keys + "/" + key + "/rotate", R"({"grace":60})", "", "grace"},
      {"GET", keys, "", "limit=0", "limit"},
      {"GET", keys, "", "limit=1001", "limit"},
      {"GET", keys, "", "limit=ten", "limit"},
      {"GET", keys, "", "page=2", "page"},
      {"GET", "/admin/users", "", "limit=-1", "limit"},
      {"GET", "/admin/audit", "", "cursor=nonsense", "cursor"},
      {"GET", "/admin/audit", "", "from=yesterday", "from"},
      {"GET", "/admin/audit", "", "to=2027-01-15", "to"},
      {"GET", "/admin/audit", "", "user=me", "user"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path + " " + c.body.substr(0, 80) + " ?" + c.query);
    auto a = call(master_, c.method, c.path, c.body, c.query);
    EXPECT_EQ(a.status, 400u) << a.text;
    EXPECT_EQ(a.error_code(), "invalid_request") << a.text;
    EXPECT_EQ(a.error_field(), c.field.empty() ? "<no field>" : c.field) << a.text;
  }
  // Nothing was changed, so nothing was audited beyond the set-up.
  EXPECT_TRUE(audit_rows("master", "user.update").empty());
  EXPECT_TRUE(audit_rows("master", "key.update").empty());
  EXPECT_TRUE(audit_rows("master", "key.rotate").empty());
  EXPECT_EQ(audit_rows("master", "key.create").size(), 1u);
}

TEST_P(admin_store_backend, expiry_is_taken_as_rfc3339_or_unix_seconds) {
  auto a = call(master_, "POST", "/admin/keys",
                R"({"name":"k","expires_at":"2027-01-16T09:00:00+01:00"})");
  ASSERT_EQ(a.status, 201u) << a.text;
  EXPECT_EQ(a.str("expires_at"), "2027-01-16T08:00:00Z");
  auto b = call(master_, "POST", "/admin/keys", R"({"name":"k","expires_at":1800086400})");
  ASSERT_EQ(b.status, 201u) << b.text;
  EXPECT_EQ(b.str("expires_at"), "2027-01-16T08:00:00Z");
  EXPECT_EQ(key_row(b.str("id"))->expires_at, 1800086400);
  auto cleared = call(master_, "PATCH", "/admin/keys/" + b.str("id"), R"({"expires_at":null})");
  ASSERT_EQ(cleared.status, 200u) << cleared.text;
  EXPECT_TRUE(cleared.obj().at("expires_at").is_null());
  EXPECT_FALSE(key_row(b.str("id"))->expires_at);
}

// ---- keys

TEST_P(admin_store_backend, a_key_has_the_documented_shape) {
  auto dev = make_user("Dev", "developer", R"(["gpt-*","claude-3-haiku"])");
  auto a =
      call(master_, "POST", "/admin/keys",
           R"({"name":"ci","user_id":")" + *dev.user_id +
               R"(","expires_at":"2027-06-01T00:00:00Z","rpm":60,"tpm":100000,)"
               R"("max_concurrency":4,"allowed_ips":["10.0.0.0/8","2001:db8::/32","192.0.2.1"],)"
               R"("metadata":{"team":"ml","cost_center":42},"budget_usd":"12.5",)"
               R"("budget_period":"day"})");
  ASSERT_EQ(a.status, 201u) << a.text;
  const auto id = a.str("id");
  const auto secret = a.str("key");
  EXPECT_TRUE(std::regex_match(id, std::regex("key_[0-9a-f]{16}"))) << id;
  EXPECT_TRUE(std::regex_match(secret, std::regex("sk-[A-Za-z0-9]{48}"))) << secret;
  EXPECT_EQ(a.str("prefix"), secret.substr(0, 7));
  EXPECT_FALSE(a.obj().contains("signing_secret"));
  auto expected =
      json::parse(R"({"id":")" + id + R"(","name":"ci","user_id":")" + *dev.user_id +
                  R"(","prefix":")" + secret.substr(0, 7) +
                  R"(","models":["gpt-*","claude-3-haiku"],)"
                  R"("expires_at":"2027-06-01T00:00:00Z","enabled":true,)"
                  R"("revoked_at":null,"rpm":60,"tpm":100000,"max_concurrency":4,)"
                  R"("allowed_ips":["10.0.0.0/8","2001:db8::/32","192.0.2.1/32"],)"
                  R"("require_signature":false,"budget_usd":12.5,"budget_period":"day",)"
                  R"("metadata":{"team":"ml","cost_center":42},)"
                  R"("created_at":"2027-01-15T08:00:00Z","updated_at":"2027-01-15T08:00:00Z"})");
  auto shown = call(master_, "GET", "/admin/keys/" + id);
  EXPECT_EQ(shown.body, expected);
  auto created = a.body.as_object();
  created.erase("key");
  EXPECT_EQ(json::value(created), expected);
  // The stored row holds the hash, not the secret.
  EXPECT_EQ(key_row(id)->key_hash, store::hash_secret(secret));

  // An owner-less key (the master key names no user) may use every model.
  auto shared = call(master_, "POST", "/admin/keys", R"({"name":"shared"})");
  EXPECT_TRUE(shared.obj().at("user_id").is_null());
  EXPECT_EQ(shared.obj().at("models"), json::parse(R"(["*"])"));
}

TEST_P(admin_store_backend, keys_are_patched_and_limits_cleared) {
  auto dev = make_user("Dev", "developer");
  auto id = make_key(dev);
  clock_ += 60;
  auto a = call(master_, "PATCH", "/admin/keys/" + id,
                R"({"name":"renamed","rpm":5,"enabled":false,"models":["o1"],)"
                R"("allowed_ips":["127.0.0.1/32"],"metadata":{"a":1}})");
  ASSERT_EQ(a.status, 200u) << a.text;
  EXPECT_EQ(a.str("name"), "renamed");
  EXPECT_EQ(a.obj().at("rpm"), 5);
  EXPECT_EQ(a.obj().at("enabled"), false);
  EXPECT_EQ(a.str("updated_at"), "2027-01-15T08:01:00Z");
  EXPECT_EQ(a.str("created_at"), "2027-01-15T08:00:00Z");
  clock_ += 1;
  auto cleared = call(master_, "PATCH", "/admin/keys/" + id, R"({"rpm":null,"allowed_ips":[]})");
  EXPECT_TRUE(cleared.obj().at("rpm").is_null());
  EXPECT_EQ(cleared.obj().at("allowed_ips"), json::array());
  EXPECT_EQ(cleared.str("name"), "renamed");
  auto rows = audit_rows("master", "key.update");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(json::parse(rows[0].changes), json::parse(R"({"rpm":null,"allowed_ips":[]})"));
  EXPECT_EQ(rows[1].target, id);
}

TEST_P(admin_store_backend, unknown_ids_and_paths_are_404_and_wrong_methods_405) {
  const std::string nobody = "/admin/users/usr_0000000000000000";
  const std::string nokey = "/admin/keys/key_0000000000000000";
  for (auto [method, path, body] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"GET", nobody, ""},
           {"PATCH", nobody, R"({"enabled":false})"},
           {"GET", nokey, ""},
           {"PATCH", nokey, R"({"rpm":1})"},
           {"DELETE", nokey, ""},
           {"POST", nokey + "/rotate", ""},
           {"GET", "/admin/nothing", ""},
           {"GET", "/admin", ""},
           {"GET", "/admin/", ""},
           {"GET", "/admin/users/", ""},
           {"GET", "/admin/users/a/b", ""},
           {"POST", nokey + "/spin", ""},
           {"GET", "/v1/models", ""},
           {"GET", "/admin/channels/ch_1", ""},
       }) {
    SCOPED_TRACE(method + " " + path);
    auto a = call(master_, method, path, body);
    EXPECT_EQ(a.status, 404u) << a.text;
    EXPECT_EQ(a.error_code(), "not_found");
  }
  for (auto [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"DELETE", "/admin/users"},
           {"PUT", "/admin/keys"},
           {"DELETE", nobody},
           {"POST", nokey},
           {"GET", nokey + "/rotate"},
           {"POST", "/admin/audit"},
       }) {
    SCOPED_TRACE(method + " " + path);
    auto a = call(master_, method, path);
    EXPECT_EQ(a.status, 405u) << a.text;
    EXPECT_EQ(a.error_code(), "method_not_allowed");
  }
  auto r = admin::handle({"PUT", "/admin/keys/key_1", "", ""}, master_, *env_);
  EXPECT_EQ(r.allow, "GET, PATCH, DELETE");
  // A developer asking for a key that does not exist learns just that.
  auto dev = make_user("Dev", "developer");
  EXPECT_EQ(call(dev, "GET", nokey).status, 404u);
}

TEST_P(admin_store_backend, lists_are_paged_with_a_cursor) {
  std::set<std::string> made;
  for (char name : std::string("ABCDE"))
    made.insert(make_user(std::string(1, name), "viewer").actor);
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  while (true) {
    auto a = call(master_, "GET", "/admin/users", "",
                  "limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(a.status, 200u) << a.text;
    ++pages;
    EXPECT_LE(a.data().size(), 2u);
    for (const auto& u : a.data())
      EXPECT_TRUE(seen.insert(std::string(u.at("id").as_string())).second);
    if (a.obj().at("next_cursor").is_null()) break;
    cursor = a.str("next_cursor");
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, made);
  EXPECT_EQ(call(master_, "GET", "/admin/users").data().size(), 5u);

  auto owner = make_user("Owner", "developer");
  for (int i = 0; i < 3; ++i)
    make_key(owner);
  auto first = call(owner, "GET", "/admin/keys", "", "limit=2");
  ASSERT_EQ(first.data().size(), 2u);
  ASSERT_TRUE(first.obj().at("next_cursor").is_string());
  auto second = call(owner, "GET", "/admin/keys", "", "limit=2&cursor=" + first.str("next_cursor"));
  ASSERT_EQ(second.data().size(), 1u);
  EXPECT_TRUE(second.obj().at("next_cursor").is_null());
}

TEST_P(admin_store_backend, rotation_answers_the_new_secret_and_keeps_the_old_for_the_grace) {
  auto dev = make_user("Dev", "developer");
  auto created = call(dev, "POST", "/admin/keys", R"({"name":"mine"})");
  ASSERT_EQ(created.status, 201u) << created.text;
  const auto id = created.str("id");
  const auto old_secret = created.str("key");
  secrets_.push_back(old_secret);

  auto a = call(dev, "POST", "/admin/keys/" + id + "/rotate", R"({"grace_seconds":600})");
  ASSERT_EQ(a.status, 200u) << a.text;
  const auto fresh = a.str("key");
  secrets_.push_back(fresh);
  EXPECT_NE(fresh, old_secret);
  EXPECT_TRUE(std::regex_match(fresh, std::regex("sk-[A-Za-z0-9]{48}")));
  EXPECT_EQ(a.str("id"), id);
  EXPECT_EQ(a.str("prefix"), fresh.substr(0, 7));
  EXPECT_EQ(a.str("previous_valid_until"), "2027-01-15T08:10:00Z");
  EXPECT_EQ(call(dev, "GET", "/admin/keys/" + id).str("prefix"), fresh.substr(0, 7));

  auto find = [&](const std::string& secret, std::int64_t at) {
    auto r = accounts_->find_key_by_hash(store::hash_secret(secret), at);
    return std::get<std::optional<store::key_row>>(r).has_value();
  };
  EXPECT_TRUE(find(fresh, clock_));
  EXPECT_TRUE(find(old_secret, clock_ + 599));
  EXPECT_FALSE(find(old_secret, clock_ + 600));

  // Default grace: a day. Zero: the old secret stops at once.
  clock_ += 10;
  auto b = call(dev, "POST", "/admin/keys/" + id + "/rotate");
  ASSERT_EQ(b.status, 200u) << b.text;
  secrets_.push_back(b.str("key"));
  EXPECT_EQ(b.str("previous_valid_until"), "2027-01-16T08:00:10Z");
  EXPECT_TRUE(find(fresh, clock_ + 86399));
  clock_ += 10;
  auto c = call(dev, "POST", "/admin/keys/" + id + "/rotate", R"({"grace_seconds":0})");
  ASSERT_EQ(c.status, 200u) << c.text;
  secrets_.push_back(c.str("key"));
  EXPECT_TRUE(c.obj().at("previous_valid_until").is_null());
  EXPECT_FALSE(find(b.str("key"), clock_));
  EXPECT_TRUE(find(c.str("key"), clock_));

  auto rows = audit_rows(dev.actor, "key.rotate");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(json::parse(rows[2].changes), json::parse(R"({"grace_seconds":600})"));
  EXPECT_EQ(rows[2].target, id);
  EXPECT_EQ(rows[2].result, "ok");
}

TEST_P(admin_store_backend, revoked_keys_stay_revoked) {
  auto dev = make_user("Dev", "developer");
  auto id = make_key(dev);
  clock_ += 30;
  auto a = call(dev, "DELETE", "/admin/keys/" + id);
  ASSERT_EQ(a.status, 200u) << a.text;
  EXPECT_EQ(a.obj().at("enabled"), false);
  EXPECT_EQ(a.str("revoked_at"), "2027-01-15T08:00:30Z");
  clock_ += 30;
  auto again = call(dev, "DELETE", "/admin/keys/" + id);
  EXPECT_EQ(again.status, 200u);
  EXPECT_EQ(again.str("revoked_at"), "2027-01-15T08:00:30Z");

  auto patched = call(master_, "PATCH", "/admin/keys/" + id, R"({"enabled":true})");
  EXPECT_EQ(patched.status, 409u) << patched.text;
  EXPECT_EQ(patched.error_code(), "key_revoked");
  auto rotated = call(dev, "POST", "/admin/keys/" + id + "/rotate");
  EXPECT_EQ(rotated.status, 409u) << rotated.text;
  EXPECT_EQ(rotated.error_code(), "key_revoked");
  EXPECT_FALSE(key_row(id)->enabled);

  auto rows = audit_rows(dev.actor, "key.revoke");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(json::parse(rows[1].changes),
            json::parse(R"({"enabled":false,"revoked_at":"2027-01-15T08:00:30Z"})"));
}

TEST_P(admin_store_backend, a_developers_keys_are_bounded_by_its_users_models) {
  auto dev = make_user("Dev", "developer", R"(["gpt-*","claude-3-haiku"])");
  auto by_default = call(dev, "POST", "/admin/keys", R"({"name":"a"})");
  ASSERT_EQ(by_default.status, 201u) << by_default.text;
  EXPECT_EQ(by_default.obj().at("models"), json::parse(R"(["gpt-*","claude-3-haiku"])"));
  EXPECT_EQ(by_default.str("user_id"), *dev.user_id);
  for (auto models :
       {R"(["gpt-4o"])", R"(["gpt-*"])", R"(["gpt-4o","claude-3-haiku"])", R"(["gpt-4?"])"}) {
    SCOPED_TRACE(models);
    auto a =
        call(dev, "POST", "/admin/keys", std::string(R"({"name":"b","models":)") + models + "}");
    EXPECT_EQ(a.status, 201u) << a.text;
    EXPECT_EQ(a.obj().at("models"), json::parse(models));
  }
  for (auto models : {R"(["*"])", R"(["claude-*"])", R"(["gpt-4o","o1"])", R"(["gpt*"])"}) {
    SCOPED_TRACE(models);
    auto a =
        call(dev, "POST", "/admin/keys", std::string(R"({"name":"b","models":)") + models + "}");
    EXPECT_EQ(a.status, 403u) << a.text;
    EXPECT_EQ(a.error_code(), "forbidden");
    EXPECT_EQ(a.error_field(), "models");
  }
  auto denied = audit_rows(dev.actor, "key.create");
  EXPECT_EQ(std::count_if(denied.begin(), denied.end(),
                          [](const auto& r) { return r.result == "denied"; }),
            4);
  // A developer's key for itself named explicitly is fine; one for nobody is not.
  EXPECT_EQ(call(dev, "POST", "/admin/keys", R"({"name":"c","user_id":")" + *dev.user_id + R"("})")
                .status,
            201u);
  EXPECT_EQ(call(dev, "POST", "/admin/keys", R"({"name":"c","user_id":null})").status, 403u);
  // Admins are not bounded here (the data plane still bounds every key by its owner's models).
  EXPECT_EQ(call(master_, "POST", "/admin/keys",
                 R"({"name":"d","models":["*"],"user_id":")" + *dev.user_id + R"("})")
                .status,
            201u);
}

TEST_P(admin_store_backend, signing_secrets_are_sealed_and_shown_once) {
  auto dev = make_user("Dev", "developer");
  auto a = call(dev, "POST", "/admin/keys", R"({"name":"signed","require_signature":true})");
  ASSERT_EQ(a.status, 201u) << a.text;
  const auto id = a.str("id");
  const auto signing = a.str("signing_secret");
  secrets_.push_back(a.str("key"));
  secrets_.push_back(signing);
  EXPECT_TRUE(std::regex_match(signing, std::regex("[0-9a-f]{64}"))) << signing;
  EXPECT_EQ(a.obj().at("require_signature"), true);
  auto row = key_row(id);
  ASSERT_TRUE(row && row->signing_secret);
  EXPECT_TRUE(crypto::sealer::looks_sealed(*row->signing_secret));
  EXPECT_EQ(sealer_.open(*row->signing_secret, id), signing);
  auto shown = call(dev, "GET", "/admin/keys/" + id);
  EXPECT_EQ(shown.obj().at("require_signature"), true);
  EXPECT_FALSE(shown.obj().contains("signing_secret"));

  clock_ += 1;
  auto renewed = call(master_, "PATCH", "/admin/keys/" + id, R"({"require_signature":true})");
  ASSERT_EQ(renewed.status, 200u) << renewed.text;
  const auto second = renewed.str("signing_secret");
  secrets_.push_back(second);
  EXPECT_TRUE(std::regex_match(second, std::regex("[0-9a-f]{64}")));
  EXPECT_NE(second, signing);
  EXPECT_EQ(sealer_.open(*key_row(id)->signing_secret, id), second);

  clock_ += 1;
  auto dropped = call(master_, "PATCH", "/admin/keys/" + id, R"({"require_signature":false})");
  ASSERT_EQ(dropped.status, 200u) << dropped.text;
  EXPECT_EQ(dropped.obj().at("require_signature"), false);
  EXPECT_FALSE(dropped.obj().contains("signing_secret"));
  EXPECT_FALSE(key_row(id)->signing_secret);

  auto created = audit_rows(dev.actor, "key.create");
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(json::parse(created[0].changes).at("require_signature"), true);
  auto updates = audit_rows("master", "key.update");
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(json::parse(updates[1].changes), json::parse(R"({"require_signature":true})"));

  // Without SWITCHYARD_SECRET_KEY the secret cannot be stored: refused, nothing made.
  env_->sealer = nullptr;
  auto refused = call(dev, "POST", "/admin/keys", R"({"name":"x","require_signature":true})");
  EXPECT_EQ(refused.status, 400u) << refused.text;
  EXPECT_EQ(refused.error_code(), "secret_key_required");
  EXPECT_EQ(refused.error_field(), "require_signature");
  EXPECT_NE(refused.text.find("SWITCHYARD_SECRET_KEY"), std::string::npos);
  auto patch = call(master_, "PATCH", "/admin/keys/" + id, R"({"require_signature":true})");
  EXPECT_EQ(patch.error_code(), "secret_key_required");
  EXPECT_EQ(call(dev, "GET", "/admin/keys").data().size(), 1u);
  // Turning signing off needs no secret key.
  EXPECT_EQ(call(master_, "PATCH", "/admin/keys/" + id, R"({"require_signature":false})").status,
            200u);
}

// ---- audit

TEST_P(admin_store_backend, the_audit_log_is_filtered_and_paged_newest_first) {
  auto dev = make_user("Dev", "developer");  // user.create at start_time
  clock_ += 100;
  auto key = make_key(dev);  // key.create at +100
  clock_ += 100;
  call(dev, "POST", "/admin/keys/" + key + "/rotate");  // key.rotate at +200
  clock_ += 100;
  call(dev, "GET", "/admin/audit");  // audit.list denied at +300
  clock_ += 100;
  for (int i = 0; i < 3; ++i)
    call(master_, "PATCH", "/admin/keys/" + key, R"({"rpm":)" + std::to_string(i + 1) + "}");

  auto all = call(master_, "GET", "/admin/audit");
  ASSERT_EQ(all.status, 200u) << all.text;
  ASSERT_EQ(all.data().size(), 7u);
  EXPECT_TRUE(all.obj().at("next_cursor").is_null());
  const auto& newest = all.data()[0].as_object();
  EXPECT_EQ(newest.at("action"), "key.update");
  EXPECT_EQ(newest.at("actor"), "master");
  EXPECT_EQ(newest.at("role"), "admin");
  EXPECT_EQ(text_of(newest.at("target")), key);
  EXPECT_EQ(newest.at("result"), "ok");
  EXPECT_EQ(newest.at("client_ip"), "127.0.0.1");
  EXPECT_EQ(newest.at("at"), "2027-01-15T08:06:40Z");
  EXPECT_TRUE(newest.at("changes").is_object());
  EXPECT_TRUE(newest.at("id").as_string().starts_with("aud_"));
  EXPECT_EQ(all.data()[6].at("action"), "user.create");

  auto by_dev = call(master_, "GET", "/admin/audit", "", "actor=" + dev.actor);
  ASSERT_EQ(by_dev.data().size(), 2u);
  EXPECT_EQ(by_dev.data()[0].at("action"), "audit.list");
  EXPECT_EQ(by_dev.data()[0].at("result"), "denied");
  EXPECT_EQ(by_dev.data()[1].at("action"), "key.rotate");
  EXPECT_EQ(call(master_, "GET", "/admin/audit", "", "action=key.update").data().size(), 3u);
  auto window = call(master_, "GET", "/admin/audit", "",
                     "from=2027-01-15T08%3A01%3A40Z&to=" + std::to_string(start_time + 300));
  ASSERT_EQ(window.data().size(), 3u);
  EXPECT_EQ(window.data()[0].at("action"), "audit.list");
  EXPECT_EQ(window.data()[2].at("action"), "key.create");

  // Paging goes through every row once, in the same order, also across rows of the same second.
  std::vector<std::string> ids;
  std::string cursor;
  for (int pages = 0;; ++pages) {
    ASSERT_LT(pages, 10);
    auto page = call(master_, "GET", "/admin/audit", "",
                     "limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(page.status, 200u) << page.text;
    for (const auto& row : page.data())
      ids.emplace_back(row.at("id").as_string());
    if (page.obj().at("next_cursor").is_null()) break;
    cursor = page.str("next_cursor");
  }
  ASSERT_EQ(ids.size(), 7u);
  for (std::size_t i = 0; i < ids.size(); ++i)
    EXPECT_EQ(ids[i], text_of(all.data()[i].at("id")));
}

// ---- secrets

TEST_P(admin_store_backend, no_answer_and_no_audit_row_holds_a_secret) {
  auto dev = make_user("Dev", "developer");
  auto created = call(dev, "POST", "/admin/keys", R"({"name":"signed","require_signature":true})");
  const auto id = created.str("id");
  secrets_.push_back(created.str("key"));
  secrets_.push_back(created.str("signing_secret"));
  auto rotated = call(dev, "POST", "/admin/keys/" + id + "/rotate");
  secrets_.push_back(rotated.str("key"));
  auto renewed = call(master_, "PATCH", "/admin/keys/" + id, R"({"require_signature":true})");
  secrets_.push_back(renewed.str("signing_secret"));
  make_key(dev);
  call(dev, "DELETE", "/admin/keys/" + id);
  call(dev, "GET", "/admin/keys/" + id);
  call(dev, "GET", "/admin/keys");
  call(master_, "GET", "/admin/keys");
  call(master_, "GET", "/admin/audit");
  const std::size_t handed_out = secrets_.size();
  ASSERT_EQ(handed_out, 5u);
  for (const auto& s : secrets_)
    ASSERT_GE(s.size(), 51u);

  // Each secret is in exactly one answer: the one that made it.
  for (const auto& secret : secrets_) {
    int found = 0;
    for (const auto& body : answers_)
      found += body.find(secret) != std::string::npos;
    EXPECT_EQ(found, 1) << secret.substr(0, 7);
  }
  // No audit row holds a secret, its hash or the sealed signing secret.
  auto row = key_row(id);
  ASSERT_TRUE(row && row->signing_secret);
  auto dump = rows_of(db_->query(
      "SELECT id, at, actor, role, action, target, client_ip, result, changes FROM audit_log"));
  ASSERT_FALSE(dump.empty());
  for (const auto& r : dump) {
    for (std::size_t i = 0; i < r.columns.size(); ++i) {
      const auto text = r.text(i);
      for (const auto& secret : secrets_)
        EXPECT_EQ(text.find(secret), std::string::npos) << text;
      EXPECT_EQ(text.find(row->key_hash), std::string::npos) << text;
      EXPECT_EQ(text.find(*row->signing_secret), std::string::npos) << text;
      EXPECT_EQ(text.find("sk-"), std::string::npos) << text;
    }
  }
  // No answer carries a hash or a sealed value either.
  for (const auto& body : answers_) {
    EXPECT_EQ(body.find("key_hash"), std::string::npos);
    EXPECT_EQ(body.find(row->key_hash), std::string::npos);
    EXPECT_EQ(body.find("sy1:"), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(each, admin_store_backend, ::testing::ValuesIn(backends()), backend_name);

}  // namespace
}  // namespace sy::test
