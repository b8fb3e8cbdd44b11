// One client session as the core sees it. Owned by the SessionRegistry while live;
// callbacks that outlive the registry entry hold a weak or shared reference and must
// check identity (docs/DESIGN.md rule 2) before touching the world on its behalf.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/line_buffer.hpp"
#include "core/ports.hpp"
#include "core/terminal_replay.hpp"

namespace lifeline {

enum class EndReason {
  client_close,
  ws_disconnect,
  orphan_grace,
  idle_timeout,
  lru_evict,
  shutdown,
  lease_lost,  // this gateway's lease on a shared store lapsed or was taken (rule 15)
};
inline constexpr int end_reason_count = 7;
// Tied to the enum: a new reason must raise the count (gateway.stats and /metrics index
// their per-reason counters by it).
static_assert(static_cast<int>(EndReason::lease_lost) + 1 == end_reason_count);
const char* to_string(EndReason reason);

// Where to send the answer to one request.
struct ReplyTo {
  ConnId conn = 0;
  Json id;
  bool notification = false;
  std::string_view method;  // a key of the dispatcher's table (static), for /metrics
  Millis started = 0;       // when the request arrived (monotonic)
};

struct PendingCommand {
  ReplyTo reply;
  std::string command;
};

struct InFlightCommand {
  PendingCommand cmd;
  std::uint64_t request_id = 0;  // the id sent to the worker
  TimerId timeout = 0;
  bool storing = false;   // the worker answered; waiting for the store to make it durable
  bool answered = false;  // the client got its reply (or an error)
};

enum class SessionStatus { idle, working, starting, detached };
const char* to_string(SessionStatus status);

// A terminal as pty.list and pty.attach show it (docs/PROTOCOL.md).
struct TerminalRecord {
  int cols = 0;
  int rows = 0;
  WallMs started_at = 0;
  std::uint64_t order = 0;         // opening order, for a stable listing
  std::optional<int> exit_status;  // set once its command ended
  ReplayRing ring{0};
};

struct Session {
  std::string id;
  std::string key;
  std::string title;
  std::uint64_t seq = 0;  // creation order, for stable listings
  bool close_on_disconnect = true;
  WallMs created_at = 0;
  WallMs last_active_at = 0;
  Millis created_mono = 0;
  Millis last_active_mono = 0;

  std::optional<ConnId> conn;  // none: detached
  bool finalized = false;
  TimerId grace_timer = 0;

  // The slash worker.
  std::optional<ChildId> worker;
  std::uint64_t spawn_ticket = 0;  // non-zero while a worker spawn is in flight
  std::vector<ReplyTo> reset_waiters;
  std::deque<PendingCommand> queue;
  std::shared_ptr<InFlightCommand> in_flight;
  LineBuffer worker_lines{0};  // re-made with the message cap when a worker attaches

  // Terminals: the live ones' children, and what a client can list and attach to (live
  // ones and the last that exited, docs/DESIGN.md rule 16).
  std::map<std::string, ChildId> ptys;
  std::map<std::string, TerminalRecord> terminals;
  int pty_spawns_pending = 0;

  // Bytes of the commands waiting (docs/DESIGN.md rule 12: bounded by
  // --max-pending-input-bytes). Derived, so that no path can let it drift.
  std::int64_t queued_bytes() const {
    std::int64_t n = 0;
    for (const auto& c : queue) n += static_cast<std::int64_t>(c.command.size());
    return n;
  }

  // Busy: a command running or waiting, or a child still starting. The one definition
  // every "not while busy" rule (grace re-arm, idle reaper, LRU) uses.
  bool busy() const {
    bool running = in_flight != nullptr;
    bool pending_input = !queue.empty();
    bool worker_starting = spawn_ticket != 0;
    bool terminal_starting = pty_spawns_pending > 0;
    return running || pending_input || worker_starting || terminal_starting;
  }
  SessionStatus status() const {
    if (!conn) return SessionStatus::detached;
    if (spawn_ticket != 0) return SessionStatus::starting;
    if (in_flight || !queue.empty()) return SessionStatus::working;
    return SessionStatus::idle;
  }
};

using SessionPtr = std::shared_ptr<Session>;

}  // namespace lifeline
