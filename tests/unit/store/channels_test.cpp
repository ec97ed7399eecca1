// The channels repository on every store backend: SQLite always, PostgreSQL under the ctest entry
// store_postgres (the suite's name ends in "store_backend" for that). Provider keys are sealed
// with crypto::sealer, the row id as context; their plaintext is stored nowhere.
#include "store/channels.h"

#include "common/crypto.h"
#include "store/migrations.h"
#include "store_fixture.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>

namespace sy::test {
namespace {

using namespace std::chrono_literals;

template <class T>
std::string error_of(const store::result<T>& r) {
  auto* e = std::get_if<store::db_error>(&r);
  if (!e) {
    ADD_FAILURE() << "expected an error";
    return {};
  }
  return e->message;
}

template <class T>
bool is_client_error(const store::result<T>& r) {
  auto* e = std::get_if<store::db_error>(&r);
  return e && e->constraint;
}

crypto::sealer make_sealer(const std::string& secret) {
  auto made = crypto::sealer::from_secret(secret);
  if (auto* e = std::get_if<std::string>(&made)) {
    ADD_FAILURE() << *e;
    std::abort();
  }
  return std::get<crypto::sealer>(std::move(made));
}

const std::string provider_key = "sk-proj-PLAINTEXTprovider0123456789abcdefXYZ";
const std::string provider_key_2 = "sk-ant-SECONDplaintextKEY9876543210zyxwv";

channel_config openai_channel(const std::string& name) {
  channel_config ch;
  ch.name = name;
  ch.type = channel_type::openai;
  ch.vendor = "openai";
  ch.base_url = "https://api.openai.com/v1";
  ch.api_keys = {provider_key};
  ch.models = {{"gpt-4o", "gpt-4o"}, {"fast", "gpt-4o-mini"}};
  return ch;
}

class channels_store_backend : public store_backend {
 protected:
  void SetUp() override {
    store_backend::SetUp();
    if (HasFatalFailure()) return;
    db_ = open();
    ASSERT_TRUE(db_);
    ASSERT_FALSE(store::migrate(*db_));
    repo_ = std::make_unique<store::channels>(*db_, &sealer_, [this] { return tick(); });
  }

  std::int64_t tick() {
    if (interfere_) {
      auto hook = std::move(interfere_);
      interfere_ = nullptr;
      hook();
    }
    return clock_;
  }

  store::channels& repo() { return *repo_; }

  std::int64_t revision() { return ok(store::read_revision(*db_)); }

  crypto::sealer sealer_ = make_sealer("test secret key of at least thirty-two characters");
  std::int64_t clock_ = 1'700'000'000;
  std::function<void()> interfere_;  // runs once, inside the next call of the clock
  std::unique_ptr<store::connection> db_;
  std::unique_ptr<store::channels> repo_;
};

TEST_P(channels_store_backend, a_channel_that_does_not_open_is_left_out_of_a_tolerant_list) {
  auto keyless = openai_channel("keyless");
  keyless.api_keys.clear();
  ok(repo().create(keyless));
  ok(repo().create(openai_channel("sealed")));
  auto other = make_sealer("another secret key, also thirty-two characters long");
  store::channels elsewhere(*db_, &other);
  EXPECT_TRUE(std::holds_alternative<store::db_error>(elsewhere.list()));  // strict: fails whole
  std::vector<store::db_error> unreadable;
  auto listed = ok(elsewhere.list(&unreadable));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].channel.name, "keyless");
  ASSERT_EQ(unreadable.size(), 1u);
  EXPECT_NE(unreadable[0].message.find("sealed"), std::string::npos);
}

