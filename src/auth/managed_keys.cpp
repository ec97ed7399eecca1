#include "auth/managed_keys.h"

#include "billing/budget_loader.h"
#include "common/crypto.h"
#include "limits/rate_limiter.h"

#include <spdlog/spdlog.h>

#include <unordered_map>
#include <unordered_set>

namespace sy {

store::result<managed_accounts> load_managed_accounts(store::connection& db) {
  store::accounts acc(db);
  managed_accounts out;
  constexpr std::size_t page_size = 1000;
  std::optional<std::string> after;
  for (;;) {
    auto page = acc.list_users(page_size, after);
    if (auto* e = std::get_if<store::db_error>(&page)) return *e;
    auto& p = std::get<store::page<store::user_row, std::string>>(page);
    for (auto& u : p.items)
      out.users.push_back(std::move(u));
    if (!p.next) break;
    after = p.next;
  }
  after.reset();
  for (;;) {
    auto page = acc.list_keys(std::nullopt, page_size, after);
    if (auto* e = std::get_if<store::db_error>(&page)) return *e;
    auto& p = std::get<store::page<store::key_row, std::string>>(page);
    for (auto& k : p.items)
      out.keys.push_back(std::move(k));
    if (!p.next) break;
    after = p.next;
  }
  return out;
}

void add_managed_keys(key_table& table, const managed_accounts& accounts,
                      const crypto::sealer* sealer, limiter_registry* limiters,
                      billing::budget_binder* budgets) {
  std::unordered_map<std::string_view, const store::user_row*> users;
  for (const auto& u : accounts.users)
    users.emplace(u.id, &u);
  for (const auto& k : accounts.keys) {
    auto hash = parse_key_hash(k.key_hash);
    if (!hash) {
      spdlog::warn("key {}: malformed key_hash in the store; the key is ignored", k.id);
      continue;
    }
    key_record r;
    r.name = k.name;
    r.models = k.models;
    r.managed = true;
    r.id = k.id;
    r.user_id = k.user_id;
    if (budgets) {
      r.budget = budgets->bind("key", k.id, k.name, k.budget_nano_usd, k.budget_period);
    }
    if (k.user_id) {
      auto it = users.find(*k.user_id);
      if (it != users.end()) {
        r.role = it->second->role;
        r.owner_models = it->second->models;
        r.owner_enabled = it->second->enabled;
        if (budgets) {
          const auto& u = *it->second;
          r.user_budget = budgets->bind("user", u.id, u.name, u.budget_nano_usd, u.budget_period);
        }
      } else {
        r.owner_enabled = false;  // an owner that vanished grants nothing
      }
    }
    r.enabled = k.enabled;
    r.revoked_at = k.revoked_at;
    r.expires_at = k.expires_at;
    auto ips = cidr_list::parse(k.allowed_ips);
    if (auto* list = std::get_if<cidr_list>(&ips)) {
      r.allowed_ips = std::move(*list);
    } else {
      // The admin API validates them; a row edited by hand fails closed: nothing matches.
      spdlog::warn("key {}: allowed_ips: {}; the key is refused from every address", k.id,
                   std::get<std::string>(ips));
      r.allowed_ips_broken = true;
    }
    const rate_limits limits{k.rpm, k.tpm, k.max_concurrency};
    if (limiters && limits.any()) r.limiter = limiters->get(k.id, limits);
    if (k.signing_secret) {
      r.require_signature = true;
      if (sealer) {
        if (auto opened = sealer->open(*k.signing_secret, k.id)) r.signing_secret = *opened;
      }
      if (r.signing_secret.empty()) {
        spdlog::warn(
            "key {}: its signing secret cannot be opened (is SWITCHYARD_SECRET_KEY the "
            "one it was sealed with?); its requests are refused",
            k.id);
      }
    }
    auto record = std::make_shared<const key_record>(std::move(r));
    table.add_hash(*hash, record);
    if (k.previous_hash && k.previous_until) {
      if (auto previous = parse_key_hash(*k.previous_hash)) {
        table.add_hash(*previous, record, *k.previous_until);
      }
    }
  }
  if (limiters) {
    std::unordered_set<std::string_view> limited;
    for (const auto& k : accounts.keys) {
      if (k.rpm || k.tpm || k.max_concurrency) limited.insert(k.id);
    }
    limiters->prune([&](std::string_view id) { return limited.count(id) > 0; });
  }
}

}  // namespace sy
