// A Log that cannot be made to flood (issue: 239 MB of "accept: Too many open files" in
// 30 s). The same line is written at most once a second, and at most 100 lines a second
// in all; what was held back is counted and said with the next line that gets through.
// Thread-safe (the store and spawner threads log too).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/ports.hpp"

namespace lifeline::runtime {

class RateLimitedLog final : public Log {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RateLimitedLog(Log& out, int per_second = 100) : out_(out), per_second_(per_second) {}

  void write(LogLevel level, std::string_view message) override {
    std::unique_lock lock(mu_);
    auto now = Clock::now();
    if (now - second_start_ >= std::chrono::seconds(1)) {
      second_start_ = now;
      in_second_ = 0;
    }
    if (last_seen_.size() > 4096) last_seen_.clear();  // bounded, like everything else
    auto& seen = last_seen_[std::string(message)];
    bool repeat =
        seen.written != Clock::time_point{} && now - seen.written < std::chrono::seconds(1);
    if (repeat || in_second_ >= per_second_) {
      ++seen.held;
      ++held_total_;
      return;
    }
    ++in_second_;
    seen.written = now;
    std::string line(message);
    if (seen.held) line += " (and " + std::to_string(seen.held) + " more times)";
    seen.held = 0;
    if (held_total_ > seen_held_at_report_) {
      line += " [" + std::to_string(held_total_ - seen_held_at_report_) + " lines held back]";
      seen_held_at_report_ = held_total_;
    }
    out_.write(level, line);
  }

 private:
  struct Seen {
    Clock::time_point written{};
    std::int64_t held = 0;
  };
  Log& out_;
  int per_second_;
  std::mutex mu_;
  Clock::time_point second_start_{};
  int in_second_ = 0;
  std::int64_t held_total_ = 0;
  std::int64_t seen_held_at_report_ = 0;
  std::unordered_map<std::string, Seen> last_seen_;
};

}  // namespace lifeline::runtime
