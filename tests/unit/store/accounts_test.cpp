// The accounts repository (users, keys, audit) on every store backend: SQLite always, PostgreSQL
// under the ctest entry store_postgres (the suite's name ends in "store_backend" for that).
#include "store/accounts.h"
#include "store/migrations.h"
#include "store_fixture.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <regex>
#include <set>

namespace sy::test {
namespace {

template <class T>
bool is_client_error(const store::result<T>& r) {
  auto* e = std::get_if<store::db_error>(&r);
  return e && e->constraint;
}

bool is_secret(const std::string& s) {
  return s.size() == 51 && s.starts_with("sk-") &&
         std::all_of(s.begin() + 3, s.end(), [](unsigned char c) { return std::isalnum(c); });
}

class accounts_store_backend : public store_backend {
 protected:
  void SetUp() override {
    store_backend::SetUp();
    if (HasFatalFailure()) return;
    db_ = open();
    ASSERT_TRUE(db_);
    ASSERT_FALSE(store::migrate(*db_));
    accounts_ = std::make_unique<store::accounts>(*db_, [this] { return clock_; });
  }

  store::accounts& acc() { return *accounts_; }

  store::user_row make_user(const std::string& name, const std::string& role = "developer") {
    return ok(acc().create_user({.name = name, .role = role}));
  }

  std::int64_t clock_ = 1'700'000'000;
  std::unique_ptr<store::connection> db_;
  std::unique_ptr<store::accounts> accounts_;
};

TEST(accounts_secret, has_the_format_and_never_repeats) {
  std::set<std::string> seen;
  std::array<int, 128> counts{};
  for (int i = 0; i < 1000; ++i) {
    auto s = ok(store::generate_secret());
    ASSERT_TRUE(is_secret(s)) << s;
    seen.insert(s);
    for (std::size_t j = 3; j < s.size(); ++j)
      ++counts[static_cast<unsigned char>(s[j])];
  }
  EXPECT_EQ(seen.size(), 1000u);
  // 48,000 draws over 62 characters: each appears about 774 times; every one of them is used.
  for (char c : std::string("AZaz09Mm5"))
    EXPECT_GT(counts[static_cast<unsigned char>(c)], 500);
}

TEST(accounts_secret, hash_is_hex_sha256) {
  EXPECT_EQ(store::hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(accounts_secret, cursors_round_trip) {
  auto c = store::parse_cursor(store::format_cursor({1700000000, "aud_0123456789abcdef"}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->at, 1700000000);
  EXPECT_EQ(c->id, "aud_0123456789abcdef");
  EXPECT_FALSE(store::parse_cursor(""));
  EXPECT_FALSE(store::parse_cursor("abc:aud_1"));
  EXPECT_FALSE(store::parse_cursor("17:"));
  EXPECT_FALSE(store::parse_cursor(":aud_1"));
  EXPECT_FALSE(store::parse_cursor("12x:aud_1"));
}

TEST_P(accounts_store_backend, users_are_created_read_and_updated) {
  auto u = ok(acc().create_user({.name = "Ada",
                                 .email = "ada@example.com",
                                 .role = "admin",
                                 .models = {"gpt-*", "claude-*"}}));
  EXPECT_TRUE(std::regex_match(u.id, std::regex("usr_[0-9a-f]{16}"))) << u.id;
  EXPECT_EQ(u.created_at, clock_);
  auto read = ok(acc().get_user(u.id));
  ASSERT_TRUE(read);
  EXPECT_EQ(read->name, "Ada");
  EXPECT_EQ(read->email, "ada@example.com");
  EXPECT_EQ(read->role, "admin");
  EXPECT_EQ(read->models, (std::vector<std::string>{"gpt-*", "claude-*"}));
  EXPECT_TRUE(read->enabled);
  EXPECT_EQ(read->created_at, clock_);

  // Defaults: no email, every model.
  auto v = make_user("Vic", "viewer");
  EXPECT_EQ(ok(acc().get_user(v.id))->models, std::vector<std::string>{"*"});
  EXPECT_FALSE(ok(acc().get_user(v.id))->email);

  auto changed = ok(acc().update_user(u.id, {.name = "Ada L.",
                                             .email = std::optional<std::string>{},
                                             .role = "viewer",
                                             .models = std::vector<std::string>{"o1"},
                                             .enabled = false}));
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->name, "Ada L.");
  EXPECT_FALSE(changed->email);
  EXPECT_EQ(changed->role, "viewer");
  EXPECT_EQ(changed->models, std::vector<std::string>{"o1"});
  EXPECT_FALSE(changed->enabled);
  EXPECT_EQ(changed->created_at, clock_);
  auto again = ok(acc().get_user(u.id));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->role, "viewer");
  EXPECT_FALSE(again->enabled);
  // A patch of one field leaves the others; an empty patch changes nothing.
  auto renamed = ok(acc().update_user(u.id, {.role = "developer"}));
  ASSERT_TRUE(renamed);
  EXPECT_EQ(renamed->name, "Ada L.");
  EXPECT_EQ(renamed->role, "developer");
  EXPECT_EQ(renamed->models, std::vector<std::string>{"o1"});
  EXPECT_EQ(ok(acc().update_user(u.id, {}))->role, "developer");

  // Unknown ids are empty answers, not errors.
  EXPECT_FALSE(ok(acc().get_user("usr_nobody")));
  EXPECT_FALSE(ok(acc().update_user("usr_nobody", {.enabled = true})));
}

TEST_P(accounts_store_backend, roles_are_admin_developer_or_viewer) {
  for (std::string role : {"admin", "developer", "viewer"}) {
    EXPECT_TRUE(std::holds_alternative<store::user_row>(acc().create_user({"x", {}, role})));
  }
  for (std::string role : {"root", "", "Admin"}) {
    EXPECT_TRUE(is_client_error(acc().create_user({"x", {}, role}))) << role;
  }
  auto u = make_user("Dev");
  EXPECT_TRUE(is_client_error(acc().update_user(u.id, {.role = "owner"})));
  EXPECT_EQ(ok(acc().get_user(u.id))->role, "developer");
  EXPECT_EQ(ok(acc().list_users(100)).items.size(), 4u);
}

TEST_P(accounts_store_backend, users_are_listed_in_pages) {
  std::set<std::string> made;
  for (int i = 0; i < 7; ++i)
    made.insert(make_user(std::string{'u', static_cast<char>('0' + i)}).id);
  std::vector<std::string> seen;
  std::optional<std::string> cursor;
  std::vector<std::size_t> sizes;
  for (int guard = 0; guard < 10; ++guard) {
    auto page = ok(acc().list_users(3, cursor));
    sizes.push_back(page.items.size());
    for (const auto& u : page.items)
      seen.push_back(u.id);
    if (!page.next) break;
    EXPECT_EQ(*page.next, page.items.back().id);
    cursor = page.next;
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 3, 1}));
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), made);
  EXPECT_EQ(seen.size(), 7u);
  // Exactly a page's worth left: no next cursor.
  auto all = ok(acc().list_users(7));
  EXPECT_EQ(all.items.size(), 7u);
  EXPECT_FALSE(all.next);
}

