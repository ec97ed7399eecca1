// The accounts commands of the command line: `switchyard users create|list|show|update` and
// `switchyard keys create|list|show|revoke|rotate` and `switchyard usage`. Each one is an admin API
// call (admin::handle) made as the actor `cli` with the role `admin`, directly on the store named
// by the config file's `database:` or by --database, so a gateway need not run (and may: SQLite
// waits for its lock, PostgreSQL is shared). docs/cli.md describes the flags and the output.
#pragma once

#include <memory>
#include <optional>

namespace CLI {
class App;
class ParseError;
}  // namespace CLI

namespace sy {

class accounts_commands {
 public:
  virtual ~accounts_commands() = default;
  // After parsing: runs the chosen accounts command and returns its exit status, or nullopt when
  // the command line chose another subcommand.
  virtual std::optional<int> run() = 0;
};

// Registers `users`, `keys` (and their subcommands) and `usage` on `app`. The returned object holds
// the parsed flags: keep it alive until run().
std::unique_ptr<accounts_commands> add_accounts_commands(CLI::App& app);

// For a parse error: prints it as CLI11 does (help and --version go to stdout and give 0) and
// returns the exit status: 2 for every usage error (CLI11 itself would return 105..115).
int usage_exit(CLI::App& app, const CLI::ParseError& e);

}  // namespace sy
