// PLACEHOLDER until the gemini stream codec lands.
#include "protocol/gemini/stream.h"

namespace sy::gemini {
void stream_decoder::feed(const sse::event&, std::vector<ir::stream_event>&) {}
void stream_encoder::encode(const ir::stream_event&, std::string&) {}
void stream_encoder::finish(std::string&) {}
std::string_view stream_encoder::content_type() const { return "text/event-stream"; }
}  // namespace sy::gemini
