// Signed webhooks for alerts (budget thresholds): events are queued by any thread and POSTed,
// in order, one at a time, by the sender's own thread, with an HMAC-SHA256 signature the
// receiver checks, and retried with exponential backoff. Nothing here is on the request path:
// send() only takes a lock to append to a bounded queue.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sy::alerts {

struct webhook_config {
  std::string url;     // http:// or https://; a token in the query is allowed (never logged)
  std::string secret;  // the HMAC key; at least 16 characters (the config loader checks)
  std::chrono::milliseconds timeout{5000};  // one attempt: resolve, connect, TLS, write, read
  int max_attempts = 5;
  std::string ca_file;  // PEM CA bundle for an https receiver, instead of the system store
  // Backoff between attempts: retry_initial, doubled each time, capped at retry_max.
  std::chrono::milliseconds retry_initial{500};
  std::chrono::milliseconds retry_max{30000};
  std::size_t max_queue = 1000;  // events waiting beyond this are dropped by send()
  // How long the destructor keeps delivering what is queued before it gives up.
  std::chrono::milliseconds shutdown_timeout{5000};
};

// Whether `url` is an absolute http:// or https:// URL with a host; otherwise why not.
std::optional<std::string> check_webhook_url(std::string_view url);

// `url` with only scheme://host[:port]/path, for log lines: the query (which may carry a
// token) and any user:password are left out.
std::string redact_url(std::string_view url);

// The x-sy-signature value: "sha256=" + hex(HMAC-SHA256(secret, "<timestamp>.<body>")).
std::string webhook_signature(std::string_view secret, std::int64_t timestamp,
                              std::string_view body);

// The event envelope: {"id":"evt_<32 hex>","type":<type>,"created":<unix seconds>,
// "data":<data_json>}. `data_json` must be a JSON value; it is inserted as it is ("{}" when
// empty). The id is also the x-sy-delivery header of every attempt to deliver it.
std::string make_event(std::string_view type, std::string_view data_json);

class webhook_sender {
 public:
  // Starts the sender's thread. `cfg.url` must have passed check_webhook_url.
  explicit webhook_sender(webhook_config cfg);
  // Keeps delivering what is queued for up to cfg.shutdown_timeout, then stops; events still
  // queued then are abandoned (counted as dropped, logged at warn).
  ~webhook_sender();

  webhook_sender(const webhook_sender&) = delete;
  webhook_sender& operator=(const webhook_sender&) = delete;

  // Queues one event (a JSON object, normally from make_event); its "id" member is the delivery
  // id (one is made up when it has none). Any thread; never blocks on the network. False when
  // the event was dropped: the queue is full, the sender is stopping, or the text is not a JSON
  // object.
  bool send(std::string event_json);

  struct stats {
    std::uint64_t queued;     // accepted by send(), in total
    std::uint64_t delivered;  // answered 2xx
    std::uint64_t failed;     // gave up after max_attempts
    std::uint64_t dropped;    // refused by send(), or abandoned at shutdown
  };
  stats get_stats() const;

  // Waits until every accepted event is delivered or failed. False on timeout.
  bool flush(std::chrono::milliseconds timeout);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sy::alerts
