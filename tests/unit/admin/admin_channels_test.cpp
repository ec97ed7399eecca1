// /admin/channels (admin::handle) on a real store: SQLite always, PostgreSQL under the ctest entry
// store_postgres (the suite's name ends in "store_backend" for that).
#include "admin/admin.h"

#include "admin_fixture.h"

#include "../store/store_fixture.h"
#include "common/crypto.h"
#include "config/config.h"
#include "store/accounts.h"
#include "store/channels.h"
#include "store/migrations.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <tuple>

namespace sy::test {
namespace {

namespace json = boost::json;

// 2027-01-15T08:00:00Z
constexpr std::int64_t start_time = 1'800'000'000;

// Provider keys: none may appear in an answer, an audit row or the database in clear.
const std::string provider_key_1 = "sk-provider-AAAA-0123456789abcdef";
const std::string provider_key_2 = "sk-provider-BBBB-0123456789abcdef";
const std::string provider_key_3 = "sk-provider-CCCC-0123456789abcdef";
const std::string config_key = "sk-config-file-DDDD-0123456789abcdef";

crypto::sealer test_sealer() {
  return std::get<crypto::sealer>(
      crypto::sealer::from_secret("0123456789abcdef0123456789abcdef-channels"));
}

config test_config() {
  const std::string yaml = R"(
channels:
  - name: mock
    type: mock
    models: [ demo ]
  - name: team a/b
    type: openai
    api_keys: [ )" + config_key +
                           R"( ]
    models: [ gpt-4o ]
)";
  auto parsed = parse_config(yaml, "test.yaml", env_lookup{});
  if (auto* e = std::get_if<config_error>(&parsed)) ADD_FAILURE() << e->message;
  return std::get<config>(std::move(parsed));
}

class admin_channels_store_backend : public store_backend {
 protected:
  void SetUp() override {
    store_backend::SetUp();
    if (HasFatalFailure()) return;
    db_ = open();
    ASSERT_TRUE(db_);
    ASSERT_FALSE(store::migrate(*db_));
    accounts_ = std::make_unique<store::accounts>(*db_, [this] { return clock_; });
    env_ = std::make_unique<admin::environment>(
        admin::environment{*db_, &sealer_, &cfg_, [this] { return clock_; }});
  }

  answer call(const admin::caller& who, std::string method, std::string path, std::string body = "",
              std::string query = "") {
    auto r = admin::handle({std::move(method), std::move(path), std::move(query), std::move(body)},
                           who, *env_);
    auto out = answer_of(r);
    answers_.push_back(r.body);
    return out;
  }

  admin::caller make_user(const std::string& name, const std::string& role) {
    auto a = call(master_, "POST", "/admin/users",
                  R"({"name":")" + name + R"(","role":")" + role + R"("})");
    EXPECT_EQ(a.status, 201u) << a.text;
    return admin::caller{a.str("id"), role, a.str("id"), std::nullopt, "192.0.2.7"};
  }

  // A managed channel made by the master key; its id.
  std::string make_channel(const std::string& body) {
    auto a = call(master_, "POST", "/admin/channels", body);
    EXPECT_EQ(a.status, 201u) << a.text;
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

  // The channel as the repository opens it (provider keys in clear).
  std::optional<store::channel_row> stored(const std::string& id) {
    store::channels repo(*db_, &sealer_);
    auto r = repo.get(id);
    if (auto* e = std::get_if<store::db_error>(&r)) {
      ADD_FAILURE() << e->message;
      return std::nullopt;
    }
    return std::get<std::optional<store::channel_row>>(r);
  }

  std::int64_t clock_ = start_time;
  crypto::sealer sealer_ = test_sealer();
  config cfg_ = test_config();
  std::unique_ptr<store::connection> db_;
  std::unique_ptr<store::accounts> accounts_;
  std::unique_ptr<admin::environment> env_;
  admin::caller master_{"master", "admin", std::nullopt, std::nullopt, "127.0.0.1"};
  admin::caller cli_{"cli", "admin", std::nullopt, std::nullopt, ""};
  std::vector<std::string> answers_;  // every answer body, to look for keys in
};

const std::string openai_body = R"({"name":"oa","type":"openai","base_url":"https://up.example/v1",
  "api_keys":[")" + provider_key_1 +
                                R"(",")" + provider_key_2 +
                                R"("],"models":["gpt-4o","gpt-4o-mini"],"weight":3,
  "timeouts":{"connect_ms":1500,"total_ms":90000}})";

