#include "auth/cidr.h"

#include <arpa/inet.h>

#include <array>
#include <cstring>

namespace sy {
namespace {

namespace ip = boost::asio::ip;

// Error messages quote the input, cut short: it may be anything a client sent to the admin API.
std::string quoted(std::string_view text) {
  constexpr std::size_t max = 64;
  std::string out = "\"";
  out.append(text.substr(0, max));
  if (text.size() > max) out += "...";
  out += '"';
  return out;
}

std::string invalid(std::string_view text, std::string_view why) {
  std::string out = "invalid CIDR ";
  out += quoted(text);
  out += ": ";
  out += why;
  return out;
}

std::uint64_t load_be64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = v << 8 | p[i];
  return v;
}

void store_be64(std::uint64_t v, unsigned char* p) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<unsigned char>(v);
    v >>= 8;
  }
}

// The top `bits` bits of a 64-bit word set (bits in [0, 64]).
std::uint64_t top_bits(int bits) {
  if (bits <= 0) return 0;
  if (bits >= 64) return ~std::uint64_t{0};
  return ~std::uint64_t{0} << (64 - bits);
}

bool is_v4_mapped(const std::array<unsigned char, 16>& b) {
  for (int i = 0; i < 10; ++i) {
    if (b[i] != 0) return false;
  }
  return b[10] == 0xff && b[11] == 0xff;
}

}  // namespace

std::variant<cidr, std::string> cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  std::string_view addr = text.substr(0, slash);
  bool v6 = addr.find(':') != std::string_view::npos;

  // inet_pton wants a terminated string; the longest address it accepts is an IPv6 address
  // with an IPv4 tail, 45 characters.
  char buf[48];
  if (addr.empty()) return invalid(text, "no address");
  if (addr.size() >= sizeof buf) return invalid(text, "not an IP address");
  std::memcpy(buf, addr.data(), addr.size());
  buf[addr.size()] = '\0';
  if (std::memchr(addr.data(), '\0', addr.size()) != nullptr) {
    return invalid(text, "not an IP address");
  }

  cidr out;
  std::array<unsigned char, 16> bytes{};
  int max_prefix = 0;
  if (v6) {
    if (inet_pton(AF_INET6, buf, bytes.data()) != 1) return invalid(text, "not an IP address");
    max_prefix = 128;
  } else {
    // glibc's inet_pton takes dotted quads only: no "10.1", no octal, no leading zeros.
    if (inet_pton(AF_INET, buf, bytes.data()) != 1) return invalid(text, "not an IP address");
    max_prefix = 32;
  }

  int prefix = max_prefix;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return invalid(text, "the prefix length is missing");
    prefix = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return invalid(text, "the prefix length is not a number");
      prefix = prefix * 10 + (c - '0');
    }
    if (prefix > max_prefix) {
      return invalid(text, v6 ? "the prefix length must be at most 128"
                              : "the prefix length must be at most 32");
    }
  }

  if (v6 && prefix >= 96 && is_v4_mapped(bytes)) {
    // ::ffff:a.b.c.d/n is how an IPv4 range looks to a dual-stack socket: keep it as one.
    std::memmove(bytes.data(), bytes.data() + 12, 4);
    v6 = false;
    prefix -= 96;
  }

  out.v4_ = !v6;
  out.prefix_ = static_cast<std::uint8_t>(prefix);
  if (out.v4_) {
    std::uint64_t value = std::uint64_t{bytes[0]} << 24 | std::uint64_t{bytes[1]} << 16 |
                          std::uint64_t{bytes[2]} << 8 | bytes[3];
    out.mask_lo_ = top_bits(prefix) >> 32;
    out.lo_ = value;
  } else {
    out.hi_ = load_be64(bytes.data());
    out.lo_ = load_be64(bytes.data() + 8);
    out.mask_hi_ = top_bits(prefix);
    out.mask_lo_ = top_bits(prefix - 64);
  }
  if ((out.hi_ & ~out.mask_hi_) != 0 || (out.lo_ & ~out.mask_lo_) != 0) {
    out.hi_ &= out.mask_hi_;
    out.lo_ &= out.mask_lo_;
    return invalid(text, "host bits are set (did you mean " + out.to_string() + "?)");
  }
  return out;
}

cidr::key cidr::key_of(const ip::address& address) {
  if (address.is_v4()) return {true, 0, address.to_v4().to_uint()};
  auto bytes = address.to_v6().to_bytes();
  if (is_v4_mapped(bytes)) {
    std::uint64_t value = std::uint64_t{bytes[12]} << 24 | std::uint64_t{bytes[13]} << 16 |
                          std::uint64_t{bytes[14]} << 8 | bytes[15];
    return {true, 0, value};
  }
  return {false, load_be64(bytes.data()), load_be64(bytes.data() + 8)};
}

bool cidr::contains(const ip::address& address) const {
  return matches(key_of(address));
}

std::string cidr::to_string() const {
  std::string out;
  if (v4_) {
    out = ip::address_v4(static_cast<std::uint32_t>(lo_)).to_string();
  } else {
    ip::address_v6::bytes_type bytes;
    store_be64(hi_, bytes.data());
    store_be64(lo_, bytes.data() + 8);
    out = ip::address_v6(bytes).to_string();
  }
  out += '/';
  out += std::to_string(prefix_);
  return out;
}

std::variant<cidr_list, std::string> cidr_list::parse(const std::vector<std::string>& texts) {
  cidr_list out;
  out.ranges_.reserve(texts.size());
  for (const auto& text : texts) {
    auto parsed = cidr::parse(text);
    if (auto* error = std::get_if<std::string>(&parsed)) return std::move(*error);
    out.ranges_.push_back(std::get<cidr>(parsed));
  }
  return out;
}

bool cidr_list::allows(const ip::address& address) const {
  if (ranges_.empty()) return true;
  auto k = cidr::key_of(address);
  for (const auto& range : ranges_) {
    if (range.matches(k)) return true;
  }
  return false;
}

}  // namespace sy
