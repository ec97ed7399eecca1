// IP allow-lists of gateway keys: CIDR ranges ("10.0.0.0/8", "2001:db8::/32", or one address,
// which is a /32 or /128) and the check of a client address against them.
//
// Rules:
// - A range with host bits set ("10.1.2.3/8") is refused, not masked: in an allow-list such an
//   entry is nearly always a typing mistake, and silently widening or narrowing it would change
//   who may use the key. The error names the network that was probably meant.
// - IPv4 clients seen through a dual-stack socket (::ffff:1.2.3.4) are IPv4 clients: they match
//   IPv4 ranges. Likewise a range written inside ::ffff:0:0/96 is stored as the IPv4 range it
//   covers ("::ffff:10.0.0.0/104" is 10.0.0.0/8). Other IPv6 ranges, ::/0 included, match only
//   IPv6 clients, as in Go's net and Python's ipaddress.
// - Strict syntax: no spaces, no zone ("fe80::1%eth0"), a prefix of decimal digits only.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sy {

class cidr {
 public:
  // The range, or an error message that quotes the input.
  static std::variant<cidr, std::string> parse(std::string_view text);

  // Whether `address` is inside the range (IPv4-mapped IPv6 addresses count as IPv4).
  bool contains(const boost::asio::ip::address& address) const;

  bool is_v4() const { return v4_; }
  int prefix() const { return prefix_; }
  // Canonical text: "10.0.0.0/8", "2001:db8::/32" (always with the prefix).
  std::string to_string() const;

  friend bool operator==(const cidr&, const cidr&) = default;

 private:
  friend class cidr_list;
  cidr() = default;

  // `address` as (is IPv4, high 64 bits, low 64 bits), IPv4-mapped addresses as IPv4.
  struct key {
    bool v4;
    std::uint64_t hi, lo;
  };
  static key key_of(const boost::asio::ip::address& address);
  bool matches(const key& k) const {
    return k.v4 == v4_ && (k.hi & mask_hi_) == hi_ && (k.lo & mask_lo_) == lo_;
  }

  // The network and mask as a 128-bit number (hi, lo); an IPv4 range uses the low 32 bits.
  std::uint64_t hi_ = 0, lo_ = 0;
  std::uint64_t mask_hi_ = 0, mask_lo_ = 0;
  std::uint8_t prefix_ = 0;
  bool v4_ = false;
};

class cidr_list {
 public:
  cidr_list() = default;
  // All of `texts` parsed, or the error of the first one that does not parse.
  static std::variant<cidr_list, std::string> parse(const std::vector<std::string>& texts);

  void add(const cidr& range) { ranges_.push_back(range); }
  // An empty list allows every address.
  bool allows(const boost::asio::ip::address& address) const;

  bool empty() const { return ranges_.empty(); }
  std::size_t size() const { return ranges_.size(); }
  const std::vector<cidr>& ranges() const { return ranges_; }

 private:
  std::vector<cidr> ranges_;
};

}  // namespace sy
