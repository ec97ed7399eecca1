// The store, as the server uses it: one connection on a thread of its own, so nothing on a
// worker's event loop ever waits for the database. Workers hand it work (an admin call, an audit
// row) and resume when it is done; a poll of the store revision tells the server when to reload
// its in-memory tables.
#pragma once

#include "store/sql.h"

#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <type_traits>

namespace sy::store {

class service {
 public:
  // Opens the database named by `url` and applies the migrations it lacks.
  static result<std::unique_ptr<service>> open(const std::string& url);
  explicit service(std::unique_ptr<connection> db);
  ~service();  // stops the thread; work not yet started is dropped
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  // Runs `fn(connection&)` on the store thread; the caller resumes on its own executor with the
  // result: `co_await store.run(std::move(task), asio::use_awaitable)`.
  //
  // Not a coroutine on purpose: GCC 12 copies a closure passed as a coroutine's parameter
  // bitwise in some cases (its std::string members then free a pointer into another object's
  // buffer), so `fn` travels through plain completion handlers.
  template <class F, class Token>
  auto run(F fn, Token&& token) {
    using R = std::invoke_result_t<F&, connection&>;
    return boost::asio::async_initiate<Token, void(R)>(
        [this](auto handler, F fn) {
          auto work = boost::asio::make_work_guard(handler);
          boost::asio::post(ioc_, [this, fn = std::move(fn), handler = std::move(handler),
                                   work = std::move(work)]() mutable {
            R result = fn(*db_);
            auto ex = work.get_executor();
            boost::asio::post(ex,
                              [handler = std::move(handler), result = std::move(result)]() mutable {
                                std::move(handler)(std::move(result));
                              });
          });
        },
        token, std::move(fn));
  }

  // Runs `fn(connection&)` on the store thread, later; nobody waits (audit rows of the data plane).
  void post(std::function<void(connection&)> fn);

  // Runs `fn(connection&)` on the store thread and waits for it (start-up, tests).
  template <class F>
  auto call(F fn) -> std::invoke_result_t<F&, connection&> {
    using R = std::invoke_result_t<F&, connection&>;
    std::promise<R> done;
    post([&](connection& db) { done.set_value(fn(db)); });
    return done.get_future().get();
  }

  // Every `interval`, on the store thread, reads the store revision; when it moved (and at least
  // every `full_every` anyway, in case a writer died between its change and its bump), calls
  // `reload(connection&)`, which says whether it succeeded: a failed reload is tried again at the
  // next check. `poke()` makes the next check happen at once and reload regardless.
  void watch(std::chrono::milliseconds interval, std::chrono::milliseconds full_every,
             std::function<bool(connection&)> reload);
  void poke();

 private:
  void check(bool force);
  void arm();

  std::unique_ptr<connection> db_;
  boost::asio::io_context ioc_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer timer_{ioc_};
  std::function<bool(connection&)> reload_;
  std::chrono::milliseconds interval_{500};
  std::chrono::milliseconds full_every_{60000};
  std::chrono::steady_clock::time_point last_full_{};
  std::int64_t seen_revision_ = -1;
  std::thread thread_;
};

}  // namespace sy::store
