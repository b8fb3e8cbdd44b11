// lifeline-slash-worker: the core's WorkerLoop over stdin/stdout, its lifeline fd and
// a poll(2) loop. Single-threaded and small on purpose (docs/PROTOCOL.md's RSS target).
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "core/config.hpp"
#include "core/worker_loop.hpp"
#include "runtime/common/poll_clock.hpp"
#include "runtime/worker/posix_worker_host.hpp"
#include "runtime/worker/terminal_supervisor.hpp"

namespace {

class StderrLog final : public lifeline::Log {
 public:
  void write(lifeline::LogLevel level, std::string_view message) override {
    static const char* names[] = {"debug", "info", "warn", "error"};
    std::fprintf(stderr, "lifeline-slash-worker[%d] %s: %.*s\n", getpid(),
                 names[static_cast<int>(level)], static_cast<int>(message.size()), message.data());
  }
};

volatile sig_atomic_t got_sigchld = 0;
volatile sig_atomic_t got_sigusr2 = 0;
volatile sig_atomic_t got_stop = 0;  // SIGHUP or SIGTERM: the gateway's teardown
void on_signal(int sig) {
  if (sig == SIGCHLD) got_sigchld = 1;
  if (sig == SIGUSR2) got_sigusr2 = 1;
  if (sig == SIGHUP || sig == SIGTERM) got_stop = sig;
}

lifeline::Env environment() {
  lifeline::Env env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

// SIGCHLD (background children) and SIGUSR2 (the gateway's PR_SET_PDEATHSIG tripwire)
// are blocked except inside ppoll, so they can only interrupt the wait: no signalfd or
// self-pipe, so the worker holds no fd beyond 0-3. Returns the mask to wait with.
sigset_t block_signals_outside_the_wait() {
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGCHLD, SIGUSR2, SIGHUP, SIGTERM}) sigaction(sig, &sa, nullptr);
  sigset_t blocked, during_wait;
  sigemptyset(&blocked);
  for (int sig : {SIGCHLD, SIGUSR2, SIGHUP, SIGTERM}) sigaddset(&blocked, sig);
  sigprocmask(SIG_BLOCK, &blocked, &during_wait);
  for (int sig : {SIGCHLD, SIGUSR2, SIGHUP, SIGTERM}) sigdelset(&during_wait, sig);
  return during_wait;
}

// What the signals caught during the last wait ask for.
void act_on_signals(lifeline::runtime::PosixWorkerHost& host, lifeline::WorkerLoop& loop) {
  if (got_stop) {
    // Told to stop: take the children we made (setsid escapees too) with us, since a
    // group signal cannot reach the ones that left the group.
    host.exit_with_containment(128 + got_stop);
  }
  if (got_sigchld) {
    got_sigchld = 0;
    host.reap_children();
  }
  if (got_sigusr2) {
    got_sigusr2 = 0;
    loop.on_lifeline_eof();
  }
}

// The poll loop: stdin and the lifeline, until the loop exits.
void serve(const lifeline::WorkerConfig& cfg, StderrLog& log) {
  sigset_t during_wait = block_signals_outside_the_wait();
  lifeline::runtime::PollClock clock;
  lifeline::runtime::PosixWorkerHost host;
  lifeline::WorkerLoop loop(cfg, clock, host, host, log);
  loop.start();
  // Born orphaned? (the gateway died between fork and here): the lifeline says so at the
  // first poll, with no window.
  bool stdin_open = true;
  char buf[65536];
  while (!loop.exited()) {
    pollfd fds[2] = {{stdin_open ? STDIN_FILENO : -1, POLLIN, 0}, {cfg.lifeline_fd, POLLIN, 0}};
    int wait_ms = clock.next_timeout_ms();
    timespec ts{wait_ms / 1000, (wait_ms % 1000) * 1'000'000L};
    int n = ppoll(fds, 2, wait_ms < 0 ? nullptr : &ts, &during_wait);
    if (n < 0 && errno != EINTR) {
      log.write(lifeline::LogLevel::error, std::string("poll: ") + std::strerror(errno));
      host.exit_with_containment(1);
    }
    act_on_signals(host, loop);
    // The gateway never writes to the lifeline: readable means EOF.
    if (n > 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) loop.on_lifeline_eof();
    if (n > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t got = read(STDIN_FILENO, buf, sizeof buf);
      if (got > 0) {
        loop.on_stdin(std::string_view(buf, static_cast<std::size_t>(got)));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        stdin_open = false;
        loop.on_stdin_eof();
      }
    }
    clock.fire_due();
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "--terminal") {
    // The terminal supervisor: a mode of this binary, so that the gateway ships one
    // small static program for every child it supervises.
    lifeline::runtime::TerminalOptions options;
    std::string error = lifeline::runtime::parse_terminal_options(args, options);
    if (!error.empty()) {
      std::fprintf(stderr, "lifeline-slash-worker --terminal: %s\n", error.c_str());
      return 2;
    }
    return lifeline::runtime::run_terminal_supervisor(options);
  }
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
  serve(parsed.config, log);
  return 0;
}
