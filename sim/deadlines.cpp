#include "sim/deadlines.hpp"

#include <map>
#include <vector>

#include "sim/gateway_program.hpp"
#include "sim/world.hpp"

namespace lifeline::sim {

namespace {
// What is still alive of a gateway child's tree: the whole of it where the child has a
// cgroup (cgroup.kill reaches every descendant), its process group otherwise (a setsid
// escapee is out of reach then: the gap README states).
std::vector<std::pair<int, Incarnation>> tree_of(const Kernel& k, std::uint64_t origin, int pgid,
                                                 bool whole) {
  std::vector<std::pair<int, Incarnation>> tree;
  for (const auto& [pid, q] : k.processes())
    if (!q.zombie && q.origin == origin && (whole || q.pgid == pgid)) tree.emplace_back(pid, q.inc);
  return tree;
}
}  // namespace

void Deadlines::after_event() {
  GatewayProgram* g = w_.gateway();
  if (!g || !g->listening()) return;
  if (w_.gateway_inc() != seen_gateway_) {
    seen_gateway_ = w_.gateway_inc();
    ladders_.clear();
    detached_.clear();
  }
  const Gateway& gw = g->core();
  // Teardowns: the ladder starts at the first signal, which terminate() sends at once.
  gw.children().for_each([&](const ChildInfo& info, bool terminating) {
    if (terminating && ladders_.insert(info.id).second) {
      auto it = g->processes().children().find(info.id);
      if (it != g->processes().children().end())
        arm_ladder(info.id, it->second.pgid, it->second.cgroup);
    }
  });
  if (ladders_.size() > 64)  // forget teardowns that finished
    std::erase_if(ladders_, [&](ChildId id) { return !gw.children().terminating(id); });

  Millis grace = w_.config.gateway.orphan_grace;
  if (grace <= 0) return;  // 0: never grace-reaped
  std::size_t detached = 0;
  for (const auto& [id, s] : gw.registry()) {
    if (s->conn) continue;
    ++detached;
    check_detached(*s, grace);
  }
  if (detached_.size() > detached)
    std::erase_if(detached_, [&](const auto& kv) {
      auto it = gw.registry().find(kv.first);
      return it == gw.registry().end() || it->second.get() != kv.second.session || it->second->conn;
    });
}

void Deadlines::check_detached(const Session& s, Millis grace) {
  Millis now = w_.sched.now();
  auto [it, fresh] = detached_.try_emplace(s.id, Detached{&s, now});
  Detached& d = it->second;
  if (!fresh && d.session != &s) d = Detached{&s, now};
  if (s.busy()) {
    // The grace expiry re-arms for a busy session: the clock starts again from the
    // last moment it was seen busy (an expiry that found it busy is such a moment).
    d.since = now;
    return;
  }
  if (now > d.since + grace)
    w_.violate(Inv::a_detached_session_ends_or_resumes_within_the_grace,
               "session " + s.id + " has been detached and idle since " + std::to_string(d.since) +
                   " ms, longer than the grace of " + std::to_string(grace) + " ms");
}

void Deadlines::arm_ladder(ChildId child, int pgid, int cgroup) {
  // HUP, then TERM after hup_wait, then KILL after term_wait: the kernel kills at once,
  // and the exit it reports makes the core kill the group (and the cgroup) at once.
  // Half a kill_wait of slack: a ladder whose KILL is late by a whole retry is caught.
  const GatewayConfig& g = w_.config.gateway;
  Millis bound = g.hup_wait + g.term_wait + g.kill_wait / 2 + 1;
  Millis started = w_.sched.now();
  // Owned by the gateway: if it dies first, the orphan deadline takes over.
  w_.sched.after(bound, w_.gateway_inc(), [this, child, pgid, cgroup, bound, started] {
    for (const auto& [pid, inc] : tree_of(w_.kernel, child, pgid, cgroup != 0)) {
      const Process* q = w_.kernel.find(pid);
      return w_.violate(Inv::a_torn_down_childs_tree_is_gone_within_the_escalation_ladder,
                        "pid " + std::to_string(pid) + " (" + (q ? q->name : "?") + ") of child " +
                            std::to_string(child) + " is alive " + std::to_string(bound) +
                            " ms after its teardown started at " + std::to_string(started) + " ms");
    }
  });
}

// Within watchdog poll + grace (+ one more poll for the detection, + a slow exit where
// the swarm allows one) the worker and everything of its tree are gone, whether or not
// a successor has started meanwhile. A terminal's supervisor reads the lifeline's EOF at
// once (after its start, if it had not started yet) and kills its whole tree, which it
// holds by parentage as a subreaper, with cgroups or without.
void Deadlines::gateway_died() {
  const Kernel& k = w_.kernel;
  const SwarmConfig& c = w_.config;
  std::map<std::uint64_t, int> worker_group;  // origin -> the worker's pgid
  std::vector<std::uint64_t> terminals;       // origins of supervised terminals
  for (const auto& [pid, q] : k.processes()) {
    if (q.zombie || q.origin == 0) continue;
    if (q.name == "slash-worker") worker_group[q.origin] = q.pgid;
    if (q.name == "pty-supervisor") terminals.push_back(q.origin);
  }
  auto arm = [this](const std::vector<std::pair<int, Incarnation>>& tree, Millis bound,
                    Inv invariant, const char* what) {
    if (tree.empty()) return;
    w_.sched.after(bound, 0, [this, tree, bound, invariant, what] {
      for (const auto& [pid, inc] : tree)
        if (w_.kernel.alive(inc)) {
          const Process* q = w_.kernel.find(pid);
          return w_.violate(invariant, "pid " + std::to_string(pid) + " (" + (q ? q->name : "?") +
                                           ") of a dead gateway's " + what + " is alive " +
                                           std::to_string(bound) + " ms after the gateway died");
        }
    });
  };
  std::vector<std::pair<int, Incarnation>> workers, ttys;
  for (const auto& [origin, pgid] : worker_group)
    for (auto& p : tree_of(k, origin, pgid, c.cgroups)) workers.push_back(p);
  for (std::uint64_t origin : terminals)
    for (auto& p : tree_of(k, origin, 0, /*whole=*/true)) ttys.push_back(p);
  arm(workers,
      2 * c.worker.watchdog_poll + c.worker.watchdog_grace + (c.workers_exit_slowly ? 3000 : 0) +
          50,
      Inv::an_orphaned_workers_tree_is_gone_within_poll_grace, "worker tree");
  arm(ttys, c.worker_start_max + 50, Inv::an_orphaned_terminals_tree_is_gone_at_once,
      "terminal tree");
}

void Deadlines::peer_silent(ConnId conn, Incarnation gateway) {
  // The next ping goes out within an interval; its pong deadline is the timeout. A
  // connection not yet accepted starts its keepalive one network latency later.
  const GatewayConfig& g = w_.config.gateway;
  if (g.ping_interval <= 0 || g.ping_timeout <= 0) return;
  Millis bound = g.ping_interval + g.ping_timeout + 2 * w_.config.latency_max + 1;
  w_.sched.after(bound, gateway, [this, conn, bound] {
    const SimNetwork::Conn* c = w_.net.find(conn);
    if (c && c->server_open)
      w_.violate(Inv::a_silent_peer_is_dropped_within_ping_interval_timeout,
                 "connection " + std::to_string(conn) + " went silent " + std::to_string(bound) +
                     " ms ago and the gateway still holds it open");
  });
}

}  // namespace lifeline::sim
