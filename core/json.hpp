// The one JSON library the core uses. Parsing never throws (see parse_json_bounded).
#pragma once

#include <nlohmann/json.hpp>

namespace lifeline {
using Json = nlohmann::json;
}  // namespace lifeline
