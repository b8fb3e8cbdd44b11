// Half-open detection (docs/DESIGN.md rule 4) as a pure state machine: ping every interval,
// and if nothing at all arrives within the timeout after a ping, the peer is dead.
// Any inbound traffic counts as liveness (a busy client that sends data but is slow
// to pong is alive: the historical bug dropped such clients with a false 1006).
// A silent peer is declared dead within interval + timeout.
#pragma once

#include <functional>
#include <memory>

#include "core/ports.hpp"

namespace lifeline {

class Keepalive {
 public:
  Keepalive(Clock& clock, Millis interval, Millis timeout, std::function<void()> send_ping,
            std::function<void()> on_dead);
  Keepalive(const Keepalive&) = delete;
  Keepalive& operator=(const Keepalive&) = delete;
  ~Keepalive() { stop(); }

  void start();
  void on_activity();  // any inbound frame, pongs included
  void stop();
  bool dead() const { return dead_; }

 private:
  void tick();
  void expire();

  Clock& clock_;
  Millis interval_;
  Millis timeout_;
  std::function<void()> send_ping_;
  std::function<void()> on_dead_;
  TimerId ping_timer_ = 0;
  TimerId deadline_timer_ = 0;
  bool dead_ = false;
  // The Clock port lets a cancelled timer that was already due still fire: each
  // callback holds this weakly and the id it was armed as, and does nothing once the
  // Keepalive is gone or the timer was cancelled or replaced (found by simrun with a
  // 20 ms ping interval: a link dropped in the instant its ping was due).
  std::shared_ptr<Keepalive*> self_ = std::make_shared<Keepalive*>(this);
  template <typename F>
  TimerId arm(Millis delay, TimerId Keepalive::*slot, F f);
};

}  // namespace lifeline
