#include "runtime/gateway/posix_process_control.hpp"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <set>

#include "core/strays.hpp"
#include "runtime/common/proc_info.hpp"
#include "runtime/common/stop_and_join.hpp"
#include "runtime/gateway/child_launch.hpp"
#include "runtime/gateway/clone_spawn.hpp"
#include "runtime/gateway/faults.hpp"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace lifeline::runtime {

namespace {

int pidfd_open(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}
int pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

int to_signo(Signal s) {
  switch (s) {
    case Signal::hup:
      return SIGHUP;
    case Signal::term:
      return SIGTERM;
    case Signal::kill:
      return SIGKILL;
  }
  return SIGKILL;
}

int status_of(const siginfo_t& info) {
  if (info.si_code == CLD_EXITED) return info.si_status;
  return 128 + info.si_status;
}

std::string errno_text(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

}  // namespace

struct PosixProcessControl::Child {
  ChildId id = 0;
  ChildKind kind = ChildKind::slash;
  pid_t pid = 0;
  int pgid = 0;
  std::uint64_t start_ticks = 0;  // for the ledger row
  bool exited = false;
  bool reaped = false;
  bool released = false;
  std::unique_ptr<asio::posix::stream_descriptor> pidfd;
  std::unique_ptr<asio::posix::stream_descriptor> input;   // stdin pipe or PTY master
  std::unique_ptr<asio::posix::stream_descriptor> output;  // stdout pipe or PTY master (dup)
  std::unique_ptr<asio::posix::stream_descriptor> errors;  // stderr pipe (slash only)
  int lifeline_write = -1;
  std::array<char, 65536> buf{};
  std::array<char, 4096> err_buf{};
  std::string err_line;
  std::deque<std::string> pending_writes;
  bool writing = false;
  bool output_paused = false;  // no new read is started (the PTY fills, the shell blocks)
  bool reading = false;        // a read of its output is outstanding
};

PosixProcessControl::PosixProcessControl(asio::io_context& io, Log& log,
                                         std::vector<std::string> child_env,
                                         CgroupContainment* cgroups)
    : io_(io), log_(log), child_env_(std::move(child_env)), cgroups_(cgroups) {
  // Orphaned grandchildren come to us, not to init: they stay ours to kill (rule 8).
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    log_.write(LogLevel::warn, errno_text("PR_SET_CHILD_SUBREAPER", errno));
  // Lives as long as we do: children's PR_SET_PDEATHSIG follows the thread that spawned
  // them, so it must not be a thread that comes and goes.
  spawner_ = std::thread([this] { spawner_loop(); });
}

PosixProcessControl::~PosixProcessControl() {
  stop_and_join(spawn_mu_, spawner_stopping_, {&spawn_cv_}, {&spawner_});
}

void PosixProcessControl::OwnedFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

int PosixProcessControl::gateway_pgid() const {
  return static_cast<int>(getpgrp());
}
std::int64_t PosixProcessControl::open_fds() const {
  return count_fds();
}
Json PosixProcessControl::containment() const {
  Json out = {{"escapees", cgroups_ ? cgroups_->description() : std::string("process-group")},
              {"subreaper", true},
              {"ledger", ledger_ != nullptr},
              {"terminals", terminal_supervisor_.empty() ? "unsupervised" : "supervised"}};
  const auto* limits = cgroups_ ? &cgroups_->limits() : nullptr;
  out["pids_max"] = limits && limits->pids_max ? Json(limits->pids_max) : Json(nullptr);
  out["memory_max"] = limits && limits->memory_max ? Json(limits->memory_max) : Json(nullptr);
  if (limits && !limits->note.empty()) out["limits_not_applied"] = limits->note;
  if (cgroups_ && !cgroups_->relocated_to().empty())
    out["gateway_cgroup"] = cgroups_->relocated_to();
  return out;
}

void PosixProcessControl::spawn(const SpawnSpec& spec, std::function<void(SpawnResult)> done) {
  // The clone happens on the spawner thread: a child's set-up and the start of its exec
  // (hundreds of microseconds, more under load) never stall the event loop. The
  // completion is delivered on the event loop, never inline (the port contract).
  ChildId id = next_id_++;
  {
    std::lock_guard lock(spawn_mu_);
    spawn_queue_.push_back({id, spec, std::move(done)});
  }
  spawn_cv_.notify_one();
}

void PosixProcessControl::spawner_loop() {
  // Our handlers run on the event loop's thread, never here.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, nullptr);
  for (;;) {
    SpawnJob job;
    {
      std::unique_lock lock(spawn_mu_);
      spawn_cv_.wait(lock, [this] { return spawner_stopping_ || !spawn_queue_.empty(); });
      if (spawner_stopping_) return;
      job = std::move(spawn_queue_.front());
      spawn_queue_.pop_front();
    }
    auto launch = std::make_shared<Launch>(do_launch(job.id, job.spec));
    asio::post(io_, [this, launch, done = std::move(job.done)] { adopt(*launch, done); });
  }
}

void PosixProcessControl::adopt(Launch& l, const std::function<void(SpawnResult)>& done) {
  if (!l.ok) {
    if (l.cgroup && cgroups_) cgroups_->remove(l.id);
    done(SpawnResult{false, 0, 0, 0, l.error});
    return;
  }
  bool pty = l.kind == ChildKind::pty;
  auto c = std::make_unique<Child>();
  c->id = l.id;
  c->kind = l.kind;
  c->pid = l.pid;
  c->pgid = l.pid;
  c->start_ticks = l.start_ticks;
  c->pidfd = std::make_unique<asio::posix::stream_descriptor>(io_, l.pidfd.release());
  c->lifeline_write = l.lifeline_write.release();
  if (pty) {
    int master = l.input.release();
    int dup_master = fcntl(master, F_DUPFD_CLOEXEC, 0);
    c->input = std::make_unique<asio::posix::stream_descriptor>(io_, master);
    c->output = std::make_unique<asio::posix::stream_descriptor>(io_, dup_master);
  } else {
    c->input = std::make_unique<asio::posix::stream_descriptor>(io_, l.input.release());
    c->output = std::make_unique<asio::posix::stream_descriptor>(io_, l.output.release());
    c->errors = std::make_unique<asio::posix::stream_descriptor>(io_, l.errors.release());
  }
  // read_output's coalescing reads directly: it must never block the loop.
  boost::system::error_code nb;
  c->output->native_non_blocking(true, nb);
  children_.emplace(l.id, std::move(c));
  {
    std::lock_guard lock(launch_mu_);
    launched_.erase(l.pid);  // from here on children_ knows it
  }
  watch_exit(l.id);
  done(SpawnResult{true, l.id, l.pid, l.pid, ""});
  // Only now that the core has adopted the child may its output flow: bytes read
  // earlier would reach a core that does not know the child yet, and be lost.
  read_output(l.id);
  if (!pty) read_stderr(l.id);
}

// The fds of one launch while it is under way: whatever is still held on any way out is
// closed here; what the Launch keeps is taken out first.
struct PosixProcessControl::LaunchFds {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, life[2] = {-1, -1},
      status[2] = {-1, -1};
  int master = -1;         // a terminal's PTY master
  std::string slave_name;  // and its slave's path
  LaunchFds() = default;
  LaunchFds(const LaunchFds&) = delete;
  LaunchFds& operator=(const LaunchFds&) = delete;
  ~LaunchFds() {
    for (int* p : {in, out, err, life, status})
      for (int i = 0; i < 2; ++i) drop(p[i]);
    drop(master);
  }
  static void drop(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
  static int take(int& fd) {
    int kept = fd;
    fd = -1;
    return kept;
  }
};

// Pipes, and for a terminal its PTY sized as asked: "" or what failed.
std::string PosixProcessControl::open_channels(const SpawnSpec& spec, LaunchFds& f) {
  if (fault(Fault::spawn_pipe)) return "pipe: injected fault (EMFILE)";
  if (pipe2(f.status, O_CLOEXEC) != 0 || pipe2(f.life, O_CLOEXEC) != 0)
    return errno_text("pipe", errno);
  if (spec.kind != ChildKind::pty) {
    if (pipe2(f.in, O_CLOEXEC) != 0 || pipe2(f.out, O_CLOEXEC) != 0 || pipe2(f.err, O_CLOEXEC) != 0)
      return errno_text("pipe", errno);
    return "";
  }
  f.master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  char name[128];
  if (f.master < 0 || grantpt(f.master) != 0 || unlockpt(f.master) != 0 ||
      ptsname_r(f.master, name, sizeof name) != 0)
    return errno_text("pty", errno);
  f.slave_name = name;
  winsize ws{};
  ws.ws_col = static_cast<unsigned short>(spec.cols);
  ws.ws_row = static_cast<unsigned short>(spec.rows);
  ioctl(f.master, TIOCSWINSZ, &ws);
  return "";
}

// What the child runs, as whom, and with which of the launch's fds (child_launch.hpp).
void PosixProcessControl::plan_child(const SpawnSpec& spec, const LaunchFds& f, ChildPlan& plan) {
  bool pty = spec.kind == ChildKind::pty;
  plan.supervised = pty && !terminal_supervisor_.empty();
  plan.uid = child_uid_;
  plan.gid = child_gid_;
  if (plan.supervised)
    plan.argv_store = {
        terminal_supervisor_, "--terminal", "--lifeline-fd", "3", "--exec-status-fd", "4", "--"};
  plan.argv_store.insert(plan.argv_store.end(), spec.argv.begin(), spec.argv.end());
  if (!pty) {
    plan.argv_store.push_back("--lifeline-fd");
    plan.argv_store.push_back("3");
  }
  for (auto& a : plan.argv_store) plan.argv.push_back(a.data());
  plan.argv.push_back(nullptr);
  for (auto& e : child_env_) plan.envp.push_back(e.data());
  plan.envp.push_back(nullptr);
  plan.parent = getpid();
  plan.pty = pty;
  // SIGUSR2 is the lifeline's second tripwire for the worker and the supervisor; an
  // unsupervised shell gets a hang-up.
  plan.deathsig = pty && !plan.supervised ? SIGHUP : SIGUSR2;
  plan.slave_name = f.slave_name.c_str();
  plan.in = f.in[0];
  plan.out = f.out[1];
  plan.err = f.err[1];
  plan.life = f.life[0];
  plan.status = f.status[1];
}

// The exec's outcome: the status pipe closes on exec, or carries the errno of what
// failed. The child's ends are closed either way. "" or what failed (the child reaped).
std::string PosixProcessControl::await_exec(int pid, int& pidfd, LaunchFds& f) {
  LaunchFds::drop(f.status[1]);
  int child_errno = 0;
  ssize_t got;
  do got = read(f.status[0], &child_errno, sizeof child_errno);
  while (got < 0 && errno == EINTR);
  int read_errno = errno;
  LaunchFds::drop(f.status[0]);
  for (int* p : {f.in + 0, f.out + 1, f.err + 1, f.life + 0}) LaunchFds::drop(*p);
  if (got <= 0 && pidfd >= 0) return "";
  int e = got > 0 ? child_errno : read_errno;
  if (pidfd < 0) kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);  // it has exited (or is dying): reap it now
  {
    std::lock_guard lock(launch_mu_);
    launched_.erase(pid);
  }
  LaunchFds::drop(pidfd);
  return errno_text(got > 0 ? "exec" : "pidfd_open", e);
}

PosixProcessControl::Launch PosixProcessControl::do_launch(ChildId id, const SpawnSpec& spec) {
  Launch l;
  l.id = id;
  l.kind = spec.kind;
  auto failed = [&l](std::string what) {
    l.ok = false;
    l.error = std::move(what);
    return std::move(l);
  };
  if (spec.argv.empty() || spec.argv[0].empty()) return failed("empty command");
  LaunchFds f;
  if (std::string why = open_channels(spec, f); !why.empty()) return failed(why);
  ChildPlan plan;
  plan_child(spec, f, plan);
  // mkdir only: CgroupContainment's bookkeeping stays on the event loop (adopt()).
  std::string cgroup_procs = cgroups_ ? cgroups_->create(id) : "";
  if (!cgroup_procs.empty()) plan.cgroup_procs = cgroup_procs.c_str();
  l.cgroup = !cgroup_procs.empty();
  if (fault(Fault::spawn_fork)) return failed("fork: injected fault (EAGAIN)");
  // The pidfd is made with the child (this incarnation, never a bare pid) and, with
  // cgroups, the child is born in its own cgroup instead of migrating into it.
  int cgroup_fd = cgroup_procs.empty()
                      ? -1
                      : open(cgroups_->dir(id).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  Spawned spawned;
  {
    // kill_and_reap_strays() must never take a child of ours, launched but not yet adopted,
    // for a stray: from before the clone until its pid is listed, it waits.
    std::lock_guard lock(launch_mu_);
    spawned = clone_spawn(run_child, &plan, cgroup_fd);
    if (spawned.pid > 0) launched_.insert(spawned.pid);
  }
  if (cgroup_fd >= 0) close(cgroup_fd);
  if (spawned.pid < 0) return failed(errno_text("fork", spawned.errno_value));
  pid_t pid = spawned.pid;
  // Parent. Hold a pidfd before anything else: this incarnation, never a bare pid.
  int pidfd = spawned.pidfd >= 0 ? spawned.pidfd : pidfd_open(pid);
  if (fault(Fault::spawn_pidfd) && pidfd >= 0) {
    LaunchFds::drop(pidfd);
    errno = EMFILE;
  }
  if (std::string why = await_exec(pid, pidfd, f); !why.empty()) return failed(why);
  keep(l, pid, pidfd, f);
  return l;
}

// The launch succeeded: the Launch takes the gateway's ends, and the ledger the child.
void PosixProcessControl::keep(Launch& l, int pid, int pidfd, LaunchFds& f) {
  l.ok = true;
  l.pid = pid;
  l.pidfd.reset(pidfd);
  l.lifeline_write.reset(LaunchFds::take(f.life[1]));
  if (l.kind == ChildKind::pty) {
    l.input.reset(LaunchFds::take(f.master));
  } else {
    l.input.reset(LaunchFds::take(f.in[1]));
    l.output.reset(LaunchFds::take(f.out[0]));
    l.errors.reset(LaunchFds::take(f.err[0]));
  }
  if (!ledger_) return;
  // Queued to the store before the event loop even adopts the child, so that a successor
  // can finish the job if we are SIGKILLed (rule 8); the row is durable with the store's
  // next commit. Reading the start time waits for the exec to get going, on this (the
  // spawner) thread.
  auto st = read_proc_stat(pid);
  l.start_ticks = st ? st->start_ticks : 0;
  ledger_->ledger_add({pid, l.start_ticks, pid, l.cgroup ? cgroups_->dir(l.id) : ""});
}

void PosixProcessControl::watch_exit(ChildId id) {
  auto it = children_.find(id);
  if (it == children_.end() || it->second->released) return;
  it->second->pidfd->async_wait(
      asio::posix::stream_descriptor::wait_read, [this, id](const boost::system::error_code& ec) {
        if (ec) return;
        auto it = children_.find(id);
        if (it == children_.end() || it->second->exited) return;
        Child& c = *it->second;
        siginfo_t info{};
        // Observe without reaping: the zombie keeps the pid and
        // the group id reserved until the core says reap().
        if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(c.pidfd->native_handle()),
                   &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
            info.si_pid == 0) {
          watch_exit(id);
          return;
        }
        c.exited = true;
        if (events_) events_->on_child_exit(id, status_of(info));
      });
}

void PosixProcessControl::pause_output(ChildId id, bool paused) {
  auto it = children_.find(id);
  if (it == children_.end() || it->second->released) return;
  Child& c = *it->second;
  c.output_paused = paused;
  if (!paused && !c.reading) read_output(id);
}

void PosixProcessControl::read_output(ChildId id) {
  auto it = children_.find(id);
  if (it == children_.end() || it->second->released) return;
  Child& c = *it->second;
  if (c.output_paused || c.reading) return;
  c.reading = true;
  c.output->async_read_some(
      asio::buffer(c.buf), [this, id](const boost::system::error_code& ec, std::size_t n) {
        auto it = children_.find(id);
        if (it == children_.end() || it->second->released) return;
        it->second->reading = false;
        if (fault(Fault::read)) {
          log_.write(LogLevel::warn, "read from child " + std::to_string(it->second->pid) +
                                         ": injected fault; no more output from it");
          return;
        }
        // Coalesce: a PTY hands out about 4 KiB per read, so whatever more is ready now
        // joins this chunk, up to the buffer, in one event and one frame. The fd is
        // non-blocking (Asio made it so), so a lone keystroke waits for nothing.
        Child& ch = *it->second;
        while (n > 0 && !ec && n < ch.buf.size()) {
          ssize_t more = ::read(ch.output->native_handle(), ch.buf.data() + n, ch.buf.size() - n);
          if (more <= 0) break;  // EAGAIN: nothing more yet; EOF or EIO: the next read says
          n += static_cast<std::size_t>(more);
        }
        if (n > 0 && events_) events_->on_child_output(id, std::string_view(ch.buf.data(), n));
        if (!ec) read_output(id);  // EOF or EIO (PTY slave closed): stop; the exit will come
      });
}

void PosixProcessControl::read_stderr(ChildId id) {
  auto it = children_.find(id);
  if (it == children_.end() || it->second->released) return;
  Child& c = *it->second;
  c.errors->async_read_some(
      asio::buffer(c.err_buf), [this, id](const boost::system::error_code& ec, std::size_t n) {
        auto it = children_.find(id);
        if (it == children_.end() || it->second->released) return;
        Child& c = *it->second;
        c.err_line.append(c.err_buf.data(), n);
        std::size_t nl;
        while ((nl = c.err_line.find('\n')) != std::string::npos) {
          log_.write(LogLevel::info,
                     "worker pid " + std::to_string(c.pid) + ": " + c.err_line.substr(0, nl));
          c.err_line.erase(0, nl + 1);
        }
        if (c.err_line.size() > 4096) c.err_line.clear();
        if (!ec) read_stderr(id);
      });
}

void PosixProcessControl::signal(ChildId id, Signal sig, Scope scope) {
  auto it = children_.find(id);
  if (it == children_.end() || it->second->reaped) {
    log_.write(LogLevel::error,
               "refusing to signal child " + std::to_string(id) + ": reaped or unknown");
    return;
  }
  Child& c = *it->second;
  int signo = to_signo(sig);
  if (scope != Scope::process) {
    // Escapees that left the group are still in the child's cgroup.
    if (scope == Scope::containment && cgroups_) cgroups_->kill(id);
    // Safe from reuse: the leader is unreaped, so its pid (= the group id) is reserved.
    if (c.pgid <= 1 || c.pgid == getpgrp()) return;
    if (kill(-c.pgid, signo) != 0 && errno != ESRCH)
      log_.write(LogLevel::warn, errno_text("kill(group)", errno));
  } else if (pidfd_send_signal(c.pidfd->native_handle(), signo) != 0 && errno != ESRCH) {
    log_.write(LogLevel::warn, errno_text("pidfd_send_signal", errno));
  }
}

void PosixProcessControl::reap(ChildId id) {
  auto it = children_.find(id);
  if (it == children_.end() || it->second->reaped) return;
  Child& c = *it->second;
  siginfo_t info{};
  if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(c.pidfd->native_handle()), &info,
             WEXITED | WNOHANG) != 0)
    log_.write(LogLevel::warn, errno_text("waitid", errno));
  c.reaped = true;
}

