// The seam between the core and the world. Every port is small and completion-based:
// the core never blocks and never owns a thread. Contract for every implementation:
// a completion callback is never invoked from inside the call that registered it (it
// is delivered later, on the core's thread), so core code may register a callback and
// then keep mutating its own state without re-entrancy surprises.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.hpp"

namespace lifeline {

using Millis = std::int64_t;    // a duration or a monotonic instant, in milliseconds
using WallMs = std::int64_t;    // milliseconds since the Unix epoch, shown to clients
using TimerId = std::uint64_t;  // 0 never names a timer
using ChildId = std::uint64_t;  // one incarnation of a child process; never reused by a port
using ConnId = std::uint64_t;   // one client connection; never reused by a transport

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Millis now() const = 0;       // monotonic
  virtual WallMs wall_now() const = 0;  // for timestamps only, never for deadlines
  virtual TimerId after(Millis delay, std::function<void()> fn) = 0;
  // A timer that has not expired will not fire. One whose deadline has passed may
  // already be queued and still fire (Asio's semantics): callbacks re-validate.
  virtual void cancel(TimerId id) = 0;  // unknown or already fired: no-op
};

// Randomness is a port so that the simulator can seed it.
class Random {
 public:
  virtual ~Random() = default;
  virtual std::uint64_t next() = 0;
};

enum class LogLevel { debug, info, warn, error };

class Log {
 public:
  virtual ~Log() = default;
  virtual void write(LogLevel level, std::string_view message) = 0;
};

// ---------------------------------------------------------------- processes

enum class Signal { hup, term, kill };
// Whom one signal reaches (docs/DESIGN.md rule 6), chosen by the core's ChildSupervisor
// and carried out by the shell: the child alone (through its pidfd); its process group;
// or its group and its whole containment (cgroup.kill), which only a KILL uses, because
// a cgroup cannot be sent any other signal.
enum class Scope { process, group, containment };
enum class ChildKind { slash, pty };

struct SpawnSpec {
  ChildKind kind = ChildKind::slash;
  std::vector<std::string> argv;
  std::string session_id;  // names the containment (cgroup) the child lives in
  int cols = 0;            // pty only
  int rows = 0;            // pty only
};

struct SpawnResult {
  bool ok = false;
  ChildId child = 0;
  int pid = 0;
  int pgid = 0;
  std::string error;  // when !ok: what failed (e.g. "exec: No such file or directory")
};

// Events a ProcessControl delivers to the core, on the core's thread.
class ProcessEvents {
 public:
  virtual ~ProcessEvents() = default;
  // Bytes the child wrote: a slash worker's stdout, or a PTY master's output.
  virtual void on_child_output(ChildId child, std::string_view bytes) = 0;
  // The child has exited (observed, e.g. pidfd readable) but is NOT reaped yet: its
  // PID and process group id stay reserved until the core calls reap().
  // status: the exit code, or 128 + signal number when killed by a signal.
  virtual void on_child_exit(ChildId child, int status) = 0;
};

class ProcessControl {
 public:
  virtual ~ProcessControl() = default;
  virtual void set_events(ProcessEvents* events) = 0;
  // Completes later with a handle or an error. The child is born in a new process
  // group/session, holding only stdin, stdout, stderr and its lifeline.
  virtual void spawn(const SpawnSpec& spec, std::function<void(SpawnResult)> done) = 0;
  // Only valid before reap(). Scope::containment only with Signal::kill.
  virtual void signal(ChildId child, Signal sig, Scope scope) = 0;
  // Collect the zombie. Only valid after on_child_exit(child).
  virtual void reap(ChildId child) = 0;
  // Close every fd held for the child (pipes, PTY master). Valid once, after reap().
  virtual void release(ChildId child) = 0;
  // Write to the child's stdin or PTY master. False when the write failed.
  virtual bool write(ChildId child, std::string_view bytes) = 0;
  // Bytes accepted by write() that the child has not read yet (queued in the shell or in
  // a pipe): the fact --max-pending-input-bytes is judged on (docs/DESIGN.md rule 12).
  virtual std::int64_t unwritten(ChildId child) const = 0;
  virtual void resize(ChildId child, int cols, int rows) = 0;
  // Stop (true) or resume (false) reading the child's output: a terminal whose client
  // is backed up waits in its PTY (the shell blocks) instead of in our memory.
  virtual void pause_output(ChildId child, bool paused) = 0;
  virtual int gateway_pgid() const = 0;
  virtual std::int64_t open_fds() const = 0;
  // How escapees are contained, for gateway.stats.containment: at least
  // {"escapees": "process-group ..." or "cgroup v2 (...)"}, and what else applies
  // (terminal supervision, the ledger, cgroup limits and why some do not apply).
  virtual Json containment() const { return {{"escapees", "process-group"}}; }
};

// ---------------------------------------------------------------- transport

// The core tells the transport what to send; the transport tells the core (through
// Gateway::on_connect/on_message/on_disconnect) what arrived. Sending to or closing a
// connection that is already gone is a no-op.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual void send(ConnId conn, std::string text) = 0;
  virtual void close(ConnId conn) = 0;
};

// ---------------------------------------------------------------- store

// A shared store's answer to "who serves this history now" (docs/DESIGN.md rule 15): the
// open session continuing a key, the instance running it, and whether that instance's
// lease is current by the store's clock.
struct SessionHolder {
  std::string session_id;
  std::string instance;
  bool lease_current = false;
};

