// A simulated client: speaks docs/PROTOCOL.md's JSON-RPC over one connection at a time,
// remembers the sessions it opened (and every id it ever saw, to try resuming them),
// and checks what it is told: a reply answers exactly one outstanding request, and an
// entry it is told was stored (slash.exec's seq) is durable in the store at that moment.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/ports.hpp"
#include "sim/swarm.hpp"

namespace lifeline::sim {

class World;

class SimClient {
 public:
  SimClient(World& world, int index) : w_(world), index_(index) {}

  void execute(const Step& step);
  void on_message(ConnId conn, const std::string& text);
  void on_closed(ConnId conn);
  // Settling: close every session and the connection cleanly.
  void drain(bool close_sessions);

  struct Ack {
    std::string key;
    std::int64_t seq;
  };
  const std::vector<Ack>& acks() const { return acks_; }
  ConnId conn() const { return conn_; }
  // Requests sent on the current connection and not answered yet; the oldest's method.
  std::size_t unanswered() const { return pending_.size(); }
  std::string oldest_unanswered() const {
    return pending_.empty() ? std::string() : pending_.begin()->second.method;
  }
  // Ids of the sessions this client believes it holds (the client's view).
  std::vector<std::string> held() const {
    std::vector<std::string> ids;
    for (const auto& k : live_) ids.push_back(k.id);
    return ids;
  }
  // Of those, the ones it was given (created or resumed) on its current connection.
  std::vector<std::string> held_here() const {
    std::vector<std::string> ids;
    for (const auto& k : live_)
      if (k.conn == conn_ && conn_ != 0) ids.push_back(k.id);
    return ids;
  }

 private:
  struct Known {
    std::string id;
    std::string key;
    ConnId conn = 0;  // the connection it was created or resumed on
  };
  struct Pending {
    std::string method;
    std::string session_id;
    // Sent on a session this client was told was taken over, and has not resumed since:
    // the gateway must refuse it (docs/DESIGN.md rule 14).
    bool stale = false;
    std::string command;  // slash.exec's command
  };
  struct Pty {
    std::string id;
    std::string session_id;
  };
  // What this client has drawn of a terminal (docs/DESIGN.md rule 16): its output from
  // offset `base`, the newest bytes only. Not synced: output events are not drawn until
  // a pty.attach answer says where they continue.
  struct Screen {
    std::uint64_t base = 0;
    std::string bytes;
    bool synced = false;
  };
  static constexpr std::size_t screen_keep = 4096;
  void on_event(const Json& params);
  void on_result(std::int64_t id, const Pending& p, const Json& result);
  bool execute_link_step(const Step& step);
  bool execute_terminal_step(const Step& step);
  void execute_session_step(const Step& step);
  void on_pty_output(const Json& payload);
  void check_exec_order(const std::string& key, std::int64_t id, std::int64_t seq);
  void check_timed_out(const Pending& p);
  // Paging a history back (session.history with before_seq), one request at a time.
  struct Paging {
    std::string key;
    int limit = 0;
    std::set<std::int64_t> expected;  // entries this client was told were stored, at the start
    int pages = 0;
    std::int64_t before = 0;  // the before_seq of the page asked for
    std::set<std::int64_t> seen;
  };
  static constexpr int max_pages = 200;
  void start_paging(const std::string& session_id, int limit);
  void on_history_page(std::int64_t id, const Json& result);
  std::map<std::int64_t, Paging> paging_;  // request id -> its paging
  // Per history (session key): the slash.exec requests sent, oldest first, with the
  // entry number each was told (-1: none yet).
  std::map<std::string, std::vector<std::pair<std::int64_t, std::int64_t>>> exec_order_;
  static constexpr std::size_t exec_order_keep = 64;
  void on_attached(const Json& result);
  void check_stale_reply(const Pending& p, const Json& msg);
  void lose_connection();
  bool ensure_connected();
  void send(const std::string& method, Json params, const std::string& session_id = {});
  const Known* pick(int index) const;
  std::string key_of(const std::string& id) const;
  void forget(const std::string& id);

  World& w_;
  int index_;
  ConnId conn_ = 0;
  std::int64_t next_id_ = 1;
  std::map<std::int64_t, Pending> pending_;
  std::vector<Known> live_;  // sessions this client holds
  std::vector<Pty> ptys_;    // kept after a takeover: a stale tab still types into them
  std::map<std::string, Screen> screens_;  // pty id -> what this client drew of it
  std::set<std::string> taken_from_;       // sessions taken over from this connection
  std::vector<Ack> acks_;
};

}  // namespace lifeline::sim
