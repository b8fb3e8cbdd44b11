#include "core/line_buffer.hpp"
#include "core/assert.hpp"

namespace lifeline {

bool LineBuffer::feed(std::string_view bytes, std::vector<std::string>& out) {
  while (!bytes.empty()) {
    auto nl = bytes.find('\n');
    std::string_view chunk = bytes.substr(0, nl);
    if (partial_.size() + chunk.size() > max_line_) {
      partial_.clear();
      return false;
    }
    partial_.append(chunk);
    if (nl == std::string_view::npos) break;
    if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
    out.push_back(std::move(partial_));
    partial_.clear();
    bytes.remove_prefix(nl + 1);
  }
  LIFELINE_ASSERT(partial_.size() <= max_line_);
  return true;
}

}  // namespace lifeline
