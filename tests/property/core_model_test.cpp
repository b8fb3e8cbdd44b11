// A rapidcheck stateful test of the gateway core against a model of the contract a
// client sees. Random interleavings of create / exec / reset / close / disconnect /
// resume / spawn-completes / spawn-fails / timers / worker answers and deaths / store
// failures; after every step the docs/DESIGN.md safety invariants must hold and the live
// sessions must be exactly what the model allows. At the end the world settles and
// every request on a still-open connection must have had exactly one answer.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <algorithm>
#include <map>
#include <set>

#include "tests/support/harness.hpp"

namespace lifeline::testing {
namespace {

constexpr int max_conns = 3;

enum class Life { live, detached, closed };

struct ModelSession {
  Life life = Life::live;
  int conn = -1;  // slot, when live
  bool close_on_disconnect = true;
  int group = 0;          // sessions continuing one history (session key) share a group
  bool recorded = true;   // its start reached the store (which was not failing then)
  std::set<int> revoked;  // slots it was taken over from: refused until they resume it
};

struct Model {
  std::vector<bool> conn_open = std::vector<bool>(max_conns, false);
  std::vector<ModelSession> sessions;
  int groups = 0;
  bool store_failing = false;

  int live_on(int slot) const {
    return static_cast<int>(std::count_if(sessions.begin(), sessions.end(), [&](auto& s) {
      return s.life == Life::live && s.conn == slot;
    }));
  }
  bool group_active(int group, std::size_t except) const {
    for (std::size_t i = 0; i < sessions.size(); ++i)
      if (i != except && sessions[i].group == group && sessions[i].life != Life::closed)
        return true;
    return false;
  }
};

struct Sut {
  Sut() : h(config()) {}
  static GatewayConfig config() {
    GatewayConfig c = test_config();
    c.orphan_grace = 20'000;
    c.session_ttl = 60'000;
    c.reaper_interval = 10'000;
    c.slash_timeout = 8'000;
    c.max_queued_commands = 4;
    return c;
  }
  Harness h;
  std::vector<ConnId> conn_ids = std::vector<ConnId>(max_conns, 0);
  std::vector<std::string> ids;  // model index -> current session id
  std::map<ConnId, std::vector<int>> requests;

