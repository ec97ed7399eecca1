#include "auth/replay_cache.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <string>

namespace sy {
namespace {

constexpr std::size_t max_shards = 16;
constexpr std::size_t min_per_shard = 4096;

std::uint64_t load64(const unsigned char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

replay_cache::replay_cache(std::chrono::seconds window, std::size_t max_entries)
    : window_(std::max(window, std::chrono::seconds(0))) {
  max_entries = std::max<std::size_t>(max_entries, 1);
  shard_count_ = std::clamp<std::size_t>(max_entries / min_per_shard, 1, max_shards);
  per_shard_ = max_entries / shard_count_;
  shards_ = std::make_unique<shard[]>(shard_count_);
}

replay_cache::digest replay_cache::digest_of(std::string_view key_id, std::string_view signature) {
  // The key id's length goes first, so ("ab", "c") and ("a", "bc") differ.
  unsigned char stack[256];
  std::string heap;
  std::size_t size = 8 + key_id.size() + signature.size();
  unsigned char* buf = stack;
  if (size > sizeof stack) {
    heap.resize(size);
    buf = reinterpret_cast<unsigned char*>(heap.data());
  }
  std::uint64_t n = key_id.size();
  std::memcpy(buf, &n, 8);
  if (!key_id.empty()) std::memcpy(buf + 8, key_id.data(), key_id.size());
  if (!signature.empty()) std::memcpy(buf + 8 + key_id.size(), signature.data(), signature.size());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_Digest(buf, size, md, &md_len, EVP_sha256(), nullptr);
  return {load64(md), load64(md + 8)};
}

replay_cache::verdict replay_cache::check(std::string_view key_id, std::string_view signature,
                                          std::int64_t timestamp, std::int64_t now) {
  const std::int64_t w = window_.count();
  // In 128 bits: the timestamp comes from a header and may be anything.
  __int128 age = static_cast<__int128>(now) - timestamp;
  if (age > w || age < -w) return verdict::outside_window;

  digest d = digest_of(key_id, signature);
  auto& s = shards_[d[1] % shard_count_];
  const std::int64_t expires =
      timestamp > std::numeric_limits<std::int64_t>::max() - w ? timestamp : timestamp + w;
  std::lock_guard lock(s.mutex);

  // Forget what left the window: at `now` an entry expiring at `now` still counts.
  while (!s.heap.empty() && s.heap.front().first < now) {
    s.expiry.erase(s.heap.front().second);
    std::pop_heap(s.heap.begin(), s.heap.end(), std::greater<>{});
    s.heap.pop_back();
  }
  if (s.expiry.contains(d)) return verdict::replayed;
  if (s.expiry.size() >= per_shard_) {
    s.expiry.erase(s.heap.front().second);
    std::pop_heap(s.heap.begin(), s.heap.end(), std::greater<>{});
    s.heap.pop_back();
    evicted_.fetch_add(1, std::memory_order_relaxed);
  }
  s.expiry.emplace(d, expires);
  s.heap.emplace_back(expires, d);
  std::push_heap(s.heap.begin(), s.heap.end(), std::greater<>{});
  return verdict::first_use;
}

std::size_t replay_cache::size() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    n += shards_[i].expiry.size();
  }
  return n;
}

}  // namespace sy
