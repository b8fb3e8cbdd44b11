#include "sim/scheduler.hpp"

namespace lifeline::sim {

EventId Scheduler::at(Millis when, Incarnation owner, std::function<void()> fn) {
  if (when < now_) when = now_;
  EventId id = next_id_++;
  pending_.emplace(id, Event{when, owner, std::move(fn)});
  queue_.push(Key{when, id});
  return id;
}

bool Scheduler::step(Millis until) {
  while (!queue_.empty()) {
    Key k = queue_.top();
    if (k.when > until) return false;
    queue_.pop();
    auto it = pending_.find(k.id);
    if (it == pending_.end()) continue;  // cancelled
    Event ev = std::move(it->second);
    pending_.erase(it);
    now_ = k.when;
    if (ev.owner != 0 && !alive_(ev.owner)) continue;  // its process is gone
    ++executed_;
    ev.fn();
    return true;
  }
  return false;
}

}  // namespace lifeline::sim
