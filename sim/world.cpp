#include "sim/world.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "sim/client.hpp"
#include "sim/gateway_program.hpp"
#include "sim/invariants.hpp"

namespace lifeline::sim {

World::World(std::uint64_t seed_, SwarmConfig config_, WorldOptions options)
    : seed(seed_),
      config(std::move(config_)),
      sched([this](Incarnation inc) { return kernel.alive(inc); }),
      kernel(sched, config.pid_max),
      rng(seed_),
      store(*this),
      net(*this),
      options_(std::move(options)),
      trace_(options_.trace_out, options_.keep_hashes) {
  trace_.keep_recent = options_.keep_recent;
  for (int i = 0; i < config.clients; ++i) clients.push_back(std::make_unique<SimClient>(*this, i));
  kernel.on_exit = [this](const Process& p, Program* program) { on_process_exit(p, program); };
}

World::~World() {
  // Programs hold references into the world: destroy them (gateway first) while it stands.
  kernel.on_exit = nullptr;
  kernel.collect_garbage();
}

void World::violate(std::string invariant, std::string detail) {
  if (failed_) return;
  failed_ = true;
  result_.ok = false;
  result_.invariant = std::move(invariant);
  result_.detail = std::move(detail);
  result_.event_index = trace_.count();
  result_.at = sched.now();
}

GatewayProgram* World::gateway() const {
  const Process* p = kernel.find_inc(gateway_inc_);
  if (!p || p->zombie || !p->program) return nullptr;
  return static_cast<GatewayProgram*>(p->program.get());
}

void World::boot_gateway() {
  restart_pending_ = false;
  SpawnOptions o;
  o.name = "gateway";
  o.new_session = true;
  // SIGTERM is the graceful shutdown (GatewayProgram::on_signal), as in the runtime; the
  // swarm's term_gateway step used to kill it outright, so that path never ran.
  o.on_term = Disposition::handle;
  int pid = kernel.spawn(1, o);
  if (pid < 0) {  // the PID space is full of leftovers: try again shortly
    restart_pending_ = true;
    sched.after(100, 0, [this] { boot_gateway(); });
    return;
  }
  for (int i = 0; i < 3; ++i)
    kernel.install(pid, kernel.open_file(FileKind::null_device, 0), false);
  kernel.install(pid, kernel.open_file(FileKind::socket, 0), true);  // the listener
  kernel.install(pid, kernel.open_file(FileKind::store, 0), true);   // lifeline.db
  kernel.set_subreaper(pid);
  gateway_pid_ = pid;
  gateway_inc_ = kernel.find(pid)->inc;
  kernel.run(pid, std::make_unique<GatewayProgram>(*this, pid, gateway_inc_), 0);
  trace("gateway.boot", "\"pid\":" + std::to_string(pid));
}

void World::on_process_exit(const Process& p, Program* program) {
  if (p.inc != gateway_inc_) return;
  trace("gateway.exit",
        "\"pid\":" + std::to_string(p.pid) + ",\"status\":" + std::to_string(p.status));
  if (auto* g = static_cast<GatewayProgram*>(program))
    counters.sessions_finalized += g->core().counters().finalized;
  // Every simulated child dies of SIGKILL: a SIGTERMed gateway that gave up on its
  // shutdown deadline (status 3) gave up too early.
  if (p.status == 3)
    violate("shutdown completes within its deadline",
            "the gateway exited 3: its shutdown deadline passed with children still alive");
  net.gateway_died(p.inc);
  store.crash(p.inc);
  arm_orphan_deadline();
  restart_pending_ = true;
  sched.after(restart_delay_, 0, [this] { boot_gateway(); });
}

// DESIGN.md's deadline for an orphaned worker, checked per obligation from the event that
// starts it (the gateway's death), not once at the end: within watchdog poll + grace (+
// one more poll for the detection, + a slow exit where the swarm allows one) the worker
// and everything of its tree are gone, whether or not a successor has started meanwhile.
// Terminals are left out: simrun does not model their supervisor yet. Without cgroups
// only the worker's process group is in its reach: a setsid'd escapee is out of it (the
// gap README states), and only the successor's sweep of the ledger's trees remains.
void World::arm_orphan_deadline() {
  std::map<std::uint64_t, int> worker_group;  // origin -> the worker's pgid
  for (const auto& [pid, q] : kernel.processes())
    if (!q.zombie && q.name == "slash-worker" && q.origin != 0) worker_group[q.origin] = q.pgid;
  std::vector<std::pair<int, Incarnation>> tree;
  for (const auto& [pid, q] : kernel.processes()) {
    auto w = worker_group.find(q.origin);
    if (!q.zombie && w != worker_group.end() && (config.cgroups || q.pgid == w->second))
      tree.emplace_back(pid, q.inc);
  }
  if (tree.empty()) return;
  Millis bound = 2 * config.worker.watchdog_poll + config.worker.watchdog_grace +
                 (config.workers_exit_slowly ? 3000 : 0) + 50;
  sched.after(bound, 0, [this, tree, bound] {
    for (const auto& [pid, inc] : tree)
      if (kernel.alive(inc)) {
        const Process* q = kernel.find(pid);
        return violate("an orphaned worker's tree is gone within poll + grace",
                       "pid " + std::to_string(pid) + " (" + (q ? q->name : "?") +
                           ") of a dead gateway's worker tree is alive " + std::to_string(bound) +
                           " ms after the gateway died");
      }
  });
}

void World::execute(const Step& step) {
  std::string fields = "\"kind\":" + json_str(to_string(step.kind)) +
                       ",\"client\":" + std::to_string(step.client) +
                       ",\"a\":" + std::to_string(step.a) + ",\"b\":" + std::to_string(step.b);
  trace("step", fields);
  switch (step.kind) {
    case StepKind::kill_gateway:
    case StepKind::term_gateway:
      if (gateway()) {
        restart_delay_ = step.a;
        if (step.kind == StepKind::kill_gateway) ++counters.gateway_kills;
        kernel.kill(gateway_pid_,
                    step.kind == StepKind::kill_gateway ? SimSignal::kill : SimSignal::term);
      }
      return;
    case StepKind::fail_spawns:
      faults.spawn_failures += step.a;
      faults.spawn_failure_kind = step.b % 2;
      return;
    case StepKind::slow_spawns:
      faults.slow_spawns += step.a;
      faults.slow_spawn_ms = step.b;
      return;
    case StepKind::fail_writes:
      faults.store_write_failures += step.a;
      return;
    case StepKind::slow_store:
      faults.slow_store_ops += step.a;
      faults.slow_store_ms = step.b;
      return;
    case StepKind::crash_worker: {
      GatewayProgram* g = gateway();
      if (!g) return;
      std::vector<int> workers;
      for (const auto& [id, c] : g->processes().children())
        if (c.kind == ChildKind::slash && !c.exited && !c.reaped) workers.push_back(c.pid);
      if (workers.empty()) return;
      int pid = workers[static_cast<std::size_t>(step.a) % workers.size()];
      trace("worker.crash", "\"pid\":" + std::to_string(pid));
      kernel.exit(pid, 128 + 11);
      return;
    }
    default:
      clients[static_cast<std::size_t>(step.client) % clients.size()]->execute(step);
      return;
  }
}

Millis World::settle_window() const {
  // Long enough for everything already under way to finish, bounded by the configured
  // timeouts: what was slowed by a fault, every queued command running into its timeout
  // (each on a fresh worker after an escalation), two graces (a busy session re-arms
  // once), a keepalive round, a watchdog poll and drain, a slow exit, a restart.
  const GatewayConfig& g = config.gateway;
  Millis ladder = g.hup_wait + g.term_wait + 2 * g.kill_wait;
  std::size_t queued = 1;
  if (GatewayProgram* gw = gateway())
    for (const auto& [id, s] : gw->core().registry())
      queued = std::max(queued, s->queue.size() + (s->in_flight ? 1 : 0) + 1);
  Millis per_command = g.slash_timeout + ladder + config.spawn_latency + config.worker_start_max +
                       config.store_latency + 2 * config.latency_max;
  Millis slowed =
      3000 /* slow spawn */ + 3000 /* slow store */ + 3000 /* slow exit */ + 2000 /* restart */;
  return slowed + static_cast<Millis>(queued) * per_command + 2 * g.orphan_grace + g.ping_interval +
         g.ping_timeout + config.worker.watchdog_poll + config.worker.watchdog_grace + ladder +
         4 * config.latency_max + 1000;
}

void World::settle(Millis until) {
  while (!failed_ && sched.step(until)) {
    kernel.collect_garbage();
    check_safety();
  }
  sched.advance_to(until);
}

RunResult World::run(const std::vector<Step>& steps) {
  boot_gateway();
  Millis end = 0;
  for (const Step& s : steps) {
    sched.at(s.at, 0, [this, s] { execute(s); });
    end = std::max(end, s.at);
  }
  settle(end + 1);
  if (std::getenv("SIMRUN_PHASES"))
    std::fprintf(stderr, "workload: %llu events\n",
                 static_cast<unsigned long long>(sched.executed()));
  // Faults stop; the world settles with every client still connected.
  faults = FaultState{};
  faults.active = false;
  trace("faults.stop");
  settle(sched.now() + settle_window());
  if (!failed_) check_settled(false);
  if (std::getenv("SIMRUN_PHASES"))
    std::fprintf(stderr, "settled: %llu events\n",
                 static_cast<unsigned long long>(sched.executed()));
  // Every client leaves; what they held must all go.
  trace("clients.leave");
  for (auto& c : clients) c->drain(false);
  settle(sched.now() + settle_window());
  if (!failed_) check_settled(true);
  if (std::getenv("SIMRUN_PHASES"))
    std::fprintf(stderr, "drained: %llu events\n",
                 static_cast<unsigned long long>(sched.executed()));
  if (!failed_ && options_.extra_final)
    if (std::string why = options_.extra_final(*this); !why.empty())
      violate("scenario expectation", why);

  if (GatewayProgram* g = gateway()) counters.sessions_finalized += g->core().counters().finalized;
  counters.pid_reuses = static_cast<std::int64_t>(kernel.pid_reuses);
  result_.events = trace_.count();
  result_.hash = trace_.hash();
  result_.sim_time = sched.now();
  result_.counters = counters;
  result_.recent.assign(trace_.recent().begin(), trace_.recent().end());
  return result_;
}

// ---------------------------------------------------------------- invariants

namespace {
std::string pid_of(const SimProcessControl& pc, ChildId id) {
  auto it = pc.children().find(id);
  return it == pc.children().end() ? "?" : std::to_string(it->second.pid);
}
}  // namespace

void World::check_safety() {
  if (!kernel.violations.empty()) return violate("kernel rules", kernel.violations.front());
  if (store.end_requests_max() > 1)
    for (const auto& [id, n] : store.end_requests())
      if (n > 1)
        return violate("finalized at most once",
                       "session " + id + " had its end stored " + std::to_string(n) + " times");
  if (GatewayProgram* g = gateway(); g && g->listening()) {
    const Gateway& gw = g->core();
    const ChildSupervisor& sup = gw.children();
    const SimProcessControl& pc = g->processes();
    for (const auto& [id, c] : pc.children())
      if (!sup.find(id))
        return violate("every child is owned",
                       "child pid " + std::to_string(c.pid) + " of session " + c.session_id +
                           " is owned by neither a session nor a teardown in progress");
    std::string unowned;
    sup.for_each([&](const ChildInfo& info, bool terminating) {
      if (unowned.empty() && !terminating && !owned_by_live_session(gw, info))
        unowned = "child pid " + std::to_string(info.pid) + " of session " + info.session_id +
                  " is tracked but owned by no live session and not being torn down";
    });
    if (!unowned.empty()) return violate("every child is owned", unowned);
    // The store and the registry agree: a live session's end was never asked of the
    // store, and a history (session key) is continued by at most one live session.
    std::map<std::string, std::string> live_by_key;
    for (const auto& [id, s] : gw.registry()) {
      if (store.end_requests().count(id))
        return violate("the store and the registry agree",
                       "session " + id + " is live, but its end was sent to the store");
      if (auto [it, fresh] = live_by_key.emplace(s->key, id); !fresh)
        return violate("the store and the registry agree",
                       "history " + s->key + " is continued by two live sessions, " + it->second +
                           " and " + id);
    }
    for (const auto& [id, s] : gw.registry()) {
      if (s->finalized)
        return violate("active list is the live set", "finalized session " + s->id + " is listed");
      if (s->worker) {
        auto it = pc.children().find(*s->worker);
        if (it == pc.children().end() || it->second.reaped)
          return violate(
              "worker handles are live",
              "session " + s->id + " holds a handle to reaped child " + pid_of(pc, *s->worker));
      }
      if (!s->conn && s->close_on_disconnect)
        return violate(
            "close_on_disconnect sessions end with their connection",
            "session " + s->id + " outlived its connection (detached instead of torn down)");
      if (s->conn && !gw.connected(*s->conn))
        return violate("disconnect and resume never both win",
                       "session " + s->id + " is bound to connection " + std::to_string(*s->conn) +
                           ", which is gone");
    }
  }
  if (options_.extra_safety)
    if (std::string why = options_.extra_safety(*this); !why.empty())
      violate("scenario invariant", why);
}

void World::check_settled(bool drained) {
  const char* phase = drained ? "after every client left" : "after faults stopped";
  GatewayProgram* g = gateway();
  if (!g || !g->listening())
    return violate("liveness", std::string(phase) + ", no gateway is serving");
  const Gateway& gw = g->core();
  const SimProcessControl& pc = g->processes();
  // Processes: init, the gateway, and the trees of live sessions' children.
  for (const auto& [pid, p] : kernel.processes()) {
    if (pid == 1 || pid == gateway_pid_) continue;
    if (p.zombie)
      return violate("no zombies", std::string(phase) + ", pid " + std::to_string(pid) + " (" +
                                       p.name + ") is an unreaped zombie");
    const ChildInfo* owner = gw.children().find(p.origin);
    if (drained || !owner || !owned_by_live_session(gw, *owner))
      return violate("no leaked process",
                     std::string(phase) + ", pid " + std::to_string(pid) + " (" + p.name +
                         ", child " + std::to_string(p.origin) + ") is alive with no live owner");
  }
  // The client's view: a session a client believes it holds is bound to it; if another
  // connection took it over, the client was told (session.taken_over) and let it go.
  for (const auto& c : clients) {
    if (c->conn() == 0 || !gw.connected(c->conn())) continue;
    for (const auto& id : c->held()) {
      SessionPtr s = gw.find_session(id);
      if (s && s->conn && *s->conn != c->conn())
        return violate("a bound client is told of its session's takeover",
                       std::string(phase) + ", client on connection " + std::to_string(c->conn()) +
                           " still believes it holds session " + id + ", now bound to connection " +
                           std::to_string(*s->conn));
    }
  }
  // The client's view of an end: a session it was given on the connection it still
  // holds, and that ended meanwhile, was announced to it (session.closed), so that it
  // let it go.
  for (const auto& c : clients) {
    if (c->conn() == 0 || !gw.connected(c->conn())) continue;
    for (const auto& id : c->held_here())
      if (!gw.find_session(id))
        return violate("a bound client is told of its session's end",
                       std::string(phase) + ", client on connection " + std::to_string(c->conn()) +
                           " still believes it holds session " + id + ", which has ended");
  }
  // Sessions: every detached one was resumed or reaped within its grace.
  for (const auto& s : gw.sessions()) {
    if (!s->conn)
      return violate("detached sessions end within the grace", std::string(phase) + ", session " +
                                                                   s->id + " is still detached (" +
                                                                   to_string(s->status()) + ")");
    if (drained)
      return violate("no leaked session",
                     std::string(phase) + ", session " + s->id + " is still live");
  }
  // Fds: the baseline, plus one per connection, plus what live children hold.
  std::size_t expected = g->baseline_fds() + g->connection_fds();
  for (const auto& [id, c] : pc.children()) expected += c.fds.size();
  std::size_t open = kernel.fd_count(gateway_pid_);
  if (open != expected || (drained && open != g->baseline_fds()))
    return violate("gateway fds back to baseline", std::string(phase) + ", the gateway holds " +
                                                       std::to_string(open) + " fds; expected " +
                                                       std::to_string(expected) + " (baseline " +
                                                       std::to_string(g->baseline_fds()) + ")");
  std::size_t cgroups_in_use = 0;
  for (const auto& [id, c] : pc.children()) cgroups_in_use += c.cgroup != 0;
  if (kernel.cgroups().size() > cgroups_in_use)
    return violate("no leaked cgroup",
                   std::string(phase) + ", " + std::to_string(kernel.cgroups().size()) +
                       " cgroups exist for " + std::to_string(cgroups_in_use) + " children");
  if (store.pending() != 0)
    return violate("liveness", std::string(phase) + ", the store still has queued operations");
  for (const auto& c : clients)
    for (const auto& a : c->acks())
      if (!store.durable(a.key, a.seq))
        return violate("acknowledged means durable",
                       "entry " + a.key + "#" + std::to_string(a.seq) + " was lost");
}

}  // namespace lifeline::sim
