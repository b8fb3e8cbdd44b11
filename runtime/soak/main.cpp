// lifeline-soak: hours of real traffic against a real gateway, with faults and kills,
// audited from outside. It starts its own gateway (beside this binary) on a scratch
// state dir, or drives --url. See --help and README ("Soak").
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "runtime/common/proc_info.hpp"
#include "runtime/soak/children.hpp"
#include "runtime/soak/load.hpp"
#include "runtime/soak/process_audit.hpp"
#include "runtime/soak/series.hpp"
#include "runtime/soak/store_audit.hpp"

namespace soak = lifeline::soak;
using soak::Json;
using Clock = std::chrono::steady_clock;

namespace {

// Under AddressSanitizer (the CI's asan stage builds the soak and the gateway with it)
// freed memory waits in the allocator's quarantine, 256 MiB by default, before it is
// reused: RSS then grows with churn, not with what is live, and the RSS audit allows for
// that much more. The exact checks (fds, processes, the store) are unchanged.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::int64_t allocator_slack_kib = 256 * 1024;
#else
constexpr std::int64_t allocator_slack_kib = 0;
#endif

constexpr const char* usage = R"(usage: lifeline-soak [options]

Drives a lifeline gateway with seeded virtual users for a while, killing and restarting
it and injecting faults, and audits from outside (/proc, the store, the clients'
view) that nothing leaks and no acknowledged entry is lost.

  --duration S       how long to run (default 60)
  --seed N           the seed of the users' mix and of the schedule (default: random,
                     printed first; the same seed replays the same mix)
  --clients N        virtual users (default 6)
  --kill-every S     SIGKILL the gateway every S seconds and restart it on the same state
                     dir (every third time a SIGTERM restart instead); 0: never (default)
  --faults P         each 2-6 s, with probability P, enable 1-2 random libfiu points of
                     the gateway (spawn, pipe, read, write, store) for 1-5 s (default 0)
  --via-nginx        run the clients through Debian's nginx (an unprivileged child, with
                     a proxy_read_timeout shorter than the ping interval)
  --url ws://H:P/ws  drive a running gateway instead (token from LIFELINE_TOKEN); only the
                     clients' view is audited then: no kills, faults or process audits
  --out DIR          write DIR/soak.csv (one row per audit) and DIR/soak.svg (the plot)
  --audit-every S    seconds between audits (default 2)
  --settle S         how long an unowned process or a zombie may live (default 10)
  --gateway PATH     the lifeline-gateway to run (default: beside this binary)
  --store URL        the gateways' shared store (postgresql://...; instances soak-a,
                     soak-b, a 3 s lease); the store audit reads it with libpq
  --gateways N       1 or 2 (2 needs --store): a fleet; the users are split between
                     them, kills alternate between them (default 1)
  --db-restart-every S  restart the database every S seconds (needs --store, and
                     LIFELINE_SOAK_DB_RESTART, the shell command that restarts it:
                     tests/integration/postgres.py run -- sets it); requests fail fast
                     meanwhile, and nothing acknowledged may be lost (default 0: never)
  --keep             keep the scratch dir (state, logs) even on PASS
  --plant KIND       plant a leak the audits must catch (their own test): process,
                     zombie, fd, lost-entry, duplicate-entry or unanswered
  --help

The last line is "soak: ... : PASS" (exit 0) or "... : FAIL", naming the failed audits (exit 1); 2: bad usage or
the gateway did not start.
)";

std::atomic<bool> interrupted{false};

struct Options {
  double duration = 60;
  std::uint64_t seed = 0;
  bool seed_given = false;
  int clients = 6;
  double kill_every = 0;
  double faults = 0;
  bool via_nginx = false;
  std::string url;
  std::string out;
  double audit_every = 2;
  double settle = 10;
  std::string gateway;
  bool keep = false;
  std::string plant;
  std::string store;  // --store: a shared PostgreSQL store
  int gateways = 1;
  double db_restart_every = 0;
};

// The gateway's timing, short so that every path (grace, pings, escalation) turns over
// many times within a short soak.
constexpr double orphan_grace_s = 3, ping_interval_s = 2, ping_timeout_s = 2;

const char* const fault_points[] = {
    "lifeline/spawn/pipe", "lifeline/spawn/fork",  "lifeline/spawn/pidfd",
    "lifeline/read",       "lifeline/write",       "lifeline/store/append",
    "lifeline/store/read", "lifeline/store/start", "lifeline/store/end"};

std::int64_t count_fds(int pid) {
  std::error_code ec;
  std::int64_t n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

std::int64_t rss_kib(int pid) {
  std::ifstream st("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (st >> key) {
    if (key == "VmRSS:") {
      std::int64_t v = 0;
      st >> v;
      return v;
    }
    st.ignore(1 << 20, '\n');
  }
  return 0;
}

std::int64_t stat_of(const std::optional<Json>& stats, const char* key) {
  if (!stats || !stats->contains("result")) return -1;
  const Json& r = (*stats)["result"];
  return r.contains(key) && r[key].is_number_integer() ? r[key].get<std::int64_t>() : -1;
}

// Forks a process that escaped everything: setsid'd, double-forked, with the marker in
// its environment; argv is run. For --plant process and --plant zombie.
void plant_escapee(const std::string& home, const char* shell_command) {
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    if (fork() != 0) _exit(0);
    setenv("HOME", home.c_str(), 1);
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl("/bin/sh", "sh", "-c", shell_command, static_cast<char*>(nullptr));
    _exit(127);
  }
}

