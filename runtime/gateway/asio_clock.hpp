// Clock over an Asio io_context: one steady_timer per armed timer.
#pragma once

#include <map>
#include <memory>

#include "core/ports.hpp"
#include "runtime/gateway/io.hpp"

namespace lifeline::runtime {

class AsioClock final : public Clock {
 public:
  explicit AsioClock(asio::io_context& io) : io_(io) {}
  ~AsioClock() override;
  Millis now() const override;
  WallMs wall_now() const override;
  TimerId after(Millis delay, std::function<void()> fn) override;
  void cancel(TimerId id) override;

 private:
  asio::io_context& io_;
  std::map<TimerId, std::unique_ptr<asio::steady_timer>> timers_;
  TimerId next_id_ = 1;
};

}  // namespace lifeline::runtime
