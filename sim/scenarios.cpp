#include "sim/scenarios.hpp"

#include "sim/gateway_program.hpp"

namespace lifeline::sim {

namespace {

// A quiet world: nothing random switched on unless a scenario asks for it.
SwarmConfig quiet() {
  SwarmConfig c;
  c.clients = 2;
  c.pid_max = 32768;
  c.latency_max = 2;
  c.worker_start_max = 2;
  c.spawn_latency = 1;
  c.store_latency = 1;
  c.disconnects = c.resets = c.half_open = c.spawn_failures = c.slow_spawns = false;
  c.worker_crashes = c.workers_ignore_term = c.workers_exit_slowly = false;
  c.grandchildren = true;
  c.setsid_escapees = true;
  c.gateway_kills = c.store_slow = c.store_failures = c.ptys = c.flaky_parent_probe = false;
  GatewayConfig& g = c.gateway;
  g.worker_cmd = "lifeline-slash-worker";
  g.max_message_bytes = 65536;
  g.hup_wait = 100;
  g.term_wait = 300;
  g.kill_wait = 300;
  g.orphan_grace = 1000;
  g.ping_interval = 1000;
  g.ping_timeout = 1000;
  g.slash_timeout = 2000;
  g.session_ttl = 3'600'000;
  g.reaper_interval = 300'000;
  g.max_queued_commands = 8;
  // The historical failure modes are of the spawn path: with a warm pool a first command
  // would take a pooled worker and never race its own spawn. Scenarios of the pool say so.
  g.worker_pool = 0;
  c.worker.watchdog_poll = 500;
  c.worker.watchdog_grace = 1000;
  return c;
}

Scenario named(std::string name, std::string description) {
  Scenario s;
  s.name = std::move(name);
  s.description = std::move(description);
  return s;
}

Step at(Millis t, StepKind kind, int client = 0, int a = 0, int b = 0) {
  return Step{t, kind, client, a, b};
}

// exec_command() choices used below.
constexpr int echo = 0, sleep_long = 14, spawn2 = 6, spawn_setsid = 8, sleep_short = 3;

std::int64_t reaped(const World& w, EndReason why) {
  GatewayProgram* g = w.gateway();
  return g ? g->core().counters().ended_by_reason[static_cast<std::size_t>(why)] : 0;
}

std::string expect_at_least(const char* what, std::int64_t got, std::int64_t want) {
  if (got >= want) return "";
  return std::string("expected ") + what + " >= " + std::to_string(want) + ", got " +
         std::to_string(got) + " (the scenario no longer exercises its race)";
}

// One function per scenario; build() lists them in the order --scenario all runs them.

Scenario c1_disconnect_reaps_tree() {
  Scenario s =
      named("c1-disconnect-reaps-tree",
            "C1: an abrupt disconnect of a close_on_disconnect session reaps its worker, its "
            "grandchildren and its setsid escapee (the reference only re-pointed the transport)");
  s.config = quiet();
  s.steps = {at(0, StepKind::create, 0, 1), at(20, StepKind::exec, 0, 0, spawn2),
             at(40, StepKind::exec, 0, 0, spawn_setsid), at(100, StepKind::drop)};
  s.expect = [](const World& w) {
    if (auto e =
            expect_at_least("processes spawned", static_cast<std::int64_t>(w.kernel.spawned), 5);
        !e.empty())
      return e;
    return expect_at_least("sessions reaped on disconnect", reaped(w, EndReason::ws_disconnect), 1);
  };
  return s;
}

Scenario c2_spawn_completes_after_close() {
  Scenario s =
      named("c2-spawn-completes-after-close",
            "C2: a worker spawn completes after its session was closed; the attach guard tears "
            "it down instead of storing it into the dead session");
  s.config = quiet();
  s.steps = {at(0, StepKind::slow_spawns, 0, 1, 500), at(0, StepKind::create, 0, 1),
             at(50, StepKind::exec, 0, 0, echo), at(100, StepKind::close)};
  s.expect = [](const World& w) {
    return expect_at_least("spawns completed after close", w.counters.spawns_after_close, 1);
  };
  return s;
}

Scenario c2_respawn_after_reset_then_close() {
  Scenario s =
      named("c2-respawn-after-reset-then-close",
            "C2 (post-turn restart): session.reset respawns the worker, the session closes "
            "while that spawn is in flight; the late worker must not be attached");
  s.config = quiet();
  s.steps = {at(0, StepKind::create, 0, 1), at(20, StepKind::exec, 0, 0, echo),
             at(100, StepKind::slow_spawns, 0, 1, 400), at(110, StepKind::reset),
             at(150, StepKind::close)};
  s.expect = [](const World& w) {
    return expect_at_least("spawns completed after close", w.counters.spawns_after_close, 1);
  };
  return s;
}

Scenario c3_gateway_dies_before_worker_starts() {
  Scenario s =
      named("c3-gateway-dies-before-worker-starts",
            "C3 (startup window): the gateway is SIGKILLed between the worker's fork and its "
            "first instruction; the lifeline already reads EOF when the worker starts");
  s.config = quiet();
  s.config.worker_start_max = 1000;
  s.seed = 3;
  s.steps = {at(0, StepKind::create, 0, 0), at(20, StepKind::exec, 0, 0, echo),
             at(30, StepKind::kill_gateway, 0, 2000)};  // restart after the worker started
  s.expect = [](const World& w) {
    return expect_at_least("workers born orphaned", w.counters.lifeline_at_start, 1);
  };
  return s;
}

Scenario c3_orphan_drains_in_flight() {
  Scenario s =
      named("c3-orphan-drains-in-flight",
            "C3: the gateway dies while the worker runs a command; the worker drains it within "
            "its grace, then exits taking its grandchildren along");
  s.config = quiet();
  s.config.worker.watchdog_grace = 3000;
  s.steps = {at(0, StepKind::create, 0, 0), at(20, StepKind::exec, 0, 0, spawn2),
             at(60, StepKind::exec, 0, 0, sleep_long), at(300, StepKind::kill_gateway, 0, 500)};
  s.expect = [](const World& w) {
    return expect_at_least("orphaned workers", w.counters.orphaned_workers, 1);
  };
  return s;
}

Scenario c3_zero_start_time_is_not_orphan() {
  Scenario s =
      named("c3-zero-start-time-is-not-orphan",
            "C3: the parent probe sometimes reads a zero start time; a healthy worker must "
            "never condemn itself for it");
  s.config = quiet();
  s.config.flaky_parent_probe = true;
  s.config.worker.watchdog_poll = 50;
  s.steps = {at(0, StepKind::create, 0, 0), at(20, StepKind::exec, 0, 0, echo),
             at(20000, StepKind::exec, 0, 0, echo)};
  s.expect = [](const World& w) {
    return expect_at_least("zero start-time reads", w.counters.false_orphan_checks, 10);
  };
  return s;
}

Scenario grace_expiry_races_close() {
  Scenario s =
      named("grace-expiry-races-close",
            "Grace reap racing a close and the idle reaper in the same instant (the reference's "
            "double pop): the session is finalized and its end stored exactly once");
  s.config = quiet();
  s.config.latency_max = 0;
  s.config.gateway.session_ttl = 1000;
  s.config.gateway.reaper_interval = 1010;  // first run: the instant the grace expires
  s.steps = {at(0, StepKind::create, 0, 0),    at(0, StepKind::create, 0, 0),
             at(5, StepKind::create, 1, 0),    at(10, StepKind::drop),
             at(1010, StepKind::resume, 1, 0), at(1010, StepKind::close, 1, 0),
             at(1010, StepKind::resume, 1, 1), at(1010, StepKind::close, 1, 1)};
  s.expect = [](const World& w) {
    return expect_at_least("sessions ended",
                           reaped(w, EndReason::orphan_grace) + reaped(w, EndReason::client_close) +
                               reaped(w, EndReason::idle_timeout),
                           2);
  };
  return s;
}

Scenario busy_session_grace_rearms() {
  Scenario s =
      named("busy-session-grace-rearms",
            "A detached session still running a command when its grace expires is re-armed, "
            "then reaped once idle - not skipped until the TTL");
  s.config = quiet();
  s.config.gateway.orphan_grace = 300;
  s.steps = {at(0, StepKind::create, 0, 0), at(20, StepKind::exec, 0, 0, sleep_long),
             at(50, StepKind::disconnect)};
  s.expect = [](const World& w) {
    return expect_at_least("grace reaps", reaped(w, EndReason::orphan_grace), 1);
  };
  return s;
}

Scenario disconnect_resume_race() {
  Scenario s =
      named("disconnect-resume-race",
            "Disconnect and resume of one session in the same instant, from two clients: never "
            "both win (no session stays bound to a dead connection)");
  s.config = quiet();
  s.config.latency_max = 0;
  for (int i = 0; i < 6; ++i) {
    Millis t = Millis{1000} * i;
    s.steps.push_back(at(t, StepKind::create, 0, 0));
    s.steps.push_back(at(t + 10, StepKind::exec, 0, i, sleep_short));
    s.steps.push_back(at(t + 100, StepKind::drop, 0));
    s.steps.push_back(at(t + 100 + (i % 3) - 1, StepKind::resume, 1, i));
    s.steps.push_back(at(t + 100, StepKind::resume, 0, i));
  }
  s.expect = [](const World& w) { return expect_at_least("resumes", w.counters.resumes_ok, 3); };
  return s;
}

Scenario pty_close_reaps_group() {
  Scenario s =
      named("pty-close-reaps-group",
            "pty.close kills the terminal's whole group (a HUP-deaf background job included) "
            "and closes the master (the reference signalled the leader and leaked the fd)");
  s.config = quiet();
  s.config.ptys = true;
  s.steps = {at(0, StepKind::create, 0, 1), at(20, StepKind::pty_open), at(40, StepKind::pty_write),
             at(60, StepKind::pty_close),   at(80, StepKind::pty_open), at(100, StepKind::close)};
  s.expect = [](const World& w) {
    return expect_at_least("processes spawned (2 shells, 2 jobs)",
                           static_cast<std::int64_t>(w.kernel.spawned), 5);
  };
  return s;
}

Scenario finalized_not_listed() {
  Scenario s = named("finalized-not-listed",
                     "Finalized sessions never inflate the active list or the live count");
  s.config = quiet();
  for (int i = 0; i < 5; ++i) s.steps.push_back(at(i, StepKind::create, 0, 1));
  s.steps.push_back(at(50, StepKind::close, 0, 0));
  s.steps.push_back(at(50, StepKind::close, 0, 1));
  s.steps.push_back(at(51, StepKind::list));
  s.steps.push_back(at(60, StepKind::close, 0, 0));
  s.steps.push_back(at(61, StepKind::list));
  s.expect = [](const World& w) {
    GatewayProgram* g = w.gateway();
    return expect_at_least("sessions closed by the client",
                           g ? g->core().counters().ended_by_reason[0] : 0, 3);
  };
  return s;
}

Scenario takeover_announced() {
  Scenario s = named("takeover-announced",
                     "A second client resumes a session the first still holds: the first is "
                     "told (session.taken_over) and lets it go; the second holds it");
  s.config = quiet();
  s.config.clients = 2;
  s.steps = {at(0, StepKind::create, 0, 1), at(200, StepKind::exec, 0, 0, echo),
             at(500, StepKind::resume, 1, 0), at(900, StepKind::exec, 1, 0, echo),
             at(1500, StepKind::list, 0)};
  s.expect = [](const World& w) {
    return expect_at_least("takeovers announced", w.counters.takeovers_seen, 1);
  };
  return s;
}

Scenario takeover_revokes_the_stale_tab() {
  Scenario s = named("takeover-revokes-the-stale-tab",
                     "After a takeover the former holder still types into its terminal and "
                     "closes the session by id: both are refused (4009), the terminal and "
                     "the session live on for the new holder");
  s.config = quiet();
  s.config.clients = 2;
  s.steps = {at(0, StepKind::create, 0, 1),       at(100, StepKind::pty_open, 0, 0),
             at(400, StepKind::resume, 1, 0),     at(600, StepKind::pty_write, 0, 0),
             at(700, StepKind::close, 0, 0, 1),   at(900, StepKind::exec, 1, 0, echo),
             at(1000, StepKind::pty_write, 0, 0), at(1500, StepKind::list, 0)};
  s.expect = [](const World& w) {
    return expect_at_least("stale requests refused (4009)", w.counters.stale_refused, 3);
  };
  return s;
}

Scenario terminal_reattach_replays() {
  Scenario s = named("terminal-reattach-replays",
                     "A kept session's terminal writes while its client is away and past a "
                     "small replay bound; the client comes back, lists and attaches: it is "
                     "shown a suffix of the output, then the live output from where it ends; "
                     "a second client takes the session over and attaches the same way");
  s.config = quiet();
  s.config.clients = 2;
  s.config.ptys = true;
  s.config.gateway.pty_replay_bytes = 40;
  s.steps = {at(0, StepKind::create, 0, 0), at(50, StepKind::pty_open, 0, 0)};
  for (int i = 0; i < 8; ++i) s.steps.push_back(at(200 + 20 * i, StepKind::pty_write, 0, 0));
  for (Step step : {at(600, StepKind::disconnect, 0), at(700, StepKind::resume, 0, 0),
                    at(800, StepKind::pty_attach, 0, 0), at(900, StepKind::pty_attach, 0, 0),
                    at(1000, StepKind::pty_write, 0, 0), at(1100, StepKind::pty_attach, 0, 0),
                    at(1200, StepKind::pty_write, 0, 0), at(1400, StepKind::resume, 1, 0),
                    at(1500, StepKind::pty_attach, 1, 0), at(1600, StepKind::pty_attach, 1, 0),
                    at(1700, StepKind::pty_write, 1, 0), at(1900, StepKind::list, 1)})
    s.steps.push_back(step);
  s.expect = [](const World& w) {
    return expect_at_least("terminal reattaches checked", w.counters.reattaches_checked, 3);
  };
  return s;
}

Scenario slow_pongs_are_not_dead() {
  Scenario s =
      named("slow-pongs-are-not-dead",
            "Pings on a slow but healthy link: the keepalive must not drop the client (the "
            "reference's eager pings caused false 1006 closes and reaps)");
  s.config = quiet();
  s.config.latency_max = 400;
  s.config.gateway.ping_interval = 300;
  s.config.gateway.ping_timeout = 900;
  s.steps = {at(0, StepKind::create, 0, 1), at(5000, StepKind::exec, 0, 0, echo),
             at(30000, StepKind::list)};
  s.expect = [](const World& w) {
    if (w.counters.keepalive_drops != 0) return std::string("a healthy connection was dropped");
    return std::string();
  };
  return s;
}

Scenario half_open_detected() {
  Scenario s = named("half-open-detected",
                     "A client goes silent without a FIN: the keepalive declares it dead within "
                     "interval + timeout and its session is reaped");
  s.config = quiet();
  s.steps = {at(0, StepKind::create, 0, 1), at(20, StepKind::exec, 0, 0, spawn2),
             at(100, StepKind::half_open)};
  s.expect = [](const World& w) {
    if (auto e = expect_at_least("keepalive drops", w.counters.keepalive_drops, 1); !e.empty())
      return e;
    return expect_at_least("sessions reaped on disconnect", reaped(w, EndReason::ws_disconnect), 1);
  };
  return s;
}

// slow-reader-paused and slow-reader-dropped.
Scenario slow_reader(bool overflow) {
  Scenario s =
      named(overflow ? "slow-reader-dropped" : "slow-reader-paused",
            overflow ? "A client stops reading while its terminal floods it past the whole unsent "
                       "bound: it is dropped, and its detached session's terminal runs again"
                     : "A client stops reading while its terminal writes: above half the unsent "
                       "bound the terminal pauses; when the client reads again it resumes");
  s.config = quiet();
  s.config.ptys = s.config.slow_readers = true;
  s.config.gateway.max_unsent_bytes = overflow ? 1500 : 2400;
  s.steps = {at(0, StepKind::create, 0, 0), at(50, StepKind::pty_open, 0, 0),
             at(300, StepKind::stall_reading, 0, 3)};  // 1.6 s
  for (int i = 0; i < (overflow ? 24 : 8); ++i)
    s.steps.push_back(at(400 + 20 * i, StepKind::pty_write, 0, 0));
  s.steps.push_back(at(2500, StepKind::pty_write, 0, 0));  // after it reads again
  s.expect = [overflow](const World& w) {
    if (auto e = expect_at_least("backed-up connections", w.counters.backpressure_pauses, 1);
        !e.empty())
      return e;
    if (!overflow && w.counters.slow_readers_dropped != 0)
      return std::string("a client that read again in time was dropped");
    return overflow ? expect_at_least("slow readers dropped", w.counters.slow_readers_dropped, 1)
                    : std::string();
  };
  return s;
}

Scenario lazy_workers() {
  Scenario s = named("lazy-workers",
                     "Sessions spawn no worker until their first command (the reference's eager "
                     "per-session workers multiplied memory); the warm pool is the only "
                     "ahead-of-need cost, and it is bounded");
  s.config = quiet();
  s.config.gateway.worker_pool = 2;  // 20 sessions cost the pool's 2 workers, not 20
  for (int i = 0; i < 20; ++i) s.steps.push_back(at(i, StepKind::create, i % 2, 1));
  s.expect = [](const World& w) {
    if (w.kernel.spawned != 3)
      return "expected the gateway and the pool's 2 workers to be spawned, got " +
             std::to_string(w.kernel.spawned) + " processes";
    return std::string();
  };
  return s;
}

Scenario pid_reuse_under_kill() {
  Scenario s = named("pid-reuse-under-kill",
                     "A tiny PID space and workers deaf to HUP and TERM: every kill reaches the "
                     "incarnation it was meant for, though PIDs come round again and again");
  s.config = quiet();
  s.config.pid_max = 24;
  s.config.workers_ignore_term = true;
  s.config.gateway.hup_wait = 20;
  s.config.gateway.term_wait = 20;
  for (int i = 0; i < 40; ++i) {
    Millis t = Millis{200} * i;
    s.steps.push_back(at(t, StepKind::create, 0, 1));
    s.steps.push_back(at(t + 20, StepKind::exec, 0, 0, spawn2));
    s.steps.push_back(at(t + 100, StepKind::close, 0, 0));
  }
  s.expect = [](const World& w) {
    return expect_at_least("pid reuses", static_cast<std::int64_t>(w.kernel.pid_reuses), 10);
  };
  return s;
}

Scenario gateway_sigkill_restart_resume() {
  Scenario s =
      named("gateway-sigkill-restart-resume",
            "The gateway is SIGKILLed with workers, grandchildren and escapees; all of them go, "
            "the restarted gateway serves the stored history and resumes from the store");
  s.config = quiet();
  s.steps = {at(0, StepKind::create, 0, 0),           at(20, StepKind::exec, 0, 0, echo),
             at(40, StepKind::exec, 0, 0, spawn2),    at(60, StepKind::exec, 0, 0, spawn_setsid),
             at(200, StepKind::kill_gateway, 0, 100), at(1000, StepKind::resume, 0, 0),
             at(1100, StepKind::history, 0, 0),       at(1200, StepKind::exec, 0, 0, echo)};
  s.expect = [](const World& w) {
    if (auto e = expect_at_least("orphaned workers", w.counters.orphaned_workers, 1); !e.empty())
      return e;
    if (auto e = expect_at_least("acknowledged entries", w.counters.acks_checked, 3); !e.empty())
      return e;
    return expect_at_least("resumes", w.counters.resumes_ok, 1);
  };
  return s;
}

Scenario slow_reader_paused() {
  return slow_reader(false);
}
Scenario slow_reader_dropped() {
  return slow_reader(true);
}

// The table: in the order --scenario all runs them.
constexpr Scenario (*kScenarios[])() = {
    &c1_disconnect_reaps_tree,
    &c2_spawn_completes_after_close,
    &c2_respawn_after_reset_then_close,
    &c3_gateway_dies_before_worker_starts,
    &c3_orphan_drains_in_flight,
    &c3_zero_start_time_is_not_orphan,
    &grace_expiry_races_close,
    &busy_session_grace_rearms,
    &disconnect_resume_race,
    &pty_close_reaps_group,
    &finalized_not_listed,
    &takeover_announced,
    &takeover_revokes_the_stale_tab,
    &terminal_reattach_replays,
    &slow_pongs_are_not_dead,
    &half_open_detected,
    &slow_reader_paused,
    &slow_reader_dropped,
    &lazy_workers,
    &pid_reuse_under_kill,
    &gateway_sigkill_restart_resume,
};

std::vector<Scenario> build() {
  std::vector<Scenario> out;
  for (auto make : kScenarios) out.push_back(make());
  return out;
}
}  // namespace

const std::vector<Scenario>& scenarios() {
  static const std::vector<Scenario> all = build();
  return all;
}

const Scenario* find_scenario(const std::string& name) {
  for (const auto& s : scenarios())
    if (s.name == name) return &s;
  return nullptr;
}

RunResult run_scenario(const Scenario& s, std::ostream* trace_out) {
  WorldOptions o;
  o.trace_out = trace_out;
  o.extra_final = s.expect;
  World w(s.seed, s.config, o);
  return w.run(s.steps);
}

}  // namespace lifeline::sim