TEST_P(channels_store_backend, create_get_and_list) {
  auto ch = openai_channel("zeta");
  ch.api_keys.push_back(provider_key_2);
  ch.weight = 3;
  ch.timeouts.connect = 1234ms;
  ch.timeouts.total = 99000ms;
  ch.api_version = "2025-01-01";
  ch.anthropic_version = "2023-01-01";
  auto made = ok(repo().create(ch));
  EXPECT_TRUE(std::regex_match(made.id, std::regex("ch_[0-9a-f]{16}"))) << made.id;
  EXPECT_EQ(made.created_at, clock_);
  EXPECT_EQ(made.updated_at, clock_);
  EXPECT_EQ(made.channel.api_keys, (std::vector<std::string>{provider_key, provider_key_2}));

  auto got = ok(repo().get(made.id));
  ASSERT_TRUE(got);
  const auto& c = got->channel;
  EXPECT_EQ(got->id, made.id);
  EXPECT_EQ(c.name, "zeta");
  EXPECT_EQ(c.type, channel_type::openai);
  EXPECT_EQ(c.vendor, "openai");
  EXPECT_EQ(c.base_url, "https://api.openai.com/v1");
  EXPECT_EQ(c.api_keys, (std::vector<std::string>{provider_key, provider_key_2}));
  ASSERT_EQ(c.models.size(), 2u);
  EXPECT_EQ(c.models[0].public_name, "gpt-4o");
  EXPECT_EQ(c.models[0].upstream_name, "gpt-4o");
  EXPECT_EQ(c.models[1].public_name, "fast");
  EXPECT_EQ(c.models[1].upstream_name, "gpt-4o-mini");
  EXPECT_EQ(c.weight, 3u);
  EXPECT_EQ(c.timeouts.connect, 1234ms);
  EXPECT_EQ(c.timeouts.first_byte, 60000ms);
  EXPECT_EQ(c.timeouts.total, 99000ms);
  EXPECT_EQ(c.api_version, "2025-01-01");
  EXPECT_EQ(c.anthropic_version, "2023-01-01");
  EXPECT_EQ(got->created_at, clock_);

  // A mock channel with no key and its own options; an anthropic one with the vendor's default URL.
  channel_config mock;
  mock.name = "alpha";
  mock.type = channel_type::mock;
  mock.vendor = "mock";
  mock.models = {{"demo", "demo"}};
  mock.mock.words = 3;
  mock.mock.latency = 5ms;
  auto m = ok(repo().create(mock));
  channel_config claude;
  claude.name = "mid";
  claude.type = channel_type::anthropic;
  claude.vendor = "anthropic";
  claude.models = {{"claude-*", "claude-*"}};
  claude.api_keys = {provider_key_2};
  auto a = ok(repo().create(claude));
  EXPECT_EQ(a.channel.base_url, "https://api.anthropic.com");

  auto all = ok(repo().list());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].channel.name, "alpha");
  EXPECT_EQ(all[1].channel.name, "mid");
  EXPECT_EQ(all[2].channel.name, "zeta");
  EXPECT_EQ(all[0].id, m.id);
  EXPECT_EQ(all[0].channel.type, channel_type::mock);
  EXPECT_TRUE(all[0].channel.api_keys.empty());
  EXPECT_EQ(all[0].channel.mock.words, 3);
  EXPECT_EQ(all[0].channel.mock.latency, 5ms);
  EXPECT_EQ(all[1].channel.api_keys, std::vector<std::string>{provider_key_2});
  EXPECT_EQ(all[2].channel.api_keys.size(), 2u);

  EXPECT_FALSE(ok(repo().get("ch_0000000000000000")));
}

TEST_P(channels_store_backend, the_columns_hold_what_they_say) {
  auto made = ok(repo().create(openai_channel("oa")));
  auto r = rows_of(
      db_->query("SELECT id, name, type, config, api_keys, created_at, updated_at FROM channels"));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].text(0), made.id);
  EXPECT_EQ(r[0].text(1), "oa");
  EXPECT_EQ(r[0].text(2), "openai");
  // The settings as JSON, without keys, readable by parse_channel.
  const auto config = r[0].text(3);
  auto v = boost::json::parse(config);
  ASSERT_TRUE(v.is_object());
  EXPECT_FALSE(v.as_object().contains("api_keys"));
  EXPECT_EQ(v.as_object().at("base_url").as_string(), "https://api.openai.com/v1");
  EXPECT_TRUE(std::holds_alternative<channel_config>(parse_channel(config, "row")));
  // The keys: one sealed value, bound to the row's id.
  const auto sealed = r[0].text(4);
  EXPECT_TRUE(crypto::sealer::looks_sealed(sealed)) << sealed;
  EXPECT_EQ(sealer_.open(sealed, made.id), "[\"" + provider_key + "\"]");
  EXPECT_FALSE(sealer_.open(sealed, "ch_other"));
  EXPECT_EQ(r[0].integer(5), clock_);
  EXPECT_EQ(r[0].integer(6), clock_);
}

