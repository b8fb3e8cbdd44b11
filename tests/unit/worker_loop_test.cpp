// docs/DESIGN.md rule 7 on the worker side, and the C3 catalogue entries (orphaned workers
// when the gateway died).
#include <gtest/gtest.h>

#include "core/worker_loop.hpp"
#include "core/worker_protocol.hpp"
#include "sim/manual_world.hpp"

namespace lifeline {
namespace {

struct FakeHost : WorkerHost {
  std::string out;
  std::optional<int> exited_with_containment;
  std::optional<int> exited_plain;
  bool crashed = false;
  std::vector<std::pair<int, bool>> spawned;
  void write_stdout(std::string_view bytes) override { out.append(bytes); }
  std::string describe_process() override { return "pid=7 ppid=1 pgid=7 sid=7"; }
  std::string list_fds() override { return "0 1 2 3"; }
  std::string spawn_background(int n, bool setsid) override {
    spawned.emplace_back(n, setsid);
    return "";
  }
  void exit_with_containment(int code) override { exited_with_containment = code; }
  void exit_without_containment(int code) override { exited_plain = code; }
  void crash() override { crashed = true; }
  std::vector<worker_protocol::Reply> replies() const {
    std::vector<worker_protocol::Reply> r;
    std::size_t start = 0;
    while (start < out.size()) {
      auto nl = out.find('\n', start);
      r.push_back(*worker_protocol::decode_reply(std::string_view(out).substr(start, nl - start)));
      start = nl + 1;
    }
    return r;
  }
};

struct FakeProbe : ParentProbe {
  ParentIdentity current{500, 12345};
  ParentIdentity parent() override { return current; }
};

struct Rig {
  sim::ManualClock clock;
  sim::CaptureLog log;
  FakeHost host;
  FakeProbe probe;
  WorkerConfig cfg;
  std::unique_ptr<WorkerLoop> loop;
  Rig() {
    cfg.watchdog_poll = 2000;
    cfg.watchdog_grace = 5000;
    loop = std::make_unique<WorkerLoop>(cfg, clock, probe, host, log);
    loop->start();
  }
  void send(std::int64_t id, const std::string& cmd) {
    loop->on_stdin(worker_protocol::encode_request({id, cmd}));
  }
};

TEST(WorkerCommands, BuiltInsAnswerInOrder) {
  Rig r;
  r.send(1, "/echo hello world");
  r.send(2, "pid");  // no leading slash: one is added
  r.send(3, "/nope");
  r.send(4, "/spawn 2 --setsid");
  r.send(5, "/fds");
  auto replies = r.host.replies();
  ASSERT_EQ(replies.size(), 5u);
  EXPECT_EQ(replies[0].id, 1);
  EXPECT_EQ(replies[0].text, "hello world");
  EXPECT_TRUE(replies[1].ok);
  EXPECT_FALSE(replies[2].ok);
  EXPECT_EQ(r.host.spawned, (std::vector<std::pair<int, bool>>{{2, true}}));
  EXPECT_EQ(replies[4].text, "0 1 2 3");
}

TEST(WorkerCommands, SleepIsAsyncAndLaterCommandsWaitTheirTurn) {
  Rig r;
  r.send(1, "/sleep 1.5");
  r.send(2, "/echo after");
  EXPECT_TRUE(r.host.out.empty());
  r.clock.advance(1499);
  EXPECT_TRUE(r.host.out.empty());
  r.clock.advance(1);
  auto replies = r.host.replies();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].id, 1);
  EXPECT_EQ(replies[1].text, "after");
}

TEST(WorkerCommands, MalformedRequestsGetANullIdError) {
  Rig r;
  r.loop->on_stdin("not json\n{\"id\":\"x\",\"command\":1}\n[[[[\n");
  auto replies = r.host.replies();
  ASSERT_EQ(replies.size(), 3u);
  for (auto& rep : replies) {
    EXPECT_FALSE(rep.id.has_value());
    EXPECT_FALSE(rep.ok);
  }
}

TEST(Rule7_ParentDeath, LifelineEofWithNothingInFlightExitsAtOnceTakingItsGroup) {
  Rig r;
  r.loop->on_lifeline_eof();
  EXPECT_EQ(r.host.exited_with_containment, 0);
}

TEST(Rule7_ParentDeath, C3_StartupWindow_EofBeforeAnyInstructionStillExits) {
  // The gateway died before the worker read its first request: the lifeline, not a
  // watchdog armed later, is what notices.
  sim::ManualClock clock;
  sim::CaptureLog log;
  FakeHost host;
  FakeProbe probe;
  WorkerLoop loop(WorkerConfig{}, clock, probe, host, log);
  loop.on_lifeline_eof();  // even before start()
  EXPECT_EQ(host.exited_with_containment, 0);
}

