#include "store/service.h"

#include "store/migrations.h"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

namespace sy::store {

result<std::unique_ptr<service>> service::open(const std::string& url) {
  auto opened = store::open(url);
  if (auto* e = std::get_if<db_error>(&opened)) return *e;
  auto db = std::move(std::get<std::unique_ptr<connection>>(opened));
  if (auto e = migrate(*db)) return *e;
  return std::make_unique<service>(std::move(db));
}

service::service(std::unique_ptr<connection> db) : db_(std::move(db)), work_(ioc_.get_executor()) {
  thread_ = std::thread([this] {
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception& e) {
        // Store calls return errors instead of throwing; this is a bug, not a reason to stop.
        spdlog::error("store thread: unexpected exception: {}", e.what());
      }
    }
  });
}

service::~service() {
  work_.reset();
  ioc_.stop();
  if (thread_.joinable()) thread_.join();
}

void service::post(std::function<void(connection&)> fn) {
  boost::asio::post(ioc_, [this, fn = std::move(fn)] { fn(*db_); });
}

void service::watch(std::chrono::milliseconds interval, std::chrono::milliseconds full_every,
                    std::function<bool(connection&)> reload) {
  boost::asio::post(ioc_, [this, interval, full_every, reload = std::move(reload)]() mutable {
    interval_ = interval;
    full_every_ = full_every;
    reload_ = std::move(reload);
    arm();
  });
}

void service::poke() {
  boost::asio::post(ioc_, [this] { check(true); });
}

void service::arm() {
  timer_.expires_after(interval_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    check(false);
    arm();
  });
}

void service::check(bool force) {
  if (!reload_) return;
  auto now = std::chrono::steady_clock::now();
  bool due = force || now - last_full_ >= full_every_;
  auto revision = read_revision(*db_);
  if (auto* e = std::get_if<db_error>(&revision)) {
    // The database is away (PostgreSQL restarting): keep serving from the tables we have.
    spdlog::warn("store: cannot read the store revision: {}", e->message);
    return;
  }
  auto current = std::get<std::int64_t>(revision);
  if (!due && current == seen_revision_) return;
  if (!reload_(*db_)) return;  // not marked as seen: the next check tries again
  seen_revision_ = current;
  last_full_ = now;
}

}  // namespace sy::store
