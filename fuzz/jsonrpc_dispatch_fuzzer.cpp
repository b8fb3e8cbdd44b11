// libFuzzer target over the JSON-RPC decode + dispatch path, with world events mixed
// in (spawns, answers, exits, terminal output, time, store faults, reconnects). Input:
// lines. A line "!<c>" is a world action; any other line is one message to
// the gateway. For any input: no crash, every safety invariant after every line, and
// once the client leaves and time runs out, no session and no child is left.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/gateway.hpp"
#include "sim/invariants.hpp"
#include "sim/manual_world.hpp"

namespace {

using namespace lifeline;

[[noreturn]] void fail(const std::vector<std::string>& violations, const char* when) {
  std::fprintf(stderr, "invariant violated %s:\n", when);
  for (const auto& v : violations) std::fprintf(stderr, "  %s\n", v.c_str());
  std::abort();
}

void check(const Gateway& gw, const sim::ManualWorld& w, const char* when) {
  auto v = sim::check_safety(gw, w.procs, w.store);
  if (!v.empty()) fail(v, when);
}

void world_action(char c, Gateway& gw, sim::ManualWorld& w, ConnId& conn) {
  switch (c) {
    case 's':
      w.procs.complete_spawn(true);
      break;
    case 'f':
      w.procs.complete_spawn(false, "EMFILE");
      break;
    case 'a':
      for (ChildId id : w.procs.alive()) w.procs.answer(id, true, "ok");
      break;
    case 'x':
      if (auto alive = w.procs.alive(); !alive.empty()) w.procs.exit_child(alive.front(), 1);
      break;
    case 'o':  // terminal output with mode changes, past the small replay ring below
      for (ChildId id : w.procs.alive())
        w.procs.child_output(id, "\x1b[?1049h\x1b[?25lscreen \xe4\xb8\xad line\n\x1b[?2004h");
      break;
    case 't':
      w.advance(5'000);
      break;
    case 'T':
      w.advance(60'000);
      break;
    case 'w':
      w.store.fail_writes = !w.store.fail_writes;
      break;
    case 'r':
      w.store.fail_reads = !w.store.fail_reads;
      break;
    case 'd':
      w.transport.closed.insert(conn);
      gw.on_disconnect(conn);
      gw.on_connect(++conn);
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return -1;  // keep runs short; the size limit itself is unit-tested
  sim::ManualWorld w;
  // Predictable ids, so that inputs can name sessions: the first session is
  // s0000000000000002, the next s0000000000000005, and so on.
  for (std::uint64_t i = 0; i < 512; ++i) w.random.forced.push_back(i);
  GatewayConfig cfg;
  cfg.worker_cmd = "/fake/worker";
  cfg.max_message_bytes = 4096;
  cfg.max_sessions = 8;
  cfg.max_sessions_per_connection = 4;
  cfg.orphan_grace = 20'000;
  cfg.session_ttl = 60'000;
  cfg.reaper_interval = 10'000;
  cfg.slash_timeout = 5'000;
  cfg.pty_replay_bytes = 100;  // wraps within a few outputs
  Gateway gw(cfg, GatewayPorts{w.clock, w.procs, w.transport, w.store, w.random, w.log});
  gw.start();
  ConnId conn = 1;
  gw.on_connect(conn);

  std::string_view input(reinterpret_cast<const char*>(data), size);
  while (!input.empty()) {
    auto nl = input.find('\n');
    std::string_view line = input.substr(0, nl);
    input.remove_prefix(nl == std::string_view::npos ? input.size() : nl + 1);
    if (line.size() == 2 && line[0] == '!')
      world_action(line[1], gw, w, conn);
    else
      gw.on_message(conn, line);
    w.settle();
    check(gw, w, "after a line");
  }

  // The client leaves; faults stop; the world settles past every timeout.
  w.store.fail_writes = w.store.fail_reads = false;
  w.transport.closed.insert(conn);
  gw.on_disconnect(conn);
  for (int round = 0; round < 20; ++round) {
    while (w.procs.pending_spawns()) w.procs.complete_spawn(true);
    w.advance(10'000);
  }
  check(gw, w, "after settling");
  auto settled = sim::check_settled(gw, w.procs, w.store);
  if (!settled.empty()) fail(settled, "after settling");
  if (!gw.sessions().empty())
    fail({"a session outlived its client by more than grace + TTL"}, "at the end");
  // What is left is the warm pool (rule 18): a shutdown drains it, and every child of
  // the run is then released.
  bool finished = false;
  gw.shutdown([&finished](bool clean) { finished = clean; });
  for (int round = 0; round < 20 && !finished; ++round) {
    while (w.procs.pending_spawns()) w.procs.complete_spawn(true);
    w.advance(10'000);
  }
  if (!finished) fail({"the shutdown did not finish cleanly"}, "at the end");
  for (const auto& [id, c] : w.procs.all())
    if (!c.released) fail({"child " + std::to_string(c.pid) + " was never released"}, "at the end");
  return 0;
}
