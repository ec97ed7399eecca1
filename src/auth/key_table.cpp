#include "auth/key_table.h"

#include <openssl/evp.h>

#include <ctime>

namespace sy {

key_hash hash_key(std::string_view key) {
  // SHA256() looks the algorithm up on every call, under OpenSSL 3's provider locks; fetch it
  // once per thread instead (a third of the cost on the request path).
  struct digest {
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~digest() {
      EVP_MD_CTX_free(ctx);
      EVP_MD_free(md);
    }
  };
  thread_local digest d;
  key_hash out;
  unsigned int n = 0;
  EVP_DigestInit_ex(d.ctx, d.md, nullptr);
  EVP_DigestUpdate(d.ctx, key.data(), key.size());
  EVP_DigestFinal_ex(d.ctx, out.data(), &n);
  return out;
}

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative matcher with single-star backtracking: linear for the patterns people write.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {  // before the literal test: '*' in the text
      star = p++;
      mark = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

namespace {
bool any_glob(const std::vector<std::string>& patterns, std::string_view text) {
  for (const auto& pattern : patterns) {
    if (glob_match(pattern, text)) return true;
  }
  return false;
}
}  // namespace

bool key_allows_model(const key_record& key, std::string_view model) {
  if (key.admin) return true;
  if (!any_glob(key.models, model)) return false;
  // A managed key with an owner is bounded by the owner's models too, whatever the key says.
  return !key.user_id || any_glob(key.owner_models, model);
}

std::optional<key_hash> parse_key_hash(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  key_hash out;
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = digit(hex[2 * i]), lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return out;
}

std::string_view extract_key(std::string_view authorization, std::string_view x_api_key) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
      s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
      s.remove_suffix(1);
    return s;
  };
  authorization = trim(authorization);
  if (authorization.size() > 7) {
    auto scheme = authorization.substr(0, 7);
    bool bearer = true;
    for (std::size_t i = 0; i < 6; ++i)
      bearer = bearer && (scheme[i] | 0x20) == "bearer"[i];
    if (bearer && scheme[6] == ' ') return trim(authorization.substr(7));
  }
  return trim(x_api_key);
}

void key_table::add(std::string_view key, key_record record) {
  table_[hash_key(key)] = entry{std::make_shared<const key_record>(std::move(record)), forever};
}

void key_table::add_hash(const key_hash& hash, std::shared_ptr<const key_record> record,
                         std::int64_t until) {
  table_[hash] = entry{std::move(record), until};
}

const key_table::entry* key_table::find_entry(std::string_view key) const {
  if (key.empty()) return nullptr;
  auto it = table_.find(hash_key(key));
  return it == table_.end() ? nullptr : &it->second;
}

const key_record* key_table::find(std::string_view key, std::int64_t now) const {
  auto* e = find_entry(key);
  return e && now < e->until ? e->record.get() : nullptr;
}

const key_record* key_table::find(std::string_view key) const {
  auto* e = find_entry(key);
  if (!e) return nullptr;
  if (e->until != forever && static_cast<std::int64_t>(std::time(nullptr)) >= e->until) {
    return nullptr;
  }
  return e->record.get();
}

}  // namespace sy
