#include "core/gateway.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "core/assert.hpp"
#include "core/params.hpp"
#include "core/trust.hpp"

namespace lifeline {

const char* to_string(EndReason reason) {
  switch (reason) {
    case EndReason::client_close:
      return "client_close";
    case EndReason::ws_disconnect:
      return "ws_disconnect";
    case EndReason::orphan_grace:
      return "orphan_grace";
    case EndReason::idle_timeout:
      return "idle_timeout";
    case EndReason::lru_evict:
      return "lru_evict";
    case EndReason::shutdown:
      return "shutdown";
    case EndReason::lease_lost:
      return "lease_lost";
  }
  return "unknown";
}

const char* to_string(SessionStatus status) {
  switch (status) {
    case SessionStatus::idle:
      return "idle";
    case SessionStatus::working:
      return "working";
    case SessionStatus::starting:
      return "starting";
    case SessionStatus::detached:
      return "detached";
  }
  return "unknown";
}

Gateway::Gateway(GatewayConfig config, GatewayPorts ports)
    : config_(std::move(config)),
      clock_(ports.clock),
      proc_(ports.proc),
      transport_(ports.transport),
      store_(ports.store),
      random_(ports.random),
      log_(ports.log),
      children_(ports.proc, ports.clock, ports.log, config_) {
  proc_.set_events(this);
}

Gateway::~Gateway() {
  if (idle_eviction_timer_) clock_.cancel(idle_eviction_timer_);
  if (pool_timer_) clock_.cancel(pool_timer_);
  for (auto& [id, s] : registry_) {
    if (s->grace_timer) clock_.cancel(s->grace_timer);
    if (s->in_flight && s->in_flight->timeout) clock_.cancel(s->in_flight->timeout);
  }
  proc_.set_events(nullptr);
}

void Gateway::start() {
  LIFELINE_ASSERT(idle_eviction_timer_ == 0);  // started once
  LIFELINE_ASSERT(config_.reaper_interval > 0);
  idle_eviction_timer_ = clock_.after(config_.reaper_interval, [this] { run_idle_eviction(); });
  refill_pool();
  if (store_.shared()) renew_lease();
}

std::string Gateway::new_id(const char* prefix, int words) {
  std::string out = prefix;
  char buf[17];
  for (int i = 0; i < words; ++i) {
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(random_.next()));
    out += buf;
  }
  return out;
}

// ---------------------------------------------------------------- connections

std::string Gateway::who(ConnId conn) const {
  auto it = connections_.find(conn);
  std::string out = "connection " + std::to_string(conn);
  if (it != connections_.end() && !it->second.peer.empty()) out += " (" + it->second.peer + ")";
  return out;
}

void Gateway::on_connect(ConnId conn, std::string peer) {
  Connection c;
  c.peer = std::move(peer);
  // A shell never reuses a connection id while the core still knows it.
  bool fresh = connections_.emplace(conn, std::move(c)).second;
  LIFELINE_ASSERT(fresh);
  // orphan_grace_s: how long a kept session outlives its connection, for the page to say.
  Json payload = {{"version", version},
                  {"connection_id", "c" + std::to_string(conn)},
                  {"protocol", 1},
                  {"orphan_grace_s", config_.orphan_grace / 1000}};
  // Beyond docs/PROTOCOL.md's four keys, only when configured: which gateway this is, so
  // that a client behind a proxy can come back to it (?gw=NAME, deploy/nginx/).
  if (!config_.instance.empty()) payload["instance"] = config_.instance;
  transport_.send(conn, rpc::event("gateway.ready", nullptr, std::move(payload)));
}

void Gateway::on_message(ConnId conn, std::string_view text) {
  if (!connected(conn)) {
    log_.write(LogLevel::warn, "message on unknown connection " + std::to_string(conn));
    return;
  }
  auto decoded = rpc::decode(text, static_cast<std::size_t>(config_.max_message_bytes));
  if (auto* err = std::get_if<rpc::DecodeError>(&decoded)) {
    transport_.send(conn, rpc::error(err->id, err->code, err->message));
    return;
  }
  dispatch(conn, std::get<rpc::Request>(std::move(decoded)));
}

void Gateway::count_answer(const ReplyTo& to, std::string_view outcome) {
  if (to.method.empty()) return;  // not from the dispatcher (a decode error)
  ++counters_.requests[{std::string(to.method), std::string(outcome)}];
  auto it = counters_.request_ms.find(to.method);
  if (it == counters_.request_ms.end())
    it = counters_.request_ms.emplace(std::string(to.method), LatencyHistogram{}).first;
  it->second.record(clock_.now() - to.started);
}

