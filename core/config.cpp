#include "core/config.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>

namespace lifeline {

std::optional<Millis> parse_seconds(const std::string& text) {
  if (text.empty()) return std::nullopt;
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value) || value < 0) return std::nullopt;
  // A year (52 weeks) is far beyond any sane knob; larger is a typo, not a wish.
  constexpr double max_seconds = 7.0 * 24 * 3600 * 52;
  if (value > max_seconds) return std::nullopt;
  return static_cast<Millis>(std::llround(value * 1000.0));
}

std::optional<std::int64_t> parse_count(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < 1) return std::nullopt;
  return value;
}

namespace {

// One knob: its flag, how to apply a value, and whether it takes a value at all.
struct Knob {
  std::string flag;  // without the leading "--"
  bool takes_value = true;
  bool repeatable = false;
  // Returns false when the value is malformed (the default stays, a warning is made).
  std::function<bool(const std::string&)> apply;
};

std::string env_name(const std::string& flag) {
  std::string name = "LIFELINE_";
  for (char c : flag) name += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return name;
}

bool parse_bool(const std::string& text, bool& out) {
  if (text == "1" || text == "true" || text == "yes" || text == "on") return out = true, true;
  if (text == "0" || text == "false" || text == "no" || text == "off") return out = false, true;
  return false;
}

// Parses "host:port" or "[v6]:port".
bool parse_listen(const std::string& text, std::string& host, int& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string h = text.substr(0, colon);
  if (h.front() == '[') {
    if (h.size() < 3 || h.back() != ']') return false;
    h = h.substr(1, h.size() - 2);
  }
  std::string p = text.substr(colon + 1);
  int value = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || value < 0 || value > 65535)
    return false;
  host = h;
  port = value;
  return true;
}

template <typename Config>
ParsedConfig<Config> run_parser(const std::vector<std::string>& args, const Env& env,
                                std::vector<Knob>& knobs, ParsedConfig<Config>& out) {
  auto find = [&](const std::string& flag) -> Knob* {
    for (auto& k : knobs)
      if (k.flag == flag) return &k;
    return nullptr;
  };
  auto apply = [&](Knob& k, const std::string& value, const std::string& where) {
    if (!k.apply(value))
      out.warnings.push_back("ignoring malformed " + where + " value '" + value +
                             "'; using the default");
  };
  // Environment first, so that flags win.
  for (auto& k : knobs) {
    auto it = env.find(env_name(k.flag));
    if (it == env.end()) continue;
    if (k.repeatable) {
      std::string item;
      for (std::size_t i = 0; i <= it->second.size(); ++i) {
        if (i == it->second.size() || it->second[i] == ',') {
          if (!item.empty()) apply(k, item, it->first);
          item.clear();
        } else {
          item += it->second[i];
        }
      }
    } else {
      apply(k, it->second, it->first);
    }
  }
  std::map<std::string, bool> seen_flag;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      out.help = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      out.error = "unexpected argument '" + arg + "'";
      return out;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    Knob* k = find(name);
    if (!k) {
      out.error = "unknown flag '--" + name + "'";
      return out;
    }
    if (!k->takes_value) {
      if (inline_value) {
        apply(*k, *inline_value, "--" + name);
      } else {
        k->apply("1");
      }
      continue;
    }
    std::string value;
    if (inline_value) {
      value = *inline_value;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      out.error = "flag '--" + name + "' needs a value";
      return out;
    }
    // A repeatable flag given on the command line replaces what the environment said.
    if (k->repeatable && !seen_flag[name]) k->apply("");
    seen_flag[name] = true;
    apply(*k, value, "--" + name);
  }
  return out;
}

Knob seconds_knob(std::string flag, Millis& target, bool allow_zero = true) {
  return Knob{std::move(flag), true, false, [&target, allow_zero](const std::string& v) {
                auto ms = parse_seconds(v);
                if (!ms || (!allow_zero && *ms == 0)) return false;
                target = *ms;
                return true;
              }};
}

Knob count_knob(std::string flag, std::int64_t& target) {
  return Knob{std::move(flag), true, false, [&target](const std::string& v) {
                auto n = parse_count(v);
                if (!n) return false;
                target = *n;
                return true;
              }};
}

// Like count_knob, but 0 is a meaningful value (off, unset, keep all).
Knob zero_or_count_knob(std::string flag, std::int64_t& target) {
  return Knob{std::move(flag), true, false, [&target](const std::string& v) {
                if (v == "0") {
                  target = 0;
                  return true;
                }
                auto n = parse_count(v);
                if (!n) return false;
                target = *n;
                return true;
              }};
}

