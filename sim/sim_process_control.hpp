// The ProcessControl port over the simulated kernel, doing what runtime/'s
// PosixProcessControl does on Linux: a worker is born in its own session and group
// (and its own cgroup where the seed enabled them) holding only stdin, stdout, stderr
// and the read end of its lifeline; every gateway-side fd is close-on-exec; exit is
// observed (SIGCHLD, then a look at the incarnation, like pidfd readiness) without
// reaping; reaping happens only when the core says so; strays reparented to the
// subreaper gateway are killed and reaped. It also checks the core against the
// kernel's rules: no signal to a reaped child or to another incarnation, never the
// gateway's own group, no reap before exit, no fd closed twice or after reuse.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/ports.hpp"
#include "sim/kernel.hpp"

namespace lifeline::sim {

class World;

class SimProcessControl final : public ProcessControl {
 public:
  // A successor's start-up steps (the core's sweep_predecessor orders them): how many
  // processes the ledger named were killed, how many cgroups were swept.
  int sweep_ledger();
  int sweep_cgroups();
  SimProcessControl(World& world, int gateway_pid, Incarnation gateway_inc);

  struct Child {
    ChildId id = 0;
    ChildKind kind = ChildKind::slash;
    std::string session_id;
    int pid = 0;
    Incarnation inc = 0;
    int pgid = 0;
    std::uint64_t start_ticks = 0;
    int cgroup = 0;
    bool exited = false;  // reported to the core
    bool reaped = false;
    int in_fd = -1;   // worker stdin or PTY master (write side)
    int out_fd = -1;  // worker stdout or PTY master (read side)
    int err_fd = -1;
    bool output_paused = false;                      // its output stays in the kernel until resumed
    std::vector<std::pair<int, std::uint64_t>> fds;  // what release() closes
  };

  // ProcessControl.
  void set_events(ProcessEvents* events) override { events_ = events; }
  void spawn(const SpawnSpec& spec, std::function<void(SpawnResult)> done) override;
  void signal(ChildId child, Signal sig, Scope scope) override;
  void reap(ChildId child) override;
  void release(ChildId child) override;
  bool write(ChildId child, std::string_view bytes) override;
  std::int64_t unwritten(ChildId child) const override;
  void resize(ChildId child, int cols, int rows) override;
  void pause_output(ChildId child, bool paused) override;
  int gateway_pgid() const override;
  std::int64_t open_fds() const override;
  Json containment() const override;

  // Kernel events, delivered by the gateway program.
  void on_sigchld();
  void on_readable(int fd);

  const std::map<ChildId, Child>& children() const { return children_; }  // unreleased
  std::int64_t strays_killed() const { return strays_killed_; }

 private:
  void complete_spawn(const SpawnSpec& spec, const std::function<void(SpawnResult)>& done);
  std::uint64_t wire_terminal(Child& c, SpawnOptions& opts);
  std::vector<std::uint64_t> wire_worker(Child& c, SpawnOptions& opts);
  void run_program(int pid, const SpawnSpec& spec, std::uint64_t terminal,
                   const std::vector<std::uint64_t>& child_files);
  void watch_output(ChildId id, int out_fd, int err_fd);
  SpawnResult fail(const std::string& why);
  Child* find(ChildId id, const char* op);

  World& w_;
  int pid_;
  Incarnation inc_;
  ProcessEvents* events_ = nullptr;
  std::map<ChildId, Child> children_;
  std::map<int, ChildId> readers_;  // gateway fd -> child whose output it carries
  std::vector<int> cgroups_to_remove_;
  std::int64_t strays_killed_ = 0;
};

}  // namespace lifeline::sim
