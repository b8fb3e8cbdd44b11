// Owns every child process of the gateway from spawn completion to reap, and runs the
// escalation ladder of docs/DESIGN.md rule 6: signal the whole group HUP -> TERM -> KILL with
// bounded waits; once the exit is observed, KILL what is left of the group (the zombie
// leader still reserves the group id, so the id cannot have been reused), then reap,
// then close every fd held for the child. A child leaves this table only after all
// three, so a reaped child can never be signalled and no fd is closed twice.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/latency_histogram.hpp"
#include "core/ports.hpp"

namespace lifeline {

struct ChildInfo {
  ChildId id = 0;
  ChildKind kind = ChildKind::slash;
  int pid = 0;
  int pgid = 0;
  std::string session_id;
  std::string pty_id;  // pty children only
  WallMs started_at = 0;
};

class ChildSupervisor {
 public:
  ChildSupervisor(ProcessControl& proc, Clock& clock, Log& log, const GatewayConfig& config);
  ChildSupervisor(const ChildSupervisor&) = delete;
  ChildSupervisor& operator=(const ChildSupervisor&) = delete;
  ~ChildSupervisor();

  void adopt(ChildInfo info);
  // A pooled worker (session "") is taken by a session: the one change of owner a child
  // ever sees (docs/DESIGN.md rule 18).
  void assign(ChildId id, const std::string& session_id);
  const ChildInfo* find(ChildId id) const;
  bool terminating(ChildId id) const;

  // Starts (or joins) the escalation. done fires once the child is reaped and released.
  // Idempotent: a second call never sends a second ladder of signals.
  void terminate(ChildId id, std::function<void()> done = {});

  // What an observed exit meant for the child's entry.
  enum class ExitOutcome {
    // A termination we started has now finished: reaped, released, gone from the table.
    termination_finished,
    // The child died on its own: it stays in the table, unreaped, until the caller
    // decides and calls terminate() to clean up.
    died_on_its_own,
    // A second report of an exit already known (a shell that reports twice): nothing
    // new happened, and the caller must not act on it again.
    exit_already_known,
    // No such child (already gone): nothing to do.
    unknown_child,
  };
  ExitOutcome on_exit(ChildId id, int status);

  std::vector<ChildInfo> list() const;
  // f(info, terminating) for every child, without copying (the simulator's checks).
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& [id, e] : children_) f(e.info, e.stage != Stage::none);
  }
  std::size_t count(ChildKind kind) const;
  std::size_t size() const { return children_.size(); }
  // From terminate() to reaped and released, per child: what a teardown costs.
  const LatencyHistogram& termination_latency() const { return termination_latency_; }

 private:
  enum class Stage { none, hup, term, kill };
  struct Entry {
    ChildInfo info;
    Stage stage = Stage::none;
    bool exited = false;
    bool warned_unkillable = false;
    TimerId timer = 0;
    Millis terminate_started = 0;
    std::vector<std::function<void()>> on_gone;
  };

  void send(Entry& e, Signal sig);
  void escalate(ChildId id);
  void finish(ChildId id);

  ProcessControl& proc_;
  Clock& clock_;
  Log& log_;
  const GatewayConfig& config_;
  std::map<ChildId, Entry> children_;
  LatencyHistogram termination_latency_;
};

}  // namespace lifeline
