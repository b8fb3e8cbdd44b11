// ProcessControl on Linux: children are launched on a spawner thread (clone_spawn, a
// vfork-style clone3, with an exec-status pipe), every fd CLOEXEC, a new session per
// child, the lifeline pipe (docs/DESIGN.md rule 7); the event loop adopts them and observes
// their exit through pidfds; group signals are safe because the leader is never reaped
// before its group is killed; PTYs; child-subreaping.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/ports.hpp"
#include "runtime/gateway/cgroup_containment.hpp"
#include "runtime/gateway/child_ledger.hpp"
#include "runtime/gateway/io.hpp"

namespace lifeline::runtime {

struct ChildPlan;  // runtime/gateway/child_launch.hpp

class PosixProcessControl final : public ProcessControl {
 public:
  // cgroups may be null or disabled: then containment is the process group alone.
  PosixProcessControl(asio::io_context& io, Log& log, std::vector<std::string> child_env,
                      CgroupContainment* cgroups);
  ~PosixProcessControl() override;  // stops the spawner thread (queued spawns are dropped)

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

  // Every child is recorded there from spawn to release (may be null: no ledger).
  void set_ledger(ChildLedger* ledger) { ledger_ = ledger; }
  // The program that supervises each terminal (`lifeline-slash-worker --terminal`,
  // docs/DESIGN.md rule 7). Empty: terminals run unsupervised (logged loudly at start).
  void set_terminal_supervisor(std::string path) { terminal_supervisor_ = std::move(path); }
  // --child-user: children run as this uid/gid (the gateway must be root).
  void set_child_credentials(int uid, int gid) {
    child_uid_ = uid;
    child_gid_ = gid;
  }

  // Kills and reaps children we did not spawn: escapees reparented to us as subreaper.
  void kill_and_reap_strays();
  std::size_t strays_killed() const { return strays_killed_; }

 private:
  struct Child;
  // An fd owned until released: a launch handed to an event loop that never runs it
  // (shutdown) still closes what it holds.
  class OwnedFd {
   public:
    OwnedFd() = default;
    OwnedFd(const OwnedFd&) = delete;
    OwnedFd& operator=(const OwnedFd&) = delete;
    OwnedFd(OwnedFd&& o) noexcept : fd_(o.release()) {}
    OwnedFd& operator=(OwnedFd&& o) noexcept {
      reset(o.release());
      return *this;
    }
    ~OwnedFd() { reset(-1); }
    void reset(int fd);
    int release() {
      int fd = fd_;
      fd_ = -1;
      return fd;
    }

   private:
    int fd_ = -1;
  };
  // What the spawner thread hands to the event loop.
  struct Launch {
    ChildId id = 0;
    ChildKind kind = ChildKind::slash;
    bool ok = false;
    std::string error;
    bool cgroup = false;  // a cgroup directory was made for it
    int pid = 0;
    std::uint64_t start_ticks = 0;
    OwnedFd pidfd, input, output, errors, lifeline_write;  // input: the PTY master
  };
  struct SpawnJob {
    ChildId id = 0;
    SpawnSpec spec;
    std::function<void(SpawnResult)> done;
  };
  void spawner_loop();
  Launch do_launch(ChildId id, const SpawnSpec& spec);  // on the spawner thread
  // do_launch's steps, on the spawner thread.
  struct LaunchFds;
  std::string open_channels(const SpawnSpec& spec, LaunchFds& f);
  void plan_child(const SpawnSpec& spec, const LaunchFds& f, ChildPlan& plan);
  std::string await_exec(int pid, int& pidfd, LaunchFds& f);
  void keep(Launch& l, int pid, int pidfd, LaunchFds& f);
  void adopt(Launch& launch, const std::function<void(SpawnResult)>& done);
  void watch_exit(ChildId id);
  void read_output(ChildId id);
  void read_stderr(ChildId id);
  void flush_writes(ChildId id);

  asio::io_context& io_;
  ChildLedger* ledger_ = nullptr;
  std::string terminal_supervisor_;
  int child_uid_ = -1, child_gid_ = -1;
  Log& log_;
  std::vector<std::string> child_env_;
  CgroupContainment* cgroups_;
  ProcessEvents* events_ = nullptr;
  std::map<ChildId, std::unique_ptr<Child>> children_;
  ChildId next_id_ = 1;
  std::size_t strays_killed_ = 0;
  std::set<int> strays_dying_;  // killed, not yet reaped (counted once)

  std::mutex spawn_mu_;  // the spawner's queue
  std::condition_variable spawn_cv_;
  std::deque<SpawnJob> spawn_queue_;
  bool spawner_stopping_ = false;
  std::mutex launch_mu_;    // held from a clone until its pid is in launched_
  std::set<int> launched_;  // launched, not yet adopted: never a stray
  std::thread spawner_;     // last: it starts once everything above exists
};

}  // namespace lifeline::runtime
