// PLACEHOLDER until the openai stream codec lands.
#include "protocol/openai/stream.h"

namespace sy::openai {
void stream_decoder::feed(const sse::event&, std::vector<ir::stream_event>&) {}
void stream_encoder::encode(const ir::stream_event&, std::string&) {}
void stream_encoder::finish(std::string&) {}
std::string_view stream_encoder::content_type() const { return "text/event-stream"; }
}  // namespace sy::openai
