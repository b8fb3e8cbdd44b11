// The warm worker pool (docs/DESIGN.md rule 18): up to --worker-pool slash workers are
// started ahead of need, so that a session's first command does not wait for a fork and
// an exec. A pooled worker is a child like any other from its first instant (owned by
// the supervisor, in its own group and containment, on the ledger, holding its
// lifeline); it only names no session yet. A session takes one whole: the worker learns
// its session from a bind message, serves that session alone and ends with it. Never
// reused: a worker that has run one session's commands may hold that session's state.

#include <algorithm>

#include "core/assert.hpp"
#include "core/gateway.hpp"
#include "core/worker_protocol.hpp"

namespace lifeline {

namespace {
constexpr Millis refill_backoff_first = 100;
constexpr Millis refill_backoff_max = 30'000;
}  // namespace

Millis Gateway::refill_backoff() const {
  if (pool_failures_ == 0) return 0;
  Millis delay = refill_backoff_first;
  for (int i = 1; i < pool_failures_ && delay < refill_backoff_max; ++i) delay *= 2;
  return std::min(delay, refill_backoff_max);
}

void Gateway::schedule_refill(Millis delay) {
  if (pool_timer_ != 0 || shutting_down_ || config_.worker_pool == 0) return;
  // Off the critical path: a take answers its command first, the fork comes after.
  pool_timer_ = clock_.after(delay, [this] {
    pool_timer_ = 0;
    refill_pool();
  });
}

void Gateway::refill_pool() {
  if (shutting_down_) return;
  // mutant: the-pool-forgets-spawns-in-flight
  std::int64_t wanted =
      config_.worker_pool - static_cast<std::int64_t>(pool_.size()) - pool_spawning_;
  for (std::int64_t i = 0; i < wanted; ++i) {
    SpawnSpec spec;
    spec.kind = ChildKind::slash;
    spec.argv = {config_.worker_cmd, "--pooled"};
    ++pool_spawning_;
    ++spawns_in_flight_;
    proc_.spawn(spec, [this](const SpawnResult& r) {
      LIFELINE_ASSERT(pool_spawning_ > 0);
      LIFELINE_ASSERT(spawns_in_flight_ > 0);
      --pool_spawning_;
      --spawns_in_flight_;
      on_pool_spawned(r);
      maybe_finish_shutdown();
    });
  }
}

void Gateway::on_pool_spawned(const SpawnResult& r) {
  if (!r.ok) {
    ++counters_.spawn_failures;
    ++pool_failures_;
    log_.write(LogLevel::error, "pooled worker failed to start: " + r.error + "; retrying in " +
                                    std::to_string(refill_backoff()) + " ms");
    schedule_refill(refill_backoff());
    return;
  }
  // Owned from this instant, like any child.
  children_.adopt(ChildInfo{r.child, ChildKind::slash, r.pid, r.pgid, "", "", clock_.wall_now()});
  // mutant: a-pool-spawn-finishing-in-shutdown-is-kept
  if (shutting_down_) {
    terminate_child(r.child);
    return;
  }
  pool_.push_back(r.child);
}

bool Gateway::take_pooled(const SessionPtr& s) {
  while (!pool_.empty()) {
    ChildId child = pool_.front();
    pool_.pop_front();
    schedule_refill(refill_backoff());
    if (!proc_.write(child, worker_protocol::encode_bind(s->key))) {
      log_.write(LogLevel::warn, "session " + s->id + ": binding a pooled worker failed");
      terminate_child(child);
      continue;
    }
    children_.assign(child, s->id);
    pool_failures_ = 0;
    const ChildInfo* info = children_.find(child);
    attach_worker(s, child, info ? info->pid : 0);
    return true;
  }
  return false;
}

bool Gateway::on_pooled_exit(const ChildInfo& info, int status) {
  if (info.kind != ChildKind::slash || !info.session_id.empty()) return false;
  auto it = std::find(pool_.begin(), pool_.end(), info.id);
  // mutant: a-pooled-worker-that-dies-stays-in-the-pool
  if (it != pool_.end()) pool_.erase(it);
  ++pool_failures_;
  log_.write(LogLevel::warn, "pooled worker pid " + std::to_string(info.pid) +
                                 " exited with status " + std::to_string(status) +
                                 " before a session took it; refilling in " +
                                 std::to_string(refill_backoff()) + " ms");
  schedule_refill(refill_backoff());
  return true;
}

void Gateway::drain_pool() {
  if (pool_timer_) clock_.cancel(pool_timer_);
  pool_timer_ = 0;
  // mutant: shutdown-leaves-the-pool-running
  std::deque<ChildId> draining;
  draining.swap(pool_);
  for (ChildId child : draining) terminate_child(child);
}

}  // namespace lifeline
