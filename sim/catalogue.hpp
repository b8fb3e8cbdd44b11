// docs/DESIGN.md's invariant catalogue as one table in code: each entry has a name, the
// DESIGN rule it comes from, when it is checked and, for the state checks, the check.
// simrun's World and the unit tests' ManualWorld both run the same table, each through
// a WorldView over its own world; an entry whose facts a world does not have (only the
// full simulator has clients, a kernel's cgroups or timers that run out) holds there
// vacuously, and says so through the view. Checks made where their event happens (a
// reply counted by a client, a signal judged by the kernel, a per-obligation deadline)
// are entries too, without a state check: every violation the simulator reports names
// an entry of this table (World::violate asserts it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/gateway.hpp"

namespace lifeline::sim {

enum class CheckedWhen {
  every_event,      // safety: after every event
  settled,          // liveness: after faults stopped and the world settled
  drained,          // after every client left and the world settled again
  at_event,         // where its event happens (see `site`)
  deadline,         // per obligation, from the event that starts it (see `site`)
  by_construction,  // no world can break it: the build refuses the code (see `site`)
};
std::string_view to_string(CheckedWhen when);

// A child the process port handed to the core and has not released yet.
struct ChildFact {
  ChildId id = 0;
  int pid = 0;
  std::string_view session_id;
  bool exited = false;  // its exit was reported to the core
  bool reaped = false;
  std::size_t fds = 0;  // gateway-side fds it still holds
  bool in_cgroup = false;
  bool output_paused = false;  // the core asked its port to hold its terminal output
};

// A process of the machine other than init and the gateway itself.
struct ProcessFact {
  int pid = 0;
  std::string_view name;
  ChildId origin = 0;  // the gateway child whose tree it is
  bool zombie = false;
};

// What a client believes: the sessions it holds, and those it was given on the
// connection it holds now.
struct ClientFact {
  ConnId conn = 0;
  std::span<const std::string> held;
  std::span<const std::string> held_here;
  std::size_t unanswered = 0;  // requests sent on `conn` and not answered
  std::string_view oldest_unanswered;
};

struct AckFact {
  std::string_view key;
  std::int64_t seq = 0;
  bool durable = false;
};

// What the per-event checks remember between events of one world, to skip work whose
// inputs did not change (the registry's membership, the store's end requests).
struct CatalogueMemo {
  std::uint64_t registry_size = ~0ULL, registry_seq_sum = 0;  // membership, see below
  std::uint64_t store_ends = ~0ULL;
  bool listing_checked = false;   // sessions() was checked for this membership
  bool registry_checked = false;  // the store-registry check ran for it and these ends
  // The session each slash worker of this core was first seen serving (rule 18: it
  // serves no other, ever). Entries leave with their child.
  std::map<ChildId, std::string> served;
};

class WorldView {
 public:
  virtual ~WorldView() = default;
  virtual const Gateway* core() const = 0;  // the core serving now, or nullptr
  // The core of a gateway shutting down (SIGTERM), or nullptr: core() is null then, so
  // that the checks of a serving gateway hold vacuously; the shutdown's own checks use it.
  virtual const Gateway* stopping_core() const { return nullptr; }
  // What the kernel (or the fake process port) punished: a signal to a reaped child,
  // a reap before exit, an fd closed twice.
  virtual std::span<const std::string> kernel_violations() const = 0;
  // Signals that reached a process not the gateway's (simrun's bystanders).
  virtual std::span<const std::string> bystander_harm() const { return {}; }
  virtual void for_each_child(const std::function<void(const ChildFact&)>& fn) const = 0;
  virtual std::optional<ChildFact> child(ChildId id) const = 0;
  virtual void for_each_process(const std::function<void(const ProcessFact&)>& fn) const = 0;
  // Store: how many times a session's end was asked of it.
  virtual int end_requests(const std::string& session_id) const = 0;
  virtual int end_requests_max() const = 0;
  // The store holds (or was asked to hold) an end for the newest session of this id.
  virtual bool ended_in_store(const std::string& session_id) const {
    return end_requests(session_id) > 0;
  }
  virtual void for_each_end_request(
      const std::function<void(const std::string&, int)>& fn) const = 0;
  virtual void for_each_ack(const std::function<void(const AckFact&)>& fn) const = 0;
  virtual std::size_t store_pending() const = 0;
  // The memo of this world (nullptr: check everything every time) and the store's
  // count of end requests so far.
  virtual CatalogueMemo* memo() const { return nullptr; }
  virtual std::uint64_t end_requests_total() const { return 0; }
  // Facts only the full simulator has; the defaults say "not modelled here".
  virtual void for_each_client(const std::function<void(const ClientFact&)>&) const {}
  virtual bool timers_ran_out() const { return false; }  // settling ran every timer out
  struct Fds {
    std::size_t open = 0, baseline = 0, connections = 0;
  };
  virtual std::optional<Fds> gateway_fds() const { return std::nullopt; }
  virtual std::optional<std::size_t> cgroups() const { return std::nullopt; }
  // The connection's unsent bytes are above half their bound, as its shell counts them
  // (nullopt: not modelled here, or no such connection).
  virtual std::optional<bool> backed_up(ConnId) const { return std::nullopt; }
};

// One id per catalogue entry, in the table's order (sim/catalogue.cpp checks both at
// compile time): every report names its entry by id, so a misspelt one does not build.
enum class Inv : std::uint8_t {
  kernel_rules,
  no_signal_reaches_a_bystander,
  finalized_at_most_once,
  a_worker_serves_at_most_one_session_ever,
  the_pool_never_exceeds_its_size,
  pooled_workers_are_live_and_owned,
  nothing_is_pooled_after_shutdown_begins,
  every_child_is_owned,
  active_list_is_the_live_set,
  the_store_and_the_registry_agree,
  worker_handles_are_live,
  close_on_disconnect_sessions_end_with_their_connection,
  disconnect_and_resume_never_both_win,
  terminals_pause_while_their_client_is_backed_up,
  a_queued_command_always_has_a_worker_on_its_way,
  terminal_replay_stays_within_its_bound,
  no_signal_to_another_incarnation,
  never_the_gateways_own_group,
  exit_observed_before_reap,
  fds_closed_after_reap,
  worker_holds_only_its_own_fds_0_3,
  an_orphaned_worker_takes_its_containment_with_it,
  no_false_orphan_verdict,
  end_reasons_agree_with_state,
  no_false_keepalive_drop,
  gateway_speaks_json_rpc,
  one_reply_per_request,
  commands_run_in_the_order_they_were_sent,
  history_pages_hold_every_entry_once,
  a_reattached_client_sees_a_suffix_of_the_output,
  after_a_timeout_the_next_command_never_waits_behind_the_stuck_one,
  a_takeover_revokes_the_former_holder,
  a_torn_down_childs_tree_is_gone_within_the_escalation_ladder,
  an_orphaned_workers_tree_is_gone_within_poll_grace,
  an_orphaned_terminals_tree_is_gone_at_once,
  a_detached_session_ends_or_resumes_within_the_grace,
  a_silent_peer_is_dropped_within_ping_interval_timeout,
  shutdown_completes_within_its_deadline,
  liveness,
  teardowns_finish,
  no_zombies,
  no_leaked_process,
  a_bound_client_is_told_of_its_sessions_takeover,
  a_bound_client_is_told_of_its_sessions_end,
  every_request_is_answered,
  no_leaked_session,
  gateway_fds_back_to_baseline,
  no_leaked_cgroup,
  store_queue_drains,
  acknowledged_means_durable,
  no_blocking_work_on_the_cores_thread,
  at_most_one_live_session_per_history_across_the_fleet,
  a_gateway_never_serves_a_session_whose_lease_it_lost,
  no_acknowledged_entry_is_lost_across_a_claim,
  a_lost_instances_sessions_are_ended_exactly_once,
  scenario_invariant,
  scenario_expectation,
  count
};

struct Invariant {
  Inv id;
  std::string_view name;
  std::string_view rule;  // docs/DESIGN.md: "rule N" or the "Invariants" bullet it states
  CheckedWhen when;
  std::string_view site;  // for at_event and deadline entries: where it is checked
  // For every_event, settled and drained entries: one line per violation, or none.
  // `drained`: every client has left (the settled checks are stricter then).
  void (*check)(const WorldView&, bool drained, std::vector<std::string>& out) = nullptr;
};

std::span<const Invariant> catalogue();
const Invariant& invariant(Inv id);

struct Violation {
  const Invariant* invariant = nullptr;
  std::string detail;
};
// Runs the table's entries for one moment; `first_only` stops at the first violation
// (simrun's world reports one), otherwise every violation is returned.
std::vector<Violation> run_catalogue(const WorldView& view, CheckedWhen when, bool first_only);

// The child is the worker or a PTY of a session that is still live, or a worker waiting
// in the pool (rule 18): the one rule of ownership every check of the catalogue applies.
bool owned_by_live_session(const Gateway& gw, const ChildInfo& c);

// docs/DESIGN.md's end-reason oracle, at the moment a teardown starts: a session whose
// client is connected ends only by client_close, shutdown or lease_lost (so a resumed one never by
// orphan_grace); a busy one never by idle_timeout or lru_evict. "" when consistent.
std::string check_end_reason(const Session& s, EndReason reason, bool client_connected);

}  // namespace lifeline::sim