TEST_P(accounts_store_backend, keys_store_only_their_hash_and_prefix) {
  auto owner = make_user("Dev");
  auto created = ok(acc().create_key({.name = "ci",
                                      .user_id = owner.id,
                                      .models = {"gpt-4o*", "claude-*"},
                                      .expires_at = clock_ + 86400,
                                      .rpm = 60,
                                      .tpm = 100000,
                                      .max_concurrency = 4,
                                      .allowed_ips = {"10.0.0.0/8", "::1/128"},
                                      .metadata = R"({"team":"ml"})"}));
  const auto& secret = created.secret;
  ASSERT_TRUE(is_secret(secret)) << secret;
  EXPECT_TRUE(std::regex_match(created.row.id, std::regex("key_[0-9a-f]{16}")));
  EXPECT_EQ(created.row.prefix, secret.substr(0, 7));
  EXPECT_EQ(created.row.key_hash, store::hash_secret(secret));

  auto read = ok(acc().get_key(created.row.id));
  ASSERT_TRUE(read);
  EXPECT_EQ(read->name, "ci");
  EXPECT_EQ(read->user_id, owner.id);
  EXPECT_EQ(read->prefix, secret.substr(0, 7));
  EXPECT_EQ(read->key_hash, store::hash_secret(secret));
  EXPECT_FALSE(read->previous_hash);
  EXPECT_FALSE(read->previous_until);
  EXPECT_EQ(read->models, (std::vector<std::string>{"gpt-4o*", "claude-*"}));
  EXPECT_EQ(read->expires_at, clock_ + 86400);
  EXPECT_TRUE(read->enabled);
  EXPECT_FALSE(read->revoked_at);
  EXPECT_EQ(read->rpm, 60);
  EXPECT_EQ(read->tpm, 100000);
  EXPECT_EQ(read->max_concurrency, 4);
  EXPECT_EQ(read->allowed_ips, (std::vector<std::string>{"10.0.0.0/8", "::1/128"}));
  EXPECT_FALSE(read->signing_secret);
  EXPECT_EQ(read->metadata, R"({"team":"ml"})");
  EXPECT_EQ(read->created_at, clock_);
  EXPECT_EQ(read->updated_at, clock_);

  // The secret is nowhere in the table, in whole or in part past its prefix.
  auto all = rows_of(db_->query("SELECT * FROM api_keys"));
  ASSERT_EQ(all.size(), 1u);
  std::size_t columns = 0;
  for (std::size_t c = 0; c < all[0].columns.size(); ++c) {
    auto text = all[0].text(c);
    ++columns;
    EXPECT_EQ(text.find(secret), std::string::npos) << "column " << c;
    EXPECT_EQ(text.find(secret.substr(7)), std::string::npos) << "column " << c;
    EXPECT_EQ(text.find(secret.substr(20, 16)), std::string::npos) << "column " << c;
  }
  EXPECT_EQ(columns, 21u);

  // A key without owner and with defaults.
  auto plain = ok(acc().create_key({.name = "plain"}));
  auto plain_read = ok(acc().get_key(plain.row.id));
  ASSERT_TRUE(plain_read);
  EXPECT_FALSE(plain_read->user_id);
  EXPECT_EQ(plain_read->models, std::vector<std::string>{"*"});
  EXPECT_TRUE(plain_read->allowed_ips.empty());
  EXPECT_EQ(plain_read->metadata, "{}");
  EXPECT_FALSE(plain_read->rpm);
  EXPECT_NE(plain.secret, secret);

  // Refused: an unknown owner, metadata that is not a JSON object.
  EXPECT_TRUE(is_client_error(acc().create_key({.name = "x", .user_id = "usr_nobody"})));
  EXPECT_TRUE(is_client_error(acc().create_key({.name = "x", .metadata = "[1]"})));
  EXPECT_TRUE(is_client_error(acc().create_key({.name = "x", .metadata = "{"})));
  EXPECT_EQ(ok(acc().list_keys({}, 100)).items.size(), 2u);
  EXPECT_FALSE(ok(acc().get_key("key_nobody")));
}

