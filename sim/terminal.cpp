#include "sim/terminal.hpp"

#include <memory>
#include <vector>

#include "core/containment.hpp"
#include "sim/processes.hpp"
#include "sim/world.hpp"

namespace lifeline::sim {

void TerminalSupervisorProgram::on_start() {
  Kernel& k = w_.kernel;
  inc_ = k.find(pid_)->inc;
  k.set_subreaper(pid_);  // a setsid or double-forked descendant comes back to us
  SpawnOptions shell;
  shell.name = "pty-shell";
  shell.new_session = true;  // setsid(), then TIOCSCTTY on the slave at fd 0
  shell.ctty = pty_;
  shell.close_from = 3;  // the lifeline stays ours
  shell_ = k.spawn(pid_, shell);
  if (shell_ < 0) return contain_and_exit(127);  // fork failed: the exec-status path
  shell_inc_ = k.find(shell_)->inc;
  k.run(shell_, std::make_unique<ShellProgram>(w_, shell_), 0);
  k.watch(pid_, 3);  // the lifeline: the gateway never writes, so readable means EOF
}

void TerminalSupervisorProgram::on_signal(SimSignal sig) {
  if (done_ || shell_reaped_) return;
  w_.kernel.killpg(shell_, sig);  // its group id is reserved while it is unreaped
  if (sig != SimSignal::term || stopping_) return;
  // TERM: the shell gets half a second, then the whole tree is killed.
  stopping_ = true;
  w_.sched.after(500, inc_, [this, alive = alive_] {
    if (*alive) contain_and_exit(128 + 15);
  });
}

void TerminalSupervisorProgram::on_readable(int fd) {
  ReadResult r = w_.kernel.read(pid_, fd);
  if (fd == 3 && r.eof) {
    w_.trace("terminal.lifeline_eof", "\"pid\":" + std::to_string(pid_));
    contain_and_exit(1);
  }
}

void TerminalSupervisorProgram::on_child_changed() {
  reap_children();
  if (shell_reaped_) contain_and_exit(shell_status_);
}

void TerminalSupervisorProgram::reap_children() {
  Kernel& k = w_.kernel;
  for (int pid : k.children_of(pid_)) {
    const Process* c = k.find(pid);
    if (!c || !c->zombie) continue;
    if (pid == shell_ && c->inc == shell_inc_) {
      shell_reaped_ = true;
      shell_status_ = c->status;
    }
    k.reap(pid_, pid, c->inc);
  }
}

void TerminalSupervisorProgram::contain_and_exit(int status) {
  if (done_) return;
  done_ = true;
  Kernel& k = w_.kernel;
  const Process* me = k.find(pid_);
  int cgroup = me ? me->cgroup : 0;
  if (shell_ > 0 && !shell_reaped_) k.killpg(shell_, SimSignal::kill);
  // The facts a /proc scan and cgroup.procs would give; the decision is the core's.
  std::vector<ProcStat> table;
  std::vector<int> members;
  for (const auto& [pid, p] : k.processes()) {
    table.push_back(ProcStat{pid, p.zombie ? ProcState::zombie : ProcState::alive, p.ppid, p.pgid,
                             p.sid, p.start_ticks});
    if (cgroup != 0 && p.cgroup == cgroup) members.push_back(pid);
  }
  for (int pid : containment_victims(table, pid_, members)) k.kill(pid, SimSignal::kill);
  reap_children();
  k.exit(pid_, status);
}

void ShellProgram::on_start() {
  // Like an interactive shell with a job in the background: same group, deaf to HUP,
  // so a close that signals only the leader leaves it behind; its supervisor's
  // containment is what reaches it, after a gateway SIGKILL too.
  SpawnOptions job;
  job.name = "pty-job";
  job.close_from = 0;
  job.ctty = w_.kernel.find(pid_)->ctty;
  job.on_hup = Disposition::ignore;
  if (int pid = w_.kernel.spawn(pid_, job); pid > 0)
    w_.kernel.run(pid, std::make_unique<SleeperProgram>(w_, pid, false), 0);
  w_.kernel.watch(pid_, 0);
}

void ShellProgram::on_readable(int fd) {
  ReadResult r = w_.kernel.read(pid_, fd);
  if (!r.data.empty()) w_.kernel.write(pid_, 1, r.data);
  if (r.eof) w_.kernel.exit(pid_, 0);
}

}  // namespace lifeline::sim
