// lifeline-gateway: wires the core to the real world and runs it on one io_context.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/signal_set.hpp>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>

#include "core/config.hpp"
#include "core/gateway.hpp"
#include "core/trust.hpp"
#include "runtime/common/proc_info.hpp"
#include "runtime/common/rate_limited_log.hpp"
#include "runtime/gateway/asio_clock.hpp"
#include "runtime/gateway/cgroup_containment.hpp"
#include "runtime/gateway/faults.hpp"
#include "runtime/gateway/hub.hpp"
#include "runtime/gateway/log_sink.hpp"
#include "runtime/gateway/metrics.hpp"
#include "runtime/gateway/posix_process_control.hpp"
#include "runtime/gateway/sd_notify.hpp"
#include "runtime/gateway/sqlite_store.hpp"
#include "runtime/gateway/state_dir.hpp"
#include "runtime/gateway/stdio_connection.hpp"
#include "runtime/gateway/ws_server.hpp"

namespace {

// A terminal's default command (docs/PROTOCOL.md --pty-cmd): the login shell of the user
// the terminals run as, so that history, line editing and the prompt are the ones that
// user knows; a shell that cannot run, or one that refuses logins, falls back.
std::string login_shell(const passwd* child_user) {
  const passwd* pw = child_user ? child_user : getpwuid(geteuid());
  if (pw && pw->pw_shell && *pw->pw_shell) {
    std::string shell = pw->pw_shell;
    bool refuses = shell.ends_with("/nologin") || shell.ends_with("/false");
    if (!refuses && access(shell.c_str(), X_OK) == 0) return shell;
  }
  return access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";
}

using namespace lifeline;
using namespace lifeline::runtime;

// A refusal that is the operator's usage error (exit 2), not a failure to start (exit 1).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class SystemRandom final : public Random {
 public:
  std::uint64_t next() override {
    std::uint64_t v = 0;
    while (getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v)) {
    }
    return v;
  }
};

Env environment() {
  Env env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

// The worker ships beside the gateway in a build tree, and in <prefix>/libexec/lifeline/
// when installed (bin/ and libexec/ are siblings).
std::string beside_me(const std::string& name) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return name;
  self[n] = 0;
  auto dir = std::filesystem::path(self).parent_path();
  auto here = dir / name;
  auto installed = dir.parent_path() / "libexec" / "lifeline" / name;
  if (access(here.c_str(), X_OK) != 0 && access(installed.c_str(), X_OK) == 0)
    return installed.string();
  return here.string();
}

// The admission token, and where it was written ("" when the operator gave it).
// docs/PROTOCOL.md section 8: --token or LIFELINE_TOKEN (validated by the config parser),
// else systemd's credential, else <state-dir>/token. That file is used whole when it is
// ours and well-formed, refused when it is not (never replaced), and generated only when
// missing. A generated token outlives restarts: a gateway restarted by systemd or by
// lifeline-soak must not lock out every client whose sessions it kept.
std::pair<std::string, std::string> ensure_token(const GatewayConfig& cfg, const StateDir& state,
                                                 Random& random) {
  if (!cfg.token.empty()) return {cfg.token, ""};
  if (auto credential = credential_token()) {
    if (auto why = trust::token_refusal(*credential))
      throw UsageError("the credential token " + *why);
    return {*credential, ""};
  }
  std::string path = state.path() + "/token";
  if (auto kept = state.read_token()) return {*kept, path};
  std::string token;
  char hex[17];
  for (int i = 0; i < 2; ++i) {
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(random.next()));
    token += hex;
  }
  state.write_token(token);
  return {token, path};
}

std::vector<std::string> child_environment(Env env, const passwd* user) {
  // Scrubbed: only what a worker needs, never the gateway's token or secrets.
  std::vector<std::string> out = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8",
                                  "TERM=xterm-256color"};
  if (user) {
    env["HOME"] = user->pw_dir;
    env["USER"] = user->pw_name;
  }
  for (const char* keep :
       {"HOME", "USER", "LIFELINE_WATCHDOG_POLL_S", "LIFELINE_WATCHDOG_GRACE_S"}) {
    auto it = env.find(keep);
    if (it != env.end()) out.push_back(std::string(keep) + "=" + it->second);
  }
  return out;
}

