// The store threads' queue: the event loop submits jobs, one thread takes them in
// batches (group commit: whatever queued while the last batch was being made durable
// shares the next transaction). Used by the SQLite and the PostgreSQL store alike.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/common/stop_and_join.hpp"

namespace lifeline::runtime {

template <typename Job>
class JobQueue {
 public:
  void submit(Job job) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

  // Blocks until a job is queued; empty once stopping and drained (the thread's end).
  std::vector<Job> take(std::size_t max_batch) {
    std::vector<Job> batch;
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    while (!jobs_.empty() && batch.size() < max_batch) {
      batch.push_back(std::move(jobs_.front()));
      jobs_.pop_front();
    }
    return batch;
  }

  // Lets the thread drain what is queued, then joins it. Idempotent.
  void stop_and_join(std::thread& thread) {
    runtime::stop_and_join(mu_, stopping_, {&cv_}, {&thread});
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
};

}  // namespace lifeline::runtime