TEST_P(channels_store_backend, no_provider_key_is_stored_in_clear) {
  auto first = ok(repo().create(openai_channel("one")));
  auto second = openai_channel("two");
  second.api_keys = {provider_key_2, provider_key};
  auto made = ok(repo().create(second));
  // Keys replaced, a channel renamed, one deleted: none of it leaves a key behind in clear.
  ok(repo().update(first.id, {.api_keys = std::vector<std::string>{provider_key_2}}));
  ok(repo().update(made.id, {.name = std::string("three")}));
  auto third = ok(repo().create(openai_channel("four")));
  ASSERT_TRUE(ok(repo().remove(third.id)));
  ASSERT_EQ(ok(repo().get(made.id))->channel.api_keys,
            (std::vector<std::string>{provider_key_2, provider_key}));

  // What is unique in each key (every key starts "sk-"): not in any column of any row.
  const std::vector<std::string> needles{provider_key,           provider_key_2,
                                         provider_key.substr(8), provider_key_2.substr(7),
                                         "PLAINTEXTprovider",    "SECONDplaintext"};
  auto all = rows_of(db_->query("SELECT * FROM channels"));
  ASSERT_EQ(all.size(), 2u);
  for (const auto& r : all) {
    ASSERT_GE(r.columns.size(), 7u);
    for (std::size_t c = 0; c < r.columns.size(); ++c) {
      for (const auto& n : needles)
        EXPECT_EQ(r.text(c).find(n), std::string::npos) << "column " << c << ": " << r.text(c);
    }
  }
  // Nor in the other tables (the revision, the migrations).
  for (const char* table : {"store_revision", "schema_migrations"}) {
    auto found = db_->query(std::string("SELECT * FROM ") + table);
    if (std::holds_alternative<store::db_error>(found)) continue;
    for (const auto& r : std::get<std::vector<store::row>>(found)) {
      for (std::size_t c = 0; c < r.columns.size(); ++c) {
        for (const auto& n : needles)
          EXPECT_EQ(r.text(c).find(n), std::string::npos) << table;
      }
    }
  }
  if (GetParam() != "sqlite") return;
  // SQLite: the raw bytes of the database file and of its write-ahead log (read while the
  // connection is open, so the log still holds the recent pages), and of anything else there.
  std::size_t files = 0, bytes = 0;
  bool saw_wal = false;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ++files;
    bytes += data.size();
    saw_wal = saw_wal || entry.path().string().ends_with("-wal");
    for (const auto& n : needles)
      EXPECT_EQ(data.find(n), std::string::npos) << entry.path() << " holds " << n;
  }
  EXPECT_TRUE(saw_wal);
  EXPECT_GE(files, 2u);
  EXPECT_GT(bytes, 0u);
  // After a checkpoint, the main file alone.
  rows_of(db_->query("PRAGMA wal_checkpoint(TRUNCATE)"));
  std::ifstream in(dir_.path / "store.db", std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(data.find("api.openai.com"), std::string::npos) << "the test reads the right file";
  for (const auto& n : needles)
    EXPECT_EQ(data.find(n), std::string::npos);
}