TEST_P(admin_channels_store_backend, only_admins_call_any_channels_action) {
  auto admin_user = make_user("Ada", "admin");
  auto dev = make_user("Dev", "developer");
  auto viewer = make_user("Vic", "viewer");
  admin::caller roleless{"key_config", "", std::nullopt, std::nullopt, "192.0.2.8"};
  const std::vector<std::pair<std::string, std::string>> actions = {
      {"create", "channel.create"},    {"list", "channel.list"},     {"read", "channel.read"},
      {"read config", "channel.read"}, {"update", "channel.update"}, {"delete", "channel.delete"},
  };
  int checked = 0, n = 0;
  for (const auto* who : {&admin_user, &master_, &cli_, &dev, &viewer, &roleless}) {
    for (const auto& [name, action] : actions) {
      SCOPED_TRACE(who->actor + " (" + who->role + "): " + name);
      const std::string suffix = std::to_string(++n);
      const std::string id = make_channel(R"({"name":"c)" + suffix +
                                          R"(","type":"mock","models":["m)" + suffix + R"("]})");
      answer a;
      std::string target = id;
      if (name == "create") {
        target = "";
        a = call(*who, "POST", "/admin/channels",
                 R"({"name":"new)" + suffix + R"(","type":"mock","models":["x"]})");
      } else if (name == "list") {
        target = "";
        a = call(*who, "GET", "/admin/channels");
      } else if (name == "read") {
        a = call(*who, "GET", "/admin/channels/" + id);
      } else if (name == "read config") {
        target = "config:mock";
        a = call(*who, "GET", "/admin/channels/config:mock");
      } else if (name == "update") {
        a = call(*who, "PATCH", "/admin/channels/" + id, R"({"weight":2})");
      } else {
        a = call(*who, "DELETE", "/admin/channels/" + id);
      }
      auto denied = audit_rows(who->actor, action);
      std::erase_if(denied, [](const store::audit_row& r) { return r.result != "denied"; });
      if (who->role == "admin") {
        EXPECT_GE(a.status, 200u) << a.text;
        EXPECT_LT(a.status, 300u) << a.text;
        EXPECT_TRUE(denied.empty());
      } else {
        EXPECT_EQ(a.status, 403u) << a.text;
        EXPECT_EQ(a.error_code(), "forbidden");
        ASSERT_EQ(denied.size(), 1u);
        EXPECT_EQ(denied[0].role, who->role);
        EXPECT_EQ(denied[0].target, target);
        EXPECT_EQ(denied[0].client_ip, who->client_ip);
        ASSERT_FALSE(db_->query("DELETE FROM audit_log WHERE id = $1", {denied[0].id}).index());
        // Nothing changed.
        auto still = stored(id);
        ASSERT_TRUE(still);
        EXPECT_EQ(still->channel.weight, 1u);
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 6 * 6);
  // The refused creates made nothing: one channel each for the three administrators.
  auto made = rows_of(db_->query("SELECT name FROM channels WHERE name LIKE 'new%'"));
  EXPECT_EQ(made.size(), 3u);
}

