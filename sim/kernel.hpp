// A simulated Linux kernel, just large enough to hold lifeline's promises to account:
// PIDs allocated cyclically from a configurable space and reused; a process table with
// parents, process groups, sessions and zombies; orphans reparented to the nearest
// child subreaper or to init, which reaps; signals with default, ignored and handled
// dispositions; per-process fd tables with lowest-free-number reuse and close-on-exec;
// pipes whose reader sees EOF only when every write end everywhere is closed; PTY
// pairs whose master's last close hangs up the terminal's session; cgroups with kill.
//
// The kernel never calls into a program synchronously: signal handlers, readiness and
// SIGCHLD are events the program owns, so a dead program's wakeups vanish with it.
// What a real kernel would refuse or what would hurt another process (a double reap,
// closing an fd twice or after reuse) is recorded in `violations`.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sim/scheduler.hpp"

namespace lifeline::sim {

enum class SimSignal { hup = 1, kill = 9, segv = 11, term = 15 };
enum class Disposition { terminate, ignore, handle };

// What a simulated process runs. Every call arrives as an event the process owns.
class Program {
 public:
  virtual ~Program() = default;
  virtual void on_start() {}
  virtual void on_signal(SimSignal) {}  // only for handled dispositions
  virtual void on_readable(int /*fd*/) {}
  virtual void on_child_changed() {}  // SIGCHLD: a child became a zombie
};

enum class FileKind { pipe_read, pipe_write, pty_master, pty_slave, socket, null_device, store };

struct OpenFile {
  FileKind kind;
  std::uint64_t object = 0;  // pipe, pty, connection, ...
  int refs = 0;              // fd slots (in any process) that point here
};

struct FdSlot {
  std::uint64_t file = 0;  // 0: free
  bool cloexec = false;
};

struct Process {
  int pid = 0;
  int ppid = 0;
  int pgid = 0;
  int sid = 0;
  Incarnation inc = 0;
  std::uint64_t start_ticks = 0;  // creation time in 10 ms ticks, as /proc reports it
  std::uint64_t origin = 0;       // the gateway child (ChildId) whose tree this is; 0: none
  bool bystander = false;         // not the gateway's: another user's program on the host
  std::string name;
  bool zombie = false;
  int status = 0;  // exit code, or 128 + signal
  bool subreaper = false;
  int cgroup = 0;          // 0: the root
  std::uint64_t ctty = 0;  // the pty whose slave is this process's controlling terminal
  Disposition on_hup = Disposition::terminate;
  Disposition on_term = Disposition::terminate;
  std::vector<FdSlot> fds;
  std::unique_ptr<Program> program;
};

struct SpawnOptions {
  std::string name;
  bool new_session = false;         // setsid(): own session and group
  int cgroup = -1;                  // -1: the parent's
  std::uint64_t origin = 0;         // 0: the parent's
  bool bystander = false;           // (a bystander's children are bystanders too)
  int wanted_pid = 0;               // taken when free (the PID space wrapping onto it)
  bool exec_closes_cloexec = true;  // drop close-on-exec fds (the exec)
  int close_from = -1;              // close_range(close_from, ~0) after the installs
  std::vector<std::pair<int, std::uint64_t>> installs;  // dup2(file, fd), not cloexec
  std::uint64_t ctty = 0;
  Disposition on_hup = Disposition::terminate;
  Disposition on_term = Disposition::terminate;
};

struct ReadResult {
  std::string data;
  bool eof = false;  // no data and no writer left
};

class Kernel {
 public:
  Kernel(Scheduler& sched, int pid_max);

  // Processes.
  int spawn(int parent, SpawnOptions opts);  // pid, or -1 when the PID space is full (EAGAIN)
  void run(int pid, std::unique_ptr<Program> program, Millis start_delay);
  void exit(int pid, int status);
  void kill(int pid, SimSignal sig);
  int killpg(int pgid, SimSignal sig);  // how many processes it reached
  void cgroup_kill(int cgroup);
  // waitid() by the parent of exactly this incarnation. False (and a violation) when it
  // is not a zombie child of `parent`.
  bool reap(int parent, int pid, Incarnation inc);
  void set_subreaper(int pid) { procs_.at(pid).subreaper = true; }