TEST_P(channels_store_backend, keys_need_a_sealer) {
  store::channels plain(*db_, nullptr, [this] { return clock_; });
  auto refused = plain.create(openai_channel("oa"));
  EXPECT_TRUE(is_client_error(refused));
  EXPECT_NE(error_of(refused).find("SWITCHYARD_SECRET_KEY"), std::string::npos)
      << error_of(refused);
  EXPECT_EQ(error_of(refused).find(provider_key), std::string::npos);
  EXPECT_TRUE(ok(plain.list()).empty());

  // Without keys it works, and keys cannot be added afterwards.
  auto keyless = openai_channel("local");
  keyless.api_keys.clear();
  auto made = ok(plain.create(keyless));
  EXPECT_TRUE(ok(plain.get(made.id))->channel.api_keys.empty());
  auto adding = plain.update(made.id, {.api_keys = std::vector<std::string>{provider_key}});
  EXPECT_TRUE(is_client_error(adding));
  EXPECT_NE(error_of(adding).find("SWITCHYARD_SECRET_KEY"), std::string::npos);
  // Empty keys count as none (as an unset ${VAR} in the config file).
  auto blank = openai_channel("blank");
  blank.api_keys = {""};
  EXPECT_TRUE(ok(plain.create(blank)).channel.api_keys.empty());

  // A channel stored with keys cannot be read without the sealer, and the error names it.
  auto sealed = ok(repo().create(openai_channel("sealed")));
  auto unreadable = plain.get(sealed.id);
  EXPECT_FALSE(is_client_error(unreadable));
  EXPECT_NE(error_of(unreadable).find("sealed"), std::string::npos) << error_of(unreadable);
  EXPECT_NE(error_of(unreadable).find(sealed.id), std::string::npos);
  EXPECT_NE(error_of(unreadable).find("SWITCHYARD_SECRET_KEY"), std::string::npos);
  EXPECT_FALSE(std::holds_alternative<std::vector<store::channel_row>>(plain.list()));
}

TEST_P(channels_store_backend, another_secret_key_cannot_read_the_keys) {
  auto made = ok(repo().create(openai_channel("oa")));
  auto other_sealer = make_sealer("a different secret key, also thirty-two characters");
  store::channels other(*db_, &other_sealer);
  auto got = other.get(made.id);
  EXPECT_FALSE(is_client_error(got));
  const auto message = error_of(got);
  EXPECT_NE(message.find("'oa'"), std::string::npos) << message;
  EXPECT_NE(message.find(made.id), std::string::npos) << message;
  EXPECT_NE(message.find("SWITCHYARD_SECRET_KEY"), std::string::npos) << message;
  EXPECT_EQ(message.find(provider_key), std::string::npos);
  EXPECT_NE(error_of(other.list()).find("'oa'"), std::string::npos);
  // Nor can it update the channel (it would have to read it first); delete needs no key.
  EXPECT_TRUE(std::holds_alternative<store::db_error>(other.update(made.id, {.weight = 2u})));
  EXPECT_EQ(ok(repo().get(made.id))->channel.weight, 1u);
}

TEST_P(channels_store_backend, sealed_keys_copied_to_another_row_do_not_open) {
  auto a = ok(repo().create(openai_channel("a")));
  auto b_channel = openai_channel("b");
  b_channel.api_keys = {provider_key_2};
  auto b = ok(repo().create(b_channel));
  rows_of(
      db_->query("UPDATE channels SET api_keys = (SELECT api_keys FROM channels WHERE id = $1) "
                 "WHERE id = $2",
                 {a.id, b.id}));
  auto got = repo().get(b.id);
  EXPECT_NE(error_of(got).find("'b'"), std::string::npos);
  EXPECT_TRUE(ok(repo().get(a.id)));
  // Tampered with: likewise.
  auto sealed =
      rows_of(db_->query("SELECT api_keys FROM channels WHERE id = $1", {a.id}))[0].text(0);
  sealed[10] = sealed[10] == 'A' ? 'B' : 'A';
  rows_of(db_->query("UPDATE channels SET api_keys = $1 WHERE id = $2", {sealed, a.id}));
  EXPECT_NE(error_of(repo().get(a.id)).find("'a'"), std::string::npos);
}

