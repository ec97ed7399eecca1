// The SQLite backend of the store: parameters, types, constraint errors, transactions, and the
// migrations (applied once, recorded, idempotent across processes sharing the file).
#include "store/migrations.h"
#include "store/sql.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>

namespace sy::test {
namespace {

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sy-store-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

std::unique_ptr<store::connection> open_ok(const std::string& url) {
  auto opened = store::open(url);
  if (auto* e = std::get_if<store::db_error>(&opened)) {
    ADD_FAILURE() << e->message;
    return nullptr;
  }
  return std::move(std::get<std::unique_ptr<store::connection>>(opened));
}

std::vector<store::row> rows_of(store::result<std::vector<store::row>> r) {
  if (auto* e = std::get_if<store::db_error>(&r)) {
    ADD_FAILURE() << e->message;
    return {};
  }
  return std::get<std::vector<store::row>>(r);
}

TEST(sqlite_store, creates_the_file_and_its_folder_in_wal_mode) {
  temp_dir dir;
  auto file = dir.path / "data" / "switchyard.db";
  auto db = open_ok("sqlite:" + file.string());
  ASSERT_TRUE(db);
  EXPECT_TRUE(std::filesystem::exists(file));
  auto mode = rows_of(db->query("PRAGMA journal_mode"));
  ASSERT_EQ(mode.size(), 1u);
  EXPECT_EQ(mode[0].text(0), "wal");
  EXPECT_EQ(db->dialect(), "sqlite");
}

TEST(sqlite_store, parameters_and_types_round_trip) {
  auto db = open_ok("sqlite::memory:");
  ASSERT_TRUE(db);
  ASSERT_FALSE(db->exec_script("CREATE TABLE t (a BIGINT, b TEXT, c DOUBLE PRECISION, d TEXT)"));
  const std::string tricky = "it's \"quoted\"; DROP TABLE t; -- \xc3\xa9";
  rows_of(db->query("INSERT INTO t (a, b, c, d) VALUES ($1, $2, $3, $4)",
                    {std::int64_t{1} << 40, tricky, 0.25, std::monostate{}}));
  auto rows = rows_of(db->query("SELECT a, b, c, d FROM t WHERE b = $1", {tricky}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].integer(0), std::int64_t{1} << 40);
  EXPECT_EQ(rows[0].text(1), tricky);
  EXPECT_EQ(std::get<double>(rows[0].columns[2]), 0.25);
  EXPECT_TRUE(rows[0].is_null(3));
  // The same parameter used twice, and parameters a statement does not use.
  auto twice = rows_of(db->query("SELECT $1 + $1", {std::int64_t{21}, std::string("unused")}));
  EXPECT_EQ(twice.at(0).integer(0), 42);
}

TEST(sqlite_store, errors_say_whether_a_constraint_failed) {
  auto db = open_ok("sqlite::memory:");
  ASSERT_TRUE(db);
  ASSERT_FALSE(db->exec_script("CREATE TABLE u (id TEXT PRIMARY KEY)"));
  rows_of(db->query("INSERT INTO u (id) VALUES ($1)", {std::string("a")}));
  auto dup = db->query("INSERT INTO u (id) VALUES ($1)", {std::string("a")});
  ASSERT_TRUE(std::holds_alternative<store::db_error>(dup));
  EXPECT_TRUE(std::get<store::db_error>(dup).constraint);
  auto bad = db->query("SELEKT 1");
  ASSERT_TRUE(std::holds_alternative<store::db_error>(bad));
  EXPECT_FALSE(std::get<store::db_error>(bad).constraint);
}

TEST(sqlite_store, rollback_undoes_a_transaction) {
  auto db = open_ok("sqlite::memory:");
  ASSERT_TRUE(db);
  ASSERT_FALSE(db->exec_script("CREATE TABLE t (a BIGINT)"));
  ASSERT_FALSE(db->begin());
  rows_of(db->query("INSERT INTO t (a) VALUES (1)"));
  db->rollback();
  EXPECT_TRUE(rows_of(db->query("SELECT a FROM t")).empty());
  ASSERT_FALSE(db->begin());
  rows_of(db->query("INSERT INTO t (a) VALUES (2)"));
  ASSERT_FALSE(db->commit());
  EXPECT_EQ(rows_of(db->query("SELECT a FROM t")).size(), 1u);
}

TEST(sqlite_store, migrations_apply_once_and_are_recorded) {
  temp_dir dir;
  auto url = "sqlite:" + (dir.path / "s.db").string();
  auto first = open_ok(url);
  auto second = open_ok(url);  // another process (the CLI) on the same file
  ASSERT_TRUE(first && second);
  EXPECT_EQ(std::get<std::int64_t>(store::schema_version(*first)), 0);
  ASSERT_FALSE(store::migrate(*first));
  ASSERT_FALSE(store::migrate(*second));  // nothing left to do, no error
  ASSERT_FALSE(store::migrate(*first));
  auto latest = store::migrations().back().version;
  EXPECT_EQ(std::get<std::int64_t>(store::schema_version(*second)), latest);
  auto applied = rows_of(first->query("SELECT COUNT(*) FROM schema_migrations"));
  EXPECT_EQ(applied.at(0).integer(0), static_cast<std::int64_t>(store::migrations().size()));
  // The schema is there and enforces what it says.
  auto bad_role =
      first->query("INSERT INTO users (id, name, role, created_at) VALUES ('u1', 'x', 'root', 0)");
  ASSERT_TRUE(std::holds_alternative<store::db_error>(bad_role));
  EXPECT_TRUE(std::get<store::db_error>(bad_role).constraint);
  auto orphan = first->query(
      "INSERT INTO api_keys (id, name, user_id, prefix, key_hash, created_at, updated_at) "
      "VALUES ('k1', 'k', 'nobody', 'sk-ab12', 'h', 0, 0)");
  ASSERT_TRUE(std::holds_alternative<store::db_error>(orphan));  // foreign keys are on
}

TEST(sqlite_store, unknown_urls_are_refused) {
  auto opened = store::open("mysql://x");
  ASSERT_TRUE(std::holds_alternative<store::db_error>(opened));
  EXPECT_NE(std::get<store::db_error>(opened).message.find("sqlite:<path>"), std::string::npos);
}

}  // namespace
}  // namespace sy::test
