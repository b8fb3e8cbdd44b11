#include "runtime/gateway/asio_clock.hpp"

#include <chrono>

namespace lifeline::runtime {

AsioClock::~AsioClock() {
  for (auto& [id, t] : timers_) t->cancel();
}

Millis AsioClock::now() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

WallMs AsioClock::wall_now() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TimerId AsioClock::after(Millis delay, std::function<void()> fn) {
  TimerId id = next_id_++;
  auto timer = std::make_unique<asio::steady_timer>(io_, std::chrono::milliseconds(delay));
  timer->async_wait([this, id, fn = std::move(fn)](const boost::system::error_code& ec) {
    // Stricter than the port asks: a timer cancelled after it expired but before its
    // handler ran is no longer in the map, so it never fires.
    auto it = timers_.find(id);
    if (ec == asio::error::operation_aborted || it == timers_.end()) return;
    timers_.erase(it);
    fn();
  });
  timers_.emplace(id, std::move(timer));
  return id;
}

void AsioClock::cancel(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  it->second->cancel();
  timers_.erase(it);
}

}  // namespace lifeline::runtime
