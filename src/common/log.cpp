#include "common/log.h"

#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace sy::log {
namespace {
std::shared_ptr<spdlog::logger> access_logger;
}

void init(const std::string& level, const std::string& target) {
  // Callable again (tests): the loggers of an earlier call are replaced.
  spdlog::drop("switchyard");
  spdlog::drop("access");
  auto app = spdlog::stderr_logger_mt("switchyard");
  app->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  app->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(app);

  access_logger.reset();
  if (target == "off") return;
  spdlog::init_thread_pool(8192, 1);
  if (target == "stdout") {
    access_logger = spdlog::create_async<spdlog::sinks::stdout_sink_mt>("access");
  } else if (target == "stderr") {
    access_logger = spdlog::create_async<spdlog::sinks::stderr_sink_mt>("access");
  } else {
    access_logger = spdlog::create_async<spdlog::sinks::basic_file_sink_mt>("access", target);
  }
  access_logger->set_pattern("%v");
  access_logger->set_level(spdlog::level::info);
  access_logger->flush_on(spdlog::level::info);
}

spdlog::logger* access() {
  return access_logger.get();
}

void flush() {
  if (access_logger) access_logger->flush();
  spdlog::default_logger()->flush();
}

}  // namespace sy::log
