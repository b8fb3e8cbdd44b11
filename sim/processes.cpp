#include "sim/processes.hpp"

#include "core/strays.hpp"
#include "sim/world.hpp"

namespace lifeline::sim {

namespace {
SpawnOptions grandchild_options(bool setsid) {
  SpawnOptions o;
  o.name = setsid ? "escapee" : "grandchild";
  o.new_session = setsid;
  o.close_from = 0;  // like the runtime's test children: holds none of our fds
  o.on_hup = Disposition::ignore;
  o.on_term = Disposition::terminate;
  return o;
}
}  // namespace

WorkerProgram::WorkerProgram(World& world, int pid, WorkerConfig config,
                             std::vector<std::uint64_t> expected_files)
    : w_(world),
      pid_(pid),
      inc_(world.kernel.find(pid)->inc),
      born_under_(world.kernel.find(world.kernel.find(pid)->ppid)->inc),
      config_(std::move(config)),
      expected_files_(std::move(expected_files)),
      clock_(world.sched, inc_) {
  if (w_.config.workers_exit_slowly && w_.rng.chance(50)) exit_delay_ = w_.rng.between(10, 3000);
}

WorkerProgram::~WorkerProgram() = default;

const Process* WorkerProgram::self() const {
  return w_.kernel.find(pid_);
}

void WorkerProgram::on_start() {
  // Rule 8: a worker holds exactly stdin, stdout, stderr and its lifeline.
  const Process* p = self();
  bool exact = p->fds.size() == expected_files_.size();
  for (std::size_t fd = 0; exact && fd < p->fds.size(); ++fd)
    exact = p->fds[fd].file == expected_files_[fd];
  if (!w_.kernel.alive(born_under_)) ++w_.counters.lifeline_at_start;
  if (!exact)
    w_.violate(Inv::worker_holds_only_its_own_fds_0_3,
               "worker pid " + std::to_string(pid_) + " holds " +
                   std::to_string(w_.kernel.fd_count(pid_)) +
                   " fds, not exactly its stdin, stdout, stderr and lifeline");
  loop_ = std::make_unique<WorkerLoop>(config_, clock_, *this, *this, *this);
  loop_->start();
  // The first poll: a gateway that died between fork and now is already visible (no
  // startup window), as EOF on the lifeline.
  w_.kernel.watch(pid_, 0);
  w_.kernel.watch(pid_, config_.lifeline_fd);
}

void WorkerProgram::on_readable(int fd) {
  if (!loop_ || loop_->exited() || exiting_) return;
  // Like the runtime's ppoll loop, the lifeline is looked at before stdin.
  ReadResult life = w_.kernel.read(pid_, config_.lifeline_fd);
  if (life.eof || !life.data.empty()) {
    if (!loop_->orphaned()) {
      ++w_.counters.orphaned_workers;
      w_.trace("worker.lifeline_eof", "\"pid\":" + std::to_string(pid_));
      loop_->on_lifeline_eof();
    }
    if (fd == config_.lifeline_fd || loop_->exited() || exiting_) return;
  }
  if (fd == config_.lifeline_fd) return;
  ReadResult r = w_.kernel.read(pid_, fd);
  if (!r.data.empty()) loop_->on_stdin(r.data);
  if (r.eof && stdin_open_) {
    stdin_open_ = false;
    if (loop_ && !loop_->exited()) loop_->on_stdin_eof();
  }
}

void WorkerProgram::on_signal(SimSignal sig) {
  // The runtime worker's HUP/TERM handler: take what we made with us, then exit.
  if (exiting_) return;
  if (sig == SimSignal::hup || sig == SimSignal::term)
    exit_with_containment(128 + static_cast<int>(sig));
}

void WorkerProgram::on_child_changed() {
  for (auto it = children_.begin(); it != children_.end();) {
    const Process* c = w_.kernel.find(it->first);
    if (c && c->inc == it->second && c->zombie && c->ppid == pid_) {
      w_.kernel.reap(pid_, it->first, it->second);
      it = children_.erase(it);
    } else {
      ++it;
    }
  }
  // Zombies of double-forked intermediates we did not record.
  for (int pid : w_.kernel.children_of(pid_))
    if (const Process* c = w_.kernel.find(pid); c && c->zombie) w_.kernel.reap(pid_, pid, c->inc);
}

void WorkerProgram::write_stdout(std::string_view bytes) {
  w_.kernel.write(pid_, 1, bytes);
}

std::string WorkerProgram::describe_process() {
  const Process* p = self();
  return "pid " + std::to_string(p->pid) + " ppid " + std::to_string(p->ppid) + " pgid " +
         std::to_string(p->pgid) + " sid " + std::to_string(p->sid);
}

std::string WorkerProgram::list_fds() {
  std::string out;
  const Process* p = self();
  for (std::size_t fd = 0; fd < p->fds.size(); ++fd)
    if (p->fds[fd].file) out += (out.empty() ? "" : " ") + std::to_string(fd);
  return out;
}

std::string WorkerProgram::spawn_background(int n, bool setsid) {
  for (int i = 0; i < n; ++i) {
    int pid = w_.kernel.spawn(pid_, grandchild_options(setsid));
    if (pid < 0) return "fork: Resource temporarily unavailable";
    // A setsid'd double fork is reachable only through a cgroup; one that stays in the
    // worker's group only through the group kill of the worker's exit (core/strays.hpp).
    bool double_fork = setsid ? w_.config.cgroups && w_.rng.chance(50) : w_.rng.chance(25);
    w_.kernel.run(pid, std::make_unique<SleeperProgram>(w_, pid, double_fork, !setsid), 0);
    children_.push_back({pid, w_.kernel.find(pid)->inc});
    forked_ = true;
  }
  return "";
}

void WorkerProgram::exit_with_containment(int code) {
  if (exiting_) return;
  exiting_ = true;
  if (exit_delay_ > 0) {
    // A slow exit: still alive (and still holding everything) for a while.
    w_.sched.after(exit_delay_, inc_, [this, code] { finish_exit(code); });
    return;
  }
  finish_exit(code);
}

void WorkerProgram::finish_exit(int code) {
  Kernel& k = w_.kernel;
  const Process* me = self();
  int pgid = me->pgid, cgroup = me->cgroup;
  // The production policy (core/strays.hpp): whom, in what order. The model only
  // reports the facts and acts, as the runtime worker does.
  std::vector<int> mine;
  for (auto& [pid, inc] : children_)
    if (const Process* c = k.find(pid); c && c->inc == inc) mine.push_back(pid);
  for (int pid : worker_exit_plan(pid_, /*forked=*/false, mine, {}, false).kill)
    k.kill(pid, SimSignal::kill);
  bool forked = forked_;
  auto plan = worker_exit_plan(pid_, forked, mine,
                               forked ? k.group_members(pgid) : std::vector<int>{}, cgroup != 0);
  for (int pid : plan.kill) k.kill(pid, SimSignal::kill);
  if (plan.kill_own_cgroup) k.cgroup_kill(cgroup);
  // docs/DESIGN.md rule 8, checked at the moment it applies: a worker leaving because its
  // gateway is gone takes its containment with it - its group, and its cgroup where it
  // has one of its own - since no gateway is left to do it.
  if (!k.alive(born_under_))
    for (const auto& [pid, q] : k.processes())
      if (pid != pid_ && !q.zombie && ((cgroup != 0 && q.cgroup == cgroup) || q.pgid == pgid)) {
        w_.violate(Inv::an_orphaned_worker_takes_its_containment_with_it,
                   "worker pid " + std::to_string(pid_) + " left pid " + std::to_string(pid) +
                       " (" + q.name + ") alive in its " +
                       (q.pgid == pgid ? "process group" : "cgroup"));
        break;
      }
  k.exit(pid_, code);
}

void WorkerProgram::exit_without_containment(int code) {
  w_.kernel.exit(pid_, code);
}

void WorkerProgram::crash() {
  w_.kernel.exit(pid_, 128 + 11);
}

ParentIdentity WorkerProgram::parent() {
  const Process* me = self();
  const Process* parent = w_.kernel.find(me->ppid);
  ParentIdentity id{me->ppid, parent ? parent->start_ticks : 0};
  // /proc/<ppid>/stat can be unreadable for a moment: the probe then says "unknown".
  if (w_.config.flaky_parent_probe && w_.rng.chance(30)) {
    id.start_ticks = 0;
    ++w_.counters.false_orphan_checks;
  }
  return id;
}

void WorkerProgram::write(LogLevel, std::string_view message) {
  // Rule 7's other half: a worker whose gateway is alive must never condemn itself.
  if (message.starts_with("orphaned (") && w_.kernel.alive(born_under_))
    w_.violate(Inv::no_false_orphan_verdict,
               "worker pid " + std::to_string(pid_) +
                   " declared itself orphaned while its gateway lives: " + std::string(message));
  if (w_.tracing_notes()) w_.note("worker " + std::to_string(pid_), message);
}

void SleeperProgram::on_start() {
  if (!double_fork_) return;
  SpawnOptions o = grandchild_options(!in_group_);
  o.name = in_group_ ? "double-forked-in-group" : "double-forked";
  int pid = w_.kernel.spawn(pid_, o);
  if (pid > 0) w_.kernel.run(pid, std::make_unique<SleeperProgram>(w_, pid, false), 0);
  w_.kernel.exit(pid_, 0);
}

}  // namespace lifeline::sim
