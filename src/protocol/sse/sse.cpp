#include "protocol/sse/sse.h"

namespace sy::sse {

bool parser::feed(std::string_view bytes, const std::function<void(const event&)>& on_event) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (c != '\n' && c != '\r') {
      last_was_cr_ = false;
      continue;
    }
    if (c == '\n' && last_was_cr_ && i == start && pending_.empty()) {
      // The '\n' of a "\r\n" whose '\r' ended the previous line.
      last_was_cr_ = false;
      start = i + 1;
      continue;
    }
    last_was_cr_ = c == '\r';
    if (pending_.empty()) {
      line(bytes.substr(start, i - start), on_event);
    } else {
      pending_.append(bytes.substr(start, i - start));
      line(pending_, on_event);
      pending_.clear();
    }
    start = i + 1;
  }
  pending_.append(bytes.substr(start));
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
