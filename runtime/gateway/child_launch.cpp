#include "runtime/gateway/child_launch.hpp"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "runtime/gateway/clone_spawn.hpp"

namespace lifeline::runtime {

// The child, from clone to exec.
int run_child(void* arg, bool born_in_cgroup) {
  const auto& plan = *static_cast<const ChildPlan*>(arg);
  reset_signal_handlers_for_child();
  for (int s : {SIGPIPE, SIGHUP, SIGTERM, SIGINT, SIGCHLD, SIGUSR2}) ::signal(s, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  setsid();  // a new session and process group, led by this child
  prctl(PR_SET_PDEATHSIG, plan.deathsig);
  if (getppid() != plan.parent) return 127;  // the gateway died before the tripwire was set
  int fail_errno = 0;
  bool drop_credentials = plan.uid >= 0;
  if (plan.cgroup_procs && !born_in_cgroup) {
    // Join this child's own cgroup before anything else can fork.
    int fd = open(plan.cgroup_procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) fail_errno = errno ? errno : EIO;
    if (fd >= 0) close(fd);
  }
  if (fail_errno) {
  } else if (plan.pty) {
    // Unsupervised, the shell itself: the slave becomes its controlling terminal. The
    // supervisor instead leaves that to the shell it forks (O_NOCTTY here).
    int slave = open(plan.slave_name, plan.supervised ? O_RDWR | O_NOCTTY : O_RDWR);
    if (slave < 0) fail_errno = errno;
    if (!fail_errno) {
      if (!plan.supervised) ioctl(slave, TIOCSCTTY, 0);
      dup2(slave, 0);
      dup2(slave, 1);
      dup2(slave, 2);
      if (plan.supervised) dup2(plan.life, 3);
    }
  } else {
    dup2(plan.in, 0);
    dup2(plan.out, 1);
    dup2(plan.err, 2);
    dup2(plan.life, 3);
  }
  if (!fail_errno && drop_credentials) {
    // --child-user: raw syscalls, this thread only (glibc's setuid would try to signal
    // every thread of the process we share memory with). After the fds are open (the PTY
    // slave is root's), before exec. A credential change clears the parent-death signal:
    // set it again, and check again that the gateway is still there.
    if (syscall(SYS_setgroups, 0, nullptr) != 0 ||
        syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0 ||
        syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0)
      fail_errno = errno ? errno : EPERM;
    prctl(PR_SET_PDEATHSIG, plan.deathsig);
    if (getppid() != plan.parent) return 127;
  }
  dup2(plan.status, 4);
  // The supervisor keeps the exec-status pipe across its exec and hands it to the shell,
  // so that a --pty-cmd that cannot run is still a spawn failure (5030).
  if (!plan.supervised) fcntl(4, F_SETFD, FD_CLOEXEC);
  // Only 0-3 (and the exec-status pipe, closed by exec) survive.
  if (!fail_errno && close_range(5, ~0U, 0) != 0) fail_errno = errno;
  if (!fail_errno) {
    execve(plan.argv[0], plan.argv.data(), plan.envp.data());
    fail_errno = errno;
  }
  ssize_t ignored = ::write(4, &fail_errno, sizeof fail_errno);
  (void)ignored;
  return 127;
}

}  // namespace lifeline::runtime
