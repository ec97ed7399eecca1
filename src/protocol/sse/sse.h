// Server-Sent Events framing (WHATWG HTML "event stream" format): an incremental parser that
// accepts bytes split anywhere, and the writer side.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace sy::sse {

struct event {
  std::string type;  // "event:" field; empty means "message"
  std::string data;  // "data:" lines joined by '\n'
  std::string id;
};

class parser {
 public:
  // Feeds bytes; calls `on_event` for every complete event. Returns false (and stops) when the
  // pending line grows past `max_line` bytes, a guard against a stream with no line breaks.
  bool feed(std::string_view bytes, const std::function<void(const event&)>& on_event);

  void set_max_line(std::size_t n) { max_line_ = n; }

 private:
  void line(std::string_view text, const std::function<void(const event&)>& on_event);

  std::string pending_;
  event current_;
  bool has_data_ = false;
  bool last_was_cr_ = false;
  std::size_t max_line_ = 16u << 20;
};

// Appends "data: <payload>\n\n" (payload must hold no line break, as JSON from us never does).
void append_data(std::string& out, std::string_view payload);

}  // namespace sy::sse
