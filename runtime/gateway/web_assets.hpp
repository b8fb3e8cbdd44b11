// The web client's files (runtime/web/), compiled in by runtime/web/embed.cmake.
#pragma once

#include <string_view>
#include <vector>

namespace lifeline::runtime {

struct WebAsset {
  std::string_view path;  // "/index.html", "/app.js", ...
  std::string_view body;
};

const std::vector<WebAsset>& web_assets();

}  // namespace lifeline::runtime