void Gateway::reply(const ReplyTo& to, Json result) {
  count_answer(to, "ok");
  if (to.notification || !connected(to.conn)) return;
  // mutant: every-result-is-sent-twice
  transport_.send(to.conn, rpc::result(to.id, std::move(result)));
}

void Gateway::reply_error(const ReplyTo& to, int code, std::string_view message, const Json& data) {
  count_answer(to, std::to_string(code));
  if (to.notification || !connected(to.conn)) return;
  transport_.send(to.conn, rpc::error(to.id, code, message, data));
}

void Gateway::emit(const Session& s, std::string_view type, Json payload) {
  if (!reachable(s)) return;
  transport_.send(*s.conn, rpc::event(type, &s.id, std::move(payload)));
}

void Gateway::dispatch(ConnId conn, const rpc::Request& req) {
  ReplyTo to{conn, req.id, req.notification, {}, clock_.now()};
  if (shutting_down_) {
    reply_error(to, rpc::internal_error, "the gateway is shutting down");
    return;
  }
  using Handler = void (Gateway::*)(const ReplyTo&, const Json&);
  static const std::map<std::string, Handler, std::less<>> methods = {
      {"session.create", &Gateway::rpc_create},
      {"session.close", &Gateway::rpc_close},
      {"session.resume", &Gateway::rpc_resume},
      {"session.active_list", &Gateway::rpc_active_list},
      {"session.history", &Gateway::rpc_history},
      {"slash.exec", &Gateway::rpc_exec},
      {"session.reset", &Gateway::rpc_reset},
      {"pty.open", &Gateway::rpc_pty_open},
      {"pty.write", &Gateway::rpc_pty_write},
      {"pty.resize", &Gateway::rpc_pty_resize},
      {"pty.close", &Gateway::rpc_pty_close},
      {"pty.list", &Gateway::rpc_pty_list},
      {"pty.attach", &Gateway::rpc_pty_attach},
      {"gateway.stats", &Gateway::rpc_stats},
      {"gateway.workers", &Gateway::rpc_workers},
  };
  auto it = methods.find(req.method);
  if (it == methods.end()) {
    to.method = "unknown";  // a bounded label, not the client's string
    reply_error(to, rpc::method_not_found, "unknown method '" + req.method + "'");
    return;
  }
  to.method = it->first;
  (this->*(it->second))(to, req.params);
}

// ---------------------------------------------------------------- sessions

std::vector<SessionPtr> Gateway::sessions() const {
  std::vector<SessionPtr> out;
  out.reserve(registry_.size());
  for (const auto& [id, s] : registry_) out.push_back(s);
  std::sort(out.begin(), out.end(),
            [](const SessionPtr& a, const SessionPtr& b) { return a->seq < b->seq; });
  return out;
}

SessionPtr Gateway::find_session(const std::string& id) const {
  auto it = registry_.find(id);
  return it == registry_.end() ? nullptr : it->second;
}

bool Gateway::still_mapped(const std::string& id, const Session* expected) const {
  auto it = registry_.find(id);
  // Identity, not equality: the object, not just the id (an id could map to a newer
  // session). Teardown unmaps in the same step it finalizes, so unmapped <=> finalized.
  return it != registry_.end() && it->second.get() == expected;
}

void Gateway::touch(Session& s) {
  s.last_active_mono = clock_.now();
  s.last_active_at = clock_.wall_now();
}

Json Gateway::describe(const Session& s) const {
  Json worker_pid = nullptr;
  if (s.worker)
    if (const ChildInfo* c = children_.find(*s.worker)) worker_pid = c->pid;
  return {{"session_id", s.id},
          {"session_key", s.key},
          {"title", s.title},
          {"status", to_string(s.status())},
          {"created_at", s.created_at},
          {"last_active", s.last_active_at},
          {"close_on_disconnect", s.close_on_disconnect},
          {"worker_pid", worker_pid}};
}

std::string Gateway::new_session_id() {
  std::string id = new_id("s", 1);
  while (registry_.count(id)) id = new_id("s", 1);
  return id;
}

SessionPtr Gateway::create_session(ConnId conn, std::string key, std::string title,
                                   bool close_on_disconnect, const SessionRecord* recorded) {
  auto s = std::make_shared<Session>();
  s->id = recorded ? recorded->session_id : new_session_id();
  s->key = std::move(key);
  s->title = std::move(title);
  s->seq = ++creation_seq_;
  ++counters_.sessions_created;
  s->close_on_disconnect = close_on_disconnect;
  s->created_at = recorded ? recorded->created_at : clock_.wall_now();
  s->created_mono = clock_.now();
  touch(*s);
  LIFELINE_ASSERT(!registry_.count(s->id));
  registry_.emplace(s->id, s);
  bind(s, conn);
  if (!recorded) {
    SessionRecord rec{s->id, s->key, s->title, s->close_on_disconnect, s->created_at, {}, {}};
    store_.record_start(rec, [this, id = s->id](bool ok) {
      if (!ok)
        log_.write(LogLevel::error, "store: could not record the start of session " + id +
                                        "; its history may not be resumable");
    });
  }
  log_.write(LogLevel::info, "session " + s->id + " created");
  return s;
}