TEST(Rule7_ParentDeath, InFlightCommandDrainsThenExits) {
  Rig r;
  r.send(1, "/sleep 2");
  r.send(2, "/echo never");
  r.loop->on_lifeline_eof();
  EXPECT_FALSE(r.host.exited_with_containment);
  r.clock.advance(2000);
  auto replies = r.host.replies();
  ASSERT_EQ(replies.size(), 1u) << "queued commands are dropped once orphaned";
  EXPECT_EQ(r.host.exited_with_containment, 0);
}

TEST(Rule7_ParentDeath, InFlightCommandOutlivingTheGraceIsAbandoned) {
  Rig r;
  r.send(1, "/sleep 60");
  r.loop->on_lifeline_eof();
  r.clock.advance(4999);
  EXPECT_FALSE(r.host.exited_with_containment);
  r.clock.advance(1);
  EXPECT_EQ(r.host.exited_with_containment, 0);
}

TEST(Rule7_ParentDeath, ReparentingIsNoticedByThePoll) {
  Rig r;
  r.clock.advance(2000);
  EXPECT_FALSE(r.host.exited_with_containment);
  r.probe.current = {1, 1};  // reparented to init
  r.clock.advance(2000);
  EXPECT_EQ(r.host.exited_with_containment, 0);
}

TEST(Rule7_ParentDeath, C3_ZeroStartTimeNeverCondemnsAHealthyWorker) {
  Rig r;
  r.probe.current = {500, 0};  // the start time could not be read this time
  r.clock.advance(20'000);
  EXPECT_FALSE(r.host.exited_with_containment);
}

TEST(Rule7_ParentDeath, C3_SamePidNewStartTimeIsPidReuse) {
  Rig r;
  r.probe.current = {500, 99999};
  r.clock.advance(2000);
  EXPECT_EQ(r.host.exited_with_containment, 0);
}

TEST(Rule7_ParentDeath, C3_StartTimesAreComparedExactlyNotThroughAClock) {
  // The drift bug converted start times to wall-clock seconds and compared with a
  // tolerance; ticks compared exactly never drift.
  EXPECT_FALSE(parent_changed({500, 12345}, {500, 12345}));
  EXPECT_TRUE(parent_changed({500, 12345}, {500, 12346}));
  EXPECT_FALSE(parent_changed({500, 0}, {500, 777}));
  EXPECT_TRUE(parent_changed({500, 0}, {1, 0}));
}

TEST(Rule7_ParentDeath, StdinEofFinishesTheCommandThenExits) {
  Rig r;
  r.send(1, "/sleep 1");
  r.loop->on_stdin_eof();
  EXPECT_FALSE(r.host.exited_with_containment);
  r.clock.advance(1000);
  EXPECT_EQ(r.host.replies().size(), 1u);
  EXPECT_EQ(r.host.exited_with_containment, 0);
}

TEST(Rule18_PooledWorker, RunsNothingBeforeItsBindAndServesOneSessionEver) {
  sim::ManualClock clock;
  sim::CaptureLog log;
  FakeHost host;
  FakeProbe probe;
  WorkerConfig cfg;
  cfg.pooled = true;
  WorkerLoop loop(cfg, clock, probe, host, log);
  loop.start();
  loop.on_stdin(worker_protocol::encode_request({1, "/echo early"}));
  loop.on_stdin(worker_protocol::encode_bind("key-a"));
  loop.on_stdin(worker_protocol::encode_request({2, "/session"}));
  loop.on_stdin(worker_protocol::encode_bind("key-b"));
  loop.on_stdin(worker_protocol::encode_request({3, "/session"}));
  auto replies = host.replies();
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_EQ(replies[0].id, 1);
  EXPECT_FALSE(replies[0].ok) << "nothing runs before the bind";
  EXPECT_EQ(replies[1].text, "key-a");
  EXPECT_FALSE(replies[2].ok) << "a second bind is refused";
  EXPECT_EQ(replies[3].text, "key-a");
  EXPECT_EQ(loop.session_key(), "key-a");
}

TEST(Rule18_PooledWorker, AKeyedWorkerRefusesABind) {
  Rig r;
  r.loop->on_stdin(worker_protocol::encode_bind("other"));
  auto replies = r.host.replies();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_FALSE(replies[0].ok);
}

}  // namespace
}  // namespace lifeline
