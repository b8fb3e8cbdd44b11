// Bytes queued for one client and not yet written (docs/DESIGN.md rule 12), shared by the
// WebSocket and stdio connections and by the simulator's network (so simrun runs this
// policy, not a model of it): above half of --max-unsent-bytes the client is backed
// up (its terminals pause), below a quarter it has drained (they resume), and past the
// whole bound it is dropped. The gap between half and a quarter keeps a client near the
// line from toggling its terminals on every frame.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lifeline {

class UnsentBudget {
 public:
  enum class Change { none, backed_up, drained, overflow };

  explicit UnsentBudget(std::int64_t max_bytes) : max_(max_bytes) {}

  // A frame of n bytes is about to be queued. overflow: it would pass the bound (the
  // frame is not counted; the connection must be dropped).
  Change add(std::size_t n) {
    auto bytes = static_cast<std::int64_t>(n);
    if (bytes_ + bytes > max_) return Change::overflow;
    bytes_ += bytes;
    if (!backed_up_ && bytes_ > max_ / 2) {
      backed_up_ = true;
      return Change::backed_up;
    }
    return Change::none;
  }

  // A frame of n bytes was written (or dropped).
  Change remove(std::size_t n) {
    bytes_ -= static_cast<std::int64_t>(n);
    if (bytes_ < 0) bytes_ = 0;
    if (backed_up_ && bytes_ <= max_ / 4) {
      backed_up_ = false;
      return Change::drained;
    }
    return Change::none;
  }

  std::int64_t bytes() const { return bytes_; }
  bool backed_up() const { return backed_up_; }

 private:
  std::int64_t max_;
  std::int64_t bytes_ = 0;
  bool backed_up_ = false;
};

}  // namespace lifeline
