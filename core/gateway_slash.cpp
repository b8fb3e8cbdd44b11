// slash.exec and session.reset: the per-session command FIFO, on-demand worker spawn
// behind the attach guard, timeouts, durable-before-acknowledged transcript entries.

#include "core/assert.hpp"
#include "core/base64.hpp"
#include "core/byte_budget.hpp"
#include "core/gateway.hpp"
#include "core/params.hpp"
#include "core/worker_protocol.hpp"

namespace lifeline {

namespace {
std::string trim(std::string_view s) {
  auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}
}  // namespace

void Gateway::rpc_exec(const ReplyTo& to, const Json& params) {
  Params p(params, {"session_id", "command"});
  std::string id = p.required_string("session_id");
  std::string command = p.required_string("command", /*allow_empty=*/true);
  if (!p.ok()) return reply_error(to, rpc::invalid_params, p.error());
  SessionPtr s = find_session(id);
  if (!s) return reply_error(to, rpc::session_not_found, "session not found");
  if (refuse_if_revoked(to, *s)) return;
  command = trim(command);
  if (command.empty()) return reply_error(to, rpc::empty_command, "empty command");
  if (command.find('\n') != std::string::npos)
    return reply_error(to, rpc::invalid_params, "invalid params: 'command' must be one line");
  std::int64_t queued = static_cast<std::int64_t>(s->queue.size()) + (s->in_flight ? 1 : 0);
  if (queued >= config_.max_queued_commands)
    return reply_error(to, rpc::limit_reached, "limit reached: queued commands");
  // mutant: queued-commands-are-unbounded-in-bytes
  if (!within_bound(s->queued_bytes(), command.size(), config_.max_pending_input_bytes))
    return reply_error(to, rpc::input_limit,
                       "input limit: the session's queued commands would pass "
                       "--max-pending-input-bytes");
  touch(*s);
  // mutant: queue-runs-newest-first
  s->queue.push_back(PendingCommand{to, std::move(command)});
  pump(s);
}

void Gateway::rpc_reset(const ReplyTo& to, const Json& params) {
  SessionPtr s = only_session_param(to, params);
  if (!s) return;
  if (static_cast<std::int64_t>(s->reset_waiters.size()) >= config_.max_queued_commands)
    return reply_error(to, rpc::limit_reached, "limit reached: pending resets");
  touch(*s);
  fail_in_flight(*s, rpc::worker_exited, "worker restarted during the command");
  drop_worker(*s);
  s->reset_waiters.push_back(to);
  // A spawn already in flight is superseded: its completion no longer matches the
  // ticket and is torn down by the attach guard.
  provide_worker(s);
}

void Gateway::pump(const SessionPtr& s) {
  if (s->finalized || s->in_flight || s->queue.empty()) return;
  if (!s->worker) {
    if (s->spawn_ticket == 0) provide_worker(s);
    return;  // a pooled worker's attach_worker pumped already
  }
  auto cmd = std::make_shared<InFlightCommand>();
  cmd->cmd = std::move(s->queue.front());
  s->queue.pop_front();
  cmd->request_id = next_request_id_++;
  s->in_flight = cmd;
  std::string line = worker_protocol::encode_request(
      {static_cast<std::int64_t>(cmd->request_id), cmd->cmd.command});
  if (!proc_.write(*s->worker, line)) {
    log_.write(LogLevel::warn, "session " + s->id + ": writing to the worker failed");
    fail_in_flight(*s, rpc::worker_exited, "worker exited during the command");
    drop_worker(*s);
    pump(s);
    return;
  }
  cmd->timeout = clock_.after(config_.slash_timeout,
                              [this, id = s->id, weak = std::weak_ptr(s), rid = cmd->request_id] {
                                on_command_timeout(id, weak, rid);
                              });
}

void Gateway::provide_worker(const SessionPtr& s) {
  if (take_pooled(s)) return;
  std::uint64_t ticket = next_ticket_++;
  s->spawn_ticket = ticket;
  SpawnSpec spec;
  spec.kind = ChildKind::slash;
  spec.argv = {config_.worker_cmd, "--session-key", s->key};
  spec.session_id = s->id;
  ++spawns_in_flight_;
  proc_.spawn(spec, [this, id = s->id, weak = std::weak_ptr(s), ticket](const SpawnResult& r) {
    LIFELINE_ASSERT(spawns_in_flight_ > 0);
    --spawns_in_flight_;
    on_worker_spawned(id, weak, ticket, r);
    maybe_finish_shutdown();
  });
}

void Gateway::on_worker_spawned(const std::string& id, const std::weak_ptr<Session>& weak,
                                std::uint64_t ticket, const SpawnResult& r) {
  SessionPtr s = weak.lock();
  // mutant: c2-a-late-spawn-is-attached-without-its-guard
  // mutant: a-spawn-started-before-a-reset-is-attached
  bool wanted = s && still_mapped(id, s.get()) && s->spawn_ticket == ticket;
  if (!r.ok) {
    ++counters_.spawn_failures;
    log_.write(LogLevel::error, "session " + id + ": worker failed to start: " + r.error);
    if (!wanted) return;
    s->spawn_ticket = 0;
    // mutant: spawn-failure-answers-one
    for (auto& cmd : s->queue)
      reply_error(cmd.reply, rpc::worker_spawn_failed, "worker failed to start", r.error);
    s->queue.clear();
    for (auto& w : s->reset_waiters)
      reply_error(w, rpc::worker_spawn_failed, "worker failed to start", r.error);
    s->reset_waiters.clear();
    return;
  }
  // Owned from this instant, whatever happens next.
  children_.adopt(ChildInfo{r.child, ChildKind::slash, r.pid, r.pgid, id, "", clock_.wall_now()});
  if (!wanted) {
    // docs/DESIGN.md rule 2: the session is gone, or a newer spawn superseded this one.
    log_.write(LogLevel::info, "session " + id + ": worker pid " + std::to_string(r.pid) +
                                   " arrived after it stopped being wanted; tearing it down");
    terminate_child(r.child);
    return;
  }
  attach_worker(s, r.child, r.pid);
}

void Gateway::attach_worker(const SessionPtr& s, ChildId child, int pid) {
  LIFELINE_ASSERT(!s->worker);
  LIFELINE_ASSERT(!s->finalized);
  s->spawn_ticket = 0;  // a spawn still in flight is no longer wanted (rule 2)
  s->worker = child;
  s->worker_lines = LineBuffer(static_cast<std::size_t>(config_.max_message_bytes));
  for (auto& w : s->reset_waiters) reply(w, {{"restarted", true}, {"worker_pid", pid}});
  s->reset_waiters.clear();
  pump(s);
}

void Gateway::on_child_output(ChildId child, std::string_view bytes) {
  const ChildInfo* info = children_.find(child);
  if (!info || children_.terminating(child)) return;  // late output of a dying child
  SessionPtr s = find_session(info->session_id);
  if (!s) return;
  if (info->kind == ChildKind::pty) {
    // Kept for a later attach whether or not anyone is connected (rule 16): a detached
    // terminal is still read, so its program never blocks on a gone client.
    auto record = s->terminals.find(info->pty_id);
    if (record == s->terminals.end()) return;
    // mutant: the-output-offset-is-taken-after-the-append
    std::uint64_t offset = record->second.ring.end();
    record->second.ring.append(bytes);
    if (reachable(*s))
      transport_.send(*s->conn,
                      rpc::event_with_base64("pty.output", &s->id,
                                             {{"pty_id", info->pty_id}, {"offset", offset}}, "data",
                                             base64::encode(bytes)));
    return;
  }
  if (s->worker != child) return;
  std::vector<std::string> lines;
  if (!s->worker_lines.feed(bytes, lines)) {
    log_.write(LogLevel::warn, "session " + s->id + ": worker wrote an over-long line; restarting");
    fail_in_flight(*s, rpc::worker_exited, "worker sent an over-long reply");
    drop_worker(*s);
    pump(s);
    return;
  }
  for (const auto& line : lines) {
    if (s->finalized || s->worker != child) break;
    on_worker_line(s, line);
  }
}

void Gateway::on_worker_line(const SessionPtr& s, std::string_view line) {
  auto reply = worker_protocol::decode_reply(line);
  if (!reply) {
    log_.write(LogLevel::warn, "session " + s->id + ": ignoring malformed worker line");
    return;
  }
  auto cmd = s->in_flight;
  if (!cmd || cmd->storing || !reply->id ||
      *reply->id != static_cast<std::int64_t>(cmd->request_id)) {
    if (!reply->id && cmd && !cmd->storing) {
      // The worker could not read what we sent it: that is our bug, not the client's.
      fail_in_flight(*s, rpc::internal_error, "worker could not parse the request");
      pump(s);
      return;
    }
    log_.write(LogLevel::warn, "session " + s->id + ": ignoring a worker reply nobody awaits");
    return;
  }
  if (cmd->timeout) {
    clock_.cancel(cmd->timeout);
    cmd->timeout = 0;
  }
  finish_command(s, cmd, reply->ok, std::move(reply->text));
}

void Gateway::finish_command(const SessionPtr& s, const std::shared_ptr<InFlightCommand>& cmd,
                             bool ok, std::string text) {
  cmd->storing = true;
  HistoryEntry entry{0, clock_.wall_now(), cmd->cmd.command, ok, text};
  // Acknowledged only once durable: the reply waits for the store.
  store_.append(s->key, entry,
                [this, weak = std::weak_ptr(s), cmd, ok, text](StoreReply<std::int64_t> r) {
                  if (!cmd->answered) {
                    cmd->answered = true;
                    // docs/PROTOCOL.md's {output}, always there; a command that ran and
                    // failed also says so (ok:false, error) without being an RPC error.
                    Json result = {{"output", text}, {"ok", ok}};
                    if (!ok) result["error"] = text;
                    // mutant: a-result-the-store-refused-is-acknowledged
                    if (r.ok) {
                      result["seq"] = r.value;
                      reply(cmd->cmd.reply, std::move(result));
                    } else {
                      result["ran"] = true;
                      reply_error(cmd->cmd.reply, rpc::store_unavailable,
                                  "store unavailable: the command ran but its result was not "
                                  "stored",
                                  result);
                    }
                  }
                  SessionPtr live = weak.lock();
                  if (!live || live->in_flight != cmd) return;
                  live->in_flight.reset();
                  touch(*live);
                  pump(live);
                });
}

void Gateway::on_command_timeout(const std::string& id, const std::weak_ptr<Session>& weak,
                                 std::uint64_t request_id) {
  SessionPtr s = weak.lock();
  if (!s || !still_mapped(id, s.get())) return;
  if (!s->in_flight || s->in_flight->request_id != request_id || s->in_flight->storing) return;
  s->in_flight->timeout = 0;
  log_.write(LogLevel::warn, "session " + id + ": command timed out; restarting the worker");
  fail_in_flight(*s, rpc::worker_timed_out, "worker timed out");
  // docs/DESIGN.md rule 17: a worker stuck in a command cannot take the next one, and the
  // next one starts a fresh worker now, not when the stuck one has died.
  // mutant: timeout-keeps-stuck-worker
  // mutant: timeout-forgets-queue
  drop_worker(*s);
  pump(s);
}

void Gateway::fail_in_flight(Session& s, int code, std::string_view message) {
  auto cmd = s.in_flight;
  if (!cmd || cmd->storing) return;  // the store's completion answers a storing command
  if (cmd->timeout) {
    clock_.cancel(cmd->timeout);
    cmd->timeout = 0;
  }
  if (!cmd->answered) {
    cmd->answered = true;
    reply_error(cmd->cmd.reply, code, message);
  }
  s.in_flight.reset();
}

void Gateway::terminate_child(ChildId child) {
  children_.terminate(child, [this] { maybe_finish_shutdown(); });
}

void Gateway::drop_worker(Session& s) {
  if (!s.worker) return;
  ChildId child = *s.worker;
  s.worker.reset();
  s.worker_lines.clear();
  terminate_child(child);
}

void Gateway::on_child_exit(ChildId child, int status) {
  const ChildInfo* found = children_.find(child);
  if (!found) {
    log_.write(LogLevel::warn, "exit of unknown child " + std::to_string(child));
    return;
  }
  ChildInfo info = *found;
  if (children_.on_exit(child, status) != ChildSupervisor::ExitOutcome::died_on_its_own) return;
  // mutant: a-pooled-worker-that-dies-is-never-reaped
  if (on_pooled_exit(info, status)) return terminate_child(child);
  SessionPtr s = find_session(info.session_id);
  if (s && info.kind == ChildKind::slash && s->worker == child) {
    on_worker_died(s, child, status);
  } else if (s && info.kind == ChildKind::pty && s->ptys.count(info.pty_id)) {
    s->ptys.erase(info.pty_id);
    keep_exited_terminal(*s, info.pty_id, status);
    log_.write(LogLevel::info, "session " + s->id + ": terminal " + info.pty_id + " (pid " +
                                   std::to_string(info.pid) + ") exited with status " +
                                   std::to_string(status));
    emit(*s, "pty.exit", {{"pty_id", info.pty_id}, {"status", status}});
  }
  terminate_child(child);  // exited already: kills group leftovers, reaps, releases
}

void Gateway::on_worker_died(const SessionPtr& s, ChildId child, int status) {
  const ChildInfo* info = children_.find(child);
  log_.write(LogLevel::warn, "session " + s->id + ": worker pid " +
                                 std::to_string(info ? info->pid : 0) + " exited with status " +
                                 std::to_string(status));
  emit(*s, "worker.exit", {{"pid", info ? info->pid : 0}, {"status", status}});
  // mutant: a-session-keeps-its-dead-workers-handle
  fail_in_flight(*s, rpc::worker_exited, "worker exited during the command");
  s->worker.reset();
  s->worker_lines.clear();
  // mutant: dead-worker-strands-queue
  pump(s);  // queued commands start a fresh worker
}

}  // namespace lifeline
