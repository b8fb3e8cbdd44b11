// RFC 4648 base64 (standard alphabet, padded), used for PTY bytes on the wire.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lifeline::base64 {

std::string encode(std::string_view bytes);
// nullopt for anything but canonical padded base64.
std::optional<std::string> decode(std::string_view text);

}  // namespace lifeline::base64
