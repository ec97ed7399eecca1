// The shape every protocol codec has (DESIGN.md §2), and the dispatch by protocol that the
// server uses. Each protocol implements these in protocol/<name>/codec.{h,cpp} and
// protocol/<name>/stream.{h,cpp}:
//
//   std::variant<ir::request, error> decode_request(std::string_view body);
//   std::variant<std::string, error> encode_request(const ir::request&, dropped_fields&);
//   std::variant<ir::response, error> decode_response(std::string_view body);
//   std::string encode_response(const ir::response&);
//   ir::api_error decode_error(int status, std::string_view body);
//   encoded_error encode_error(const ir::api_error&);
//   class stream_decoder : public ir::stream_decoder;   // upstream SSE events -> IR events
//   class stream_encoder : public ir::stream_encoder;   // IR events -> the client's framing
//
// Decoders never throw for bad input: they return an `error` (errc::invalid_request naming the
// field for requests, errc::upstream_bad_response for responses).
#pragma once

#include "common/error.h"
#include "protocol/ir/ir.h"
#include "protocol/sse/sse.h"

#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sy::ir {

// Fields an encoder could not carry to its protocol and left out ("top_k", "seed", ...); the
// caller logs them once as a warning.
using dropped_fields = std::vector<std::string>;

struct encoded_error {
  int status = 500;
  std::string body;
};

struct stream_options {
  std::string id;     // used when the upstream gave none
  std::string model;  // the model name the client asked for
  std::int64_t created = 0;
  bool include_usage = false;  // OpenAI: send the usage chunk before [DONE]
  bool json_array = false;     // Gemini without ?alt=sse: one JSON array, not SSE
};

// Upstream SSE events in, IR events out. Stateful, one per response; not thread-safe.
class stream_decoder {
 public:
  virtual ~stream_decoder() = default;
  // Appends the IR events `ev` produces to `out`.
  virtual void feed(const sse::event& ev, std::vector<stream_event>& out) = 0;
  // The upstream's stream ended properly (message_stop, [DONE], or a last event with a
  // finish reason): nothing it sends after counts.
  virtual bool done() const = 0;
};

// IR events in, the client's bytes out. Adds what the client protocol expects and the upstream
// did not send (first-chunk role, message_start, content_block_stop, [DONE], message_stop...).
class stream_encoder {
 public:
  virtual ~stream_encoder() = default;
  virtual void encode(const stream_event& ev, std::string& out) = 0;
  // Writes the ending frames (after an `error` event: nothing more than the protocol allows).
  virtual void finish(std::string& out) = 0;
  virtual std::string_view content_type() const = 0;
};

std::variant<request, error> decode_request(protocol p, std::string_view body);
std::variant<std::string, error> encode_request(protocol p, const request& r,
                                                dropped_fields& dropped);
std::variant<response, error> decode_response(protocol p, std::string_view body);
std::string encode_response(protocol p, const response& r);
api_error decode_error(protocol p, int status, std::string_view body);
encoded_error encode_error(protocol p, const api_error& e);
std::unique_ptr<stream_decoder> make_stream_decoder(protocol p);
std::unique_ptr<stream_encoder> make_stream_encoder(protocol p, stream_options options);

// A whole response as the stream events that would have carried it: for a server that answers
// a stream request with one JSON body, and for the mock channel.
std::vector<stream_event> to_events(const response& r);

// The gateway's own errors (common/error.h) as API errors any protocol can render.
api_error from_error(const error& e);

// Finish reasons: shared wording for logs.
std::string_view to_string(finish_reason r);

}  // namespace sy::ir