// docs/DESIGN.md rule 12: connections and terminals must fit the fd limit with room for the
// children's pipes, and terminals the kernel's pty limit. The soft fd limit is raised to
// the hard one first; then connections get at most half of it and terminals (about 4 fds
// each in the gateway) at most a quarter. What is lowered is said once, at start.
void fit_limits(GatewayConfig& cfg, Log& log) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = std::min<rlim_t>(rl.rlim_max, 1 << 20);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  auto nofile = static_cast<std::int64_t>(std::min<rlim_t>(rl.rlim_cur, 1 << 20));
  std::int64_t usable = std::max<std::int64_t>(nofile - 64, 16);
  auto lower = [&log](std::int64_t& value, std::int64_t cap, const char* flag, const char* why) {
    if (value <= cap) return;
    log.write(LogLevel::warn, std::string(flag) + " lowered from " + std::to_string(value) +
                                  " to " + std::to_string(cap) + " (" + why + ")");
    value = cap;
  };
  lower(cfg.max_connections, std::max<std::int64_t>(usable / 2, 8), "--max-connections",
        ("the fd limit is " + std::to_string(nofile)).c_str());
  lower(cfg.max_ptys, std::max<std::int64_t>(usable / 16, 1), "--max-ptys",
        ("the fd limit is " + std::to_string(nofile)).c_str());
  std::ifstream pty_max_file("/proc/sys/kernel/pty/max");
  std::int64_t pty_max = 0;
  if (pty_max_file >> pty_max && pty_max > 0)
    lower(cfg.max_ptys, std::max<std::int64_t>(pty_max - 16, 1), "--max-ptys",
          ("kernel.pty.max is " + std::to_string(pty_max)).c_str());
}

// The process environment with --env-file's settings over it (flags win over both, in
// parse_gateway_config). Read at start and on SIGHUP.
// On reload (`reloading`), what SIGHUP applies comes from the file alone when there is
// one (docs/PROTOCOL.md section 7).
Env environment_with_file(const std::vector<std::string>& args, std::vector<std::string>& warnings,
                          bool reloading = false) {
  Env env = environment();
  // The file's path: --env-file on the command line, else LIFELINE_ENV_FILE.
  std::string path = env.count("LIFELINE_ENV_FILE") ? env.at("LIFELINE_ENV_FILE") : "";
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--env-file" && i + 1 < args.size()) path = args[i + 1];
    if (args[i].rfind("--env-file=", 0) == 0) path = args[i].substr(11);
  }
  if (path.empty()) return env;
  std::ifstream in(path);
  if (!in) {
    warnings.push_back("cannot read --env-file " + path + "; using the environment alone");
    return env;
  }
  if (reloading)
    for (const auto& name : reloadable_env_names()) env.erase(name);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (auto& [k, v] : parse_env_file(text, &warnings)) env[k] = v;
  return env;
}