TEST_P(admin_channels_store_backend, a_channel_has_the_documented_shape) {
  auto a = call(master_, "POST", "/admin/channels", openai_body);
  ASSERT_EQ(a.status, 201u) << a.text;
  const auto id = a.str("id");
  EXPECT_TRUE(id.starts_with("ch_")) << id;
  EXPECT_EQ(a.obj().size(), 13u) << a.text;
  EXPECT_EQ(a.str("name"), "oa");
  EXPECT_EQ(a.str("type"), "openai");
  EXPECT_EQ(a.str("base_url"), "https://up.example/v1");
  EXPECT_EQ(a.at("models"), json::parse(R"(["gpt-4o","gpt-4o-mini"])"));
  EXPECT_EQ(a.at("weight"), json::value(3));
  EXPECT_EQ(a.at("timeouts"), json::parse(R"({"connect_ms":1500,"first_byte_ms":60000,
                                            "idle_ms":60000,"total_ms":90000})"));
  EXPECT_EQ(a.str("api_version"), "2024-10-21");
  EXPECT_EQ(a.str("anthropic_version"), "2023-06-01");
  EXPECT_EQ(a.at("managed"), json::value(true));
  EXPECT_EQ(a.at("api_keys_count"), json::value(2));
  EXPECT_EQ(a.str("created_at"), "2027-01-15T08:00:00Z");
  EXPECT_EQ(a.str("updated_at"), "2027-01-15T08:00:00Z");
  EXPECT_FALSE(a.obj().contains("api_keys"));

  auto got = call(master_, "GET", "/admin/channels/" + id);
  EXPECT_EQ(got.status, 200u);
  EXPECT_EQ(got.body, a.body);

  // The list: the config file's channels first (as served), then the managed ones by name.
  ++clock_;
  make_channel(R"({"name":"a-mock","type":"mock","models":["other"]})");
  auto list = call(master_, "GET", "/admin/channels");
  ASSERT_EQ(list.status, 200u) << list.text;
  EXPECT_TRUE(list.at("next_cursor").is_null());
  ASSERT_EQ(list.data().size(), 4u);
  std::vector<std::string> ids;
  for (const auto& item : list.data())
    ids.emplace_back(item.at("id").as_string());
  EXPECT_EQ(ids[0], "config:mock");
  EXPECT_EQ(ids[1], "config:team a/b");
  EXPECT_EQ(ids[3], id);
  EXPECT_EQ(list.data()[3], a.body);
  const auto& config_item = list.data()[1].as_object();
  EXPECT_EQ(config_item.at("managed"), json::value(false));
  EXPECT_EQ(config_item.at("api_keys_count"), json::value(1));
  EXPECT_TRUE(config_item.at("created_at").is_null());
  EXPECT_TRUE(config_item.at("updated_at").is_null());
  EXPECT_EQ(config_item.at("base_url"), json::value("https://api.openai.com/v1"));
  EXPECT_FALSE(config_item.contains("api_keys"));
  // limit and cursor are accepted (the list is one page); other parameters are not.
  EXPECT_EQ(call(master_, "GET", "/admin/channels", "", "limit=1").data().size(), 4u);
  auto bad = call(master_, "GET", "/admin/channels", "", "type=mock");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(bad.error_field(), "type");

  // The create's audit row: the settings, the keys as a count.
  auto rows = audit_rows("master", "channel.create");
  ASSERT_EQ(rows.size(), 2u);
  auto changes = json::parse(rows[1].changes).as_object();
  EXPECT_EQ(rows[1].target, id);  // newest first
  EXPECT_EQ(rows[1].result, "ok");
  EXPECT_EQ(changes.at("api_keys"), json::value(2));
  EXPECT_EQ(changes.at("name"), json::value("oa"));
  EXPECT_EQ(changes.at("weight"), json::value(3));

  // Without a config file the list holds the managed channels only.
  env_->cfg = nullptr;
  EXPECT_EQ(call(master_, "GET", "/admin/channels").data().size(), 2u);
}

