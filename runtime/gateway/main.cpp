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
#include <optional>

#include "core/config.hpp"
#include "core/gateway.hpp"
#include "core/recovery.hpp"
#include "core/strays.hpp"
#include "core/trust.hpp"
#include "runtime/common/proc_info.hpp"
#include "runtime/common/rate_limited_log.hpp"
#include "runtime/gateway/asio_clock.hpp"
#include "runtime/gateway/cgroup_containment.hpp"
#include "runtime/gateway/faults.hpp"
#include "runtime/gateway/hub.hpp"
#include "runtime/gateway/log_sink.hpp"
#include "runtime/gateway/metrics.hpp"
#include "runtime/gateway/pg_store.hpp"
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

// What the command line, the environment and --env-file settled before anything opens.
struct Settings {
  std::vector<std::string> args;
  Env env;
  GatewayConfig cfg;      // fitted to this machine's limits
  GatewayConfig started;  // as asked for, before fit_limits: what SIGHUP compares to
  std::string faults_spec;
  bool env_is(const char* name, const char* value) const {
    auto it = env.find(name);
    return it != env.end() && it->second == value;
  }
};

// One lock per state dir, then the store's files judged (SQLite opens them itself, by
// their real path with SQLITE_OPEN_NOFOLLOW). Returns the local database's path: the
// whole store with sqlite:NAME, the process ledger alone with PostgreSQL (docs/DESIGN.md,
// Durability).
std::string lock_state_dir(StateDir& state, const GatewayConfig& cfg) {
  // One gateway per state dir: a second one would share (and sweep) the first's store
  // and cgroups.
  int lock_fd = state.open_file("lock", O_RDWR | O_CREAT, /*secret=*/false);
  if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0)
    throw std::runtime_error("another lifeline-gateway is using " + cfg.state_dir);
  StoreTarget store = *parse_store(cfg.store);
  std::string db = store.kind == StoreTarget::Kind::sqlite ? store.target : "lifeline.db";
  for (const char* suffix : {"", "-wal", "-shm", "-journal"})
    state.check_file((db + suffix).c_str(), /*secret=*/false);
  return state.real_path() + "/" + db;
}

// --store postgresql://...: the shared store, connected and migrated; null for SQLite.
std::unique_ptr<PgStore> postgresql_store(asio::io_context& io, Log& log, const GatewayConfig& cfg,
                                          bool power_safe) {
  StoreTarget store = *parse_store(cfg.store);
  if (store.kind != StoreTarget::Kind::postgresql) return nullptr;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return std::make_unique<PgStore>(io, log, store.target, cfg.instance,
                                   std::string(host) + ":" + cfg.state_dir, power_safe);
}

// --child-user: its passwd entry (nullptr: children run as we do).
const passwd* child_user_of(const GatewayConfig& cfg) {
  if (cfg.child_user.empty()) return nullptr;
  const passwd* user = getpwnam(cfg.child_user.c_str());
  if (!user) throw std::runtime_error("--child-user: no user " + cfg.child_user);
  if (geteuid() != 0) throw std::runtime_error("--child-user needs the gateway to run as root");
  return user;
}

std::string join_or_nothing(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? std::string("nothing") : s;
}

// One running gateway: every object of the process, made in the order declared here and
// destroyed in reverse, after run() has drained the handlers that refer to them.
class Service {
 public:
  Service(Settings settings, RateLimitedLog& log)
      : s_(std::move(settings)),
        cfg_(s_.cfg),
        log_(log),
        state_(cfg_.state_dir),  // docs/DESIGN.md rule 14: ours, or refused
        clock_(io_),
        db_path_(lock_state_dir(state_, cfg_)),
        // Settled before anything is swept or served: a refused token file stops the start.
        token_(cfg_.stdio ? std::pair<std::string, std::string>{}
                          : ensure_token(cfg_, state_, random_)),
        // LIFELINE_SYNC=normal trades power-loss durability for latency (see README).
        power_safe_(!s_.env_is("LIFELINE_SYNC", "normal")),
        store_(io_, log_, db_path_, power_safe_, cfg_.instance),
        pg_(postgresql_store(io_, log_, cfg_, power_safe_)),
        cgroups_(log_, cfg_.state_dir, /*enable=*/!s_.env_is("LIFELINE_CGROUPS", "off")),
        child_user_(child_user_of(cfg_)),
        procs_(io_, log_, child_environment(s_.env, child_user_), &cgroups_),
        sigchld_(io_, SIGCHLD),
        hangup_(io_, SIGHUP),
        terminate_(io_, SIGTERM, SIGINT) {}

