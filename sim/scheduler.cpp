#include "sim/scheduler.hpp"

namespace lifeline::sim {

EventId Scheduler::at(Millis when, Incarnation owner, std::function<void()> fn) {
  if (when < now_) when = now_;
  EventId id = next_id_++;
  when_.push_back(when);
  cancelled_.push_back(false);
  heap_.push_back(Event{when, id, owner, std::move(fn)});
  std::push_heap(heap_.begin(), heap_.end(), Later{});
  ++live_;
  return id;
}

bool Scheduler::step(Millis until) {
  while (!heap_.empty()) {
    if (heap_.front().when > until) return false;
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    Event ev = std::move(heap_.back());
    heap_.pop_back();
    if (cancelled_[ev.id]) continue;  // counted out of live_ when cancelled
    --live_;
    now_ = ev.when;
    if (ev.owner != 0 && !alive_(ev.owner)) continue;  // its process is gone
    ++executed_;
    ev.fn();
    return true;
  }
  return false;
}

}  // namespace lifeline::sim
