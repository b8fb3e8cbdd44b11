// docs/DESIGN.md's deadlines, each checked per obligation from the event that starts it
// rather than once at the end within the settle window: a torn-down child's tree is
// gone within the escalation ladder; an orphaned worker's tree within poll + grace, and
// an orphaned terminal's at once; a
// detached session ends or resumes within the grace, counted again from the end of
// each busy period (the re-arm); a silent peer is dropped within ping interval +
// timeout. Their catalogue entries are in sim/catalogue.cpp.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>

#include "core/ports.hpp"
#include "sim/scheduler.hpp"

namespace lifeline {
struct Session;
}

namespace lifeline::sim {

class World;

class Deadlines {
 public:
  explicit Deadlines(World& w) : w_(w) {}

  // After every event: notices the obligations that started (a teardown, a detach, the
  // end of a busy period) and checks the detached sessions' graces.
  void after_event();
  // The gateway died: every worker tree it left must go by itself.
  void gateway_died();
  // The peer of `conn` went silent (half-open) while `gateway` served it.
  void peer_silent(ConnId conn, Incarnation gateway);

 private:
  void arm_ladder(ChildId child, int pgid, int cgroup);
  void check_detached(const Session& s, Millis grace);

  World& w_;
  Incarnation seen_gateway_ = 0;
  std::set<ChildId> ladders_;  // teardowns whose deadline is armed
  struct Detached {
    const Session* session = nullptr;  // identity: a resumed-from-store id is a new object
    Millis since = 0;                  // the detach, or the last moment it was seen busy
  };
  std::unordered_map<std::string, Detached> detached_;
};

}  // namespace lifeline::sim
