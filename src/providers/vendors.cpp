#include "providers/vendors.h"

namespace sy {

std::span<const vendor> vendors() {
  static constexpr vendor table[] = {
      {"openai", channel_type::openai, "https://api.openai.com/v1"},
      {"azure", channel_type::azure, ""},  // https://<resource>.openai.azure.com
      {"anthropic", channel_type::anthropic, "https://api.anthropic.com"},
      {"gemini", channel_type::gemini, "https://generativelanguage.googleapis.com"},
      {"deepseek", channel_type::openai, "https://api.deepseek.com/v1"},
      {"groq", channel_type::openai, "https://api.groq.com/openai/v1"},
      {"mistral", channel_type::openai, "https://api.mistral.ai/v1"},
      {"openrouter", channel_type::openai, "https://openrouter.ai/api/v1"},
      {"together", channel_type::openai, "https://api.together.xyz/v1"},
      {"fireworks", channel_type::openai, "https://api.fireworks.ai/inference/v1"},
      {"xai", channel_type::openai, "https://api.x.ai/v1"},
      {"ollama", channel_type::openai, "http://127.0.0.1:11434/v1"},
      {"vllm", channel_type::openai, "http://127.0.0.1:8000/v1"},
      {"llama.cpp", channel_type::openai, "http://127.0.0.1:8080/v1"},
      {"mock", channel_type::mock, ""},
  };
  return table;
}

const vendor* find_vendor(std::string_view name) {
  for (const auto& v : vendors()) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

}  // namespace sy
