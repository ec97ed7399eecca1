// CIDR parsing (strict: host bits refused), matching, IPv4-mapped clients, allow-lists.
#include "auth/cidr.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>

namespace sy::test {
namespace {

namespace ip = boost::asio::ip;

cidr must_parse(std::string_view text) {
  auto parsed = cidr::parse(text);
  if (auto* error = std::get_if<std::string>(&parsed)) {
    ADD_FAILURE() << "parse(\"" << text << "\"): " << *error;
    return std::get<cidr>(cidr::parse("0.0.0.0/0"));
  }
  return std::get<cidr>(parsed);
}

std::string error_of(std::string_view text) {
  auto parsed = cidr::parse(text);
  if (auto* error = std::get_if<std::string>(&parsed)) return *error;
  return "(parsed as " + std::get<cidr>(parsed).to_string() + ")";
}

bool contains(std::string_view range, const char* address) {
  return must_parse(range).contains(ip::make_address(address));
}

TEST(cidr, parses_networks_and_single_addresses) {
  auto a = must_parse("10.0.0.0/8");
  EXPECT_TRUE(a.is_v4());
  EXPECT_EQ(a.prefix(), 8);
  EXPECT_EQ(a.to_string(), "10.0.0.0/8");

  auto b = must_parse("192.168.1.7");
  EXPECT_TRUE(b.is_v4());
  EXPECT_EQ(b.prefix(), 32);
  EXPECT_EQ(b.to_string(), "192.168.1.7/32");

  auto c = must_parse("2001:db8::/32");
  EXPECT_FALSE(c.is_v4());
  EXPECT_EQ(c.prefix(), 32);
  EXPECT_EQ(c.to_string(), "2001:db8::/32");

  auto d = must_parse("::1");
  EXPECT_FALSE(d.is_v4());
  EXPECT_EQ(d.prefix(), 128);
  EXPECT_EQ(d.to_string(), "::1/128");

  EXPECT_EQ(must_parse("0.0.0.0/0").to_string(), "0.0.0.0/0");
  EXPECT_EQ(must_parse("::/0").to_string(), "::/0");
  EXPECT_EQ(must_parse("2001:0DB8:0000::/48").to_string(), "2001:db8::/48");  // canonical
  EXPECT_EQ(must_parse("10.0.0.0/08").prefix(), 8);
}

TEST(cidr, refuses_garbage) {
  for (const char* bad : {"",
                          "/8",
                          "10.0.0.0/",
                          "10.0.0.0/33",
                          "::/129",
                          "10.0.0.0/8/8",
                          "10.0.0",
                          "10.0.0.256",
                          "010.0.0.1",
                          "10.1",
                          " 10.0.0.0/8",
                          "10.0.0.0/8 ",
                          "10.0.0.0/ 8",
                          "10.0.0.0/+8",
                          "10.0.0.0/-1",
                          "10.0.0.0/0008",
                          "fe80::1%eth0",
                          "abc",
                          "1.2.3.4.5",
                          ":::",
                          "1::2::3",
                          "2001:db8::/1x",
                          "0x0a.0.0.0"}) {
    auto parsed = cidr::parse(bad);
    ASSERT_TRUE(std::holds_alternative<std::string>(parsed)) << '"' << bad << '"';
    EXPECT_EQ(std::get<std::string>(parsed).rfind("invalid CIDR \"", 0), 0u) << bad;
  }
  // A NUL inside must not cut the address short (inet_pton would stop there).
  auto nul = cidr::parse(std::string_view("10.0.0.1\0/8", 11));
  EXPECT_TRUE(std::holds_alternative<std::string>(nul));
}

TEST(cidr, refuses_host_bits_and_says_what_was_meant) {
  EXPECT_EQ(error_of("10.1.2.3/8"),
            "invalid CIDR \"10.1.2.3/8\": host bits are set (did you mean 10.0.0.0/8?)");
  EXPECT_EQ(error_of("2001:db8::1/32"),
            "invalid CIDR \"2001:db8::1/32\": host bits are set (did you mean 2001:db8::/32?)");
  EXPECT_EQ(error_of("192.168.1.129/25"),
            "invalid CIDR \"192.168.1.129/25\": host bits are set (did you mean "
            "192.168.1.128/25?)");
  EXPECT_EQ(error_of("10.0.0.0/33"),
            "invalid CIDR \"10.0.0.0/33\": the prefix length must be at most 32");
  EXPECT_EQ(error_of("::/200"), "invalid CIDR \"::/200\": the prefix length must be at most 128");
  EXPECT_EQ(error_of("nope/8"), "invalid CIDR \"nope/8\": not an IP address");
  // Long input is cut in the message.
  std::string long_input(100, 'x');
  EXPECT_EQ(error_of(long_input),
            "invalid CIDR \"" + std::string(64, 'x') + "...\": not an IP address");
}

TEST(cidr, contains_ipv4) {
  EXPECT_TRUE(contains("10.0.0.0/8", "10.0.0.0"));
  EXPECT_TRUE(contains("10.0.0.0/8", "10.255.255.255"));
  EXPECT_FALSE(contains("10.0.0.0/8", "11.0.0.0"));
  EXPECT_FALSE(contains("10.0.0.0/8", "9.255.255.255"));
  EXPECT_TRUE(contains("192.168.1.128/25", "192.168.1.128"));
  EXPECT_TRUE(contains("192.168.1.128/25", "192.168.1.255"));
  EXPECT_FALSE(contains("192.168.1.128/25", "192.168.1.127"));
  EXPECT_TRUE(contains("192.168.1.7", "192.168.1.7"));
  EXPECT_FALSE(contains("192.168.1.7", "192.168.1.6"));
  EXPECT_TRUE(contains("0.0.0.0/0", "255.255.255.255"));
  EXPECT_TRUE(contains("0.0.0.0/0", "0.0.0.0"));
  EXPECT_FALSE(contains("0.0.0.0/0", "::1"));  // an IPv4 range holds no IPv6 client
}

TEST(cidr, contains_ipv6) {
  EXPECT_TRUE(contains("2001:db8::/32", "2001:db8::"));
  EXPECT_TRUE(contains("2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
  EXPECT_FALSE(contains("2001:db8::/32", "2001:db9::"));
  EXPECT_FALSE(contains("2001:db8::/32", "2001:db7:ffff::"));
  EXPECT_TRUE(contains("::1", "::1"));
  EXPECT_FALSE(contains("::1", "::2"));
  // Prefixes across the two 64-bit halves.
  EXPECT_TRUE(contains("2001:db8:0:0:8000::/65", "2001:db8::8000:0:0:1"));
  EXPECT_FALSE(contains("2001:db8:0:0:8000::/65", "2001:db8::7fff:ffff:ffff:ffff"));
  EXPECT_TRUE(contains("2001:db8::/64", "2001:db8::ffff:ffff:ffff:ffff"));
  EXPECT_FALSE(contains("2001:db8::/64", "2001:db8:0:1::"));
  EXPECT_TRUE(contains("2001:db8::/63", "2001:db8:0:1::"));
  EXPECT_TRUE(contains("::/0", "2001:db8::1"));
}

TEST(cidr, ipv4_mapped_clients_are_ipv4) {
  EXPECT_TRUE(contains("10.0.0.0/8", "::ffff:10.1.2.3"));
  EXPECT_FALSE(contains("10.0.0.0/8", "::ffff:11.1.2.3"));
  EXPECT_TRUE(contains("1.2.3.4", "::ffff:1.2.3.4"));
  EXPECT_TRUE(contains("0.0.0.0/0", "::ffff:0.0.0.0"));
  // IPv6 ranges, ::/0 included, hold IPv6 clients only.
  EXPECT_FALSE(contains("::/0", "1.2.3.4"));
  EXPECT_FALSE(contains("::/0", "::ffff:1.2.3.4"));
  // A range written in the mapped form is the IPv4 range it covers.
  auto mapped = must_parse("::ffff:10.0.0.0/104");
  EXPECT_TRUE(mapped.is_v4());
  EXPECT_EQ(mapped.to_string(), "10.0.0.0/8");
  EXPECT_TRUE(mapped.contains(ip::make_address("10.9.8.7")));
  EXPECT_TRUE(mapped.contains(ip::make_address("::ffff:10.9.8.7")));
  EXPECT_EQ(must_parse("::ffff:0:0/96").to_string(), "0.0.0.0/0");
  EXPECT_EQ(must_parse("::ffff:1.2.3.4").to_string(), "1.2.3.4/32");
  EXPECT_EQ(error_of("::ffff:10.1.0.0/104"),
            "invalid CIDR \"::ffff:10.1.0.0/104\": host bits are set (did you mean 10.0.0.0/8?)");
}

TEST(cidr_list, empty_allows_everyone) {
  cidr_list list;
  EXPECT_TRUE(list.empty());
  EXPECT_TRUE(list.allows(ip::make_address("1.2.3.4")));
  EXPECT_TRUE(list.allows(ip::make_address("2001:db8::1")));
}

TEST(cidr_list, allows_any_range) {
  auto parsed = cidr_list::parse({"10.0.0.0/8", "192.168.1.7", "2001:db8::/32"});
  ASSERT_TRUE(std::holds_alternative<cidr_list>(parsed)) << std::get<std::string>(parsed);
  const auto& list = std::get<cidr_list>(parsed);
  EXPECT_EQ(list.size(), 3u);
  EXPECT_TRUE(list.allows(ip::make_address("10.20.30.40")));
  EXPECT_TRUE(list.allows(ip::make_address("::ffff:10.20.30.40")));
  EXPECT_TRUE(list.allows(ip::make_address("192.168.1.7")));
  EXPECT_FALSE(list.allows(ip::make_address("192.168.1.8")));
  EXPECT_TRUE(list.allows(ip::make_address("2001:db8:1::1")));
  EXPECT_FALSE(list.allows(ip::make_address("2001:db9::1")));
  EXPECT_FALSE(list.allows(ip::make_address("127.0.0.1")));
  EXPECT_FALSE(list.allows(ip::make_address("::1")));
}

TEST(cidr_list, parse_names_the_bad_entry) {
  auto parsed = cidr_list::parse({"10.0.0.0/8", "10.0.0.1/8", "junk"});
  ASSERT_TRUE(std::holds_alternative<std::string>(parsed));
  EXPECT_EQ(std::get<std::string>(parsed),
            "invalid CIDR \"10.0.0.1/8\": host bits are set (did you mean 10.0.0.0/8?)");
  auto empty = cidr_list::parse({});
  ASSERT_TRUE(std::holds_alternative<cidr_list>(empty));
  EXPECT_TRUE(std::get<cidr_list>(empty).empty());
}

}  // namespace
}  // namespace sy::test
