#include "sim/invariants.hpp"

#include <set>

namespace lifeline::sim {

bool owned_by_live_session(const Gateway& gw, const ChildInfo& c) {
  SessionPtr s = gw.find_session(c.session_id);
  if (!s || s->finalized) return false;
  if (c.kind == ChildKind::slash) return s->worker == c.id;
  auto it = s->ptys.find(c.pty_id);
  return it != s->ptys.end() && it->second == c.id;
}

std::string check_end_reason(const Session& s, EndReason reason, bool client_connected) {
  if (client_connected && reason != EndReason::client_close && reason != EndReason::shutdown)
    return "session " + s.id + " ended by " + to_string(reason) + " while its client is connected";
  if (s.busy() && (reason == EndReason::idle_timeout || reason == EndReason::lru_evict))
    return "busy session " + s.id + " ended by " + to_string(reason);
  return "";
}

std::vector<std::string> check_safety(const Gateway& gw, const FakeProcesses& procs,
                                      const FakeStore& store) {
  std::vector<std::string> out = procs.violations;
  const ChildSupervisor& sup = gw.children();

  for (const auto& [id, c] : procs.all()) {
    if (c.released) continue;
    if (!sup.find(id))
      out.push_back("child pid " + std::to_string(c.pid) +
                    " is owned by neither a session nor a teardown in progress");
  }
  for (const auto& info : sup.list()) {
    if (!sup.terminating(info.id) && !owned_by_live_session(gw, info))
      out.push_back("child pid " + std::to_string(info.pid) + " of session " + info.session_id +
                    " is tracked but owned by no live session and not being torn down");
  }
  std::set<std::string> ids;
  for (const auto& s : gw.sessions()) {
    if (s->finalized) out.push_back("finalized session " + s->id + " is still listed");
    if (!ids.insert(s->id).second) out.push_back("session " + s->id + " listed twice");
    if (s->worker) {
      const auto* c = sup.find(*s->worker);
      auto it = procs.all().find(*s->worker);
      if (!c || it == procs.all().end() || it->second.reaped)
        out.push_back("session " + s->id + " holds a worker handle to a reaped or unknown child");
    }
  }
  for (const auto& [id, n] : store.end_records)
    if (n > 1)
      out.push_back("session " + id + " had its end stored " + std::to_string(n) + " times");
  return out;
}

std::vector<std::string> check_settled(const Gateway& gw, const FakeProcesses& procs) {
  std::vector<std::string> out;
  for (const auto& [id, c] : procs.all()) {
    if (c.released) continue;
    const ChildInfo* info = gw.children().find(id);
    if (!info || !owned_by_live_session(gw, *info) || c.exited)
      out.push_back("after settling, child pid " + std::to_string(c.pid) +
                    (c.exited ? " is a zombie or holds fds" : " is still alive") +
                    " without a live owner");
  }
  if (gw.children().size() != 0)
    for (const auto& info : gw.children().list())
      if (gw.children().terminating(info.id))
        out.push_back("after settling, teardown of pid " + std::to_string(info.pid) +
                      " is unfinished");
  return out;
}

}  // namespace lifeline::sim
