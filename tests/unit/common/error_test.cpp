// The error catalog: status, OpenAI type and code, and source of every errc.
#include "common/error.h"

#include <gtest/gtest.h>

#include <set>

namespace sy::test {
namespace {

struct row {
  errc code;
  int status;
  std::string_view type;
  std::string_view machine_code;
  error_source source;
};

const row catalog[] = {
    {errc::invalid_request, 400, "invalid_request_error", "", error_source::client},
    {errc::invalid_api_key, 401, "invalid_request_error", "invalid_api_key", error_source::client},
    {errc::model_not_allowed, 403, "permission_error", "model_not_allowed", error_source::client},
    {errc::model_not_found, 404, "invalid_request_error", "model_not_found", error_source::client},
    {errc::not_found, 404, "invalid_request_error", "unknown_url", error_source::client},
    {errc::method_not_allowed, 405, "invalid_request_error", "method_not_allowed",
     error_source::client},
    {errc::payload_too_large, 413, "invalid_request_error", "request_too_large",
     error_source::client},
    {errc::headers_too_large, 431, "invalid_request_error", "headers_too_large",
     error_source::client},
    {errc::upstream_unreachable, 502, "upstream_error", "upstream_unreachable",
     error_source::upstream},
    {errc::upstream_timeout, 504, "upstream_error", "upstream_timeout", error_source::upstream},
    {errc::upstream_bad_response, 502, "upstream_error", "upstream_bad_response",
     error_source::upstream},
    {errc::unavailable, 503, "server_error", "service_unavailable", error_source::internal},
    {errc::no_database, 404, "invalid_request_error", "no_database", error_source::client},
    {errc::internal, 500, "server_error", "internal_error", error_source::internal},
};

TEST(error_catalog, every_code) {
  for (const auto& r : catalog) {
    const auto& i = info(r.code);
    EXPECT_EQ(i.http_status, r.status) << static_cast<int>(r.code);
    EXPECT_EQ(i.type, r.type) << static_cast<int>(r.code);
    EXPECT_EQ(i.code, r.machine_code) << static_cast<int>(r.code);
    EXPECT_EQ(i.source, r.source) << static_cast<int>(r.code);
    EXPECT_EQ((error{r.code, "m", ""}.http_status()), r.status);
  }
}

TEST(error_catalog, codes_are_distinct_and_statuses_are_errors) {
  std::set<std::string_view> codes;
  for (const auto& r : catalog) {
    const auto& i = info(r.code);
    EXPECT_GE(i.http_status, 400);
    EXPECT_LE(i.http_status, 599);
    if (!i.code.empty()) {
      EXPECT_TRUE(codes.insert(i.code).second) << i.code;
    }
    // 4xx is the client's doing, 5xx never is.
    EXPECT_EQ(i.http_status < 500, i.source == error_source::client) << i.code;
  }
}

}  // namespace
}  // namespace sy::test