bool parse_number(const char* s, double& out) {
  char* end = nullptr;
  out = std::strtod(s, &end);
  return end != s && *end == '\0' && out >= 0;
}

// Options that do not go together: why, or "".
std::string refused_combination(const Options& o) {
  if (!o.url.empty() && o.via_nginx) return "--url and --via-nginx do not go together";
  if (o.store.empty() && (o.gateways > 1 || o.db_restart_every > 0))
    return "--gateways 2 and --db-restart-every need --store (a shared store)";
  if (o.db_restart_every > 0 && !std::getenv("LIFELINE_SOAK_DB_RESTART"))
    return "--db-restart-every needs LIFELINE_SOAK_DB_RESTART, the command that restarts it";
  if (!o.store.empty() &&
      (o.via_nginx || !o.url.empty() || o.plant == "lost-entry" || o.plant == "duplicate-entry"))
    return "--store does not go with --via-nginx, --url or a planted store entry";
  return "";
}

std::optional<Options> parse(int argc, char** argv, std::string& error) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        error = a + " needs a value";
        return nullptr;
      }
      return argv[++i];
    };
    auto number = [&](double& out) {
      const char* v = value();
      if (v && !parse_number(v, out)) error = a + ": not a number: " + v;
    };
    if (a == "--help") {
      std::fputs(usage, stdout);
      std::exit(0);
    } else if (a == "--duration") {
      number(o.duration);
    } else if (a == "--seed") {
      const char* v = value();
      if (v) {
        char* end = nullptr;
        o.seed = std::strtoull(v, &end, 10);
        o.seed_given = true;
        if (end == v || *end) error = "--seed: not a number: " + std::string(v);
      }
    } else if (a == "--clients") {
      double n = 0;
      number(n);
      o.clients = static_cast<int>(n);
      if (error.empty() && (n < 1 || n > 1000)) error = "--clients must be 1-1000";
    } else if (a == "--kill-every") {
      number(o.kill_every);
    } else if (a == "--faults") {
      number(o.faults);
      if (error.empty() && o.faults > 1) error = "--faults is a probability (0-1)";
    } else if (a == "--via-nginx") {
      o.via_nginx = true;
    } else if (a == "--url") {
      if (const char* v = value()) o.url = v;
    } else if (a == "--out") {
      if (const char* v = value()) o.out = v;
    } else if (a == "--audit-every") {
      number(o.audit_every);
      if (error.empty() && o.audit_every < 0.2) error = "--audit-every must be at least 0.2";
    } else if (a == "--settle") {
      number(o.settle);
    } else if (a == "--gateway") {
      if (const char* v = value()) o.gateway = v;
    } else if (a == "--store") {
      if (const char* v = value()) o.store = v;
    } else if (a == "--gateways") {
      double n = 0;
      number(n);
      o.gateways = static_cast<int>(n);
      if (error.empty() && (n < 1 || n > 2)) error = "--gateways must be 1 or 2";
    } else if (a == "--db-restart-every") {
      number(o.db_restart_every);
    } else if (a == "--keep") {
      o.keep = true;
    } else if (a == "--plant") {
      if (const char* v = value()) o.plant = v;
      static const std::set<std::string> kinds = {"process",    "zombie",          "fd",
                                                  "lost-entry", "duplicate-entry", "unanswered"};
      if (error.empty() && !kinds.count(o.plant)) error = "--plant: unknown kind " + o.plant;
    } else {
      error = "unknown option " + a;
    }
    if (!error.empty()) return std::nullopt;
  }
  if (!o.seed_given) {
    std::random_device rd;
    o.seed = (static_cast<std::uint64_t>(rd()) << 32 | rd()) % 1'000'000'000;
  }
  error = refused_combination(o);
  if (!error.empty()) return std::nullopt;
  return o;
}

// ws://HOST:PORT/... -> host, port.
bool parse_url(const std::string& url, std::string& host, int& port) {
  if (url.rfind("ws://", 0) != 0) return false;
  std::string rest = url.substr(5);
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  auto colon = hostport.rfind(':');
  if (colon == std::string::npos) return false;
  host = hostport.substr(0, colon);
  port = std::atoi(hostport.substr(colon + 1).c_str());
  return !host.empty() && port > 0;
}

class Soak {
 public:
  static constexpr int kPool = 2;  // --worker-pool, the gateway's default
  explicit Soak(Options o) : o_(std::move(o)), rng_(o_.seed) {}
  int run(const char* argv0);

