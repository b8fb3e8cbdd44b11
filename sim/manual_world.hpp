// The smallest simulated world: hand-driven implementations of every core port, with
// the checks a kernel would make (no signal after reap, no double reap, no fd closed
// twice, never the gateway's own group). Unit tests, the rapidcheck model test and the
// dispatch fuzzer drive the core through it; everything is deterministic and nothing
// happens until the driver says so.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/ports.hpp"

namespace lifeline::sim {

// Work the ports owe the core (completions, child exits), run when the driver says.
class TaskQueue {
 public:
  void post(std::function<void()> fn) { tasks_.push_back(std::move(fn)); }
  // Runs queued tasks (and those they queue) until none is left. Returns how many ran.
  std::size_t run_all(std::size_t limit = 1000000);
  bool empty() const { return tasks_.empty(); }

 private:
  std::deque<std::function<void()>> tasks_;
};

class ManualClock final : public Clock {
 public:
  Millis now() const override { return now_; }
  WallMs wall_now() const override { return wall_epoch_ + now_; }
  TimerId after(Millis delay, std::function<void()> fn) override;
  void cancel(TimerId id) override { timers_.erase(id); }

  // Moves time forward by `by`, firing due timers in deadline order (then creation
  // order); `between` runs after each fired timer (e.g. to drain the task queue).
  // Like Asio, all timers expiring at one instant are queued together: cancelling one
  // of them from another's callback does not stop it.
  void advance(Millis by, const std::function<void()>& between = {});
  std::optional<Millis> next_deadline() const;
  std::size_t pending() const { return timers_.size(); }

 private:
  struct Timer {
    Millis deadline;
    std::function<void()> fn;
  };
  Millis now_ = 0;
  WallMs wall_epoch_ = 1'700'000'000'000;
  TimerId next_id_ = 1;
  std::map<TimerId, Timer> timers_;
};

class CountingRandom final : public Random {
 public:
  explicit CountingRandom(std::uint64_t seed = 1) : state_(seed) {}
  std::uint64_t next() override;     // splitmix64, unless a forced value is queued
  std::deque<std::uint64_t> forced;  // e.g. to make an id come round again

 private:
  std::uint64_t state_;
};

class CaptureLog final : public Log {
 public:
  void write(LogLevel level, std::string_view message) override;
  std::vector<std::string> lines;
  bool echo = false;
};

// How a fake child answers signals.
struct ChildBehaviour {
  bool dies_on_hup = true;
  bool dies_on_term = true;
  bool dies_on_kill = true;      // false: stuck in uninterruptible sleep
  bool answers_commands = true;  // a slash worker that replies to every request
};

class FakeProcesses final : public ProcessControl {
 public:
  FakeProcesses(TaskQueue& tasks, int gateway_pgid = 100)
      : tasks_(tasks), gateway_pgid_(gateway_pgid) {}

  struct Child {
    ChildId id = 0;
    SpawnSpec spec;
    int pid = 0;
    int pgid = 0;
    ChildBehaviour behaviour;
    bool exited = false;  // exit delivered to the core
    bool dying = false;   // exit scheduled
    bool reaped = false;
    bool released = false;
    int status = 0;
    std::vector<std::string> writes;
    std::vector<std::pair<Signal, Scope>> signals;
  };
  struct PendingSpawn {
    SpawnSpec spec;
    std::function<void(SpawnResult)> done;
  };

  // ProcessControl.
  void set_events(ProcessEvents* events) override { events_ = events; }
  void spawn(const SpawnSpec& spec, std::function<void(SpawnResult)> done) override;
  void signal(ChildId child, Signal sig, Scope scope) override;
  void reap(ChildId child) override;
  void release(ChildId child) override;
  bool write(ChildId child, std::string_view bytes) override;
  std::int64_t unwritten(ChildId child) const override {
    auto it = unwritten_bytes.find(child);
    return it == unwritten_bytes.end() ? 0 : it->second;
  }
  std::map<ChildId, std::int64_t> unwritten_bytes;  // tests set what a child has not read
  void resize(ChildId child, int cols, int rows) override;
  void pause_output(ChildId child, bool paused) override {
    if (paused)
      output_paused.insert(child);
    else
      output_paused.erase(child);
  }
  std::set<ChildId> output_paused;  // children whose output the core asked to hold
  int gateway_pgid() const override { return gateway_pgid_; }
  std::int64_t open_fds() const override;