int run(int argc, char** argv) {
  umask(0077);  // the store, the token and the lock are no one else's to read
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> file_warnings;
  Env env = environment_with_file(args, file_warnings);
  auto parsed = parse_gateway_config(args, env);
  if (parsed.help) {
    std::fputs(gateway_usage().c_str(), stdout);
    return 0;
  }
  if (parsed.error) {
    // One line that names the setting and what it accepts (rule 10), not a page of usage.
    std::fprintf(stderr, "lifeline-gateway: %s (see lifeline-gateway --help)\n",
                 parsed.error->c_str());
    return 2;
  }
  if (parsed.config.version) {
    std::printf("lifeline-gateway %s\n", lifeline::version);
    return 0;
  }
  // Under systemd, journald stamps the time and reads the priority prefix (sd-daemon(3)).
  bool journal = getenv("JOURNAL_STREAM") != nullptr;
  StderrLog stderr_log(parsed.config.log_json ? LogFormat::json : LogFormat::text, journal);
  RateLimitedLog log(stderr_log);
  for (const auto& w : file_warnings) log.write(LogLevel::warn, w);
  for (const auto& w : parsed.warnings) log.write(LogLevel::warn, w);
  GatewayConfig cfg = parsed.config;
  GatewayConfig started = cfg;  // as asked for, before fit_limits: what SIGHUP compares to
  if (std::find(argv + 1, argv + argc, std::string("--token")) != argv + argc ||
      std::any_of(argv + 1, argv + argc,
                  [](const char* a) { return std::string(a).rfind("--token=", 0) == 0; }))
    log.write(LogLevel::warn,
              "--token on the command line is visible to every user in ps; prefer "
              "LIFELINE_TOKEN or the generated <state-dir>/token");
  fit_limits(cfg, log);
  if (cfg.worker_cmd.empty()) cfg.worker_cmd = beside_me("lifeline-slash-worker");
  if (access(cfg.worker_cmd.c_str(), X_OK) != 0)
    log.write(LogLevel::warn, "worker command " + cfg.worker_cmd +
                                  " is not executable; slash.exec will fail with 5030");

  StateDir state(cfg.state_dir);  // docs/DESIGN.md rule 14: ours, or refused

  signal(SIGPIPE, SIG_IGN);
  std::string faults_spec = env.count("LIFELINE_FAULTS") ? env.at("LIFELINE_FAULTS") : "";
  if (!faults_spec.empty())
    if (std::string on = init_faults(faults_spec, log); !on.empty())
      log.write(LogLevel::warn, "fault injection enabled: " + on);
  asio::io_context io(1);
  SystemRandom random;
  AsioClock clock(io);
  // One gateway per state dir: a second one would share (and sweep) the first's store
  // and cgroups.
  int lock_fd = state.open_file("lock", O_RDWR | O_CREAT, /*secret=*/false);
  if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0)
    throw std::runtime_error("another lifeline-gateway is using " + cfg.state_dir);
  // SQLite opens these itself: judged first, then opened by their real path with
  // SQLITE_OPEN_NOFOLLOW.
  for (const char* name :
       {"lifeline.db", "lifeline.db-wal", "lifeline.db-shm", "lifeline.db-journal"})
    state.check_file(name, /*secret=*/false);
  std::string db_path = state.real_path() + "/lifeline.db";
  // Settled before anything is swept or served: a refused token file stops the start.
  auto [token, token_path] =
      cfg.stdio ? std::pair<std::string, std::string>{} : ensure_token(cfg, state, random);
  // LIFELINE_SYNC=normal trades power-loss durability for latency (see README).
  bool power_safe = !(env.count("LIFELINE_SYNC") && env.at("LIFELINE_SYNC") == "normal");
  SqliteStore store(io, log, db_path, power_safe);
  // What a SIGKILLed predecessor left: first what its ledger names (while the parent
  // links still hold), then whatever is still in its cgroups.
  if (int killed = sweep_ledger(store.ledger_take(), log))
    log.write(LogLevel::warn,
              "killed " + std::to_string(killed) + " processes left by a previous gateway");
  if (int open = store.end_sessions_left_open(clock.wall_now()))
    log.write(LogLevel::info, "recorded the end of " + std::to_string(open) +
                                  " sessions a previous gateway left open");
  // --retain-days: at start (with VACUUM, so that the file shrinks) and then daily.
  constexpr Millis day = 24LL * 3600 * 1000;
  auto pruned = [&log, &cfg](int gone) {
    if (gone)
      log.write(LogLevel::info, "pruned " + std::to_string(gone) + " sessions ended more than " +
                                    std::to_string(cfg.retain_days) + " days ago");
  };
  std::function<void()> prune_daily = [&] {
    store.prune_async(clock.wall_now() - cfg.retain_days * day, pruned);
    clock.after(day, prune_daily);
  };
  if (cfg.retain_days > 0) {
    pruned(store.prune(clock.wall_now() - cfg.retain_days * day, /*vacuum=*/true));
    clock.after(day, prune_daily);
  }
  bool cgroups_off = env.count("LIFELINE_CGROUPS") && env.at("LIFELINE_CGROUPS") == "off";
  CgroupContainment cgroups(log, cfg.state_dir, /*enable=*/!cgroups_off);
  if (int swept = cgroups.sweep_predecessor())
    log.write(LogLevel::warn,
              "swept " + std::to_string(swept) + " cgroups left by a previous gateway");
  cgroups.apply_limits(cfg.session_pids_max, cfg.session_memory_max);
  const passwd* child_user = nullptr;
  if (!cfg.child_user.empty()) {
    child_user = getpwnam(cfg.child_user.c_str());
    if (!child_user) throw std::runtime_error("--child-user: no user " + cfg.child_user);
    if (geteuid() != 0) throw std::runtime_error("--child-user needs the gateway to run as root");
  }
  PosixProcessControl procs(io, log, child_environment(env, child_user), &cgroups);
  if (child_user) {
    procs.set_child_credentials(static_cast<int>(child_user->pw_uid),
                                static_cast<int>(child_user->pw_gid));
    log.write(LogLevel::info, "children run as " + cfg.child_user + " (uid " +
                                  std::to_string(child_user->pw_uid) + ")");
  }
  if (cfg.pty_cmd.empty()) cfg.pty_cmd = login_shell(child_user);
  log.write(LogLevel::info, "terminals run " + cfg.pty_cmd);
  procs.set_ledger(&store);
  // Terminals are supervised by the worker binary that ships beside us (whatever
  // --worker-cmd says: that one need not know the terminal mode).
  std::string supervisor = beside_me("lifeline-slash-worker");
  if (access(supervisor.c_str(), X_OK) == 0)
    procs.set_terminal_supervisor(supervisor);
  else
    log.write(LogLevel::error, "no terminal supervisor at " + supervisor +
                                   ": terminals run unsupervised, and a SIGKILLed gateway "
                                   "leaves their background processes to its successor");
  Hub hub;
  Gateway gateway(cfg, GatewayPorts{clock, procs, hub, store, random, log});
  gateway.start();
  log.write(LogLevel::info, "store " + db_path +
                                (power_safe ? " (synchronous=FULL)"
                                            : " (synchronous=NORMAL, LIFELINE_SYNC=normal)") +
                                "; containment: " + procs.containment().dump());

  // Escapees reparented to us arrive as SIGCHLD for children we never spawned.
  asio::signal_set sigchld(io, SIGCHLD);
  std::function<void()> wait_child = [&] {
    sigchld.async_wait([&](const boost::system::error_code& e, int) {
      if (e) return;
      procs.kill_and_reap_strays();
      wait_child();
    });
  };
  wait_child();

  std::unique_ptr<WsServer> server;
  std::shared_ptr<StdioConnection> stdio;
  bool stopping = false;
  int exit_status = 0;
  auto stop = [&](const char* why) {
    if (stopping) return;
    stopping = true;
    log.write(LogLevel::info, std::string("shutting down: ") + why);
    sd_notify(std::string("STOPPING=1\nSTATUS=shutting down: ") + why);
    if (server) server->stop();
    // The core decides when the shutdown is over, or given up (its deadline): a child
    // stuck beyond every escalation must not keep us from exiting forever.
    gateway.shutdown([&](bool clean) {
      if (clean) {
        log.write(LogLevel::info, "every session torn down and every child reaped");
      } else {
        log.write(LogLevel::error, "exiting with children still alive (status 3)");
        exit_status = 3;
      }
      sigchld.cancel();
      io.stop();
    });
  };
  // SIGHUP: re-read --env-file and the environment; apply what can change live (the
  // limits each decision reads), and say what would need a restart.
  asio::signal_set hangup(io, SIGHUP);
  std::function<void()> wait_hangup = [&] {
    hangup.async_wait([&](const boost::system::error_code& e, int) {
      if (e) return;
      std::vector<std::string> warnings;
      Env fresh_env = environment_with_file(args, warnings, /*reloading=*/true);
      auto fresh = parse_gateway_config(args, fresh_env);
      for (const auto& w : warnings) log.write(LogLevel::warn, "SIGHUP: " + w);
      // Fault windows (lifeline-soak): a changed LIFELINE_FAULTS replaces the set.
      std::string fresh_faults =
          fresh_env.count("LIFELINE_FAULTS") ? fresh_env.at("LIFELINE_FAULTS") : "";
      if (fresh_faults != faults_spec) {
        faults_spec = fresh_faults;
        std::string on = init_faults(faults_spec, log);
        log.write(LogLevel::warn, on.empty() ? std::string("SIGHUP: fault injection off")
                                             : "SIGHUP: fault injection now " + on);
      }
      for (const auto& w : fresh.warnings) log.write(LogLevel::warn, "SIGHUP: " + w);
      if (fresh.error) {
        log.write(LogLevel::error, "SIGHUP: " + *fresh.error + "; nothing changed");
      } else {
        Reload r = reload_limits(started, fresh.config);
        reload_limits(gateway.live_config(), started);
        reload_limits(cfg, started);
        auto join = [](const std::vector<std::string>& v) {
          std::string s;
          for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
          return s.empty() ? std::string("nothing") : s;
        };
        log.write(LogLevel::info,
                  "SIGHUP: applied " + join(r.applied) +
                      (r.need_restart.empty()
                           ? std::string()
                           : "; changed but needing a restart: " + join(r.need_restart)));
      }
      wait_hangup();
    });
  };
  wait_hangup();
  asio::signal_set terminate(io, SIGTERM, SIGINT);
  terminate.async_wait([&](const boost::system::error_code& e, int sig) {
    if (!e) stop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
  });

  if (cfg.stdio) {
    stdio = std::make_shared<StdioConnection>(io, log, cfg.max_message_bytes, cfg.max_unsent_bytes);
    ConnId id = hub.add(stdio);
    gateway.on_connect(id, "stdio");
    stdio->start([&gateway, id](const std::string& line) { gateway.on_message(id, line); },
                 [&, id] {
                   hub.remove(id);
                   gateway.on_disconnect(id);
                   stop("the stdio client is gone");
                 },
                 [&gateway, id](bool backed_up) { gateway.on_backpressure(id, backed_up); });
    log.write(LogLevel::info, "serving one client on stdin/stdout");
    sd_notify("READY=1\nSTATUS=serving one client on stdin/stdout");
  } else {
    WsServerOptions opt;
    opt.host = cfg.listen_host;
    opt.port = cfg.listen_port;
    opt.token = token;
    opt.allowed_origins = cfg.allowed_origins;
    opt.ping_interval = cfg.ping_interval;
    opt.ping_timeout = cfg.ping_timeout;
    opt.max_message_bytes = cfg.max_message_bytes;
    opt.max_unsent_bytes = cfg.max_unsent_bytes;
    opt.max_connections = cfg.max_connections;
    opt.allowed_hosts = cfg.allowed_hosts;
    opt.instance = cfg.instance;
    server = std::make_unique<WsServer>(io, clock, log, hub, gateway, opt, [&] {
      return render_metrics(gateway, ShellFacts{procs.open_fds(), procs.strays_killed(), hub.size(),
                                                server ? server->auth_failures()
                                                       : std::map<std::string, std::int64_t>{}});
    });
    int port = server->start();
    std::string host = cfg.listen_host.find(':') != std::string::npos ? "[" + cfg.listen_host + "]"
                                                                      : cfg.listen_host;
    if (!token_path.empty()) std::fprintf(stderr, "token in %s\n", token_path.c_str());
    // At a terminal, the page's sign-in link, as Jupyter prints one: the token rides in
    // the fragment, which never reaches a server, a proxy or its logs. Never into a
    // journal or a log file (stderr is not a terminal there).
    if (isatty(STDERR_FILENO))
      std::fprintf(stderr, "open http://%s:%d/#token=%s\n",
                   host == "0.0.0.0" || host == "[::]" ? "127.0.0.1" : host.c_str(), port,
                   token.c_str());
    std::fprintf(stderr, "listening ws://%s:%d/ws\n", host.c_str(), port);
    sd_notify("READY=1\nSTATUS=listening on ws://" + host + ":" + std::to_string(port) + "/ws");
  }
  io.run();
  // Let every pending handler finish while the objects it refers to still exist: drop
  // the connections, cancel the signal waits, and drain.
  sigchld.cancel();
  terminate.cancel();
  hangup.cancel();
  hub.abort_all();
  io.restart();
  // Until a slice runs no handler (the daily prune and the idle eviction are far-off
  // timers that must not hold the exit), at most 2 s; saying what it waits for.
  auto drain_until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  bool said = false;
  while (std::chrono::steady_clock::now() < drain_until) {
    if (io.run_for(std::chrono::milliseconds(20)) == 0 && hub.size() == 0) break;
    if (!said && drain_until - std::chrono::steady_clock::now() < std::chrono::milliseconds(1800)) {
      said = true;
      log.write(LogLevel::info, "exiting: waiting for " + std::to_string(hub.size()) +
                                    " connections and the store to finish (at most 2 s)");
    }
  }
  // A clean shutdown has torn every session down, so a row still open is an end the
  // store refused (logged when it happened): record it now, as the next start would
  // for a SIGKILLed gateway, rather than leave it to a start that may never come.
  if (exit_status == 0)
    if (int open = store.end_sessions_left_open(clock.wall_now()))
      log.write(LogLevel::warn, "recorded the end of " + std::to_string(open) +
                                    " sessions whose end the store had refused");
  // Escapees reparented to us during the teardown: none may outlive us.
  for (int round = 0; round < 100; ++round) {
    procs.kill_and_reap_strays();
    if (children_of(getpid()).empty()) break;
    usleep(10'000);
  }
  return exit_status;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "lifeline-gateway: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lifeline-gateway: %s\n", e.what());
    return 1;
  }
}
