// A child's life from clone to exec (docs/DESIGN.md rules 6-8): everything decided before the
// clone (ChildPlan), and the code the child runs then (run_child). Kept apart from the
// rest of process control because of what it may do: after the clone the child shares
// the gateway's memory (CLONE_VM), so it makes only async-signal-safe calls and writes
// nothing but its own stack until it execs.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace lifeline::runtime {

// Everything the child needs, prepared before the clone: after it, the child makes only
// async-signal-safe calls and writes nothing but its own stack (under CLONE_VM it
// shares our memory).
struct ChildPlan {
  std::vector<std::string> argv_store;
  std::vector<char*> argv;
  std::vector<char*> envp;
  const char* slave_name = nullptr;    // PTY children
  const char* cgroup_procs = nullptr;  // join this cgroup when not born in it
  bool pty = false;
  bool supervised = false;  // a PTY child that is the terminal supervisor
  int uid = -1, gid = -1;   // --child-user: drop to these before exec (-1: stay)
  int deathsig = SIGUSR2;
  pid_t parent = 0;
  int in = -1, out = -1, err = -1, life = -1;  // the child's ends (slash workers)
  int status = -1;  // exec-status pipe, write end: the errno of what failed
};

// The child, from clone to exec: clone_spawn's entry point. Returns only on failure
// (after writing the errno to the exec-status pipe); the value is the exit status.
int run_child(void* plan, bool born_in_cgroup);

}  // namespace lifeline::runtime
