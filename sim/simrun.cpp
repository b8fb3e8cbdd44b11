// simrun: the deterministic simulator's command line. See sim/README.md.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <csignal>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/catalogue.hpp"
#include "sim/fleet.hpp"
#include "sim/minimize.hpp"
#include "sim/scenarios.hpp"

using namespace lifeline;
using namespace lifeline::sim;

namespace {

const char* usage_text =
    "usage: simrun [mode] [options]\n"
    "\n"
    "Runs the real lifeline core against a simulated kernel, network and store, injecting\n"
    "faults, and checks docs/DESIGN.md's invariants after every event. Every fifth seed\n"
    "(N % 5 == 4) runs the fleet world instead (sim/fleet.cpp: two or three gateways over\n"
    "one shared store with leases); --trace, --deep and --minimize do not apply to it.\n"
    "\n"
    "modes:\n"
    "  --seed N                  one run (the default mode; N defaults to 1)\n"
    "  --seeds A..B              a sweep; stops at and prints the first failing seed\n"
    "  --check-determinism       run twice (--seed N, or each of --seeds A..B) and compare\n"
    "                            the rolling trace hashes; names the first divergent event\n"
    "  --minimize                shrink the failing run of --seed N to a 1-minimal schedule\n"
    "                            and save it (--out FILE, default simrun-N.repro.json)\n"
    "  --replay FILE             replay a saved reproduction\n"
    "  --list-scenarios          one name per line, then a short description\n"
    "  --catalogue               docs/DESIGN.md's invariants as simrun checks them: name, rule,\n"
    "                            when, where (tab-separated, one per line)\n"
    "  --scenario NAME           a named regression scenario ('all': every one)\n"
    "  --bench                   time compression, events/s, session lifecycles/s\n"
    "  (sweeps and determinism runs print a progress line to stderr every 10 s)\n"
    "options:\n"
    "  --jobs J                  sweep on J threads (default 1)\n"
    "  --trace FILE              write the trace as JSON lines ('-': stdout)\n"
    "  --seconds S               bench duration (default 10)\n"
    "  --quiet                   print only failures and the summary\n"
    "  --deep                    deep seeds: 6-12 clients, 25,000-40,000 steps (about 10^5\n"
    "                            events), gateway kills and restarts on; any mode above\n"
    "  --help                    this text\n"
    "exit status: 0 all passed, 1 an invariant failed, 2 usage error\n";

// Seeds in flight, per sweep thread, for the crash report (a core assertion aborts).
constexpr int max_jobs = 256;
std::atomic<std::uint64_t> in_flight[max_jobs];

void on_crash(int sig) {
  char buf[64];
  auto say = [](const char* text, std::size_t n) { [[maybe_unused]] auto w = ::write(2, text, n); };
  const char head[] = "\nsimrun: crashed (a core assertion or memory error) while running seed";
  say(head, sizeof head - 1);
  for (auto& slot : in_flight) {
    std::uint64_t seed = slot.load();
    if (!seed) continue;
    int n = 0;
    char digits[24];
    do {
      digits[n++] = static_cast<char>('0' + seed % 10);
      seed /= 10;
    } while (seed);
    buf[0] = ' ';
    for (int i = 0; i < n; ++i) buf[1 + i] = digits[n - 1 - i];
    say(buf, static_cast<std::size_t>(n) + 1);
  }
  say("\n", 1);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// One run in a child process: a crash (signal) becomes the invariant "crash (signal N)".
RunResult run_isolated(std::uint64_t seed, const SwarmConfig& config,
                       const std::vector<Step>& steps) {
  int fds[2];
  if (pipe(fds) != 0) return run_once(seed, config, steps);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (int null = open("/dev/null", O_WRONLY); null >= 0) dup2(null, 2);  // the assertion text
    std::signal(SIGABRT, SIG_DFL);
    std::signal(SIGSEGV, SIG_DFL);
    WorldOptions o;
    o.keep_recent = false;
    RunResult r = run_once(seed, config, steps, o);
    std::string text = r.ok ? "" : r.invariant;
    [[maybe_unused]] auto w = ::write(fds[1], text.data(), text.size());
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
    text.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  RunResult r;
  if (WIFSIGNALED(status)) {
    r.ok = false;
    r.invariant = "crash (signal " + std::to_string(WTERMSIG(status)) + ")";
  } else if (!text.empty()) {
    r.ok = false;
    r.invariant = text;
  }
  return r;
}

struct Options {
  enum class Mode {
    one,
    sweep,
    determinism,
    minimize,
    replay,
    list,
    catalogue,
    scenario,
    bench
  } mode = Mode::one;
  std::uint64_t seed = 1;
  std::uint64_t first = 1, last = 1;
  bool seeds_given = false;
  int jobs = 1;
  std::string trace_file;
  std::string out_file;
  std::string replay_file;
  std::string scenario;
  double seconds = 10;
  bool quiet = false;
  bool deep = false;
};

bool parse_u64(const std::string& s, std::uint64_t& out) {
  if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos)
    return false;
  out = std::stoull(s);
  return true;
}

// Flags without a value: the mode they pick, or a switch. False: not one of them.
bool parse_switch(const std::string& a, Options& o) {
  static const std::map<std::string, Options::Mode> modes = {
      {"--check-determinism", Options::Mode::determinism},
      {"--minimize", Options::Mode::minimize},
      {"--list-scenarios", Options::Mode::list},
      {"--catalogue", Options::Mode::catalogue},
      {"--bench", Options::Mode::bench},
  };
  if (auto m = modes.find(a); m != modes.end()) {
    o.mode = m->second;
    return true;
  }
  if (a == "--deep") o.deep = true;
  if (a == "--quiet") o.quiet = true;
  return a == "--deep" || a == "--quiet";
}

bool takes_value(const std::string& a) {
  static const std::set<std::string> valued = {"--seed",     "--seeds", "--jobs", "--replay",
                                               "--scenario", "--trace", "--out",  "--seconds"};
  return valued.count(a) == 1;
}

// A flag that takes a value, and its value: false, with `error` said, when malformed.
bool parse_valued(const std::string& a, const std::string& v, Options& o, std::string& error) {
  if (a == "--seed") {
    if (!parse_u64(v, o.seed)) error = "--seed needs a non-negative integer";
  } else if (a == "--seeds") {
    auto dots = v.find("..");
    if (dots == std::string::npos || !parse_u64(v.substr(0, dots), o.first) ||
        !parse_u64(v.substr(dots + 2), o.last) || o.last < o.first)
      error = "--seeds needs A..B with A <= B";
    o.seeds_given = true;
    if (o.mode == Options::Mode::one) o.mode = Options::Mode::sweep;
  } else if (a == "--jobs") {
    std::uint64_t j = 0;
    if (!parse_u64(v, j) || j < 1 || j > 256) error = "--jobs needs an integer from 1 to 256";
    o.jobs = static_cast<int>(j);
  } else if (a == "--replay") {
    o.mode = Options::Mode::replay;
    o.replay_file = v;
  } else if (a == "--scenario") {
    o.mode = Options::Mode::scenario;
    o.scenario = v;
  } else if (a == "--trace") {
    o.trace_file = v;
  } else if (a == "--out") {
    o.out_file = v;
  } else if (a == "--seconds") {
    std::size_t used = 0;
    try {
      o.seconds = std::stod(v, &used);
    } catch (...) {
      used = 0;
    }
    if (used != v.size() || !(o.seconds > 0 && o.seconds <= 3600))
      error = "--seconds needs a number in (0, 3600]";
  }
  return error.empty();
}

std::optional<Options> parse(int argc, char** argv, std::string& error) {
  Options o;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << usage_text;
      std::exit(0);
    }
    if (parse_switch(a, o)) continue;
    if (!takes_value(a)) {
      error = "unknown argument '" + a + "'";
      return std::nullopt;
    }
    if (i + 1 >= args.size()) {
      error = a + " needs a value";
      return std::nullopt;
    }
    if (!parse_valued(a, args[++i], o, error)) return std::nullopt;
  }
  if (o.mode == Options::Mode::determinism && !o.seeds_given) o.first = o.last = o.seed;
  return o;
}