TEST_P(channels_store_backend, updates_are_patches) {
  auto made = ok(repo().create(openai_channel("oa")));
  const auto sealed_before =
      rows_of(db_->query("SELECT api_keys FROM channels WHERE id = $1", {made.id}))[0].text(0);
  clock_ += 10;
  auto changed = ok(repo().update(
      made.id, {.name = std::string("oa2"),
                .models = std::vector<model_route>{{"gpt-4.1", "gpt-4.1"}},
                .weight = 5u,
                .timeouts = channel_timeouts{
                    .connect = 100ms, .first_byte = 200ms, .idle = 300ms, .total = 400ms}}));
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->channel.name, "oa2");
  EXPECT_EQ(changed->channel.weight, 5u);
  EXPECT_EQ(changed->channel.api_keys, std::vector<std::string>{provider_key});  // kept
  EXPECT_EQ(changed->created_at, clock_ - 10);
  EXPECT_EQ(changed->updated_at, clock_);
  auto got = ok(repo().get(made.id));
  EXPECT_EQ(got->channel.name, "oa2");
  ASSERT_EQ(got->channel.models.size(), 1u);
  EXPECT_EQ(got->channel.models[0].public_name, "gpt-4.1");
  EXPECT_EQ(got->channel.timeouts.idle, 300ms);
  EXPECT_EQ(got->channel.base_url, "https://api.openai.com/v1");
  EXPECT_EQ(got->channel.api_keys, std::vector<std::string>{provider_key});
  EXPECT_EQ(got->updated_at, clock_);
  // Keys left alone, or set to the same ones, keep their sealed value; new ones are sealed anew.
  auto sealed_now = [&] {
    return rows_of(db_->query("SELECT api_keys FROM channels WHERE id = $1", {made.id}))[0].text(0);
  };
  EXPECT_EQ(sealed_now(), sealed_before);
  ok(repo().update(made.id, {.api_keys = std::vector<std::string>{provider_key}}));
  EXPECT_EQ(sealed_now(), sealed_before);
  auto rekeyed = ok(repo().update(made.id, {.api_keys = std::vector<std::string>{provider_key_2}}));
  EXPECT_EQ(rekeyed->channel.api_keys, std::vector<std::string>{provider_key_2});
  EXPECT_NE(sealed_now(), sealed_before);
  // Removing every key stores none.
  auto cleared = ok(repo().update(made.id, {.api_keys = std::vector<std::string>{}}));
  EXPECT_TRUE(cleared->channel.api_keys.empty());
  EXPECT_EQ(sealed_now(), "");
  EXPECT_TRUE(ok(repo().get(made.id))->channel.api_keys.empty());

  // Another type: a base_url that was the old vendor's default becomes the new vendor's.
  auto moved = ok(repo().update(made.id, {.type = std::string("groq")}));
  EXPECT_EQ(moved->channel.vendor, "groq");
  EXPECT_EQ(moved->channel.base_url, "https://api.groq.com/openai/v1");
  auto azure = repo().update(made.id, {.type = std::string("azure")});
  EXPECT_TRUE(is_client_error(azure));  // azure has no default: base_url is required
  EXPECT_NE(error_of(azure).find("base_url"), std::string::npos) << error_of(azure);
  auto azure_ok = ok(repo().update(made.id, {.type = std::string("azure"),
                                             .base_url = std::string("https://x.openai.azure.com/"),
                                             .api_version = std::string("2025-04-01")}));
  EXPECT_EQ(azure_ok->channel.type, channel_type::azure);
  EXPECT_EQ(azure_ok->channel.base_url, "https://x.openai.azure.com");  // trailing / dropped
  EXPECT_EQ(ok(repo().get(made.id))->channel.api_version, "2025-04-01");
  // A custom base_url stays when the type changes.
  auto custom = ok(repo().update(made.id, {.type = std::string("openai")}));
  EXPECT_EQ(custom->channel.base_url, "https://x.openai.azure.com");
  // "" = the vendor's default.
  auto reset = ok(repo().update(made.id, {.base_url = std::string()}));
  EXPECT_EQ(reset->channel.base_url, "https://api.openai.com/v1");

  // An empty patch changes nothing.
  const auto before = revision();
  auto same = ok(repo().update(made.id, {}));
  EXPECT_EQ(same->channel.name, "oa2");
  EXPECT_EQ(revision(), before);

  // patch_setting_all sets everything.
  auto whole = openai_channel("whole");
  whole.weight = 9;
  auto replaced = ok(repo().update(made.id, store::patch_setting_all(whole, true)));
  EXPECT_EQ(replaced->channel.name, "whole");
  EXPECT_EQ(replaced->channel.weight, 9u);
  EXPECT_EQ(replaced->channel.api_keys, std::vector<std::string>{provider_key});
  EXPECT_FALSE(store::patch_setting_all(whole, false).api_keys);
}

