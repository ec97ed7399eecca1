#include "protocol/sse/sse.h"

#include <cstring>

namespace sy::sse {

bool parser::feed(std::string_view bytes, const std::function<void(const event&)>& on_event) {
  const char* const begin = bytes.data();
  const char* const end = begin + bytes.size();
  const char* p = begin;
  if (p == end) return pending_.size() <= max_line_;  // an empty feed changes nothing
  if (last_was_cr_ && *p == '\n') ++p;                // the '\n' of a "\r\n" split across feeds
  last_was_cr_ = false;
  while (p < end) {
    // Line breaks found with memchr (vectorised), not byte by byte: streams are mostly text.
    auto left = static_cast<std::size_t>(end - p);
    const char* eol = static_cast<const char*>(std::memchr(p, '\n', left));
    const char* cr = static_cast<const char*>(
        std::memchr(p, '\r', eol ? static_cast<std::size_t>(eol - p) : left));
    if (cr) eol = cr;
    if (!eol) break;
    std::string_view text(p, static_cast<std::size_t>(eol - p));
    if (pending_.empty()) {
      line(text, on_event);
    } else {
      pending_.append(text);
      line(pending_, on_event);
      pending_.clear();
    }
    p = eol + 1;
    if (*eol == '\r') {
      if (p < end && *p == '\n') {
        ++p;
      } else if (p == end) {
        last_was_cr_ = true;
      }
    }
  }
  pending_.append(p, static_cast<std::size_t>(end - p));
  return pending_.size() <= max_line_;
}

void parser::line(std::string_view text, const std::function<void(const event&)>& on_event) {
  if (text.empty()) {
    if (has_data_) on_event(current_);
    current_.type.clear();
    current_.data.clear();
    has_data_ = false;
    return;
  }
  if (text.front() == ':') return;  // comment
  auto colon = text.find(':');
  std::string_view field = text.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = text.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) current_.data += '\n';
    current_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    current_.type = std::string(value);
  } else if (field == "id") {
    current_.id = std::string(value);
  }
}

void append_data(std::string& out, std::string_view payload) {
  out += "data: ";
  out += payload;
  out += "\n\n";
}

}  // namespace sy::sse
