// A byte bound on one queue a peer can fill (docs/DESIGN.md rule 12): the one class for
// every such bound. Unsent output per client (the WebSocket and stdio connections and the
// simulator's network, so simrun runs this policy, not a model of it): above half of
// --max-unsent-bytes the client is backed up (its terminals pause), below a quarter it
// has drained (they resume), and past the whole bound it is dropped; the gap between half
// and a quarter keeps a client near the line from toggling its terminals on every frame.
// Queued commands per session and pending input per child (--max-pending-input-bytes):
// what would not fit() is refused whole.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/assert.hpp"

namespace lifeline {

// The one rule of every byte bound: `now` plus `more` stays within `max`. Used by
// ByteBudget (a running count a shell keeps) and by the core where the count is derived
// (a session's queued commands, a child's unwritten input, reported by the port).
inline bool within_bound(std::int64_t now, std::size_t more, std::int64_t max) {
  LIFELINE_ASSERT(now >= 0);
  return now + static_cast<std::int64_t>(more) <= max;
}

class ByteBudget {
 public:
  enum class Change { none, backed_up, drained, overflow };

  explicit ByteBudget(std::int64_t max_bytes) : max_(max_bytes) { LIFELINE_ASSERT(max_ > 0); }

  // n more bytes stay within the bound.
  bool fits(std::size_t n) const { return within_bound(bytes_, n, max_); }

  // A frame of n bytes is about to be queued. overflow: it would pass the bound (the
  // frame is not counted; the connection must be dropped).
  Change add(std::size_t n) {
    if (!fits(n)) return Change::overflow;
    bytes_ += static_cast<std::int64_t>(n);
    if (!backed_up_ && bytes_ > max_ / 2) {
      backed_up_ = true;
      return Change::backed_up;
    }
    return Change::none;
  }

  // A frame of n bytes was written (or dropped). Only what was added is removed: a
  // negative count is an accounting bug, stopped here rather than hidden.
  Change remove(std::size_t n) {
    bytes_ -= static_cast<std::int64_t>(n);
    LIFELINE_ASSERT(bytes_ >= 0);
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
