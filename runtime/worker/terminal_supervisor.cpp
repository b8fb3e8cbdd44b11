#include "runtime/worker/terminal_supervisor.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>

#include "core/containment.hpp"
#include "runtime/common/proc_info.hpp"

namespace lifeline::runtime {

namespace {

bool parse_fd(const std::string& text, int& out) {
  int fd = -1;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), fd);
  if (ec != std::errc() || p != text.data() + text.size() || fd < 0) return false;
  out = fd;
  return true;
}

std::int64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

int status_of(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return 1;
}

// The shell, from fork to exec: a session leader on the PTY (fds 0-2), holding nothing
// else of ours. Only async-signal-safe calls.
[[noreturn]] void exec_shell(const TerminalOptions& o, char* const* argv) {
  sigset_t none;
  sigemptyset(&none);
  for (int s : {SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGUSR2, SIGPIPE}) signal(s, SIG_DFL);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  prctl(PR_SET_PDEATHSIG, 0);
  setsid();
  ioctl(STDIN_FILENO, TIOCSCTTY, 0);
  // The exec-status pipe closes itself on exec; everything else of ours is closed now.
  fcntl(o.exec_status_fd, F_SETFD, FD_CLOEXEC);
  if (o.exec_status_fd > 3) close_range(3, static_cast<unsigned>(o.exec_status_fd) - 1, 0);
  close_range(static_cast<unsigned>(o.exec_status_fd) + 1, ~0U, 0);
  if (o.exec_status_fd != 3) close(3);
  execve(argv[0], argv, environ);
  int e = errno;
  ssize_t ignored = ::write(o.exec_status_fd, &e, sizeof e);
  (void)ignored;
  _exit(127);
}

class Supervisor {
 public:
  Supervisor(const TerminalOptions& o, int signals) : o_(o), signals_(signals) {}

  int run(pid_t shell) {
    shell_ = shell;
    for (;;) {
      pollfd fds[2] = {{o_.lifeline_fd, POLLIN, 0}, {signals_, POLLIN, 0}};
      int timeout = -1;
      if (kill_at_ >= 0) timeout = static_cast<int>(std::max<std::int64_t>(0, kill_at_ - now_ms()));
      int n = poll(fds, 2, timeout);
      if (n < 0 && errno != EINTR) return kill_everything(1);
      // The gateway never writes to the lifeline: readable means it is gone.
      if (n > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) return kill_everything(1);
      if (n > 0 && (fds[1].revents & POLLIN) && drain_signals()) return kill_everything(1);
      if (shell_reaped_) return kill_everything(shell_status_);
      if (kill_at_ >= 0 && now_ms() >= kill_at_) return kill_everything(128 + SIGTERM);
    }
  }

 private:
  // Returns true when the gateway died (its parent-death signal).
  bool drain_signals() {
    signalfd_siginfo si{};
    while (read(signals_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      switch (si.ssi_signo) {
        case SIGCHLD:
          reap();
          break;
        case SIGUSR2:
          return true;
        case SIGHUP:
          signal_shell(SIGHUP);  // the terminal hung up
          break;
        default:  // SIGTERM, SIGINT, SIGQUIT: stop; the rest gets half a second
          signal_shell(SIGTERM);
          if (kill_at_ < 0) kill_at_ = now_ms() + 500;
          break;
      }
    }
    return false;
  }

  void signal_shell(int sig) {
    if (shell_reaped_) return;  // its pid, and so its group id, may be anyone's now
    kill(-shell_, sig);
    kill(shell_, sig);  // in case it has not reached setsid() yet
  }

  // Reaps every child that exited (the shell, and orphans adopted as subreaper).
  // Returns false when no child is left at all.
  bool reap() {
    for (;;) {
      int wstatus = 0;
      pid_t pid = waitpid(-1, &wstatus, WNOHANG);
      if (pid == 0) return true;
      if (pid < 0) return errno != ECHILD;
      if (pid == shell_ && !shell_reaped_) {
        shell_reaped_ = true;
        shell_status_ = status_of(wstatus);
      }
    }
  }

  // Kills the whole tree (core's containment_victims over /proc: every descendant, and
  // whatever is left in our cgroup) until nothing is left to kill or reap, then returns
  // `status`. Bounded: a process stuck in the kernel cannot keep us forever.
  int kill_everything(int status) {
    std::string cg = own_cgroup2_dir();
    bool own_cgroup = cg.find("/lifeline-") != std::string::npos;
    std::int64_t give_up = now_ms() + 10'000;
    for (;;) {
      if (!shell_reaped_) kill(-shell_, SIGKILL);  // reserved while the leader is unreaped
      auto victims = containment_victims(process_table(), getpid(),
                                         own_cgroup ? cgroup_members(cg) : std::vector<int>{});
      for (int pid : victims) kill(pid, SIGKILL);
      bool children_left = reap();
      if (victims.empty() && !children_left) break;
      if (now_ms() > give_up) break;
      pollfd fd{signals_, POLLIN, 0};  // wait for the next SIGCHLD, or 20 ms
      poll(&fd, 1, 20);
      signalfd_siginfo si{};
      while (read(signals_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      }
    }
    return status;
  }

  const TerminalOptions& o_;
  int signals_;
  pid_t shell_ = 0;
  bool shell_reaped_ = false;
  int shell_status_ = 0;
  std::int64_t kill_at_ = -1;
};

}  // namespace

std::string parse_terminal_options(const std::vector<std::string>& args, TerminalOptions& out) {
  std::size_t i = 0;
  if (i < args.size() && args[i] == "--terminal") ++i;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      out.argv.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (i + 1 >= args.size()) return "flag '" + a + "' needs a value";
    if (a == "--lifeline-fd") {
      if (!parse_fd(args[++i], out.lifeline_fd)) return "bad --lifeline-fd";
    } else if (a == "--exec-status-fd") {
      if (!parse_fd(args[++i], out.exec_status_fd)) return "bad --exec-status-fd";
    } else {
      return "unknown flag '" + a + "'";
    }
  }
  if (out.lifeline_fd < 0 || out.exec_status_fd < 0)
    return "--lifeline-fd and --exec-status-fd are required";
  if (out.argv.empty() || out.argv[0].empty()) return "no command after '--'";
  return "";
}

int run_terminal_supervisor(const TerminalOptions& o) {
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGUSR2}) sigaddset(&mask, s);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  int signals = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  std::vector<char*> argv;
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int fork_errno = 0;
  pid_t shell = signals < 0 ? -1 : fork();
  if (shell == 0) exec_shell(o, argv.data());
  if (shell < 0) {
    fork_errno = errno;
    ssize_t ignored = ::write(o.exec_status_fd, &fork_errno, sizeof fork_errno);
    (void)ignored;
    return 127;
  }
  close(o.exec_status_fd);
  // Hold no end of the PTY: the terminal is the shell's.
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd < 3; ++fd) dup2(devnull, fd);
  if (devnull > 2) close(devnull);
  Supervisor supervisor(o, signals);
  return supervisor.run(shell);
}

}  // namespace lifeline::runtime