  int run() {
    recover_predecessor();
    set_up_children();
    gateway_.emplace(cfg_, GatewayPorts{clock_, procs_, hub_, transcripts(), random_, log_});
    gateway_->start();
    if (pg_) wait_for_the_lease();
    std::string where =
        pg_ ? redacted_store(cfg_.store) + " as instance " + cfg_.instance +
                  (power_safe_ ? " (synchronous_commit=on)"
                               : " (synchronous_commit=off, LIFELINE_SYNC=normal)") +
                  "; process ledger " + db_path_
            : db_path_ + (power_safe_ ? " (synchronous=FULL)"
                                      : " (synchronous=NORMAL, LIFELINE_SYNC=normal)");
    log_.write(LogLevel::info, "store " + where + "; containment: " + procs_.containment().dump());
    wait_for_signals();
    if (cfg_.stdio)
      serve_stdio();
    else
      serve_websocket();
    io_.run();
    drain();
    before_exit();
    return exit_status_;
  }

 private:
  // What a SIGKILLed predecessor left, in the core's order (core/recovery.hpp); then
  // --retain-days daily.
  void recover_predecessor() {
    sweep_predecessor({.kill_ledger = [this] { return sweep_ledger(store_.ledger_take(), log_); },
                       .end_open_sessions = [this] { return end_sessions_left_open(); },
                       .prune = [this] { return prune(/*at_start=*/true); },
                       .sweep_cgroups = [this] { return cgroups_.sweep_predecessor(); }},
                      log_);
    cgroups_.apply_limits(cfg_.session_pids_max, cfg_.session_memory_max);
  }