  const Process* find(int pid) const;
  Process* find(int pid);
  const Process* find_inc(Incarnation inc) const;
  bool alive(Incarnation inc) const;  // running (not a zombie, not gone)
  const std::map<int, Process>& processes() const { return procs_; }
  std::vector<int> children_of(int pid) const;
  std::vector<int> group_members(int pgid) const;

  // Files.
  std::uint64_t make_pipe();                                     // a pipe with no ends open yet
  std::uint64_t open_file(FileKind kind, std::uint64_t object);  // a description, 0 refs
  std::uint64_t pipe_end(std::uint64_t pipe, bool write_end);
  std::uint64_t make_pty(std::uint64_t* master, std::uint64_t* slave);
  int install(int pid, std::uint64_t file, bool cloexec);  // lowest free fd
  bool close(int pid, int fd, std::uint64_t expected_file);
  bool write(int pid, int fd, std::string_view bytes);  // false: EPIPE/EBADF
  // Bytes written through (pid, fd) that its reader has not read yet (0: not a pipe).
  std::size_t unread(int pid, int fd) const;
  ReadResult read(int pid, int fd);
  void watch(int pid, int fd);  // this process is the one to wake when fd is readable
  std::uint64_t file_at(int pid, int fd) const;
  const OpenFile* file(std::uint64_t id) const;
  std::size_t fd_count(int pid) const;

  // Cgroups.
  int make_cgroup();
  bool remove_cgroup(int cgroup);  // false while it has members
  std::size_t cgroup_members(int cgroup) const;
  const std::set<int>& cgroups() const { return cgroups_; }

  std::uint64_t ticks() const { return static_cast<std::uint64_t>(sched_.now()) / 10; }
  std::vector<std::string> violations;
  // Every signal that reached a bystander: nothing on the host but lifeline sends
  // signals here, so each is harm lifeline did (docs/DESIGN.md, invariants).
  std::vector<std::string> bystander_harm;
  // PIDs of lifeline's children, with their start times, newest last, as their reaps
  // freed them.
  std::deque<std::pair<int, std::uint64_t>> freed_child_pids;
  std::uint64_t spawned = 0;
  std::uint64_t pid_reuses = 0;
  // Called as a process becomes a zombie (its fds closed, its children reparented).
  std::function<void(const Process&, Program*)> on_exit;

  // Programs of exited processes, destroyed between events (never inside their own call).
  void collect_garbage() { graveyard_.clear(); }

 private:
  struct Pipe {
    std::string buf;
    int readers = 0;
    int writers = 0;
    Incarnation watcher = 0;  // who reads it
    int watcher_pid = 0;
    int watcher_fd = -1;
    bool wake_pending = false;
  };
  struct Pty {
    std::uint64_t in = 0;   // master -> slave
    std::uint64_t out = 0;  // slave -> master
    int master_refs = 0;
  };

  int allocate_pid();
  void pid_ref(int id, int delta);
  void file_ref(std::uint64_t file, int delta);
  void wake(std::uint64_t pipe);
  void deliver(Process& p, SimSignal sig);
  std::uint64_t readable_pipe(const OpenFile& f) const;
  std::uint64_t writable_pipe(const OpenFile& f) const;
  void hang_up(std::uint64_t pty);

  Scheduler& sched_;
  int pid_max_;
  int last_pid_ = 0;
  Incarnation next_inc_ = 1;
  std::map<int, Process> procs_;
  std::map<Incarnation, int> inc_pid_;  // live or zombie incarnations
  std::map<int, int> pid_refs_;         // pid, pgid and sid references keep a number taken
  std::map<std::uint64_t, OpenFile> files_;
  std::map<std::uint64_t, Pipe> pipes_;
  std::map<std::uint64_t, Pty> ptys_;
  std::set<int> cgroups_;
  std::set<int> ever_used_;
  std::uint64_t next_object_ = 1;
  int next_cgroup_ = 1;
  std::vector<std::unique_ptr<Program>> graveyard_;
};

}  // namespace lifeline::sim
