// Usage for every OpenAI stream relayed as is. A client that did not ask for usage
// (`stream_options.include_usage`) gets none in OpenAI's stream, and the books would have nothing
// to settle; so the gateway asks the upstream for it anyway, reads it on the way, and hides from
// the client what it did not ask for: the final usage chunk and the `"usage":null` member that
// include_usage adds to every other chunk. The client sees the stream it would have had.
#pragma once

#include <string>
#include <string_view>

namespace sy::openai {

// Adds `"stream_options":{"include_usage":true}` to a request body (a JSON object that has no
// stream_options member). Returns false, changing nothing, when the body does not end in '}'.
bool inject_include_usage(std::string& body);

// Removes the usage chunk and the "usage":null members from an OpenAI SSE stream, whatever the
// pieces it comes in. Events pass whole: an incomplete one waits for its end.
class usage_chunk_filter {
 public:
  // Appends to `out` what the client may see of `bytes`.
  void feed(std::string_view bytes, std::string& out);
  // The end of the stream: whatever is left (an unfinished event) goes as it is.
  void finish(std::string& out);

 private:
  void event(std::string_view e, std::string& out);
  std::string pending_;
};

}  // namespace sy::openai