TEST_P(accounts_store_backend, keys_are_found_by_hash_and_revoked) {
  auto a = ok(acc().create_key({.name = "a"}));
  auto b = ok(acc().create_key({.name = "b"}));
  auto found = ok(acc().find_key_by_hash(store::hash_secret(a.secret), clock_));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, a.row.id);
  EXPECT_EQ(ok(acc().find_key_by_hash(store::hash_secret(b.secret), clock_))->id, b.row.id);
  EXPECT_FALSE(ok(acc().find_key_by_hash(store::hash_secret("sk-wrong"), clock_)));
  EXPECT_FALSE(ok(acc().find_key_by_hash(a.secret, clock_)));  // the secret itself is no hash

  clock_ += 10;
  auto revoked = ok(acc().revoke_key(a.row.id));
  ASSERT_TRUE(revoked);
  EXPECT_FALSE(revoked->enabled);
  EXPECT_EQ(revoked->revoked_at, clock_);
  EXPECT_EQ(revoked->updated_at, clock_);
  // Still found (the caller refuses it, saying why), and marked.
  auto after = ok(acc().find_key_by_hash(store::hash_secret(a.secret), clock_));
  ASSERT_TRUE(after);
  EXPECT_FALSE(after->enabled);
  EXPECT_EQ(after->revoked_at, clock_);
  // Revoking again keeps the first time.
  clock_ += 10;
  EXPECT_EQ(ok(acc().revoke_key(a.row.id))->revoked_at, clock_ - 10);
  EXPECT_TRUE(ok(acc().get_key(b.row.id))->enabled);
  EXPECT_FALSE(ok(acc().revoke_key("key_nobody")));
}