TEST_P(admin_channels_store_backend, invalid_input_is_400_naming_the_field) {
  const std::string too_long(201, 'n');
  for (auto [body, field] : std::vector<std::pair<std::string, std::string>>{
           {"not json", "<no field>"},
           {"[1]", "<no field>"},
           {"", "<no field>"},
           {R"({"type":"mock","models":["a"]})", "name"},
           {R"({"name":"","type":"mock","models":["a"]})", "name"},
           {R"({"name":")" + too_long + R"(","type":"mock","models":["a"]})", "name"},
           {R"({"name":"x","models":["a"]})", "type"},
           {R"({"name":"x","type":"nosuch","models":["a"]})", "type"},
           {R"({"name":"x","type":"mock"})", "models"},
           {R"({"name":"x","type":"mock","models":[]})", "models"},
           {R"({"name":"x","type":"mock","models":{"a":{"b":1}}})", "models"},
           {R"({"name":"x","type":"azure","models":["a"]})", "base_url"},
           {R"({"name":"x","type":"openai","base_url":"ftp://h","models":["a"]})", "base_url"},
           {R"({"name":"x","type":"mock","models":["a"],"weight":0})", "weight"},
           {R"({"name":"x","type":"mock","models":["a"],"weight":"many"})", "weight"},
           {R"({"name":"x","type":"mock","models":["a"],"timeouts":{"connect_ms":0}})", "timeouts"},
           {R"({"name":"x","type":"mock","models":["a"],"timeouts":{"connnect_ms":5}})",
            "timeouts"},
           {R"({"name":"x","type":"mock","models":["a"],"mock":{"words":-1}})", "mock"},
           {R"({"name":"x","type":"mock","models":["a"],"api_keys":{"k":"v"}})", "api_keys"},
           {R"({"name":"x","type":"mock","models":["a"],"api_keys":["a\u0001b"]})", "api_keys"},
           {R"({"name":"x","type":"mock","models":["a"],"ca_file":"/nonexistent/ca.pem"})",
            "ca_file"},
           {R"({"name":"x","type":"mock","models":["a"],"colour":"red"})", "colour"},
           {R"({"name":"x","type":"mock","models":["a"],"id":"ch_1"})", "id"},
           {R"({"name":"x","type":"mock","models":["a"],"api_keys_count":1})", "api_keys_count"},
       }) {
    SCOPED_TRACE(body);
    auto a = call(master_, "POST", "/admin/channels", body);
    EXPECT_EQ(a.status, 400u) << a.text;
    EXPECT_EQ(a.error_code(), "invalid_request");
    EXPECT_EQ(a.error_field(), field) << a.text;
    // The message names the path without the parser's source and line.
    EXPECT_EQ(a.text.find("channel:1"), std::string::npos) << a.text;
  }
  auto nested = call(master_, "POST", "/admin/channels",
                     R"({"name":"x","type":"mock","models":["a"],"timeouts":{"idle_ms":0}})");
  EXPECT_NE(nested.text.find("timeouts.idle_ms"), std::string::npos) << nested.text;
  // Nothing was stored, nothing audited.
  EXPECT_EQ(call(master_, "GET", "/admin/channels").data().size(), 2u);
  EXPECT_TRUE(audit_rows().empty());
  // Refused in a PATCH too.
  auto id = make_channel(R"({"name":"x","type":"mock","models":["a"]})");
  for (auto [body, field] : std::vector<std::pair<std::string, std::string>>{
           {"{}", "<no field>"},
           {R"({"type":"azure"})", "base_url"},
           {R"({"models":[]})", "models"},
           {R"({"models":null})", "models"},
           {R"({"name":null})", "name"},
           {R"({"timeouts":{"total_ms":"soon"}})", "timeouts"},
           {R"({"colour":"red"})", "colour"},
           {R"({"managed":false})", "managed"},
       }) {
    SCOPED_TRACE(body);
    auto a = call(master_, "PATCH", "/admin/channels/" + id, body);
    EXPECT_EQ(a.status, 400u) << a.text;
    EXPECT_EQ(a.error_field(), field) << a.text;
  }
  EXPECT_EQ(stored(id)->channel.type, channel_type::mock);
}

TEST_P(admin_channels_store_backend, names_are_unique_across_managed_and_config_channels) {
  auto first = make_channel(R"({"name":"one","type":"mock","models":["a"]})");
  auto second = make_channel(R"({"name":"two","type":"mock","models":["b"]})");
  for (auto [method, path, body] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"POST", "/admin/channels", R"({"name":"one","type":"mock","models":["c"]})"},
           {"POST", "/admin/channels", R"({"name":"mock","type":"mock","models":["c"]})"},
           {"POST", "/admin/channels", R"({"name":"team a/b","type":"mock","models":["c"]})"},
           {"PATCH", "/admin/channels/" + second, R"({"name":"one"})"},
           {"PATCH", "/admin/channels/" + second, R"({"name":"mock"})"},
       }) {
    SCOPED_TRACE(method + " " + body);
    auto a = call(master_, method, path, body);
    EXPECT_EQ(a.status, 400u) << a.text;
    EXPECT_EQ(a.error_code(), "invalid_request");
    EXPECT_EQ(a.error_field(), "name");
  }
  EXPECT_EQ(stored(second)->channel.name, "two");
  EXPECT_EQ(audit_rows("master", "channel.update").size(), 0u);
  // Renaming to its own name, or to a free one, is fine; the old name is free again.
  EXPECT_EQ(call(master_, "PATCH", "/admin/channels/" + first, R"({"name":"one"})").status, 200u);
  EXPECT_EQ(call(master_, "PATCH", "/admin/channels/" + first, R"({"name":"uno"})").status, 200u);
  EXPECT_EQ(
      call(master_, "POST", "/admin/channels", R"({"name":"one","type":"mock","models":["c"]})")
          .status,
      201u);
}