Knob list_knob(std::string flag, std::vector<std::string>& target) {
  return Knob{std::move(flag), true, true, [&target](const std::string& v) {
                if (v.empty()) {
                  target.clear();  // the command line replaces what the environment said
                  return true;
                }
                target.push_back(v);
                return true;
              }};
}

Knob string_knob(std::string flag, std::string& target) {
  return Knob{std::move(flag), true, false, [&target](const std::string& v) {
                if (v.empty()) return false;
                target = v;
                return true;
              }};
}

}  // namespace

ParsedConfig<GatewayConfig> parse_gateway_config(const std::vector<std::string>& args,
                                                 const Env& env) {
  ParsedConfig<GatewayConfig> out;
  GatewayConfig& c = out.config;
  auto home = env.find("HOME");
  auto xdg = env.find("XDG_STATE_HOME");
  if (xdg != env.end() && !xdg->second.empty())
    c.state_dir = xdg->second + "/lifeline";
  else if (home != env.end() && !home->second.empty())
    c.state_dir = home->second + "/.local/state/lifeline";
  else
    c.state_dir = ".lifeline-state";

  std::vector<Knob> knobs;
  knobs.push_back({"listen", true, false, [&c](const std::string& v) {
                     return parse_listen(v, c.listen_host, c.listen_port);
                   }});
  knobs.push_back(
      {"stdio", false, false, [&c](const std::string& v) { return parse_bool(v, c.stdio); }});
  knobs.push_back(string_knob("token", c.token));
  knobs.push_back(list_knob("allowed-origin", c.allowed_origins));
  knobs.push_back(string_knob("state-dir", c.state_dir));
  knobs.push_back(string_knob("worker-cmd", c.worker_cmd));
  knobs.push_back(string_knob("pty-cmd", c.pty_cmd));
  knobs.push_back(seconds_knob("session-ttl", c.session_ttl));
  knobs.push_back(seconds_knob("reaper-interval", c.reaper_interval, false));
  knobs.push_back(seconds_knob("orphan-grace", c.orphan_grace));
  knobs.push_back(seconds_knob("ping-interval", c.ping_interval, false));
  knobs.push_back(seconds_knob("ping-timeout", c.ping_timeout, false));
  knobs.push_back(seconds_knob("slash-timeout", c.slash_timeout, false));
  knobs.push_back(count_knob("max-sessions", c.max_sessions));
  knobs.push_back(count_knob("max-sessions-per-connection", c.max_sessions_per_connection));
  knobs.push_back(count_knob("max-message-bytes", c.max_message_bytes));
  knobs.push_back(count_knob("max-reply-bytes", c.max_reply_bytes));
  knobs.push_back(count_knob("max-unsent-bytes", c.max_unsent_bytes));
  knobs.push_back(count_knob("max-connections", c.max_connections));
  knobs.push_back(count_knob("max-ptys", c.max_ptys));
  knobs.push_back(count_knob("session-pids-max", c.session_pids_max));
  knobs.push_back(zero_or_count_knob("session-memory-max", c.session_memory_max));
  knobs.push_back(zero_or_count_knob("retain-days", c.retain_days));
  knobs.push_back(list_knob("allowed-host", c.allowed_hosts));
  knobs.push_back(string_knob("child-user", c.child_user));
  knobs.push_back(string_knob("instance", c.instance));
  knobs.push_back(string_knob("env-file", c.env_file));
  knobs.push_back(
      {"version", false, false, [&c](const std::string& v) { return parse_bool(v, c.version); }});
  return run_parser(args, env, knobs, out);
}