TEST_P(channels_store_backend, invalid_settings_are_client_errors_naming_the_field) {
  auto bad_url = openai_channel("x");
  bad_url.base_url = "ftp://example.com";
  auto r1 = repo().create(bad_url);
  EXPECT_TRUE(is_client_error(r1));
  EXPECT_NE(error_of(r1).find("base_url"), std::string::npos) << error_of(r1);

  auto no_models = openai_channel("x");
  no_models.models.clear();
  auto r2 = repo().create(no_models);
  EXPECT_TRUE(is_client_error(r2));
  EXPECT_NE(error_of(r2).find("models"), std::string::npos) << error_of(r2);

  auto no_name = openai_channel("");
  EXPECT_TRUE(is_client_error(repo().create(no_name)));
  auto zero_weight = openai_channel("x");
  zero_weight.weight = 0;
  auto r3 = repo().create(zero_weight);
  EXPECT_TRUE(is_client_error(r3));
  EXPECT_NE(error_of(r3).find("weight"), std::string::npos) << error_of(r3);
  auto bad_key = openai_channel("x");
  bad_key.api_keys = {"sk-abc\r\nx-injected: 1"};
  auto r4 = repo().create(bad_key);
  EXPECT_TRUE(is_client_error(r4));
  EXPECT_NE(error_of(r4).find("api_keys"), std::string::npos);
  EXPECT_EQ(error_of(r4).find("sk-abc"), std::string::npos);
  auto no_file = openai_channel("x");
  no_file.ca_file = (dir_.path / "missing.pem").string();
  EXPECT_TRUE(is_client_error(repo().create(no_file)));
  EXPECT_TRUE(ok(repo().list()).empty());

  auto made = ok(repo().create(openai_channel("good")));
  const auto before = revision();
  EXPECT_TRUE(is_client_error(repo().update(made.id, {.type = std::string("nope")})));
  EXPECT_TRUE(is_client_error(repo().update(made.id, {.base_url = std::string("not a url")})));
  EXPECT_TRUE(is_client_error(repo().update(made.id, {.models = std::vector<model_route>{}})));
  EXPECT_TRUE(is_client_error(repo().update(made.id, {.name = std::string()})));
  EXPECT_TRUE(is_client_error(repo().update(made.id, {.weight = 0u})));
  EXPECT_EQ(revision(), before);
  EXPECT_EQ(ok(repo().get(made.id))->channel.name, "good");
}

TEST_P(channels_store_backend, names_are_unique) {
  auto a = ok(repo().create(openai_channel("a")));
  ok(repo().create(openai_channel("b")));
  auto dup = repo().create(openai_channel("a"));
  EXPECT_TRUE(is_client_error(dup));
  EXPECT_NE(error_of(dup).find("'a'"), std::string::npos) << error_of(dup);
  auto rename = repo().update(a.id, {.name = std::string("b")});
  EXPECT_TRUE(is_client_error(rename));
  EXPECT_NE(error_of(rename).find("name"), std::string::npos) << error_of(rename);
  EXPECT_EQ(ok(repo().get(a.id))->channel.name, "a");
  EXPECT_EQ(ok(repo().list()).size(), 2u);
}

