// Two attempts of one request racing for its client (hedging, docs/routing.md): the first whose
// upstream answers with a status that is not held as a failure claims the client, and the other
// is stopped at once (its connection closed). Until then neither touches the client. One worker
// thread runs both, so no locks.
#pragma once

#include "common/net.h"

#include <boost/beast/core/tcp_stream.hpp>

#include <array>
#include <functional>

namespace sy::upstream {

struct race {
  int winner = -1;
  // Each racer's upstream connection while it has one (closed when the other wins, or when
  // the client goes away).
  std::array<beast::tcp_stream*, 2> streams{};
  // Runs once, when a racer claims the client, before it writes anything to it (it binds the
  // request to the winner's deployment).
  std::function<void(int winner)> on_claim;

  // Whether `who` may relay: it claims the client if nobody has, and the other's connection is
  // closed.
  bool claim(int who) {
    if (winner >= 0) return winner == who;
    winner = who;
    close(1 - who);
    if (on_claim) on_claim(who);
    return true;
  }
  bool lost(int who) const { return winner >= 0 && winner != who; }

  void close(int who) {
    if (auto* s = streams[static_cast<std::size_t>(who)]) {
      boost::system::error_code ignored;
      s->socket().close(ignored);
    }
  }
};

}  // namespace sy::upstream