  int send(int slot, const std::string& method, Json params) {
    ConnId c = conn_ids[slot];
    int id = h.send(c, method, std::move(params));
    requests[c].push_back(id);
    return id;
  }
  std::vector<ChildId> live_children() const {
    std::vector<ChildId> out;
    for (const auto& [id, c] : h.w.procs.all())
      if (!c.exited && !c.dying) out.push_back(id);
    return out;
  }
};

void check_against_model(const Model& m, Sut& s) {
  s.h.w.settle();
  auto violations = sim::check_safety(*s.h.gw, s.h.w.procs, s.h.w.store);
  RC_ASSERT(violations.empty());
  std::set<std::string> allowed;
  for (std::size_t i = 0; i < m.sessions.size(); ++i) {
    const auto& ms = m.sessions[i];
    SessionPtr live = s.h.gw->find_session(s.ids[i]);
    switch (ms.life) {
      case Life::closed:
        RC_ASSERT(!live);
        break;
      case Life::live:
        RC_ASSERT(live);
        RC_ASSERT(live->conn == s.conn_ids[ms.conn]);
        allowed.insert(s.ids[i]);
        break;
      case Life::detached:
        if (live) RC_ASSERT(!live->conn);  // may have been grace- or idle-reaped
        allowed.insert(s.ids[i]);
        break;
    }
  }
  std::set<std::string> listed;
  for (const auto& sp : s.h.gw->sessions()) listed.insert(sp->id);
  for (const auto& id : listed) RC_ASSERT(allowed.count(id) == 1u);  // no phantom session
}

using Cmd = rc::state::Command<Model, Sut>;

struct Connect : Cmd {
  int slot = *rc::gen::inRange(0, max_conns);
  void checkPreconditions(const Model& m) const override { RC_PRE(!m.conn_open[slot]); }
  void apply(Model& m) const override { m.conn_open[slot] = true; }
  void run(const Model& m, Sut& s) const override {
    s.conn_ids[slot] = s.h.connect();
    check_against_model(m, s);
  }
  void show(std::ostream& os) const override { os << "Connect(" << slot << ")"; }
};

struct Disconnect : Cmd {
  int slot = *rc::gen::inRange(0, max_conns);
  void checkPreconditions(const Model& m) const override { RC_PRE(bool(m.conn_open[slot])); }
  void apply(Model& m) const override {
    m.conn_open[slot] = false;
    for (auto& ms : m.sessions) ms.revoked.erase(slot);  // a new connection starts clean
    for (auto& ms : m.sessions)
      if (ms.life == Life::live && ms.conn == slot)
        ms.life = ms.close_on_disconnect ? Life::closed : Life::detached;
  }
  void run(const Model& m, Sut& s) const override {
    s.h.disconnect(s.conn_ids[slot]);
    Model next = m;
    apply(next);
    check_against_model(next, s);
  }
  void show(std::ostream& os) const override { os << "Disconnect(" << slot << ")"; }
};

struct Create : Cmd {
  int slot = *rc::gen::inRange(0, max_conns);
  bool close_on_disconnect = *rc::gen::arbitrary<bool>();
  void checkPreconditions(const Model& m) const override {
    RC_PRE(bool(m.conn_open[slot]));
    RC_PRE(m.live_on(slot) < 64);
  }
  void apply(Model& m) const override {
    m.sessions.push_back({Life::live, slot, close_on_disconnect, m.groups++, !m.store_failing, {}});
  }
  void run(const Model& m, Sut& s) const override {
    int rid = s.send(slot, "session.create", {{"close_on_disconnect", close_on_disconnect}});
    s.h.w.settle();
    Json r = s.h.response(s.conn_ids[slot], rid);
    RC_ASSERT(r.contains("result"));
    s.ids.push_back(r["result"]["session_id"].get<std::string>());
    Model next = m;
    apply(next);
    check_against_model(next, s);
  }
  void show(std::ostream& os) const override {
    os << "Create(" << slot << ", cod=" << close_on_disconnect << ")";
  }
};

// Commands on an existing session pick it by index, modulo the count.
struct OnSession : Cmd {
  std::size_t pick = *rc::gen::inRange<std::size_t>(0, 1000);
  int slot = *rc::gen::inRange(0, max_conns);
  std::size_t index(const Model& m) const { return pick % m.sessions.size(); }
};

struct Close : OnSession {
  void checkPreconditions(const Model& m) const override {
    RC_PRE(!m.sessions.empty());
    RC_PRE(bool(m.conn_open[slot]));
  }
  bool refused(const Model& m) const {
    const auto& ms = m.sessions[index(m)];
    return ms.life != Life::closed && ms.revoked.count(slot) == 1;
  }
  void apply(Model& m) const override {
    if (!refused(m)) m.sessions[index(m)].life = Life::closed;
  }
  void run(const Model& m, Sut& s) const override {
    std::size_t i = index(m);
    // A detached session may have been ended by its grace or the idle eviction since the
    // model last heard of it (TimePasses does not say): then nothing is left to refuse,
    // and the close finds it already closed.
    bool ended_meanwhile = m.sessions[i].life == Life::detached && !s.h.session(s.ids[i]);
    int rid = s.send(slot, "session.close", {{"session_id", s.ids[i]}});
    s.h.w.settle();
    Json r = s.h.response(s.conn_ids[slot], rid);
    if (refused(m) && !ended_meanwhile) {  // the former holder of a taken-over session
      RC_ASSERT(s.h.error_code(r) == rpc::session_taken_over);  // (rule 14)
      check_against_model(m, s);
      return;
    }
    bool closed = r["result"]["closed"].get<bool>();
    if (m.sessions[i].life == Life::live) RC_ASSERT(closed);
    if (m.sessions[i].life == Life::closed) RC_ASSERT(!closed);
    Model next = m;
    apply(next);
    check_against_model(next, s);
  }
  void show(std::ostream& os) const override { os << "Close(#" << pick << ")"; }
};

struct Resume : OnSession {
  void checkPreconditions(const Model& m) const override {
    RC_PRE(!m.sessions.empty());
    RC_PRE(bool(m.conn_open[slot]));
    RC_PRE(m.live_on(slot) < 64);
    const auto& ms = m.sessions[index(m)];
    // One live continuation per history: a closed session is resumed only when no
    // other member of its history is active.
    if (ms.life == Life::closed) RC_PRE(!m.group_active(ms.group, index(m)));
    // A session that may have to come back from the store needs a working store that
    // holds it (the 5033 and 4007 answers are unit-tested).
    if (ms.life != Life::live) RC_PRE(ms.recorded && !m.store_failing);
  }
  void apply(Model& m) const override {
    auto& ms = m.sessions[index(m)];
    if (ms.life == Life::live && ms.conn != slot && m.conn_open[ms.conn])
      ms.revoked.insert(ms.conn);                     // a takeover revokes the holder
    if (ms.life == Life::closed) ms.revoked.clear();  // a new session continues it
    ms.revoked.erase(slot);
    ms.life = Life::live;
    ms.conn = slot;
  }
  void run(const Model& m, Sut& s) const override {
    std::size_t i = index(m);
    int rid = s.send(slot, "session.resume", {{"session_id", s.ids[i]}});
    s.h.w.settle();
    Json r = s.h.response(s.conn_ids[slot], rid);
    RC_ASSERT(r.contains("result"));
    RC_ASSERT(r["result"]["resumed"] == true);
    bool from_store = r["result"].value("from_store", false);
    if (m.sessions[i].life == Life::live) RC_ASSERT(!from_store);
    if (m.sessions[i].life == Life::closed) RC_ASSERT(from_store);
    s.ids[i] = r["result"]["session_id"].get<std::string>();
    Model next = m;
    apply(next);
    check_against_model(next, s);
  }
  void show(std::ostream& os) const override { os << "Resume(#" << pick << " on " << slot << ")"; }
};

struct NoModelChange : OnSession {
  void apply(Model&) const override {}
};

struct Exec : NoModelChange {
  int command = *rc::gen::inRange(0, 3);
  void checkPreconditions(const Model& m) const override {
    RC_PRE(!m.sessions.empty());
    RC_PRE(bool(m.conn_open[slot]));
  }
  void run(const Model& m, Sut& s) const override {
    const char* commands[] = {"/echo hi", "/sleep 1", "   "};
    s.send(slot, "slash.exec", {{"session_id", s.ids[index(m)]}, {"command", commands[command]}});
    check_against_model(m, s);
  }
  void show(std::ostream& os) const override { os << "Exec(#" << pick << ", " << command << ")"; }
};

struct Reset : NoModelChange {
  void checkPreconditions(const Model& m) const override {
    RC_PRE(!m.sessions.empty());
    RC_PRE(bool(m.conn_open[slot]));
  }
  void run(const Model& m, Sut& s) const override {
    s.send(slot, "session.reset", {{"session_id", s.ids[index(m)]}});
    check_against_model(m, s);
  }
  void show(std::ostream& os) const override { os << "Reset(#" << pick << ")"; }
};

struct PtyOpen : NoModelChange {
  void checkPreconditions(const Model& m) const override {
    RC_PRE(!m.sessions.empty());
    RC_PRE(bool(m.conn_open[slot]));
  }
  void run(const Model& m, Sut& s) const override {
    s.send(slot, "pty.open", {{"session_id", s.ids[index(m)]}, {"cols", 80}, {"rows", 24}});
    check_against_model(m, s);
  }
  void show(std::ostream& os) const override { os << "PtyOpen(#" << pick << ")"; }
};

struct SpawnCompletes : NoModelChange {
  bool ok = *rc::gen::weightedElement<bool>({{4, true}, {1, false}});
  void checkPreconditions(const Model&) const override {}
  void run(const Model& m, Sut& s) const override {
    if (s.h.w.procs.pending_spawns() == 0) return;
    s.h.w.procs.complete_spawn_at(pick % s.h.w.procs.pending_spawns(), ok, "EAGAIN");
    check_against_model(m, s);
  }
  void show(std::ostream& os) const override {
    os << (ok ? "SpawnCompletes(" : "SpawnFails(") << pick << ")";
  }
};

struct WorkerAnswers : NoModelChange {
  void checkPreconditions(const Model&) const override {}
  void run(const Model& m, Sut& s) const override {
    auto live = s.live_children();
    if (live.empty()) return;
    s.h.w.procs.answer(live[pick % live.size()], true, "done");
    check_against_model(m, s);
  }
  void show(std::ostream& os) const override { os << "WorkerAnswers(" << pick << ")"; }
};

struct WorkerDies : NoModelChange {
  void checkPreconditions(const Model&) const override {}
  void run(const Model& m, Sut& s) const override {
    auto live = s.live_children();
    if (live.empty()) return;
    s.h.w.procs.exit_child(live[pick % live.size()], 139);
    check_against_model(m, s);
  }
  void show(std::ostream& os) const override { os << "WorkerDies(" << pick << ")"; }
};

struct TimePasses : NoModelChange {
  Millis by = *rc::gen::element<Millis>(50, 300, 1'000, 5'000, 20'000, 70'000);
  void checkPreconditions(const Model&) const override {}
  void run(const Model& m, Sut& s) const override {
    s.h.w.advance(by);
    check_against_model(m, s);
  }
  void show(std::ostream& os) const override { os << "TimePasses(" << by << ")"; }
};

struct StoreFails : OnSession {
  bool failing = *rc::gen::arbitrary<bool>();
  void checkPreconditions(const Model&) const override {}
  void apply(Model& m) const override { m.store_failing = failing; }
  void run(const Model& m, Sut& s) const override {
    s.h.w.store.fail_writes = failing;
    s.h.w.store.fail_reads = failing;
    check_against_model(m, s);
  }
  void show(std::ostream& os) const override { os << "StoreFails(" << failing << ")"; }
};

RC_GTEST_PROP(CoreModel, InvariantsHoldUnderRandomInterleavings, ()) {
  Model model;
  Sut sut;
  rc::state::check(
      model, sut,
      rc::state::gen::execOneOfWithArgs<Connect, Disconnect, Create, Close, Resume, Exec, Exec,
                                        Reset, PtyOpen, SpawnCompletes, SpawnCompletes,
                                        WorkerAnswers, WorkerDies, TimePasses, StoreFails>());
  // Faults stop; the world settles.
  sut.h.w.store.fail_writes = sut.h.w.store.fail_reads = false;
  for (int round = 0; round < 50; ++round) {
    while (sut.h.w.procs.pending_spawns()) sut.h.w.procs.complete_spawn();
    for (ChildId c : sut.live_children()) sut.h.w.procs.answer(c, true, "done");
    sut.h.w.advance(10'000);
  }
  RC_ASSERT(sim::check_safety(*sut.h.gw, sut.h.w.procs, sut.h.w.store).empty());
  RC_ASSERT(sim::check_settled(*sut.h.gw, sut.h.w.procs, sut.h.w.store).empty());
  // Every request on a connection still open got exactly one answer.
  for (const auto& [conn, ids] : sut.requests) {
    if (!sut.h.gw->connected(conn)) continue;
    std::map<int, int> answers;
    for (const auto& msg : sut.h.w.transport.sent(conn))
      if (msg.contains("id") && msg["id"].is_number_integer()) ++answers[msg["id"].get<int>()];
    for (int id : ids) RC_ASSERT(answers[id] == 1);
  }
  // Shutdown leaves nothing behind.
  bool done = false;
  sut.h.gw->shutdown([&](bool clean) { done = clean; });
  for (int round = 0; round < 10 && !done; ++round) {
    while (sut.h.w.procs.pending_spawns()) sut.h.w.procs.complete_spawn();
    sut.h.w.advance(10'000);
  }
  RC_ASSERT(done);
  for (const auto& [id, c] : sut.h.w.procs.all()) RC_ASSERT(c.released);
}

}  // namespace
}  // namespace lifeline::testing