TEST_P(accounts_store_backend, rotation_keeps_the_old_secret_for_the_grace_period) {
  auto k = ok(acc().create_key({.name = "svc"}));
  const auto old_hash = store::hash_secret(k.secret);
  clock_ = 1000;
  auto rotated = ok(acc().rotate_key(k.row.id, 3600));
  ASSERT_TRUE(rotated);
  ASSERT_TRUE(is_secret(*rotated));
  EXPECT_NE(*rotated, k.secret);
  const auto new_hash = store::hash_secret(*rotated);

  auto row = ok(acc().get_key(k.row.id));
  ASSERT_TRUE(row);
  EXPECT_EQ(row->key_hash, new_hash);
  EXPECT_EQ(row->prefix, rotated->substr(0, 7));
  EXPECT_EQ(row->previous_hash, old_hash);
  EXPECT_EQ(row->previous_until, 4600);
  EXPECT_EQ(row->updated_at, 1000);

  EXPECT_EQ(ok(acc().find_key_by_hash(new_hash, 1000))->id, k.row.id);
  EXPECT_EQ(ok(acc().find_key_by_hash(new_hash, 999999))->id, k.row.id);
  EXPECT_EQ(ok(acc().find_key_by_hash(old_hash, 1000))->id, k.row.id);
  EXPECT_EQ(ok(acc().find_key_by_hash(old_hash, 4599))->id, k.row.id);
  EXPECT_FALSE(ok(acc().find_key_by_hash(old_hash, 4600)));
  EXPECT_FALSE(ok(acc().find_key_by_hash(old_hash, 5000)));

  // Rotating with no grace: the secret before stops at once, and so does the older one.
  auto newest = ok(acc().rotate_key(k.row.id, 0));
  ASSERT_TRUE(newest);
  const auto newest_hash = store::hash_secret(*newest);
  EXPECT_EQ(ok(acc().find_key_by_hash(newest_hash, 1000))->id, k.row.id);
  EXPECT_FALSE(ok(acc().find_key_by_hash(new_hash, 1000)));
  EXPECT_FALSE(ok(acc().find_key_by_hash(old_hash, 1000)));
  row = ok(acc().get_key(k.row.id));
  EXPECT_FALSE(row->previous_hash);
  EXPECT_FALSE(row->previous_until);

  // Two rotations in a row with grace: the previous one is the one just replaced.
  auto r1 = *ok(acc().rotate_key(k.row.id, 60));
  auto r2 = *ok(acc().rotate_key(k.row.id, 60));
  EXPECT_EQ(ok(acc().find_key_by_hash(store::hash_secret(r1), 1000))->id, k.row.id);
  EXPECT_EQ(ok(acc().find_key_by_hash(store::hash_secret(r2), 1000))->id, k.row.id);
  EXPECT_FALSE(ok(acc().find_key_by_hash(newest_hash, 1000)));

  // The plaintext of none of them is stored.
  for (const auto& r : rows_of(db_->query("SELECT * FROM api_keys"))) {
    for (std::size_t c = 0; c < r.columns.size(); ++c) {
      for (const auto* s : {&k.secret, &*rotated, &*newest, &r1, &r2}) {
        EXPECT_EQ(r.text(c).find(s->substr(7)), std::string::npos);
      }
    }
  }

  EXPECT_FALSE(ok(acc().rotate_key("key_nobody", 60)));
  EXPECT_TRUE(is_client_error(acc().rotate_key(k.row.id, -1)));
}

TEST_P(accounts_store_backend, keys_are_updated_by_patches) {
  auto k = ok(acc().create_key({.name = "k", .expires_at = 5, .rpm = 10}));
  clock_ += 5;
  auto changed = ok(acc().update_key(k.row.id, {.name = "k2",
                                                .models = std::vector<std::string>{"a", "b*"},
                                                .expires_at = std::optional<std::int64_t>{},
                                                .enabled = false,
                                                .tpm = std::optional<std::int64_t>{500},
                                                .allowed_ips = std::vector<std::string>{"1.2.3.4"},
                                                .signing_secret = std::optional<std::string>{"s"},
                                                .metadata = R"({"a":1})"}));
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->name, "k2");
  EXPECT_EQ(changed->models, (std::vector<std::string>{"a", "b*"}));
  EXPECT_FALSE(changed->expires_at);
  EXPECT_FALSE(changed->enabled);
  EXPECT_EQ(changed->rpm, 10);  // untouched
  EXPECT_EQ(changed->tpm, 500);
  EXPECT_EQ(changed->allowed_ips, std::vector<std::string>{"1.2.3.4"});
  EXPECT_EQ(changed->signing_secret, "s");
  EXPECT_EQ(changed->metadata, R"({"a":1})");
  EXPECT_EQ(changed->updated_at, clock_);
  EXPECT_EQ(changed->created_at, clock_ - 5);
  EXPECT_EQ(changed->key_hash, k.row.key_hash);
  auto read = ok(acc().get_key(k.row.id));
  EXPECT_EQ(read->name, "k2");
  EXPECT_EQ(ok(acc().update_key(k.row.id, {.rpm = std::optional<std::int64_t>{}}))->rpm,
            std::nullopt);
  EXPECT_TRUE(is_client_error(acc().update_key(k.row.id, {.metadata = "nope"})));
  EXPECT_FALSE(ok(acc().update_key("key_nobody", {.name = "x"})));
}

