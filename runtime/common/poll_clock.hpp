// A Clock for single-threaded poll(2) loops (the slash worker): timers fire when the
// loop calls fire_due(); next_timeout_ms() tells the loop how long it may sleep.
#pragma once

#include <map>
#include <utility>

#include "core/ports.hpp"

namespace lifeline::runtime {

class PollClock final : public Clock {
 public:
  Millis now() const override;
  WallMs wall_now() const override;
  TimerId after(Millis delay, std::function<void()> fn) override;
  void cancel(TimerId id) override;

  int next_timeout_ms() const;  // -1: no timer
  void fire_due();

 private:
  std::map<std::pair<Millis, TimerId>, std::function<void()>> timers_;
  std::map<TimerId, Millis> deadline_of_;
  TimerId next_id_ = 1;
};

}  // namespace lifeline::runtime
