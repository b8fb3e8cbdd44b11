// The slash worker's brain: reads NDJSON requests, runs them one at a time in arrival
// order, and watches for the gateway's death (docs/DESIGN.md rule 7): lifeline EOF, or a
// parent that is no longer the one it was born under. Once orphaned it drains the
// in-flight command up to the grace, then exits taking its containment with it.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "core/config.hpp"
#include "core/line_buffer.hpp"
#include "core/ports.hpp"
#include "core/worker_protocol.hpp"

namespace lifeline {

inline constexpr std::size_t worker_max_line = 1 << 20;
inline constexpr std::size_t worker_max_queue = 256;

// True when `now` is a different parent than `born`: another pid, or, where both start
// times are known, another start time. An unknown (0) start time never condemns: the
// historical bug killed healthy workers whose parent start time read as zero, and
// clock-converted start times drifted; ticks are compared exactly.
bool parent_changed(const ParentIdentity& born, const ParentIdentity& now);

class WorkerLoop {
 public:
  WorkerLoop(WorkerConfig config, Clock& clock, ParentProbe& probe, WorkerHost& host, Log& log);
  WorkerLoop(const WorkerLoop&) = delete;
  WorkerLoop& operator=(const WorkerLoop&) = delete;
  ~WorkerLoop();

  void start();
  void on_stdin(std::string_view bytes);
  void on_stdin_eof();
  void on_lifeline_eof();

  bool orphaned() const { return orphaned_; }
  bool exited() const { return exited_; }
  bool busy() const { return in_flight_.has_value(); }
  // The session this worker serves: from --session-key, or a pooled worker's bind.
  const std::string& session_key() const { return config_.session_key; }

 private:
  void run_next();
  // A pooled worker's first line binds it (true: the line was consumed as a bind, or
  // refused as one).
  bool bind_or_refuse(const std::string& line);
  void execute(const worker_protocol::Request& req);
  void complete(std::int64_t id, bool ok, std::string text);
  void become_orphan(const std::string& why);
  void poll_parent();
  void exit_with_containment(int code);

  WorkerConfig config_;
  Clock& clock_;
  ParentProbe& probe_;
  WorkerHost& host_;
  Log& log_;
  LineBuffer lines_{worker_max_line};
  std::deque<std::string> queue_;
  std::optional<std::int64_t> in_flight_;
  TimerId command_timer_ = 0;  // /sleep
  TimerId poll_timer_ = 0;
  TimerId grace_timer_ = 0;
  ParentIdentity born_under_;
  bool orphaned_ = false;
  bool stdin_closed_ = false;
  bool exited_ = false;
  bool bound_ = false;  // knows its session: from the start, or a pooled one once bound
};

}  // namespace lifeline