  // A shared store's gateway listens once it holds its lease (docs/DESIGN.md rule 15), so
  // that its first clients are served rather than told 5033; at most 5 s, then it listens
  // anyway and answers 5033 until the lease is held (the log says so).
  void wait_for_the_lease() {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!gateway_->lease_current() && std::chrono::steady_clock::now() < until)
      io_.run_one_for(std::chrono::milliseconds(50));
    if (!gateway_->lease_current())
      log_.write(LogLevel::warn, "store: no lease for instance " + cfg_.instance +
                                     " yet; listening, and answering 5033 until it is held");
  }

  // Where sessions and transcripts live: --store.
  Store& transcripts() { return pg_ ? static_cast<Store&>(*pg_) : store_; }

  // Sessions this gateway left open are over (in a shared store: this instance's alone).
  int end_sessions_left_open() {
    if (!pg_) return store_.end_sessions_left_open(clock_.wall_now());
    int n = pg_->end_sessions_left_open(clock_.wall_now());
    if (n < 0) log_.write(LogLevel::error, "store: could not record the end of sessions left open");
    return std::max(n, 0);
  }

  // --retain-days: at start (with VACUUM, so that the file shrinks), then daily off the
  // loop's thread. The daily timer runs whatever the value: SIGHUP may change it, and 0
  // (keep all) prunes nothing.
  int prune(bool at_start) {
    constexpr Millis day = 24LL * 3600 * 1000;
    clock_.after(day, [this] { prune(/*at_start=*/false); });
    if (cfg_.retain_days <= 0) return 0;
    WallMs cutoff = clock_.wall_now() - cfg_.retain_days * day;
    auto said = [this](int gone) {
      if (gone)
        log_.write(LogLevel::info, "pruned " + std::to_string(gone) + " sessions ended more than " +
                                       std::to_string(cfg_.retain_days) + " days ago");
    };
    if (!at_start) {
      if (pg_)
        pg_->prune_async(cutoff, [said](int gone) { said(std::max(gone, 0)); });
      else
        store_.prune_async(cutoff, said);
      return 0;
    }
    int gone = pg_ ? std::max(pg_->prune(cutoff), 0) : store_.prune(cutoff, /*vacuum=*/true);
    said(gone);
    return gone;
  }

  void set_up_children() {
    if (child_user_) {
      procs_.set_child_credentials(static_cast<int>(child_user_->pw_uid),
                                   static_cast<int>(child_user_->pw_gid));
      log_.write(LogLevel::info, "children run as " + cfg_.child_user + " (uid " +
                                     std::to_string(child_user_->pw_uid) + ")");
    }
    if (cfg_.pty_cmd.empty()) cfg_.pty_cmd = login_shell(child_user_);
    log_.write(LogLevel::info, "terminals run " + cfg_.pty_cmd);
    procs_.set_ledger(&store_);
    // Terminals are supervised by the worker binary that ships beside us (whatever
    // --worker-cmd says: that one need not know the terminal mode).
    std::string supervisor = beside_me("lifeline-slash-worker");
    if (access(supervisor.c_str(), X_OK) == 0)
      procs_.set_terminal_supervisor(supervisor);
    else
      log_.write(LogLevel::error, "no terminal supervisor at " + supervisor +
                                      ": terminals run unsupervised, and a SIGKILLed gateway "
                                      "leaves their background processes to its successor");
  }

  void wait_for_signals() {
    wait_for_strays();
    wait_for_hangup();
    terminate_.async_wait([this](const boost::system::error_code& e, int sig) {
      if (!e) stop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
    });
  }

  // Escapees reparented to us arrive as SIGCHLD for children we never spawned.
  void wait_for_strays() {
    sigchld_.async_wait([this](const boost::system::error_code& e, int) {
      if (e) return;
      procs_.kill_and_reap_strays();
      wait_for_strays();
    });
  }

  void wait_for_hangup() {
    hangup_.async_wait([this](const boost::system::error_code& e, int) {
      if (e) return;
      reload();
      wait_for_hangup();
    });
  }

  // SIGHUP: re-read --env-file and the environment; apply what can change live (the
  // limits each decision reads), and say what would need a restart.
  void reload() {
    std::vector<std::string> warnings;
    Env fresh_env = environment_with_file(s_.args, warnings, /*reloading=*/true);
    auto fresh = parse_gateway_config(s_.args, fresh_env);
    for (const auto& w : warnings) log_.write(LogLevel::warn, "SIGHUP: " + w);
    // Fault windows (lifeline-soak): a changed LIFELINE_FAULTS replaces the set.
    std::string fresh_faults =
        fresh_env.count("LIFELINE_FAULTS") ? fresh_env.at("LIFELINE_FAULTS") : "";
    if (fresh_faults != s_.faults_spec) {
      s_.faults_spec = fresh_faults;
      std::string on = init_faults(s_.faults_spec, log_);
      log_.write(LogLevel::warn, on.empty() ? std::string("SIGHUP: fault injection off")
                                            : "SIGHUP: fault injection now " + on);
    }
    for (const auto& w : fresh.warnings) log_.write(LogLevel::warn, "SIGHUP: " + w);
    if (fresh.error) {
      log_.write(LogLevel::error, "SIGHUP: " + *fresh.error + "; nothing changed");
      return;
    }
    Reload r = reload_limits(s_.started, fresh.config);
    reload_limits(gateway_->live_config(), s_.started);
    reload_limits(cfg_, s_.started);
    log_.write(LogLevel::info, "SIGHUP: applied " + join_or_nothing(r.applied) +
                                   (r.need_restart.empty() ? std::string()
                                                           : "; changed but needing a restart: " +
                                                                 join_or_nothing(r.need_restart)));
  }

  void stop(const char* why) {
    if (stopping_) return;
    stopping_ = true;
    log_.write(LogLevel::info, std::string("shutting down: ") + why);
    sd_notify(std::string("STOPPING=1\nSTATUS=shutting down: ") + why);
    if (server_) server_->stop();
    // The core decides when the shutdown is over, or given up (its deadline): a child
    // stuck beyond every escalation must not keep us from exiting forever.
    gateway_->shutdown([this](bool clean) {
      if (clean) {
        log_.write(LogLevel::info, "every session torn down and every child reaped");
      } else {
        log_.write(LogLevel::error, "exiting with children still alive (status 3)");
        exit_status_ = 3;
      }
      sigchld_.cancel();
      io_.stop();
    });
  }

  void serve_stdio() {
    stdio_ =
        std::make_shared<StdioConnection>(io_, log_, cfg_.max_message_bytes, cfg_.max_unsent_bytes);
    ConnId id = hub_.add(stdio_);
    gateway_->on_connect(id, "stdio");
    stdio_->start([this, id](const std::string& line) { gateway_->on_message(id, line); },
                  [this, id] {
                    hub_.remove(id);
                    gateway_->on_disconnect(id);
                    stop("the stdio client is gone");
                  },
                  [this, id](bool backed_up) { gateway_->on_backpressure(id, backed_up); });
    log_.write(LogLevel::info, "serving one client on stdin/stdout");
    sd_notify("READY=1\nSTATUS=serving one client on stdin/stdout");
  }

  void serve_websocket() {
    WsServerOptions opt;
    opt.host = cfg_.listen_host;
    opt.port = cfg_.listen_port;
    opt.token = token_.first;
    opt.allowed_origins = cfg_.allowed_origins;
    opt.ping_interval = cfg_.ping_interval;
    opt.ping_timeout = cfg_.ping_timeout;
    opt.max_message_bytes = cfg_.max_message_bytes;
    opt.max_unsent_bytes = cfg_.max_unsent_bytes;
    opt.max_connections = cfg_.max_connections;
    opt.allowed_hosts = cfg_.allowed_hosts;
    opt.instance = cfg_.instance;
    server_ = std::make_unique<WsServer>(io_, clock_, log_, hub_, *gateway_, opt, [this] {
      return render_metrics(
          *gateway_,
          ShellFacts{procs_.open_fds(), procs_.strays_killed(), hub_.size(),
                     server_ ? server_->auth_failures() : std::map<std::string, std::int64_t>{}});
    });
    say_where(server_->start());
  }

  void say_where(int port) {
    std::string host = cfg_.listen_host.find(':') != std::string::npos
                           ? "[" + cfg_.listen_host + "]"
                           : cfg_.listen_host;
    const auto& [token, token_path] = token_;
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

  // Let every pending handler finish while the objects it refers to still exist: drop
  // the connections, cancel the signal waits, and drain until a slice runs no handler
  // (the daily prune and the idle eviction are far-off timers that must not hold the
  // exit), at most 2 s, saying what it waits for.
  void drain() {
    sigchld_.cancel();
    terminate_.cancel();
    hangup_.cancel();
    hub_.abort_all();
    io_.restart();
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    bool said = false;
    while (std::chrono::steady_clock::now() < until) {
      if (io_.run_for(std::chrono::milliseconds(20)) == 0 && hub_.size() == 0) break;
      if (!said && until - std::chrono::steady_clock::now() < std::chrono::milliseconds(1800)) {
        said = true;
        log_.write(LogLevel::info, "exiting: waiting for " + std::to_string(hub_.size()) +
                                       " connections and the store to finish (at most 2 s)");
      }
    }
  }

  void before_exit() {
    // A clean shutdown has torn every session down, so a row still open is an end the
    // store refused (logged when it happened): record it now, as the next start would
    // for a SIGKILLed gateway, rather than leave it to a start that may never come.
    if (exit_status_ == 0)
      if (int open = end_sessions_left_open())
        log_.write(LogLevel::warn, "recorded the end of " + std::to_string(open) +
                                       " sessions whose end the store had refused");
    // Escapees reparented to us during the teardown: none may outlive us, in the
    // core's rounds (core/strays.hpp).
    for (int rounds = 1;; ++rounds) {
      procs_.kill_and_reap_strays();
      if (!another_stray_round(rounds, !children_of(getpid()).empty())) break;
      usleep(exit_stray_gap_ms * 1000);
    }
  }

  Settings s_;
  GatewayConfig& cfg_;
  RateLimitedLog& log_;
  StateDir state_;
  asio::io_context io_{1};
  SystemRandom random_;
  AsioClock clock_;
  std::string db_path_;
  std::pair<std::string, std::string> token_;  // the token, and its file ("" if given)
  bool power_safe_;
  SqliteStore store_;            // the ledger; the sessions too unless --store is PostgreSQL
  std::unique_ptr<PgStore> pg_;  // --store postgresql://...: sessions and transcripts
  CgroupContainment cgroups_;
  const passwd* child_user_;
  PosixProcessControl procs_;
  Hub hub_;
  std::optional<Gateway> gateway_;
  asio::signal_set sigchld_;
  asio::signal_set hangup_;
  asio::signal_set terminate_;
  std::unique_ptr<WsServer> server_;
  std::shared_ptr<StdioConnection> stdio_;
  bool stopping_ = false;
  int exit_status_ = 0;
};

