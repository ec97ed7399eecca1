// The namespace aliases every networking file uses.
#pragma once

namespace boost::asio {}
namespace boost::beast {}

namespace sy {
namespace asio = boost::asio;
namespace beast = boost::beast;
}  // namespace sy
