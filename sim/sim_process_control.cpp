#include "sim/sim_process_control.hpp"

#include <algorithm>
#include <set>

#include "core/recovery.hpp"
#include "core/strays.hpp"
#include "sim/gateway_program.hpp"
#include "sim/processes.hpp"
#include "sim/terminal.hpp"
#include "sim/world.hpp"

namespace lifeline::sim {

SimProcessControl::SimProcessControl(World& world, int gateway_pid, Incarnation gateway_inc)
    : w_(world), pid_(gateway_pid), inc_(gateway_inc) {}

// Like the runtime's start-up: whatever cgroups a dead predecessor left are killed and
// removed before anything new is spawned.
int SimProcessControl::sweep_cgroups() {
  std::vector<int> left(w_.kernel.cgroups().begin(), w_.kernel.cgroups().end());
  for (int cg : left) {
    w_.kernel.cgroup_kill(cg);
    if (!w_.kernel.remove_cgroup(cg)) cgroups_to_remove_.push_back(cg);
    w_.trace("cgroup.sweep", "\"cgroup\":" + std::to_string(cg));
  }
  return static_cast<int>(left.size());
}

int SimProcessControl::sweep_ledger() {
  int killed = 0;
  // What the runtime does from its `children` table: a predecessor's child that is still
  // the same incarnation (pid and start time) is killed with every descendant it still
  // parents (setsid escapees included) - all found before the first kill, while the
  // parent links still hold; so is whatever is left in its process group, provided the
  // group id was not taken over (its leader is gone or is that very child) and only
  // processes no older than the child remain in it.
  // The decision is the core's (predecessor_victims), the same call the runtime makes;
  // this only reports the simulated kernel's facts and carries the kills out.
  Kernel& k = w_.kernel;
  struct KernelTable final : ProcessTable {
    const Kernel& k;
    explicit KernelTable(const Kernel& kernel) : k(kernel) {}
    std::optional<ProcessFacts> find(int pid) const override {
      const Process* p = k.find(pid);
      if (!p) return std::nullopt;
      return ProcessFacts{p->pid, p->pgid, p->start_ticks, p->zombie};
    }
    std::vector<int> children_of(int pid) const override { return k.children_of(pid); }
    std::vector<int> group_members(int pgid) const override { return k.group_members(pgid); }
  } table(k);
  for (const auto& row : w_.store.ledger_take()) {
    const Process* leader = k.find(row.pid);
    bool same = leader && leader->start_ticks == row.start_ticks && !leader->zombie;
    std::uint64_t expected = same ? leader->origin : 0;
    for (int v : predecessor_victims(row, table, pid_)) {
      const Process* p = k.find(v);
      if (!p || p->zombie) continue;
      // The simulator knows the truth: the sweep must only ever hit that child's tree.
      if (expected && p->origin != expected)
        w_.violate(Inv::no_signal_to_another_incarnation,
                   "the ledger sweep killed pid " + std::to_string(v) + " (" + p->name +
                       "), which is not of the recorded child's tree");
      w_.trace("ledger.kill",
               "\"pid\":" + std::to_string(v) + ",\"recorded\":" + std::to_string(row.pid));
      k.kill(v, SimSignal::kill);
      ++killed;
    }
  }
  return killed;
}

int SimProcessControl::gateway_pgid() const {
  const Process* p = w_.kernel.find(pid_);
  return p ? p->pgid : 0;
}

std::int64_t SimProcessControl::open_fds() const {
  return static_cast<std::int64_t>(w_.kernel.fd_count(pid_));
}

Json SimProcessControl::containment() const {
  return {{"escapees", w_.config.cgroups ? "cgroup v2 (simulated)" : "process-group"},
          {"subreaper", true},
          {"ledger", true}};
}

SpawnResult SimProcessControl::fail(const std::string& why) {
  SpawnResult r;
  r.error = why;
  return r;
}

void SimProcessControl::spawn(const SpawnSpec& spec, std::function<void(SpawnResult)> done) {
  Millis delay = w_.config.spawn_latency;
  if (w_.faults.active && w_.faults.slow_spawns > 0) {
    --w_.faults.slow_spawns;
    delay += w_.faults.slow_spawn_ms;
  }
  // Completions come later, on the gateway's own thread (the port contract).
  w_.sched.after(delay, inc_, [this, spec, done = std::move(done)] { complete_spawn(spec, done); });
}

void SimProcessControl::complete_spawn(const SpawnSpec& spec,
                                       const std::function<void(SpawnResult)>& done) {
  Kernel& k = w_.kernel;
  if (w_.faults.active && w_.faults.spawn_failures > 0) {
    --w_.faults.spawn_failures;
    w_.trace("spawn.fail", "\"session\":" + json_str(spec.session_id));
    return done(fail(w_.faults.spawn_failure_kind
                         ? "pipe: Too many open files (EMFILE)"
                         : "fork: Resource temporarily unavailable (EAGAIN)"));
  }
  bool pty = spec.kind == ChildKind::pty;
  Child c;
  c.id = w_.next_child++;
  c.kind = spec.kind;
  c.session_id = spec.session_id;
  SpawnOptions opts;
  opts.name = pty ? "pty-supervisor" : "slash-worker";
  opts.new_session = true;
  opts.origin = c.id;
  opts.close_from = 4;  // close_range: nothing but what is installed
  std::vector<std::uint64_t> child_files;
  std::uint64_t terminal = 0;
  if (pty)
    terminal = wire_terminal(c, opts);
  else
    child_files = wire_worker(c, opts);
  if (w_.config.cgroups) {
    c.cgroup = k.make_cgroup();
    opts.cgroup = c.cgroup;
  }
  int pid = k.spawn(pid_, opts);
  if (pid < 0) {
    for (auto& [fd, file] : c.fds) k.close(pid_, fd, file);
    if (c.cgroup) k.remove_cgroup(c.cgroup);
    w_.trace("spawn.fail", "\"session\":" + json_str(spec.session_id) + ",\"why\":\"no free pid\"");
    return done(fail("fork: Resource temporarily unavailable (EAGAIN: no free pid)"));
  }
  const Process* p = k.find(pid);
  c.pid = pid;
  c.inc = p->inc;
  c.pgid = p->pgid;
  c.start_ticks = p->start_ticks;
  run_program(pid, spec, terminal, child_files);
  w_.store.ledger_add(inc_,
                      {pid, p->start_ticks, c.pgid, c.cgroup ? std::to_string(c.cgroup) : ""});
  ChildId id = c.id;
  int out_fd = c.out_fd, err_fd = c.err_fd;
  children_.emplace(id, std::move(c));
  w_.trace("spawn", "\"child\":" + std::to_string(id) + ",\"pid\":" + std::to_string(pid) +
                        ",\"kind\":" + (pty ? "\"pty\"" : "\"slash\"") +
                        ",\"session\":" + json_str(spec.session_id));
  SpawnResult r;
  r.ok = true;
  r.child = id;
  r.pid = pid;
  r.pgid = pid;
  done(r);
  if (GatewayProgram* g = w_.gateway(); g && g->core().children().terminating(id))
    ++w_.counters.spawns_after_close;
  // Output flows only once the core has adopted the child (as in the runtime).
  if (children_.count(id)) watch_output(id, out_fd, err_fd);
}

// The supervisor holds the slave (O_NOCTTY: the shell it forks takes it as its
// controlling terminal) and the lifeline; the gateway the master and the write end.
// Returns the terminal.
std::uint64_t SimProcessControl::wire_terminal(Child& c, SpawnOptions& opts) {
  Kernel& k = w_.kernel;
  std::uint64_t master = 0, slave = 0, life = k.make_pipe();
  std::uint64_t terminal = k.make_pty(&master, &slave);
  std::uint64_t life_w = k.pipe_end(life, true);
  c.in_fd = c.out_fd = k.install(pid_, master, /*cloexec=*/true);
  int life_fd = k.install(pid_, life_w, true);
  c.fds = {{c.in_fd, master}, {life_fd, life_w}};
  opts.installs = {{0, slave}, {1, slave}, {2, slave}, {3, k.pipe_end(life, false)}};
  opts.on_hup = Disposition::handle;
  opts.on_term = Disposition::handle;
  return terminal;
}

// A worker's stdin, stdout, stderr and lifeline; returns the files it must hold as 0-3.
std::vector<std::uint64_t> SimProcessControl::wire_worker(Child& c, SpawnOptions& opts) {
  Kernel& k = w_.kernel;
  std::uint64_t in = k.make_pipe(), out = k.make_pipe(), err = k.make_pipe(), life = k.make_pipe();
  std::uint64_t in_w = k.pipe_end(in, true), out_r = k.pipe_end(out, false),
                err_r = k.pipe_end(err, false), life_w = k.pipe_end(life, true);
  c.in_fd = k.install(pid_, in_w, true);
  c.out_fd = k.install(pid_, out_r, true);
  c.err_fd = k.install(pid_, err_r, true);
  int life_fd = k.install(pid_, life_w, true);
  c.fds = {{c.in_fd, in_w}, {c.out_fd, out_r}, {c.err_fd, err_r}, {life_fd, life_w}};
  opts.installs = {{0, k.pipe_end(in, false)},
                   {1, k.pipe_end(out, true)},
                   {2, k.pipe_end(err, true)},
                   {3, k.pipe_end(life, false)}};
  std::vector<std::uint64_t> files;
  for (auto& [fd, file] : opts.installs) files.push_back(file);
  bool deaf = w_.rng.chance(w_.config.workers_ignore_term ? 40 : 0);
  opts.on_hup = deaf ? Disposition::ignore : Disposition::handle;
  opts.on_term = deaf ? Disposition::ignore : Disposition::handle;
  return files;
}

void SimProcessControl::run_program(int pid, const SpawnSpec& spec, std::uint64_t terminal,
                                    const std::vector<std::uint64_t>& child_files) {
  Millis start = w_.rng.between(0, w_.config.worker_start_max);
  if (spec.kind == ChildKind::pty) {
    w_.kernel.run(pid, std::make_unique<TerminalSupervisorProgram>(w_, pid, terminal), start);
    return;
  }
  WorkerConfig wc = w_.config.worker;
  // A pooled worker (argv [cmd, --pooled]) learns its key from its bind message.
  bool keyed = spec.argv.size() > 2 && spec.argv[1] == "--session-key";
  wc.session_key = keyed ? spec.argv[2] : "";
  wc.pooled = !keyed;
  wc.lifeline_fd = 3;
  w_.kernel.run(pid, std::make_unique<WorkerProgram>(w_, pid, wc, child_files), start);
}

void SimProcessControl::watch_output(ChildId id, int out_fd, int err_fd) {
  readers_[out_fd] = id;
  w_.kernel.watch(pid_, out_fd);
  if (err_fd < 0) return;
  readers_[err_fd] = id;
  w_.kernel.watch(pid_, err_fd);
}

SimProcessControl::Child* SimProcessControl::find(ChildId id, const char* op) {
  auto it = children_.find(id);
  if (it == children_.end()) {
    w_.violate(Inv::kernel_rules, std::string(op) + " of child " + std::to_string(id) +
                                      ", which was already released (or never existed)");
    return nullptr;
  }
  return &it->second;
}

void SimProcessControl::signal(ChildId id, Signal sig, Scope scope) {
  Child* c = find(id, "signal");
  if (!c) return;
  if (c->reaped) {
    w_.violate(Inv::no_signal_to_another_incarnation,
               "signal to child " + std::to_string(id) + " (pid " + std::to_string(c->pid) +
                   ") after it was reaped: the pid may belong to someone else now");
    return;
  }
  SimSignal s = sig == Signal::hup    ? SimSignal::hup
                : sig == Signal::term ? SimSignal::term
                                      : SimSignal::kill;
  Kernel& k = w_.kernel;
  w_.trace("signal", "\"child\":" + std::to_string(id) + ",\"pid\":" + std::to_string(c->pid) +
                         ",\"sig\":" + std::to_string(static_cast<int>(s)) +
                         ",\"group\":" + (scope != Scope::process ? "true" : "false"));
  if (scope != Scope::process) {
    if (c->pgid == gateway_pgid()) {
      w_.violate(Inv::never_the_gateways_own_group,
                 "group signal to pgid " + std::to_string(c->pgid));
      return;
    }
    for (int member : k.group_members(c->pgid)) {
      const Process* m = k.find(member);
      if (m->origin != c->id && m->pid != pid_)
        w_.violate(Inv::no_signal_to_another_incarnation,
                   "group signal for child " + std::to_string(id) + " reached pid " +
                       std::to_string(member) + " of another tree (" + m->name + ")");
    }
    k.killpg(c->pgid, s);
    if (scope == Scope::containment && c->cgroup) k.cgroup_kill(c->cgroup);
  } else {
    k.kill(c->pid, s);  // pidfd_send_signal: this incarnation only
  }
}

void SimProcessControl::reap(ChildId id) {
  Child* c = find(id, "reap");
  if (!c) return;
  if (c->reaped) {
    w_.violate(Inv::kernel_rules, "child " + std::to_string(id) + " reaped twice");
    return;
  }
  if (!c->exited) {
    w_.violate(Inv::exit_observed_before_reap, "child " + std::to_string(id) + " (pid " +
                                                   std::to_string(c->pid) +
                                                   ") reaped before its exit was observed");
  }
  if (!w_.kernel.reap(pid_, c->pid, c->inc)) return;
  c->reaped = true;
  w_.trace("reap", "\"child\":" + std::to_string(id) + ",\"pid\":" + std::to_string(c->pid));
  if (c->cgroup && !w_.kernel.remove_cgroup(c->cgroup)) cgroups_to_remove_.push_back(c->cgroup);
}

void SimProcessControl::release(ChildId id) {
  Child* c = find(id, "release");
  if (!c) return;
  if (!c->reaped)
    w_.violate(Inv::fds_closed_after_reap,
               "child " + std::to_string(id) + " released before it was reaped");
  for (auto& [fd, file] : c->fds) {
    readers_.erase(fd);
    w_.kernel.close(pid_, fd, file);
  }
  w_.store.ledger_remove(inc_, c->pid, c->start_ticks);
  children_.erase(id);
}

bool SimProcessControl::write(ChildId id, std::string_view bytes) {
  Child* c = find(id, "write");
  if (!c || c->reaped) return false;
  return w_.kernel.write(pid_, c->in_fd, bytes);
}

std::int64_t SimProcessControl::unwritten(ChildId id) const {
  auto it = children_.find(id);
  if (it == children_.end() || it->second.reaped) return 0;
  return static_cast<std::int64_t>(w_.kernel.unread(pid_, it->second.in_fd));
}

void SimProcessControl::resize(ChildId id, int, int) {
  find(id, "resize");
}

void SimProcessControl::on_sigchld() {
  Kernel& k = w_.kernel;
  // Exits of our own children: reported, never reaped here (the core decides).
  std::vector<std::pair<ChildId, int>> exits;
  std::map<int, bool> tracked;
  for (auto& [id, c] : children_) {
    if (c.reaped) continue;
    tracked[c.pid] = true;
    const Process* p = k.find(c.pid);
    if (!c.exited && p && p->inc == c.inc && p->zombie) {
      c.exited = true;
      exits.push_back({id, p->status});
    }
  }
  // Strays: escaped descendants reparented to us. Whom to kill and reap is the core's
  // decision (core/strays.hpp), the same the runtime makes.
  std::vector<ProcStat> kids;
  std::set<int> ours;
  for (int pid : k.children_of(pid_)) {
    const Process* p = k.find(pid);
    kids.push_back(
        ProcStat{pid, p->zombie ? ProcState::zombie : ProcState::alive, pid_, p->pgid, 0, 1});
    if (tracked.count(pid)) ours.insert(pid);
  }
  StrayDecision strays = stray_decision(kids, ours);
  for (int pid : strays.kill) {
    ++strays_killed_;
    ++w_.counters.strays_killed;
    w_.trace("stray.kill", "\"pid\":" + std::to_string(pid));
    k.kill(pid, SimSignal::kill);
  }
  for (int pid : strays.reap)
    if (const Process* q = k.find(pid); q && q->zombie) k.reap(pid_, pid, q->inc);
  for (auto it = cgroups_to_remove_.begin(); it != cgroups_to_remove_.end();)
    it = k.remove_cgroup(*it) ? cgroups_to_remove_.erase(it) : it + 1;
  for (auto& [id, status] : exits) {
    w_.trace("exit.observed",
             "\"child\":" + std::to_string(id) + ",\"status\":" + std::to_string(status));
    if (events_) events_->on_child_exit(id, status);
  }
}

void SimProcessControl::pause_output(ChildId child, bool paused) {
  auto c = children_.find(child);
  if (c == children_.end() || c->second.output_paused == paused) return;
  c->second.output_paused = paused;
  if (paused) return;
  // Resumed: what waited in the kernel is read now - as a later event, never from
  // inside this call (the port contract).
  int fd = c->second.out_fd;
  w_.sched.after(0, inc_, [this, fd] { on_readable(fd); });
}

void SimProcessControl::on_readable(int fd) {
  auto it = readers_.find(fd);
  if (it == readers_.end()) return;
  ChildId id = it->second;
  auto paused = children_.find(id);
  if (paused != children_.end() && paused->second.output_paused && fd == paused->second.out_fd)
    return;  // left in the kernel's buffer, as a runtime that stops reading leaves it
  ReadResult r = w_.kernel.read(pid_, fd);
  auto c = children_.find(id);
  if (r.data.empty() || c == children_.end()) return;
  if (fd == c->second.err_fd) return;  // stderr: logged by the runtime, dropped here
  if (events_) events_->on_child_output(id, r.data);
}

}  // namespace lifeline::sim
