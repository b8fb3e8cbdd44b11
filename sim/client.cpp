#include "sim/client.hpp"

#include <algorithm>
#include <limits>

#include "core/base64.hpp"
#include "core/jsonrpc.hpp"
#include "sim/world.hpp"

namespace lifeline::sim {

bool SimClient::ensure_connected() {
  if (conn_) return true;
  conn_ = w_.net.connect(index_);
  pending_.clear();
  taken_from_.clear();  // a new connection holds nothing, and has nothing revoked
  return conn_ != 0;
}

void SimClient::send(const std::string& method, Json params, const std::string& session_id) {
  std::int64_t id = next_id_++;
  bool stale = !session_id.empty() && taken_from_.count(session_id) == 1;
  if (method == "session.resume") {
    // Resuming takes it back, named by its id or by an ended id of the same history.
    stale = false;
    std::string key = key_of(session_id);
    std::erase_if(taken_from_, [&](const std::string& taken) {
      return taken == session_id || (!key.empty() && key_of(taken) == key);
    });
  }
  pending_[id] = Pending{method, session_id, stale,
                         method == "slash.exec" ? params.value("command", "") : std::string()};
  if (method == "slash.exec" && !stale) {
    if (std::string key = key_of(session_id); !key.empty()) {
      auto& order = exec_order_[key];
      order.push_back({id, -1});
      if (order.size() > exec_order_keep) order.erase(order.begin());
    }
  }
  Json msg = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
  w_.trace("client.send", "\"client\":" + std::to_string(index_) + ",\"id\":" + std::to_string(id) +
                              ",\"method\":" + json_str(method) +
                              (session_id.empty() ? "" : ",\"session\":" + json_str(session_id)));
  w_.net.client_send(conn_, msg.dump());
}

const SimClient::Known* SimClient::pick(int index) const {
  if (live_.empty()) return nullptr;
  return &live_[static_cast<std::size_t>(index) % live_.size()];
}

std::string SimClient::key_of(const std::string& id) const {
  auto it = w_.session_keys.find(id);
  return it == w_.session_keys.end() ? std::string() : it->second;
}

void SimClient::forget(const std::string& id) {
  std::erase_if(live_, [&](const Known& k) { return k.id == id; });
  // Its output no longer comes here: what was drawn stays, but nothing continues it
  // until an attach says where.
  for (const auto& pty : ptys_)
    if (pty.session_id == id) {
      auto screen = screens_.find(pty.id);
      if (screen != screens_.end()) screen->second.synced = false;
    }
}

void SimClient::execute(const Step& step) {
  if (execute_link_step(step)) return;
  if (!ensure_connected()) return;
  if (execute_terminal_step(step)) return;
  execute_session_step(step);
}

// Steps about the connection itself: true when `step` was one.
bool SimClient::execute_link_step(const Step& step) {
  switch (step.kind) {
    case StepKind::connect:
      ensure_connected();
      return true;
    case StepKind::disconnect:
    case StepKind::drop:
      if (!conn_) return true;
      w_.net.client_close(conn_, step.kind == StepKind::drop);
      lose_connection();
      return true;
    case StepKind::stall_reading:
      if (conn_) w_.net.client_stall(conn_, Millis{step.a + 1} * 400);
      return true;
    case StepKind::half_open:
      if (!conn_) return true;
      w_.net.client_vanish(conn_);
      lose_connection();  // the client moves on; the gateway does not know yet
      return true;
    default:
      return false;
  }
}

// Steps about terminals: true when `step` was one.
bool SimClient::execute_terminal_step(const Step& step) {
  switch (step.kind) {
    case StepKind::pty_open:
      if (const Known* k = pick(step.a))
        send("pty.open", {{"session_id", k->id}, {"cols", 80}, {"rows", 24}}, k->id);
      return true;
    case StepKind::pty_write:
      if (!ptys_.empty()) {
        const Pty& pty = ptys_[static_cast<std::size_t>(step.a) % ptys_.size()];
        send("pty.write", {{"pty_id", pty.id}, {"data", "ZWNobyBoaQo="}}, pty.session_id);
      }
      return true;
    case StepKind::pty_close:
      if (!ptys_.empty()) {
        std::size_t i = static_cast<std::size_t>(step.a) % ptys_.size();
        send("pty.close", {{"pty_id", ptys_[i].id}}, ptys_[i].session_id);
        screens_.erase(ptys_[i].id);
        ptys_.erase(ptys_.begin() + static_cast<std::ptrdiff_t>(i));
      }
      return true;
    case StepKind::pty_attach:
      // A page reload: list a held session's terminals, then attach to one.
      if (!ptys_.empty()) {
        const Pty& pty = ptys_[static_cast<std::size_t>(step.a) % ptys_.size()];
        screens_[pty.id].synced = false;  // until the answer says where output continues
        send("pty.attach", {{"pty_id", pty.id}}, pty.session_id);
      } else if (const Known* k = pick(step.a)) {
        send("pty.list", {{"session_id", k->id}}, k->id);
      }
      return true;
    default:
      return false;
  }
}

void SimClient::execute_session_step(const Step& step) {
  switch (step.kind) {
    case StepKind::create:
      send("session.create",
           {{"close_on_disconnect", step.a != 0}, {"title", "c" + std::to_string(index_)}});
      return;
    case StepKind::exec:
      if (const Known* k = pick(step.a))
        send("slash.exec", {{"session_id", k->id}, {"command", exec_command(step.b, w_.config)}},
             k->id);
      return;
    case StepKind::close:
      if (step.b % 2 == 1 && !w_.session_ids.empty()) {
        // Another tab's session, by id: it may be detached, and its grace may be expiring.
        const std::string& id =
            w_.session_ids[static_cast<std::size_t>(step.a) % w_.session_ids.size()];
        send("session.close", {{"session_id", id}}, id);
      } else if (const Known* k = pick(step.a)) {
        send("session.close", {{"session_id", k->id}}, k->id);
      }
      return;
    case StepKind::reset:
      if (const Known* k = pick(step.a)) send("session.reset", {{"session_id", k->id}}, k->id);
      return;
    case StepKind::resume:
      if (!w_.session_ids.empty()) {
        // Any session ever seen, by any client: tabs share ids (that is what resume is for).
        const std::string& id =
            w_.session_ids[static_cast<std::size_t>(step.a) % w_.session_ids.size()];
        send("session.resume", {{"session_id", id}}, id);
      }
      return;
    case StepKind::history:
      if (const Known* k = pick(step.a)) start_paging(k->id, 1 + step.b % 7);
      return;
    case StepKind::list:
      send("session.active_list", Json::object());
      return;
    default:
      return;
  }
}

void SimClient::on_message(ConnId conn, const std::string& text) {
  if (conn != conn_) return;  // an old connection's late frame
  Json msg = Json::parse(text, nullptr, false);
  if (msg.is_discarded() || !msg.is_object()) {
    w_.violate(Inv::gateway_speaks_json_rpc,
               "client " + std::to_string(index_) + " got unparsable text");
    return;
  }
  if (msg.contains("method")) return on_event(msg["params"]);
  if (!msg.contains("id") || !msg["id"].is_number_integer()) {
    // A parse error reply (id null) cannot happen: we only send well-formed requests.
    w_.violate(Inv::gateway_speaks_json_rpc,
               "client " + std::to_string(index_) + " got a reply without its id: " + text);
    return;
  }
  std::int64_t id = msg["id"].get<std::int64_t>();
  auto it = pending_.find(id);
  if (it == pending_.end()) {
    w_.violate(Inv::one_reply_per_request, "client " + std::to_string(index_) +
                                               " got a second (or unasked) reply to id " +
                                               std::to_string(id));
    return;
  }
  Pending p = std::move(it->second);
  pending_.erase(it);
  w_.trace("client.recv", "\"client\":" + std::to_string(index_) + ",\"id\":" + std::to_string(id) +
                              ",\"method\":" + json_str(p.method) +
                              (msg.contains("error")
                                   ? ",\"error\":" + std::to_string(msg["error"].value("code", 0))
                                   : ""));
  check_stale_reply(p, msg);
  if (msg.contains("error")) {
    int code = msg["error"].value("code", 0);
    if (code == rpc::session_not_found && !p.session_id.empty()) forget(p.session_id);
    if (code == rpc::worker_timed_out && p.method == "slash.exec") check_timed_out(p);
    return;
  }
  on_result(id, p, msg["result"]);
}

// An event (a request of the gateway's, without an id).
void SimClient::on_event(const Json& p) {
  std::string type = p.value("type", "");
  if (type == "session.closed") forget(p.value("session_id", ""));
  if (type == "pty.output" && p.contains("payload")) on_pty_output(p["payload"]);
  if (type == "session.taken_over") {
    std::string id = p.value("session_id", "");
    forget(id);
    // The gateway sent this before any reply to a resume of ours still unanswered, so
    // such a resume came after the takeover and takes the session back: not revoked.
    // (A resume names an ended session's id and lands on its live continuation: the
    // same history, so the same key.)
    std::string key = key_of(id);
    bool resuming = std::any_of(pending_.begin(), pending_.end(), [&](const auto& kv) {
      const Pending& q = kv.second;
      return q.method == "session.resume" &&
             (q.session_id == id || (!key.empty() && key_of(q.session_id) == key));
    });
    if (!resuming) taken_from_.insert(id);
    ++w_.counters.takeovers_seen;
  }
}

// The result of request `id`, which asked `p`.
void SimClient::on_result(std::int64_t id, const Pending& p, const Json& r) {
  if (p.method == "session.create" || p.method == "session.resume") {
    Known k{r.value("session_id", ""), r.value("session_key", key_of(p.session_id)), conn_};
    if (k.id.empty()) return;
    if (p.method == "session.create") ++w_.counters.sessions_created;
    if (p.method == "session.resume") ++w_.counters.resumes_ok;
    auto known =
        std::find_if(live_.begin(), live_.end(), [&](const Known& x) { return x.id == k.id; });
    if (known == live_.end())
      live_.push_back(k);
    else
      known->conn = conn_;  // resumed here
    if (w_.session_keys.emplace(k.id, k.key).second) w_.session_ids.push_back(k.id);
  } else if (p.method == "session.close") {
    forget(p.session_id);
  } else if (p.method == "slash.exec" && r.contains("seq")) {
    std::string key = key_of(p.session_id);
    std::int64_t seq = r["seq"].get<std::int64_t>();
    ++w_.counters.acks_checked;
    acks_.push_back({key, seq});
    if (!w_.store.durable(key, seq))
      w_.violate(Inv::acknowledged_means_durable,
                 "client " + std::to_string(index_) + " was told entry " + key + "#" +
                     std::to_string(seq) + " was stored, and it is not");
    check_exec_order(key, id, seq);
  } else if (p.method == "pty.open") {
    ptys_.push_back({r.value("pty_id", ""), p.session_id});
    screens_[r.value("pty_id", "")].synced = true;  // drawn from its first byte
  } else if (p.method == "session.history") {
    on_history_page(id, r);
  } else if (p.method == "pty.list") {
    for (const auto& t : r["terminals"]) {
      std::string pty_id = t.value("pty_id", "");
      bool known =
          std::any_of(ptys_.begin(), ptys_.end(), [&](const Pty& x) { return x.id == pty_id; });
      if (!known && !t.value("exited", true)) ptys_.push_back({pty_id, p.session_id});
    }
  } else if (p.method == "pty.attach") {
    on_attached(r);
  } else if (p.method == "session.active_list") {
    // Rule 9 at the client: no session listed twice, none the client saw finalized.
    std::vector<std::string> ids;
    for (const auto& s : r["sessions"]) ids.push_back(s.value("session_id", ""));
    std::sort(ids.begin(), ids.end());
    if (std::adjacent_find(ids.begin(), ids.end()) != ids.end())
      w_.violate(Inv::active_list_is_the_live_set, "a session is listed twice");
  }
}

void SimClient::on_closed(ConnId conn) {
  if (conn != conn_) return;
  pending_.clear();
  // Sessions that closed with the connection are learnt again by resuming.
  lose_connection();
}

// The client's contract: paging a history back with before_seq, newest page first,
// returns every entry exactly once; so every entry this client was told was stored before
// it started is among them.
void SimClient::start_paging(const std::string& session_id, int limit) {
  std::string key = key_of(session_id);
  if (key.empty()) return;
  Paging paging{key, limit, {}, 0, std::numeric_limits<std::int64_t>::max(), {}};
  for (const auto& a : acks_)
    if (a.key == key) paging.expected.insert(a.seq);
  std::int64_t id = next_id_;
  send("session.history", {{"session_key", key}, {"limit", limit}});  // a read: never stale
  paging_.emplace(id, std::move(paging));
}

void SimClient::on_history_page(std::int64_t id, const Json& r) {
  auto node = paging_.extract(id);
  if (node.empty()) return;
  Paging& paging = node.mapped();
  std::int64_t oldest = paging.before;
  std::string problem;
  std::int64_t previous = 0;
  for (const auto& e : r["entries"]) {
    std::int64_t seq = e.value("seq", std::int64_t{0});
    if (seq >= paging.before)
      problem = "entry #" + std::to_string(seq) + " is not older than the page's before_seq";
    else if (seq <= previous)
      problem = "the page is not in ascending order at #" + std::to_string(seq);
    else if (!paging.seen.insert(seq).second)
      problem = "entry #" + std::to_string(seq) + " came twice";
    previous = seq;
    oldest = std::min(oldest, seq);
  }
  if (problem.empty() && r.value("more", false) && r["entries"].empty())
    problem = "a page says there is more and holds nothing";
  if (problem.empty() && !r.value("more", false)) {
    for (std::int64_t seq : paging.expected)
      if (!paging.seen.count(seq)) {
        problem = "stored entry #" + std::to_string(seq) + " never came";
        break;
      }
  }
  if (!problem.empty()) {
    w_.violate(Inv::history_pages_hold_every_entry_once,
               "client " + std::to_string(index_) + ": paging history " + paging.key + " by " +
                   std::to_string(paging.limit) + ": " + problem);
    return;
  }
  if (!r.value("more", false)) {
    ++w_.counters.histories_paged;
    return;
  }
  if (++paging.pages > max_pages || !conn_) return;  // enough for one step
  paging.before = oldest;
  std::int64_t next = next_id_;
  send("session.history",
       {{"session_key", paging.key}, {"limit", paging.limit}, {"before_seq", oldest}});
  paging_.emplace(next, std::move(paging));
}

// The client's contract: a session's commands run in the order this client sent them,
// so their stored entries are numbered in that order (a command refused or failed has no
// number and is passed over).
void SimClient::check_exec_order(const std::string& key, std::int64_t id, std::int64_t seq) {
  auto order = exec_order_.find(key);
  if (order == exec_order_.end()) return;
  auto& sent = order->second;
  auto me = std::find_if(sent.begin(), sent.end(), [&](const auto& e) { return e.first == id; });
  if (me == sent.end()) return;
  me->second = seq;
  for (auto it = sent.begin(); it != sent.end(); ++it) {
    if (it == me || it->second < 0) continue;
    bool earlier = it < me;
    if (earlier ? it->second < seq : it->second > seq) continue;
    w_.violate(Inv::commands_run_in_the_order_they_were_sent,
               "client " + std::to_string(index_) + ": on history " + key + " request " +
                   std::to_string(it->first) + " was stored as #" + std::to_string(it->second) +
                   " and request " + std::to_string(id) + ", sent " +
                   (earlier ? "after" : "before") + " it, as #" + std::to_string(seq));
    return;
  }
}

// A stuck command is timed out and its worker replaced (docs/DESIGN.md rule 17), so the
// commands queued behind it run on a fresh worker and keep their own --slash-timeout. A
// command that runs in well under that bound (its own sleep, if any, under half of it,
// and with a worker's slowest start still under all of it) and is still answered "worker
// timed out" waited behind a stuck one. /exit and /crash are not
// judged: a slow exit may rightly outlive the bound.
void SimClient::check_timed_out(const Pending& p) {
  const std::string& c = p.command;
  Millis own = 0;
  if (c.rfind("/sleep ", 0) == 0) {
    own = static_cast<Millis>(std::stod(c.substr(7)) * 1000);
  } else if (c.rfind("/exit", 0) == 0 || c.rfind("/crash", 0) == 0 || c.empty()) {
    return;
  }
  // A fresh worker reads its first command only once it has started (the model delays
  // a start by up to worker_start_max), and the bound runs from the write.
  Millis bound = w_.config.gateway.slash_timeout;
  if (2 * own >= bound || own + w_.config.worker_start_max >= bound) return;
  w_.violate(Inv::after_a_timeout_the_next_command_never_waits_behind_the_stuck_one,
             "client " + std::to_string(index_) + ": '" + c + "' on session " + p.session_id +
                 " runs for " + std::to_string(own) + " ms and was answered worker timed out (" +
                 "--slash-timeout " + std::to_string(bound) + " ms)");
}

void SimClient::on_pty_output(const Json& payload) {
  auto it = screens_.find(payload.value("pty_id", ""));
  if (it == screens_.end() || !it->second.synced) return;  // not drawn here (yet)
  Screen& screen = it->second;
  auto data = base64::decode(payload.value("data", ""));
  std::uint64_t offset = payload.value("offset", std::uint64_t{0});
  std::uint64_t expected = screen.base + screen.bytes.size();
  if (!data || offset != expected) {
    w_.violate(Inv::a_reattached_client_sees_a_suffix_of_the_output,
               "client " + std::to_string(index_) + ": terminal " + it->first +
                   " output at offset " + std::to_string(offset) + ", the screen ends at " +
                   std::to_string(expected));
    screen.synced = false;
    return;
  }
  screen.bytes += *data;
  if (screen.bytes.size() > screen_keep) {
    std::size_t drop = screen.bytes.size() - screen_keep;
    screen.bytes.erase(0, drop);
    screen.base += drop;
  }
}

void SimClient::on_attached(const Json& r) {
  std::string id = r.value("pty_id", "");
  auto data = base64::decode(r.value("data", ""));
  std::uint64_t begin = r.value("begin", std::uint64_t{0});
  std::uint64_t end = r.value("end", std::uint64_t{0});
  Screen& screen = screens_[id];
  bool ok = data && end >= begin && end - begin == data->size();
  // Where this client had drawn the same offsets before, the replay must agree byte for
  // byte: the ring holds the terminal's output, not something like it.
  std::uint64_t from = std::max(begin, screen.base);
  std::uint64_t to = std::min(end, screen.base + screen.bytes.size());
  if (ok && !screen.bytes.empty() && from < to)
    ok = data->compare(from - begin, to - from, screen.bytes, from - screen.base, to - from) == 0;
  if (ok && !screen.bytes.empty() && end < screen.base + screen.bytes.size())
    ok = false;  // the replay ends before output this client already drew
  if (!ok) {
    w_.violate(Inv::a_reattached_client_sees_a_suffix_of_the_output,
               "client " + std::to_string(index_) + ": pty.attach of " + id + " answered [" +
                   std::to_string(begin) + ", " + std::to_string(end) + ") that disagrees with " +
                   "what it drew from offset " + std::to_string(screen.base));
    return;
  }
  ++w_.counters.reattaches_checked;
  screen.base = begin;
  screen.bytes = *data;
  screen.synced = true;
}

void SimClient::lose_connection() {
  conn_ = 0;
  paging_.clear();
  live_.clear();
  ptys_.clear();
  screens_.clear();
  taken_from_.clear();
}

void SimClient::check_stale_reply(const Pending& p, const Json& msg) {
  if (!p.stale) return;
  ++w_.counters.stale_requests;
  // Any error acted on nothing: refused as taken over (4009), or the session (4001) or
  // terminal (4008) is gone by now, or the gateway is shutting down.
  if (msg.contains("error")) {
    if (msg["error"].value("code", 0) == 4009) ++w_.counters.stale_refused;
    return;
  } else if (msg["result"].is_object() && !msg["result"].value("closed", true)) {
    return;  // session.close / pty.close of what is gone: nothing acted on
  }
  w_.violate(Inv::a_takeover_revokes_the_former_holder,
             "client " + std::to_string(index_) + "'s " + p.method + " on session " + p.session_id +
                 ", taken over from it, was served: " + msg.dump());
}

void SimClient::drain(bool close_sessions) {
  if (!conn_) return;
  if (close_sessions)
    for (const auto& k : live_) send("session.close", {{"session_id", k.id}}, k.id);
  w_.net.client_close(conn_, false);
  lose_connection();
}

}  // namespace lifeline::sim
