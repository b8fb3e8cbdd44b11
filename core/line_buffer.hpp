// Splits a byte stream into '\n'-terminated lines with a hard cap on a line's length.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lifeline {

class LineBuffer {
 public:
  explicit LineBuffer(std::size_t max_line) : max_line_(max_line) {}

  // Appends bytes and moves every complete line (without '\n', '\r' trimmed) into out.
  // Returns false when a line grew past the cap: the stream is broken, stop reading.
  bool feed(std::string_view bytes, std::vector<std::string>& out);
  void clear() { partial_.clear(); }
  std::size_t pending() const { return partial_.size(); }

 private:
  std::size_t max_line_;
  std::string partial_;
};

}  // namespace lifeline
