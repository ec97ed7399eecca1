#include "server/response_writer.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/status.hpp>

#include <array>

namespace sy {
namespace http = beast::http;

namespace {
// "1a2f\r\n" for a chunk of n bytes.
std::string_view chunk_size_line(char (&buf)[24], std::size_t n) {
  static constexpr char hex[] = "0123456789abcdef";
  char* end = buf + sizeof buf;
  char* p = end;
  *--p = '\n';
  *--p = '\r';
  do {
    *--p = hex[n & 15];
    n >>= 4;
  } while (n);
  return {p, static_cast<std::size_t>(end - p)};
}
}  // namespace

asio::awaitable<error_code> response_writer::send(std::string_view a, std::string_view b,
                                                  std::string_view c, std::string_view d) {
  std::array<asio::const_buffer, 4> buffers{asio::buffer(a), asio::buffer(b), asio::buffer(c),
                                            asio::buffer(d)};
  co_return co_await write_all(stream_, guard_, timeout_, buffers);
}

void response_writer::prepare(unsigned status) {
  status_ = status;
  head_.clear();
  head_ += "HTTP/1.1 ";
  head_ += std::to_string(status);
  head_ += ' ';
  auto reason = http::obsolete_reason(http::int_to_status(status));
  head_.append(reason.data(), reason.size());
  head_ += "\r\n";
}

void response_writer::always(std::string_view name, std::string_view value) {
  always_.append(name);
  always_ += ": ";
  always_.append(value);
  always_ += "\r\n";
}

void response_writer::routed(std::string_view deployment, int attempts) {
  routed_ = "x-sy-deployment: ";
  routed_.append(deployment);
  routed_ += "\r\nx-sy-attempts: ";
  routed_ += std::to_string(attempts);
  routed_ += "\r\n";
}

void response_writer::header(std::string_view name, std::string_view value) {
  if (!always_.empty() && name.size() > 12 && beast::iequals(name.substr(0, 12), "x-ratelimit-")) {
    return;
  }
  head_.append(name);
  head_ += ": ";
  head_.append(value);
  head_ += "\r\n";
}

asio::awaitable<error_code> response_writer::start(unsigned status, const http::fields& fields,
                                                   std::optional<std::uint64_t> content_length,
                                                   bool keep_alive, std::string_view first,
                                                   bool last) {
  // Not a coroutine: no frame of its own; the caller awaits the inner start at once.
  prepare(status);
  for (const auto& f : fields)
    header(f.name_string(), f.value());
  return start(content_length, keep_alive, first, last);
}

asio::awaitable<error_code> response_writer::start(std::optional<std::uint64_t> content_length,
                                                   bool keep_alive, std::string_view first,
                                                   bool last) {
  started_ = true;
  head_ += always_;
  head_ += routed_;
  chunked_ = !content_length && !http10_;
  if (!content_length && http10_) keep_alive = false;
  closes_ = !keep_alive;
  if (content_length) {
    head_ += "Content-Length: ";
    head_ += std::to_string(*content_length);
    head_ += "\r\n";
  } else if (chunked_) {
    head_ += "Transfer-Encoding: chunked\r\n";
  }
  if (!keep_alive) head_ += "Connection: close\r\n";
  head_ += "\r\n";
  if (!chunked_) {
    finished_ = last;
    co_return co_await send(head_, first, {}, {});
  }
  char size_buf[24];
  std::string_view size_line =
      first.empty() ? std::string_view{} : chunk_size_line(size_buf, first.size());
  std::string_view tail = first.empty() ? std::string_view{} : std::string_view("\r\n");
  if (last) {
    finished_ = true;
    tail = first.empty() ? std::string_view("0\r\n\r\n") : std::string_view("\r\n0\r\n\r\n");
  }
  co_return co_await send(head_, size_line, first, tail);
}

asio::awaitable<error_code> response_writer::write(std::string_view data) {
  if (data.empty()) co_return error_code{};
  if (!chunked_) co_return co_await send(data, {}, {}, {});
  char size_buf[24];
  co_return co_await send(chunk_size_line(size_buf, data.size()), data, "\r\n", {});
}

asio::awaitable<error_code> response_writer::finish(std::string_view last) {
  finished_ = true;
  if (!chunked_) {
    if (last.empty()) co_return error_code{};
    co_return co_await send(last, {}, {}, {});
  }
  if (last.empty()) co_return co_await send("0\r\n\r\n", {}, {}, {});
  char size_buf[24];
  co_return co_await send(chunk_size_line(size_buf, last.size()), last, "\r\n0\r\n\r\n", {});
}

}  // namespace sy
