// Fuzz target: sy::cidr and sy::cidr_list (src/auth/cidr.h).
//
// The input is two strings separated by the first '\n' (no '\n': the second is empty): a CIDR
// text and a client address. Checked against a reference built on Boost.Asio's address parser
// and a bit-by-bit prefix comparison:
// - parse accepts exactly the texts whose address Asio reads (no zone, no NUL), whose prefix is
//   1 to 3 digits within the family's range, and whose host bits are zero; every error starts
//   with `invalid CIDR "`;
// - an accepted range prints to a text that parses back to the same range, and contains its own
//   network address (in the IPv4-mapped form too, for IPv4);
// - contains() agrees with the reference for the second string as an address (when it is one)
//   and for addresses derived from the input's hash, IPv4, IPv6 and IPv4-mapped;
// - a one-range cidr_list allows exactly what the range contains; an empty one allows all.
#include "auth/cidr.h"

#include "fuzz_check.h"

#include <boost/asio/ip/address.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace {

namespace ip = boost::asio::ip;

struct reference_range {
  bool v4;
  std::array<unsigned char, 16> bytes;  // IPv4: the first 4
  int prefix;
};

// Client addresses as the gateway sees them: IPv4-mapped IPv6 is IPv4.
reference_range normalize(const ip::address& a, int prefix) {
  reference_range r{};
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    r.v4 = true;
    std::copy(b.begin(), b.end(), r.bytes.begin());
    r.prefix = prefix;
    return r;
  }
  auto v6 = a.to_v6();
  if (v6.is_v4_mapped() && prefix >= 96) {
    auto b = ip::make_address_v4(ip::v4_mapped, v6).to_bytes();
    r.v4 = true;
    std::copy(b.begin(), b.end(), r.bytes.begin());
    r.prefix = prefix - 96;
    return r;
  }
  r.v4 = false;
  r.bytes = v6.to_bytes();
  r.prefix = prefix;
  return r;
}

bool bit(const std::array<unsigned char, 16>& b, int i) {
  return (b[i / 8] >> (7 - i % 8)) & 1;
}

bool reference_contains(const reference_range& range, const ip::address& client) {
  auto c = normalize(client, client.is_v4() ? 32 : 128);
  if (c.v4 != range.v4) return false;
  for (int i = 0; i < range.prefix; ++i) {
    if (bit(c.bytes, i) != bit(range.bytes, i)) return false;
  }
  return true;
}

bool host_bits_zero(const reference_range& range) {
  int bits = range.v4 ? 32 : 128;
  for (int i = range.prefix; i < bits; ++i) {
    if (bit(range.bytes, i)) return false;
  }
  return true;
}

// The reference parser: nullopt when the text must be refused.
std::optional<reference_range> reference_parse(std::string_view text) {
  auto slash = text.find('/');
  std::string addr(text.substr(0, slash));
  if (addr.empty() || addr.find('\0') != std::string::npos) return std::nullopt;
  if (addr.find('%') != std::string::npos) return std::nullopt;  // zones are refused
  boost::system::error_code ec;
  auto a = ip::make_address(addr, ec);
  if (ec) return std::nullopt;
  int max = a.is_v4() ? 32 : 128;
  int prefix = max;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    prefix = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      prefix = prefix * 10 + (c - '0');
    }
    if (prefix > max) return std::nullopt;
  }
  auto r = normalize(a, prefix);
  if (!host_bits_zero(r)) return std::nullopt;
  return r;
}

void check_address(const sy::cidr& range, const reference_range& ref, const ip::address& client) {
  bool got = range.contains(client);
  FUZZ_CHECK(got == reference_contains(ref, client));
  sy::cidr_list list;
  list.add(range);
  FUZZ_CHECK(list.allows(client) == got);
  FUZZ_CHECK(sy::cidr_list().allows(client));
  if (client.is_v4()) {
    auto mapped = ip::make_address_v6(ip::v4_mapped, client.to_v4());
    FUZZ_CHECK(range.contains(mapped) == got);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto nl = in.find('\n');
  std::string_view first = in.substr(0, nl);
  std::string_view second = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);

  auto parsed = sy::cidr::parse(first);
  auto ref = reference_parse(first);
  if (auto* error = std::get_if<std::string>(&parsed)) {
    FUZZ_CHECK(error->rfind("invalid CIDR \"", 0) == 0);
    FUZZ_CHECK(!ref.has_value());
    return 0;
  }
  FUZZ_CHECK(ref.has_value());
  const auto& range = std::get<sy::cidr>(parsed);
  FUZZ_CHECK(range.is_v4() == ref->v4);
  FUZZ_CHECK(range.prefix() == ref->prefix);
  FUZZ_CHECK(range.prefix() >= 0 && range.prefix() <= (range.is_v4() ? 32 : 128));

  // The canonical text is a fixed point.
  std::string text = range.to_string();
  auto again = sy::cidr::parse(text);
  FUZZ_CHECK(std::holds_alternative<sy::cidr>(again));
  FUZZ_CHECK(std::get<sy::cidr>(again) == range);
  FUZZ_CHECK(std::get<sy::cidr>(again).to_string() == text);

  // Its own network address is inside.
  auto network = ip::make_address(text.substr(0, text.find('/')));
  FUZZ_CHECK(range.contains(network));
  check_address(range, *ref, network);

  // The second string as an address, when it is one.
  boost::system::error_code ec;
  std::string second_text(second);
  if (second_text.find('\0') == std::string::npos) {
    auto client = ip::make_address(second_text, ec);
    if (!ec) check_address(range, *ref, client);
  }

  // Addresses from the input's hash, and the same bits with the network's prefix, so that
  // both sides of the boundary are reached.
  sy::fuzz::prng rng(sy::fuzz::fnv1a(data, size));
  for (int round = 0; round < 8; ++round) {
    std::array<unsigned char, 16> bytes{};
    for (int i = 0; i < 16; i += 8) {
      auto r = rng.next();
      for (int j = 0; j < 8; ++j)
        bytes[i + j] = static_cast<unsigned char>(r >> (8 * j));
    }
    if (round % 2 == 1) {
      // Copy the network's prefix, then flip one bit at or after it (or none).
      int bits = ref->v4 ? 32 : 128;
      auto net = ref->bytes;
      int keep = ref->prefix;
      for (int i = 0; i < keep; ++i) {
        unsigned char mask = static_cast<unsigned char>(0x80 >> (i % 8));
        bytes[i / 8] = static_cast<unsigned char>((bytes[i / 8] & ~mask) | (net[i / 8] & mask));
      }
      int flip = static_cast<int>(rng.next() % static_cast<unsigned long long>(bits + 1));
      if (flip < bits) bytes[flip / 8] ^= static_cast<unsigned char>(0x80 >> (flip % 8));
    }
    ip::address_v4::bytes_type b4{bytes[0], bytes[1], bytes[2], bytes[3]};
    check_address(range, *ref, ip::address_v4(b4));
    check_address(range, *ref, ip::address_v6(bytes));
    check_address(range, *ref, ip::make_address_v6(ip::v4_mapped, ip::address_v4(b4)));
  }
  return 0;
}
