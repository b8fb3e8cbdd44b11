// One simulated world: the kernel, the network, the store, the clients and the gateway
// process running the real core, driven by one scheduler from one seed. `run` plays a
// schedule of steps, checks the safety invariants after every event, then stops the
// faults, lets the world settle, checks liveness, disconnects every client, settles
// again and checks that nothing but init and the gateway is left.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "sim/catalogue.hpp"
#include "sim/deadlines.hpp"
#include "sim/kernel.hpp"
#include "sim/network.hpp"
#include "sim/rng.hpp"
#include "sim/scheduler.hpp"
#include "sim/sim_store.hpp"
#include "sim/swarm.hpp"
#include "sim/trace.hpp"

namespace lifeline::sim {

class GatewayProgram;
class SimClient;

// Faults the schedule switched on and that have not been used up yet.
struct FaultState {
  bool active = true;  // false once the world settles: no new fault
  int spawn_failures = 0;
  int spawn_failure_kind = 0;  // 0 EAGAIN, 1 EMFILE
  int slow_spawns = 0;
  Millis slow_spawn_ms = 0;
  int store_write_failures = 0;
  int slow_store_ops = 0;
  Millis slow_store_ms = 0;
};

// What happened, for the report, the bench and the scenarios' own checks.
struct WorldCounters {
  std::int64_t sessions_created = 0;    // acknowledged to a client
  std::int64_t sessions_finalized = 0;  // over every gateway incarnation
  std::int64_t spawns_after_close = 0;  // a spawn completed for a session no longer mapped
  std::int64_t gateway_kills = 0;
  std::int64_t gateway_restarts = 0;
  std::int64_t orphaned_workers = 0;   // workers that noticed their gateway's death
  std::int64_t lifeline_at_start = 0;  // ... before their first instruction
  std::int64_t strays_killed = 0;
  std::int64_t keepalive_drops = 0;
  std::int64_t acks_checked = 0;       // stored entries a client was told about
  std::int64_t grace_rearms_seen = 0;  // busy sessions still detached at a grace expiry
  std::int64_t resumes_ok = 0;
  std::int64_t pid_reuses = 0;            // a pid handed out again within the run
  std::int64_t false_orphan_checks = 0;   // watchdog polls that read a zero start time
  std::int64_t takeovers_seen = 0;        // session.taken_over events clients received
  std::int64_t stale_requests = 0;        // ... and requests a client sent on one after it
  std::int64_t stale_refused = 0;         // ... refused as taken over (4009)
  std::int64_t reattaches_checked = 0;    // pty.attach answers checked against what was drawn
  std::int64_t histories_paged = 0;       // histories paged to their oldest entry and checked
  std::int64_t bystanders_started = 0;    // other users' programs started on the host
  std::int64_t backpressure_pauses = 0;   // connections that passed half their unsent bound
  std::int64_t slow_readers_dropped = 0;  // ... and the whole of it
};

struct RunResult {
  bool ok = true;
  std::string invariant;  // which one failed
  std::string detail;     // the objects involved
  std::uint64_t event_index = 0;
  Millis at = 0;
  std::uint64_t events = 0;
  std::uint64_t hash = 0;
  Millis sim_time = 0;
  WorldCounters counters;
  std::vector<std::string> recent;  // the trace lines before the failure
};

struct WorldOptions {
  std::ostream* trace_out = nullptr;
  bool keep_hashes = false;
  bool keep_recent = true;
  // Scenario hooks: extra safety/liveness checks (empty string: holds).
  std::function<std::string(const class World&)> extra_safety;
  std::function<std::string(const class World&)> extra_final;
};

class World {
 public:
  World(std::uint64_t seed, SwarmConfig config, WorldOptions options = {});
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  RunResult run(const std::vector<Step>& steps);

  // Shared by every part of the world: the entry of the catalogue (sim/catalogue.hpp)
  // that was broken, and how.
  void violate(Inv invariant, std::string detail);
  void trace(std::string_view event, std::string_view fields = {}) {
    trace_.add(sched.now(), event, fields);
  }
  void note(std::string_view who, std::string_view text) { trace_.note(sched.now(), who, text); }
  bool tracing_notes() const { return trace_.writing() || trace_.keep_recent; }
  GatewayProgram* gateway() const;  // the live gateway program, or nullptr
  int gateway_pid() const { return gateway_pid_; }
  Incarnation gateway_inc() const { return gateway_inc_; }

  const std::uint64_t seed;
  const SwarmConfig config;
  Scheduler sched;
  Kernel kernel;
  Rng rng;
  FaultState faults;
  WorldCounters counters;
  SimStore store;
  SimNetwork net;
  Deadlines deadlines{*this};
  std::vector<std::unique_ptr<SimClient>> clients;
  ChildId next_child = 1;  // ChildIds are never reused, across gateway incarnations too
  // Every session id any client ever saw, in order, and its key: resume candidates.
  std::vector<std::string> session_ids;
  std::map<std::string, std::string> session_keys;

 private:
  void boot_gateway();
  void on_process_exit(const Process& p, Program* program);
  void execute(const Step& step);
  void start_bystanders(int count, bool own_session);
  void check_safety();
  void check_settled(bool drained);
  void settle(Millis until);
  Millis settle_window() const;

  WorldOptions options_;
  CatalogueMemo memo_;  // the per-event checks' memory (sim/catalogue.hpp)
  Trace trace_;
  int gateway_pid_ = 0;
  Incarnation gateway_inc_ = 0;
  Millis restart_delay_ = 0;
  bool restart_pending_ = false;
  bool failed_ = false;
  RunResult result_;
};

}  // namespace lifeline::sim
