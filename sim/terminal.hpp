// A terminal as the runtime starts it (runtime/worker/terminal_supervisor.cpp): the
// gateway's child is a supervisor that holds the read end of the lifeline and the PTY's
// slave, is a child subreaper, and forks the shell into a session of its own on the
// PTY. A hang-up or TERM from the gateway is passed on to the shell's group; when the
// shell exits, or the lifeline reads EOF (the gateway is gone), the supervisor kills its
// whole tree at once - whom, by the core's containment_victims, the same decision the
// runtime's supervisor makes - reaps, and exits (docs/DESIGN.md rule 7).
#pragma once

#include <memory>

#include <cstdint>

#include "sim/kernel.hpp"
#include "sim/scheduler.hpp"

namespace lifeline::sim {

class World;

class TerminalSupervisorProgram final : public Program {
 public:
  // pty: the terminal the shell takes as its controlling terminal.
  TerminalSupervisorProgram(World& world, int pid, std::uint64_t pty)
      : w_(world), pid_(pid), pty_(pty) {}

  void on_start() override;
  void on_signal(SimSignal sig) override;
  void on_readable(int fd) override;
  void on_child_changed() override;

 private:
  void reap_children();
  void contain_and_exit(int status);  // kill the whole tree, reap, exit

  World& w_;
  int pid_;
  std::uint64_t pty_;
  Incarnation inc_ = 0;
  int shell_ = 0;  // also its group id: the shell is a session leader
  Incarnation shell_inc_ = 0;
  bool shell_reaped_ = false;
  int shell_status_ = 0;
  bool stopping_ = false;  // a TERM's half second runs
  bool done_ = false;
  // The TERM timer may outlive this program (the kernel drops it at the process's exit,
  // the timer only at the reap): the timer checks this before touching `this`.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

 public:
  ~TerminalSupervisorProgram() override { *alive_ = false; }

 private:
};

// The PTY's shell: echoes what it reads, dies on the hangup, and keeps a job in the
// background that ignores the hangup (only its supervisor's containment reaches it).
class ShellProgram final : public Program {
 public:
  ShellProgram(World& world, int pid) : w_(world), pid_(pid) {}
  void on_start() override;
  void on_readable(int fd) override;

 private:
  World& w_;
  int pid_;
};

}  // namespace lifeline::sim
