// The simulator's one thread of time: a queue of events ordered by (simulated time,
// insertion order). Every event belongs to an owner - a process incarnation, or 0 for
// the world itself - and an event whose owner has died is dropped unrun, the way a dead
// process's timers and wakeups vanish with it. Nothing here reads real time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/ports.hpp"

namespace lifeline::sim {

using Incarnation = std::uint64_t;  // one process's life; never reused; 0 = the world
using EventId = std::uint64_t;

class Scheduler {
 public:
  // alive(owner) decides whether an owner's event still runs.
  explicit Scheduler(std::function<bool(Incarnation)> alive) : alive_(std::move(alive)) {}

  Millis now() const { return now_; }
  EventId at(Millis when, Incarnation owner, std::function<void()> fn);
  EventId after(Millis delay, Incarnation owner, std::function<void()> fn) {
    return at(now_ + (delay < 0 ? 0 : delay), owner, std::move(fn));
  }
  // Like an Asio timer: one whose deadline has come may already be queued and still
  // runs; only one still in the future is stopped. Callers re-validate.
  void cancel(EventId id) {
    // An event that ran (or was dropped with its owner) is due by now: when_ <= now_.
    if (id == 0 || id >= next_id_ || cancelled_[id] || when_[id] <= now_) return;
    cancelled_[id] = true;
    --live_;
  }

  // Runs the next live event; false when none is due at or before `until`.
  bool step(Millis until);
  bool idle() const { return live_ == 0; }
  std::size_t size() const { return live_; }
  std::uint64_t executed() const { return executed_; }
  // When `owner`'s live events are due, after now (unordered): its timers' deadlines.
  std::vector<Millis> pending_of(Incarnation owner) const {
    std::vector<Millis> out;
    for (const auto& e : heap_)
      if (e.owner == owner && e.when > now_ && !cancelled_[e.id]) out.push_back(e.when);
    std::sort(out.begin(), out.end());
    return out;
  }
  // Moves time forward to `when` without running anything (nothing may be due before).
  void advance_to(Millis when) {
    if (when > now_) now_ = when;
  }

 private:
  // The heap holds the events themselves; per-id facts live in vectors indexed by the
  // id (ids are dense, from 1), so that scheduling allocates nothing but the closure.
  struct Event {
    Millis when;
    EventId id;  // insertion order breaks ties: deterministic
    Incarnation owner;
    std::function<void()> fn;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.when != b.when ? a.when > b.when : a.id > b.id;
    }
  };
  std::function<bool(Incarnation)> alive_;
  std::vector<Event> heap_;
  std::vector<Millis> when_{0};
  std::vector<bool> cancelled_{false};
  std::size_t live_ = 0;
  Millis now_ = 0;
  EventId next_id_ = 1;
  std::uint64_t executed_ = 0;
};

// The Clock port for one simulated process: its timers are events it owns.
class SimClock final : public Clock {
 public:
  SimClock(Scheduler& sched, Incarnation owner, WallMs epoch = 1'700'000'000'000)
      : sched_(sched), owner_(owner), epoch_(epoch) {}
  Millis now() const override { return sched_.now(); }
  WallMs wall_now() const override { return epoch_ + sched_.now(); }
  TimerId after(Millis delay, std::function<void()> fn) override {
    return sched_.after(delay, owner_, std::move(fn));
  }
  void cancel(TimerId id) override { sched_.cancel(id); }

 private:
  Scheduler& sched_;
  Incarnation owner_;
  WallMs epoch_;
};

}  // namespace lifeline::sim
