#include "upstream/media_fetch.h"

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

struct target {
  bool tls = false;
  std::string host;
  std::string port;
  std::string path;  // with query
};

std::optional<target> parse(const std::string& url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return std::nullopt;
  target t;
  if (parsed->scheme() == "https") {
    t.tls = true;
  } else if (parsed->scheme() != "http") {
    return std::nullopt;
  }
  t.host = std::string(parsed->encoded_host_address());
  if (t.host.empty()) return std::nullopt;
  if (t.host.front() == '[') t.host = t.host.substr(1, t.host.size() - 2);
  t.port = parsed->has_port() && !parsed->port().empty() ? std::string(parsed->port())
                                                         : (t.tls ? "443" : "80");
  t.path = std::string(parsed->encoded_path());
  if (t.path.empty()) t.path = "/";
  if (parsed->has_query()) t.path += "?" + std::string(parsed->encoded_query());
  return t;
}

template <class Stream>
asio::awaitable<std::variant<http::response<http::string_body>, fetch_failure>> get(
    Stream& stream, const target& t, const media_fetch_config& cfg) {
  http::request<http::empty_body> req{http::verb::get, t.path, 11};
  req.set(http::field::host, t.host);
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
    if (v6.is_v4_mapped())
      return is_internal_address(asio::ip::make_address_v4(asio::ip::v4_mapped, v6));
    if (v6.is_link_local() || v6.is_site_local()) return true;
    auto b = v6.to_bytes();
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
  for (auto& [p, where] : pending) {
    if (!p->url.starts_with("http://") && !p->url.starts_with("https://")) continue;
    auto url = p->url;
    auto got = co_await fetch_media(url, cfg);
    if (auto* f = std::get_if<fetch_failure>(&got)) {
      co_return error{errc::invalid_request,
                      "Could not download the file at '" + p->url + "': " + f->reason + ".", where};
    }
    auto& media = std::get<fetched_media>(got);
    if (p->media_type.empty()) p->media_type = std::move(media.media_type);
    p->data = std::move(media.data);
    p->url.clear();
  }
  co_return std::nullopt;
}

}  // namespace sy::upstream
