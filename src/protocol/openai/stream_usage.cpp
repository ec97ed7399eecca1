#include "protocol/openai/stream_usage.h"

namespace sy::openai {

bool inject_include_usage(std::string& body) {
  auto end = body.find_last_not_of(" \t\r\n");
  if (end == std::string::npos || body[end] != '}') return false;
  // A probed body is an object with at least `model`: a comma always fits before the new member.
  body.insert(end, R"(,"stream_options":{"include_usage":true})");
  return true;
}

namespace {

// The end of the first event in `text` (just past its blank line), or npos.
std::size_t event_end(std::string_view text) {
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] != '\n') continue;
    if (text[i + 1] == '\n') return i + 2;
    if (text[i + 1] == '\r' && i + 2 < text.size() && text[i + 2] == '\n') return i + 3;
  }
  return std::string_view::npos;
}

}  // namespace

void usage_chunk_filter::event(std::string_view e, std::string& out) {
  // The usage chunk: no choices, a usage object. Dropped whole.
  if (e.find(R"("choices":[])") != std::string_view::npos &&
      e.find(R"("usage":{)") != std::string_view::npos) {
    return;
  }
  // Every other chunk: without the member include_usage added.
  static constexpr std::string_view member = R"(,"usage":null)";
  std::size_t from = 0;
  for (auto at = e.find(member); at != std::string_view::npos; at = e.find(member, from)) {
    out.append(e.substr(from, at - from));
    from = at + member.size();
  }
  out.append(e.substr(from));
}

void usage_chunk_filter::feed(std::string_view bytes, std::string& out) {
  if (pending_.empty()) {
    // The common case: whole events in one piece, nothing to keep.
    for (auto end = event_end(bytes); end != std::string_view::npos; end = event_end(bytes)) {
      event(bytes.substr(0, end), out);
      bytes.remove_prefix(end);
    }
    pending_.assign(bytes);
    return;
  }
  // A blank line may straddle the pieces: look from just before the new bytes.
  const auto scan_from = pending_.size() > 2 ? pending_.size() - 2 : 0;
  pending_.append(bytes);
  std::string_view rest(pending_);
  auto end = event_end(rest.substr(scan_from));
  if (end == std::string_view::npos) return;
  end += scan_from;
  while (end != std::string_view::npos) {
    event(rest.substr(0, end), out);
    rest.remove_prefix(end);
    end = event_end(rest);
  }
  pending_ = std::string(rest);
}

void usage_chunk_filter::finish(std::string& out) {
  out.append(pending_);
  pending_.clear();
}

}  // namespace sy::openai