ParsedConfig<WorkerConfig> parse_worker_config(const std::vector<std::string>& args,
                                               const Env& env) {
  ParsedConfig<WorkerConfig> out;
  WorkerConfig& c = out.config;
  // The watchdog knobs come from the environment only (docs/PROTOCOL.md).
  auto knob_env = [&](const char* name, Millis& target, Millis min) {
    auto it = env.find(name);
    if (it == env.end()) return;
    auto ms = parse_seconds(it->second);
    if (!ms) {
      out.warnings.push_back(std::string("ignoring malformed ") + name + " value '" + it->second +
                             "'; using the default");
      return;
    }
    if (*ms < min) {
      out.warnings.push_back(std::string(name) + " below its minimum; using " +
                             std::to_string(min) + " ms");
      *ms = min;
    }
    target = *ms;
  };
  knob_env("LIFELINE_WATCHDOG_POLL_S", c.watchdog_poll, 50);
  knob_env("LIFELINE_WATCHDOG_GRACE_S", c.watchdog_grace, 0);

  std::vector<Knob> knobs;
  knobs.push_back({"session-key", true, false, [&c](const std::string& v) {
                     c.session_key = v;
                     return true;
                   }});
  knobs.push_back({"lifeline-fd", true, false, [&c](const std::string& v) {
                     int fd = -1;
                     auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), fd);
                     if (ec != std::errc() || p != v.data() + v.size() || fd < 0) return false;
                     c.lifeline_fd = fd;
                     return true;
                   }});
  // Worker flags come only from argv (the gateway passes them); no env fallback.
  Env no_env;
  return run_parser(args, no_env, knobs, out);
}

Env parse_env_file(std::string_view text, std::vector<std::string>* warnings) {
  Env out;
  int number = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++number;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
      line.remove_suffix(1);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.substr(0, 7) == "export ") line.remove_prefix(7);
    auto eq = line.find('=');
    std::string_view key = line.substr(0, eq);
    bool key_ok = eq != std::string_view::npos && !key.empty();
    for (char c : key)
      key_ok = key_ok && (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_');
    if (!key_ok) {
      if (warnings)
        warnings->push_back("environment file line " + std::to_string(number) +
                            " is not KEY=VALUE; ignored");
      continue;
    }
    std::string_view value = line.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front())
      value = value.substr(1, value.size() - 2);
    out[std::string(key)] = std::string(value);
  }
  return out;
}

Reload reload_limits(GatewayConfig& live, const GatewayConfig& fresh) {
  Reload r;
  auto apply = [&r](auto& now, const auto& next, const char* flag) {
    if (now == next) return;
    now = next;
    r.applied.push_back(flag);
  };
  // Read at each decision: a new value governs the next session, command, timer or
  // reply; nothing running is cut short by it.
  apply(live.session_ttl, fresh.session_ttl, "--session-ttl");
  apply(live.orphan_grace, fresh.orphan_grace, "--orphan-grace");
  apply(live.slash_timeout, fresh.slash_timeout, "--slash-timeout");
  apply(live.max_sessions, fresh.max_sessions, "--max-sessions");
  apply(live.max_sessions_per_connection, fresh.max_sessions_per_connection,
        "--max-sessions-per-connection");
  apply(live.max_message_bytes, fresh.max_message_bytes, "--max-message-bytes");
  apply(live.max_reply_bytes, fresh.max_reply_bytes, "--max-reply-bytes");
  apply(live.retain_days, fresh.retain_days, "--retain-days");
  // Fixed at start: bound, opened, spawned or handed to the transport then.
  auto fixed = [&r](bool differs, const char* flag) {
    if (differs) r.need_restart.push_back(flag);
  };
  fixed(live.listen_host != fresh.listen_host || live.listen_port != fresh.listen_port, "--listen");
  fixed(live.stdio != fresh.stdio, "--stdio");
  fixed(live.token != fresh.token, "--token");
  fixed(live.allowed_origins != fresh.allowed_origins, "--allowed-origin");
  fixed(live.allowed_hosts != fresh.allowed_hosts, "--allowed-host");
  fixed(live.state_dir != fresh.state_dir, "--state-dir");
  fixed(live.worker_cmd != fresh.worker_cmd, "--worker-cmd");
  fixed(live.pty_cmd != fresh.pty_cmd, "--pty-cmd");
  fixed(live.reaper_interval != fresh.reaper_interval, "--reaper-interval");
  fixed(live.ping_interval != fresh.ping_interval || live.ping_timeout != fresh.ping_timeout,
        "--ping-interval/--ping-timeout");
  fixed(live.max_unsent_bytes != fresh.max_unsent_bytes, "--max-unsent-bytes");
  fixed(live.max_connections != fresh.max_connections, "--max-connections");
  fixed(live.max_ptys != fresh.max_ptys, "--max-ptys");
  fixed(live.session_pids_max != fresh.session_pids_max ||
            live.session_memory_max != fresh.session_memory_max,
        "--session-pids-max/--session-memory-max");
  fixed(live.child_user != fresh.child_user, "--child-user");
  fixed(live.instance != fresh.instance, "--instance");
  return r;
}

