// Usage reports from the real gateway: requests through it, then GET /admin/usage,
// GET /admin/usage/export.csv and GET /v1/usage sum what the fake upstream reported.
#include "support/fake_upstream.h"
#include "support/gateway.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

namespace sy::test {
namespace {

namespace json = boost::json;

const std::string master = "sk-master-0123456789";
const std::string config_key = "sk-app-0123456789";

struct temp_folder {
  std::filesystem::path path;
  temp_folder() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sy-usage-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~temp_folder() { std::filesystem::remove_all(path); }
};

// 1000 prompt tokens (400 of them cached), 500 completion tokens (100 of them reasoning).
void answer_with_usage(const fake_request&, fake_responder& out) {
  out.send(200,
           R"({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,)"
           R"("message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],)"
           R"("usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500,)"
           R"("prompt_tokens_details":{"cached_tokens":400},)"
           R"("completion_tokens_details":{"reasoning_tokens":100}}})");
}

std::string gateway_config(const std::string& database, const std::string& upstream) {
  return "database: " + database + "\nmaster_key: " + master + R"(
currency: { code: CNY, rate: 7.2 }
pricing:
  house-model: { input: 2.00, cached_input: 0.50, output: 8.00 }
channels:
  - name: up
    type: openai
    base_url: )" +
         upstream +
         R"(
    api_keys: [ "sk-upstream" ]
    models: { priced: house-model, unpriced: no-such-model }
keys:
  - { name: app, key: )" +
         config_key + R"(, models: [ "*" ] }
)";
}

std::map<std::string, std::string> bearer(const std::string& key) {
  return {{"authorization", "Bearer " + key}};
}

json::object parse_object(const http_response& r) {
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  EXPECT_FALSE(ec) << r.body;
  if (ec || !v.is_object()) return {};
  return v.as_object();
}

std::int64_t number(const json::value& o, std::string_view name) {
  return o.as_object().at(name).to_number<std::int64_t>();
}