// Where --trace goes.
struct TraceFile {
  std::ofstream file;
  std::ostream* out = nullptr;
  explicit TraceFile(const std::string& path) {
    if (path.empty()) return;
    if (path == "-") {
      out = &std::cout;
      return;
    }
    file.open(path);
    if (!file) {
      std::cerr << "simrun: cannot write " << path << "\n";
      std::exit(2);
    }
    out = &file;
  }
};

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

void print_failure(const RunResult& r, const std::string& reproduce) {
  std::cout << "FAIL invariant \"" << r.invariant << "\" at event " << r.event_index
            << " (t=" << r.at << " ms)\n  " << r.detail << "\n";
  if (!r.recent.empty()) {
    std::cout << "  last trace lines:\n";
    for (const auto& line : r.recent) std::cout << "    " << line << "\n";
  }
  std::cout << "  reproduce: " << reproduce << "\n";
}

void print_ok(const RunResult& r) {
  std::cout << "ok: " << r.events << " events, " << r.sim_time << " ms simulated, "
            << r.counters.sessions_created << " sessions created, " << r.counters.sessions_finalized
            << " finalized, " << r.counters.gateway_kills << " gateway kills, "
            << r.counters.pid_reuses << " pid reuses, " << r.counters.backpressure_pauses
            << " backed-up connections (" << r.counters.slow_readers_dropped << " dropped), "
            << r.counters.reattaches_checked << " terminal reattaches checked, "
            << r.counters.histories_paged << " histories paged, hash " << hex(r.hash) << "\n";
}