 private:
  std::string announce();
  bool start_own_gateway(const char* argv0, soak::Target& target);
  bool aim_at_url(soak::Target& target);
  void run_load(bool own_gateway, const soak::Target& target);
  void end_load();
  std::int64_t stop_own_gateway();
  std::int64_t fds_with_the_pool_full(int pid);
  void judge_the_clients_view(std::int64_t fd_growth);
  int verdict(const std::string& mode, const soak::LoadCounters& counters, std::int64_t fd_growth);
  double now() const { return std::chrono::duration<double>(Clock::now() - t0_).count(); }
  std::set<int> helpers() const { return {nginx_.pid}; }
  bool start_gateway(int port);
  bool start_second_gateway();
  void restart_second(bool graceful);
  void restart_one(bool graceful, soak::Load& load, int pid, const std::string& who,
                   const std::string& which, const std::function<bool()>& start_again);
  void restart_database();
  std::vector<soak::Load*> loads() const {
    std::vector<soak::Load*> all{load_.get()};
    if (load_b_) all.push_back(load_b_.get());
    return all;
  }
  std::vector<soak::Ack> all_acks() const;
  soak::ClientView all_views() const;
  soak::LoadCounters all_counters() const;
  void write_fault_spec(const std::string& extra);
  void restart(bool graceful);
  void audit(bool print);
  void faults_tick();
  void store_check(const char* when);
  void violation(const std::string& what) {
    ++violations_;
    std::printf("  VIOLATION %s\n", what.c_str());
    std::fflush(stdout);
    // The last line names every audit that failed: the message's words, numbers and
    // what follows a colon left out ("gateway fds 12 exceed 8 ..." -> "gateway fds exceed").
    std::string audit;
    int words = 0;
    for (std::size_t i = 0; i < what.size() && what[i] != ':' && words < 5; ++i) {
      char c = what[i];
      if (std::isdigit(static_cast<unsigned char>(c)) || c == '(') {
        while (i < what.size() && what[i] != ' ') ++i;
        continue;
      }
      if (c == ' ') {
        if (!audit.empty() && audit.back() != ' ') ++words, audit += ' ';
        continue;
      }
      audit += c;
    }
    while (!audit.empty() && audit.back() == ' ') audit.pop_back();
    if (std::find(failed_audits_.begin(), failed_audits_.end(), audit) == failed_audits_.end())
      failed_audits_.push_back(audit);
  }
  std::vector<std::string> failed_audits_;

  Options o_;
  std::mt19937_64 rng_;
  Clock::time_point t0_ = Clock::now();
  std::string scratch_, state_, home_, env_file_, db_;
  soak::GatewayCommand cmd_;
  soak::GatewayProcess gw_;
  int port_ = 0;
  // --gateways 2: the fleet's second gateway, its users, and whose turn a kill is.
  soak::GatewayCommand cmd_b_;
  soak::GatewayProcess gw_b_;
  int port_b_ = 0;
  std::string state_b_;
  soak::Target target_b_;
  std::unique_ptr<soak::Load> load_b_;
  bool kill_b_next_ = false;
  std::int64_t db_restarts_ = 0;
  soak::NginxProxy nginx_;
  std::unique_ptr<soak::Load> load_;
  std::unique_ptr<soak::ProcessAudit> procs_;
  std::unique_ptr<soak::Series> series_;
  std::string base_faults_;  // what --plant keeps on through every window
  std::int64_t kills_ = 0, faults_ = 0, violations_ = 0;
  std::int64_t base_fds_ = 0, base_rss_ = 0, max_fd_excess_ = 0;
  std::int64_t lost_ = 0, duplicated_ = 0;
  bool window_open_ = false;
  double window_from_ = 0, next_fault_ = 3;
  bool planted_store_ = false;
  soak::ProcessSample last_;
  std::int64_t last_fds_ = 0, last_rss_ = 0;
};

void Soak::write_fault_spec(const std::string& extra) {
  std::string spec = base_faults_;
  if (!extra.empty()) spec += (spec.empty() ? "" : ",") + extra;
  std::ofstream(env_file_) << "LIFELINE_FAULTS=" << spec << "\n";
}

// The gateway's fds once its warm pool (rule 18) has started: the baseline the quiet
// gateway at the end is held to, pool included. Waits up to 5 s for the pool's workers to
// appear and the count to hold still over two samples.
std::int64_t Soak::fds_with_the_pool_full(int pid) {
  std::int64_t last = -1;
  for (int i = 0; i < 100; ++i) {
    int children = 0;
    for (const auto& p : lifeline::runtime::process_table()) children += p.ppid == pid;
    std::int64_t fds = count_fds(pid);
    if (children >= kPool && fds == last) return fds;
    last = fds;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return last;
}

bool Soak::start_gateway(int port) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    int got = gw_.start(cmd_, port);
    if (got) {
      port_ = got;
      base_fds_ = fds_with_the_pool_full(gw_.pid());
      base_rss_ = rss_kib(gw_.pid());
      return true;
    }
    soak::wait_exit(gw_.pid(), 5);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));  // e.g. the port still bound
  }
  std::printf("lifeline-soak: %s\n", gw_.why().c_str());
  return false;
}

// Checks the store while no gateway holds it, against everything acknowledged so far.
void Soak::store_check(const char* when) {
  auto acks = all_acks();
  if (!planted_store_ && (o_.plant == "lost-entry" || o_.plant == "duplicate-entry")) {
    // A duplicate is only visible on a command the load makes unique, so plant it on the
    // latest such ack (a /sleep or terminal command may be the latest of all).
    bool dup = o_.plant == "duplicate-entry";
    auto target = std::find_if(acks.rbegin(), acks.rend(), [&](const soak::Ack& a) {
      return !dup || soak::unique_command(a.command);
    });
    if (target != acks.rend()) {
      planted_store_ =
          dup ? soak::plant_duplicate_entry(db_, *target) : soak::plant_lost_entry(db_, *target);
      std::printf("  planted: %s of %s#%lld (%s)\n", o_.plant.c_str(), target->session_key.c_str(),
                  static_cast<long long>(target->seq),
                  planted_store_ ? "done" : "refused by the store");
    }
  }
  auto r = o_.store.empty() ? soak::audit_store(db_, acks) : soak::audit_pg_store(o_.store, acks);
  if (!r.opened) {
    violation(std::string("store: cannot open ") + (o_.store.empty() ? db_ : "the database") + " " +
              when + (r.examples.empty() ? "" : ": " + r.examples.front()));
    return;
  }
  if (r.integrity != "ok")
    violation(std::string("store integrity_check ") + when + ": " + r.integrity);
  lost_ = std::max(lost_, r.lost);
  duplicated_ = std::max(duplicated_, r.duplicated);
  for (const auto& e : r.examples) std::printf("  store %s: %s\n", when, e.c_str());
}

