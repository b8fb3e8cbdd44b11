// pty.open / write / resize / close. A terminal is a child like the worker: spawned
// behind the attach guard, torn down through the same escalation (whole group, reap,
// then the master fd closed).
#include <algorithm>

#include "core/assert.hpp"
#include "core/base64.hpp"
#include "core/byte_budget.hpp"
#include "core/gateway.hpp"
#include "core/params.hpp"

namespace lifeline {

namespace {
std::vector<std::string> split_words(const std::string& cmd) {
  std::vector<std::string> out;
  std::string word;
  for (char c : cmd) {
    if (c == ' ' || c == '\t') {
      if (!word.empty()) out.push_back(std::move(word));
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}
constexpr std::int64_t max_dimension = 10000;
}  // namespace

void Gateway::rpc_pty_open(const ReplyTo& to, const Json& params) {
  Params p(params, {"session_id", "cols", "rows"});
  std::string id = p.required_string("session_id");
  int cols = static_cast<int>(p.required_int("cols", 1, max_dimension));
  int rows = static_cast<int>(p.required_int("rows", 1, max_dimension));
  if (!p.ok()) return reply_error(to, rpc::invalid_params, p.error());
  SessionPtr s = find_session(id);
  if (!s) return reply_error(to, rpc::session_not_found, "session not found");
  if (refuse_if_revoked(to, *s)) return;
  if (static_cast<std::int64_t>(s->ptys.size()) + s->pty_spawns_pending >=
      config_.max_ptys_per_session)
    return reply_error(to, rpc::limit_reached, "limit reached: terminals per session");
  if (static_cast<std::int64_t>(children_.count(ChildKind::pty)) + ptys_starting_ >=
      config_.max_ptys)
    return reply_error(to, rpc::limit_reached, "limit reached: terminals in all (--max-ptys)");
  SpawnSpec spec;
  spec.kind = ChildKind::pty;
  spec.argv = split_words(config_.pty_cmd);
  if (spec.argv.empty()) spec.argv = {"/bin/sh"};
  spec.session_id = s->id;
  spec.cols = cols;
  spec.rows = rows;
  touch(*s);
  ++s->pty_spawns_pending;
  ++spawns_in_flight_;
  ++ptys_starting_;
  proc_.spawn(spec, [this, id, weak = std::weak_ptr(s), to, spec](const SpawnResult& r) {
    LIFELINE_ASSERT(spawns_in_flight_ > 0);
    LIFELINE_ASSERT(ptys_starting_ > 0);
    --spawns_in_flight_;
    --ptys_starting_;
    on_pty_spawned(id, weak, to, spec, r);
    maybe_finish_shutdown();
  });
}

void Gateway::on_pty_spawned(const std::string& id, const std::weak_ptr<Session>& weak,
                             const ReplyTo& to, const SpawnSpec& spec, const SpawnResult& r) {
  SessionPtr s = weak.lock();
  if (s) {
    LIFELINE_ASSERT(s->pty_spawns_pending > 0);
    --s->pty_spawns_pending;
  }
  bool wanted = s && still_mapped(id, s.get());
  if (!r.ok) {
    ++counters_.spawn_failures;
    log_.write(LogLevel::error, "session " + id + ": terminal failed to start: " + r.error);
    return reply_error(to, rpc::worker_spawn_failed, "terminal failed to start", r.error);
  }
  std::string pty_id = new_id("p", 1);
  while (pty_owner_.count(pty_id)) pty_id = new_id("p", 1);
  children_.adopt(ChildInfo{r.child, ChildKind::pty, r.pid, r.pgid, id, pty_id, clock_.wall_now()});
  if (!wanted) {
    terminate_child(r.child);
    return reply_error(to, rpc::session_not_found, "session closed while the terminal started");
  }
  s->ptys[pty_id] = r.child;
  pty_owner_[pty_id] = id;
  TerminalRecord& record = s->terminals[pty_id];
  record.cols = spec.cols;
  record.rows = spec.rows;
  record.started_at = clock_.wall_now();
  record.order = ++terminal_order_;
  record.ring = ReplayRing(static_cast<std::size_t>(config_.pty_replay_bytes));
  // The audit trail of shells: who opened which, as which process (the runtime logs
  // each connection's peer address when it connects).
  log_.write(LogLevel::info, "session " + id + ": terminal " + pty_id + " opened (pid " +
                                 std::to_string(r.pid) + ") by " + who(to.conn));
  sync_output_pause(*s);
  reply(to, {{"pty_id", pty_id}});
}

void Gateway::sync_output_pause(const Session& s) {
  auto conn = s.conn ? connections_.find(*s.conn) : connections_.end();
  bool paused = conn != connections_.end() && conn->second.backed_up;
  for (const auto& [pty_id, child] : s.ptys) proc_.pause_output(child, paused);
}

void Gateway::on_backpressure(ConnId conn, bool backed_up) {
  auto it = connections_.find(conn);
  if (it == connections_.end() || it->second.backed_up == backed_up) return;
  it->second.backed_up = backed_up;
  log_.write(LogLevel::info, "connection " + std::to_string(conn) +
                                 (backed_up ? " is backed up: pausing its terminals"
                                            : " drained: resuming its terminals"));
  // mutant: backpressure-never-pauses
  for (const auto& id : it->second.sessions)
    if (SessionPtr s = find_session(id)) sync_output_pause(*s);
}

Gateway::PtyRef Gateway::find_pty(const std::string& pty_id) const {
  SessionPtr s = terminal_owner(pty_id);
  if (!s) return {};
  auto it = s->ptys.find(pty_id);
  if (it == s->ptys.end()) return {};
  return {std::move(s), it->second};
}

void Gateway::rpc_pty_write(const ReplyTo& to, const Json& params) {
  Params p(params, {"pty_id", "data"});
  std::string pty_id = p.required_string("pty_id");
  std::string data = p.required_string("data", /*allow_empty=*/true);
  if (!p.ok()) return reply_error(to, rpc::invalid_params, p.error());
  auto bytes = base64::decode(data);
  if (!bytes) return reply_error(to, rpc::invalid_params, "invalid params: 'data' is not base64");
  PtyRef pty = find_pty(pty_id);
  if (!pty.session) return reply_error(to, rpc::pty_not_found, "pty not found");
  if (refuse_if_revoked(to, *pty.session)) return;
  // A shell that does not read its input must not make us hold gigabytes for it: a
  // write that would pass the bound is refused whole, never half-written.
  // mutant: terminal-input-is-unbounded-in-bytes
  if (!within_bound(proc_.unwritten(pty.child), bytes->size(), config_.max_pending_input_bytes))
    return reply_error(to, rpc::input_limit,
                       "input limit: the terminal has not read what it was sent "
                       "(--max-pending-input-bytes)");
  touch(*pty.session);
  if (!bytes->empty() && !proc_.write(pty.child, *bytes))
    return reply_error(to, rpc::internal_error, "writing to the terminal failed");
  reply(to, Json::object());
}

void Gateway::rpc_pty_resize(const ReplyTo& to, const Json& params) {
  Params p(params, {"pty_id", "cols", "rows"});
  std::string pty_id = p.required_string("pty_id");
  int cols = static_cast<int>(p.required_int("cols", 1, max_dimension));
  int rows = static_cast<int>(p.required_int("rows", 1, max_dimension));
  if (!p.ok()) return reply_error(to, rpc::invalid_params, p.error());
  PtyRef pty = find_pty(pty_id);
  if (!pty.session) return reply_error(to, rpc::pty_not_found, "pty not found");
  if (refuse_if_revoked(to, *pty.session)) return;
  touch(*pty.session);
  proc_.resize(pty.child, cols, rows);
  TerminalRecord& record = pty.session->terminals.at(pty_id);
  record.cols = cols;
  record.rows = rows;
  reply(to, Json::object());
}

void Gateway::rpc_pty_close(const ReplyTo& to, const Json& params) {
  Params p(params, {"pty_id"});
  std::string pty_id = p.required_string("pty_id");
  if (!p.ok()) return reply_error(to, rpc::invalid_params, p.error());
  PtyRef pty = find_pty(pty_id);
  if (!pty.session) {
    // An exited terminal's record goes too: the client has seen its status.
    SessionPtr s = terminal_owner(pty_id);
    if (s && refuse_if_revoked(to, *s)) return;
    if (s) forget_terminal(*s, pty_id);
    return reply(to, {{"closed", false}});
  }
  if (refuse_if_revoked(to, *pty.session)) return;
  pty.session->ptys.erase(pty_id);
  forget_terminal(*pty.session, pty_id);
  touch(*pty.session);
  log_.write(LogLevel::info,
             "session " + pty.session->id + ": terminal " + pty_id + " closed by " + who(to.conn));
  terminate_child(pty.child);
  reply(to, {{"closed", true}});
}

SessionPtr Gateway::terminal_owner(const std::string& pty_id) const {
  auto owner = pty_owner_.find(pty_id);
  return owner == pty_owner_.end() ? nullptr : find_session(owner->second);
}

// What pty.list shows of a terminal, and pty.attach begins with.
Json Gateway::describe_terminal(const std::string& pty_id, const TerminalRecord& t) {
  Json row = {{"pty_id", pty_id},
              {"cols", t.cols},
              {"rows", t.rows},
              {"started_at", t.started_at},
              {"exited", t.exit_status.has_value()}};
  if (t.exit_status) row["status"] = *t.exit_status;
  return row;
}

void Gateway::forget_terminal(Session& s, const std::string& pty_id) {
  s.terminals.erase(pty_id);
  pty_owner_.erase(pty_id);
}

void Gateway::keep_exited_terminal(Session& s, const std::string& pty_id, int status) {
  auto record = s.terminals.find(pty_id);
  LIFELINE_ASSERT(record != s.terminals.end());
  LIFELINE_ASSERT(!record->second.exit_status);
  record->second.exit_status = status;
  exited_terminals_.emplace_back(s.id, pty_id);
  // mutant: exited-terminals-are-kept-without-bound
  while (static_cast<std::int64_t>(exited_terminals_.size()) > config_.max_ptys) {
    auto [session_id, oldest] = exited_terminals_.front();
    exited_terminals_.pop_front();
    SessionPtr owner = find_session(session_id);
    if (!owner) continue;  // ended since: its records went with it
    auto it = owner->terminals.find(oldest);
    if (it != owner->terminals.end() && it->second.exit_status) forget_terminal(*owner, oldest);
  }
}

// pty.list: every terminal of the session a client can attach to, live or exited.
void Gateway::rpc_pty_list(const ReplyTo& to, const Json& params) {
  SessionPtr s = only_session_param(to, params);
  if (!s) return;
  std::vector<std::pair<std::uint64_t, Json>> rows;
  for (const auto& [pty_id, t] : s->terminals)
    rows.emplace_back(t.order, describe_terminal(pty_id, t));
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  Json list = Json::array();
  for (auto& [order, row] : rows) list.push_back(std::move(row));
  reply(to, {{"terminals", std::move(list)}});
}

// pty.attach: the terminal's kept output, to draw before the live pty.output events that
// follow this answer on the same connection (their offsets continue from `end`).
void Gateway::rpc_pty_attach(const ReplyTo& to, const Json& params) {
  Params p(params, {"pty_id"});
  std::string pty_id = p.required_string("pty_id");
  if (!p.ok()) return reply_error(to, rpc::invalid_params, p.error());
  SessionPtr s = terminal_owner(pty_id);
  auto record = s ? s->terminals.find(pty_id) : decltype(s->terminals.end()){};
  if (!s || record == s->terminals.end())
    return reply_error(to, rpc::pty_not_found, "pty not found");
  if (refuse_if_revoked(to, *s)) return;
  // Its output events go to the session's connection only: attaching elsewhere would
  // draw a screen that then never moves.
  if (s->conn != to.conn)
    return reply_error(to, rpc::session_not_held,
                       "the session is not held by this connection; session.resume it first",
                       Json{{"session_id", s->id}});
  const ReplayRing& ring = record->second.ring;
  Json result = describe_terminal(pty_id, record->second);
  result["begin"] = ring.begin();
  result["end"] = ring.end();
  result["modes"] = base64::encode(ring.modes());
  result["data"] = base64::encode(ring.kept());
  touch(*s);
  reply(to, std::move(result));
}

}  // namespace lifeline
