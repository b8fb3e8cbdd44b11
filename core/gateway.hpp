// The gateway core: the session registry, the JSON-RPC methods of docs/PROTOCOL.md, the one
// teardown funnel, disconnect/orphan-grace handling, the idle reaper and the LRU cap.
// It is driven by events (connections, messages, child output/exit, timers, store
// completions) and acts only through its ports. Single-threaded by contract.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/child_supervisor.hpp"
#include "core/config.hpp"
#include "core/json.hpp"
#include "core/jsonrpc.hpp"
#include "core/latency_histogram.hpp"
#include "core/ports.hpp"
#include "core/session.hpp"

namespace lifeline {

// From CMake's project(VERSION), the one place the version is written.
inline constexpr const char* version = LIFELINE_VERSION;

struct GatewayPorts {
  Clock& clock;
  ProcessControl& proc;
  Transport& transport;
  Store& store;
  Random& random;
  Log& log;
};

struct GatewayCounters {
  // Sessions finalized, by why they ended (not waitid()s: a child's reap is not counted).
  std::array<std::int64_t, end_reason_count> ended_by_reason{};
  std::int64_t& ended(EndReason r) { return ended_by_reason[static_cast<std::size_t>(r)]; }
  std::int64_t ended(EndReason r) const { return ended_by_reason[static_cast<std::size_t>(r)]; }
  std::int64_t spawn_failures = 0;
  std::int64_t finalized = 0;
  std::int64_t sessions_created = 0;
  // Requests answered, by method and outcome ("ok" or the error code), and their time
  // from arrival to answer by method. Bounded: the methods and codes are fixed sets.
  std::map<std::pair<std::string, std::string>, std::int64_t> requests;
  std::map<std::string, LatencyHistogram, std::less<>> request_ms;
};

class Gateway final : public ProcessEvents {
 public:
  Gateway(GatewayConfig config, GatewayPorts ports);
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;
  ~Gateway() override;

  // Arms the idle reaper. Call once, before events flow.
  void start();

  // Transport events.
  // `peer`: who is at the other end, as the shell knows it (an address, "stdio"), for the
  // audit lines of the log.
  void on_connect(ConnId conn, std::string peer = {});
  void on_message(ConnId conn, std::string_view text);
  void on_disconnect(ConnId conn);
  // The transport's unsent output for conn went above half of --max-unsent-bytes
  // (backed_up) or drained again: the terminals of its sessions pause or resume.
  void on_backpressure(ConnId conn, bool backed_up);

  // ProcessControl events.
  void on_child_output(ChildId child, std::string_view bytes) override;
  void on_child_exit(ChildId child, int status) override;

  // Tears every session down (reason shutdown) and calls done(true) once every child is
  // reaped and released - or done(false) when shutdown_deadline() passes first: a child
  // stuck beyond every escalation (uninterruptible sleep) must not keep the gateway from
  // exiting forever. done is called once. Messages after this get an error.
  void shutdown(std::function<void(bool clean)> done);
  // The whole escalation ladder, four KILL waits, and 5 s for the store to flush.
  Millis shutdown_deadline() const {
    // mutant: the-shutdown-deadline-is-shorter-than-the-ladder
    return config_.hup_wait + config_.term_wait + 4 * config_.kill_wait + 5000;
  }

  // Introspection (tests, simulator, metrics).
  std::vector<SessionPtr> sessions() const;  // live (non-finalized), by creation
  SessionPtr find_session(const std::string& id) const;
  const std::map<std::string, SessionPtr>& registry() const { return registry_; }  // by id
  const ChildSupervisor& children() const { return children_; }
  const GatewayCounters& counters() const { return counters_; }
  const GatewayConfig& config() const { return config_; }
  // The warm pool (docs/DESIGN.md rule 18): workers started and not yet taken, oldest
  // first. Their ChildInfo names no session.
  const std::deque<ChildId>& pooled() const { return pool_; }
  bool shutting_down() const { return shutting_down_; }
  // Called at the start of every teardown, before anything changes: the simulator's and
  // the unit tests' oracles check the end reason against the session's state there.
  std::function<void(const Session&, EndReason, bool client_connected)> teardown_observer;

  // SIGHUP (reload_limits in core/config.hpp): the limits read at each decision.
  GatewayConfig& live_config() { return config_; }
  bool connected(ConnId conn) const { return connections_.count(conn) != 0; }
  // A shared store's lease (core/gateway_lease.cpp, docs/DESIGN.md rule 15): true when
  // this gateway may serve sessions. Always true with an unshared store.
  bool lease_current() const;
  bool store_shared() const { return store_.shared(); }

