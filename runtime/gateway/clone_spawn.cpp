#include "runtime/gateway/clone_spawn.hpp"

#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#if defined(__SANITIZE_THREAD__)
#define LIFELINE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LIFELINE_TSAN 1
#endif
#endif

// ThreadSanitizer keeps per-thread state that a child sharing our memory and TLS would
// scribble on; under it, children are forked.
#if defined(__x86_64__) && !defined(LIFELINE_TSAN)
#define LIFELINE_CLONE_VM 1
#endif

namespace {

struct ChildCall {
  lifeline::runtime::ChildMain fn;
  void* arg;
  bool born_in_cgroup;
};

}  // namespace

// The child's first frame, on its own stack. Never returns.
extern "C" [[noreturn]] __attribute__((visibility("hidden"))) void lifeline_child_entry(
    void* call) {
  auto* c = static_cast<ChildCall*>(call);
  _exit(c->fn(c->arg, c->born_in_cgroup));
}

#ifdef LIFELINE_CLONE_VM
static_assert(SYS_clone3 == 435);
// clone3 returns in the child on the stack given in clone_args, with nothing on it: no
// C function can return there. So the syscall is made here and the child side calls
// lifeline_child_entry(call) at once. rdi = args, rsi = size, rdx = call. The syscall
// keeps every register but rax, rcx and r11, so rdx survives into the child.
extern "C" long lifeline_clone3_vm(clone_args* args, unsigned long size, void* call);
asm(R"(
    .text
    .p2align 4
    .globl lifeline_clone3_vm
    .hidden lifeline_clone3_vm
    .type lifeline_clone3_vm, @function
lifeline_clone3_vm:
    .cfi_startproc
    movl $435, %eax
    syscall
    testq %rax, %rax
    jz 1f
    ret
1:
    .cfi_undefined rip
    xorl %ebp, %ebp
    movq %rdx, %rdi
    call lifeline_child_entry
    hlt
    .cfi_endproc
    .size lifeline_clone3_vm, .-lifeline_clone3_vm
)");
#endif

namespace lifeline::runtime {

namespace {

// Errors that mean "this kind of clone is not available here", not "cannot make a
// process": the next, older way is tried.
bool unavailable(int e) {
  return e == ENOSYS || e == EINVAL || e == E2BIG || e == EOPNOTSUPP || e == EPERM;
}

#ifdef LIFELINE_CLONE_VM
// The child needs a stack of its own only until it execs: small, with a guard page so
// that an overflow faults instead of corrupting our heap.
constexpr std::size_t kChildStack = std::size_t{64} * 1024;

Spawned clone_vm(ChildCall& call, int cgroup_fd) {
  Spawned r;
  long page = sysconf(_SC_PAGESIZE);
  std::size_t guard = page > 0 ? static_cast<std::size_t>(page) : 4096;
  void* map = mmap(nullptr, kChildStack + guard, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (map == MAP_FAILED) {
    r.errno_value = errno;
    return r;
  }
  mprotect(map, guard, PROT_NONE);
  int pidfd = -1;
  clone_args args{};
  args.flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0);
  args.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  args.stack = reinterpret_cast<std::uint64_t>(static_cast<char*>(map) + guard);
  args.stack_size = kChildStack;
  args.cgroup = cgroup_fd >= 0 ? static_cast<std::uint64_t>(cgroup_fd) : 0;
  call.born_in_cgroup = cgroup_fd >= 0;
  long rc = lifeline_clone3_vm(&args, sizeof args, &call);
  // CLONE_VFORK: we resume only once the child has exec'ed or exited, so its stack is
  // free again.
  munmap(map, kChildStack + guard);
  if (rc < 0) {
    r.errno_value = static_cast<int>(-rc);
    return r;
  }
  r.pid = static_cast<pid_t>(rc);
  r.pidfd = pidfd;
  r.in_cgroup = cgroup_fd >= 0;
  r.shared_memory = true;
  return r;
}
#endif

// fork() through clone3: the child gets its own copy of our memory.
Spawned clone_fork(ChildCall& call, int cgroup_fd) {
  Spawned r;
  int pidfd = -1;
  clone_args args{};
  args.flags = CLONE_PIDFD | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0);
  args.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  args.cgroup = cgroup_fd >= 0 ? static_cast<std::uint64_t>(cgroup_fd) : 0;
  call.born_in_cgroup = cgroup_fd >= 0;
  long rc = syscall(SYS_clone3, &args, sizeof args);
  if (rc == 0) lifeline_child_entry(&call);
  if (rc < 0) {
    r.errno_value = errno;
    return r;
  }
  r.pid = static_cast<pid_t>(rc);
  r.pidfd = pidfd;
  r.in_cgroup = cgroup_fd >= 0;
  return r;
}

Spawned plain_fork(ChildCall& call) {
  Spawned r;
  call.born_in_cgroup = false;
  pid_t pid = fork();
  if (pid == 0) lifeline_child_entry(&call);
  if (pid < 0) r.errno_value = errno;
  r.pid = pid;
  return r;
}

}  // namespace

Spawned clone_spawn(ChildMain child, void* arg, int cgroup_fd) {
  ChildCall call{child, arg, false};
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  Spawned r;
  r.errno_value = ENOSYS;
#ifdef LIFELINE_CLONE_VM
  r = clone_vm(call, cgroup_fd);
  if (r.pid < 0 && cgroup_fd >= 0 && unavailable(r.errno_value)) r = clone_vm(call, -1);
#endif
  if (r.pid < 0 && unavailable(r.errno_value)) r = clone_fork(call, cgroup_fd);
  if (r.pid < 0 && unavailable(r.errno_value)) r = plain_fork(call);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return r;
}

void reset_signal_handlers_for_child() {
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction sa {};
    if (sigaction(sig, nullptr, &sa) != 0) continue;  // reserved by the C library
    if (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN) continue;
    sa = {};
    sa.sa_handler = SIG_DFL;
    sigaction(sig, &sa, nullptr);
  }
}

}  // namespace lifeline::runtime
