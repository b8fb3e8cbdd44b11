#include "sim/swarm.hpp"

#include <algorithm>
#include <array>

#include "sim/rng.hpp"

namespace lifeline::sim {

namespace {
constexpr std::array<const char*, static_cast<int>(StepKind::count_)> kind_names = {
    "connect",      "create",        "exec",        "close",        "resume",
    "reset",        "pty_open",      "pty_write",   "pty_close",    "list",
    "history",      "disconnect",    "drop",        "half_open",    "kill_gateway",
    "term_gateway", "fail_spawns",   "slow_spawns", "crash_worker", "fail_writes",
    "slow_store",   "stall_reading", "pty_attach",  "bystander",    "coincide"};

struct Flag {
  const char* name;
  bool SwarmConfig::*member;
};
constexpr std::array<Flag, 16> flags = {{
    {"cgroups", &SwarmConfig::cgroups},
    {"disconnects", &SwarmConfig::disconnects},
    {"resets", &SwarmConfig::resets},
    {"half_open", &SwarmConfig::half_open},
    {"spawn_failures", &SwarmConfig::spawn_failures},
    {"slow_spawns", &SwarmConfig::slow_spawns},
    {"worker_crashes", &SwarmConfig::worker_crashes},
    {"workers_ignore_term", &SwarmConfig::workers_ignore_term},
    {"workers_exit_slowly", &SwarmConfig::workers_exit_slowly},
    {"grandchildren", &SwarmConfig::grandchildren},
    {"setsid_escapees", &SwarmConfig::setsid_escapees},
    {"gateway_kills", &SwarmConfig::gateway_kills},
    {"store_slow", &SwarmConfig::store_slow},
    {"store_failures", &SwarmConfig::store_failures},
    {"ptys", &SwarmConfig::ptys},
    {"flaky_parent_probe", &SwarmConfig::flaky_parent_probe},
}};

struct Knob {
  const char* name;
  Millis GatewayConfig::*member;
};
constexpr std::array<Knob, 9> gateway_knobs = {{
    {"session_ttl", &GatewayConfig::session_ttl},
    {"reaper_interval", &GatewayConfig::reaper_interval},
    {"orphan_grace", &GatewayConfig::orphan_grace},
    {"ping_interval", &GatewayConfig::ping_interval},
    {"ping_timeout", &GatewayConfig::ping_timeout},
    {"slash_timeout", &GatewayConfig::slash_timeout},
    {"hup_wait", &GatewayConfig::hup_wait},
    {"term_wait", &GatewayConfig::term_wait},
    {"kill_wait", &GatewayConfig::kill_wait},
}};
}  // namespace

const char* to_string(StepKind kind) {
  return kind_names[static_cast<std::size_t>(kind)];
}

std::optional<StepKind> step_kind_from(const std::string& name) {
  for (std::size_t i = 0; i < kind_names.size(); ++i)
    if (name == kind_names[i]) return static_cast<StepKind>(i);
  return std::nullopt;
}

Json Step::to_json() const {
  return Json::array({at, to_string(kind), client, a, b});
}

std::optional<Step> Step::from_json(const Json& j) {
  if (!j.is_array() || j.size() != 5 || !j[0].is_number_integer() || !j[1].is_string() ||
      !j[2].is_number_integer() || !j[3].is_number_integer() || !j[4].is_number_integer())
    return std::nullopt;
  auto kind = step_kind_from(j[1].get<std::string>());
  if (!kind) return std::nullopt;
  Step s;
  s.at = j[0].get<Millis>();
  s.kind = *kind;
  s.client = j[2].get<int>();
  s.a = j[3].get<int>();
  s.b = j[4].get<int>();
  if (s.at < 0 || s.client < 0 || s.client > 64) return std::nullopt;
  return s;
}

Json SwarmConfig::to_json() const {
  Json j = {{"clients", clients},
            {"pid_max", pid_max},
            {"latency_max", latency_max},
            {"worker_start_max", worker_start_max},
            {"spawn_latency", spawn_latency},
            {"store_latency", store_latency},
            {"persistent_sessions", persistent_sessions},
            {"containment_focus", containment_focus},
            {"slow_readers", slow_readers},
            {"max_unsent_bytes", gateway.max_unsent_bytes},
            {"quantum", quantum},
            {"max_ptys_per_session", gateway.max_ptys_per_session},
            {"max_sessions", gateway.max_sessions},
            {"max_sessions_per_connection", gateway.max_sessions_per_connection},
            {"max_queued_commands", gateway.max_queued_commands},
            {"worker_pool", gateway.worker_pool},
            {"watchdog_poll", worker.watchdog_poll},
            {"watchdog_grace", worker.watchdog_grace}};
  for (const auto& f : flags) j[f.name] = this->*f.member;
  for (const auto& k : gateway_knobs) j[k.name] = gateway.*k.member;
  return j;
}

std::optional<SwarmConfig> SwarmConfig::from_json(const Json& j, std::string* why) {
  SwarmConfig c;
  if (!j.is_object()) {
    *why = "config is not an object";
    return std::nullopt;
  }
  auto num = [&](const char* key, auto& out, std::int64_t lo, std::int64_t hi) {
    if (!j.contains(key)) return true;
    if (!j[key].is_number_integer() || j[key].get<std::int64_t>() < lo ||
        j[key].get<std::int64_t>() > hi) {
      *why = std::string("config: '") + key + "' must be an integer in [" + std::to_string(lo) +
             ", " + std::to_string(hi) + "]";
      return false;
    }
    out = static_cast<std::remove_reference_t<decltype(out)>>(j[key].get<std::int64_t>());
    return true;
  };
  constexpr std::int64_t day = 86'400'000;
  bool ok = num("clients", c.clients, 1, 32) && num("pid_max", c.pid_max, 16, 1 << 22) &&
            num("latency_max", c.latency_max, 0, 10'000) &&
            num("worker_start_max", c.worker_start_max, 0, 10'000) &&
            num("spawn_latency", c.spawn_latency, 0, 10'000) &&
            num("store_latency", c.store_latency, 0, 10'000) &&
            num("quantum", c.quantum, 1, 60'000) &&
            num("max_ptys_per_session", c.gateway.max_ptys_per_session, 1, 1'000) &&
            num("max_sessions", c.gateway.max_sessions, 1, 100'000) &&
            num("max_sessions_per_connection", c.gateway.max_sessions_per_connection, 1, 100'000) &&
            num("max_queued_commands", c.gateway.max_queued_commands, 1, 100'000) &&
            num("worker_pool", c.gateway.worker_pool, 0, 64) &&
            num("max_unsent_bytes", c.gateway.max_unsent_bytes, 1, std::int64_t{1} << 40) &&
            num("watchdog_poll", c.worker.watchdog_poll, 1, day) &&
            num("watchdog_grace", c.worker.watchdog_grace, 0, day);
  for (const auto& k : gateway_knobs) ok = ok && num(k.name, c.gateway.*k.member, 1, day);
  if (!ok) return std::nullopt;
  for (const auto& f : flags) {
    if (!j.contains(f.name)) continue;
    if (!j[f.name].is_boolean()) {
      *why = std::string("config: '") + f.name + "' must be a boolean";
      return std::nullopt;
    }
    c.*f.member = j[f.name].get<bool>();
  }
  for (auto [key, member] : {std::pair{"persistent_sessions", &SwarmConfig::persistent_sessions},
                             std::pair{"containment_focus", &SwarmConfig::containment_focus},
                             std::pair{"slow_readers", &SwarmConfig::slow_readers}}) {
    if (!j.contains(key)) continue;
    if (!j[key].is_boolean()) {
      *why = std::string("config: '") + key + "' must be a boolean";
      return std::nullopt;
    }
    c.*member = j[key].get<bool>();
  }
  return c;
}

std::string SwarmConfig::describe() const {
  std::string out = "clients=" + std::to_string(clients) + " pid_max=" + std::to_string(pid_max) +
                    " latency<=" + std::to_string(latency_max) +
                    "ms grace=" + std::to_string(gateway.orphan_grace) +
                    "ms ttl=" + std::to_string(gateway.session_ttl) +
                    "ms ladder=" + std::to_string(gateway.hup_wait) + "/" +
                    std::to_string(gateway.term_wait) + "/" + std::to_string(gateway.kill_wait) +
                    "ms poll=" + std::to_string(worker.watchdog_poll) +
                    "ms max_sessions=" + std::to_string(gateway.max_sessions) +
                    " pool=" + std::to_string(gateway.worker_pool) +
                    (quantum > 1 ? " quantum=" + std::to_string(quantum) + "ms" : "") + " faults:";
  bool any = false;
  for (const auto& f : flags)
    if (this->*f.member) {
      out += std::string(" ") + f.name;
      any = true;
    }
  if (!any) out += " none";
  if (containment_focus) out += " (containment focus)";
  if (slow_readers)
    out += " (slow readers, max_unsent=" + std::to_string(gateway.max_unsent_bytes) + ")";
  return out;
}

namespace {

// Each part below draws from `r` in the order generate_swarm always did, so that a seed
// keeps its world; the parts with an Rng of their own leave the others' draws alone.
void draw_timeouts(Rng& r, SwarmConfig& c) {
  GatewayConfig& g = c.gateway;
  g.hup_wait = r.between(10, 250);
  g.term_wait = r.between(20, 1000);
  g.kill_wait = r.between(50, 1000);
  g.orphan_grace = r.between(100, 3000);
  g.ping_interval = r.between(200, 2000);
  // Healthy peers must always be able to answer in time: timeout > a round trip.
  g.ping_timeout = 2 * c.latency_max + r.between(50, 2000);
  g.slash_timeout = r.between(500, 5000);
  bool short_ttl = r.chance(30);
  g.session_ttl = short_ttl ? r.between(500, 8000) : 3'600'000;
  g.reaper_interval = short_ttl ? r.between(100, 2000) : 300'000;
}

// Limits: often the defaults, often tight, and in one seed of ten down to 1-3 each, so
// that every "limit reached" path (and eviction under it) runs against the rest.
void draw_limits(Rng& r, GatewayConfig& g) {
  bool tight = r.chance(10);
  g.max_sessions = tight ? r.between(1, 3) : r.chance(30) ? r.between(2, 8) : 1024;
  g.max_sessions_per_connection = tight ? r.between(1, 3) : r.chance(30) ? r.between(1, 4) : 64;
  g.max_queued_commands = tight ? r.between(1, 3) : r.between(2, 16);
  g.max_ptys_per_session = tight ? static_cast<int>(r.between(1, 3)) : 4;
  g.max_message_bytes = 65536;
  g.worker_cmd = "lifeline-slash-worker";
}

void draw_watchdog_and_extremes(Rng& r, SwarmConfig& c) {
  GatewayConfig& g = c.gateway;
  c.worker.watchdog_poll = r.between(50, 2000);
  c.worker.watchdog_grace = r.between(0, 2000);
  if (!r.chance(10)) return;
  // Extremes: graces and pings near zero or far longer than any command, so that a
  // command outlives every grace or every grace outlives the run.
  bool tiny = r.chance(50);
  g.orphan_grace = tiny ? r.between(1, 30) : r.between(60'000, 600'000);
  c.worker.watchdog_grace = tiny ? 0 : r.between(10'000, 60'000);
  g.ping_interval = tiny ? r.between(20, 60) : g.ping_interval;
  g.slash_timeout = tiny ? r.between(50, 200) : r.between(30'000, 120'000);
}

// Drawn from a stream of its own, so that the other seeds' draws stay as they were.
void maybe_focus_on_containment(std::uint64_t seed, bool deep, SwarmConfig& c) {
  Rng f(seed ^ 0x3c6ef372fe94f82bULL);
  if (deep || !f.chance(12)) return;
  c.containment_focus = true;
  c.gateway_kills = c.grandchildren = true;
  c.setsid_escapees = f.chance(60);
  c.cgroups = f.chance(50);
  c.worker_crashes = c.cgroups || !c.setsid_escapees;  // the documented limit above
  // An orphan notices soon and drains briefly, so that it exits by itself before its
  // successor sweeps, and a long command outlasts its grace.
  c.worker.watchdog_poll = f.between(50, 400);
  c.worker.watchdog_grace = f.between(0, 1000);
  c.workers_exit_slowly = f.chance(30);
}

// The warm pool (rule 18): off in a quarter of the seeds, so that a session's first
// command also races its own worker's spawn; else up to 4 workers ahead of need.
void draw_pool(std::uint64_t seed, SwarmConfig& c) {
  Rng p(seed ^ 0x1f83d9abfb41bd6bULL);
  c.gateway.worker_pool = p.chance(25) ? 0 : p.between(1, 4);
}

void maybe_slow_readers(std::uint64_t seed, SwarmConfig& c) {
  Rng u(seed ^ 0x510e527fade682d1ULL);
  if (!u.chance(25)) return;
  // Small enough that a client which stops reading for a few hundred ms passes half of
  // it (terminals pause), and sometimes all of it (dropped); a reading client stays
  // well below it.
  c.slow_readers = true;
  c.ptys = c.ptys || u.chance(60);  // paused terminals are what there is to see
  c.gateway.max_unsent_bytes = u.between(600, 4096);
  c.gateway.pty_replay_bytes = c.gateway.max_unsent_bytes / 4;  // as parse_gateway_config does
}

// Quantized time: everything lands on a 100 ms grid, with no network latency.
void quantize(std::uint64_t seed, SwarmConfig& c) {
  GatewayConfig& g = c.gateway;
  c.quantum = 100;
  c.latency_max = 0;
  c.spawn_latency = c.store_latency = c.worker_start_max = 0;
  for (Millis* m : {&g.hup_wait, &g.term_wait, &g.kill_wait, &g.orphan_grace, &g.ping_interval,
                    &g.slash_timeout, &g.session_ttl, &g.reaper_interval, &c.worker.watchdog_poll,
                    &c.worker.watchdog_grace})
    *m = std::max<Millis>(c.quantum, (*m + c.quantum / 2) / c.quantum * c.quantum);
  g.ping_timeout =
      std::max<Millis>(2 * c.quantum, (g.ping_timeout + c.quantum / 2) / c.quantum * c.quantum);
  // Coincident timers, from a stream of their own: a reaper interval a small multiple
  // of a short grace, and a short TTL, so that a grace expires in the very instant the
  // reaper (armed before it) evicts the same session - the reference's double pop.
  if (Rng t(seed ^ 0x9b05688c2b3e6c1fULL); t.chance(40)) {
    g.orphan_grace = c.quantum * t.between(1, 3);
    g.reaper_interval = g.orphan_grace * t.between(2, 4);
    g.session_ttl = c.quantum * t.between(5, 30);
  }
}

}  // namespace

SwarmConfig generate_swarm(std::uint64_t seed, bool deep) {
  Rng r(seed ^ 0x5157a4b1d3c2e1f0ULL);
  SwarmConfig c;
  c.clients = static_cast<int>(r.between(1, 6));
  c.pid_max = r.chance(40) ? static_cast<int>(r.between(24, 64)) : 32768;
  c.latency_max = r.chance(30) ? 0 : r.between(1, 60);
  c.worker_start_max = r.between(0, 30);
  c.spawn_latency = r.between(0, 5);
  c.store_latency = r.between(0, 5);
  for (const auto& f : flags) c.*f.member = r.chance(45);
  c.disconnects = r.chance(80);
  c.grandchildren = r.chance(70);
  c.persistent_sessions = r.chance(80);
  // The documented limit of the no-cgroup fallback (README "What is not modelled"): a
  // setsid escapee whose worker crashes in the very instant the gateway is SIGKILLed has
  // left both the worker's group and its parentage, so nothing can find it. Found by a
  // tight-limits seed (6445 of this swarm) that put the crash and the kill together.
  if (!c.cgroups && c.setsid_escapees && c.gateway_kills) c.worker_crashes = false;
  draw_timeouts(r, c);
  draw_limits(r, c.gateway);
  draw_watchdog_and_extremes(r, c);
  maybe_focus_on_containment(seed, deep, c);
  maybe_slow_readers(seed, c);
  draw_pool(seed, c);
  if (r.chance(30)) quantize(seed, c);
  if (deep) {
    c.clients = static_cast<int>(r.between(6, 12));
    c.gateway_kills = true;  // several restarts in one long uptime
    if (!c.cgroups && c.setsid_escapees) c.worker_crashes = false;  // the limit above
  }
  return c;
}

namespace {

struct Weighted {
  StepKind kind;
  int weight;
};

// Which kinds of step this seed's world has, and how often each comes.
std::vector<Weighted> step_mix(Rng& r, const SwarmConfig& c) {
  std::vector<Weighted> mix = {
      {StepKind::connect, c.containment_focus ? 10 : 4},
      {StepKind::create, 14},
      {StepKind::exec, 30},
      {StepKind::close, 9},
      {StepKind::resume, 8},
      {StepKind::reset, 3},
      {StepKind::list, 3},
      {StepKind::history, 3},
  };
  auto add = [&](bool on, StepKind kind, int weight) {
    if (on) mix.push_back({kind, weight});
  };
  add(c.ptys, StepKind::pty_open, 3);
  add(c.ptys, StepKind::pty_write, 2);
  add(c.ptys, StepKind::pty_close, 2);
  add(c.ptys, StepKind::pty_attach, 4);
  add(true, StepKind::bystander, c.containment_focus ? 4 : 2);
  add(true, StepKind::coincide, 4);
  add(c.disconnects, StepKind::disconnect, 4);
  add(c.resets, StepKind::drop, 3);
  add(c.half_open, StepKind::half_open, 2);
  add(c.gateway_kills, StepKind::kill_gateway, c.containment_focus ? 2 : 1);
  add(c.gateway_kills, StepKind::term_gateway, 1);
  add(c.spawn_failures, StepKind::fail_spawns, 2);
  add(c.slow_spawns, StepKind::slow_spawns, 2);
  add(c.worker_crashes, StepKind::crash_worker, 2);
  add(c.store_failures, StepKind::fail_writes, 2);
  add(c.store_slow, StepKind::slow_store, 2);
  add(c.slow_readers, StepKind::stall_reading, 4);
  // Each seed tilts the mix its own way (swarm testing): some kinds get rare.
  for (auto& w : mix)
    if (r.chance(25)) w.weight = (w.weight + 3) / 4;
  return mix;
}

StepKind pick_kind(Rng& r, const std::vector<Weighted>& mix, int total) {
  std::int64_t pick = r.below(total);
  for (const auto& w : mix) {
    if (pick < w.weight) return w.kind;
    pick -= w.weight;
  }
  return StepKind::connect;  // not reached: pick < total
}

// The choices a kind of step makes beyond the generic a (0-7) and b (0-15).
void draw_step_arguments(Rng& r, const SwarmConfig& c, Step& s) {
  switch (s.kind) {
    case StepKind::create:
      s.a = c.persistent_sessions ? static_cast<int>(r.below(2)) : 1;
      break;
    case StepKind::kill_gateway:
    case StepKind::term_gateway:
      s.a = static_cast<int>(r.between(0, c.containment_focus ? 500 : 2000));
      break;
    case StepKind::fail_spawns:
      s.a = static_cast<int>(r.between(1, 3));
      s.b = static_cast<int>(r.below(2));
      break;
    case StepKind::slow_spawns:
    case StepKind::slow_store:
      s.a = static_cast<int>(r.between(1, 4));
      s.b = static_cast<int>(r.between(10, 3000));
      if (c.quantum > 1)
        s.b = std::max<int>(static_cast<int>(c.quantum),
                            s.b / static_cast<int>(c.quantum) * static_cast<int>(c.quantum));
      break;
    case StepKind::fail_writes:
      s.a = static_cast<int>(r.between(1, 3));
      break;
    default:
      break;
  }
}

}  // namespace

std::vector<Step> generate_steps(std::uint64_t seed, const SwarmConfig& c, bool deep) {
  Rng r(seed ^ 0xa0761d6478bd642fULL);
  std::vector<Weighted> mix = step_mix(r, c);
  int total = 0;
  for (const auto& w : mix) total += w.weight;

  std::vector<Step> steps;
  int n = static_cast<int>(r.between(10, 150));
  if (deep) n = static_cast<int>(r.between(25'000, 40'000));
  Millis t = 0;
  for (int i = 0; i < n; ++i) {
    // Bursts of same-instant steps make races; pauses let timers run.
    int gap = static_cast<int>(r.below(100));
    Millis d = gap < 25 ? 0 : gap < 85 ? r.between(1, 100) : r.between(100, 3000);
    if (c.quantum > 1) d = d / c.quantum * c.quantum;
    t += d;
    Step s;
    s.at = t;
    s.client = static_cast<int>(r.below(c.clients));
    s.kind = pick_kind(r, mix, total);
    s.a = static_cast<int>(r.below(8));
    s.b = static_cast<int>(r.below(16));
    // Grandchildren (/spawn) and long commands (/sleep): what an orphaned worker must
    // take with it or drain within its grace.
    static constexpr int kFocusCommands[] = {4, 5, 6, 8, 8, 14};
    if (c.containment_focus && s.kind == StepKind::exec && r.chance(60))
      s.b = kFocusCommands[static_cast<std::size_t>(r.below(6))];
    draw_step_arguments(r, c, s);
    steps.push_back(s);
    // The window of the historical "crash, then SIGKILL" leak: the gateway dies before
    // it has handled its worker's exit.
    if (c.containment_focus && s.kind == StepKind::crash_worker && r.chance(50)) {
      Step kill = s;
      kill.kind = StepKind::kill_gateway;
      kill.a = static_cast<int>(r.between(0, 2000));
      steps.push_back(kill);
    }
  }
  return steps;
}

std::string exec_command(int choice, const SwarmConfig& c) {
  switch (choice % 16) {
    case 0:
    case 1:
    case 2:
      return "/echo hello " + std::to_string(choice);
    case 3:
      return "/sleep 0.05";
    case 4:
      return "/sleep 0.4";
    case 5:  // a command that hangs past the slash timeout
      return "/sleep " + std::to_string(c.gateway.slash_timeout / 1000 + 2);
    case 6:
    case 7:
      return c.grandchildren ? "/spawn 2" : "/pid";
    case 8:
      return c.grandchildren && c.setsid_escapees ? "/spawn 1 --setsid" : "/fds";
    case 9:
      return c.worker_crashes ? "/exit 3" : "/help";
    case 10:
      return c.worker_crashes ? "/crash" : "/echo x";
    case 11:
      return "/pid";
    case 12:
      return "/fds";
    case 13:
      return "/nonsense";
    case 14:
      return "/sleep 1.5";
    default:
      return "echo without slash";
  }
}

}  // namespace lifeline::sim