 private:
  struct Connection {
    std::set<std::string> sessions;  // ids of sessions bound here
    int store_queries = 0;
    bool backed_up = false;  // its terminals are paused (docs/DESIGN.md rule 12)
    // Sessions taken over from this connection: its requests on them are refused until
    // it resumes them explicitly (docs/DESIGN.md rule 14). Pruned of ended sessions.
    std::set<std::string> revoked;
    std::string peer;  // for the log
  };
  // "connection 3 (127.0.0.1)" for the log.
  std::string who(ConnId conn) const;
  static constexpr std::size_t revoked_prune_at = 64;

  // Dispatch.
  void dispatch(ConnId conn, const rpc::Request& req);
  void reply(const ReplyTo& to, Json result);
  void reply_error(const ReplyTo& to, int code, std::string_view message,
                   const Json& data = Json());
  void emit(const Session& s, std::string_view type, Json payload);
  // A connection holds the session and is still open: where its events go.
  bool reachable(const Session& s) const { return s.conn && connected(*s.conn); }
  void count_answer(const ReplyTo& to, std::string_view outcome);
  // True (and the request answered with 4009) when `to`'s connection lost `s` to a
  // takeover and has not resumed it since.
  bool refuse_if_revoked(const ReplyTo& to, const Session& s);
  // For a method whose one param is session_id: the live session it names, not revoked
  // from this connection; null once the error is answered.
  SessionPtr only_session_param(const ReplyTo& to, const Json& params);

  // Methods.
  void rpc_create(const ReplyTo& to, const Json& params);
  void rpc_close(const ReplyTo& to, const Json& params);
  void rpc_resume(const ReplyTo& to, const Json& params);
  void rpc_active_list(const ReplyTo& to, const Json& params);
  void rpc_history(const ReplyTo& to, const Json& params);
  void rpc_exec(const ReplyTo& to, const Json& params);
  void rpc_reset(const ReplyTo& to, const Json& params);
  void rpc_pty_open(const ReplyTo& to, const Json& params);
  void rpc_pty_write(const ReplyTo& to, const Json& params);
  void rpc_pty_resize(const ReplyTo& to, const Json& params);
  void rpc_pty_close(const ReplyTo& to, const Json& params);
  void rpc_pty_list(const ReplyTo& to, const Json& params);
  void rpc_pty_attach(const ReplyTo& to, const Json& params);
  void rpc_stats(const ReplyTo& to, const Json& params);
  void rpc_workers(const ReplyTo& to, const Json& params);

  // Sessions.
  // recorded: the start the store already holds (a claim's); else it is recorded here.
  SessionPtr create_session(ConnId conn, std::string key, std::string title,
                            bool close_on_disconnect, const SessionRecord* recorded = nullptr);
  std::string new_session_id();
  // The shared store's lease and claims (core/gateway_lease.cpp).
  void renew_lease();
  void on_lease_renewed(Millis sent, const StoreReply<LeaseRenewal>& r);
  void fence(const std::string& why);  // ends every live session: lease_lost
  void resume_shared(const ReplyTo& to, const SessionRecord& rec);
  void on_claimed(const ReplyTo& to, const SessionRecord& fresh,
                  const std::optional<std::string>& lost_owner, const StoreReply<Claim>& r);
  void refuse_elsewhere(const ReplyTo& to, const SessionHolder& holder);
  bool make_room();  // LRU eviction when at the cap; false: refuse
  void bind(const SessionPtr& s, ConnId conn);
  void unbind(Session& s);
  void touch(Session& s);
  Json describe(const Session& s) const;
  void arm_grace(const SessionPtr& s);
  void on_grace_expired(const SessionPtr& s);
  void run_idle_eviction();
  bool idle_evictable(const Session& s, Millis now) const;
  bool lru_evictable(const Session& s) const;
  bool store_query_allowed(const ReplyTo& to);
  void store_query_done(const ReplyTo& to);

  // The one teardown funnel. Returns false when the session was already finalized.
  bool teardown(const SessionPtr& s, EndReason reason);

  // docs/DESIGN.md rule 2: attach a spawned child only if the registry still maps the id to
  // this very session object and, for the worker, the spawn is still the wanted one.
  bool still_mapped(const std::string& id, const Session* expected) const;