TEST_P(admin_channels_store_backend, config_file_channels_are_read_only) {
  auto got = call(master_, "GET", "/admin/channels/config:mock");
  ASSERT_EQ(got.status, 200u) << got.text;
  EXPECT_EQ(got.str("id"), "config:mock");
  EXPECT_EQ(got.at("managed"), json::value(false));
  EXPECT_EQ(got.at("api_keys_count"), json::value(0));
  EXPECT_EQ(got.at("models"), json::parse(R"(["demo"])"));
  // A name with a space and a slash, %-encoded in the path.
  auto spaced = call(master_, "GET", "/admin/channels/config:team%20a%2Fb");
  ASSERT_EQ(spaced.status, 200u) << spaced.text;
  EXPECT_EQ(spaced.str("name"), "team a/b");
  EXPECT_EQ(spaced.at("api_keys_count"), json::value(1));

  for (auto [method, path, body] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"PATCH", "/admin/channels/config:mock", R"({"weight":2})"},
           {"PATCH", "/admin/channels/config:mock", "not even json"},
           {"DELETE", "/admin/channels/config:mock", ""},
           {"DELETE", "/admin/channels/config:team%20a%2Fb", ""},
       }) {
    SCOPED_TRACE(method + " " + path);
    auto a = call(master_, method, path, body);
    EXPECT_EQ(a.status, 409u) << a.text;
    EXPECT_EQ(a.error_code(), "read_only");
    EXPECT_NE(a.text.find("config file"), std::string::npos);
  }
  for (auto method : {"GET", "PATCH", "DELETE"}) {
    SCOPED_TRACE(method);
    EXPECT_EQ(call(master_, method, "/admin/channels/config:nosuch", R"({"weight":2})").status,
              404u);
    EXPECT_EQ(call(master_, method, "/admin/channels/config:", R"({"weight":2})").status, 404u);
    EXPECT_EQ(call(master_, method, "/admin/channels/config:%zz", R"({"weight":2})").status, 404u);
  }
  EXPECT_TRUE(audit_rows().empty());
}

