// The store test fixture: each TEST_P(store_backend, ...) (or of a fixture derived from it) runs on
// SQLite and, when SY_TEST_POSTGRES_URL names a server, on PostgreSQL too; see store_test.cpp.
// The ctest entry store_postgres runs every suite whose name ends in "store_backend".
#pragma once

#include "store/sql.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>

namespace sy::test {

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sy-store-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

inline std::unique_ptr<store::connection> open_ok(const std::string& url) {
  auto opened = store::open(url);
  if (auto* e = std::get_if<store::db_error>(&opened)) {
    ADD_FAILURE() << e->message;
    return nullptr;
  }
  return std::move(std::get<std::unique_ptr<store::connection>>(opened));
}

inline std::vector<store::row> rows_of(store::result<std::vector<store::row>> r) {
  if (auto* e = std::get_if<store::db_error>(&r)) {
    ADD_FAILURE() << e->message;
    return {};
  }
  return std::get<std::vector<store::row>>(r);
}

// The value of a store call that must succeed (a test failure, and T{}, otherwise).
template <class T>
T ok(store::result<T> r) {
  if (auto* e = std::get_if<store::db_error>(&r)) {
    ADD_FAILURE() << e->message;
    return T{};
  }
  return std::move(std::get<T>(r));
}

inline std::string postgres_url() {
  const char* url = std::getenv("SY_TEST_POSTGRES_URL");
  return url ? url : "";
}

// SQLite always; PostgreSQL when a server is given (or required: the store_postgres ctest entry
// sets SY_TEST_REQUIRE_POSTGRES, so a missing URL fails there instead of running nothing).
inline std::vector<std::string> backends() {
  std::vector<std::string> out{"sqlite"};
  if (!postgres_url().empty() || std::getenv("SY_TEST_REQUIRE_POSTGRES")) {
    out.push_back("postgres");
  }
  return out;
}

class store_backend : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      url_ = "sqlite:" + (dir_.path / "store.db").string();
      return;
    }
    auto base = postgres_url();
    ASSERT_FALSE(base.empty())
        << "SY_TEST_POSTGRES_URL is not set (tests/support/with_postgres.sh sets it)";
    admin_ = open_ok(base);
    ASSERT_TRUE(admin_);
    static int counter = 0;
    schema_ = "sy_test_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
    ASSERT_FALSE(admin_->exec_script("DROP SCHEMA IF EXISTS " + schema_ +
                                     " CASCADE; CREATE SCHEMA " + schema_));
    url_ = base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
           schema_;
  }
  void TearDown() override {
    if (admin_ && !schema_.empty()) admin_->exec_script("DROP SCHEMA " + schema_ + " CASCADE");
  }

  // A new connection to this test's database: SQLite's file, or PostgreSQL's schema.
  std::unique_ptr<store::connection> open() { return open_ok(url_); }

  temp_dir dir_;
  std::string url_;
  std::unique_ptr<store::connection> admin_;
  std::string schema_;
};

inline std::string backend_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

}  // namespace sy::test
