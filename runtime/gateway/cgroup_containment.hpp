// docs/DESIGN.md rule 8 where a writable cgroup v2 exists: every child lives in a cgroup of
// its own under <our cgroup>/lifeline-<tag>, so that descendants that setsid or
// double-fork out of its process group still die with it (cgroup.kill). The tag is
// derived from the state dir, so a restarted gateway finds and kills whatever a
// SIGKILLed predecessor left: the cgroup tree is the persistent registry, and it is
// immune to PID reuse. Where cgroups are not writable, this is disabled and says why.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "core/ports.hpp"

namespace lifeline::runtime {

class CgroupContainment {
 public:
  // enable=false (LIFELINE_CGROUPS=off): process groups alone, said so in the description.
  CgroupContainment(Log& log, const std::string& state_dir, bool enable = true);
  ~CgroupContainment();  // removes our cgroups once empty
  CgroupContainment(const CgroupContainment&) = delete;
  CgroupContainment& operator=(const CgroupContainment&) = delete;
  bool enabled() const { return enabled_; }
  const std::string& description() const { return description_; }

  // docs/DESIGN.md rule 12: pids.max (and memory.max when memory_max > 0) on every child's
  // cgroup, where the controllers exist. Enables them in our subtree where it can;
  // limits() says what applies and why not.
  void apply_limits(std::int64_t pids_max, std::int64_t memory_max);
  struct Limits {
    std::int64_t pids_max = 0;    // 0: not applied
    std::int64_t memory_max = 0;  // 0: not applied
    std::string note;             // what could not be applied, and why
  };
  const Limits& limits() const { return limits_; }

  // Kills and removes every cgroup a previous gateway of this state dir left behind.
  // Returns how many cgroups were swept.
  int sweep_predecessor();
  // The cgroup.procs path a new child must write "0" into before it execs; "" when
  // disabled or the cgroup could not be made.
  std::string create(ChildId child);
  void kill(ChildId child);
  void remove(ChildId child);  // rmdir now, or later once empty
  void retry_removals();
  std::string dir(ChildId child) const { return base_ + "/c" + std::to_string(child); }
  // The leaf the gateway moved itself into ("" when it stayed where it started): with a
  // delegated cgroup (systemd's Delegate=yes) the gateway leaves its own cgroup so that
  // controllers can be enabled below it; the children's cgroups are the leaf's siblings.
  const std::string& relocated_to() const { return relocated_to_; }

 private:
  Log& log_;
  bool enabled_ = false;
  std::string base_;
  std::string relocated_to_;
  std::string description_ = "process-group";
  std::set<std::string> pending_removal_;
  Limits limits_;
};

}  // namespace lifeline::runtime
