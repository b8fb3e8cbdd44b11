// Starting a child the cheap way: clone3(CLONE_VM | CLONE_VFORK), as posix_spawn and
// libuv do, plus what posix_spawn cannot give: CLONE_PIDFD (the child's pidfd is made
// with it) and CLONE_INTO_CGROUP (it is born in its cgroup). The child borrows our
// memory until it execs or exits, so the gateway never copies its page tables and never
// takes the copy-on-write faults a fork costs both sides; we are suspended meanwhile.
//
// Where that is unavailable (another architecture, an old kernel, ThreadSanitizer) it
// falls back to a clone3 fork, then to fork(). The child function runs in every case.
#pragma once

#include <sys/types.h>

namespace lifeline::runtime {

// What the child runs. It must not return on success (it execs); it may return an exit
// code on failure. Under CLONE_VM it shares our memory and our thread's TLS: only
// async-signal-safe calls, no allocation, no locks, nothing written but its own stack
// and what the caller provided for it. born_in_cgroup: the kernel already put it in the
// cgroup asked for (otherwise it must join by itself, if it wants one).
using ChildMain = int (*)(void* arg, bool born_in_cgroup);

struct Spawned {
  pid_t pid = -1;              // -1: no child; errno_value says why
  int pidfd = -1;              // -1 when the fallback fork() made the child: caller opens one
  bool in_cgroup = false;      // born in cgroup_fd's cgroup
  bool shared_memory = false;  // the CLONE_VM path: the child has exec'ed or exited by now
  int errno_value = 0;
};

// Signals are blocked around the clone, so that no handler of ours ever runs in the
// child; the child function must reset dispositions before it unblocks them
// (reset_signal_handlers_for_child below). cgroup_fd < 0: no cgroup.
Spawned clone_spawn(ChildMain child, void* arg, int cgroup_fd);

// For the child: every signal with a handler goes back to SIG_DFL (ignored ones stay
// ignored). Async-signal-safe.
void reset_signal_handlers_for_child();

}  // namespace lifeline::runtime
