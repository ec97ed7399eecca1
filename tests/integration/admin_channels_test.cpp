// /admin/channels over HTTP on the real gateway with a SQLite store: a channel created, changed
// and deleted through the API is served (or no longer) by the very next request.
#include "common/crypto.h"
#include "support/fake_upstream.h"
#include "support/gateway.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sy::test {
namespace {

const std::string master = "sk-master-0123456789";
const std::string provider_key = "sk-upstream-secret-0123456789abcdef";

struct temp_folder {
  std::filesystem::path path;
  temp_folder() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sy-channels-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~temp_folder() { std::filesystem::remove_all(path); }
};

std::map<std::string, std::string> as(const std::string& secret) {
  return {{"authorization", "Bearer " + secret}};
}

std::string json_string(const std::string& body, const std::string& field) {
  auto at = body.find("\"" + field + "\":\"");
  if (at == std::string::npos) return "";
  at += field.size() + 4;
  return body.substr(at, body.find('"', at) - at);
}

class admin_channels_http : public ::testing::Test {
 protected:
  void start(const crypto::sealer* sealer) {
    gw_ = std::make_unique<gateway>("database: sqlite:" + db_path() + "\nmaster_key: " + master +
                                        R"(
channels:
  - name: mock
    type: mock
    models: [ demo ]
)",
                                    sealer);
  }

  std::string db_path() const { return (dir_.path / "sy.db").string(); }

  http_response admin(const std::string& method, const std::string& path,
                      const std::string& body = "", const std::string& key = master) {
    http_client c(gw_->port());
    return c.request(method, path, body, as(key));
  }

  http_response chat(const std::string& model) {
    http_client c(gw_->port());
    return c.post("/v1/chat/completions", chat_body(model), master);
  }

  temp_folder dir_;
  std::unique_ptr<gateway> gw_;
};

TEST_F(admin_channels_http, a_channel_made_over_http_is_served_at_once) {
  start(nullptr);
  EXPECT_EQ(chat("fresh-model").status, 404);

  auto created =
      admin("POST", "/admin/channels", R"({"name":"m2","type":"mock","models":["fresh-model"]})");
  ASSERT_EQ(created.status, 201) << created.body;
  const auto id = json_string(created.body, "id");
  ASSERT_TRUE(id.starts_with("ch_")) << created.body;
  // Loaded before the answer left: the next request is routed to it.
  auto served = chat("fresh-model");
  EXPECT_EQ(served.status, 200) << served.body;
  EXPECT_EQ(chat("demo").status, 200);

  auto listed = admin("GET", "/admin/channels");
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_NE(listed.body.find(R"("id":"config:mock")"), std::string::npos) << listed.body;
  EXPECT_NE(listed.body.find(R"("id":")" + id + "\""), std::string::npos) << listed.body;

  auto patched = admin("PATCH", "/admin/channels/" + id, R"({"models":["newer-model"]})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(chat("newer-model").status, 200);
  EXPECT_EQ(chat("fresh-model").status, 404);

  // The config file's channel cannot be changed here.
  auto read_only = admin("PATCH", "/admin/channels/config:mock", R"({"models":["x"]})");
  EXPECT_EQ(read_only.status, 409);
  EXPECT_NE(read_only.body.find(R"("code":"read_only")"), std::string::npos) << read_only.body;
  EXPECT_EQ(chat("demo").status, 200);

  auto deleted = admin("DELETE", "/admin/channels/" + id);
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(chat("newer-model").status, 404);
  EXPECT_EQ(admin("GET", "/admin/channels/" + id).status, 404);

  // Without SWITCHYARD_SECRET_KEY a channel with provider keys is refused.
  auto keyed = admin("POST", "/admin/channels",
                     R"({"name":"k","type":"mock","models":["k"],"api_keys":["sk-x-123"]})");
  EXPECT_EQ(keyed.status, 400);
  EXPECT_NE(keyed.body.find("secret_key_required"), std::string::npos) << keyed.body;
}

TEST_F(admin_channels_http, provider_keys_reach_the_upstream_and_nothing_else) {
  auto sealer =
      std::get<crypto::sealer>(crypto::sealer::from_secret("an-operator-secret-of-32-characters!"));
  start(&sealer);
  fake_upstream up([](const fake_request&, fake_responder& out) {
    out.send(200, completion_json("up-model", "hi"));
  });
  auto created = admin("POST", "/admin/channels",
                       R"({"name":"up","type":"openai","base_url":")" + up.url() +
                           R"(","api_keys":[")" + provider_key + R"("],"models":["up-model"]})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.body.find(provider_key), std::string::npos);
  auto served = chat("up-model");
  ASSERT_EQ(served.status, 200) << served.body;
  auto reqs = up.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].headers["authorization"], "Bearer " + provider_key);

  // A developer may not see channel settings.
  auto user = admin("POST", "/admin/users", R"({"name":"dev","role":"developer"})");
  ASSERT_EQ(user.status, 201) << user.body;
  auto key = admin("POST", "/admin/keys",
                   R"({"name":"k","user_id":")" + json_string(user.body, "id") + R"("})");
  ASSERT_EQ(key.status, 201) << key.body;
  auto refused = admin("GET", "/admin/channels", "", json_string(key.body, "key"));
  EXPECT_EQ(refused.status, 403);

  for (const auto& path : {"/admin/channels", "/admin/audit"}) {
    auto r = admin("GET", path);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body.find(provider_key), std::string::npos) << r.body;
  }
  // Nor in the database file (the WAL included) in clear.
  gw_.reset();
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    EXPECT_EQ(bytes.str().find(provider_key), std::string::npos) << entry.path();
  }
}

}  // namespace
}  // namespace sy::test