void PosixProcessControl::release(ChildId id) {
  auto it = children_.find(id);
  if (it == children_.end()) return;
  Child& c = *it->second;
  c.released = true;
  boost::system::error_code ignored;
  for (auto* d : {&c.pidfd, &c.input, &c.output, &c.errors})
    if (*d) (*d)->close(ignored);
  if (c.lifeline_write >= 0) close(c.lifeline_write);
  if (cgroups_) cgroups_->remove(id);
  if (ledger_) ledger_->ledger_remove(c.pid, c.start_ticks);
  // Handlers still queued find the entry gone and do nothing.
  children_.erase(it);
}

bool PosixProcessControl::write(ChildId id, std::string_view bytes) {
  auto it = children_.find(id);
  if (it == children_.end() || it->second->released || it->second->exited) return false;
  if (fault(Fault::write)) return false;
  Child& c = *it->second;
  constexpr std::size_t max_pending = 4096;
  if (c.pending_writes.size() >= max_pending) return false;
  c.pending_writes.emplace_back(bytes);
  if (!c.writing) flush_writes(id);
  return true;
}

std::int64_t PosixProcessControl::unwritten(ChildId id) const {
  auto it = children_.find(id);
  if (it == children_.end()) return 0;
  std::int64_t n = 0;
  for (const auto& w : it->second->pending_writes) n += static_cast<std::int64_t>(w.size());
  return n;
}

