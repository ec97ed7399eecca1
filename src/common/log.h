// Logging: the application log (spdlog, stderr) and the access log (one JSON line per request,
// written by a background thread so the request path only formats a line).
// Neither ever carries a key, an Authorization header or prompt content.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace sy::log {

// Sets up the application logger at `level` and the access log at `target`
// (stdout | stderr | off | a file path). Call once at start.
void init(const std::string& level, const std::string& target);

// Null when the access log is off.
spdlog::logger* access();

// Flushes both logs (at shutdown).
void flush();

}  // namespace sy::log
