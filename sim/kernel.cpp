#include "sim/kernel.hpp"

#include <cassert>

namespace lifeline::sim {

Kernel::Kernel(Scheduler& sched, int pid_max) : sched_(sched), pid_max_(pid_max < 8 ? 8 : pid_max) {
  // init: pid 1, its own session; reaps whatever is handed to it.
  Process init;
  init.pid = init.pgid = init.sid = 1;
  init.inc = next_inc_++;
  init.name = "init";
  init.subreaper = true;
  procs_.emplace(1, std::move(init));
  inc_pid_[procs_.at(1).inc] = 1;
  pid_ref(1, 3);
  last_pid_ = 1;
}

// ---------------------------------------------------------------- pids

void Kernel::pid_ref(int id, int delta) {
  int& n = pid_refs_[id];
  n += delta;
  assert(n >= 0);
  if (n == 0) pid_refs_.erase(id);
}

int Kernel::allocate_pid() {
  // Cyclic, like alloc_pid(): the next number after the last one handed out that no
  // process, group or session still holds.
  for (int tries = 0; tries < pid_max_; ++tries) {
    int pid = last_pid_ + 1;
    if (pid > pid_max_) pid = 2;
    last_pid_ = pid;
    if (!pid_refs_.count(pid)) return pid;
  }
  return -1;
}

int Kernel::spawn(int parent_pid, SpawnOptions opts) {
  Process* parent = find(parent_pid);
  assert(parent && !parent->zombie);
  // The allocator wrapping around onto a wanted number, when it is free.
  int pid =
      opts.wanted_pid > 1 && !pid_refs_.count(opts.wanted_pid) ? opts.wanted_pid : allocate_pid();
  if (pid < 0) return -1;
  Process p;
  p.pid = pid;
  p.ppid = parent_pid;
  p.pgid = opts.new_session ? pid : parent->pgid;
  p.sid = opts.new_session ? pid : parent->sid;
  p.inc = next_inc_++;
  p.start_ticks = ticks();
  p.origin = opts.origin ? opts.origin : parent->origin;
  p.bystander = opts.bystander || parent->bystander;
  p.name = std::move(opts.name);
  p.cgroup = opts.cgroup >= 0 ? opts.cgroup : parent->cgroup;
  p.ctty = opts.ctty;
  p.on_hup = opts.on_hup;
  p.on_term = opts.on_term;
  // fork: the fd table is copied; exec drops the close-on-exec ones.
  p.fds = parent->fds;
  for (auto& slot : p.fds) {
    if (!slot.file) continue;
    if (opts.exec_closes_cloexec && slot.cloexec)
      slot = FdSlot{};
    else
      file_ref(slot.file, +1);
  }
  for (auto& [fd, file] : opts.installs) {
    if (static_cast<std::size_t>(fd) >= p.fds.size())
      p.fds.resize(static_cast<std::size_t>(fd) + 1);
    if (p.fds[static_cast<std::size_t>(fd)].file)
      file_ref(p.fds[static_cast<std::size_t>(fd)].file, -1);
    p.fds[static_cast<std::size_t>(fd)] = FdSlot{file, false};
    file_ref(file, +1);
  }
  if (opts.close_from >= 0)
    for (std::size_t fd = static_cast<std::size_t>(opts.close_from); fd < p.fds.size(); ++fd)
      if (p.fds[fd].file) {
        file_ref(p.fds[fd].file, -1);
        p.fds[fd] = FdSlot{};
      }
  while (!p.fds.empty() && !p.fds.back().file) p.fds.pop_back();
  if (!ever_used_.insert(pid).second) ++pid_reuses;
  pid_ref(pid, 1);
  pid_ref(p.pgid, 1);
  pid_ref(p.sid, 1);
  inc_pid_[p.inc] = pid;
  procs_.emplace(pid, std::move(p));
  ++spawned;
  return pid;
}

void Kernel::run(int pid, std::unique_ptr<Program> program, Millis start_delay) {
  Process& p = procs_.at(pid);
  p.program = std::move(program);
  Incarnation inc = p.inc;
  sched_.after(start_delay, inc, [this, pid] {
    if (Process* q = find(pid); q && q->program) q->program->on_start();
  });
}

void Kernel::exit(int pid, int status) {
  Process* p = find(pid);
  if (!p || p->zombie) return;
  p->zombie = true;
  p->status = status;
  std::unique_ptr<Program> program = std::move(p->program);  // destroyed between events
  // exit_files(): every fd closes; last writers give EOF, a last master hangs up.
  std::vector<FdSlot> fds = std::move(p->fds);
  p->fds.clear();
  for (auto& slot : fds)
    if (slot.file) file_ref(slot.file, -1);
  // exit_notify(): children go to the nearest subreaper ancestor, else init.
  int heir = 1;
  for (const Process* a = find(p->ppid); a && a->pid != 1; a = find(a->ppid))
    if (a->subreaper && !a->zombie) {
      heir = a->pid;
      break;
    }
  bool heir_gets_zombie = false;
  for (auto& [cpid, c] : procs_)
    if (c.ppid == pid) {
      c.ppid = heir;
      heir_gets_zombie |= c.zombie;
    }
  auto notify = [this](int parent) {
    Process* q = find(parent);
    if (!q) return;
    if (parent == 1) {
      // init reaps at once, whatever is handed to it.
      sched_.after(0, 0, [this] {
        for (int c : children_of(1))
          if (Process* z = find(c); z && z->zombie) reap(1, c, z->inc);
      });
      return;
    }
    sched_.after(0, q->inc, [this, parent] {
      if (Process* r = find(parent); r && r->program) r->program->on_child_changed();
    });
  };
  if (heir_gets_zombie) notify(heir);
  notify(p->ppid);
  if (on_exit) on_exit(*p, program.get());
  if (program) graveyard_.push_back(std::move(program));
}

bool Kernel::reap(int parent, int pid, Incarnation inc) {
  auto it = procs_.find(pid);
  if (it == procs_.end() || it->second.inc != inc) {
    violations.push_back("reap of pid " + std::to_string(pid) + " by pid " +
                         std::to_string(parent) +
                         ": that incarnation is already gone (double reap)");
    return false;
  }
  Process& p = it->second;
  if (p.ppid != parent) {
    violations.push_back("reap of pid " + std::to_string(pid) + " by pid " +
                         std::to_string(parent) + ", which is not its parent");
    return false;
  }
  if (!p.zombie) {
    violations.push_back("reap of pid " + std::to_string(pid) + " before it exited");
    return false;
  }
  pid_ref(p.pid, -1);
  pid_ref(p.pgid, -1);
  pid_ref(p.sid, -1);
  if (p.origin != 0) {  // a number lifeline's child held, free for anyone now
    freed_child_pids.push_back({p.pid, p.start_ticks});
    if (freed_child_pids.size() > 16) freed_child_pids.pop_front();
  }
  inc_pid_.erase(p.inc);
  procs_.erase(it);
  return true;
}

// ---------------------------------------------------------------- signals

void Kernel::deliver(Process& p, SimSignal sig) {
  if (p.zombie) return;
  if (p.bystander)
    bystander_harm.push_back("signal " + std::to_string(static_cast<int>(sig)) + " reached pid " +
                             std::to_string(p.pid) + " (" + p.name +
                             "), a bystander's process the gateway never started");
  Disposition d = Disposition::terminate;
  if (sig == SimSignal::hup) d = p.on_hup;
  if (sig == SimSignal::term) d = p.on_term;
  if (d == Disposition::ignore) return;
  if (d == Disposition::handle && p.program) {
    int pid = p.pid;
    sched_.after(0, p.inc, [this, pid, sig] {
      if (Process* q = find(pid); q && q->program) q->program->on_signal(sig);
    });
    return;
  }
  exit(p.pid, 128 + static_cast<int>(sig));
}

void Kernel::kill(int pid, SimSignal sig) {
  if (Process* p = find(pid)) deliver(*p, sig);
}

int Kernel::killpg(int pgid, SimSignal sig) {
  std::vector<int> members = group_members(pgid);
  for (int pid : members)
    if (Process* p = find(pid)) deliver(*p, sig);
  return static_cast<int>(members.size());
}

void Kernel::cgroup_kill(int cgroup) {
  if (cgroup == 0) return;
  std::vector<int> members;
  for (const auto& [pid, p] : procs_)
    if (p.cgroup == cgroup && !p.zombie) members.push_back(pid);
  for (int pid : members)
    if (Process* p = find(pid)) deliver(*p, SimSignal::kill);
}

// ---------------------------------------------------------------- queries

const Process* Kernel::find(int pid) const {
  auto it = procs_.find(pid);
  return it == procs_.end() ? nullptr : &it->second;
}
Process* Kernel::find(int pid) {
  auto it = procs_.find(pid);
  return it == procs_.end() ? nullptr : &it->second;
}
const Process* Kernel::find_inc(Incarnation inc) const {
  auto it = inc_pid_.find(inc);
  return it == inc_pid_.end() ? nullptr : find(it->second);
}
bool Kernel::alive(Incarnation inc) const {
  const Process* p = find_inc(inc);
  return p && !p->zombie;
}
std::vector<int> Kernel::children_of(int pid) const {
  std::vector<int> out;
  for (const auto& [cpid, c] : procs_)
    if (c.ppid == pid && cpid != pid) out.push_back(cpid);
  return out;
}
std::vector<int> Kernel::group_members(int pgid) const {
  std::vector<int> out;
  for (const auto& [pid, p] : procs_)
    if (p.pgid == pgid && !p.zombie) out.push_back(pid);
  return out;
}

// ---------------------------------------------------------------- files

std::uint64_t Kernel::make_pipe() {
  std::uint64_t id = next_object_++;
  pipes_.emplace(id, Pipe{});
  return id;
}

std::uint64_t Kernel::open_file(FileKind kind, std::uint64_t object) {
  std::uint64_t id = next_object_++;
  files_.emplace(id, OpenFile{kind, object, 0});
  return id;
}

std::uint64_t Kernel::pipe_end(std::uint64_t pipe, bool write_end) {
  return open_file(write_end ? FileKind::pipe_write : FileKind::pipe_read, pipe);
}

std::uint64_t Kernel::make_pty(std::uint64_t* master, std::uint64_t* slave) {
  std::uint64_t id = next_object_++;
  Pty pty;
  pty.in = make_pipe();
  pty.out = make_pipe();
  ptys_.emplace(id, pty);
  *master = open_file(FileKind::pty_master, id);
  *slave = open_file(FileKind::pty_slave, id);
  return id;
}

void Kernel::file_ref(std::uint64_t file, int delta) {
  auto it = files_.find(file);
  assert(it != files_.end());
  OpenFile& f = it->second;
  f.refs += delta;
  assert(f.refs >= 0);
  // Ends are counted per description: the first fd opens it, the last one closes it.
  bool opened = delta > 0 && f.refs == delta;
  bool closed = f.refs == 0;
  if (!opened && !closed) return;
  int d = opened ? +1 : -1;
  switch (f.kind) {
    case FileKind::pipe_read:
      pipes_.at(f.object).readers += d;
      break;
    case FileKind::pipe_write: {
      Pipe& p = pipes_.at(f.object);
      p.writers += d;
      if (p.writers == 0) wake(f.object);  // EOF for the reader
      break;
    }
    case FileKind::pty_master: {
      Pty& pty = ptys_.at(f.object);
      pty.master_refs += d;
      pipes_.at(pty.in).writers += d;
      pipes_.at(pty.out).readers += d;
      if (pty.master_refs == 0) {
        wake(pty.in);
        hang_up(f.object);
      }
      break;
    }
    case FileKind::pty_slave: {
      Pty& pty = ptys_.at(f.object);
      pipes_.at(pty.in).readers += d;
      pipes_.at(pty.out).writers += d;
      if (pipes_.at(pty.out).writers == 0) wake(pty.out);
      break;
    }
    default:
      break;
  }
  if (!closed) return;
  // A reader that closed its end is no longer the one to wake.
  if (std::uint64_t pipe = readable_pipe(f); pipe && pipes_.count(pipe))
    pipes_.at(pipe).watcher = 0;
  // A pipe or terminal that nobody holds any more is gone.
  if (f.kind == FileKind::pipe_read || f.kind == FileKind::pipe_write) {
    const Pipe& p = pipes_.at(f.object);
    if (p.readers == 0 && p.writers == 0 && !p.wake_pending) pipes_.erase(f.object);
  } else if (f.kind == FileKind::pty_master || f.kind == FileKind::pty_slave) {
    const Pty& pty = ptys_.at(f.object);
    const Pipe& in = pipes_.at(pty.in);
    if (pty.master_refs == 0 && in.readers == 0 && !in.wake_pending &&
        !pipes_.at(pty.out).wake_pending) {
      pipes_.erase(pty.in);
      pipes_.erase(pty.out);
      ptys_.erase(f.object);
    }
  }
  files_.erase(it);
}

void Kernel::hang_up(std::uint64_t pty) {
  // The terminal is gone: its session gets SIGHUP.
  std::vector<int> session;
  for (const auto& [pid, p] : procs_)
    if (p.ctty == pty && !p.zombie) session.push_back(pid);
  for (int pid : session)
    if (Process* p = find(pid)) deliver(*p, SimSignal::hup);
}

int Kernel::install(int pid, std::uint64_t file, bool cloexec) {
  Process& p = procs_.at(pid);
  std::size_t fd = 0;
  while (fd < p.fds.size() && p.fds[fd].file) ++fd;  // lowest free number
  if (fd == p.fds.size()) p.fds.emplace_back();
  p.fds[fd] = FdSlot{file, cloexec};
  file_ref(file, +1);
  return static_cast<int>(fd);
}

std::uint64_t Kernel::file_at(int pid, int fd) const {
  const Process* p = find(pid);
  if (!p || fd < 0 || static_cast<std::size_t>(fd) >= p->fds.size()) return 0;
  return p->fds[static_cast<std::size_t>(fd)].file;
}

const OpenFile* Kernel::file(std::uint64_t id) const {
  auto it = files_.find(id);
  return it == files_.end() ? nullptr : &it->second;
}

std::size_t Kernel::fd_count(int pid) const {
  const Process* p = find(pid);
  if (!p) return 0;
  std::size_t n = 0;
  for (const auto& s : p->fds) n += s.file != 0;
  return n;
}

bool Kernel::close(int pid, int fd, std::uint64_t expected_file) {
  Process* p = find(pid);
  std::uint64_t now = file_at(pid, fd);
  if (!p || now == 0) {
    violations.push_back("pid " + std::to_string(pid) + " closed fd " + std::to_string(fd) +
                         " twice (it was already closed)");
    return false;
  }
  if (now != expected_file) {
    violations.push_back("pid " + std::to_string(pid) + " closed fd " + std::to_string(fd) +
                         " after the number was reused by another file");
    return false;
  }
  p->fds[static_cast<std::size_t>(fd)] = FdSlot{};
  while (!p->fds.empty() && !p->fds.back().file) p->fds.pop_back();
  file_ref(now, -1);
  return true;
}

std::uint64_t Kernel::readable_pipe(const OpenFile& f) const {
  if (f.kind == FileKind::pipe_read) return f.object;
  if (f.kind == FileKind::pty_master) return ptys_.at(f.object).out;
  if (f.kind == FileKind::pty_slave) return ptys_.at(f.object).in;
  return 0;
}

std::uint64_t Kernel::writable_pipe(const OpenFile& f) const {
  if (f.kind == FileKind::pipe_write) return f.object;
  if (f.kind == FileKind::pty_master) return ptys_.at(f.object).in;
  if (f.kind == FileKind::pty_slave) return ptys_.at(f.object).out;
  return 0;
}

bool Kernel::write(int pid, int fd, std::string_view bytes) {
  const OpenFile* f = file(file_at(pid, fd));
  if (!f) return false;
  std::uint64_t pipe = writable_pipe(*f);
  if (!pipe) return false;
  Pipe& p = pipes_.at(pipe);
  if (p.readers == 0) return false;  // EPIPE
  p.buf.append(bytes);
  wake(pipe);
  return true;
}

std::size_t Kernel::unread(int pid, int fd) const {
  const OpenFile* f = file(file_at(pid, fd));
  if (!f) return 0;
  std::uint64_t pipe = writable_pipe(*f);
  auto it = pipe ? pipes_.find(pipe) : pipes_.end();
  return it == pipes_.end() ? 0 : it->second.buf.size();
}

ReadResult Kernel::read(int pid, int fd) {
  ReadResult r;
  const OpenFile* f = file(file_at(pid, fd));
  if (!f) {
    r.eof = true;
    return r;
  }
  std::uint64_t pipe = readable_pipe(*f);
  if (!pipe) return r;
  Pipe& p = pipes_.at(pipe);
  r.data = std::move(p.buf);
  p.buf.clear();
  r.eof = r.data.empty() && p.writers == 0;
  return r;
}

void Kernel::watch(int pid, int fd) {
  const OpenFile* f = file(file_at(pid, fd));
  if (!f) return;
  std::uint64_t pipe = readable_pipe(*f);
  if (!pipe) return;
  Pipe& p = pipes_.at(pipe);
  p.watcher = procs_.at(pid).inc;
  p.watcher_pid = pid;
  p.watcher_fd = fd;
  if (!p.buf.empty() || p.writers == 0) wake(pipe);
}

void Kernel::wake(std::uint64_t pipe) {
  Pipe& p = pipes_.at(pipe);
  if (!p.watcher || p.wake_pending) return;
  p.wake_pending = true;
  sched_.after(0, p.watcher, [this, pipe] {
    auto it = pipes_.find(pipe);
    if (it == pipes_.end()) return;
    Pipe& q = it->second;
    q.wake_pending = false;
    Process* r = find(q.watcher_pid);
    if (r && r->inc == q.watcher && r->program) r->program->on_readable(q.watcher_fd);
  });
}

// ---------------------------------------------------------------- cgroups

int Kernel::make_cgroup() {
  int id = next_cgroup_++;
  cgroups_.insert(id);
  return id;
}

std::size_t Kernel::cgroup_members(int cgroup) const {
  std::size_t n = 0;
  for (const auto& [pid, p] : procs_) n += p.cgroup == cgroup && !p.zombie;
  return n;
}

bool Kernel::remove_cgroup(int cgroup) {
  if (cgroup_members(cgroup) != 0) return false;  // EBUSY
  cgroups_.erase(cgroup);
  return true;
}

}  // namespace lifeline::sim
