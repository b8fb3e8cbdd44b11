#include "sim/world.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>

#include "core/assert.hpp"
#include "sim/catalogue.hpp"
#include "sim/client.hpp"
#include "sim/gateway_program.hpp"
#include "sim/world_view.hpp"

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

void World::violate(Inv invariant, std::string detail) {
  if (failed_) return;
  failed_ = true;
  result_.ok = false;
  result_.invariant = std::string(sim::invariant(invariant).name);
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
  memo_ = CatalogueMemo{};  // a new core: its session seqs start again
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
    violate(Inv::shutdown_completes_within_its_deadline,
            "the gateway exited 3: its shutdown deadline passed with children still alive");
  net.gateway_died(p.inc);
  store.crash(p.inc);
  deadlines.gateway_died();
  restart_pending_ = true;
  // In most restarts another user's program takes over a number the dead gateway's
  // children left, before the successor sweeps its predecessor's ledger.
  if (restart_delay_ % 3 != 0)
    sched.after(restart_delay_ / 2, 0,
                [this] { start_bystanders(restart_delay_ % 2 == 0 ? 1 : 2, true); });
  sched.after(restart_delay_, 0, [this] { boot_gateway(); });
}

namespace {
// Another user's program: it runs, holds its PID (and, in a session of its own, its group
// id) and does nothing else. Nothing on the simulated host ever signals it, so any
// signal that reaches it is one lifeline sent (the catalogue's harm invariant).
class BystanderProgram final : public Program {};
}  // namespace

void World::start_bystanders(int count, bool own_session) {
  // Enough of them to take over freed PIDs, never so many that the PID space is theirs.
  int alive = 0;
  for (const auto& [pid, p] : kernel.processes()) alive += p.bystander && !p.zombie ? 1 : 0;
  int cap = std::max(1, config.pid_max / 8);
  for (int i = 0; i < count && alive < cap; ++i, ++alive) {
    SpawnOptions o;
    o.name = "bystander";
    o.bystander = true;
    o.new_session = own_session;
    // The newest number a child of lifeline left: PID reuse at its most pointed.
    // Not within the tick the number's last holder started in: Linux's allocator hands a
    // number out again only after cycling through the PID space, which takes far longer
    // than the 10 ms a start time can tell apart (and no identity check can do better).
    while (!kernel.freed_child_pids.empty() && o.wanted_pid == 0) {
      auto [freed, started] = kernel.freed_child_pids.back();
      kernel.freed_child_pids.pop_back();
      if (!kernel.find(freed) && started < kernel.ticks()) o.wanted_pid = freed;
    }
    int pid = kernel.spawn(1, o);
    if (pid < 0) return;  // the PID space is full: another user cannot start one either
    kernel.run(pid, std::make_unique<BystanderProgram>(), 0);
    ++counters.bystanders_started;
    trace("bystander", "\"pid\":" + std::to_string(pid));
  }
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
    case StepKind::bystander:
      start_bystanders(1 + step.a % 3, step.b % 2 == 1);
      return;
    case StepKind::coincide: {
      std::vector<Millis> due = sched.pending_of(gateway_inc_);
      if (due.empty()) return;
      constexpr std::array actions = {StepKind::resume, StepKind::close, StepKind::disconnect,
                                      StepKind::exec};
      Step action = step;
      action.kind = actions[static_cast<std::size_t>(step.a) % actions.size()];
      Millis when = due[static_cast<std::size_t>(step.b) % due.size()];
      Millis lead = (step.a / 4) % (config.latency_max + 1);  // the link's one-way latency
      trace("coincide", "\"at\":" + std::to_string(when) + ",\"lead\":" + std::to_string(lead));
      // Only while the workload runs: an aim past its end would act after the clients left.
      sched.at(std::max(sched.now(), when - lead), 0, [this, action] {
        if (faults.active) execute(action);
      });
      return;
    }
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
    if (!failed_) deadlines.after_event();
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
      violate(Inv::scenario_expectation, why);

  if (GatewayProgram* g = gateway()) counters.sessions_finalized += g->core().counters().finalized;
  counters.pid_reuses = static_cast<std::int64_t>(kernel.pid_reuses);
  result_.events = trace_.count();
  result_.hash = trace_.hash();
  result_.sim_time = sched.now();
  result_.counters = counters;
  result_.recent = trace_.recent();
  return result_;
}

// ---------------------------------------------------------------- invariants

// The catalogue (sim/catalogue.hpp), through this world's view; the first violation is
// the one reported.
void World::check_safety() {
  std::vector<Violation> found =
      run_catalogue(SimWorldView(*this, &memo_), CheckedWhen::every_event, /*first_only=*/true);
  if (!found.empty()) return violate(found.front().invariant->id, found.front().detail);
  if (options_.extra_safety)
    if (std::string why = options_.extra_safety(*this); !why.empty())
      violate(Inv::scenario_invariant, why);
}

void World::check_settled(bool drained) {
  std::vector<Violation> found =
      run_catalogue(SimWorldView(*this, nullptr, /*timers_ran_out=*/true),
                    drained ? CheckedWhen::drained : CheckedWhen::settled, /*first_only=*/true);
  if (!found.empty()) violate(found.front().invariant->id, found.front().detail);
}

}  // namespace lifeline::sim
