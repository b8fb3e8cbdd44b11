// Every way a session ends, in one file: the teardown funnel (docs/DESIGN.md rule 1) and each
// path into it (session.close, a disconnect of a close_on_disconnect session, orphan
// grace expiry, the idle reaper, LRU eviction, shutdown), with the binding of sessions
// to connections that decides between them. Reading this file answers "when does a
// session end, and what happens then".
#include "core/assert.hpp"
#include "core/gateway.hpp"

#include <utility>
#include "core/params.hpp"

namespace lifeline {

// ---------------------------------------------------------------- binding

void Gateway::bind(const SessionPtr& s, ConnId conn) {
  LIFELINE_ASSERT(still_mapped(s->id, s.get()));  // only a live session is bound
  LIFELINE_ASSERT(connected(conn));
  if (s->conn == conn) return;
  if (s->conn && connected(*s->conn)) {
    // Takeover (docs/PROTOCOL.md): the connection that held the session is told it no
    // longer does, before anything else reaches the new holder.
    log_.write(LogLevel::info, "session " + s->id + " taken over by connection " +
                                   std::to_string(conn) + " from " + std::to_string(*s->conn));
    // mutant: a-takeover-is-not-announced
    emit(*s, "session.taken_over", Json::object());
    // A takeover revokes: text typed in the old tab must not land in the new holder's
    // shell (docs/DESIGN.md rule 14).
    auto& old = connections_[*s->conn];
    // mutant: a-takeover-leaves-the-old-tab-typing
    old.revoked.insert(s->id);
    if (old.revoked.size() > revoked_prune_at)
      std::erase_if(old.revoked, [this](const std::string& id) { return !registry_.count(id); });
  }
  connections_[conn].revoked.erase(s->id);  // an explicit resume takes it back
  unbind(*s);
  s->conn = conn;
  connections_[conn].sessions.insert(s->id);
  if (s->grace_timer) {
    clock_.cancel(s->grace_timer);
    s->grace_timer = 0;
  }
  sync_output_pause(*s);
}

SessionPtr Gateway::only_session_param(const ReplyTo& to, const Json& params) {
  Params p(params, {"session_id"});
  std::string id = p.required_string("session_id");
  if (!p.ok()) {
    reply_error(to, rpc::invalid_params, p.error());
    return nullptr;
  }
  SessionPtr s = find_session(id);
  if (!s) {
    reply_error(to, rpc::session_not_found, "session not found");
    return nullptr;
  }
  return refuse_if_revoked(to, *s) ? nullptr : s;
}

bool Gateway::refuse_if_revoked(const ReplyTo& to, const Session& s) {
  auto it = connections_.find(to.conn);
  if (it == connections_.end() || !it->second.revoked.count(s.id)) return false;
  LIFELINE_ASSERT(s.conn != to.conn);  // a holder is never revoked from its own session
  reply_error(to, rpc::session_taken_over,
              "session taken over by another connection; session.resume takes it back",
              Json{{"session_id", s.id}});
  return true;
}

void Gateway::unbind(Session& s) {
  if (!s.conn) return;
  auto it = connections_.find(*s.conn);
  // A bound session is listed by its connection while that connection lives.
  LIFELINE_ASSERT(it == connections_.end() || it->second.sessions.count(s.id) == 1);
  if (it != connections_.end()) it->second.sessions.erase(s.id);
  s.conn.reset();
  sync_output_pause(s);
}

void Gateway::on_disconnect(ConnId conn) {
  auto it = connections_.find(conn);
  if (it == connections_.end()) return;
  std::vector<std::string> ids(it->second.sessions.begin(), it->second.sessions.end());
  connections_.erase(it);
  LIFELINE_ASSERT(!connected(conn));
  for (const auto& id : ids) {
    SessionPtr s = find_session(id);
    if (!s || s->conn != conn) continue;
    // mutant: a-disconnect-leaves-the-session-bound
    s->conn.reset();
    // mutant: detached-terminals-stay-paused
    sync_output_pause(*s);
    // mutant: c1-a-disconnect-never-ends-the-session
    if (s->close_on_disconnect) {
      teardown(s, EndReason::ws_disconnect);
    } else {
      log_.write(LogLevel::info, "session " + id + " detached");
      arm_grace(s);
    }
  }
}

// ---------------------------------------------------------------- paths into the funnel

void Gateway::rpc_close(const ReplyTo& to, const Json& params) {
  Params p(params, {"session_id"});
  std::string id = p.required_string("session_id");
  if (!p.ok()) return reply_error(to, rpc::invalid_params, p.error());
  SessionPtr s = find_session(id);
  if (s && refuse_if_revoked(to, *s)) return;
  bool closed = s && teardown(s, EndReason::client_close);
  reply(to, {{"closed", closed}});
}

void Gateway::arm_grace(const SessionPtr& s) {
  if (config_.orphan_grace <= 0 || s->finalized) return;  // 0: never grace-reaped
  if (s->grace_timer) clock_.cancel(s->grace_timer);
  // mutant: the-orphan-grace-runs-twice-as-long
  s->grace_timer = clock_.after(config_.orphan_grace, [this, s] { on_grace_expired(s); });
}

void Gateway::on_grace_expired(const SessionPtr& s) {
  // Like an Asio timer, this may run after a cancel() that came too late, i.e. after the
  // session already ended another way in the same instant: the funnel makes that a no-op.
  s->grace_timer = 0;
  if (s->conn) return;  // resumed in time
  if (s->busy()) {
    // A command is still running for a client who may come back for it: wait again
    // rather than skip (the historical bug left such sessions until the TTL).
    // mutant: the-grace-timer-skips-a-busy-session
    arm_grace(s);
    return;
  }
  teardown(s, EndReason::orphan_grace);
}

bool Gateway::idle_evictable(const Session& s, Millis now) const {
  // docs/DESIGN.md rule 5. busy() covers "not busy, no pending input, finished starting".
  // mutant: idle-eviction-ends-a-connected-session
  return !s.finalized &&                                     // not already gone
         !s.conn &&                                          // detached
         !s.busy() &&                                        // nothing running or starting
         now - s.last_active_mono >= config_.session_ttl &&  // idle for the TTL
         now - s.created_mono >= config_.session_ttl;        // and older than it
}

void Gateway::run_idle_eviction() {
  idle_eviction_timer_ = 0;
  Millis now = clock_.now();
  std::vector<SessionPtr> candidates;
  for (const auto& [id, s] : registry_)
    if (idle_evictable(*s, now)) candidates.push_back(s);
  for (const auto& s : candidates)
    if (still_mapped(s->id, s.get()) && idle_evictable(*s, clock_.now()))  // re-check at eviction
      teardown(s, EndReason::idle_timeout);
  if (!shutting_down_)
    idle_eviction_timer_ = clock_.after(config_.reaper_interval, [this] { run_idle_eviction(); });
}

bool Gateway::lru_evictable(const Session& s) const {
  // mutant: lru-eviction-takes-a-busy-session
  return !s.finalized && !s.conn && !s.busy();
}

bool Gateway::make_room() {
  if (static_cast<std::int64_t>(registry_.size()) < config_.max_sessions) return true;
  SessionPtr victim;
  for (const auto& [id, s] : registry_)
    if (lru_evictable(*s) &&
        (!victim || s->last_active_mono < victim->last_active_mono ||
         (s->last_active_mono == victim->last_active_mono && s->seq < victim->seq)))
      victim = s;
  if (!victim) return false;
  teardown(victim, EndReason::lru_evict);
  return static_cast<std::int64_t>(registry_.size()) < config_.max_sessions;
}

void Gateway::shutdown(std::function<void(bool clean)> done) {
  if (shutting_down_) return;  // the first caller is told; a second has nothing to wait for
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  if (idle_eviction_timer_) {
    clock_.cancel(idle_eviction_timer_);
    idle_eviction_timer_ = 0;
  }
  shutdown_timer_ = clock_.after(shutdown_deadline(), [this] {
    shutdown_timer_ = 0;
    if (!shutdown_done_) return;
    log_.write(LogLevel::error, "shutdown deadline passed with " +
                                    std::to_string(children_.size()) + " children still alive");
    auto given_up = std::move(shutdown_done_);
    shutdown_done_ = nullptr;
    given_up(false);
  });
  for (TimerId* t : {&lease_timer_, &fence_timer_})
    if (*t) clock_.cancel(std::exchange(*t, 0));
  drain_pool();  // nothing is pooled once shutdown begins (rule 18)
  for (const auto& s : sessions()) teardown(s, EndReason::shutdown);
  LIFELINE_ASSERT(registry_.empty());  // nothing is admitted once shutting down
  maybe_finish_shutdown();
}

void Gateway::maybe_finish_shutdown() {
  if (!shutting_down_ || !shutdown_done_ || children_.size() != 0 || spawns_in_flight_ != 0) return;
  if (shutdown_timer_) clock_.cancel(shutdown_timer_);
  shutdown_timer_ = 0;
  auto done = std::move(shutdown_done_);
  shutdown_done_ = nullptr;
  done(true);
}

// ---------------------------------------------------------------- the funnel

bool Gateway::teardown(const SessionPtr& s, EndReason reason) {
  // mutant: a-grace-expiry-and-another-teardown-both-finalize
  if (s->finalized) return false;  // one funnel, one finalization, one stored end
  if (teardown_observer) teardown_observer(*s, reason, s->conn && connected(*s->conn));
  s->finalized = true;
  auto it = registry_.find(s->id);
  LIFELINE_ASSERT(it != registry_.end());  // unmapped <=> finalized
  LIFELINE_ASSERT(it->second == s);
  // mutant: a-finalized-session-stays-in-the-registry
  registry_.erase(it);
  ++counters_.finalized;
  ++counters_.ended(reason);
  log_.write(LogLevel::info, "session " + s->id + " closed: " + to_string(reason));

  if (s->grace_timer) {
    clock_.cancel(s->grace_timer);
    s->grace_timer = 0;
  }
  // Every waiting client gets an answer; a command whose output is being stored keeps
  // its place: the store's completion answers it.
  fail_in_flight(*s, rpc::worker_exited, "session closed during the command");
  for (auto& cmd : s->queue)
    reply_error(cmd.reply, rpc::session_not_found, "session closed before the command ran");
  s->queue.clear();
  for (auto& w : s->reset_waiters)
    reply_error(w, rpc::session_not_found, "session closed before the worker restarted");
  s->reset_waiters.clear();
  // A spawn still in flight finds the session unmapped at completion and kills its child.
  // Never back to the pool (rule 18): the worker may hold this session's state.
  // mutant: an-ended-sessions-idle-worker-returns-to-the-pool
  drop_worker(*s);
  for (auto& [pty_id, child] : s->ptys) terminate_child(child);
  s->ptys.clear();
  for (const auto& [pty_id, record] : s->terminals) pty_owner_.erase(pty_id);
  s->terminals.clear();

  // mutant: a-sessions-end-is-stored-twice
  store_.record_end(s->id, to_string(reason), clock_.wall_now(), [this, id = s->id](bool ok) {
    if (!ok) log_.write(LogLevel::error, "store: could not record the end of session " + id);
  });
  // mutant: a-sessions-end-is-not-announced
  emit(*s, "session.closed", {{"reason", to_string(reason)}});
  unbind(*s);
  // Nothing of the session is left to wait on, except a result the store is writing.
  LIFELINE_ASSERT(!s->conn);
  LIFELINE_ASSERT(!s->worker);
  LIFELINE_ASSERT(s->ptys.empty());
  LIFELINE_ASSERT(s->terminals.empty());
  LIFELINE_ASSERT(s->queue.empty());
  LIFELINE_ASSERT(s->reset_waiters.empty());
  LIFELINE_ASSERT(!s->in_flight || s->in_flight->storing);
  LIFELINE_ASSERT(!still_mapped(s->id, s.get()));
  return true;
}

}  // namespace lifeline
