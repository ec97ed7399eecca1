// The store's backends: parameters, types, constraint errors, transactions and the migrations
// (applied once, recorded, idempotent across processes sharing the database), each test run
// against SQLite and, when SY_TEST_POSTGRES_URL names a server, against PostgreSQL too. `make test`
// gives it one: the ctest entry store_postgres runs this suite under
// tests/support/with_postgres.sh. On PostgreSQL every test gets a schema of its own (dropped
// afterwards) as its search_path.
#include "store/migrations.h"
#include "store/postgres/pg_connection.h"
#include "store/sql.h"
#include "store_fixture.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace sy::test {
namespace {

TEST_P(store_backend, says_its_dialect) {
  auto db = open();
  ASSERT_TRUE(db);
  EXPECT_EQ(db->dialect(), GetParam());
}

TEST_P(store_backend, parameters_and_types_round_trip) {
  auto db = open();
  ASSERT_TRUE(db);
  ASSERT_FALSE(db->exec_script("CREATE TABLE t (a BIGINT, b TEXT, c DOUBLE PRECISION, d TEXT)"));
  const std::string tricky = "it's \"quoted\"; DROP TABLE t; -- $1 \xc3\xa9";
  rows_of(db->query("INSERT INTO t (a, b, c, d) VALUES ($1, $2, $3, $4)",
                    {std::int64_t{1} << 40, tricky, 0.25, std::monostate{}}));
  auto rows = rows_of(db->query("SELECT a, b, c, d FROM t WHERE b = $1", {tricky}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(std::get<std::int64_t>(rows[0].columns[0]), std::int64_t{1} << 40);
  EXPECT_EQ(std::get<std::string>(rows[0].columns[1]), tricky);
  EXPECT_EQ(std::get<double>(rows[0].columns[2]), 0.25);
  EXPECT_TRUE(rows[0].is_null(3));
  // The same parameter used twice, and parameters a statement does not use.
  auto twice = rows_of(db->query("SELECT $1 + $1", {std::int64_t{21}, std::string("unused")}));
  EXPECT_EQ(twice.at(0).integer(0), 42);
  auto skipped = rows_of(
      db->query("SELECT a FROM t WHERE a = $2", {std::string("unused"), std::int64_t{1} << 40}));
  EXPECT_EQ(skipped.size(), 1u);
}

TEST_P(store_backend, numbers_and_text_keep_their_types) {
  auto db = open();
  ASSERT_TRUE(db);
  ASSERT_FALSE(db->exec_script(
      "CREATE TABLE n (i INTEGER, s SMALLINT, b BIGINT, f DOUBLE PRECISION, x TEXT)"));
  const double third = 1.0 / 3.0;  // every digit must survive the text round trip
  rows_of(db->query("INSERT INTO n (i, s, b, f, x) VALUES ($1, $2, $3, $4, $5)",
                    {std::int64_t{-7}, std::int64_t{3}, INT64_MIN, third, std::string("007")}));
  auto rows = rows_of(db->query("SELECT i, s, b, f, x, COUNT(*) FROM n GROUP BY i, s, b, f, x"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(std::get<std::int64_t>(rows[0].columns[0]), -7);
  EXPECT_EQ(std::get<std::int64_t>(rows[0].columns[1]), 3);
  EXPECT_EQ(std::get<std::int64_t>(rows[0].columns[2]), INT64_MIN);
  EXPECT_EQ(std::get<double>(rows[0].columns[3]), third);
  EXPECT_EQ(std::get<std::string>(rows[0].columns[4]), "007");  // text that looks like a number
  EXPECT_EQ(std::get<std::int64_t>(rows[0].columns[5]), 1);
  // NULL parameters compare as NULL; an integer parameter compared with an integer column.
  EXPECT_TRUE(rows_of(db->query("SELECT i FROM n WHERE x = $1", {std::monostate{}})).empty());
  EXPECT_EQ(rows_of(db->query("SELECT x FROM n WHERE i < $1", {std::int64_t{0}})).size(), 1u);
}

TEST_P(store_backend, exec_script_runs_every_statement) {
  auto db = open();
  ASSERT_TRUE(db);
  ASSERT_FALSE(
      db->exec_script("CREATE TABLE a (x BIGINT); CREATE TABLE b (y BIGINT);\n"
                      "INSERT INTO a (x) VALUES (1); INSERT INTO b (y) VALUES (2);"));
  EXPECT_EQ(rows_of(db->query("SELECT x FROM a")).at(0).integer(0), 1);
  EXPECT_EQ(rows_of(db->query("SELECT y FROM b")).at(0).integer(0), 2);
  EXPECT_TRUE(db->exec_script("CREATE TABLE c (z BIGINT); SELEKT 1"));
}

TEST_P(store_backend, errors_say_whether_a_constraint_failed) {
  auto db = open();
  ASSERT_TRUE(db);
  ASSERT_FALSE(db->exec_script("CREATE TABLE u (id TEXT PRIMARY KEY, n BIGINT NOT NULL)"));
  rows_of(db->query("INSERT INTO u (id, n) VALUES ($1, 1)", {std::string("a")}));
  auto dup = db->query("INSERT INTO u (id, n) VALUES ($1, 1)", {std::string("a")});
  ASSERT_TRUE(std::holds_alternative<store::db_error>(dup));
  EXPECT_TRUE(std::get<store::db_error>(dup).constraint);
  auto null =
      db->query("INSERT INTO u (id, n) VALUES ($1, $2)", {std::string("b"), std::monostate{}});
  ASSERT_TRUE(std::holds_alternative<store::db_error>(null));
  EXPECT_TRUE(std::get<store::db_error>(null).constraint);
  auto bad = db->query("SELEKT 1");
  ASSERT_TRUE(std::holds_alternative<store::db_error>(bad));
  EXPECT_FALSE(std::get<store::db_error>(bad).constraint);
  EXPECT_FALSE(std::get<store::db_error>(bad).message.empty());
  auto missing = db->query("SELECT * FROM nowhere");
  ASSERT_TRUE(std::holds_alternative<store::db_error>(missing));
  EXPECT_FALSE(std::get<store::db_error>(missing).constraint);
}

TEST_P(store_backend, rollback_undoes_a_transaction) {
  auto db = open();
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
  // A statement failing inside a transaction, then a rollback: the connection works on.
  ASSERT_FALSE(db->begin());
  rows_of(db->query("INSERT INTO t (a) VALUES (3)"));
  EXPECT_TRUE(std::holds_alternative<store::db_error>(db->query("SELEKT 1")));
  db->rollback();
  EXPECT_EQ(rows_of(db->query("SELECT a FROM t")).size(), 1u);
  if (GetParam() == "postgres") {
    // PostgreSQL aborts the whole transaction on an error; COMMIT then rolls back, and says so.
    ASSERT_FALSE(db->begin());
    rows_of(db->query("INSERT INTO t (a) VALUES (4)"));
    EXPECT_TRUE(std::holds_alternative<store::db_error>(db->query("SELEKT 1")));
    EXPECT_TRUE(db->commit());
    EXPECT_EQ(rows_of(db->query("SELECT a FROM t")).size(), 1u);
  }
}

TEST_P(store_backend, migrations_apply_once_and_are_recorded) {
  auto first = open();
  auto second = open();  // another process (the CLI) on the same database
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
  EXPECT_TRUE(std::get<store::db_error>(orphan).constraint);
  // And takes what it should, defaults included.
  rows_of(
      first->query("INSERT INTO users (id, name, role, created_at) VALUES ($1, $2, 'admin', $3)",
                   {std::string("u1"), std::string("Ada"), std::int64_t{1700000000}}));
  rows_of(first->query(
      "INSERT INTO api_keys (id, name, user_id, prefix, key_hash, created_at, updated_at) "
      "VALUES ('k1', 'k', 'u1', 'sk-ab12', 'h', 0, 0)"));
  auto key =
      rows_of(second->query("SELECT k.models, k.enabled, k.rpm, u.name FROM api_keys k JOIN users "
                            "u ON u.id = k.user_id"));
  ASSERT_EQ(key.size(), 1u);
  EXPECT_EQ(key[0].text(0), "[\"*\"]");
  EXPECT_EQ(std::get<std::int64_t>(key[0].columns[1]), 1);
  EXPECT_TRUE(key[0].is_null(2));
  EXPECT_EQ(key[0].text(3), "Ada");
}

INSTANTIATE_TEST_SUITE_P(each, store_backend, ::testing::ValuesIn(backends()), backend_name);

TEST(sqlite_store, creates_the_file_and_its_folder_in_wal_mode) {
  temp_dir dir;
  auto file = dir.path / "data" / "switchyard.db";
  auto db = open_ok("sqlite:" + file.string());
  ASSERT_TRUE(db);
  EXPECT_TRUE(std::filesystem::exists(file));
  auto mode = rows_of(db->query("PRAGMA journal_mode"));
  ASSERT_EQ(mode.size(), 1u);
  EXPECT_EQ(mode[0].text(0), "wal");
}

TEST(sqlite_store, unknown_urls_are_refused) {
  auto opened = store::open("mysql://x");
  ASSERT_TRUE(std::holds_alternative<store::db_error>(opened));
  EXPECT_NE(std::get<store::db_error>(opened).message.find("sqlite:<path>"), std::string::npos);
}

TEST(postgres_store, connection_errors_name_the_server_but_not_the_password) {
  auto opened = store::open("postgresql://sy:s3cret@127.0.0.1:1/switchyard?connect_timeout=5");
  ASSERT_TRUE(std::holds_alternative<store::db_error>(opened));
  const auto& message = std::get<store::db_error>(opened).message;
  EXPECT_NE(message.find("127.0.0.1"), std::string::npos) << message;
  EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;
  EXPECT_EQ(store::redact_password("postgres://u:p@h:5432/db"), "postgres://u:***@h:5432/db");
  EXPECT_EQ(store::redact_password("postgres://u@h/db?x=a:b@c"), "postgres://u@h/db?x=a:b@c");
  EXPECT_EQ(store::redact_password("postgres://h:5432/db"), "postgres://h:5432/db");
}

TEST(store_url, passwords_are_redacted_in_messages) {
  EXPECT_EQ(store::redact_url("postgres://sy:S3cret@db:5432/sy"), "postgres://sy:***@db:5432/sy");
  EXPECT_EQ(store::redact_url("postgres://sy@db/sy?sslmode=require&password=S3cret"),
            "postgres://sy@db/sy?sslmode=require&password=***");
  EXPECT_EQ(store::redact_url("postgresql://db/sy?password=S3cret&application_name=x"),
            "postgresql://db/sy?password=***&application_name=x");
  EXPECT_EQ(store::redact_url("sqlite:./x.db"), "sqlite:./x.db");
  auto opened = store::open("postgress://u:S3cret@h/db");
  ASSERT_TRUE(std::holds_alternative<store::db_error>(opened));
  EXPECT_EQ(std::get<store::db_error>(opened).message.find("S3cret"), std::string::npos);
}

}  // namespace
}  // namespace sy::test
