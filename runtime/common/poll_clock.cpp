#include "runtime/common/poll_clock.hpp"

#include <time.h>

#include <algorithm>
#include <vector>

namespace lifeline::runtime {

namespace {
Millis read_clock(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<Millis>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}
}  // namespace

Millis PollClock::now() const {
  return read_clock(CLOCK_MONOTONIC);
}
WallMs PollClock::wall_now() const {
  return read_clock(CLOCK_REALTIME);
}

TimerId PollClock::after(Millis delay, std::function<void()> fn) {
  TimerId id = next_id_++;
  Millis deadline = now() + std::max<Millis>(0, delay);
  timers_.emplace(std::make_pair(deadline, id), std::move(fn));
  deadline_of_[id] = deadline;
  return id;
}

void PollClock::cancel(TimerId id) {
  auto it = deadline_of_.find(id);
  if (it == deadline_of_.end()) return;
  timers_.erase({it->second, id});
  deadline_of_.erase(it);
}

int PollClock::next_timeout_ms() const {
  if (timers_.empty()) return -1;
  Millis wait = timers_.begin()->first.first - now();
  return static_cast<int>(std::clamp<Millis>(wait, 0, 60'000));
}

void PollClock::fire_due() {
  Millis t = now();
  std::vector<std::function<void()>> due;
  while (!timers_.empty() && timers_.begin()->first.first <= t) {
    deadline_of_.erase(timers_.begin()->first.second);
    due.push_back(std::move(timers_.begin()->second));
    timers_.erase(timers_.begin());
  }
  for (auto& fn : due) fn();
}

}  // namespace lifeline::runtime
