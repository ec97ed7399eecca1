#include "upstream/media_fetch.h"

#include "upstream/http_target.h"
#include "upstream/tls.h"

#include <openssl/ssl.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <chrono>

namespace sy::upstream {
namespace http = beast::http;
namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
using steady = std::chrono::steady_clock;

std::string guess_media_type(std::string_view path) {
  path = path.substr(0, path.find('?'));
  auto dot = path.rfind('.');
  if (dot == std::string_view::npos) return "image/jpeg";
  std::string ext(path.substr(dot + 1));
  for (auto& c : ext)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == "png") return "image/png";
  if (ext == "gif") return "image/gif";
  if (ext == "webp") return "image/webp";
  if (ext == "pdf") return "application/pdf";
  if (ext == "heic") return "image/heic";
  return "image/jpeg";
}

asio::ssl::context& tls_context() {
  static auto ctx = make_client_tls_context();  // SSL_CTX is safe to share for new streams
  return *ctx;
}

using target = http_target;

std::optional<target> parse(const std::string& url) {
  return parse_http_target(url);
}

template <class Stream>
asio::awaitable<std::variant<http::response<http::string_body>, fetch_failure>> get(
    Stream& stream, const target& t, const media_fetch_config& cfg) {
  http::request<http::empty_body> req{http::verb::get, t.path, 11};
  req.set(http::field::host, t.host_header);
  req.set(http::field::user_agent, "switchyard/" SY_VERSION);
  req.set(http::field::accept, "image/*, application/pdf, */*;q=0.5");
  auto [wec, wn] = co_await http::async_write(stream, req, use_tuple);
  if (wec) co_return fetch_failure{"sending the request failed: " + wec.message()};
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(cfg.max_bytes);
  auto [rec, rn] = co_await http::async_read(stream, buffer, parser, use_tuple);
  if (rec == http::error::body_limit) {
    co_return fetch_failure{"larger than " + std::to_string(cfg.max_bytes) + " bytes"};
  }
  if (rec) co_return fetch_failure{"reading the response failed: " + rec.message()};
  co_return parser.release();
}

}  // namespace

bool is_internal_address(const asio::ip::address& a) {
  if (a.is_unspecified() || a.is_loopback() || a.is_multicast()) return true;
  if (a.is_v6()) {
    auto v6 = a.to_v6();
    auto b = v6.to_bytes();
    // IPv4 carried inside IPv6: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64
    // (64:ff9b::/96, 64:ff9b:1::/48) and 6to4 (2002:AABB:CCDD::): judged by the IPv4 inside.
    auto v4_at = [&](std::size_t at) {
      return asio::ip::address(asio::ip::address_v4({b[at], b[at + 1], b[at + 2], b[at + 3]}));
    };
    bool zeros_10 = std::all_of(b.begin(), b.begin() + 10, [](unsigned char c) { return c == 0; });
    if (zeros_10 && b[10] == 0xff && b[11] == 0xff) return is_internal_address(v4_at(12));
    if (zeros_10 && b[10] == 0 && b[11] == 0) return true;  // ::a.b.c.d (deprecated) and ::/96
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) return true;  // NAT64
    if (b[0] == 0x20 && b[1] == 0x02) return is_internal_address(v4_at(2));         // 6to4
    if (v6.is_link_local() || v6.is_site_local()) return true;
    return (b[0] & 0xfe) == 0xfc;  // fc00::/7 unique local
  }
  auto v = a.to_v4().to_uint();
  auto in = [v](std::uint32_t net, int bits) { return (v >> (32 - bits)) == (net >> (32 - bits)); };
  return in(0x00000000, 8) || in(0x0a000000, 8) || in(0x64400000, 10) || in(0x7f000000, 8) ||
         in(0xa9fe0000, 16) || in(0xac100000, 12) || in(0xc0000000, 24) || in(0xc0a80000, 16) ||
         in(0xc6120000, 15) || in(0xf0000000, 4);
}