  // Slash worker.
  void pump(const SessionPtr& s);
  // Gives the session a worker: a pooled one at once, else a spawn it waits for.
  void provide_worker(const SessionPtr& s);
  void attach_worker(const SessionPtr& s, ChildId child, int pid);
  void on_worker_spawned(const std::string& id, const std::weak_ptr<Session>& weak,
                         std::uint64_t ticket, const SpawnResult& result);
  void on_worker_line(const SessionPtr& s, std::string_view line);
  void on_command_timeout(const std::string& id, const std::weak_ptr<Session>& weak,
                          std::uint64_t request_id);
  void finish_command(const SessionPtr& s, const std::shared_ptr<InFlightCommand>& cmd, bool ok,
                      std::string text);
  void fail_in_flight(Session& s, int code, std::string_view message);
  void drop_worker(Session& s);  // terminate the worker and forget it
  // Starts the polite HUP -> TERM -> KILL ladder (or joins one under way).
  void terminate_child(ChildId child);
  void on_worker_died(const SessionPtr& s, ChildId child, int status);

  // The warm pool (core/gateway_pool.cpp).
  void refill_pool();
  void schedule_refill(Millis delay);
  void on_pool_spawned(const SpawnResult& r);
  bool take_pooled(const SessionPtr& s);
  // A pooled worker died before any session took it: forget it, refill after a backoff.
  bool on_pooled_exit(const ChildInfo& info, int status);
  void drain_pool();
  Millis refill_backoff() const;

  // PTYs.
  struct PtyRef {
    SessionPtr session;  // null: no live terminal by that id
    ChildId child = 0;
  };
  PtyRef find_pty(const std::string& pty_id) const;
  // Pauses the session's terminals while its connection is backed up, resumes them
  // otherwise (a detached session's output is not sent anywhere: never paused).
  void sync_output_pause(const Session& s);
  void on_pty_spawned(const std::string& id, const std::weak_ptr<Session>& weak, const ReplyTo& to,
                      const SpawnSpec& spec, const SpawnResult& result);
  // A terminal's command ended: its record stays for pty.list and pty.attach, and the
  // oldest exited records beyond --max-ptys in all are forgotten (rule 16).
  void keep_exited_terminal(Session& s, const std::string& pty_id, int status);
  void forget_terminal(Session& s, const std::string& pty_id);
  // The live session a terminal id (live or exited) belongs to, or null.
  SessionPtr terminal_owner(const std::string& pty_id) const;
  static Json describe_terminal(const std::string& pty_id, const TerminalRecord& t);

  std::string new_id(const char* prefix, int words);

  GatewayConfig config_;
  Clock& clock_;
  ProcessControl& proc_;
  Transport& transport_;
  Store& store_;
  Random& random_;
  Log& log_;
  ChildSupervisor children_;

  std::map<std::string, SessionPtr> registry_;    // id -> live session
  std::map<std::string, std::string> pty_owner_;  // pty id -> session id
  std::map<ConnId, Connection> connections_;
  GatewayCounters counters_;
  std::uint64_t next_ticket_ = 1;
  std::uint64_t next_request_id_ = 1;
  std::uint64_t creation_seq_ = 0;
  TimerId idle_eviction_timer_ = 0;
  bool shutting_down_ = false;
  int spawns_in_flight_ = 0;
  std::int64_t ptys_starting_ = 0;  // pty spawns in flight, for --max-ptys
  std::uint64_t terminal_order_ = 0;
  std::deque<std::pair<std::string, std::string>>
      exited_terminals_;            // (session, pty), oldest first
  std::deque<ChildId> pool_;        // started, not taken
  std::int64_t pool_spawning_ = 0;  // pool spawns in flight
  int pool_failures_ = 0;           // since a pooled worker last served a session
  TimerId pool_timer_ = 0;          // the next refill
  Millis lease_until_ = 0;          // monotonic: sessions are served until then (shared store)
  TimerId lease_timer_ = 0;         // the next renewal
  TimerId fence_timer_ = 0;         // lease_until_, unless renewed first
  bool renewing_ = false;           // a renewal is in flight
  std::set<std::string> claiming_;  // keys whose claim is in flight
  std::function<void(bool)> shutdown_done_;
  TimerId shutdown_timer_ = 0;
  void maybe_finish_shutdown();
};

}  // namespace lifeline