std::vector<soak::Ack> Soak::all_acks() const {
  std::vector<soak::Ack> all;
  for (auto* l : loads()) {
    auto acks = l->acks();
    all.insert(all.end(), acks.begin(), acks.end());
  }
  return all;
}

soak::ClientView Soak::all_views() const {
  soak::ClientView sum;
  for (auto* l : loads()) {
    auto v = l->view();
    sum.requests += v.requests;
    sum.replies += v.replies;
    sum.error_replies += v.error_replies;
    for (auto [code, n] : v.error_codes) sum.error_codes[code] += n;
    sum.ended_unanswered += v.ended_unanswered;
    sum.unanswered += v.unanswered;
    sum.duplicate_replies += v.duplicate_replies;
    sum.unknown_replies += v.unknown_replies;
    sum.malformed += v.malformed;
    sum.half_open_survived += v.half_open_survived;
  }
  return sum;
}

soak::LoadCounters Soak::all_counters() const {
  soak::LoadCounters sum;
  for (auto* l : loads()) {
    auto c = l->counters();
    sum.lifecycles += c.lifecycles;
    sum.aborted += c.aborted;
    sum.connects += c.connects;
    sum.connect_failures += c.connect_failures;
    sum.resumes += c.resumes;
    sum.terminals += c.terminals;
    sum.half_open_checked += c.half_open_checked;
  }
  return sum;
}

// The fleet's second gateway: the first's command on a state dir of its own, as
// instance soak-b.
bool Soak::start_second_gateway() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    int got = gw_b_.start(cmd_b_, port_b_);
    if (got) {
      port_b_ = got;
      std::ifstream(state_b_ + "/token") >> target_b_.token;
      target_b_.port = port_b_;
      return true;
    }
    soak::wait_exit(gw_b_.pid(), 5);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  std::printf("lifeline-soak: the second gateway: %s\n", gw_b_.why().c_str());
  return false;
}

void Soak::restart_second(bool graceful) {
  restart_one(graceful, *load_b_, gw_b_.pid(), "the second gateway", " of the second gateway",
              [this] { return start_second_gateway(); });
}

// The shared database restarts under load: requests fail fast meanwhile (5033), and
// nothing acknowledged may be lost (the store check after it).
void Soak::restart_database() {
  ++db_restarts_;
  std::printf("  restarting the database\n");
  std::fflush(stdout);
  int rc = std::system(std::getenv("LIFELINE_SOAK_DB_RESTART"));
  if (rc != 0) violation("the database restart command failed (status " + std::to_string(rc) + ")");
  store_check("after a database restart");
}

void Soak::restart(bool graceful) {
  restart_one(graceful, *load_, gw_.pid(), "the gateway", "",
              [this] { return start_gateway(port_); });
}

// One gateway of the soak killed (SIGKILL, or SIGTERM and then it must exit 0), the store
// checked, the gateway started again; its users wait at the gate meanwhile.
void Soak::restart_one(bool graceful, soak::Load& load, int pid, const std::string& who,
                       const std::string& which, const std::function<bool()>& start_again) {
  load.set_gate(false);
  ++kills_;
  series_->mark_kill(now(), graceful);
  ::kill(pid, graceful ? SIGTERM : SIGKILL);
  auto status = soak::wait_exit(pid, graceful ? 40 : 10);
  if (!status)
    violation(who + " (pid " + std::to_string(pid) + ") did not exit after " +
              (graceful ? "SIGTERM" : "SIGKILL"));
  else if (graceful && !(WIFEXITED(*status) && WEXITSTATUS(*status) == 0))
    violation(who + "'s SIGTERM exit status was " +
              std::to_string(WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status)));
  store_check(((graceful ? "after a SIGTERM" : "after a SIGKILL") + which).c_str());
  if (!start_again()) {
    violation(who + " did not restart");
    interrupted = true;
    return;
  }
  load.set_gate(true);
}

void Soak::faults_tick() {
  if (o_.faults <= 0 || now() < next_fault_ || !gw_.pid()) return;
  std::uniform_real_distribution<double> u(0, 1);
  if (window_open_) {
    write_fault_spec("");
    ::kill(gw_.pid(), SIGHUP);
    series_->mark_fault_window(window_from_, now());
    window_open_ = false;
    next_fault_ = now() + 2 + 4 * u(rng_);
    return;
  }
  next_fault_ = now() + 2 + 4 * u(rng_);
  if (u(rng_) >= o_.faults) return;
  std::string spec;
  int points = 1 + static_cast<int>(u(rng_) * 2);
  for (int i = 0; i < points; ++i) {
    const char* p = fault_points[static_cast<std::size_t>(u(rng_) * std::size(fault_points)) %
                                 std::size(fault_points)];
    char prob[16];
    std::snprintf(prob, sizeof prob, "%.2f", 0.05 + 0.45 * u(rng_));
    spec += (spec.empty() ? "" : ",") + std::string(p) + "=" + prob;
  }
  write_fault_spec(spec);
  ::kill(gw_.pid(), SIGHUP);
  ++faults_;
  window_open_ = true;
  window_from_ = now();
  next_fault_ = now() + 1 + 4 * u(rng_);
}

