// lifeline-slash-worker: the core's WorkerLoop over stdin/stdout, its lifeline fd and
// a poll(2) loop. Single-threaded and small on purpose (PROTOCOL.md's RSS target).
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "core/config.hpp"
#include "core/worker_loop.hpp"
#include "runtime/common/poll_clock.hpp"
#include "runtime/worker/posix_worker_host.hpp"

namespace {

class StderrLog final : public lifeline::Log {
 public:
  void write(lifeline::LogLevel level, std::string_view message) override {
    static const char* names[] = {"debug", "info", "warn", "error"};
    std::fprintf(stderr, "lifeline-slash-worker[%d] %s: %.*s\n", getpid(),
                 names[static_cast<int>(level)], static_cast<int>(message.size()), message.data());
  }
};

lifeline::Env environment() {
  lifeline::Env env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = lifeline::parse_worker_config(args, environment());
  if (parsed.help) {
    std::fputs(lifeline::worker_usage().c_str(), stdout);
    return 0;
  }
  StderrLog log;
  if (parsed.error) {
    std::fprintf(stderr, "lifeline-slash-worker: %s\n%s", parsed.error->c_str(),
                 lifeline::worker_usage().c_str());
    return 2;
  }
  for (const auto& w : parsed.warnings) log.write(lifeline::LogLevel::warn, w);
  const lifeline::WorkerConfig& cfg = parsed.config;

  // SIGCHLD (background children) and SIGUSR2 (the gateway's PR_SET_PDEATHSIG
  // tripwire) arrive through a signalfd; SIGPIPE must not kill us mid-reply.
  signal(SIGPIPE, SIG_IGN);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGUSR2);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

  lifeline::runtime::PollClock clock;
  lifeline::runtime::PosixWorkerHost host;
  lifeline::WorkerLoop loop(cfg, clock, host, host, log);
  loop.start();
  // Born orphaned? (the gateway died between fork and here): the lifeline says so
  // at the first poll, with no window.

  bool stdin_open = true;
  char buf[65536];
  while (!loop.exited()) {
    pollfd fds[3] = {{stdin_open ? STDIN_FILENO : -1, POLLIN, 0},
                     {cfg.lifeline_fd, POLLIN, 0},
                     {sigfd, POLLIN, 0}};
    int n = poll(fds, 3, clock.next_timeout_ms());
    if (n < 0 && errno != EINTR) {
      log.write(lifeline::LogLevel::error, std::string("poll: ") + std::strerror(errno));
      host.exit_with_containment(1);
    }
    if (n > 0) {
      if (fds[2].revents & POLLIN) {
        signalfd_siginfo info;
        while (read(sigfd, &info, sizeof info) == sizeof info) {
          if (info.ssi_signo == SIGCHLD) host.reap_children();
          if (info.ssi_signo == SIGUSR2) loop.on_lifeline_eof();
        }
      }
      if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
        // The gateway never writes to the lifeline: readable means EOF.
        loop.on_lifeline_eof();
      }
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t got = read(STDIN_FILENO, buf, sizeof buf);
        if (got > 0) {
          loop.on_stdin(std::string_view(buf, static_cast<std::size_t>(got)));
        } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
          stdin_open = false;
          loop.on_stdin_eof();
        }
      }
    }
    clock.fire_due();
  }
  return 0;
}
