// Command-line and environment configuration for the gateway and the slash worker.
// Rule 10 of docs/DESIGN.md: the gateway's settings (flags, environment, env file) are
// strict: a malformed or out-of-range value is an error naming the setting, the value
// and what it accepts. Only the worker's watchdog knobs fall back to their defaults.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ports.hpp"

namespace lifeline {

using Env = std::map<std::string, std::string>;

struct GatewayConfig {
  std::string listen_host = "127.0.0.1";
  int listen_port = 8765;
  bool stdio = false;
  std::string token;                         // empty: generate and write <state-dir>/token
  std::vector<std::string> allowed_origins;  // empty: the bound host's own origins
  std::string state_dir;   // empty: neither --state-dir, XDG_STATE_HOME nor HOME (refused)
  std::string worker_cmd;  // empty: lifeline-slash-worker beside the gateway
  std::string pty_cmd;     // empty: the runtime's login shell (main.cpp), else /bin/sh
  Millis session_ttl = 21600LL * 1000;
  Millis reaper_interval = 300LL * 1000;
  Millis orphan_grace = 20LL * 1000;  // 0: detached sessions are never grace-reaped
  Millis ping_interval = 20LL * 1000;
  Millis ping_timeout = 20LL * 1000;
  Millis slash_timeout = 45LL * 1000;
  std::int64_t max_sessions = 1024;
  std::int64_t max_sessions_per_connection = 64;
  std::int64_t max_message_bytes = 1048576;
  std::int64_t max_reply_bytes = 4194304;          // a session.history reply's bound
  std::int64_t max_unsent_bytes = 16777216;        // per connection: above half, terminals pause
  std::int64_t max_pending_input_bytes = 1 << 20;  // per child unread, per session queued
  std::int64_t max_connections = 4096;             // lowered to fit RLIMIT_NOFILE by the runtime
  std::int64_t max_ptys = 256;                     // in all; clamped below kernel.pty.max
  std::int64_t pty_replay_bytes = 262144;          // 256 KiB: each terminal's replay ring (rule 16)
  std::int64_t session_pids_max = 1024;            // cgroup pids.max per session, where available
  std::int64_t session_memory_max = 0;             // cgroup memory.max per session; 0: unset
  std::int64_t retain_days = 30;                   // prune ended sessions older; 0 keeps all
  std::int64_t worker_pool = 2;            // slash workers started ahead of need (rule 18); 0: none
  std::vector<std::string> allowed_hosts;  // extra Host names admitted (DNS rebinding)
  bool version = false;                    // --version: print it and exit
  std::string child_user;                  // run children as this user (gateway as root)
  std::string instance;  // names this gateway in gateway.ready (scale-out affinity)
  // --store (docs/PROTOCOL.md section 11): sqlite:NAME, a file in the state dir, or a
  // postgresql:// (postgres://) URL or libpq key=value string, shared by a fleet.
  std::string store = "sqlite:lifeline.db";
  Millis lease_ttl = 15LL * 1000;  // a shared store's lease: renewed every third (rule 15)
  std::string env_file;            // LIFELINE_* settings read at start and again on SIGHUP
  bool log_json = false;           // --log-format json: one JSON object per log line

  // Not flags (yet): limits and the escalation ladder of docs/DESIGN.md rule 6.
  std::int64_t max_queued_commands = 64;  // per session, in flight included
  std::int64_t max_ptys_per_session = 8;
  std::int64_t max_title_bytes = 256;
  std::int64_t max_pending_per_connection = 256;  // requests awaiting a completion
  Millis hup_wait = 250;
  Millis term_wait = 1000;
  Millis kill_wait = 1000;
};

struct WorkerConfig {
  std::string session_key;
  bool pooled = false;  // --pooled: started ahead of need, the key arrives in a bind message
  int lifeline_fd = -1;
  Millis watchdog_poll = 2000;   // LIFELINE_WATCHDOG_POLL_S, min 0.05 s
  Millis watchdog_grace = 5000;  // LIFELINE_WATCHDOG_GRACE_S, min 0
};

// What --store names. sqlite: the file's name in the state dir; postgresql: the libpq
// connection string, as given (it may hold a password: log it through redacted_store).
struct StoreTarget {
  enum class Kind { sqlite, postgresql } kind = Kind::sqlite;
  std::string target;
};
// nullopt: not a store this gateway knows (the knob refuses it with what it accepts).
std::optional<StoreTarget> parse_store(std::string_view spec);
// spec with any password replaced by "***": for logs and errors.
std::string redacted_store(std::string_view spec);

template <typename Config>
struct ParsedConfig {
  Config config;
  std::vector<std::string> warnings;  // one line per worker knob that fell back to its default
  std::optional<std::string> error;   // unknown flag, missing or refused value: exit 2
  bool help = false;
};

// args excludes argv[0].
ParsedConfig<GatewayConfig> parse_gateway_config(const std::vector<std::string>& args,
                                                 const Env& env);
ParsedConfig<WorkerConfig> parse_worker_config(const std::vector<std::string>& args,
                                               const Env& env);

// The text of an environment file (systemd's EnvironmentFile= syntax, the common part):
// KEY=VALUE lines, '#' comments, blank lines, optional "export ", values optionally in
// single or double quotes. Malformed lines are skipped and reported in `warnings`.
Env parse_env_file(std::string_view text, std::vector<std::string>* warnings = nullptr);

// What SIGHUP may change in a running gateway: limits read at the next decision, never
// anything that was bound, opened or spawned at start. The names of the knobs that
// changed (as flags), and those that differ but need a restart.
struct Reload {
  std::vector<std::string> applied;
  std::vector<std::string> need_restart;
};
Reload reload_limits(GatewayConfig& live, const GatewayConfig& fresh);
// The LIFELINE_* variables of what SIGHUP applies. With an env file in use, a reload takes
// these from the file alone: a line removed from the file returns its setting to the
// default (and turns faults off) even when the inherited environment still has it.
std::vector<std::string> reloadable_env_names();
// "--orphan-grace" (or "orphan-grace") -> "LIFELINE_ORPHAN_GRACE".
std::string env_name_of(const std::string& flag);

std::string gateway_usage();
std::string worker_usage();

// Strict parsers shared with tests: the whole text must be the number.
std::optional<Millis> parse_seconds(const std::string& text);      // finite, >= 0
std::optional<std::int64_t> parse_count(const std::string& text);  // integer, >= 1

}  // namespace lifeline
