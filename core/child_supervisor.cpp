#include "core/child_supervisor.hpp"

#include "core/assert.hpp"

namespace lifeline {

ChildSupervisor::ChildSupervisor(ProcessControl& proc, Clock& clock, Log& log,
                                 const GatewayConfig& config)
    : proc_(proc), clock_(clock), log_(log), config_(config) {}

ChildSupervisor::~ChildSupervisor() {
  for (auto& [id, e] : children_)
    if (e.timer) clock_.cancel(e.timer);
}

void ChildSupervisor::adopt(ChildInfo info) {
  LIFELINE_ASSERT(info.id != 0);
  LIFELINE_ASSERT(children_.count(info.id) == 0);  // a port never reuses a ChildId
  ChildId id = info.id;
  Entry e;
  e.info = std::move(info);
  children_.emplace(id, std::move(e));
}

void ChildSupervisor::assign(ChildId id, const std::string& session_id) {
  auto it = children_.find(id);
  LIFELINE_ASSERT(it != children_.end());
  LIFELINE_ASSERT(it->second.info.session_id.empty());  // never from one session to another
  LIFELINE_ASSERT(!session_id.empty());
  it->second.info.session_id = session_id;
}

const ChildInfo* ChildSupervisor::find(ChildId id) const {
  auto it = children_.find(id);
  return it == children_.end() ? nullptr : &it->second.info;
}

bool ChildSupervisor::terminating(ChildId id) const {
  auto it = children_.find(id);
  return it != children_.end() && it->second.stage != Stage::none;
}

void ChildSupervisor::send(Entry& e, Signal sig) {
  // Never the gateway's own group, never a group id we do not know to be the child's.
  bool group = e.info.pgid > 1 && e.info.pgid != proc_.gateway_pgid();
  if (!group)
    log_.write(LogLevel::warn, "child pid " + std::to_string(e.info.pid) + " has pgid " +
                                   std::to_string(e.info.pgid) +
                                   ", which is not its own group; signalling the process alone");
  Scope scope = !group ? Scope::process : sig == Signal::kill ? Scope::containment : Scope::group;
  proc_.signal(e.info.id, sig, scope);
}

void ChildSupervisor::terminate(ChildId id, std::function<void()> done) {
  auto it = children_.find(id);
  if (it == children_.end()) return;
  Entry& e = it->second;
  if (done) e.on_gone.push_back(std::move(done));
  if (e.stage != Stage::none) return;  // already escalating: join it
  e.stage = Stage::hup;
  e.terminate_started = clock_.now();
  // mutant: the-teardown-of-an-exited-child-never-finishes
  if (e.exited) {
    finish(id);
    return;
  }
  send(e, Signal::hup);
  e.timer = clock_.after(config_.hup_wait, [this, id] { escalate(id); });
}

void ChildSupervisor::escalate(ChildId id) {
  auto it = children_.find(id);
  if (it == children_.end()) return;
  Entry& e = it->second;
  e.timer = 0;
  if (e.exited) return;
  Millis wait = config_.kill_wait;
  switch (e.stage) {
    case Stage::none:
      return;
    case Stage::hup:
      e.stage = Stage::term;
      send(e, Signal::term);
      wait = config_.term_wait;
      break;
    case Stage::term:
      // mutant: the-ladders-first-kill-is-skipped
      // mutant: a-child-is-reaped-right-after-the-sigkill
      e.stage = Stage::kill;
      send(e, Signal::kill);
      break;
    case Stage::kill:
      // Uninterruptible sleep can outlast a KILL; keep it owned and keep asking.
      if (!e.warned_unkillable) {
        e.warned_unkillable = true;
        log_.write(LogLevel::error, "child pid " + std::to_string(e.info.pid) +
                                        " has not exited after SIGKILL; still waiting");
      }
      send(e, Signal::kill);
      break;
  }
  e.timer = clock_.after(wait, [this, id] { escalate(id); });
}

ChildSupervisor::ExitOutcome ChildSupervisor::on_exit(ChildId id, int /*status*/) {
  auto it = children_.find(id);
  if (it == children_.end()) {
    log_.write(LogLevel::warn, "exit reported for unknown child " + std::to_string(id));
    return ExitOutcome::unknown_child;
  }
  Entry& e = it->second;
  // A second report of the same exit: a terminating entry would already be gone, so
  // this one is still waiting for the caller's terminate().
  if (e.exited) return ExitOutcome::exit_already_known;
  e.exited = true;
  if (e.timer) {
    clock_.cancel(e.timer);
    e.timer = 0;
  }
  if (e.stage == Stage::none) return ExitOutcome::died_on_its_own;
  finish(id);
  return ExitOutcome::termination_finished;
}

void ChildSupervisor::finish(ChildId id) {
  auto it = children_.find(id);
  LIFELINE_ASSERT(it != children_.end());
  Entry& e = it->second;
  LIFELINE_ASSERT(e.exited);
  // The leader is a zombie: its group id is still reserved, so this reaches only
  // the grandchildren it left behind in its group (and its containment).
  // mutant: the-group-is-signalled-after-the-reap
  send(e, Signal::kill);
  // mutant: a-reaped-childs-fds-are-never-closed
  // mutant: a-finished-child-is-reaped-twice
  // mutant: a-childs-fds-are-closed-before-its-reap
  proc_.reap(id);
  proc_.release(id);
  if (e.stage != Stage::none) termination_latency_.record(clock_.now() - e.terminate_started);
  auto callbacks = std::move(e.on_gone);
  children_.erase(it);
  for (auto& cb : callbacks) cb();
}

std::vector<ChildInfo> ChildSupervisor::list() const {
  std::vector<ChildInfo> out;
  out.reserve(children_.size());
  for (const auto& [id, e] : children_) out.push_back(e.info);
  return out;
}

std::size_t ChildSupervisor::count(ChildKind kind) const {
  std::size_t n = 0;
  for (const auto& [id, e] : children_) n += e.info.kind == kind;
  return n;
}

}  // namespace lifeline
