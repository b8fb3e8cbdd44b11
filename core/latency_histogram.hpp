// A fixed-bucket latency histogram in milliseconds, Prometheus-shaped (cumulative on
// render, not here). Fixed bounds: no allocation, and a record costs a short scan.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/ports.hpp"

namespace lifeline {

class LatencyHistogram {
 public:
  static constexpr std::array<Millis, 12> bounds{1,   2,   5,   10,   20,   50,
                                                 100, 250, 500, 1000, 5000, 30000};

  void record(Millis ms) {
    if (ms < 0) ms = 0;
    std::size_t i = 0;
    while (i < bounds.size() && ms > bounds[i]) ++i;
    ++counts_[i];  // counts_[bounds.size()]: beyond the last bound
    ++count_;
    sum_ += ms;
  }
  // Observations in bucket i alone (i == bounds.size(): above every bound).
  std::int64_t in_bucket(std::size_t i) const { return counts_[i]; }
  std::int64_t count() const { return count_; }
  std::int64_t sum() const { return sum_; }

 private:
  std::array<std::int64_t, bounds.size() + 1> counts_{};
  std::int64_t count_ = 0;
  std::int64_t sum_ = 0;
};

}  // namespace lifeline