TEST_P(accounts_store_backend, keys_are_listed_in_pages_per_owner) {
  auto a = make_user("a");
  auto b = make_user("b");
  std::set<std::string> of_a, everything;
  for (int i = 0; i < 5; ++i) {
    auto id = ok(acc().create_key(
                     {.name = std::string{'a', static_cast<char>('0' + i)}, .user_id = a.id}))
                  .row.id;
    of_a.insert(id);
    everything.insert(id);
  }
  for (int i = 0; i < 2; ++i)
    everything.insert(ok(acc().create_key({.name = "b", .user_id = b.id})).row.id);
  everything.insert(ok(acc().create_key({.name = "none"})).row.id);

  auto collect = [&](const std::optional<std::string>& owner, std::size_t limit,
                     std::vector<std::size_t>& sizes) {
    std::vector<std::string> ids;
    std::optional<std::string> cursor;
    for (int guard = 0; guard < 20; ++guard) {
      auto page = ok(acc().list_keys(owner, limit, cursor));
      sizes.push_back(page.items.size());
      for (const auto& k : page.items) {
        ids.push_back(k.id);
        if (owner) {
          EXPECT_EQ(k.user_id, owner);
        }
      }
      if (!page.next) break;
      cursor = page.next;
    }
    return ids;
  };
  std::vector<std::size_t> sizes;
  auto all = collect({}, 3, sizes);
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 3, 2}));
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()), everything);
  EXPECT_EQ(all.size(), 8u);
  sizes.clear();
  auto mine = collect(a.id, 2, sizes);
  EXPECT_EQ(sizes, (std::vector<std::size_t>{2, 2, 1}));
  EXPECT_EQ(std::set<std::string>(mine.begin(), mine.end()), of_a);
  EXPECT_EQ(mine.size(), 5u);
  EXPECT_EQ(ok(acc().list_keys(b.id, 10)).items.size(), 2u);
  EXPECT_TRUE(ok(acc().list_keys(std::string("usr_nobody"), 10)).items.empty());
}