void Gateway::rpc_create(const ReplyTo& to, const Json& params) {
  Params p(params, {"close_on_disconnect", "title"});
  bool close_on_disconnect = p.optional_bool("close_on_disconnect", true);
  std::string title = p.optional_string("title").value_or("");
  if (!p.ok()) return reply_error(to, rpc::invalid_params, p.error());
  // Titles are listed in every session.active_list reply: a cap keeps those bounded.
  if (static_cast<std::int64_t>(title.size()) > config_.max_title_bytes)
    return reply_error(to, rpc::invalid_params,
                       "invalid params: 'title' is longer than " +
                           std::to_string(config_.max_title_bytes) + " bytes");
  if (auto why = trust::display_text_refusal(title))
    return reply_error(to, rpc::invalid_params, "invalid params: 'title' " + *why);
  // mutant: a-gateway-without-a-current-lease-creates-sessions
  if (!lease_current())
    return reply_error(
        to, rpc::store_unavailable,
        "store unavailable: this gateway's lease on the shared store is not current");
  auto& conn = connections_[to.conn];
  if (static_cast<std::int64_t>(conn.sessions.size()) >= config_.max_sessions_per_connection)
    return reply_error(to, rpc::limit_reached, "limit reached: sessions per connection");
  if (!make_room()) return reply_error(to, rpc::limit_reached, "limit reached: live sessions");
  SessionPtr s = create_session(to.conn, new_id("k", 2), std::move(title), close_on_disconnect);
  reply(to, {{"session_id", s->id}, {"session_key", s->key}, {"created_at", s->created_at}});
}

bool Gateway::store_query_allowed(const ReplyTo& to) {
  auto it = connections_.find(to.conn);
  if (it == connections_.end()) return false;
  if (it->second.store_queries >= config_.max_pending_per_connection) {
    reply_error(to, rpc::limit_reached, "limit reached: pending store queries");
    return false;
  }
  ++it->second.store_queries;
  return true;
}

void Gateway::store_query_done(const ReplyTo& to) {
  auto it = connections_.find(to.conn);
  if (it == connections_.end()) return;  // the connection left while the query ran
  LIFELINE_ASSERT(it->second.store_queries > 0);
  --it->second.store_queries;
}

void Gateway::rpc_resume(const ReplyTo& to, const Json& params) {
  Params p(params, {"session_id"});
  std::string id = p.required_string("session_id");
  if (!p.ok()) return reply_error(to, rpc::invalid_params, p.error());
  auto rebind = [this](const ReplyTo& by, const SessionPtr& s) {
    auto& conn = connections_[by.conn];
    if (s->conn != by.conn &&
        static_cast<std::int64_t>(conn.sessions.size()) >= config_.max_sessions_per_connection)
      return reply_error(by, rpc::limit_reached, "limit reached: sessions per connection");
    bind(s, by.conn);
    touch(*s);
    log_.write(LogLevel::info, "session " + s->id + " resumed");
    reply(by, {{"session_id", s->id}, {"resumed", true}, {"status", to_string(s->status())}});
  };
  if (SessionPtr s = find_session(id)) return rebind(to, s);
  if (!store_query_allowed(to)) return;
  store_.find_session(id, [this, to, rebind](StoreReply<std::optional<SessionRecord>> r) {
    store_query_done(to);
    if (shutting_down_ || !connected(to.conn)) return;  // nobody to bind it to: create nothing
    if (!r.ok) return reply_error(to, rpc::store_unavailable, "store unavailable");
    if (!r.value) return reply_error(to, rpc::nothing_to_resume, "nothing to resume");
    const SessionRecord& rec = *r.value;
    // A live session may already continue this history (resumed from the store before).
    for (const auto& [sid, live] : registry_)
      // mutant: a-resume-from-the-store-starts-a-second-live-session
      if (live->key == rec.session_key) return rebind(to, live);
    // A fleet's store: the key may be live on another gateway (rule 15).
    if (store_.shared()) return resume_shared(to, rec);
    auto& conn = connections_[to.conn];
    if (static_cast<std::int64_t>(conn.sessions.size()) >= config_.max_sessions_per_connection)
      return reply_error(to, rpc::limit_reached, "limit reached: sessions per connection");
    if (!make_room()) return reply_error(to, rpc::limit_reached, "limit reached: live sessions");
    SessionPtr s = create_session(to.conn, rec.session_key, rec.title, rec.close_on_disconnect);
    reply(to, {{"session_id", s->id},
               {"session_key", s->key},
               {"resumed", true},
               {"from_store", true},
               {"status", to_string(s->status())}});
  });
}