int run_one(const Options& o) {
  if (fleet_seed(o.seed)) {
    std::cout << "seed " << o.seed << ": " << describe_fleet(o.seed) << "\n";
    RunResult r = run_fleet(o.seed);
    if (!r.ok) {
      print_failure(r, "simrun --seed " + std::to_string(o.seed));
      return 1;
    }
    std::cout << "seed " << o.seed << ": ok, " << r.events << " events, " << r.sim_time
              << " ms simulated; " << r.counters.sessions_created << " sessions created, "
              << r.counters.acks_checked << " entries acknowledged, " << r.counters.resumes_ok
              << " resumes (" << r.counters.takeovers_seen << " claims of a lost instance's), "
              << r.counters.stale_refused << " answered 4011, " << r.counters.gateway_kills
              << " gateways killed, " << r.counters.keepalive_drops
              << " sessions ended by a lapsed lease; hash " << hex(r.hash) << "\n";
    return 0;
  }
  SwarmConfig config = generate_swarm(o.seed, o.deep);
  std::vector<Step> steps = generate_steps(o.seed, config, o.deep);
  std::cout << "seed " << o.seed << ": " << config.describe() << " steps=" << steps.size() << "\n";
  TraceFile t(o.trace_file);
  WorldOptions wo;
  wo.trace_out = t.out;
  in_flight[0] = o.seed;
  std::cout.flush();
  RunResult r = run_once(o.seed, config, steps, wo);
  in_flight[0] = 0;
  if (!r.ok) {
    print_failure(r, "simrun --seed " + std::to_string(o.seed) +
                         " --trace trace.jsonl; simrun --minimize --seed " +
                         std::to_string(o.seed));
    return 1;
  }
  print_ok(r);
  return 0;
}

RunResult quick(std::uint64_t seed, bool deep) {
  if (fleet_seed(seed)) return run_fleet(seed);
  SwarmConfig config = generate_swarm(seed, deep);
  WorldOptions wo;
  wo.keep_recent = false;
  return run_once(seed, config, generate_steps(seed, config, deep), wo);
}

