#include "sim/catalogue.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <set>

namespace lifeline::sim {

std::string_view to_string(CheckedWhen when) {
  switch (when) {
    case CheckedWhen::every_event:
      return "every event";
    case CheckedWhen::settled:
      return "settled";
    case CheckedWhen::drained:
      return "drained";
    case CheckedWhen::at_event:
      return "at its event";
    case CheckedWhen::deadline:
      return "deadline";
    case CheckedWhen::by_construction:
      return "by construction";
  }
  return "?";
}

namespace {
bool pooled(const Gateway& gw, ChildId id) {
  const auto& pool = gw.pooled();
  return std::find(pool.begin(), pool.end(), id) != pool.end();
}
}  // namespace

bool owned_by_live_session(const Gateway& gw, const ChildInfo& c) {
  if (c.session_id.empty()) return c.kind == ChildKind::slash && pooled(gw, c.id);
  SessionPtr s = gw.find_session(c.session_id);
  if (!s || s->finalized) return false;
  if (c.kind == ChildKind::slash) return s->worker == c.id;
  auto it = s->ptys.find(c.pty_id);
  return it != s->ptys.end() && it->second == c.id;
}

std::string check_end_reason(const Session& s, EndReason reason, bool client_connected) {
  // A lapsed lease (rule 15) ends every session, held or not: the gateway may serve none.
  if (client_connected && reason != EndReason::client_close && reason != EndReason::shutdown &&
      reason != EndReason::lease_lost)
    return "session " + s.id + " ended by " + to_string(reason) + " while its client is connected";
  if (s.busy() && (reason == EndReason::idle_timeout || reason == EndReason::lru_evict))
    return "busy session " + s.id + " ended by " + to_string(reason);
  return "";
}

namespace {

using Out = std::vector<std::string>;

const char* phase(bool drained) {
  return drained ? "after every client left" : "after faults stopped";
}
std::string pid_str(int pid) {
  return std::to_string(pid);
}

// ------------------------------------------------------------ after every event

void kernel_rules(const WorldView& v, bool, Out& out) {
  for (const auto& k : v.kernel_violations()) out.push_back(k);
}

// Harm: other users' programs share the host and its PID space, and take over the PIDs
// and group ids lifeline's children leave behind (before and after a gateway restart).
// Lifeline may signal only what it started, counted by incarnation, never a bare number.
void no_harm_to_bystanders(const WorldView& v, bool, Out& out) {
  for (const auto& h : v.bystander_harm()) out.push_back(h);
}

void finalized_once(const WorldView& v, bool, Out& out) {
  if (v.end_requests_max() <= 1) return;
  v.for_each_end_request([&](const std::string& id, int n) {
    if (n > 1)
      out.push_back("session " + id + " had its end stored " + std::to_string(n) + " times");
  });
}

void every_child_owned(const WorldView& v, bool, Out& out) {
  const Gateway* gw = v.core();
  if (!gw) return;
  const ChildSupervisor& sup = gw->children();
  v.for_each_child([&](const ChildFact& c) {
    if (!sup.find(c.id))
      out.push_back("child pid " + pid_str(c.pid) + " of session " + std::string(c.session_id) +
                    " is owned by neither a session nor a teardown in progress");
  });
  sup.for_each([&](const ChildInfo& info, bool terminating) {
    if (!terminating && !owned_by_live_session(*gw, info))
      out.push_back("child pid " + pid_str(info.pid) + " of session " + info.session_id +
                    " is tracked but owned by no live session and not being torn down");
  });
}

void worker_handles_live(const WorldView& v, bool, Out& out) {
  const Gateway* gw = v.core();
  if (!gw) return;
  for (const auto& [id, s] : gw->registry()) {
    if (!s->worker) continue;
    std::optional<ChildFact> c = v.child(*s->worker);
    if (!c || c->reaped || !gw->children().find(*s->worker))
      out.push_back("session " + id + " holds a handle to reaped or unknown child " +
                    (c ? pid_str(c->pid) : std::string("?")));
  }
}

// The registry's membership changed since the memo last saw it? Session seqs only grow,
// so (count, sum of seqs) tells any change of membership: with the count unchanged,
// every session added has a larger seq than every one removed.
bool membership_changed(const Gateway& gw, CatalogueMemo* memo) {
  if (!memo) return true;
  std::uint64_t sum = 0;
  for (const auto& [id, s] : gw.registry()) sum += s->seq;
  if (memo->registry_size == gw.registry().size() && memo->registry_seq_sum == sum) return false;
  memo->registry_size = gw.registry().size();
  memo->registry_seq_sum = sum;
  memo->listing_checked = memo->registry_checked = false;
  return true;
}

void active_list_is_live_set(const WorldView& v, bool, Out& out) {
  const Gateway* gw = v.core();
  if (!gw) return;
  for (const auto& [id, s] : gw->registry())
    if (s->finalized) out.push_back("finalized session " + id + " is listed");
  CatalogueMemo* memo = v.memo();
  membership_changed(*gw, memo);
  if (memo && memo->listing_checked) return;  // the listing is a function of membership
  if (memo) memo->listing_checked = true;
  // sessions() is ordered by creation: a session listed twice shows up as neighbours.
  std::vector<SessionPtr> listed = gw->sessions();
  for (std::size_t i = 1; i < listed.size(); ++i)
    if (listed[i]->seq == listed[i - 1]->seq)
      out.push_back("session " + listed[i]->id + " is listed twice");
  if (listed.size() != gw->registry().size())
    out.push_back(std::to_string(listed.size()) + " sessions are listed, " +
                  std::to_string(gw->registry().size()) + " are live");
}

void store_agrees_with_registry(const WorldView& v, bool, Out& out) {
  const Gateway* gw = v.core();
  if (!gw) return;
  // Both halves depend only on the membership (a session's key never changes) and on
  // the store's end requests.
  CatalogueMemo* memo = v.memo();
  membership_changed(*gw, memo);
  if (memo && memo->registry_checked && memo->store_ends == v.end_requests_total()) return;
  if (memo) {
    memo->registry_checked = true;
    memo->store_ends = v.end_requests_total();
  }
  thread_local std::vector<std::pair<std::string_view, std::string_view>> keys;  // (key, id)
  keys.clear();
  for (const auto& [id, s] : gw->registry()) {
    if (v.ended_in_store(id))
      out.push_back("session " + id + " is live, but its end was sent to the store");
    keys.emplace_back(s->key, id);
  }
  std::sort(keys.begin(), keys.end());
  for (std::size_t i = 1; i < keys.size(); ++i)
    if (keys[i].first == keys[i - 1].first)
      out.push_back("history " + std::string(keys[i].first) +
                    " is continued by two live sessions, " + std::string(keys[i - 1].second) +
                    " and " + std::string(keys[i].second));
}

void close_on_disconnect_ends(const WorldView& v, bool, Out& out) {
  const Gateway* gw = v.core();
  if (!gw) return;
  for (const auto& [id, s] : gw->registry())
    if (!s->conn && s->close_on_disconnect)
      out.push_back("session " + id + " outlived its connection (detached instead of torn down)");
}

void disconnect_resume_one_winner(const WorldView& v, bool, Out& out) {
  const Gateway* gw = v.core();
  if (!gw) return;
  for (const auto& [id, s] : gw->registry())
    if (s->conn && !gw->connected(*s->conn))
      out.push_back("session " + id + " is bound to connection " + std::to_string(*s->conn) +
                    ", which is gone");
}

// Rule 12: the terminals of a session pause while its client is backed up (the shell's
// unsent bytes above half the bound) and run otherwise, detached sessions included.
void terminals_pause_with_their_client(const WorldView& v, bool, Out& out) {
  const Gateway* gw = v.core();
  if (!gw) return;
  for (const auto& [id, s] : gw->registry()) {
    if (s->ptys.empty()) continue;
    std::optional<bool> backed = s->conn ? v.backed_up(*s->conn) : std::optional<bool>(false);
    if (!backed) continue;  // not modelled by this world, or the link is going away
    for (const auto& [pty_id, child] : s->ptys) {
      std::optional<ChildFact> c = v.child(child);
      if (!c || c->exited || c->reaped || c->output_paused == *backed) continue;
      std::string line = "terminal " + pty_id;
      line += " of session ";
      line += id;
      line += c->output_paused ? " is paused" : " is running";
      line += *backed ? " while its client is backed up" : " while its client is not backed up";
      out.push_back(std::move(line));
    }
  }
}

// The command queue's liveness: a session with commands waiting has one running, or a
// worker on its way to run them. A queue left with neither waits until the client sends
// another command, or forever (a stuck worker dropped, a worker that died, a spawn that
// failed, and nobody started the next one).
void queued_commands_have_a_worker(const WorldView& v, bool, Out& out) {
  const Gateway* gw = v.core();
  if (!gw) return;
  for (const auto& [id, s] : gw->registry()) {
    if (s->finalized || s->queue.empty() || s->in_flight || s->spawn_ticket != 0) continue;
    out.push_back("session " + id + " has " + std::to_string(s->queue.size()) +
                  " queued commands, none running and no worker " +
                  (s->worker ? "given one" : "starting"));
  }
}

// ------------------------------------------------------------ the warm pool (rule 18)

// A worker serves one session, ever: once seen serving one, it is never seen pooled
// again, nor serving another.
void one_session_per_worker(const WorldView& v, bool, Out& out) {
  const Gateway* gw = v.core();
  CatalogueMemo* memo = v.memo();
  if (!gw || !memo) return;
  const ChildSupervisor& sup = gw->children();
  std::erase_if(memo->served, [&](const auto& e) { return sup.find(e.first) == nullptr; });
  sup.for_each([&](const ChildInfo& info, bool) {
    if (info.kind != ChildKind::slash) return;
    auto seen = memo->served.find(info.id);
    if (info.session_id.empty()) {
      if (seen != memo->served.end())
        out.push_back("worker pid " + pid_str(info.pid) + " served session " + seen->second +
                      " and names no session now (back in the pool)");
      return;
    }
    if (seen == memo->served.end()) {
      memo->served.emplace(info.id, info.session_id);
    } else if (seen->second != info.session_id) {
      out.push_back("worker pid " + pid_str(info.pid) + " served session " + seen->second +
                    " and now serves session " + info.session_id);
    }
  });
  for (ChildId id : gw->pooled())
    if (auto seen = memo->served.find(id); seen != memo->served.end())
      out.push_back("pooled worker " + std::to_string(id) + " served session " + seen->second);
}

// Counted from the children, not from the pool's own list: a worker that names no
// session and is not being torn down is pooled, whatever the pool believes.
void pool_within_its_size(const WorldView& v, bool, Out& out) {
  const Gateway* gw = v.core();
  if (!gw) return;
  std::int64_t waiting = 0;
  gw->children().for_each([&](const ChildInfo& info, bool terminating) {
    waiting += info.kind == ChildKind::slash && info.session_id.empty() && !terminating;
  });
  if (waiting > gw->config().worker_pool)
    out.push_back(std::to_string(waiting) + " workers wait in the pool, over --worker-pool " +
                  std::to_string(gw->config().worker_pool));
}

// What the pool offers is a live child of ours: owned by the supervisor, naming no
// session, not being torn down, not exited, not reaped.
void pooled_live_and_owned(const WorldView& v, bool, Out& out) {
  const Gateway* gw = v.core();
  if (!gw) return;
  for (ChildId id : gw->pooled()) {
    const ChildInfo* info = gw->children().find(id);
    std::optional<ChildFact> fact = v.child(id);
    std::string what = "pooled worker " + std::to_string(id);
    if (!info || !fact)
      out.push_back(what + " is not a child the gateway holds");
    else if (!info->session_id.empty())
      out.push_back(what + " (pid " + pid_str(info->pid) + ") names session " + info->session_id);
    else if (gw->children().terminating(id) || fact->exited || fact->reaped)
      out.push_back(what + " (pid " + pid_str(info->pid) + ") is " +
                    (fact->exited ? "dead" : "being torn down") + " and still offered");
  }
}

void nothing_pooled_in_shutdown(const WorldView& v, bool, Out& out) {
  const Gateway* gw = v.core() ? v.core() : v.stopping_core();
  if (!gw || !gw->shutting_down()) return;
  if (!gw->pooled().empty())
    out.push_back(std::to_string(gw->pooled().size()) + " workers still pooled during shutdown");
  gw->children().for_each([&](const ChildInfo& info, bool terminating) {
    if (info.kind == ChildKind::slash && info.session_id.empty() && !terminating)
      out.push_back("worker pid " + pid_str(info.pid) +
                    " waits for a session during shutdown, not torn down");
  });
}

// Rule 16: a terminal's replay ring holds at most its bound, and the exited terminals
// kept for a later attach are at most --max-ptys in all.
void terminal_replay_bounded(const WorldView& v, bool, Out& out) {
  const Gateway* gw = v.core();
  if (!gw) return;
  std::int64_t exited = 0;
  for (const auto& [id, s] : gw->registry()) {
    for (const auto& [pty_id, t] : s->terminals) {
      if (t.exit_status) ++exited;
      // The bound is --pty-replay-bytes as it was when the terminal opened.
      if (t.ring.size() <= t.ring.capacity()) continue;
      std::string line = "terminal " + pty_id;
      line += " of session " + id;
      line += " keeps " + std::to_string(t.ring.size());
      line += " bytes, over its bound of " + std::to_string(t.ring.capacity());
      out.push_back(std::move(line));
    }
  }
  if (exited > gw->config().max_ptys)
    out.push_back(std::to_string(exited) + " exited terminals kept, over --max-ptys " +
                  std::to_string(gw->config().max_ptys));
}

// ------------------------------------------------------------ after settling

void serving(const WorldView& v, bool drained, Out& out) {
  if (!v.core()) out.push_back(std::string(phase(drained)) + ", no gateway is serving");
}

void no_zombies(const WorldView& v, bool drained, Out& out) {
  v.for_each_process([&](const ProcessFact& p) {
    if (p.zombie)
      out.push_back(std::string(phase(drained)) + ", pid " + pid_str(p.pid) + " (" +
                    std::string(p.name) + ") is an unreaped zombie");
  });
}

void no_leaked_process(const WorldView& v, bool drained, Out& out) {
  const Gateway* gw = v.core();
  if (!gw) return;
  v.for_each_process([&](const ProcessFact& p) {
    if (p.zombie) return;
    const ChildInfo* owner = gw->children().find(p.origin);
    // Once every client left, only the pool's workers remain (rule 18).
    bool waiting_in_pool = owner && owner->session_id.empty() && pooled(*gw, owner->id);
    if ((drained && !waiting_in_pool) || !owner || !owned_by_live_session(*gw, *owner))
      out.push_back(std::string(phase(drained)) + ", pid " + pid_str(p.pid) + " (" +
                    std::string(p.name) + ", child " + std::to_string(p.origin) +
                    ") is alive with no live owner");
  });
}

void teardowns_finish(const WorldView& v, bool drained, Out& out) {
  const Gateway* gw = v.core();
  if (!gw) return;
  gw->children().for_each([&](const ChildInfo& info, bool terminating) {
    if (terminating)
      out.push_back(std::string(phase(drained)) + ", the teardown of pid " + pid_str(info.pid) +
                    " is unfinished");
  });
}

void told_of_takeover(const WorldView& v, bool drained, Out& out) {
  const Gateway* gw = v.core();
  if (!gw) return;
  v.for_each_client([&](const ClientFact& c) {
    if (c.conn == 0 || !gw->connected(c.conn)) return;
    for (const auto& id : c.held) {
      SessionPtr s = gw->find_session(id);
      if (s && s->conn && *s->conn != c.conn)
        out.push_back(std::string(phase(drained)) + ", client on connection " +
                      std::to_string(c.conn) + " still believes it holds session " + id +
                      ", now bound to connection " + std::to_string(*s->conn));
    }
  });
}

void told_of_end(const WorldView& v, bool drained, Out& out) {
  const Gateway* gw = v.core();
  if (!gw) return;
  v.for_each_client([&](const ClientFact& c) {
    if (c.conn == 0 || !gw->connected(c.conn)) return;
    for (const auto& id : c.held_here)
      if (!gw->find_session(id))
        out.push_back(std::string(phase(drained)) + ", client on connection " +
                      std::to_string(c.conn) + " still believes it holds session " + id +
                      ", which has ended");
  });
}

void every_request_answered(const WorldView& v, bool drained, Out& out) {
  const Gateway* gw = v.core();
  if (!gw) return;
  v.for_each_client([&](const ClientFact& c) {
    if (c.conn != 0 && gw->connected(c.conn) && c.unanswered > 0)
      out.push_back(std::string(phase(drained)) + ", a client on connection " +
                    std::to_string(c.conn) + " still waits for " + std::to_string(c.unanswered) +
                    " replies (the oldest to " + std::string(c.oldest_unanswered) + ")");
  });
}

void no_leaked_session(const WorldView& v, bool drained, Out& out) {
  const Gateway* gw = v.core();
  if (!gw || !drained) return;
  for (const auto& s : gw->sessions())
    out.push_back(std::string(phase(drained)) + ", session " + s->id + " is still live");
}

void fds_back_to_baseline(const WorldView& v, bool drained, Out& out) {
  std::optional<WorldView::Fds> fds = v.gateway_fds();
  if (!fds) return;
  std::size_t expected = fds->baseline + fds->connections;
  std::size_t pool = 0;  // once every client left, only the pool's workers hold fds
  const Gateway* gw = v.core();
  v.for_each_child([&](const ChildFact& c) {
    expected += c.fds;
    if (gw && c.session_id.empty() && pooled(*gw, c.id)) pool += c.fds;
  });
  if (fds->open != expected || (drained && fds->open != fds->baseline + pool))
    out.push_back(std::string(phase(drained)) + ", the gateway holds " + std::to_string(fds->open) +
                  " fds; expected " + std::to_string(expected) + " (baseline " +
                  std::to_string(fds->baseline) + ", pool " + std::to_string(pool) + ")");
}

void no_leaked_cgroup(const WorldView& v, bool drained, Out& out) {
  std::optional<std::size_t> exist = v.cgroups();
  if (!exist) return;
  std::size_t in_use = 0;
  v.for_each_child([&](const ChildFact& c) { in_use += c.in_cgroup; });
  if (*exist > in_use)
    out.push_back(std::string(phase(drained)) + ", " + std::to_string(*exist) +
                  " cgroups exist for " + std::to_string(in_use) + " children");
}

void store_drained(const WorldView& v, bool drained, Out& out) {
  if (v.store_pending() != 0)
    out.push_back(std::string(phase(drained)) + ", the store still has " +
                  std::to_string(v.store_pending()) + " queued operations");
}

void acknowledged_durable(const WorldView& v, bool, Out& out) {
  v.for_each_ack([&](const AckFact& a) {
    if (!a.durable)
      out.push_back("entry " + std::string(a.key) + "#" + std::to_string(a.seq) + " was lost");
  });
}

using W = CheckedWhen;

// The order is the order of the checks: the first violation found is the one reported.
constexpr std::array kTable = {
    // After every event (safety).
    Invariant{Inv::kernel_rules, "kernel rules", "rule 6", W::every_event,
              "recorded by sim/kernel.cpp and the process ports: a signal to a reaped child, an fd "
              "closed twice",
              kernel_rules},
    Invariant{Inv::no_signal_reaches_a_bystander, "no signal reaches a bystander", "rule 6 (harm)",
              W::every_event,
              "recorded by sim/kernel.cpp at each delivery: any signal reaching a process of "
              "another user (simrun's bystanders, which take over freed PIDs and group ids)",
              no_harm_to_bystanders},
    Invariant{Inv::finalized_at_most_once, "finalized at most once", "rule 1", W::every_event, "",
              finalized_once},
    // The warm pool before ownership: a pool's own mistake is named as such.
    Invariant{Inv::a_worker_serves_at_most_one_session_ever,
              "a worker serves at most one session, ever", "rule 18", W::every_event, "",
              one_session_per_worker},
    Invariant{Inv::the_pool_never_exceeds_its_size, "the pool never exceeds its size", "rule 18",
              W::every_event, "", pool_within_its_size},
    Invariant{Inv::pooled_workers_are_live_and_owned, "pooled workers are live and owned",
              "rule 18", W::every_event, "", pooled_live_and_owned},
    Invariant{Inv::nothing_is_pooled_after_shutdown_begins,
              "nothing is pooled after shutdown begins", "rule 18", W::every_event, "",
              nothing_pooled_in_shutdown},
    Invariant{Inv::every_child_is_owned, "every child is owned",
              "Invariants: owned by a registry entry or a teardown", W::every_event, "",
              every_child_owned},
    Invariant{Inv::active_list_is_the_live_set, "active list is the live set", "rule 9",
              W::every_event, "", active_list_is_live_set},
    Invariant{Inv::the_store_and_the_registry_agree, "the store and the registry agree",
              "Invariants: store agrees with registry", W::every_event, "",
              store_agrees_with_registry},
    Invariant{Inv::worker_handles_are_live, "worker handles are live",
              "Invariants: a worker handle refers to a live child", W::every_event, "",
              worker_handles_live},
    Invariant{Inv::close_on_disconnect_sessions_end_with_their_connection,
              "close_on_disconnect sessions end with their connection", "rule 3", W::every_event,
              "", close_on_disconnect_ends},
    Invariant{Inv::disconnect_and_resume_never_both_win, "disconnect and resume never both win",
              "rule 3", W::every_event, "", disconnect_resume_one_winner},
    Invariant{Inv::terminals_pause_while_their_client_is_backed_up,
              "terminals pause while their client is backed up", "rule 12", W::every_event, "",
              terminals_pause_with_their_client},
    Invariant{Inv::a_queued_command_always_has_a_worker_on_its_way,
              "a queued command always has a worker on its way", "rule 17", W::every_event, "",
              queued_commands_have_a_worker},
    Invariant{Inv::terminal_replay_stays_within_its_bound, "terminal replay stays within its bound",
              "rule 16", W::every_event, "", terminal_replay_bounded},
    // Checked where their event happens.
    Invariant{Inv::no_signal_to_another_incarnation, "no signal to another incarnation", "rule 6",
              W::at_event, "sim/sim_process_control.cpp, at each signal", nullptr},
    Invariant{Inv::never_the_gateways_own_group, "never the gateway's own group", "rule 6",
              W::at_event, "sim/sim_process_control.cpp, at each group signal", nullptr},
    Invariant{Inv::exit_observed_before_reap, "exit observed before reap", "rule 6", W::at_event,
              "sim/sim_process_control.cpp, at each reap", nullptr},
    Invariant{Inv::fds_closed_after_reap, "fds closed after reap", "rule 6", W::at_event,
              "sim/sim_process_control.cpp, at each release", nullptr},
    Invariant{Inv::worker_holds_only_its_own_fds_0_3, "worker holds only its own fds 0-3", "rule 8",
              W::at_event, "sim/processes.cpp, at the worker's exec", nullptr},
    Invariant{Inv::an_orphaned_worker_takes_its_containment_with_it,
              "an orphaned worker takes its containment with it", "rule 8", W::at_event,
              "sim/processes.cpp, at an orphaned worker's exit", nullptr},
    Invariant{Inv::no_false_orphan_verdict, "no false orphan verdict", "rule 7", W::at_event,
              "sim/processes.cpp, at a watchdog verdict", nullptr},
    Invariant{Inv::end_reasons_agree_with_state, "end reasons agree with state",
              "Invariants: end reasons", W::at_event,
              "sim/gateway_program.cpp, at each teardown's start", nullptr},
    Invariant{Inv::no_false_keepalive_drop, "no false keepalive drop", "rule 4", W::at_event,
              "sim/gateway_program.cpp, at each keepalive drop", nullptr},
    Invariant{Inv::gateway_speaks_json_rpc, "gateway speaks JSON-RPC", "rule 11", W::at_event,
              "sim/client.cpp, at each frame received", nullptr},
    Invariant{Inv::one_reply_per_request, "one reply per request", "Invariants: exactly one reply",
              W::at_event, "sim/client.cpp, at each reply (a second or unasked one)", nullptr},
    Invariant{Inv::commands_run_in_the_order_they_were_sent,
              "commands run in the order they were sent", "the client's contract", W::at_event,
              "sim/client.cpp, at each slash.exec result: the entry numbers a client is told "
              "follow the order it sent the commands of one history in",
              nullptr},
    Invariant{Inv::history_pages_hold_every_entry_once, "history pages hold every entry once",
              "the client's contract", W::at_event,
              "sim/client.cpp, at each session.history page: entries ascending and older than "
              "before_seq, none twice across the pages, and at the last page every entry the "
              "client was told was stored before it began paging",
              nullptr},
    Invariant{Inv::a_reattached_client_sees_a_suffix_of_the_output,
              "a reattached client sees a suffix of the output", "rule 16", W::at_event,
              "sim/client.cpp, at each pty.attach answer (it agrees with every byte the client "
              "drew at the same offsets and ends no earlier) and each pty.output event after "
              "it (it continues exactly where the screen ends)",
              nullptr},
    Invariant{Inv::after_a_timeout_the_next_command_never_waits_behind_the_stuck_one,
              "after a timeout the next command never waits behind the stuck one", "rule 17",
              W::at_event,
              "sim/client.cpp, at each worker_timed_out answer: the command's own run (its "
              "sleep, if any) is at least half of --slash-timeout, or with a worker's "
              "slowest start added at least all of it",
              nullptr},
    Invariant{Inv::a_takeover_revokes_the_former_holder, "a takeover revokes the former holder",
              "rule 14", W::at_event,
              "sim/client.cpp, at each reply to a request a client sent on a session it was "
              "told was taken over (and has not resumed since): an error (4009, or the "
              "session or terminal is gone), never a result that acted",
              nullptr},
    // Deadlines, per obligation from the event that starts it.
    Invariant{Inv::a_torn_down_childs_tree_is_gone_within_the_escalation_ladder,
              "a torn-down child's tree is gone within the escalation ladder", "rule 6",
              W::deadline, "sim/deadlines.cpp, from the teardown's first signal", nullptr},
    Invariant{Inv::an_orphaned_workers_tree_is_gone_within_poll_grace,
              "an orphaned worker's tree is gone within poll + grace", "rule 7", W::deadline,
              "sim/deadlines.cpp, from the gateway's death", nullptr},
    Invariant{Inv::an_orphaned_terminals_tree_is_gone_at_once,
              "an orphaned terminal's tree is gone at once", "rule 7", W::deadline,
              "sim/deadlines.cpp, from the gateway's death (the supervisor reads EOF)", nullptr},
    Invariant{Inv::a_detached_session_ends_or_resumes_within_the_grace,
              "a detached session ends or resumes within the grace", "rule 3", W::deadline,
              "sim/deadlines.cpp, from the detach and from the end of each busy period", nullptr},
    Invariant{Inv::a_silent_peer_is_dropped_within_ping_interval_timeout,
              "a silent peer is dropped within ping interval + timeout", "rule 4", W::deadline,
              "sim/deadlines.cpp, from the moment a peer goes silent", nullptr},
    Invariant{Inv::shutdown_completes_within_its_deadline, "shutdown completes within its deadline",
              "rule 13", W::deadline, "sim/world.cpp, at a SIGTERMed gateway's exit", nullptr},
    // After faults stopped and the world settled (liveness), and after every client left.
    Invariant{Inv::liveness, "liveness", "Invariants: after the system settles", W::settled, "",
              serving},
    Invariant{Inv::teardowns_finish, "teardowns finish", "rule 6", W::settled, "",
              teardowns_finish},
    Invariant{Inv::no_zombies, "no zombies", "Invariants: no zombies", W::settled, "", no_zombies},
    Invariant{Inv::no_leaked_process, "no leaked process",
              "Invariants: only live sessions' workers remain", W::settled, "", no_leaked_process},
    Invariant{Inv::a_bound_client_is_told_of_its_sessions_takeover,
              "a bound client is told of its session's takeover",
              "Invariants: end and takeover announced", W::settled, "", told_of_takeover},
    Invariant{Inv::a_bound_client_is_told_of_its_sessions_end,
              "a bound client is told of its session's end",
              "Invariants: end and takeover announced", W::settled, "", told_of_end},
    Invariant{Inv::every_request_is_answered, "every request is answered",
              "Invariants: exactly one reply", W::settled, "", every_request_answered},
    Invariant{Inv::no_leaked_session, "no leaked session", "rule 1", W::drained, "",
              no_leaked_session},
    Invariant{Inv::gateway_fds_back_to_baseline, "gateway fds back to baseline", "rule 6",
              W::settled, "", fds_back_to_baseline},
    Invariant{Inv::no_leaked_cgroup, "no leaked cgroup", "rule 8", W::settled, "",
              no_leaked_cgroup},
    Invariant{Inv::store_queue_drains, "store queue drains", "Invariants: after the system settles",
              W::settled, "", store_drained},
    Invariant{Inv::acknowledged_means_durable, "acknowledged means durable",
              "Invariants: acknowledged entries are stored", W::settled,
              "also sim/client.cpp, at each acknowledgement after a restart", acknowledged_durable},
    // What the build guarantees for every world.
    Invariant{Inv::no_blocking_work_on_the_cores_thread, "no blocking work on the core's thread",
              "Invariants: no blocking work", W::by_construction,
              "ci/check-core-purity.sh: core/ includes no POSIX, thread, time or I/O header",
              nullptr},
    // The fleet world (sim/fleet.cpp): several gateways over one shared store.
    Invariant{Inv::at_most_one_live_session_per_history_across_the_fleet,
              "at most one live session per history across the fleet", "rule 15", W::at_event,
              "sim/fleet.cpp, after every event: live sessions of every gateway by key", nullptr},
    Invariant{Inv::a_gateway_never_serves_a_session_whose_lease_it_lost,
              "a gateway never serves a session whose lease it lost", "rule 15", W::at_event,
              "sim/fleet.cpp, at each transcript append: the appender's lease is current by "
              "the store's clock and no other instance holds the history",
              nullptr},
    Invariant{Inv::no_acknowledged_entry_is_lost_across_a_claim,
              "no acknowledged entry is lost across a claim", "rule 15", W::at_event,
              "sim/fleet.cpp, after every event and at each resume: every acknowledged entry "
              "is in the store, and a claim continues the same history",
              nullptr},
    Invariant{Inv::a_lost_instances_sessions_are_ended_exactly_once,
              "a lost instance's sessions are ended exactly once", "rule 15", W::at_event,
              "sim/fleet.cpp, at the end: every history a dead instance left open is claimed "
              "elsewhere, and its sessions ended once, as instance_lost",
              nullptr},
    // The scenarios' own expectations (sim/scenarios.cpp), and what no world may do.
    Invariant{Inv::scenario_invariant, "scenario invariant", "a named scenario's own check",
              W::every_event, "sim/scenarios.cpp", nullptr},
    Invariant{Inv::scenario_expectation, "scenario expectation", "a named scenario's own check",
              W::drained, "sim/scenarios.cpp", nullptr},
};

// The ids are the table's own order, and every entry has one name of its own: a new
// entry must be given an id in sim/catalogue.hpp (the build stops here otherwise).
constexpr bool ids_follow_the_table() {
  for (std::size_t i = 0; i < kTable.size(); ++i)
    if (static_cast<std::size_t>(kTable[i].id) != i) return false;
  return true;
}
constexpr bool names_unique() {
  for (std::size_t i = 0; i < kTable.size(); ++i)
    for (std::size_t j = i + 1; j < kTable.size(); ++j)
      if (kTable[i].name == kTable[j].name) return false;
  return true;
}
static_assert(kTable.size() == static_cast<std::size_t>(Inv::count));
static_assert(ids_follow_the_table());
static_assert(names_unique());

}  // namespace

std::span<const Invariant> catalogue() {
  return kTable;
}

const Invariant& invariant(Inv id) {
  return kTable[static_cast<std::size_t>(id)];
}

std::vector<Violation> run_catalogue(const WorldView& view, CheckedWhen when, bool first_only) {
  std::vector<Violation> found;
  std::vector<std::string> lines;
  for (const auto& inv : kTable) {
    if (!inv.check) continue;
    bool due =
        inv.when == when || (when == CheckedWhen::drained && inv.when == CheckedWhen::settled);
    if (!due) continue;
    lines.clear();
    inv.check(view, when == CheckedWhen::drained, lines);
    for (auto& line : lines) {
      found.push_back(Violation{&inv, std::move(line)});
      if (first_only) return found;
    }
  }
  return found;
}

}  // namespace lifeline::sim