void Gateway::rpc_active_list(const ReplyTo& to, const Json& params) {
  Params p(params, {});
  if (!p.ok()) return reply_error(to, rpc::invalid_params, p.error());
  Json list = Json::array();
  for (const auto& s : sessions()) list.push_back(describe(*s));
  // mutant: session-active-list-never-replies
  reply(to, {{"sessions", std::move(list)}});
}

void Gateway::rpc_history(const ReplyTo& to, const Json& params) {
  Params p(params, {"session_id", "session_key", "limit", "before_seq"});
  auto id = p.optional_string("session_id");
  auto key = p.optional_string("session_key");
  HistoryQuery query;
  query.limit = p.optional_int("limit", 1, 10000).value_or(1000);
  query.before_seq = p.optional_int("before_seq", 1, std::numeric_limits<std::int64_t>::max());
  // The store's page leaves room under --max-reply-bytes for the reply's envelope.
  query.max_bytes = std::max<std::int64_t>(config_.max_reply_bytes - 256, 1);
  if (p.ok() && id.has_value() == key.has_value())
    return reply_error(to, rpc::invalid_params,
                       "invalid params: give exactly one of 'session_id' and 'session_key'");
  if (!p.ok()) return reply_error(to, rpc::invalid_params, p.error());
  auto load = [this, query](const ReplyTo& by, const std::string& history_key) {
    if (!store_query_allowed(by)) return;
    store_.history(history_key, query, [this, by](const StoreReply<HistoryPage>& r) {
      store_query_done(by);
      if (!r.ok) return reply_error(by, rpc::store_unavailable, "store unavailable");
      Json entries = Json::array();
      for (const auto& e : r.value.entries) {
        Json j = {{"seq", e.seq}, {"at", e.at}, {"command", e.command}, {"ok", e.ok}};
        j[e.ok ? "output" : "error"] = e.text;
        entries.push_back(std::move(j));
      }
      reply(by, {{"entries", std::move(entries)}, {"more", r.value.more}});
    });
  };
  if (key) return load(to, *key);
  if (SessionPtr s = find_session(*id)) return load(to, s->key);
  if (!store_query_allowed(to)) return;
  store_.find_session(*id, [this, to, load](StoreReply<std::optional<SessionRecord>> r) {
    store_query_done(to);
    if (!r.ok) return reply_error(to, rpc::store_unavailable, "store unavailable");
    if (!r.value) return reply_error(to, rpc::session_not_found, "session not found");
    load(to, r.value->session_key);
  });
}

void Gateway::rpc_stats(const ReplyTo& to, const Json& params) {
  Params p(params, {});
  if (!p.ok()) return reply_error(to, rpc::invalid_params, p.error());
  std::int64_t detached = 0;
  for (const auto& [id, s] : registry_) detached += !s->conn;
  Json reaped = Json::object();
  for (int i = 0; i < end_reason_count; ++i)
    reaped[to_string(static_cast<EndReason>(i))] = counters_.ended(static_cast<EndReason>(i));
  reply(to, {{"sessions_live", registry_.size()},
             {"sessions_detached", detached},
             {"workers_live", children_.count(ChildKind::slash)},
             {"workers_pooled", pool_.size()},
             {"ptys_live", children_.count(ChildKind::pty)},
             {"open_fds", proc_.open_fds()},
             {"connections", connections_.size()},
             {"reaped", std::move(reaped)},
             {"spawn_failures", counters_.spawn_failures},
             {"lease", store_.shared()
                           ? Json{{"instance", config_.instance}, {"current", lease_current()}}
                           : Json(nullptr)},
             {"containment", proc_.containment()}});
}

void Gateway::rpc_workers(const ReplyTo& to, const Json& params) {
  Params p(params, {});
  if (!p.ok()) return reply_error(to, rpc::invalid_params, p.error());
  Json list = Json::array();
  for (const auto& c : children_.list())
    list.push_back({{"pid", c.pid},
                    {"pgid", c.pgid},
                    {"session_id", c.session_id.empty() ? Json(nullptr) : Json(c.session_id)},
                    {"kind", c.kind == ChildKind::slash ? "slash" : "pty"},
                    {"started_at", c.started_at}});
  reply(to, {{"workers", std::move(list)}});
}

}  // namespace lifeline