int run_sweep(const Options& o) {
  std::atomic<std::uint64_t> next{o.first};
  std::atomic<std::uint64_t> first_failure{UINT64_MAX};
  std::atomic<std::uint64_t> passed{0}, events{0};
  auto t0 = std::chrono::steady_clock::now();
  auto worker = [&](int slot) {
    for (;;) {
      std::uint64_t seed = next.fetch_add(1);
      if (seed > o.last || seed > first_failure.load()) return;
      in_flight[slot] = seed;
      RunResult r = quick(seed, o.deep);
      in_flight[slot] = 0;
      events += r.events;
      if (r.ok) {
        ++passed;
        continue;
      }
      std::uint64_t seen = first_failure.load();
      while (seed < seen && !first_failure.compare_exchange_weak(seen, seed)) {
      }
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(o.jobs));
  int running = o.jobs;
  std::mutex m;
  std::condition_variable finished;
  for (int i = 0; i < o.jobs; ++i)
    threads.emplace_back([&, i] {
      worker(i);
      std::lock_guard lock(m);
      --running;
      finished.notify_one();
    });
  // A progress line every 10 s on stderr, so that a long sweep (CI's, --deep) shows it
  // is alive and how far it got; a short one prints none.
  for (std::unique_lock lock(m);
       !finished.wait_for(lock, std::chrono::seconds(10), [&] { return running == 0; });) {
    double so_far = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::uint64_t done = passed.load();
    std::fprintf(stderr,
                 "sweep %llu..%llu: %llu of %llu seeds passed, %llu events, %.0f s (%.1f "
                 "seeds/s)\n",
                 static_cast<unsigned long long>(o.first), static_cast<unsigned long long>(o.last),
                 static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(o.last - o.first) + 1ULL,
                 static_cast<unsigned long long>(events.load()), so_far,
                 static_cast<double>(done) / so_far);
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (first_failure.load() != UINT64_MAX) {
    Options one = o;
    one.seed = first_failure.load();
    std::cout << "sweep " << o.first << ".." << o.last << ": seed " << one.seed << " fails ("
              << passed.load() << " seeds passed before it was found, " << secs << " s)\n";
    run_one(one);
    return 1;
  }
  std::cout << "sweep " << o.first << ".." << o.last << ": all " << passed.load()
            << " seeds passed, " << events.load() << " events, " << secs << " s on " << o.jobs
            << " thread(s), "
            << static_cast<long long>(static_cast<double>(events.load()) / secs /
                                      static_cast<double>(o.jobs))
            << " events/s per thread\n";
  return 0;
}

int run_determinism(const Options& o) {
  bool deep = o.deep;
  int bad = 0;
  auto t0 = std::chrono::steady_clock::now(), last = t0;
  for (std::uint64_t seed = o.first; seed <= o.last; ++seed) {
    if (auto now = std::chrono::steady_clock::now(); now - last >= std::chrono::seconds(10)) {
      last = now;
      std::fprintf(stderr, "determinism %llu..%llu: %llu seeds replayed, %.0f s\n",
                   static_cast<unsigned long long>(o.first),
                   static_cast<unsigned long long>(o.last),
                   static_cast<unsigned long long>(seed - o.first),
                   std::chrono::duration<double>(now - t0).count());
    }
    if (fleet_seed(seed)) {  // no trace: its events, time and outcome, hashed
      RunResult r1 = run_fleet(seed), r2 = run_fleet(seed);
      if (r1.hash == r2.hash && r1.events == r2.events) continue;
      ++bad;
      std::cout << "seed " << seed << ": NOT deterministic (fleet)\n";
      continue;
    }
    SwarmConfig config = generate_swarm(seed, deep);
    std::vector<Step> steps = generate_steps(seed, config, deep);
    std::ostringstream a, b;
    WorldOptions wa, wb;
    wa.trace_out = &a;
    wb.trace_out = &b;
    wa.keep_hashes = wb.keep_hashes = true;
    wa.keep_recent = wb.keep_recent = false;
    World w1(seed, config, wa), w2(seed, config, wb);
    RunResult r1 = w1.run(steps), r2 = w2.run(steps);
    if (r1.hash == r2.hash && a.str() == b.str()) {
      if (!o.quiet)
        std::cout << "seed " << seed << ": deterministic, " << r1.events << " events, hash "
                  << hex(r1.hash) << "\n";
      continue;
    }
    ++bad;
    std::istringstream la(a.str()), lb(b.str());
    std::string x, y;
    std::size_t line = 0;
    while (true) {
      bool ha = static_cast<bool>(std::getline(la, x)), hb = static_cast<bool>(std::getline(lb, y));
      if (!ha && !hb) break;
      if (!ha || !hb || x != y) {
        std::cout << "seed " << seed << ": NOT deterministic; first divergent trace line " << line
                  << "\n  run 1: " << (ha ? x : "<end>") << "\n  run 2: " << (hb ? y : "<end>")
                  << "\n";
        break;
      }
      ++line;
    }
  }
  if (o.first != o.last || o.quiet)
    std::cout << "determinism: " << (o.last - o.first + 1 - static_cast<std::uint64_t>(bad))
              << " of " << (o.last - o.first + 1) << " seeds replayed byte-identically\n";
  return bad ? 1 : 0;
}

int run_minimize(const Options& o) {
  if (fleet_seed(o.seed)) {
    std::cout << "seed " << o.seed << " is a fleet seed: its world is drawn whole, not from "
              << "steps; nothing to minimize (replay it with simrun --seed " << o.seed << ")\n";
    return run_fleet(o.seed).ok ? 0 : 1;
  }
  SwarmConfig config = generate_swarm(o.seed, o.deep);
  std::vector<Step> steps = generate_steps(o.seed, config, o.deep);
  Runner runner = [&](const std::vector<Step>& candidate) {
    return run_isolated(o.seed, config, candidate);
  };
  RunResult r = runner(steps);
  if (r.ok) {
    std::cout << "seed " << o.seed << " passes: nothing to minimize\n";
    return 0;
  }
  std::cout << "seed " << o.seed << " fails \"" << r.invariant << "\" with " << steps.size()
            << " steps; minimizing\n";
  auto t0 = std::chrono::steady_clock::now();
  MinimizeStats st;
  std::vector<Step> small = minimize(runner, steps, r.invariant, &st, [&](std::size_t n) {
    if (!o.quiet) std::cout << "  " << n << " steps still fail\n";
  });
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Reproduction repro{o.seed, config, small, r.invariant};
  std::string path =
      o.out_file.empty() ? "simrun-" + std::to_string(o.seed) + ".repro.json" : o.out_file;
  std::ofstream f(path);
  f << repro.to_json().dump(1) << "\n";
  if (!f) {
    std::cerr << "simrun: cannot write " << path << "\n";
    return 2;
  }
  std::cout << "minimized " << st.from << " -> " << st.to << " steps (1-minimal) in " << st.runs
            << " runs, " << secs << " s; saved " << path << "\n";
  for (const auto& s : small) std::cout << "  " << s.to_json().dump() << "\n";
  RunResult again = run_isolated(o.seed, config, small);
  if (again.invariant.starts_with("crash")) {
    std::cout << "FAIL " << again.invariant << "\n  reproduce: simrun --replay " << path << "\n";
    return 1;
  }
  again = run_once(o.seed, config, small);
  print_failure(again, "simrun --replay " + path);
  return 1;
}

int run_replay(const Options& o) {
  std::ifstream f(o.replay_file);
  if (!f) {
    std::cerr << "simrun: cannot read " << o.replay_file << "\n";
    return 2;
  }
  std::stringstream text;
  text << f.rdbuf();
  Json j = Json::parse(text.str(), nullptr, false);
  std::string why;
  auto repro = j.is_discarded() ? std::nullopt : Reproduction::from_json(j, &why);
  if (!repro) {
    std::cerr << "simrun: " << o.replay_file << ": " << (j.is_discarded() ? "not JSON" : why)
              << "\n";
    return 2;
  }
  std::cout << "replay seed " << repro->seed << ": " << repro->config.describe()
            << " steps=" << repro->steps.size() << "\n";
  TraceFile t(o.trace_file);
  WorldOptions wo;
  wo.trace_out = t.out;
  RunResult r = run_once(repro->seed, repro->config, repro->steps, wo);
  if (!r.ok) {
    print_failure(r, "simrun --replay " + o.replay_file + " --trace trace.jsonl");
    return 1;
  }
  print_ok(r);
  return 0;
}

int run_scenarios(const Options& o) {
  std::vector<const Scenario*> chosen;
  if (o.scenario == "all") {
    for (const auto& s : scenarios()) chosen.push_back(&s);
  } else if (const Scenario* s = find_scenario(o.scenario)) {
    chosen.push_back(s);
  } else {
    std::cerr << "simrun: no scenario named '" << o.scenario << "' (see --list-scenarios)\n";
    return 2;
  }
  TraceFile t(o.trace_file);
  int failed = 0;
  for (const Scenario* s : chosen) {
    RunResult r = run_scenario(*s, t.out);
    if (r.ok) {
      std::cout << "pass  " << s->name << "  (" << r.events << " events, hash " << hex(r.hash)
                << ")\n";
    } else {
      ++failed;
      std::cout << "FAIL  " << s->name << "\n";
      print_failure(r, "simrun --scenario " + s->name + " --trace trace.jsonl");
    }
  }
  std::cout << (chosen.size() - static_cast<std::size_t>(failed)) << " of " << chosen.size()
            << " scenarios passed\n";
  return failed ? 1 : 0;
}

int run_bench(const Options& o) {
  auto t0 = std::chrono::steady_clock::now();
  double wall = 0;
  std::uint64_t seeds = 0, events = 0, lifecycles = 0, failures = 0;
  std::int64_t simulated = 0;
  for (std::uint64_t seed = 1; wall < o.seconds; ++seed) {
    RunResult r = quick(seed, o.deep);
    ++seeds;
    events += r.events;
    lifecycles += static_cast<std::uint64_t>(r.counters.sessions_finalized);
    simulated += r.sim_time;
    failures += !r.ok;
    wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  std::printf("simrun bench: default swarm, seeds 1..%llu, one thread\n",
              static_cast<unsigned long long>(seeds));
  std::printf("  wall time            %.2f s\n", wall);
  std::printf("  simulated time       %.0f s\n", static_cast<double>(simulated) / 1000.0);
  std::printf("  time compression     %.0fx (simulated / wall)\n",
              static_cast<double>(simulated) / 1000.0 / wall);
  std::printf("  simulated events/s   %.0f\n", static_cast<double>(events) / wall);
  std::printf("  session lifecycles/s %.0f (%llu sessions created and finalized)\n",
              static_cast<double>(lifecycles) / wall, static_cast<unsigned long long>(lifecycles));
  std::printf("  seeds/s              %.1f (%llu failed)\n", static_cast<double>(seeds) / wall,
              static_cast<unsigned long long>(failures));
  return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGABRT, on_crash);
  std::signal(SIGSEGV, on_crash);
  std::string error;
  auto o = parse(argc, argv, error);
  if (!o) {
    std::cerr << "simrun: " << error << "\n\n" << usage_text;
    return 2;
  }
  switch (o->mode) {
    case Options::Mode::one:
      return run_one(*o);
    case Options::Mode::sweep:
      return run_sweep(*o);
    case Options::Mode::determinism:
      return run_determinism(*o);
    case Options::Mode::minimize:
      return run_minimize(*o);
    case Options::Mode::replay:
      return run_replay(*o);
    case Options::Mode::list:
      for (const auto& s : scenarios()) std::cout << s.name << "\n";
      std::cout << "\n";
      for (const auto& s : scenarios()) std::cout << s.name << ": " << s.description << "\n";
      return 0;
    case Options::Mode::catalogue:
      for (const auto& inv : catalogue())
        std::cout << inv.name << "\t" << inv.rule << "\t" << to_string(inv.when) << "\t"
                  << (inv.site.empty() ? "sim/catalogue.cpp" : inv.site) << "\n";
      return 0;
    case Options::Mode::scenario:
      return run_scenarios(*o);
    case Options::Mode::bench:
      return run_bench(*o);
  }
  return 2;
}
