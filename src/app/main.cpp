// switchyard: serve | check-config | --version | --help
#include "alerts/webhook.h"
#include "app/accounts_cli.h"
#include "billing/ledger.h"
#include "common/crypto.h"
#include "common/log.h"
#include "config/config.h"
#include "server/runtime.h"
#include "server/server.h"
#include "server/store_sync.h"
#include "store/service.h"

#include <fmt/format.h>
#include <openssl/rand.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

namespace {

std::optional<sy::config> load(const std::string& path, bool explicit_path) {
  if (path.empty() && !explicit_path) {
    if (std::filesystem::exists("switchyard.yaml")) return load("switchyard.yaml", true);
  }
  auto loaded = path.empty() ? sy::default_config() : sy::load_config_file(path);
  if (auto* e = std::get_if<sy::config_error>(&loaded)) {
    std::fprintf(stderr, "switchyard: invalid configuration: %s\n", e->message.c_str());
    return std::nullopt;
  }
  return std::get<sy::config>(std::move(loaded));
}

std::string random_key() {
  unsigned char bytes[24];
  RAND_bytes(bytes, sizeof bytes);
  std::string key = "sk-sy-";
  for (auto b : bytes)
    key += fmt::format("{:02x}", b);
  return key;
}

// SWITCHYARD_SECRET_KEY, when set: what seals provider keys and signing secrets at rest.
bool load_sealer(std::optional<sy::crypto::sealer>& out) {
  auto from_env = sy::crypto::sealer::from_env();
  if (auto* e = std::get_if<std::string>(&from_env)) {
    std::fprintf(stderr, "switchyard: SWITCHYARD_SECRET_KEY: %s\n", e->c_str());
    return false;
  }
  if (auto* s = std::get_if<sy::crypto::sealer>(&from_env)) out.emplace(*s);
  return true;
}

int serve(const std::string& config_path) {
  auto cfg = load(config_path, !config_path.empty());
  if (!cfg) return 2;
  std::optional<sy::crypto::sealer> sealer;
  if (!load_sealer(sealer)) return 2;
  std::unique_ptr<sy::store::service> store;
  std::unique_ptr<sy::billing::ledger_writer> ledger;
  std::size_t managed_keys = 0;
  if (cfg->database != "none") {
    auto opened = sy::store::service::open(cfg->database);
    if (auto* e = std::get_if<sy::store::db_error>(&opened)) {
      std::fprintf(stderr, "switchyard: database %s: %s\n",
                   sy::store::redact_url(cfg->database).c_str(), e->message.c_str());
      return 1;
    }
    store = std::move(std::get<std::unique_ptr<sy::store::service>>(opened));
    // The ledger has a connection and a thread of its own: a burst of rows never delays key
    // reloads or admin calls.
    auto writer = sy::billing::ledger_writer::open(cfg->database, {});
    if (auto* e = std::get_if<sy::store::db_error>(&writer)) {
      std::fprintf(stderr, "switchyard: database %s: ledger: %s\n",
                   sy::store::redact_url(cfg->database).c_str(), e->message.c_str());
      return 1;
    }
    ledger = std::move(std::get<std::unique_ptr<sy::billing::ledger_writer>>(writer));
    managed_keys = store->call([](sy::store::connection& db) -> std::size_t {
      auto rows = db.query("SELECT COUNT(*) FROM api_keys");
      auto* r = std::get_if<std::vector<sy::store::row>>(&rows);
      return r && !r->empty() ? static_cast<std::size_t>(r->front().integer(0)) : 0;
    });
  }
  std::string generated;
  if (cfg->keys.empty() && cfg->master_key.empty() && managed_keys == 0) {
    // Nothing to authenticate with: make one key for this run, shown once, below.
    generated = random_key();
    cfg->keys.push_back({"generated", generated, {"*"}});
  }
  sy::log::init(cfg->log.level, cfg->log.access);
  // Signals are caught from before the first connection is accepted, so a SIGTERM that comes
  // right after start still drains instead of killing the process.
  boost::asio::io_context signals_io;
  boost::asio::signal_set signals(signals_io, SIGINT, SIGTERM);
  int received = 0;
  signals.async_wait([&](const boost::system::error_code&, int sig) { received = sig; });

  // Budget alerts go out through it; it outlives the server, so no alert meets a dead sender.
  std::unique_ptr<sy::alerts::webhook_sender> webhook;
  if (cfg->webhook) webhook = std::make_unique<sy::alerts::webhook_sender>(*cfg->webhook);
  auto rt = sy::runtime::build(*cfg);
  sy::server srv(rt);
  if (webhook) {
    srv.set_alert_sink([&webhook](std::string_view type, std::string data) {
      webhook->send(sy::alerts::make_event(type, data));
    });
  }
  // The store's thread publishes to the server: on every way out, it stops first.
  struct stop_store {
    std::unique_ptr<sy::store::service>& store;
    ~stop_store() { store.reset(); }
  } stop_store_first{store};
  srv.attach_ledger(ledger.get());
  if (store) {
    srv.attach_store(store.get(), sealer ? &*sealer : nullptr);
    if (auto e = sy::load_from_store(srv, *store, *cfg, sealer ? &*sealer : nullptr)) {
      std::fprintf(stderr, "switchyard: database %s: cannot load keys: %s\n",
                   sy::store::redact_url(cfg->database).c_str(), e->message.c_str());
      return 1;
    }
  } else {
    sy::publish_without_store(srv, *cfg);
  }
  if (auto ec = srv.start()) {
    std::fprintf(stderr, "switchyard: cannot listen on %s:%u: %s\n", cfg->listen_host.c_str(),
                 cfg->listen_port, ec.message().c_str());
    return 1;
  }
  if (store) sy::follow_store(srv, *store);
  std::printf("switchyard %s listening on %s (%u workers, config: %s)\n", SY_VERSION,
              srv.address().c_str(), srv.worker_count(), cfg->source.c_str());
  std::printf("  database: %s\n", sy::store::redact_url(cfg->database).c_str());
  for (const auto& ch : cfg->channels) {
    std::string models;
    for (const auto& m : ch.models)
      models += (models.empty() ? "" : ", ") + m.public_name;
    std::printf("  channel %s (%s): %s\n", ch.name.c_str(),
                ch.type == sy::channel_type::mock ? "mock" : ch.base_url.c_str(), models.c_str());
  }
  if (!generated.empty()) {
    std::printf("  key: %s   (generated for this run; set keys: in switchyard.yaml to keep one)\n",
                generated.c_str());
    std::printf(
        "  try: curl %s/v1/chat/completions -H 'Authorization: Bearer %s' "
        "-H 'Content-Type: application/json' "
        "-d '{\"model\":\"demo\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}'\n",
        srv.address().c_str(), generated.c_str());
  }
  std::fflush(stdout);
  signals_io.run();
  spdlog::info("received signal {}, draining (up to {} ms)", received,
               cfg->limits.drain_timeout.count());
  srv.drain(cfg->limits.drain_timeout);  // admin calls in flight finish on the store
  store.reset();
  ledger.reset();  // every row of every request is committed before the process ends
  spdlog::info("stopped");
  sy::log::flush();
  return 0;
}

int check_config(const std::string& path) {
  auto cfg = load(path, true);
  if (!cfg) return 2;
  std::printf("%s: ok (%zu channels, %zu keys)\n", path.c_str(), cfg->channels.size(),
              cfg->keys.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"Switchyard: a self-hosted LLM API gateway", "switchyard"};
  app.set_version_flag("--version", std::string("switchyard ") + SY_VERSION);
  app.require_subcommand(1);

  std::string serve_config;
  auto* serve_cmd = app.add_subcommand("serve", "Run the gateway");
  serve_cmd->add_option("--config,-c", serve_config,
                        "YAML config file (default: ./switchyard.yaml if present, else the "
                        "embedded defaults)");

  std::string check_path;
  auto* check_cmd = app.add_subcommand("check-config", "Validate a config file and exit");
  check_cmd->add_option("--config,-c", check_path, "YAML config file")->required();

  auto accounts = sy::add_accounts_commands(app);  // users, keys, usage

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return sy::usage_exit(app, e);
  }
  if (auto rc = accounts->run()) return *rc;
  if (*serve_cmd) return serve(serve_config);
  if (*check_cmd) return check_config(check_path);
  return 0;
}