struct SessionRecord {
  std::string session_id;
  std::string session_key;
  std::string title;
  bool close_on_disconnect = true;
  WallMs created_at = 0;
  std::optional<std::string> end_reason;  // set once the session was finalized
  // Shared stores' find_session only: the open session of this key, if any (this one or
  // a later one continuing it). Unshared stores leave it empty.
  std::optional<SessionHolder> holder;
};

struct LeaseRenewal {
  bool renewed = false;   // false: another gateway holds a current lease under this name
  bool was_lost = false;  // a takeover ended this instance's sessions since the last renewal
};

struct Claim {
  bool won = false;                     // rec is now the one open session of its key
  std::optional<SessionHolder> holder;  // when not won: who holds the key instead
};

struct HistoryEntry {
  std::int64_t seq = 0;  // assigned by the store, per session key, from 1
  WallMs at = 0;
  std::string command;
  bool ok = false;
  std::string text;  // output when ok, error otherwise
};

// session.history's question (docs/PROTOCOL.md): the newest `limit` entries before
// `before_seq` (none: the very newest), at most max_bytes of them (HistoryPager).
struct HistoryQuery {
  std::int64_t limit = 1000;
  std::optional<std::int64_t> before_seq;
  std::int64_t max_bytes = 4 << 20;
};

struct HistoryPage {
  std::vector<HistoryEntry> entries;  // oldest first
  bool more = false;                  // older entries remain
};

template <typename T>
struct StoreReply {
  bool ok = false;  // false: the store failed (I/O error, full disk, ...)
  T value{};
};

// Each completion fires once the operation is durable (or has failed). Operations
// complete in the order they were issued.
class Store {
 public:
  virtual ~Store() = default;
  virtual void record_start(const SessionRecord& rec, std::function<void(bool ok)> done) = 0;
  virtual void record_end(const std::string& session_id, const std::string& reason, WallMs at,
                          std::function<void(bool ok)> done) = 0;
  virtual void append(const std::string& session_key, HistoryEntry entry,
                      std::function<void(StoreReply<std::int64_t> seq)> done) = 0;
  virtual void find_session(const std::string& session_id,
                            std::function<void(StoreReply<std::optional<SessionRecord>>)> done) = 0;
  virtual void history(const std::string& session_key, const HistoryQuery& query,
                       std::function<void(StoreReply<HistoryPage>)> done) = 0;

  // ---- Shared stores only (docs/DESIGN.md rule 15). A store is shared when a fleet of
  // gateways uses it at once; the core calls what follows only when shared() says so.
  virtual bool shared() const { return false; }
  // Renews `instance`'s lease to the store's clock + ttl, or takes it when free or
  // expired. Fails to renew (renewed false) when another holder's lease under the same
  // name is current.
  virtual void renew_lease(const std::string& instance, Millis ttl,
                           std::function<void(StoreReply<LeaseRenewal>)> done);
  // In one transaction: when `lost_owner` is given and its lease has expired, ends every
  // open session of that instance (`instance_lost`, at `at`) and marks its lease lost;
  // ends the claimant's own open rows of the key (stale: the core has no live session of
  // it); then records rec's start as the one open session of its key, unless another
  // holds the key (that holder is returned instead). Exactly one claimant wins a key.
  virtual void claim(const SessionRecord& rec, const std::optional<std::string>& lost_owner,
                     WallMs at, std::function<void(StoreReply<Claim>)> done);
};

// ---------------------------------------------------------------- recovery (rule 8)

// The persistent registry of every child the gateway spawned: one row per child from
// spawn to release, so that a SIGKILLed gateway's successor can find what it left.
struct LedgerRow {
  int pid = 0;
  std::uint64_t start_ticks = 0;  // /proc/<pid>/stat field 22: with pid, one incarnation
  int pgid = 0;
  std::string cgroup;  // "" when none
};

// Facts about the process table, as the shell sees them now (docs/DESIGN.md rule 13): the
// runtime reads /proc, the simulator its kernel. The core decides; the shell acts.
struct ProcessFacts {
  int pid = 0;
  int pgid = 0;
  std::uint64_t start_ticks = 0;
  bool zombie = false;
};

class ProcessTable {
 public:
  virtual ~ProcessTable() = default;
  virtual std::optional<ProcessFacts> find(int pid) const = 0;
  virtual std::vector<int> children_of(int pid) const = 0;
  virtual std::vector<int> group_members(int pgid) const = 0;  // zombies included or not
};

// ---------------------------------------------------------------- worker side

// Who the worker's parent is. start_ticks: the parent's start time in clock ticks as
// the kernel reports it (exact integer, no wall-clock conversion), 0 when unknown.
struct ParentIdentity {
  int pid = 0;
  std::uint64_t start_ticks = 0;
};

class ParentProbe {
 public:
  virtual ~ParentProbe() = default;
  virtual ParentIdentity parent() = 0;
};

// OS services the worker's built-in commands need. Implemented by the runtime (real)
// and the simulator.
class WorkerHost {
 public:
  virtual ~WorkerHost() = default;
  virtual void write_stdout(std::string_view bytes) = 0;
  virtual std::string describe_process() = 0;                    // /pid
  virtual std::string list_fds() = 0;                            // /fds
  virtual std::string spawn_background(int n, bool setsid) = 0;  // /spawn; "" on success
  // Kill the worker's own group and containment (escapees included), then exit.
  virtual void exit_with_containment(int code) = 0;
  virtual void exit_without_containment(int code) = 0;  // /exit: the process alone
  virtual void crash() = 0;                             // /crash: die by a signal
};

}  // namespace lifeline
