// The immutable snapshot every request reads: config, key table, channels, model table.
// Built once at start (later: rebuilt and swapped on reload); never mutated while shared, except
// for the channels' round-robin counters, which are atomics.
#pragma once

#include "auth/key_table.h"
#include "config/config.h"
#include "providers/channel.h"
#include "routing/model_table.h"

#include <memory>
#include <vector>

namespace sy {

struct runtime {
  config cfg;
  key_table keys;
  std::vector<std::unique_ptr<channel>> channels;
  model_table models;

  static std::shared_ptr<runtime> build(config cfg);
};

}  // namespace sy