void Soak::audit(bool print) {
  soak::reap_all();  // our own exited children first: they are ours to reap, not leaks
  double t = now();
  int pid = gw_.pid();
  auto stats = load_->call_once("gateway.stats", 3);
  soak::ProcessSample s;
  if (procs_) {
    procs_->set_other_gateways(gw_b_.pid() ? std::set<int>{gw_b_.pid()} : std::set<int>{});
    s = procs_->sample(t, pid, helpers(), o_.settle);
    for (const auto& leak : s.leaked_now) violation("leaked: " + leak);
  }
  std::int64_t fds = pid ? count_fds(pid) : 0, rss = pid ? rss_kib(pid) : 0;
  std::int64_t conns = stat_of(stats, "connections"), workers = stat_of(stats, "workers_live"),
               ptys = stat_of(stats, "ptys_live"), sessions = stat_of(stats, "sessions_live");
  // What the live objects may hold: a connection 1 fd, a worker its 3 pipes and a pidfd
  // (and a lifeline), a terminal its master, pidfd and supervisor pipes. Generous: a
  // steady excess beyond it is a leak (the exact check is the quiet one at the end).
  if (pid && stats && conns >= 0) {
    std::int64_t allowed = base_fds_ + 2 * conns + 8 * workers + 8 * ptys + 32;
    if (fds > allowed) {
      max_fd_excess_ = std::max(max_fd_excess_, fds - allowed);
      violation("gateway fds " + std::to_string(fds) + " exceed " + std::to_string(allowed) +
                " for " + std::to_string(conns) + " connections, " + std::to_string(workers) +
                " workers, " + std::to_string(ptys) + " terminals");
    }
    if (rss > base_rss_ + 65536 + allocator_slack_kib + 512 * sessions)
      violation("gateway RSS " + std::to_string(rss) + " KiB for " + std::to_string(sessions) +
                " sessions (started at " + std::to_string(base_rss_) + " KiB)");
  }
  auto c = all_counters();
  series_->add({t, c.lifecycles, kills_, faults_, s.processes, s.unowned, s.zombies, fds, rss,
                sessions, ptys, conns});
  last_ = s;
  last_fds_ = fds;
  last_rss_ = rss;
  if (print) {
    std::printf(
        "[%6.1fs] lifecycles %lld (cut short %lld), kills %lld, faults %lld, processes %d "
        "(unowned %d, zombies %d), fds %lld, rss %.1f MiB, sessions %lld\n",
        t, static_cast<long long>(c.lifecycles), static_cast<long long>(c.aborted),
        static_cast<long long>(kills_), static_cast<long long>(faults_), s.processes, s.unowned,
        s.zombies, static_cast<long long>(fds), static_cast<double>(rss) / 1024,
        static_cast<long long>(sessions));
    std::fflush(stdout);
  }
}

int Soak::run(const char* argv0) {
  bool own_gateway = o_.url.empty();
  std::string mode = announce();
  series_ = std::make_unique<soak::Series>(o_.out);
  soak::Target target;
  if (own_gateway ? !start_own_gateway(argv0, target) : !aim_at_url(target)) return 2;
  run_load(own_gateway, target);
  end_load();
  std::int64_t fd_growth = own_gateway ? stop_own_gateway() : 0;
  auto counters = all_counters();
  judge_the_clients_view(fd_growth);
  return verdict(mode, counters, fd_growth);
}

// The first lines: what runs, and the command that replays it. Returns the mode's name.
std::string Soak::announce() {
  std::string mode = o_.url.empty() ? (o_.via_nginx ? "through nginx" : "direct") : o_.url;
  std::printf(
      "lifeline-soak: seed %llu, %d clients, %.0f s, kills every %.0f s, faults %.2f, "
      "%s%s%s\n",
      static_cast<unsigned long long>(o_.seed), o_.clients, o_.duration, o_.kill_every, o_.faults,
      mode.c_str(), o_.plant.empty() ? "" : ", planted: ", o_.plant.c_str());
  std::string fleet;
  if (!o_.store.empty()) {
    char more[96];
    std::snprintf(more, sizeof more, " --store URL --gateways %d --db-restart-every %.0f",
                  o_.gateways, o_.db_restart_every);
    fleet = more;
  }
  std::printf(
      "  replay: lifeline-soak --seed %llu --clients %d --duration %.0f --kill-every %.0f "
      "--faults %.2f%s%s\n",
      static_cast<unsigned long long>(o_.seed), o_.clients, o_.duration, o_.kill_every, o_.faults,
      o_.via_nginx ? " --via-nginx" : "", fleet.c_str());
  std::fflush(stdout);
  return mode;
}

