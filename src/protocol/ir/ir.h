// The canonical intermediate representation (IR) of the protocol hub (DESIGN.md §2). Every
// protocol decodes into it and encodes out of it, so a pair of protocols needs no translator of
// its own. The IR is plain data: codecs fill it, encoders read it, nothing here does I/O.
//
// Conventions that every codec follows:
// - Token counts are OpenAI-shaped: `usage.input` counts every prompt token, cached reads and
//   cache writes included; `usage.output` counts every generated token, reasoning included.
//   A codec whose protocol reports them apart (Anthropic, Gemini) adds or subtracts.
// - Tool call arguments are JSON text (OpenAI's form), because streams deliver them in pieces.
// - `-1` means "not reported" for a count; an empty string means "absent" for text fields.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sy::ir {

enum class protocol { openai, anthropic, gemini };
std::string_view to_string(protocol p);

enum class role { user, assistant, tool };

struct part {
  enum class kind {
    text,
    image,        // url, or media_type + data (base64)
    document,     // a PDF or other file: same fields as image
    tool_call,    // id, name, arguments (JSON text)
    tool_result,  // id (of the call), name (of the tool, when known), content, is_error
    reasoning,    // text + signature (Anthropic thinking, Gemini thought, OpenAI reasoning_content)
    redacted_reasoning,  // data: opaque, passed back unchanged (Anthropic redacted_thinking)
  };
  kind type = kind::text;
  std::string text;  // text, reasoning text
  // image / document
  std::string url;         // http(s) URL; empty when inline
  std::string media_type;  // "image/png"; for inline bytes, and when a URL's type is known
  std::string data;        // base64 (inline bytes), or redacted reasoning data
  std::string detail;      // OpenAI image_url.detail
  // tool call / tool result
  std::string id;
  std::string name;
  std::string arguments;      // JSON text of the arguments object
  std::vector<part> content;  // tool result content: text and image parts
  bool is_error = false;
  // reasoning
  std::string signature;
  // Anthropic's cache_control on this block, kept as JSON (null when absent).
  boost::json::value cache_control;
};

struct message {
  role who = role::user;
  std::vector<part> parts;
  std::string name;  // OpenAI's optional participant name
};

struct tool {
  std::string name;
  std::string description;
  boost::json::value parameters;  // JSON Schema object (null: none given)
  std::optional<bool> strict;
  boost::json::value cache_control;
};

struct tool_choice {
  enum class kind { unset, auto_, none, required, named };
  kind type = kind::unset;
  std::string name;              // for `named`
  std::optional<bool> parallel;  // OpenAI parallel_tool_calls; Anthropic's inverse flag
};

struct response_format {
  enum class kind { text, json_object, json_schema };
  kind type = kind::text;
  std::string name;           // json_schema name
  boost::json::value schema;  // json_schema schema
  std::optional<bool> strict;
};

struct reasoning_config {
  // From OpenAI reasoning_effort ("minimal", "low", "medium", "high"), or derived from a budget.
  std::string effort;
  std::optional<std::int64_t> budget_tokens;  // Anthropic thinking / Gemini thinkingBudget
  bool enabled = false;                       // thinking was asked for explicitly
  bool include_thoughts = false;              // Gemini includeThoughts
};

struct request {
  protocol source = protocol::openai;  // the protocol it was decoded from
  std::string model;
  bool stream = false;
  bool include_usage = false;  // OpenAI stream_options.include_usage

  std::vector<part> system;  // text parts, in order (system and developer messages merged)
  std::vector<message> messages;

  std::vector<tool> tools;
  tool_choice choice;

  std::optional<std::int64_t> max_tokens;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<std::int64_t> top_k;
  std::optional<double> presence_penalty;
  std::optional<double> frequency_penalty;
  std::optional<std::int64_t> seed;
  std::vector<std::string> stop;
  int n = 1;
  response_format format;
  reasoning_config reasoning;
  std::string user;  // end-user id: OpenAI user, Anthropic metadata.user_id

  // Set by the gateway for the upstream, not decoded: OpenAI's own API (and Azure's) takes the
  // limit only as max_completion_tokens on reasoning models, while many OpenAI-compatible
  // servers know only max_tokens.
  bool use_max_completion_tokens = false;

  // Top-level fields of the source protocol that the IR does not model, kept verbatim. An
  // encoder of the same protocol writes them back; another protocol's encoder drops them and
  // names them in `dropped` so the caller can log a warning.
  boost::json::object extra;
};

struct usage {
  std::int64_t input = -1;           // all prompt tokens (cached and cache writes included)
  std::int64_t output = -1;          // all generated tokens (reasoning included)
  std::int64_t cache_read = -1;      // part of `input` served from a cache
  std::int64_t cache_write = -1;     // part of `input` written to a cache (5m + 1h)
  std::int64_t cache_write_1h = -1;  // part of cache_write held for an hour (Anthropic)
  std::int64_t reasoning = -1;       // part of `output` spent on reasoning

  bool empty() const { return input < 0 && output < 0; }
  // Takes every count `later` reports (streams report running totals).
  void merge(const usage& later);
};

enum class finish_reason {
  none,  // not known yet / not reported
  stop,
  stop_sequence,
  length,
  tool_calls,
  content_filter,
  refusal,
  pause,             // Anthropic pause_turn
  context_exceeded,  // Anthropic model_context_window_exceeded
  error,             // Gemini MALFORMED_FUNCTION_CALL, OTHER...
};

struct response {
  std::string id;
  std::string model;
  std::int64_t created = 0;  // unix seconds
  std::vector<part> parts;   // the assistant's content, in order
  finish_reason finish = finish_reason::none;
  std::string stop_sequence;  // the stop string that matched, when known
  usage tokens;
};

// Kinds of API error every protocol can express, each with its own status and type names.
enum class error_kind {
  invalid_request,    // 400
  authentication,     // 401
  billing,            // 402
  permission,         // 403
  not_found,          // 404
  request_too_large,  // 413
  rate_limit,         // 429
  quota,              // 429 insufficient_quota / spend limit
  server,             // 500
  overloaded,         // 503 / 529
  timeout,            // 504
};

struct api_error {
  int status = 500;  // the status it came with (a codec's encoder picks its own from `kind`)
  error_kind kind = error_kind::server;
  std::string message;
  std::string code;   // OpenAI error.code, when known ("model_not_found", "invalid_api_key")
  std::string param;  // the offending field, when known
};

// Default kind for an HTTP status, when a body says nothing better.
error_kind kind_for_status(int status);

struct stream_event {
  enum class kind {
    start,                // id, model; `tokens` may carry the prompt count (Anthropic)
    text_delta,           // text
    reasoning_delta,      // text
    reasoning_signature,  // text = the signature of the current reasoning block
    redacted_reasoning,   // text = opaque data
    tool_call_start,      // tool_index, id, name
    tool_args_delta,      // tool_index, text = a fragment of the arguments JSON
    usage,                // tokens: running totals; the last one wins
    finish,               // reason (+ text = matched stop sequence)
    error,                // failure
  };
  kind type = kind::text_delta;
  int tool_index = 0;  // counts tool calls only, from 0 (not the content-block index)
  std::string text;
  std::string id;
  std::string name;  // tool name; model on `start`
  finish_reason reason = finish_reason::none;
  usage tokens;
  api_error failure;
};

}  // namespace sy::ir
