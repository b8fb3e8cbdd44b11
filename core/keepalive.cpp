#include "core/keepalive.hpp"
#include "core/assert.hpp"

namespace lifeline {

Keepalive::Keepalive(Clock& clock, Millis interval, Millis timeout, std::function<void()> send_ping,
                     std::function<void()> on_dead)
    : clock_(clock),
      interval_(interval),
      timeout_(timeout),
      send_ping_(std::move(send_ping)),
      on_dead_(std::move(on_dead)) {
  LIFELINE_ASSERT(interval_ > 0);
  LIFELINE_ASSERT(timeout_ > 0);
  LIFELINE_ASSERT(send_ping_ != nullptr);
  LIFELINE_ASSERT(on_dead_ != nullptr);
}

template <typename F>
TimerId Keepalive::arm(Millis delay, TimerId Keepalive::*slot, F f) {
  // The id is known only once after() returns: the callback reads it through a cell.
  auto id = std::make_shared<TimerId>(0);
  *id = clock_.after(delay, [weak = std::weak_ptr<Keepalive*>(self_), slot, id, f] {
    auto self = weak.lock();
    if (!self || (*self)->*slot != *id) return;  // gone, cancelled or replaced
    ((*self)->*slot) = 0;
    f(**self);
  });
  return *id;
}

void Keepalive::start() {
  if (dead_ || ping_timer_) return;
  ping_timer_ = arm(interval_, &Keepalive::ping_timer_, [](Keepalive& k) { k.tick(); });
  LIFELINE_ASSERT(ping_timer_ != 0);
}

void Keepalive::tick() {
  LIFELINE_ASSERT(!dead_);
  LIFELINE_ASSERT(ping_timer_ == 0);  // the timer that ran us
  ping_timer_ = arm(interval_, &Keepalive::ping_timer_, [](Keepalive& k) { k.tick(); });
  // mutant: each-ping-gets-a-deadline-of-its-own
  if (deadline_timer_) return;  // one ping outstanding at a time
  // mutant: the-pong-deadline-is-twice-the-timeout
  deadline_timer_ = arm(timeout_, &Keepalive::deadline_timer_, [](Keepalive& k) { k.expire(); });
  send_ping_();
}

// mutant: a-pong-does-not-cancel-the-deadline
void Keepalive::on_activity() {
  if (deadline_timer_) {
    clock_.cancel(deadline_timer_);
    deadline_timer_ = 0;
  }
}

void Keepalive::expire() {
  LIFELINE_ASSERT(!dead_);
  deadline_timer_ = 0;
  // mutant: a-silent-peer-is-never-declared-dead
  dead_ = true;
  stop();
  on_dead_();
}

void Keepalive::stop() {
  for (TimerId* t : {&ping_timer_, &deadline_timer_})
    if (*t) {
      clock_.cancel(*t);
      *t = 0;
    }
  LIFELINE_ASSERT(ping_timer_ == 0);
  LIFELINE_ASSERT(deadline_timer_ == 0);
}

}  // namespace lifeline
