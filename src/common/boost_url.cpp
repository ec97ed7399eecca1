// Boost.URL is used header-only; its implementation is compiled here, once.
#include <boost/url/src.hpp>
