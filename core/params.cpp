#include "core/params.hpp"
#include "core/assert.hpp"

namespace lifeline {

Params::Params(const Json& params, std::initializer_list<const char*> allowed) : params_(params) {
  for (auto it = params_.begin(); it != params_.end(); ++it) {
    bool known = false;
    for (const char* name : allowed) known = known || it.key() == name;
    if (!known) {
      fail("unknown param '" + it.key() + "'");
      return;
    }
  }
}

void Params::fail(std::string message) {
  LIFELINE_ASSERT(!message.empty());
  if (error_.empty()) error_ = "invalid params: " + std::move(message);
  LIFELINE_ASSERT(!ok());
}

const Json* Params::find(const char* name) {
  auto it = params_.find(name);
  if (it == params_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string Params::required_string(const char* name, bool allow_empty) {
  const Json* v = find(name);
  if (!v) {
    fail(std::string("'") + name + "' is required");
    return {};
  }
  if (!v->is_string()) {
    fail(std::string("'") + name + "' must be a string");
    return {};
  }
  std::string s = v->get<std::string>();
  if (s.empty() && !allow_empty) fail(std::string("'") + name + "' must not be empty");
  return s;
}

std::optional<std::string> Params::optional_string(const char* name) {
  const Json* v = find(name);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    fail(std::string("'") + name + "' must be a string");
    return std::nullopt;
  }
  return v->get<std::string>();
}

bool Params::optional_bool(const char* name, bool fallback) {
  const Json* v = find(name);
  if (!v) return fallback;
  if (!v->is_boolean()) {
    fail(std::string("'") + name + "' must be a boolean");
    return fallback;
  }
  return v->get<bool>();
}

std::optional<std::int64_t> Params::optional_int(const char* name, std::int64_t min,
                                                 std::int64_t max) {
  const Json* v = find(name);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) {
    fail(std::string("'") + name + "' must be an integer");
    return std::nullopt;
  }
  // is_number_integer covers unsigned too (nlohmann reads every positive integer as
  // one), so compare those through the unsigned view: past INT64_MAX they would wrap.
  bool above = v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(max);
  std::int64_t n = above ? max : v->get<std::int64_t>();
  if (above || n < min || n > max) {
    fail(std::string("'") + name + "' must be between " + std::to_string(min) + " and " +
         std::to_string(max));
    return std::nullopt;
  }
  return n;
}

std::int64_t Params::required_int(const char* name, std::int64_t min, std::int64_t max) {
  if (!find(name)) {
    fail(std::string("'") + name + "' is required");
    return min;
  }
  return optional_int(name, min, max).value_or(min);
}

}  // namespace lifeline
