// Strict reading of a request's params: every key must be known, every value of the
// right type and range. The first problem found becomes the -32602 message.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include "core/json.hpp"

namespace lifeline {

class Params {
 public:
  Params(const Json& params, std::initializer_list<const char*> allowed);

  std::string required_string(const char* name, bool allow_empty = false);
  std::optional<std::string> optional_string(const char* name);
  bool optional_bool(const char* name, bool fallback);
  std::int64_t required_int(const char* name, std::int64_t min, std::int64_t max);
  std::optional<std::int64_t> optional_int(const char* name, std::int64_t min, std::int64_t max);

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  const Json* find(const char* name);
  void fail(std::string message);

  const Json& params_;
  std::string error_;
};

}  // namespace lifeline