  // Driver side.
  std::size_t pending_spawns() const { return pending_.size(); }
  // Completes the oldest pending spawn (success or failure). Returns the child or 0.
  ChildId complete_spawn(bool ok = true, std::string error = "spawn failed: EAGAIN");
  ChildId complete_spawn_at(std::size_t index, bool ok, std::string error = "spawn failed");
  // Makes a child exit on its own (crash, /exit).
  void exit_child(ChildId child, int status);
  // A worker writes bytes to its stdout.
  void child_output(ChildId child, std::string bytes);
  // Answers the newest unanswered request written to a worker.
  void answer(ChildId child, bool ok, std::string text);
  Child* find(ChildId child);
  const std::map<ChildId, Child>& all() const { return children_; }
  std::vector<ChildId> alive() const;  // not yet reaped (running or zombie)
  std::vector<ChildId> unreleased() const;

  ChildBehaviour next_behaviour;
  std::optional<int> next_pgid;  // e.g. the gateway's own group, to test the guard
  bool auto_answer = false;      // workers answer every request with "ok <command>"
  bool fail_writes = false;
  std::vector<std::string> violations;  // what a real kernel would have punished

 private:
  void schedule_exit(Child& c, int status);

  TaskQueue& tasks_;
  int gateway_pgid_;
  ProcessEvents* events_ = nullptr;
  std::deque<PendingSpawn> pending_;
  std::map<ChildId, Child> children_;
  ChildId next_child_ = 1;
  int next_pid_ = 1000;
};

class FakeTransport final : public Transport {
 public:
  void send(ConnId conn, std::string text) override;
  void close(ConnId conn) override { closed.insert(conn); }

  // Every message sent to conn, parsed.
  const std::vector<Json>& sent(ConnId conn) { return outbox[conn]; }
  std::map<ConnId, std::vector<Json>> outbox;
  std::set<ConnId> closed;
};

class FakeStore final : public Store {
 public:
  explicit FakeStore(TaskQueue& tasks) : tasks_(tasks) {}

  void record_start(const SessionRecord& rec, std::function<void(bool)> done) override;
  void record_end(const std::string& session_id, const std::string& reason, WallMs at,
                  std::function<void(bool)> done) override;
  void append(const std::string& session_key, HistoryEntry entry,
              std::function<void(StoreReply<std::int64_t>)> done) override;
  void find_session(const std::string& session_id,
                    std::function<void(StoreReply<std::optional<SessionRecord>>)> done) override;
  void history(const std::string& session_key, const HistoryQuery& query,
               std::function<void(StoreReply<HistoryPage>)> done) override;

  // A shared store (docs/DESIGN.md rule 15), hand-driven: leases and claims answer as
  // the fields below say, and find_session reports `holders` by key.
  bool shared() const override { return shared_mode; }
  void renew_lease(const std::string& instance, Millis ttl,
                   std::function<void(StoreReply<LeaseRenewal>)> done) override;
  void claim(const SessionRecord& rec, const std::optional<std::string>& lost_owner, WallMs at,
             std::function<void(StoreReply<Claim>)> done) override;
  bool shared_mode = false;
  bool hold_renewals = false;  // renewals wait in held_renewals until released
  std::deque<std::function<void()>> held_renewals;
  StoreReply<LeaseRenewal> renewal{true, {true, false}};  // what each renewal answers
  int renewals = 0;
  std::optional<Claim> claim_answer;  // nullopt: the claim wins and records rec
  struct ClaimMade {
    SessionRecord rec;
    std::optional<std::string> lost_owner;
  };
  std::vector<ClaimMade> claims;
  std::map<std::string, SessionHolder> holders;  // by key: what a shared find_session says

  bool fail_writes = false;
  bool fail_reads = false;
  std::map<std::string, SessionRecord> sessions;                     // by session id
  std::map<std::string, std::vector<HistoryEntry>> entries;          // by session key
  std::map<std::string, int> end_records;                            // session id -> times ended
  std::set<std::pair<std::string, std::int64_t>> acknowledged_seqs;  // (key, seq) reported ok

 private:
  TaskQueue& tasks_;
};

// All the ports, wired together.
struct ManualWorld {
  TaskQueue tasks;
  ManualClock clock;
  CountingRandom random;
  CaptureLog log;
  FakeProcesses procs{tasks};
  FakeTransport transport;
  FakeStore store{tasks};

  // Drains the task queue.
  void settle() { tasks.run_all(); }
  // Advances the clock, draining tasks after each timer.
  void advance(Millis by) {
    settle();
    clock.advance(by, [this] { settle(); });
    settle();
  }
};

}  // namespace lifeline::sim