TEST_P(accounts_store_backend, audit_is_appended_and_listed_newest_first) {
  // 12 rows over 6 seconds, two per second (so the id breaks ties), two actors, three actions.
  std::vector<store::audit_row> made;
  const std::vector<std::string> actions{"key.create", "user.update", "auth.failed"};
  for (int i = 0; i < 12; ++i) {
    clock_ = 2000 + i / 2;
    auto row = ok(acc().append_audit({.actor = i % 2 ? "bob" : "alice",
                                      .role = "admin",
                                      .action = actions[i % 3],
                                      .target = std::to_string(i).insert(0, "key_"),
                                      .client_ip = "127.0.0.1",
                                      .result = "ok",
                                      .changes = R"({"enabled":[true,false]})"}));
    EXPECT_TRUE(std::regex_match(row.id, std::regex("aud_[0-9a-f]{16}"))) << row.id;
    EXPECT_EQ(row.at, clock_);
    made.push_back(row);
  }
  // A row with its own time keeps it.
  auto given = ok(acc().append_audit({.at = 1500, .actor = "carol", .action = "user.create"}));
  EXPECT_EQ(given.at, 1500);
  made.push_back(given);

  auto newest_first = [](std::vector<store::audit_row> rows) {
    std::sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) {
      return std::tie(x.at, x.id) > std::tie(y.at, y.id);
    });
    std::vector<std::string> ids;
    for (const auto& r : rows)
      ids.push_back(r.id);
    return ids;
  };
  auto collect = [&](store::audit_filter filter, std::vector<std::size_t>& sizes) {
    std::vector<std::string> ids;
    for (int guard = 0; guard < 20; ++guard) {
      auto page = ok(acc().list_audit(filter));
      sizes.push_back(page.items.size());
      for (const auto& r : page.items)
        ids.push_back(r.id);
      if (!page.next) break;
      EXPECT_EQ(page.next->id, page.items.back().id);
      // The cursor goes through its text form, as the admin API passes it.
      filter.cursor = store::parse_cursor(store::format_cursor(*page.next));
    }
    return ids;
  };

  std::vector<std::size_t> sizes;
  EXPECT_EQ(collect({.limit = 5}, sizes), newest_first(made));
  EXPECT_EQ(sizes, (std::vector<std::size_t>{5, 5, 3}));

  // Every field comes back.
  auto first = ok(acc().list_audit({.limit = 1})).items.at(0);
  EXPECT_EQ(first.id, newest_first(made)[0]);
  EXPECT_EQ(first.role, "admin");
  EXPECT_EQ(first.client_ip, "127.0.0.1");
  EXPECT_EQ(first.result, "ok");
  EXPECT_EQ(first.changes, R"({"enabled":[true,false]})");
  EXPECT_EQ(first.at, 2005);

  auto only = [&](auto keep) {
    std::vector<store::audit_row> out;
    std::copy_if(made.begin(), made.end(), std::back_inserter(out), keep);
    return newest_first(out);
  };
  sizes.clear();
  EXPECT_EQ(collect({.actor = "alice", .limit = 2}, sizes),
            only([](const auto& r) { return r.actor == "alice"; }));
  EXPECT_EQ(sizes, (std::vector<std::size_t>{2, 2, 2}));
  sizes.clear();
  EXPECT_EQ(collect({.action = "user.update", .limit = 3}, sizes),
            only([](const auto& r) { return r.action == "user.update"; }));
  sizes.clear();
  EXPECT_EQ(collect({.from = 2001, .to = 2003, .limit = 4}, sizes),
            only([](const auto& r) { return r.at >= 2001 && r.at <= 2003; }));
  EXPECT_EQ(sizes, (std::vector<std::size_t>{4, 2}));
  sizes.clear();
  EXPECT_EQ(collect({.actor = "bob", .action = "key.create", .from = 2000, .limit = 1}, sizes),
            only([](const auto& r) { return r.actor == "bob" && r.action == "key.create"; }));
  EXPECT_TRUE(ok(acc().list_audit({.actor = "nobody"})).items.empty());
  EXPECT_TRUE(ok(acc().list_audit({.to = 1000})).items.empty());

  EXPECT_TRUE(is_client_error(acc().append_audit({.actor = "x", .changes = "secret"})));
  // Ids are unique: appending one twice is refused.
  EXPECT_TRUE(is_client_error(acc().append_audit(given)));
}

TEST_P(accounts_store_backend, every_change_moves_the_store_revision) {
  auto revision = [&] { return ok(store::read_revision(*db_)); };
  auto last = revision();
  auto moved = [&] {
    auto now = revision();
    bool changed = now > last;
    last = now;
    return changed;
  };
  auto user = make_user("rev");
  EXPECT_TRUE(moved());
  ok(acc().update_user(user.id, {.enabled = false}));
  EXPECT_TRUE(moved());
  auto key = ok(acc().create_key({.name = "k", .user_id = user.id}));
  EXPECT_TRUE(moved());
  ok(acc().update_key(key.row.id, {.rpm = std::optional<std::int64_t>(5)}));
  EXPECT_TRUE(moved());
  ok(acc().rotate_key(key.row.id, 60));
  EXPECT_TRUE(moved());
  ok(acc().revoke_key(key.row.id));
  EXPECT_TRUE(moved());
  // Reads and unknown ids change nothing.
  ok(acc().get_key(key.row.id));
  ok(acc().update_key("key_unknown", {.name = std::string("x")}));
  ok(acc().revoke_key("key_unknown"));
  EXPECT_FALSE(moved());
}

INSTANTIATE_TEST_SUITE_P(each, accounts_store_backend, ::testing::ValuesIn(backends()),
                         backend_name);

}  // namespace
}  // namespace sy::test
