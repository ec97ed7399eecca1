// The usage query (times, group_by, unknown parameters), the money formats and the CSV writer.
#include "billing/usage_query.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sy::test {
namespace {

using billing::group_by;
using billing::parse_time_ms;

// 2026-11-26T12:34:56.789Z
constexpr std::int64_t now = 1'795'696'496'789;

const billing::usage_query_rules admin_rules{
    {group_by::key, group_by::user, group_by::model, group_by::channel, group_by::day}, true};
const billing::usage_query_rules key_rules{{group_by::model, group_by::day}, false};

billing::usage_query parsed(std::string_view raw, const billing::usage_query_rules& rules) {
  auto r = billing::parse_usage_query(raw, rules, now);
  if (auto* e = std::get_if<billing::usage_query_error>(&r)) {
    ADD_FAILURE() << raw << ": " << e->field << ": " << e->message;
    return {};
  }
  return std::get<billing::usage_query>(r);
}

std::string refused_field(std::string_view raw, const billing::usage_query_rules& rules) {
  auto r = billing::parse_usage_query(raw, rules, now);
  if (auto* e = std::get_if<billing::usage_query_error>(&r)) return e->field;
  return "<accepted>";
}

TEST(usage_query, times_are_rfc3339_or_unix_seconds) {
  EXPECT_EQ(parse_time_ms("2026-11-26T12:34:56Z"), 1'795'696'496'000);
  EXPECT_EQ(parse_time_ms("2026-11-26t12:34:56z"), 1'795'696'496'000);
  EXPECT_EQ(parse_time_ms("2026-11-26T12:34:56.789Z"), now);
  EXPECT_EQ(parse_time_ms("2026-11-26T12:34:56.7Z"), 1'795'696'496'700);
  EXPECT_EQ(parse_time_ms("2026-11-26T12:34:56.789999999Z"), now);  // truncated to the ms
  EXPECT_EQ(parse_time_ms("2026-11-26T20:34:56.789+08:00"), now);
  EXPECT_EQ(parse_time_ms("2026-11-26T07:04:56.789-05:30"), now);
  EXPECT_EQ(parse_time_ms("1795696496"), 1'795'696'496'000);
  EXPECT_EQ(parse_time_ms("0"), 0);
  EXPECT_EQ(parse_time_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_time_ms("2028-02-29T00:00:00Z"), 1'835'395'200'000);  // a leap day
  for (const char* bad :
       {"", "yesterday", "2026-11-26", "2026-11-26T12:34:56", "2026-11-26T12:34:56.Z",
        "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-11-26T24:00:00Z",
        "2026-11-26T12:34:56+0800", "-1", "1.5", "1969-12-31T23:59:59Z", "99999999999999999999",
        "253402300800", "2026-11-26T12:34:56Z ", " 1795696496"}) {
    EXPECT_FALSE(parse_time_ms(bad)) << bad;
  }
}

TEST(usage_query, times_are_written_in_utc_with_milliseconds) {
  EXPECT_EQ(billing::format_time_ms(now), "2026-11-26T12:34:56.789Z");
  EXPECT_EQ(billing::format_time_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(billing::month_start_ms(now), 1'793'491'200'000);  // 2026-11-01T00:00:00Z
  EXPECT_EQ(billing::month_start_ms(1'793'491'200'000), 1'793'491'200'000);
  EXPECT_EQ(billing::month_start_ms(1'793'491'199'999), 1'790'812'800'000);  // 2026-10-01
}

TEST(usage_query, defaults_are_this_month_until_now) {
  auto q = parsed("", admin_rules);
  EXPECT_FALSE(q.by);
  EXPECT_EQ(q.from_ms, 1'793'491'200'000);
  EXPECT_EQ(q.to_ms, now);
  EXPECT_FALSE(q.key_id);
  EXPECT_FALSE(q.user_id);
  // Without from, the month of `to` (exclusive: a `to` on the 1st at 00:00 means the month before).
  q = parsed("to=2026-11-01T00:00:00Z", admin_rules);
  EXPECT_EQ(q.from_ms, 1'790'812'800'000);
  EXPECT_EQ(q.to_ms, 1'793'491'200'000);
  // An empty value is no value.
  q = parsed("from=&to=&group_by=&key_id=", admin_rules);
  EXPECT_EQ(q.to_ms, now);
  EXPECT_FALSE(q.by);
  EXPECT_FALSE(q.key_id);
}

TEST(usage_query, every_parameter_is_read) {
  auto q = parsed(
      "group_by=key&from=2026-11-01T00%3A00%3A00%2B08%3A00&to=1795696496&key_id=key_1&user_id=usr_"
      "2",
      admin_rules);
  EXPECT_EQ(q.by, group_by::key);
  EXPECT_EQ(q.from_ms, 1'793'491'200'000 - 8 * 3'600'000);
  EXPECT_EQ(q.to_ms, 1'795'696'496'000);
  EXPECT_EQ(q.key_id, "key_1");
  EXPECT_EQ(q.user_id, "usr_2");
  // The last of repeated parameters wins; from == to is an empty range, not an error.
  q = parsed("group_by=user&group_by=channel&from=5&to=5", admin_rules);
  EXPECT_EQ(q.by, group_by::channel);
  EXPECT_EQ(q.from_ms, 5000);
  EXPECT_EQ(q.to_ms, 5000);
  EXPECT_EQ(parsed("group_by=day", key_rules).by, group_by::day);
}

TEST(usage_query, bad_input_names_its_parameter) {
  EXPECT_EQ(refused_field("group_by=week", admin_rules), "group_by");
  EXPECT_EQ(refused_field("group_by=key", key_rules), "group_by");
  EXPECT_EQ(refused_field("group_by=Day", admin_rules), "group_by");
  EXPECT_EQ(refused_field("from=yesterday", admin_rules), "from");
  EXPECT_EQ(refused_field("to=2026-11-31T00:00:00Z", admin_rules), "to");
  EXPECT_EQ(refused_field("from=2026-11-26T00:00:00Z&to=2026-11-25T00:00:00Z", admin_rules),
            "from");
  EXPECT_EQ(refused_field("from=2026-12-01T00:00:00Z", admin_rules), "from");  // after now
  EXPECT_EQ(refused_field("limit=10", admin_rules), "limit");
  EXPECT_EQ(refused_field("key_id=key_1", key_rules), "key_id");
  EXPECT_EQ(refused_field("user_id=usr_1", key_rules), "user_id");
  EXPECT_EQ(refused_field("from=%zz", admin_rules), "from");
  EXPECT_EQ(refused_field("%zz=1", admin_rules), "");
}

TEST(usage_query, costs_are_exact_decimals) {
  EXPECT_EQ(billing::format_nano_usd(0), "0");
  EXPECT_EQ(billing::format_nano_usd(43'500'000), "0.0435");
  EXPECT_EQ(billing::format_nano_usd(1), "0.000000001");
  EXPECT_EQ(billing::format_nano_usd(2'000'000'000), "2");
  EXPECT_EQ(billing::format_nano_usd(12'345'678'901'234), "12345.678901234");
  EXPECT_EQ(billing::format_nano_usd(-5'400'000), "-0.0054");
  // As JSON numbers they read back as the nearest double, and print as they were written.
  EXPECT_EQ(boost::json::parse(billing::format_nano_usd(43'500'000)).as_double(), 0.0435);
  const billing::display_currency cny{"CNY", 7.2};
  EXPECT_EQ(billing::format_in_currency(43'500'000, cny), "0.3132");
  EXPECT_EQ(billing::format_in_currency(1, cny), "0");  // below a millionth
  EXPECT_EQ(billing::format_in_currency(1'000'000'000'000, cny), "7200");
}

std::string csv(std::string_view value, bool text = true) {
  std::string out;
  billing::append_csv_field(out, value, text);
  return out;
}

TEST(usage_query, csv_fields_are_quoted_as_rfc_4180_says) {
  EXPECT_EQ(csv("plain"), "plain");
  EXPECT_EQ(csv(""), "");
  EXPECT_EQ(csv("a,b"), "\"a,b\"");
  EXPECT_EQ(csv("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csv("cr\rhere"), "\"cr\rhere\"");
  EXPECT_EQ(csv("ünïcødé"), "ünïcødé");
}

TEST(usage_query, csv_text_never_starts_a_formula) {
  EXPECT_EQ(csv("=1+1"), "'=1+1");
  EXPECT_EQ(csv("+1"), "'+1");
  EXPECT_EQ(csv("-1"), "'-1");
  EXPECT_EQ(csv("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(csv("\tx"), "'\tx");
  EXPECT_EQ(csv("=HYPERLINK(\"http://x\",\"y\")"), "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
  EXPECT_EQ(csv("a=b"), "a=b");       // only the first character counts
  EXPECT_EQ(csv("-5", false), "-5");  // a number is written as it is
}

TEST(usage_query, a_ledger_row_is_one_csv_line) {
  billing::ledger_row r;
  r.at = now;
  r.request_id = "req_1";
  r.key_id = "key_1";
  r.key_name = "=cmd|' /C calc'!A0";
  r.user_id = std::nullopt;
  r.api = "openai";
  r.model = "gpt-4o, mini";
  r.channel = "up";
  r.upstream_model = "gpt-4o-mini";
  r.input_tokens = 600;
  r.cached_input_tokens = 400;
  r.cache_write_5m_tokens = 1;
  r.cache_write_1h_tokens = 2;
  r.output_tokens = 400;
  r.reasoning_tokens = 100;
  r.estimated = true;
  r.cost_nano_usd = 5'400'000;
  r.status = 200;
  r.duration_ms = 42;
  r.ttfb_ms = 7;
  std::string out;
  billing::append_ledger_csv(out, r);
  EXPECT_EQ(out,
            "2026-11-26T12:34:56.789Z,req_1,key_1,'=cmd|' /C calc'!A0,,openai,\"gpt-4o, mini\",up,"
            "gpt-4o-mini,600,400,1,2,400,100,true,0.0054,200,42,7\r\n");
  r.cost_nano_usd.reset();
  r.ttfb_ms.reset();
  r.estimated = false;
  out.clear();
  billing::append_ledger_csv(out, r);
  EXPECT_TRUE(out.ends_with(",false,,200,42,\r\n")) << out;
  EXPECT_EQ(billing::ledger_csv_header(),
            "time,request_id,key_id,key_name,user_id,api,model,channel,upstream_model,"
            "input_tokens,cached_input_tokens,cache_write_5m_tokens,cache_write_1h_tokens,"
            "output_tokens,reasoning_tokens,estimated,cost_usd,status,duration_ms,ttfb_ms\r\n");
}

TEST(usage_query, the_report_is_json_with_exact_costs) {
  billing::usage_report report;
  billing::usage_group g;
  g.group = "key_1";
  g.name = "app";
  g.requests = 2;
  g.input_tokens = 10;
  g.cost_nano_usd = 43'500'000;
  report.data.push_back(g);
  billing::usage_group none;  // the rows of config-file keys
  none.requests = 1;
  none.unknown_cost_requests = 1;
  report.data.insert(report.data.begin(), none);
  report.total = g;
  report.total.requests = 3;
  report.total.unknown_cost_requests = 1;
  auto text = billing::usage_json(report, group_by::key, 0, now, {"CNY", 7.2});
  EXPECT_NE(text.find(R"("cost_usd":0.0435,"cost":0.3132,"currency":"CNY")"), std::string::npos)
      << text;
  auto v = boost::json::parse(text).as_object();
  EXPECT_EQ(v.at("group_by"), "key");
  EXPECT_EQ(v.at("from"), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(v.at("to"), "2026-11-26T12:34:56.789Z");
  EXPECT_EQ(v.at("currency"), "CNY");
  const auto& data = v.at("data").as_array();
  ASSERT_EQ(data.size(), 2u);
  EXPECT_TRUE(data[0].at("group").is_null());
  EXPECT_TRUE(data[0].at("name").is_null());
  EXPECT_EQ(data[1].at("group"), "key_1");
  EXPECT_EQ(data[1].at("name"), "app");
  for (const char* name :
       {"requests", "input_tokens", "cached_input_tokens", "cache_write_tokens",
        "cache_write_5m_tokens", "cache_write_1h_tokens", "output_tokens", "reasoning_tokens",
        "estimated_requests", "unknown_cost_requests", "cost_usd", "cost", "currency"}) {
    EXPECT_TRUE(data[1].as_object().contains(name)) << name;
    EXPECT_TRUE(v.at("total").as_object().contains(name)) << name;
  }
  EXPECT_EQ(v.at("total").at("requests"), 3);
  // Without a display currency, USD only; by model an empty group stays a string.
  text = billing::usage_json(report, group_by::model, 0, now, {});
  v = boost::json::parse(text).as_object();
  EXPECT_FALSE(v.contains("currency"));
  EXPECT_FALSE(v.at("total").as_object().contains("cost"));
  EXPECT_EQ(v.at("data").as_array()[0].at("group"), "");
  EXPECT_FALSE(v.at("data").as_array()[0].as_object().contains("name"));
}

TEST(usage_query, the_grouped_report_as_csv) {
  billing::usage_report report;
  billing::usage_group g;
  g.group = "-model";
  g.requests = 2;
  g.output_tokens = 7;
  g.cost_nano_usd = 43'500'000;
  report.data.push_back(g);
  EXPECT_EQ(billing::usage_csv(report, group_by::model, {}),
            "model,requests,input_tokens,cached_input_tokens,cache_write_tokens,"
            "cache_write_5m_tokens,cache_write_1h_tokens,output_tokens,reasoning_tokens,"
            "estimated_requests,unknown_cost_requests,cost_usd\r\n"
            "'-model,2,0,0,0,0,0,7,0,0,0,0.0435\r\n");
  auto by_key = billing::usage_csv(report, group_by::key, {"CNY", 7.2});
  EXPECT_TRUE(by_key.starts_with("key,name,requests,")) << by_key;
  EXPECT_NE(by_key.find(",cost_usd,cost_CNY\r\n"), std::string::npos) << by_key;
  EXPECT_TRUE(by_key.ends_with(",0.0435,0.3132\r\n")) << by_key;
}

}  // namespace
}  // namespace sy::test
