#include "common/deadline.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sy {

void watchdog::arm_until(clock::time_point deadline) {
  deadline_ = deadline;
  expired_ = false;
  if (index_ == npos && sweeper_) sweeper_->add(this);
}

void watchdog::disarm() {
  if (index_ != npos) sweeper_->remove(this);
}

deadline_sweeper::deadline_sweeper(asio::io_context& io, std::chrono::milliseconds tick)
    : timer_(io), tick_(tick) {}

void deadline_sweeper::start() {
  if (running_ || stopped_) return;
  running_ = true;
  asio::co_spawn(timer_.get_executor(), run(), asio::detached);
}

void deadline_sweeper::stop() {
  stopped_ = true;
  for (auto* w : armed_)
    w->index_ = watchdog::npos;
  armed_.clear();
  timer_.cancel();
}

void deadline_sweeper::fire_all() {
  while (!armed_.empty())
    fire(armed_.back());
}

void deadline_sweeper::add(watchdog* w) {
  if (stopped_) return;
  w->index_ = armed_.size();
  armed_.push_back(w);
}

void deadline_sweeper::remove(watchdog* w) {
  auto i = w->index_;
  armed_[i] = armed_.back();
  armed_[i]->index_ = i;
  armed_.pop_back();
  w->index_ = watchdog::npos;
}

void deadline_sweeper::fire(watchdog* w) {
  remove(w);
  w->expired_ = true;
  boost::system::error_code ignored;
  w->socket_->close(ignored);  // the pending operation ends with operation_aborted
}

void deadline_sweeper::sweep(watchdog::clock::time_point now) {
  for (std::size_t i = 0; i < armed_.size();) {
    if (armed_[i]->deadline_ <= now) {
      fire(armed_[i]);  // swaps the last one into slot i: look at i again
    } else {
      ++i;
    }
  }
}

asio::awaitable<void> deadline_sweeper::run() {
  while (!stopped_) {
    timer_.expires_after(tick_);
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopped_) break;
    sweep(watchdog::clock::now());
  }
  running_ = false;
}

}  // namespace sy