std::string gateway_usage() {
  return R"(usage: lifeline-gateway [flags]

Serves lifeline sessions over WebSocket (ws://HOST:PORT/ws) or, with --stdio, one
client on stdin/stdout. Every flag can also be set as LIFELINE_<FLAG> (e.g.
LIFELINE_ORPHAN_GRACE=5); the flag wins. Seconds accept fractions. A malformed,
negative or non-finite value is reported once and its default kept (docs/DESIGN.md rule 10).

  --listen HOST:PORT             listen address or name (default 127.0.0.1:8765; port 0
                                 picks one; localhost is 127.0.0.1)
  --stdio                        serve one client on stdin/stdout (NDJSON)
  --token TOKEN                  admission token (default: generated, <state-dir>/token)
  --allowed-origin ORIGIN        allowed browser Origin, repeatable (default: own origins)
  --state-dir DIR                holds lifeline.db and token
                                 (default $XDG_STATE_HOME/lifeline or ~/.local/state/lifeline)
  --worker-cmd PATH              slash worker (default: lifeline-slash-worker beside this)
  --pty-cmd CMD                  terminal command (default /bin/sh)
  --session-ttl S                idle detached sessions older than this are reaped (21600)
  --reaper-interval S            how often the idle reaper runs (300)
  --orphan-grace S               detached sessions live this long (20; 0 = forever)
  --ping-interval S              keepalive ping interval (20)
  --ping-timeout S               pong deadline (20)
  --slash-timeout S              a slash command's time limit (45)
  --max-sessions N               live sessions in all (1024)
  --max-sessions-per-connection N  (64)
  --max-message-bytes N          largest accepted message (1048576)
  --max-reply-bytes N            largest session.history reply; older entries page (4194304)
  --max-unsent-bytes N           unsent output per connection: above half its terminals
                                 pause, above all of it the connection is closed (16777216)
  --max-connections N            open connections; more get HTTP 503 (4096, lowered to fit
                                 the fd limit with room for children)
  --max-ptys N                   terminals in all (256, clamped below kernel.pty.max)
  --session-pids-max N           cgroup pids.max per session, where available (1024)
  --session-memory-max BYTES     cgroup memory.max per session, where available (unset)
  --retain-days D                prune ended sessions and their history older than D days,
                                 at start and daily (30; 0 keeps all)
  --allowed-host HOST            another Host name to accept, repeatable (the bound address,
                                 localhost, 127.0.0.1 and [::1] always are)
  --child-user USER              run workers and terminals as USER (the gateway must run
                                 as root); a dedicated user keeps sessions out of the
                                 gateway's files and its other users' processes
  --instance NAME                this gateway's name, sent in gateway.ready as "instance",
                                 for a proxy's affinity when several gateways serve one
                                 address (default: none sent)
  --env-file PATH                read LIFELINE_* settings from PATH (KEY=VALUE lines) at
                                 start and again on SIGHUP, which applies the limits that
                                 can change live (--session-ttl, --orphan-grace,
                                 --slash-timeout, --max-sessions,
                                 --max-sessions-per-connection, --max-message-bytes,
                                 --max-reply-bytes, --retain-days) and logs the rest as
                                 needing a restart; it wins over the environment, flags
                                 win over it
  --version                      print the version and exit
  --help                         this text

Exit status: 0 after a clean shutdown (SIGTERM, SIGINT, or the stdio client gone: every
session torn down, every child reaped); 1 when it cannot start (store, state dir, port,
another gateway on the state dir); 2 for a usage error; 3 when the shutdown deadline
passed with children still alive. SIGHUP re-reads --env-file (see above).

Environment only: LIFELINE_SYNC=normal (transcript commits without fsync),
LIFELINE_CGROUPS=off (no per-child cgroups). Prefer LIFELINE_TOKEN or <state-dir>/token
to --token: a command line is visible to every user in ps.
)";
}

std::string worker_usage() {
  return R"(usage: lifeline-slash-worker --session-key KEY --lifeline-fd N
       lifeline-slash-worker --terminal --lifeline-fd N --exec-status-fd N -- CMD [ARGS...]

Runs slash commands read as NDJSON on stdin; spawned by lifeline-gateway. With
--terminal it supervises a terminal instead: it runs CMD as a session leader on its
stdin's terminal and kills CMD's whole tree when CMD exits or the gateway dies.
Environment: LIFELINE_WATCHDOG_POLL_S (2.0, min 0.05), LIFELINE_WATCHDOG_GRACE_S (5.0).
)";
}

}  // namespace lifeline
