// Coverage-guided schedule fuzzing: the input bytes choose the swarm configuration
// (faults, timeouts, PID space), the world's seed and a schedule of steps, and the
// simulator plays it against the real core. Any invariant violation is a crash, with
// the invariant and a replayable reproduction printed first.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>

#include "sim/minimize.hpp"

using namespace lifeline;
using namespace lifeline::sim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  std::uint64_t seed = in.ConsumeIntegral<std::uint64_t>();
  SwarmConfig c = generate_swarm(seed);  // a sane baseline, then the bytes take over
  c.clients = in.ConsumeIntegralInRange(1, 4);
  c.pid_max = in.ConsumeBool() ? in.ConsumeIntegralInRange(24, 64) : 32768;
  c.latency_max = in.ConsumeIntegralInRange<Millis>(0, 50);
  c.cgroups = in.ConsumeBool();
  c.workers_ignore_term = in.ConsumeBool();
  c.workers_exit_slowly = in.ConsumeBool();
  c.setsid_escapees = in.ConsumeBool();
  c.ptys = in.ConsumeBool();
  c.flaky_parent_probe = in.ConsumeBool();
  c.gateway.orphan_grace = 100 * in.ConsumeIntegralInRange<Millis>(1, 30);
  c.gateway.hup_wait = 10 * in.ConsumeIntegralInRange<Millis>(1, 30);
  c.gateway.term_wait = 10 * in.ConsumeIntegralInRange<Millis>(1, 100);
  c.gateway.kill_wait = 10 * in.ConsumeIntegralInRange<Millis>(1, 100);
  c.gateway.ping_timeout = std::max<Millis>(c.gateway.ping_timeout, 2 * c.latency_max + 50);
  std::vector<Step> steps;
  Millis t = 0;
  while (in.remaining_bytes() >= 4 && steps.size() < 64) {
    Step s;
    t += in.ConsumeIntegralInRange<Millis>(0, 1500);
    s.at = t;
    s.kind = static_cast<StepKind>(
        in.ConsumeIntegralInRange<int>(0, static_cast<int>(StepKind::count_) - 1));
    s.client = in.ConsumeIntegralInRange(0, c.clients - 1);
    s.a = in.ConsumeIntegralInRange(0, 15);
    s.b = in.ConsumeIntegralInRange(0, 3000);
    if (s.kind == StepKind::exec) s.b %= 16;
    steps.push_back(s);
  }
  WorldOptions o;
  o.keep_recent = false;
  RunResult r = run_once(seed, c, steps, o);
  if (!r.ok) {
    Reproduction repro{seed, c, steps, r.invariant};
    std::fprintf(
        stderr,
        "invariant \"%s\" violated at event %llu: %s\nreproduction (simrun --replay FILE):\n%s\n",
        r.invariant.c_str(), static_cast<unsigned long long>(r.event_index), r.detail.c_str(),
        repro.to_json().dump().c_str());
    std::abort();
  }
  return 0;
}
