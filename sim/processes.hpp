// The programs simulated processes run besides the gateway: the slash worker (the
// core's WorkerLoop and watchdog on a simulated host) and its test grandchildren. The
// terminal's programs are in sim/terminal.hpp. Per-seed behaviours: a worker may ignore HUP and
// TERM (its spawn decides), take long to exit, crash, hang in a command, leave grandchildren,
// escape with setsid or double-fork.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/worker_loop.hpp"
#include "sim/kernel.hpp"
#include "sim/scheduler.hpp"

namespace lifeline::sim {

class World;

class WorkerProgram final : public Program, public WorkerHost, public ParentProbe, public Log {
 public:
  // expected_files: the four files the gateway meant it to hold at fds 0-3.
  WorkerProgram(World& world, int pid, WorkerConfig config,
                std::vector<std::uint64_t> expected_files);
  ~WorkerProgram() override;

  // Program.
  void on_start() override;
  void on_signal(SimSignal sig) override;
  void on_readable(int fd) override;
  void on_child_changed() override;

  // WorkerHost.
  void write_stdout(std::string_view bytes) override;
  std::string describe_process() override;
  std::string list_fds() override;
  std::string spawn_background(int n, bool setsid) override;
  void exit_with_containment(int code) override;
  void exit_without_containment(int code) override;
  void crash() override;

  // ParentProbe.
  ParentIdentity parent() override;

  // Log.
  void write(LogLevel level, std::string_view message) override;

  bool orphaned() const { return loop_ && loop_->orphaned(); }
  bool started() const { return loop_ != nullptr; }
  const Process* self() const;

 private:
  void finish_exit(int code);

  World& w_;
  int pid_;
  Incarnation inc_;
  Incarnation born_under_;  // the gateway that spawned us
  WorkerConfig config_;
  std::vector<std::uint64_t> expected_files_;
  SimClock clock_;
  std::unique_ptr<WorkerLoop> loop_;
  std::vector<std::pair<int, Incarnation>> children_;  // what /spawn made, until reaped
  bool forked_ = false;  // ever: what made is in our group or cgroup even once reaped
  Millis exit_delay_ = 0;
  bool exiting_ = false;
  bool stdin_open_ = true;
};

// A test grandchild: holds nothing of ours, ignores HUP, dies on TERM and KILL. With
// double_fork it leaves a setsid great-grandchild behind and exits at once.
class SleeperProgram final : public Program {
 public:
  // double_fork: start a sleeper and exit, leaving it to the nearest subreaper; it
  // escapes with setsid() unless in_group (then only the worker's group still holds it).
  SleeperProgram(World& world, int pid, bool double_fork, bool in_group = false)
      : w_(world), pid_(pid), double_fork_(double_fork), in_group_(in_group) {}
  void on_start() override;

 private:
  World& w_;
  int pid_;
  bool double_fork_;
  bool in_group_;
};

}  // namespace lifeline::sim