asio::awaitable<std::variant<fetched_media, fetch_failure>> fetch_media(
    std::string url, const media_fetch_config& cfg) {
  auto executor = co_await asio::this_coro::executor;
  const auto deadline = steady::now() + cfg.timeout;
  for (int redirects = 0; redirects <= 3; ++redirects) {
    auto t = parse(url);
    if (!t) co_return fetch_failure{"not an http(s) URL"};
    asio::ip::tcp::resolver resolver(executor);
    auto [ec, results] = co_await resolver.async_resolve(t->host, t->port, use_tuple);
    if (ec) co_return fetch_failure{"cannot resolve the host: " + ec.message()};
    std::optional<asio::ip::tcp::endpoint> chosen;
    for (const auto& r : results) {
      if (!cfg.allow_private && is_internal_address(r.endpoint().address())) continue;
      chosen = r.endpoint();
      break;
    }
    if (!chosen) {
      co_return fetch_failure{"the host resolves to an internal address, which is not allowed"};
    }
    beast::tcp_stream tcp(executor);
    tcp.expires_at(deadline);
    auto [cec] = co_await tcp.async_connect(*chosen, use_tuple);
    if (cec) co_return fetch_failure{"cannot connect: " + cec.message()};
    std::variant<http::response<http::string_body>, fetch_failure> got;
    if (t->tls) {
      beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp), tls_context());
      SSL_set_tlsext_host_name(tls.native_handle(), t->host.c_str());
      tls.set_verify_mode(asio::ssl::verify_peer);
      tls.set_verify_callback(asio::ssl::host_name_verification(t->host));
      auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::client, use_tuple);
      if (hec) co_return fetch_failure{"TLS handshake failed: " + hec.message()};
      got = co_await get(tls, *t, cfg);
    } else {
      got = co_await get(tcp, *t, cfg);
    }
    if (auto* f = std::get_if<fetch_failure>(&got)) {
      if (steady::now() >= deadline) co_return fetch_failure{"timed out"};
      co_return std::move(*f);
    }
    auto& res = std::get<0>(got);
    auto status = res.result_int();
    if (status >= 300 && status < 400 && res.find(http::field::location) != res.end()) {
      auto location = std::string(res[http::field::location]);
      auto next = boost::urls::parse_uri_reference(location);
      if (!next) co_return fetch_failure{"bad redirect"};
      boost::urls::url resolved;
      auto base = boost::urls::parse_absolute_uri(url);
      if (!base || boost::urls::resolve(*base, *next, resolved).has_error()) {
        co_return fetch_failure{"bad redirect"};
      }
      url = std::string(resolved.buffer());
      continue;
    }
    if (status != 200) co_return fetch_failure{"the server answered " + std::to_string(status)};
    fetched_media out;
    auto type = std::string(res[http::field::content_type]);
    type = type.substr(0, type.find(';'));
    while (!type.empty() && type.back() == ' ')
      type.pop_back();
    out.media_type =
        type.empty() || type == "application/octet-stream" ? guess_media_type(t->path) : type;
    const auto& body = res.body();
    out.data.resize(beast::detail::base64::encoded_size(body.size()));
    out.data.resize(beast::detail::base64::encode(out.data.data(), body.data(), body.size()));
    co_return out;
  }
  co_return fetch_failure{"too many redirects"};
}

asio::awaitable<std::optional<error>> inline_media(ir::request& req,
                                                   const media_fetch_config& cfg) {
  // Collected first (with where they are), then fetched one after another: requests rarely
  // carry more than a few.
  std::vector<std::pair<ir::part*, std::string>> pending;
  for (std::size_t m = 0; m < req.messages.size(); ++m) {
    auto& parts = req.messages[m].parts;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      auto where = "messages[" + std::to_string(m) + "].content[" + std::to_string(i) + "]";
      auto& p = parts[i];
      if ((p.type == ir::part::kind::image || p.type == ir::part::kind::document) &&
          !p.url.empty()) {
        pending.emplace_back(&p, where);
      }
      for (auto& c : p.content) {
        if ((c.type == ir::part::kind::image || c.type == ir::part::kind::document) &&
            !c.url.empty()) {
          pending.emplace_back(&c, where);
        }
      }
    }
  }
  // Bounds for the request as a whole: a client must not make the gateway download without end.
  constexpr std::size_t max_files = 16;
  if (pending.size() > max_files) {
    co_return error{errc::invalid_request,
                    "A request may refer to at most " + std::to_string(max_files) +
                        " files by URL for this model; send the others inline.",
                    pending[max_files].second};
  }
  const auto deadline = steady::now() + cfg.timeout;
  std::uint64_t budget = cfg.max_bytes * 4;  // all downloads together
  for (auto& [p, where] : pending) {
    if (!p->url.starts_with("http://") && !p->url.starts_with("https://")) continue;
    auto url = p->url;
    media_fetch_config each = cfg;
    each.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    each.max_bytes = std::min<std::uint64_t>(cfg.max_bytes, budget);
    if (each.timeout.count() <= 0 || each.max_bytes == 0) {
      co_return error{errc::invalid_request,
                      "Could not download the file at '" + p->url +
                          "': the request's downloads took too long or too much.",
                      where};
    }
    auto got = co_await fetch_media(url, each);
    if (auto* f = std::get_if<fetch_failure>(&got)) {
      co_return error{errc::invalid_request,
                      "Could not download the file at '" + p->url + "': " + f->reason + ".", where};
    }
    auto& media = std::get<fetched_media>(got);
    budget -= std::min<std::uint64_t>(budget, media.data.size() / 4 * 3);
    if (p->media_type.empty()) p->media_type = std::move(media.media_type);
    p->data = std::move(media.data);
    p->url.clear();
  }
  co_return std::nullopt;
}

}  // namespace sy::upstream