void PosixProcessControl::flush_writes(ChildId id) {
  auto it = children_.find(id);
  if (it == children_.end() || it->second->released) return;
  Child& c = *it->second;
  if (c.pending_writes.empty()) {
    c.writing = false;
    return;
  }
  c.writing = true;
  asio::async_write(*c.input, asio::buffer(c.pending_writes.front()),
                    [this, id](const boost::system::error_code& ec, std::size_t) {
                      auto it = children_.find(id);
                      if (it == children_.end() || it->second->released) return;
                      it->second->pending_writes.pop_front();
                      if (ec) {
                        it->second->pending_writes.clear();
                        it->second->writing = false;
                        return;  // the child is gone or closed its input: its exit follows
                      }
                      flush_writes(id);
                    });
}

void PosixProcessControl::resize(ChildId id, int cols, int rows) {
  auto it = children_.find(id);
  if (it == children_.end() || it->second->kind != ChildKind::pty || it->second->released) return;
  winsize ws{};
  ws.ws_col = static_cast<unsigned short>(cols);
  ws.ws_row = static_cast<unsigned short>(rows);
  ioctl(it->second->input->native_handle(), TIOCSWINSZ, &ws);
}

void PosixProcessControl::kill_and_reap_strays() {
  if (cgroups_) cgroups_->retry_removals();
  std::set<int> ours;
  for (const auto& [id, c] : children_) ours.insert(c->pid);
  std::vector<int> pids = children_of(getpid());
  if (std::all_of(pids.begin(), pids.end(), [&](int pid) { return ours.count(pid) > 0; })) return;
  // A pid listed above existed before this lock: if the spawner made it, it is in
  // launched_ by now (the spawner holds the lock from its clone to that insert).
  std::lock_guard lock(launch_mu_);
  ours.insert(launched_.begin(), launched_.end());
  std::vector<ProcStat> unknown;
  for (int pid : pids)
    if (!ours.count(pid))
      if (auto st = read_proc_stat(pid)) unknown.push_back(*st);
  // Whom to kill and reap is the core's decision (core/strays.hpp), the simulator's too.
  StrayDecision strays = stray_decision(unknown, ours);
  for (int pid : strays.kill) {
    kill(pid, SIGKILL);
    // A stray may take a while to die: it is counted and logged once, not per sweep.
    if (strays_dying_.insert(pid).second) {
      ++strays_killed_;
      log_.write(LogLevel::warn, "killed stray pid " + std::to_string(pid) +
                                     " (an escaped grandchild reparented to the gateway)");
    }
  }
  for (int pid : strays.reap)
    if (waitpid(pid, nullptr, WNOHANG) == pid) strays_dying_.erase(pid);
}

}  // namespace lifeline::runtime