bool token_on_command_line(const std::vector<std::string>& args) {
  return std::any_of(args.begin(), args.end(), [](const std::string& a) {
    return a == "--token" || a.rfind("--token=", 0) == 0;
  });
}

int run(int argc, char** argv) {
  umask(0077);  // the store, the token and the lock are no one else's to read
  Settings settings;
  settings.args.assign(argv + 1, argv + argc);
  std::vector<std::string> file_warnings;
  settings.env = environment_with_file(settings.args, file_warnings);
  auto parsed = parse_gateway_config(settings.args, settings.env);
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
  settings.cfg = settings.started = parsed.config;
  if (token_on_command_line(settings.args))
    log.write(LogLevel::warn,
              "--token on the command line is visible to every user in ps; prefer "
              "LIFELINE_TOKEN or the generated <state-dir>/token");
  GatewayConfig& cfg = settings.cfg;
  fit_limits(cfg, log);
  if (cfg.worker_cmd.empty()) cfg.worker_cmd = beside_me("lifeline-slash-worker");
  if (access(cfg.worker_cmd.c_str(), X_OK) != 0)
    log.write(LogLevel::warn, "worker command " + cfg.worker_cmd +
                                  " is not executable; slash.exec will fail with 5030");
  signal(SIGPIPE, SIG_IGN);
  settings.faults_spec =
      settings.env.count("LIFELINE_FAULTS") ? settings.env.at("LIFELINE_FAULTS") : "";
  if (!settings.faults_spec.empty())
    if (std::string on = init_faults(settings.faults_spec, log); !on.empty())
      log.write(LogLevel::warn, "fault injection enabled: " + on);
  Service service(std::move(settings), log);
  return service.run();
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
