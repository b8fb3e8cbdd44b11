// ProcessControl on Linux: clone_spawn (vfork-style clone3) with an exec-status pipe, every fd
// CLOEXEC, a new session per child, the lifeline pipe (DESIGN.md rule 7), pidfd-based exit
// observation inside the event loop, group signals that are safe because the leader
// is never reaped before its group is killed, PTYs, and child-subreaping.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/ports.hpp"
#include "runtime/gateway/cgroup_containment.hpp"
#include "runtime/gateway/child_ledger.hpp"
#include "runtime/gateway/io.hpp"

namespace lifeline::runtime {

class PosixProcessControl final : public ProcessControl {
 public:
  // cgroups may be null or disabled: then containment is the process group alone.
  PosixProcessControl(asio::io_context& io, Log& log, std::vector<std::string> child_env,
                      CgroupContainment* cgroups);
  ~PosixProcessControl() override;

  void set_events(ProcessEvents* events) override { events_ = events; }
  void spawn(const SpawnSpec& spec, std::function<void(SpawnResult)> done) override;
  void signal(ChildId child, Signal sig, bool whole_group) override;
  void reap(ChildId child) override;
  void release(ChildId child) override;
  bool write(ChildId child, std::string_view bytes) override;
  void resize(ChildId child, int cols, int rows) override;
  int gateway_pgid() const override;
  std::int64_t open_fds() const override;
  std::string containment() const override;

  // Every child is recorded there from spawn to release (may be null: no ledger).
  void set_ledger(ChildLedger* ledger) { ledger_ = ledger; }

  // Kills and reaps children we did not spawn: escapees reparented to us as subreaper.
  void reap_strays();
  std::size_t strays_killed() const { return strays_killed_; }

 private:
  struct Child;
  SpawnResult do_spawn(const SpawnSpec& spec);
  void watch_exit(ChildId id);
  void read_output(ChildId id);
  void read_stderr(ChildId id);
  void flush_writes(ChildId id);

  asio::io_context& io_;
  ChildLedger* ledger_ = nullptr;
  Log& log_;
  std::vector<std::string> child_env_;
  CgroupContainment* cgroups_;
  ProcessEvents* events_ = nullptr;
  std::map<ChildId, std::unique_ptr<Child>> children_;
  ChildId next_id_ = 1;
  std::size_t strays_killed_ = 0;
};

}  // namespace lifeline::runtime
