// The one way a runtime thread that sleeps on condition variables is stopped. Used by
// the spawner (process control), the store thread and the stdio reader/writer.
#pragma once

#include <condition_variable>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <thread>

namespace lifeline::runtime {

// Raises `stopping` under `mu` (so the wake-up cannot fall between a waiter's check and
// its wait), wakes every waiter of `wake`, runs `nudge` for waiters that sleep in
// something other than a condition variable (a poll on a wake pipe), then joins each
// thread that was started. Idempotent.
inline void stop_and_join(std::mutex& mu, bool& stopping,
                          std::initializer_list<std::condition_variable*> wake,
                          std::initializer_list<std::thread*> threads,
                          const std::function<void()>& nudge = {}) {
  {
    std::lock_guard lock(mu);
    stopping = true;
  }
  for (auto* cv : wake) cv->notify_all();
  if (nudge) nudge();
  for (auto* t : threads)
    if (t->joinable()) t->join();
}

}  // namespace lifeline::runtime