bool Soak::start_own_gateway(const char* argv0, soak::Target& target) {
  char tmpl[] = "/tmp/lifeline-soak-XXXXXX";
  if (!mkdtemp(tmpl)) {
    std::printf("lifeline-soak: cannot make a scratch dir: %s\n", std::strerror(errno));
    return false;
  }
  scratch_ = tmpl;
  state_ = scratch_ + "/state";
  home_ = scratch_ + "/home";
  env_file_ = scratch_ + "/faults.env";
  db_ = state_ + "/lifeline.db";
  std::filesystem::create_directories(home_);
  if (o_.plant == "fd") base_faults_ = "lifeline/plant/leak-fd";
  if (o_.plant == "unanswered") base_faults_ = "lifeline/plant/drop-reply=0.05";
  write_fault_spec("");
  cmd_.exe = !o_.gateway.empty()
                 ? o_.gateway
                 : (std::filesystem::path(argv0).parent_path() / "lifeline-gateway").string();
  char num[32];
  auto seconds = [&](double s) {
    std::snprintf(num, sizeof num, "%g", s);
    return std::string(num);
  };
  cmd_.args = {"--state-dir",        state_,
               "--env-file",         env_file_,
               "--orphan-grace",     seconds(orphan_grace_s),
               "--ping-interval",    seconds(ping_interval_s),
               "--ping-timeout",     seconds(ping_timeout_s),
               "--slash-timeout",    "5",
               "--pty-cmd",          "/bin/sh",
               "--max-unsent-bytes", "1048576",
               "--allowed-host",     "127.0.0.1",
               "--worker-pool",      std::to_string(kPool)};
  cmd_.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home_, "LANG=C.UTF-8",
              "LIFELINE_WATCHDOG_POLL_S=0.2", "LIFELINE_WATCHDOG_GRACE_S=1"};
  for (const char* keep : {"LIFELINE_CGROUPS", "LIFELINE_SYNC"})
    if (const char* v = std::getenv(keep)) cmd_.env.push_back(std::string(keep) + "=" + v);
  cmd_.log_path = scratch_ + "/gateway.log";
  if (!o_.store.empty()) {
    // A fleet's store: instances by name, a lease short enough to turn over in a soak.
    cmd_.args.insert(cmd_.args.end(),
                     {"--store", o_.store, "--instance", "soak-a", "--lease-ttl", "3"});
    if (o_.gateways > 1) {
      state_b_ = scratch_ + "/state-b";
      cmd_b_ = cmd_;
      for (auto& a : cmd_b_.args)
        if (a == state_)
          a = state_b_;
        else if (a == "soak-a")
          a = "soak-b";
      cmd_b_.log_path = scratch_ + "/gateway-b.log";
    }
  }
  if (!start_gateway(0)) return false;
  if (o_.gateways > 1 && !start_second_gateway()) return false;
  std::string cg = lifeline::runtime::own_cgroup2_dir();
  procs_ = std::make_unique<soak::ProcessAudit>(
      getpid(), "HOME=" + home_,
      cg.empty() ? "" : cg + "/" + lifeline::runtime::gateway_cgroup_name(state_));
  std::ifstream(state_ + "/token") >> target.token;
  target.port = port_;
  if (o_.via_nginx) {
    // proxy_read_timeout shorter than the ping interval: nginx cuts quiet connections
    // on its own, as misconfigured proxies do.
    nginx_ = soak::start_nginx(scratch_ + "/nginx", port_, 0.75 * ping_interval_s);
    if (!nginx_.pid) {
      std::printf("lifeline-soak: %s\n", nginx_.why.c_str());
      return false;
    }
    target.port = nginx_.port;
  }
  if (gw_b_.pid())
    std::printf("  second gateway pid %d on 127.0.0.1:%d (instance soak-b)\n", gw_b_.pid(),
                port_b_);
  std::printf("  gateway pid %d on 127.0.0.1:%d%s; scratch %s\n", gw_.pid(), port_,
              o_.via_nginx ? (", nginx on 127.0.0.1:" + std::to_string(nginx_.port)).c_str() : "",
              scratch_.c_str());
  return true;
}

// --url: a gateway someone else runs; only the clients' view can be audited.
bool Soak::aim_at_url(soak::Target& target) {
  if (!parse_url(o_.url, target.host, target.port)) {
    std::printf("lifeline-soak: --url must be ws://HOST:PORT/ws\n");
    return false;
  }
  if (const char* t = std::getenv("LIFELINE_TOKEN")) target.token = t;
  std::printf("  audits: the clients' view only (no kills, faults, process or store audits)\n");
  o_.kill_every = 0;
  o_.faults = 0;
  return true;
}

