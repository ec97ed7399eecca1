// Coarse timeouts without a timer per I/O operation. A timer armed and cancelled around every
// read and write costs two timerfd_settime system calls each time (that is what
// beast::tcp_stream's expires_after does); on a relay path that otherwise makes one recv and one
// send per request, those were the largest cost after the I/O itself. Instead, each worker has
// one sweeper that wakes every `tick` and closes the sockets whose watchdog deadline has passed;
// arming and disarming a watchdog is a store and a vector push/swap, with no system call.
// Precision is one tick (50 ms by default), plenty for timeouts counted in seconds.
#pragma once

#include "common/net.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <vector>

namespace sy {

class deadline_sweeper;

// Guards one socket. When its deadline passes, the sweeper closes the socket, so the pending
// operation ends with an error, and `expired()` tells that error was a timeout.
class watchdog {
 public:
  using clock = std::chrono::steady_clock;

  watchdog() = default;
  watchdog(deadline_sweeper& sweeper, asio::ip::tcp::socket& socket)
      : sweeper_(&sweeper), socket_(&socket) {}
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;
  ~watchdog() { disarm(); }

  void bind(deadline_sweeper& sweeper, asio::ip::tcp::socket& socket) {
    disarm();
    sweeper_ = &sweeper;
    socket_ = &socket;
  }

  void arm(clock::duration timeout) { arm_until(clock::now() + timeout); }
  void arm_until(clock::time_point deadline);
  void disarm();

  bool expired() const { return expired_; }
  bool armed() const { return index_ != npos; }

 private:
  friend class deadline_sweeper;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  deadline_sweeper* sweeper_ = nullptr;
  asio::ip::tcp::socket* socket_ = nullptr;
  clock::time_point deadline_{};
  std::size_t index_ = npos;
  bool expired_ = false;
};

class deadline_sweeper {
 public:
  explicit deadline_sweeper(asio::io_context& io,
                            std::chrono::milliseconds tick = std::chrono::milliseconds(50));
  ~deadline_sweeper() { stop(); }

  void start();
  // Forgets every armed watchdog (without firing it) and stops ticking; arming is then a no-op.
  void stop();
  // Closes every armed watchdog's socket now (a forced shutdown).
  void fire_all();

  std::size_t armed() const { return armed_.size(); }

  // Fires the watchdogs whose deadline is at or before `now`. Public for tests.
  void sweep(watchdog::clock::time_point now);

 private:
  friend class watchdog;
  asio::awaitable<void> run();
  void add(watchdog* w);
  void remove(watchdog* w);
  void fire(watchdog* w);

  asio::steady_timer timer_;
  std::chrono::milliseconds tick_;
  std::vector<watchdog*> armed_;
  bool running_ = false;
  bool stopped_ = false;
};

}  // namespace sy
