#include "runtime/worker/posix_worker_host.hpp"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/strays.hpp"
#include "runtime/common/proc_info.hpp"

namespace lifeline::runtime {

void PosixWorkerHost::write_stdout(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the gateway is gone; the lifeline will tell us
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string PosixWorkerHost::describe_process() {
  return "pid=" + std::to_string(getpid()) + " ppid=" + std::to_string(getppid()) +
         " pgid=" + std::to_string(getpgrp()) + " sid=" + std::to_string(getsid(0));
}

std::string PosixWorkerHost::list_fds() {
  std::string out;
  for (int fd : runtime::list_fds()) out += (out.empty() ? "" : " ") + std::to_string(fd);
  return out;
}

std::string PosixWorkerHost::spawn_background(int n, bool setsid) {
  for (int i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid < 0) return std::string("fork: ") + std::strerror(errno);
    if (pid == 0) {
      // A test grandchild: holds nothing of ours, sleeps until killed.
      if (setsid) ::setsid();
      // Not the worker's handlers or mask: a plain process that dies on TERM and KILL.
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      for (int s : {SIGTERM, SIGUSR2, SIGCHLD, SIGPIPE}) signal(s, SIG_DFL);
      int devnull = ::open("/dev/null", O_RDWR);
      for (int fd = 0; fd < 3; ++fd) dup2(devnull, fd);
      close_range(3, ~0U, 0);
      signal(SIGHUP, SIG_IGN);  // a stubborn one: only KILL works
      for (;;) pause();
    }
    forked_ = true;
    children_.push_back(pid);
  }
  return "";
}

void PosixWorkerHost::reap_children() {
  for (auto it = children_.begin(); it != children_.end();) {
    if (waitpid(*it, nullptr, WNOHANG) == *it)
      it = children_.erase(it);
    else
      ++it;
  }
}

void PosixWorkerHost::exit_with_containment(int code) {
  // Whom, and in what order, is the core's decision (core/strays.hpp); this only reads
  // the facts and acts. Our own children are killed before the group is read, so that
  // none of them forks past the scan.
  pid_t self = getpid();
  std::vector<int> mine(children_.begin(), children_.end());
  for (int pid : worker_exit_plan(self, /*forked=*/false, mine, {}, false).kill) kill(pid, SIGKILL);
  if (!forked_) _exit(code);  // the plan kills nothing more: spare the /proc scans
  std::string cg = own_cgroup2_dir();
  auto plan = worker_exit_plan(self, forked_, mine, pids_in_group(getpgrp()),
                               cg.find("/lifeline-") != std::string::npos);
  for (int pid : plan.kill) kill(pid, SIGKILL);
  if (plan.kill_own_cgroup) {
    int fd = ::open((cg + "/cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t ignored = ::write(fd, "1", 1);
      (void)ignored;
      close(fd);
    }
  }
  _exit(code);
}

void PosixWorkerHost::exit_without_containment(int code) {
  _exit(code);
}

void PosixWorkerHost::crash() {
  signal(SIGSEGV, SIG_DFL);
  raise(SIGSEGV);
  _exit(139);
}

ParentIdentity PosixWorkerHost::parent() {
  int ppid = static_cast<int>(getppid());
  auto st = read_proc_stat(ppid);
  return ParentIdentity{ppid, st ? st->start_ticks : 0};
}

}  // namespace lifeline::runtime