// The load, with kills, faults, plants and audits on their schedules, until --duration.
void Soak::run_load(bool own_gateway, const soak::Target& target) {
  soak::LoadOptions lo;
  lo.clients = o_.clients;
  lo.seed = o_.seed;
  lo.orphan_grace_s = orphan_grace_s;
  lo.ping_window_s = ping_interval_s + ping_timeout_s;
  if (target_b_.port) {
    soak::LoadOptions lb = lo;
    lb.clients = o_.clients / 2;
    lb.seed = o_.seed + 1;
    lo.clients -= lb.clients;
    load_b_ = std::make_unique<soak::Load>(lb, target_b_);
  }
  load_ = std::make_unique<soak::Load>(lo, target);
  load_->start();
  if (load_b_) load_b_->start();
  double next_db_restart = o_.db_restart_every > 0 ? o_.db_restart_every : 1e18;

  double next_audit = o_.audit_every, next_print = 5,
         next_kill = o_.kill_every > 0 ? o_.kill_every : 1e18;
  bool planted_process = false;
  while (!interrupted && now() < o_.duration) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto reaped = soak::reap_all();
    if (own_gateway && reaped.count(gw_.pid())) {
      violation("the gateway died on its own (wait status " + std::to_string(reaped[gw_.pid()]) +
                "); restarting it");
      load_->set_gate(false);
      store_check("after it died");
      if (!start_gateway(port_)) break;
      load_->set_gate(true);
    }
    if (own_gateway && gw_b_.pid() && reaped.count(gw_b_.pid())) {
      violation("the second gateway died on its own (wait status " +
                std::to_string(reaped[gw_b_.pid()]) + "); restarting it");
      load_b_->set_gate(false);
      if (!start_second_gateway()) break;
      load_b_->set_gate(true);
    }
    if (own_gateway && now() >= next_db_restart) {
      restart_database();
      next_db_restart = now() + o_.db_restart_every;
    }
    if (!planted_process && now() > 3 && (o_.plant == "process" || o_.plant == "zombie")) {
      plant_escapee(home_,
                    o_.plant == "process" ? "exec sleep 100000" : "sleep 0.1 & exec sleep 100000");
      planted_process = true;
      std::printf("  planted: an escaped %s\n",
                  o_.plant == "process" ? "process" : "zombie's parent");
    }
    if (own_gateway) faults_tick();
    if (own_gateway && now() >= next_kill) {
      std::uniform_int_distribution<int> third(0, 2);
      bool graceful = third(rng_) == 0;
      if (load_b_ && kill_b_next_)
        restart_second(graceful);
      else
        restart(graceful);
      kill_b_next_ = load_b_ && !kill_b_next_;
      next_kill = now() + o_.kill_every;
    }
    if (now() >= next_audit) {
      bool print = now() >= next_print;
      audit(print);
      if (print) next_print = now() + 5;
      next_audit = now() + o_.audit_every;
    }
  }
}

// The end: the last clients leave, the fault window closes.
void Soak::end_load() {
  std::printf("ending: the clients close what they opened and leave\n");
  std::fflush(stdout);
  if (window_open_) {
    write_fault_spec("");
    if (gw_.pid()) ::kill(gw_.pid(), SIGHUP);
    series_->mark_fault_window(window_from_, now());
  }
  for (auto* l : loads())
    if (!l->stop(60)) violation("some clients did not finish within 60 s");
}

// The gateway goes quiet, then stops; nothing of it may remain. Returns its fd growth.
// No session, terminal or worker but the full warm pool's.
bool quiet(const std::optional<Json>& stats) {
  return stat_of(stats, "sessions_live") == 0 && stat_of(stats, "ptys_live") == 0 &&
         stat_of(stats, "workers_pooled") == Soak::kPool &&
         stat_of(stats, "workers_live") == Soak::kPool;
}