TEST_P(admin_channels_store_backend, provider_keys_are_sealed_and_never_shown) {
  auto id = make_channel(openai_body);
  call(master_, "GET", "/admin/channels/" + id);
  call(master_, "GET", "/admin/channels");
  call(master_, "GET", "/admin/channels/config:team%20a%2Fb");
  ++clock_;
  call(master_, "PATCH", "/admin/channels/" + id,
       R"({"api_keys":[")" + provider_key_3 + R"("],"weight":4})");
  ++clock_;
  call(master_, "PATCH", "/admin/channels/" + id, R"({"api_key":")" + provider_key_1 + R"("})");
  auto deleted = call(master_, "DELETE", "/admin/channels/" + id);
  EXPECT_EQ(deleted.status, 200u);
  auto other = make_channel(R"({"name":"kept","type":"openai","api_keys":[")" + provider_key_2 +
                            R"("],"models":["m"]})");
  call(master_, "GET", "/admin/audit");

  const std::vector<std::string> keys = {provider_key_1, provider_key_2, provider_key_3,
                                         config_key};
  for (const auto& body : answers_) {
    for (const auto& key : keys)
      EXPECT_EQ(body.find(key), std::string::npos) << body;
    EXPECT_EQ(body.find("sy1:"), std::string::npos) << body;
    EXPECT_EQ(body.find("\"api_keys\":["), std::string::npos) << body;
  }
  auto rows = audit_rows();
  ASSERT_EQ(rows.size(), 5u);
  for (const auto& r : rows) {
    for (const auto& key : keys)
      EXPECT_EQ(r.changes.find(key), std::string::npos) << r.changes;
  }
  auto updates = audit_rows("master", "channel.update");
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(json::parse(updates[1].changes), json::parse(R"({"api_keys":1,"weight":4})"));
  EXPECT_EQ(json::parse(updates[0].changes), json::parse(R"({"api_keys":1})"));
  auto deletes = audit_rows("master", "channel.delete");
  ASSERT_EQ(deletes.size(), 1u);
  EXPECT_EQ(json::parse(deletes[0].changes), json::parse(R"({"name":"oa"})"));

  // In the database: sealed, bound to the row, never in clear in any column of any table.
  auto dump = rows_of(db_->query("SELECT id, name, type, config, api_keys FROM channels"));
  ASSERT_EQ(dump.size(), 1u);
  EXPECT_EQ(dump[0].text(0), other);
  EXPECT_TRUE(crypto::sealer::looks_sealed(dump[0].text(4))) << dump[0].text(4);
  for (std::size_t i = 0; i < dump[0].columns.size(); ++i) {
    for (const auto& key : keys)
      EXPECT_EQ(dump[0].text(i).find(key), std::string::npos) << dump[0].text(i);
  }
  auto audit_dump = rows_of(db_->query(
      "SELECT id, at, actor, role, action, target, client_ip, result, changes FROM audit_log"));
  for (const auto& r : audit_dump) {
    for (std::size_t i = 0; i < r.columns.size(); ++i) {
      for (const auto& key : keys)
        EXPECT_EQ(r.text(i).find(key), std::string::npos) << r.text(i);
      EXPECT_EQ(r.text(i).find("sy1:"), std::string::npos) << r.text(i);
    }
  }
  EXPECT_EQ(stored(other)->channel.api_keys, std::vector<std::string>{provider_key_2});
}

TEST_P(admin_channels_store_backend, provider_keys_need_the_secret_key) {
  auto with_keys = make_channel(openai_body);
  env_->sealer = nullptr;
  auto refused =
      call(master_, "POST", "/admin/channels",
           R"({"name":"k","type":"mock","models":["a"],"api_keys":[")" + provider_key_3 + R"("]})");
  EXPECT_EQ(refused.status, 400u) << refused.text;
  EXPECT_EQ(refused.error_code(), "secret_key_required");
  EXPECT_EQ(refused.error_field(), "api_keys");
  EXPECT_NE(refused.text.find("SWITCHYARD_SECRET_KEY"), std::string::npos);
  // Without keys a channel is stored and changed as usual; giving it keys is refused.
  auto id = make_channel(R"({"name":"plain","type":"mock","models":["a"],"api_keys":[]})");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(call(master_, "PATCH", "/admin/channels/" + id, R"({"weight":7})").status, 200u);
  auto patch = call(master_, "PATCH", "/admin/channels/" + id,
                    R"({"api_keys":[")" + provider_key_3 + R"("]})");
  EXPECT_EQ(patch.status, 400u);
  EXPECT_EQ(patch.error_code(), "secret_key_required");
  EXPECT_EQ(call(master_, "PATCH", "/admin/channels/" + id, R"({"api_keys":[]})").status, 200u);
  // A stored channel whose keys cannot be opened: not readable (the error says why), but it can
  // be deleted, which is how an operator who lost the secret key recovers.
  auto unreadable = call(master_, "GET", "/admin/channels/" + with_keys);
  EXPECT_EQ(unreadable.status, 500u);
  EXPECT_NE(unreadable.text.find("SWITCHYARD_SECRET_KEY"), std::string::npos) << unreadable.text;
  EXPECT_EQ(call(master_, "GET", "/admin/channels").status, 500u);
  auto deleted = call(master_, "DELETE", "/admin/channels/" + with_keys);
  ASSERT_EQ(deleted.status, 200u) << deleted.text;
  EXPECT_EQ(deleted.str("name"), "oa");
  EXPECT_TRUE(deleted.at("api_keys_count").is_null());
  EXPECT_EQ(deleted.str("created_at"), "2027-01-15T08:00:00Z");
  EXPECT_EQ(call(master_, "GET", "/admin/channels").data().size(), 3u);
  for (const auto& body : answers_)
    EXPECT_EQ(body.find("sy1:"), std::string::npos) << body;
}