TEST(usage, reports_sum_what_the_upstream_reported) {
  temp_folder dir;
  fake_upstream up(answer_with_usage);
  gateway gw(gateway_config("sqlite:" + (dir.path / "sy.db").string(), up.url()));
  http_client c(gw.port());

  // A user and a managed key of theirs, through the admin API.
  auto user =
      c.request("POST", "/admin/users", R"({"name":"dev","role":"developer"})", bearer(master));
  ASSERT_EQ(user.status, 201) << user.body;
  const std::string user_id(parse_object(user).at("id").as_string());
  auto key = c.request("POST", "/admin/keys", R"({"name":"dev-app","user_id":")" + user_id + "\"}",
                       bearer(master));
  ASSERT_EQ(key.status, 201) << key.body;
  const auto key_object = parse_object(key);
  const std::string key_id(key_object.at("id").as_string());
  const std::string secret(key_object.at("key").as_string());

  // Three requests with the managed key (two priced, one without a price), one with the config
  // key, and one refused (no row).
  for (const char* model : {"priced", "priced", "unpriced"}) {
    ASSERT_EQ(c.post("/v1/chat/completions", chat_body(model), secret).status, 200);
  }
  ASSERT_EQ(c.post("/v1/chat/completions", chat_body("priced"), config_key).status, 200);
  ASSERT_EQ(c.post("/v1/chat/completions", chat_body("nowhere"), secret).status, 404);

  // A row is appended once its request has ended, which may be just after the client has the
  // answer: flush until the four rows are in.
  json::object report;
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(gw.ledger()->flush());
    auto r = c.request("GET", "/admin/usage?group_by=key", "", bearer(master));
    ASSERT_EQ(r.status, 200) << r.body;
    report = parse_object(r);
    if (number(report.at("total"), "requests") == 4) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(number(report.at("total"), "requests"), 4) << json::serialize(report);

  // Per request: 600 uncached + 400 cached input, 400 output + 100 reasoning; a priced one costs
  // 600 x $2 + 400 x $0.50 + 500 x $8 per million = $0.0054.
  const auto& total = report.at("total");
  EXPECT_EQ(number(total, "input_tokens"), 4 * 600);
  EXPECT_EQ(number(total, "cached_input_tokens"), 4 * 400);
  EXPECT_EQ(number(total, "cache_write_tokens"), 0);
  EXPECT_EQ(number(total, "output_tokens"), 4 * 400);
  EXPECT_EQ(number(total, "reasoning_tokens"), 4 * 100);
  EXPECT_EQ(number(total, "unknown_cost_requests"), 1);
  EXPECT_EQ(number(total, "estimated_requests"), 0);
  EXPECT_EQ(total.at("cost_usd").to_number<double>(), 0.0162);
  auto text = c.request("GET", "/admin/usage?group_by=key", "", bearer(master)).body;
  EXPECT_NE(text.find(R"("cost_usd":0.0162,"cost":0.11664,"currency":"CNY")"), std::string::npos)
      << text;
  const auto& data = report.at("data").as_array();
  ASSERT_EQ(data.size(), 2u);
  EXPECT_TRUE(data[0].at("group").is_null());  // the config-file key
  EXPECT_EQ(number(data[0], "requests"), 1);
  EXPECT_EQ(data[1].at("group"), json::value(key_id));
  EXPECT_EQ(data[1].at("name"), "dev-app");
  EXPECT_EQ(number(data[1], "requests"), 3);
  EXPECT_EQ(number(data[1], "unknown_cost_requests"), 1);
  EXPECT_NE(text.find(R"("group":")" + key_id +
                      R"(","name":"dev-app","requests":3,)"
                      R"("input_tokens":1800,"cached_input_tokens":1200,"cache_write_tokens":0,)"
                      R"("cache_write_5m_tokens":0,"cache_write_1h_tokens":0,"output_tokens":)"
                      R"(1200,"reasoning_tokens":300,"estimated_requests":0,)"
                      R"("unknown_cost_requests":1,"cost_usd":0.0108,)"),
            std::string::npos)
      << text;

  // The key's own usage on the data plane, by model (the default).
  auto mine = c.request("GET", "/v1/usage", "", bearer(secret));
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_NE(mine.body.find(R"("group_by":"model")"), std::string::npos) << mine.body;
  EXPECT_NE(mine.body.find(R"("group":"priced","requests":2,"input_tokens":1200,)"),
            std::string::npos)
      << mine.body;
  EXPECT_NE(mine.body.find(R"("unknown_cost_requests":0,"cost_usd":0.0108,)"), std::string::npos)
      << mine.body;
  EXPECT_NE(mine.body.find(R"("group":"unpriced","requests":1,)"), std::string::npos) << mine.body;
  EXPECT_EQ(number(parse_object(mine).at("total"), "requests"), 3);
  // The config-file key sees its own request only, by day.
  auto theirs = c.request("GET", "/v1/usage?group_by=day", "", bearer(config_key));
  ASSERT_EQ(theirs.status, 200) << theirs.body;
  auto theirs_report = parse_object(theirs);
  EXPECT_EQ(number(theirs_report.at("total"), "requests"), 1);
  EXPECT_EQ(theirs_report.at("data").as_array().size(), 1u);
  EXPECT_NE(theirs.body.find(R"("cost_usd":0.0054,)"), std::string::npos) << theirs.body;

  // Errors in OpenAI's shape.
  auto bad = c.request("GET", "/v1/usage?group_by=key", "", bearer(secret));
  EXPECT_EQ(bad.status, 400);
  auto bad_error = parse_object(bad).at("error");
  EXPECT_EQ(bad_error.at("type"), "invalid_request_error");
  EXPECT_EQ(bad_error.at("param"), "group_by");
  bad = c.request("GET", "/v1/usage?user_id=" + user_id, "", bearer(secret));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(parse_object(bad).at("error").at("param"), "user_id");
  bad = c.request("GET", "/v1/usage?from=2020-01-02T00:00:00Z&to=2020-01-01T00:00:00Z", "",
                  bearer(secret));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(parse_object(bad).at("error").at("param"), "from");
  EXPECT_EQ(c.request("GET", "/v1/usage").status, 401);
  EXPECT_EQ(c.request("POST", "/v1/usage", "{}", bearer(secret)).status, 405);

  // The developer sees its own usage on the admin API too, and not another's.
  auto own = c.request("GET", "/admin/usage?group_by=model", "", bearer(secret));
  ASSERT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(number(parse_object(own).at("total"), "requests"), 3);
  EXPECT_EQ(c.request("GET", "/admin/usage?user_id=usr_other", "", bearer(secret)).status, 403);

  // The export: one line per row, in time order, as CSV.
  auto csv = c.request("GET", "/admin/usage/export.csv", "", bearer(master));
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_EQ(csv.header("content-type"), "text/csv; charset=utf-8");
  EXPECT_EQ(csv.header("content-disposition"), "attachment; filename=\"usage.csv\"");
  EXPECT_EQ(std::count(csv.body.begin(), csv.body.end(), '\n'), 5) << csv.body;
  EXPECT_TRUE(csv.body.starts_with("time,request_id,key_id,key_name,")) << csv.body;
  EXPECT_NE(csv.body.find(",600,400,0,0,400,100,false,0.0054,200,"), std::string::npos) << csv.body;
  EXPECT_NE(csv.body.find(",600,400,0,0,400,100,false,,200,"), std::string::npos) << csv.body;
}

TEST(usage, without_a_database_v1_usage_says_so) {
  fake_upstream up(answer_with_usage);
  gateway gw(gateway_config("none", up.url()));
  http_client c(gw.port());
  auto r = c.request("GET", "/v1/usage", "", bearer(config_key));
  EXPECT_EQ(r.status, 404);
  auto error = parse_object(r).at("error");
  EXPECT_EQ(error.at("code"), "no_database");
  EXPECT_NE(r.body.find("database: none"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace sy::test