std::int64_t Soak::stop_own_gateway() {
  std::int64_t fd_growth = 0;
  // Quiet: no session, worker, terminal or connection but the audit's own.
  double quiet_by = now() + orphan_grace_s + 20;
  std::optional<Json> stats;
  while (now() < quiet_by) {
    soak::reap_all();
    stats = load_->call_once("gateway.stats", 3);
    if (quiet(stats)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (!quiet(stats))
    violation("the gateway did not go quiet: " + (stats ? stats->dump() : std::string("no stats")));
  // The gateway's fds now against those it had when it started with nothing: the least
  // seen over 3 s (the audit's own connection takes a moment to go).
  std::int64_t least = count_fds(gw_.pid());
  for (int i = 0; i < 30 && least > base_fds_; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    least = std::min(least, count_fds(gw_.pid()));
  }
  fd_growth = std::max<std::int64_t>(0, least - base_fds_);
  std::printf("quiet gateway: %lld fds (%lld at its start), RSS %.1f MiB (%.1f at its start)\n",
              static_cast<long long>(least), static_cast<long long>(base_fds_),
              static_cast<double>(rss_kib(gw_.pid())) / 1024,
              static_cast<double>(base_rss_) / 1024);
  audit(false);
  if (gw_b_.pid()) {
    ::kill(gw_b_.pid(), SIGTERM);
    auto status_b = soak::wait_exit(gw_b_.pid(), 40);
    if (!status_b || !WIFEXITED(*status_b) || WEXITSTATUS(*status_b) != 0)
      violation("the second gateway did not exit 0 on SIGTERM");
    procs_->set_other_gateways({});
  }
  ::kill(gw_.pid(), SIGTERM);
  auto status = soak::wait_exit(gw_.pid(), 40);
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0)
    violation("the last gateway did not exit 0 on SIGTERM");
  if (nginx_.pid) {
    ::kill(nginx_.pid, SIGTERM);
    soak::wait_exit(nginx_.pid, 10);
    nginx_.pid = 0;
  }
  // Nothing may remain: wait up to 5 s (liveness), then whatever is left is leaked.
  int gone_pid = gw_.pid();
  soak::ProcessSample s;
  for (int i = 0; i < 50; ++i) {
    soak::reap_all();
    s = procs_->sample(now(), 0, helpers(), 1e9);
    if (s.processes == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  s = procs_->sample(now(), 0, helpers(), 0);
  for (const auto& leak : s.leaked_now) violation("left after the gateway stopped: " + leak);
  (void)gone_pid;
  std::string cg = lifeline::runtime::own_cgroup2_dir();
  std::string our_cgroup =
      cg.empty() ? "" : cg + "/" + lifeline::runtime::gateway_cgroup_name(state_);
  if (!our_cgroup.empty() && std::filesystem::exists(our_cgroup))
    violation("cgroup left behind: " + our_cgroup);
  std::string their_cgroup = cg.empty() || state_b_.empty()
                                 ? ""
                                 : cg + "/" + lifeline::runtime::gateway_cgroup_name(state_b_);
  if (!their_cgroup.empty() && std::filesystem::exists(their_cgroup))
    violation("cgroup left behind: " + their_cgroup);
  store_check("at the end");
  auto end_report =
      o_.store.empty() ? soak::audit_store(db_, {}) : soak::audit_pg_store(o_.store, {});
  if (end_report.sessions_open)
    violation(std::to_string(end_report.sessions_open) +
              " sessions have no recorded end after the last gateway stopped");
  return fd_growth;
}

void Soak::judge_the_clients_view(std::int64_t fd_growth) {
  auto view = all_views();
  auto counters = all_counters();
  if (view.unanswered)
    violation(std::to_string(view.unanswered) + " requests never answered on a live connection");
  if (view.duplicate_replies)
    violation(std::to_string(view.duplicate_replies) + " requests answered twice");
  if (view.unknown_replies)
    violation(std::to_string(view.unknown_replies) + " replies to no request");
  if (view.malformed) violation(std::to_string(view.malformed) + " frames that are not JSON");
  if (view.half_open_survived)
    violation(std::to_string(view.half_open_survived) +
              " half-open peers' sessions outlived ping interval + timeout");
  if (lost_) violation(std::to_string(lost_) + " acknowledged entries lost");
  if (duplicated_) violation(std::to_string(duplicated_) + " entries stored twice");
  if (fd_growth)
    violation("the quiet gateway holds " + std::to_string(fd_growth) +
              " more fds than at its start");

  std::printf(
      "clients: %lld requests, %lld answered (%lld errors), %lld cut by a closed "
      "connection; %lld connects (%lld failed), %lld resumes, %lld terminals, "
      "%lld half-open peers checked; %lld acknowledged entries checked\n",
      static_cast<long long>(view.requests), static_cast<long long>(view.replies),
      static_cast<long long>(view.error_replies), static_cast<long long>(view.ended_unanswered),
      static_cast<long long>(counters.connects), static_cast<long long>(counters.connect_failures),
      static_cast<long long>(counters.resumes), static_cast<long long>(counters.terminals),
      static_cast<long long>(counters.half_open_checked),
      static_cast<long long>(all_acks().size()));
  if (db_restarts_) std::printf("database restarts: %lld\n", static_cast<long long>(db_restarts_));
  if (!view.error_codes.empty()) {
    std::string codes;
    for (auto [code, n] : view.error_codes)
      codes += (codes.empty() ? "" : ", ") + std::to_string(code) + " x" + std::to_string(n);
    std::printf("error replies by code: %s\n", codes.c_str());
  }
}

int Soak::verdict(const std::string& mode, const soak::LoadCounters& counters,
                  std::int64_t fd_growth) {
  if (!o_.out.empty()) {
    std::string plot = series_->plot("lifeline-soak seed " + std::to_string(o_.seed) + ", " +
                                     std::to_string(o_.clients) + " clients, " + mode);
    std::printf("series: %s/soak.csv, plot: %s\n", o_.out.c_str(), plot.c_str());
  }
  // Leave the machine as we found it, whatever the verdict.
  if (procs_) {
    auto left = procs_->all_pids(helpers());
    for (int pid : left) ::kill(pid, SIGKILL);
    if (!left.empty()) std::printf("cleanup: killed %zu leftover processes\n", left.size());
    soak::wait_exit(-1, 0.5);
  }
  bool pass = violations_ == 0;
  std::int64_t leaked = procs_ ? procs_->leaked_processes() : 0;
  std::int64_t zombies = procs_ ? procs_->leaked_zombies() : 0;
  if (!scratch_.empty()) {
    if (pass && !o_.keep)
      std::filesystem::remove_all(scratch_);
    else
      std::printf("scratch kept: %s (gateway.log, state/)\n", scratch_.c_str());
  }
  // Every counter can be 0 on a FAIL (a restart that failed, a request never answered):
  // the verdict names what did fail.
  std::string which;
  for (const auto& a : failed_audits_) which += (which.empty() ? "" : "; ") + a;
  std::printf(
      "soak: %lld lifecycles, %lld gateway kills, %lld faults, leaked processes %lld, "
      "zombies %lld, fd growth %lld, lost acknowledged entries %lld: %s%s%s\n",
      static_cast<long long>(counters.lifecycles), static_cast<long long>(kills_),
      static_cast<long long>(faults_), static_cast<long long>(leaked),
      static_cast<long long>(zombies), static_cast<long long>(fd_growth),
      static_cast<long long>(lost_), pass ? "PASS" : "FAIL",
      pass ? "" : " (failed audits: ", pass ? "" : (which + ")").c_str());
  return pass ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string error;
  auto options = parse(argc, argv, error);
  if (!options) {
    std::fprintf(stderr, "lifeline-soak: %s\n\n%s", error.c_str(), usage);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = [](int) { interrupted = true; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // Orphans of a SIGKILLed gateway come to us: we reap them, and the audit sees them.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  setvbuf(stdout, nullptr, _IOLBF, 0);
  return Soak(*options).run(argv[0]);
}