TEST_P(admin_channels_store_backend, a_patch_is_merged_over_the_stored_channel) {
  auto id = make_channel(openai_body);
  clock_ += 59;
  // A second apart each, so that the audit rows come back in order.
  auto patch = [&](const std::string& body) {
    ++clock_;
    auto a = call(master_, "PATCH", "/admin/channels/" + id, body);
    EXPECT_EQ(a.status, 200u) << body << ": " << a.text;
    return a;
  };
  // One field: the others, the keys included, are kept.
  auto a = patch(R"({"weight":5})");
  EXPECT_EQ(a.at("weight"), json::value(5));
  EXPECT_EQ(a.str("base_url"), "https://up.example/v1");
  EXPECT_EQ(a.at("api_keys_count"), json::value(2));
  EXPECT_EQ(a.str("created_at"), "2027-01-15T08:00:00Z");
  EXPECT_EQ(a.str("updated_at"), "2027-01-15T08:01:00Z");
  EXPECT_EQ(stored(id)->channel.api_keys,
            (std::vector<std::string>{provider_key_1, provider_key_2}));
  // timeouts and mock are merged key by key.
  a = patch(R"({"timeouts":{"idle_ms":5000}})");
  EXPECT_EQ(a.at("timeouts"), json::parse(R"({"connect_ms":1500,"first_byte_ms":60000,
                                            "idle_ms":5000,"total_ms":90000})"));
  a = patch(R"({"timeouts":{"connect_ms":null}})");
  EXPECT_EQ(a.at("timeouts").at("connect_ms"), json::value(5000));
  EXPECT_EQ(a.at("timeouts").at("idle_ms"), json::value(5000));
  // Every other field is replaced: models as a list or a map.
  a = patch(R"({"models":{"fast":"gpt-4o-mini"}})");
  EXPECT_EQ(a.at("models"), json::parse(R"({"fast":"gpt-4o-mini"})"));
  a = patch(R"({"models":["only"]})");
  EXPECT_EQ(a.at("models"), json::parse(R"(["only"])"));
  // null resets to the default.
  a = patch(R"({"base_url":null,"weight":null})");
  EXPECT_EQ(a.str("base_url"), "https://api.openai.com/v1");
  EXPECT_EQ(a.at("weight"), json::value(1));
  // A new type brings its default base_url when the old one was the old type's default.
  a = patch(R"({"type":"anthropic"})");
  EXPECT_EQ(a.str("type"), "anthropic");
  EXPECT_EQ(a.str("base_url"), "https://api.anthropic.com");
  a = patch(R"({"type":"openai","base_url":"https://own.example/v1"})");
  EXPECT_EQ(a.str("base_url"), "https://own.example/v1");
  a = patch(R"({"type":"groq"})");
  EXPECT_EQ(a.str("base_url"), "https://own.example/v1");
  // api_keys replaces them all; [] removes them.
  a = patch(R"({"api_keys":[")" + provider_key_3 + R"("]})");
  EXPECT_EQ(a.at("api_keys_count"), json::value(1));
  EXPECT_EQ(stored(id)->channel.api_keys, std::vector<std::string>{provider_key_3});
  a = patch(R"({"api_keys":[]})");
  EXPECT_EQ(a.at("api_keys_count"), json::value(0));
  EXPECT_TRUE(stored(id)->channel.api_keys.empty());
  auto got = call(master_, "GET", "/admin/channels/" + id);
  EXPECT_EQ(got.body, a.body);

  // Each update is audited with the fields given, as stored (newest first).
  auto rows = audit_rows("master", "channel.update");
  ASSERT_EQ(rows.size(), 11u);
  EXPECT_EQ(json::parse(rows[10].changes), json::parse(R"({"weight":5})"));
  EXPECT_EQ(json::parse(rows[8].changes),
            json::parse(R"({"timeouts":{"connect_ms":5000,"first_byte_ms":60000,"idle_ms":5000,
                            "total_ms":90000}})"));
  EXPECT_EQ(json::parse(rows[5].changes),
            json::parse(R"({"base_url":"https://api.openai.com/v1","weight":1})"));
  EXPECT_EQ(json::parse(rows[4].changes), json::parse(R"({"type":"anthropic"})"));
  EXPECT_EQ(json::parse(rows[1].changes), json::parse(R"({"api_keys":1})"));
  EXPECT_EQ(json::parse(rows[0].changes), json::parse(R"({"api_keys":0})"));
  for (const auto& r : rows)
    EXPECT_EQ(r.target, id);
}

TEST_P(admin_channels_store_backend, a_deleted_channel_is_gone) {
  auto id = make_channel(R"({"name":"gone","type":"mock","models":["a"]})");
  auto kept = make_channel(R"({"name":"kept","type":"mock","models":["b"]})");
  auto deleted = call(master_, "DELETE", "/admin/channels/" + id);
  ASSERT_EQ(deleted.status, 200u) << deleted.text;
  EXPECT_EQ(deleted.str("id"), id);
  EXPECT_EQ(deleted.str("name"), "gone");
  EXPECT_EQ(deleted.at("managed"), json::value(true));
  for (auto [method, body] : std::vector<std::pair<std::string, std::string>>{
           {"GET", ""}, {"PATCH", R"({"weight":2})"}, {"DELETE", ""}}) {
    SCOPED_TRACE(method);
    auto a = call(master_, method, "/admin/channels/" + id, body);
    EXPECT_EQ(a.status, 404u) << a.text;
    EXPECT_EQ(a.error_code(), "not_found");
  }
  EXPECT_EQ(call(master_, "GET", "/admin/channels/ch_0000000000000000").status, 404u);
  auto list = call(master_, "GET", "/admin/channels");
  ASSERT_EQ(list.data().size(), 3u);
  EXPECT_EQ(list.data()[2].at("id"), json::value(kept));
  // The name is free again.
  EXPECT_EQ(
      call(master_, "POST", "/admin/channels", R"({"name":"gone","type":"mock","models":["a"]})")
          .status,
      201u);
  auto rows = audit_rows("master", "channel.delete");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].target, id);
}

TEST_P(admin_channels_store_backend, wrong_methods_are_405_and_other_paths_404) {
  auto a = call(master_, "PUT", "/admin/channels");
  EXPECT_EQ(a.status, 405u);
  EXPECT_EQ(a.allow, "GET, POST");
  a = call(master_, "POST", "/admin/channels/ch_1");
  EXPECT_EQ(a.status, 405u);
  EXPECT_EQ(a.allow, "GET, PATCH, DELETE");
  for (const auto* path : {"/admin/channels/", "/admin/channels/ch_1/keys", "/admin/channel"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(call(master_, "GET", path).status, 404u);
  }
}

INSTANTIATE_TEST_SUITE_P(each, admin_channels_store_backend, ::testing::ValuesIn(backends()),
                         backend_name);

}  // namespace
}  // namespace sy::test