TEST_P(channels_store_backend, unknown_ids) {
  EXPECT_FALSE(ok(repo().get("ch_nobody")));
  EXPECT_FALSE(ok(repo().update("ch_nobody", {.weight = 2u})));
  EXPECT_FALSE(ok(repo().remove("ch_nobody")));
}

TEST_P(channels_store_backend, remove_deletes_the_row) {
  auto a = ok(repo().create(openai_channel("a")));
  auto b = ok(repo().create(openai_channel("b")));
  EXPECT_TRUE(ok(repo().remove(a.id)));
  EXPECT_FALSE(ok(repo().remove(a.id)));
  EXPECT_FALSE(ok(repo().get(a.id)));
  auto left = ok(repo().list());
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].id, b.id);
  // The name is free again.
  EXPECT_TRUE(std::holds_alternative<store::channel_row>(repo().create(openai_channel("a"))));
}

TEST_P(channels_store_backend, every_change_moves_the_store_revision) {
  auto last = revision();
  auto moved = [&] {
    auto now = revision();
    bool changed = now > last;
    last = now;
    return changed;
  };
  auto made = ok(repo().create(openai_channel("a")));
  EXPECT_TRUE(moved());
  ok(repo().update(made.id, {.weight = 4u}));
  EXPECT_TRUE(moved());
  ok(repo().update(made.id, {.api_keys = std::vector<std::string>{provider_key_2}}));
  EXPECT_TRUE(moved());
  ok(repo().get(made.id));
  ok(repo().list());
  ok(repo().update(made.id, {.weight = 4u}));  // nothing to change
  ok(repo().update("ch_nobody", {.weight = 4u}));
  ok(repo().remove("ch_nobody"));
  EXPECT_FALSE(moved());
  repo().create(openai_channel("a"));  // refused: duplicate
  EXPECT_FALSE(moved());
  EXPECT_TRUE(ok(repo().remove(made.id)));
  EXPECT_TRUE(moved());
}

TEST_P(channels_store_backend, a_concurrent_change_is_not_lost) {
  auto made = ok(repo().create(openai_channel("a")));
  // Another writer (another connection: the CLI, another gateway) changes the weight between
  // this update's read and its write; the update is applied again over that change.
  auto other_db = open();
  ASSERT_TRUE(other_db);
  store::channels other(*other_db, &sealer_);
  int runs = 0;
  interfere_ = [&] {
    ++runs;
    ok(other.update(made.id, {.weight = 7u}));
  };
  auto renamed = ok(repo().update(made.id, {.name = std::string("renamed")}));
  EXPECT_EQ(runs, 1);
  ASSERT_TRUE(renamed);
  EXPECT_EQ(renamed->channel.name, "renamed");
  EXPECT_EQ(renamed->channel.weight, 7u);
  auto got = ok(repo().get(made.id));
  EXPECT_EQ(got->channel.name, "renamed");
  EXPECT_EQ(got->channel.weight, 7u);

  // A channel deleted in between: the update finds nothing.
  interfere_ = [&] { ok(other.remove(made.id)); };
  EXPECT_FALSE(ok(repo().update(made.id, {.weight = 2u})));
}

TEST_P(channels_store_backend, a_missing_ca_file_does_not_hide_the_channel) {
  const auto pem = dir_.path / "ca.pem";
  std::ofstream(pem) << "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
  auto ch = openai_channel("private");
  ch.ca_file = pem.string();
  auto made = ok(repo().create(ch));
  EXPECT_EQ(made.channel.ca_file, pem.string());
  std::filesystem::remove(pem);
  auto got = ok(repo().get(made.id));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->channel.ca_file, pem.string());
  // Every change validates the whole channel, the file included; clearing it fixes the channel.
  EXPECT_TRUE(is_client_error(repo().update(made.id, {.weight = 2u})));
  auto fixed = ok(repo().update(made.id, {.ca_file = std::string()}));
  EXPECT_TRUE(fixed->channel.ca_file.empty());
}

INSTANTIATE_TEST_SUITE_P(each, channels_store_backend, ::testing::ValuesIn(backends()),
                         backend_name);

}  // namespace
}  // namespace sy::test
