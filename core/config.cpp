#include "core/config.hpp"

#include "core/trust.hpp"

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

// One knob: its flag, what it accepts, how to apply a value, whether it takes a value.
struct Knob {
  std::string flag;  // without the leading "--"
  bool takes_value = true;
  bool repeatable = false;
  // Why a value is refused, or nullopt when it was applied.
  std::function<std::optional<std::string>(const std::string&)> apply;
};

// Wraps a bool-returning setter: a refusal names what the knob accepts.
template <typename Fn>
std::function<std::optional<std::string>(const std::string&)> accepting(std::string accepts,
                                                                        Fn set) {
  return [accepts = std::move(accepts),
          set = std::move(set)](const std::string& v) -> std::optional<std::string> {
    if (set(v)) return std::nullopt;
    return "expected " + accepts;
  };
}

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

// docs/DESIGN.md rule 10: a value the knob refuses is a usage error naming the setting
// (flag or variable), the value and what it accepts; the caller exits 2, or on SIGHUP
// keeps every old value.
template <typename Config>
ParsedConfig<Config> run_parser(const std::vector<std::string>& args, const Env& env,
                                std::vector<Knob>& knobs, ParsedConfig<Config>& out) {
  auto find = [&](const std::string& flag) -> Knob* {
    for (auto& k : knobs)
      if (k.flag == flag) return &k;
    return nullptr;
  };
  auto apply = [&](Knob& k, const std::string& value, const std::string& where) {
    if (auto refusal = k.apply(value)) {
      // A store URL may hold a password: never echoed (docs/PROTOCOL.md section 7).
      std::string shown = k.flag == "store" ? redacted_store(value) : value;
      out.error = "invalid " + where + " value '" + shown + "': " + *refusal;
      return false;
    }
    return true;
  };
  // Environment first, so that flags win.
  for (auto& k : knobs) {
    auto it = env.find(env_name(k.flag));
    if (it == env.end()) continue;
    if (k.repeatable) {
      std::string item;
      for (std::size_t i = 0; i <= it->second.size(); ++i) {
        if (i == it->second.size() || it->second[i] == ',') {
          if (!item.empty() && !apply(k, item, it->first)) return out;
          item.clear();
        } else {
          item += it->second[i];
        }
      }
    } else if (!apply(k, it->second, it->first)) {
      return out;
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
      if (!(inline_value ? apply(*k, *inline_value, "--" + name) : apply(*k, "1", "--" + name)))
        return out;
      continue;
    }
    std::string value;
    if (inline_value) {
      value = *inline_value;
    } else if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
      value = args[++i];
    } else {
      // Never swallow the next flag: "--listen --stdio" is a missing value, not an
      // address. A value that starts with "--" is written --flag=--value.
      out.error = "flag '--" + name + "' needs a value" +
                  (i + 1 < args.size() ? " (got the flag '" + args[i + 1] + "')" : "");
      return out;
    }
    // A repeatable flag given on the command line replaces what the environment said.
    if (k->repeatable && !seen_flag[name]) k->apply("");
    seen_flag[name] = true;
    if (!apply(*k, value, "--" + name)) return out;
  }
  return out;
}

Knob seconds_knob(std::string flag, Millis& target, bool allow_zero = true) {
  std::string accepts = std::string("a number of seconds ") + (allow_zero ? "from 0" : "above 0") +
                        " up to 31449600 (52 weeks)";
  return Knob{std::move(flag), true, false,
              accepting(std::move(accepts), [&target, allow_zero](const std::string& v) {
                auto ms = parse_seconds(v);
                if (!ms || (!allow_zero && *ms == 0)) return false;
                target = *ms;
                return true;
              })};
}

// An integer in [min, max]. 0 may be a meaningful value below min (off, unset, keep all).
Knob count_knob(std::string flag, std::int64_t& target, std::int64_t min, std::int64_t max,
                bool zero_means_off = false) {
  std::string accepts = "an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                        (zero_means_off ? ", or 0 for none" : "");
  return Knob{
      std::move(flag), true, false,
      accepting(std::move(accepts), [&target, min, max, zero_means_off](const std::string& v) {
        if (zero_means_off && v == "0") return target = 0, true;
        auto n = parse_count(v);
        if (!n || *n < min || *n > max) return false;
        target = *n;
        return true;
      })};
}

Knob list_knob(std::string flag, std::vector<std::string>& target) {
  return Knob{std::move(flag), true, true,
              accepting("a non-empty value", [&target](const std::string& v) {
                if (v.empty()) {
                  target.clear();  // the command line replaces what the environment said
                  return true;
                }
                target.push_back(v);
                return true;
              })};
}

Knob string_knob(std::string flag, std::string& target) {
  return Knob{std::move(flag), true, false,
              accepting("a non-empty value", [&target](const std::string& v) {
                if (v.empty()) return false;
                target = v;
                return true;
              })};
}

Knob store_knob(std::string& target) {
  return Knob{"store", true, false,
              accepting("sqlite:NAME (a file name in the state dir) or a postgresql:// URL",
                        [&target](const std::string& v) {
                          if (!parse_store(v)) return false;
                          target = v;
                          return true;
                        })};
}

// What a shared store (docs/DESIGN.md rule 15) asks of the settings together.
std::optional<std::string> shared_store_refusal(const GatewayConfig& c) {
  if (c.lease_ttl < 1000)
    return "--lease-ttl must be at least 1 second (a lease renewed every third of it)";
  // Sessions in a shared store belong to an instance: an unnamed gateway could not tell
  // its own open sessions from another's.
  if (parse_store(c.store)->kind == StoreTarget::Kind::postgresql && c.instance.empty())
    return "--store " + redacted_store(c.store) +
           " is shared by a fleet: give this gateway --instance NAME, unique in the fleet";
  return std::nullopt;
}

Knob switch_knob(std::string flag, bool& target) {
  return Knob{std::move(flag), false, false,
              accepting("1, true, yes, on, 0, false, no or off",
                        [&target](const std::string& v) { return parse_bool(v, target); })};
}

}  // namespace

std::optional<StoreTarget> parse_store(std::string_view spec) {
  if (spec.find('\0') != std::string_view::npos) return std::nullopt;
  if (spec.rfind("sqlite:", 0) == 0) {
    std::string_view name = spec.substr(7);
    // In the state dir, where rule 14's checks apply: no path, only a name.
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos)
      return std::nullopt;
    return StoreTarget{StoreTarget::Kind::sqlite, std::string(name)};
  }
  for (std::string_view scheme : {"postgresql://", "postgres://"})
    if (spec.rfind(scheme, 0) == 0)
      return StoreTarget{StoreTarget::Kind::postgresql, std::string(spec)};
  return std::nullopt;
}

std::string redacted_store(std::string_view spec) {
  std::string out(spec);
  std::size_t start = out.find("://");
  if (start == std::string::npos) return out;
  start += 3;
  std::size_t end = out.find_first_of("/?", start);
  std::size_t at = out.rfind('@', end == std::string::npos ? out.size() : end);
  if (at != std::string::npos && at > start) {
    std::size_t colon = out.find(':', start);
    if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
  }
  for (std::size_t p = out.find("password="); p != std::string::npos;
       p = out.find("password=", p + 1)) {
    std::size_t value = p + 9;
    std::size_t stop = out.find('&', value);
    out.replace(value, (stop == std::string::npos ? out.size() : stop) - value, "***");
  }
  return out;
}

ParsedConfig<GatewayConfig> parse_gateway_config(const std::vector<std::string>& args,
                                                 const Env& env) {
  ParsedConfig<GatewayConfig> out;
  GatewayConfig& c = out.config;
  auto home = env.find("HOME");
  auto xdg = env.find("XDG_STATE_HOME");
  // No default at all rather than the current directory (rule 14): the runtime refuses
  // to start without one.
  if (xdg != env.end() && !xdg->second.empty())
    c.state_dir = xdg->second + "/lifeline";
  else if (home != env.end() && !home->second.empty())
    c.state_dir = home->second + "/.local/state/lifeline";

  constexpr std::int64_t mib = 1 << 20;
  std::vector<Knob> knobs;
  knobs.push_back({"listen", true, false,
                   accepting("HOST:PORT or [IPv6]:PORT with a port from 0 to 65535",
                             [&c](const std::string& v) {
                               return parse_listen(v, c.listen_host, c.listen_port);
                             })});
  knobs.push_back(switch_knob("stdio", c.stdio));
  knobs.push_back({"token", true, false, [&c](const std::string& v) -> std::optional<std::string> {
                     if (auto refusal = trust::token_refusal(v)) return "the token " + *refusal;
                     c.token = v;
                     return std::nullopt;
                   }});
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
  knobs.push_back(seconds_knob("lease-ttl", c.lease_ttl, false));
  knobs.push_back(count_knob("max-sessions", c.max_sessions, 1, 1'000'000));
  knobs.push_back(
      count_knob("max-sessions-per-connection", c.max_sessions_per_connection, 1, 1'000'000));
  // 64 MiB at most: a frame four times the cap closes the connection, and that product
  // must stay far from overflow.
  knobs.push_back(count_knob("max-message-bytes", c.max_message_bytes, 1024, 64 * mib));
  knobs.push_back(count_knob("max-reply-bytes", c.max_reply_bytes, 1024, 1024 * mib));
  knobs.push_back(count_knob("max-unsent-bytes", c.max_unsent_bytes, 4096, 1024 * mib));
  knobs.push_back(
      count_knob("max-pending-input-bytes", c.max_pending_input_bytes, 1024, 1024 * mib));
  knobs.push_back(count_knob("max-connections", c.max_connections, 1, mib));
  knobs.push_back(count_knob("max-ptys", c.max_ptys, 1, 65536));
  knobs.push_back(count_knob("pty-replay-bytes", c.pty_replay_bytes, 1, 16 * mib, true));
  knobs.push_back(count_knob("session-pids-max", c.session_pids_max, 1, 4'194'304));
  knobs.push_back(
      count_knob("session-memory-max", c.session_memory_max, mib, mib * mib * 1024, true));
  knobs.push_back(count_knob("retain-days", c.retain_days, 1, 36'500, true));
  knobs.push_back(count_knob("worker-pool", c.worker_pool, 1, 64, true));
  knobs.push_back(list_knob("allowed-host", c.allowed_hosts));
  knobs.push_back(string_knob("child-user", c.child_user));
  knobs.push_back(string_knob("instance", c.instance));
  knobs.push_back(string_knob("env-file", c.env_file));
  knobs.push_back(store_knob(c.store));
  knobs.push_back({"log-format", true, false, accepting("text or json", [&c](const std::string& v) {
                     if (v != "text" && v != "json") return false;
                     c.log_json = v == "json";
                     return true;
                   })});
  knobs.push_back(switch_knob("version", c.version));
  run_parser(args, env, knobs, out);
  if (!out.error) out.error = shared_store_refusal(c);
  // A pty.attach answer carries the whole ring, base64 (4/3), in one message: at a
  // quarter of the unsent bound it stays below the half where a connection's terminals
  // pause, and far from the whole, where the connection is closed.
  // Lowered, and said, like the limits the runtime fits to the host: an operator who
  // lowers --max-unsent-bytes need not know of this one.
  if (!out.error && c.pty_replay_bytes > c.max_unsent_bytes / 4) {
    out.warnings.push_back("--pty-replay-bytes lowered from " + std::to_string(c.pty_replay_bytes) +
                           " to " + std::to_string(c.max_unsent_bytes / 4) +
                           ", a quarter of --max-unsent-bytes (a replay is sent in one message)");
    c.pty_replay_bytes = c.max_unsent_bytes / 4;
  }
  return out;
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
  knobs.push_back({"session-key", true, false, accepting("a key", [&c](const std::string& v) {
                     c.session_key = v;
                     return !v.empty();
                   })});
  knobs.push_back(switch_knob("pooled", c.pooled));
  knobs.push_back(
      {"lifeline-fd", true, false, accepting("an fd number", [&c](const std::string& v) {
         int fd = -1;
         auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), fd);
         if (ec != std::errc() || p != v.data() + v.size() || fd < 0) return false;
         c.lifeline_fd = fd;
         return true;
       })});
  // Worker flags come only from argv (the gateway passes them); no env fallback.
  Env no_env;
  run_parser(args, no_env, knobs, out);
  if (!out.error && !out.help && c.pooled == !c.session_key.empty())
    out.error = c.pooled ? "--pooled and --session-key exclude each other"
                         : "one of --session-key KEY or --pooled is needed";
  return out;
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

std::vector<std::string> reloadable_env_names() {
  // The flags reload_limits applies (a unit test keeps the two lists equal), and the
  // fault set, which SIGHUP replaces too.
  return {"LIFELINE_SESSION_TTL",
          "LIFELINE_ORPHAN_GRACE",
          "LIFELINE_SLASH_TIMEOUT",
          "LIFELINE_MAX_SESSIONS",
          "LIFELINE_MAX_SESSIONS_PER_CONNECTION",
          "LIFELINE_MAX_REPLY_BYTES",
          "LIFELINE_MAX_PENDING_INPUT_BYTES",
          "LIFELINE_RETAIN_DAYS",
          "LIFELINE_PTY_REPLAY_BYTES",
          "LIFELINE_FAULTS"};
}

std::string env_name_of(const std::string& flag) {
  return env_name(flag.rfind("--", 0) == 0 ? flag.substr(2) : flag);
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
  apply(live.max_reply_bytes, fresh.max_reply_bytes, "--max-reply-bytes");
  apply(live.max_pending_input_bytes, fresh.max_pending_input_bytes, "--max-pending-input-bytes");
  apply(live.retain_days, fresh.retain_days, "--retain-days");
  apply(live.pty_replay_bytes, fresh.pty_replay_bytes, "--pty-replay-bytes");
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
  // The frame cap is handed to the WebSocket and stdio readers at start: a reload that
  // changed only the core's copy would report a cap the readers do not keep.
  fixed(live.max_message_bytes != fresh.max_message_bytes, "--max-message-bytes");
  fixed(live.max_unsent_bytes != fresh.max_unsent_bytes, "--max-unsent-bytes");
  fixed(live.max_connections != fresh.max_connections, "--max-connections");
  fixed(live.max_ptys != fresh.max_ptys, "--max-ptys");
  fixed(live.worker_pool != fresh.worker_pool, "--worker-pool");
  fixed(live.session_pids_max != fresh.session_pids_max ||
            live.session_memory_max != fresh.session_memory_max,
        "--session-pids-max/--session-memory-max");
  fixed(live.child_user != fresh.child_user, "--child-user");
  fixed(live.instance != fresh.instance, "--instance");
  fixed(live.store != fresh.store, "--store");
  fixed(live.lease_ttl != fresh.lease_ttl, "--lease-ttl");
  fixed(live.log_json != fresh.log_json, "--log-format");
  return r;
}

namespace {

// --help, in three parts of one text: what it is and where it listens, the limits, the
// rest of the flags with the exit status and the environment.
std::string usage_serving() {
  return R"(usage: lifeline-gateway [flags]

Serves lifeline sessions over WebSocket (ws://HOST:PORT/ws) or, with --stdio, one
client on stdin/stdout. Every flag can also be set as LIFELINE_<FLAG> (e.g.
LIFELINE_ORPHAN_GRACE=5); the flag wins. Seconds accept fractions. A malformed or
out-of-range value is a usage error (exit 2) naming the setting, the value and what it
accepts (docs/DESIGN.md rule 10); on SIGHUP it keeps every old value.

  --listen HOST:PORT             listen address or name (default 127.0.0.1:8765; port 0
                                 picks one; localhost is 127.0.0.1)
  --stdio                        serve one client on stdin/stdout (NDJSON)
  --token TOKEN                  admission token, 16 to 1024 visible ASCII bytes (default:
                                 $CREDENTIALS_DIRECTORY/token, else <state-dir>/token,
                                 generated at the first start)
  --allowed-origin ORIGIN        allowed browser Origin, repeatable (default: own origins)
  --state-dir DIR                holds lifeline.db, token and lock; created 0700 when
                                 missing, refused when not owned by this user or writable
                                 by others (default $XDG_STATE_HOME/lifeline, else
                                 $HOME/.local/state/lifeline; neither set: refused)
  --worker-cmd PATH              slash worker (default: lifeline-slash-worker beside this)
  --pty-cmd CMD                  terminal command, split on blanks (default: this user's
                                 login shell, else /bin/bash, else /bin/sh)
)";
}

std::string usage_limits() {
  return R"(  --session-ttl S                idle detached sessions older than this are reaped (21600)
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
  --max-pending-input-bytes N    input a terminal has not read, and commands a session has
                                 queued, in bytes; a write or command past it is refused
                                 whole with 4291 (1048576)
  --max-connections N            open connections; more get HTTP 503 (4096, lowered to fit
                                 the fd limit with room for children)
  --max-ptys N                   terminals in all (256, clamped below kernel.pty.max)
  --pty-replay-bytes N           each terminal's recent output kept for pty.attach, 0 to
                                 16777216, lowered to a quarter of --max-unsent-bytes
                                 (262144; terminals opened after a SIGHUP get a new value)
  --worker-pool N                slash workers kept started ahead of need, 0 to 64; a
                                 session's first command takes one, and none is ever
                                 reused by another session (2; 0 turns the pool off)
)";
}

std::string usage_operations() {
  return R"(  --session-pids-max N           cgroup pids.max per session, where available (1024)
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
  --store STORE                  where sessions and transcripts are kept: sqlite:NAME, a
                                 file in the state dir (default sqlite:lifeline.db), or
                                 postgresql://USER@HOST/DB?... (libpq; needs --instance),
                                 shared by a fleet of gateways; the process ledger stays
                                 in the state dir either way. Prefer LIFELINE_STORE or
                                 --env-file (or ~/.pgpass) for a URL with a password
  --lease-ttl S                  with a shared store: this gateway's lease on its
                                 sessions, renewed every third of it; a gateway that
                                 cannot renew ends its sessions within it, and another
                                 may take them over once it has passed (15)
  --env-file PATH                read LIFELINE_* settings from PATH (KEY=VALUE lines) at
                                 start and again on SIGHUP, which applies the limits that
                                 can change live (--session-ttl, --orphan-grace,
                                 --slash-timeout, --max-sessions,
                                 --max-sessions-per-connection, --max-reply-bytes,
                                 --max-pending-input-bytes, --retain-days,
                                 --pty-replay-bytes) and logs the rest as
                                 needing a restart; it wins over the environment, flags
                                 win over it
  --log-format text|json         log lines as text (an ISO 8601 time, the level, the
                                 message; under systemd the priority prefix <N> instead of
                                 the time) or one JSON object each (text)
  --version                      print the version and exit
  --help                         this text

Exit status: 0 after a clean shutdown (SIGTERM, SIGINT, or the stdio client gone: every
session torn down, every child reaped); 1 when it cannot start (store, state dir or
token file refused, port, another gateway on the state dir); 2 for a usage error
(a short --token included); 3 when the shutdown deadline
passed with children still alive. SIGHUP re-reads --env-file (see above).

Browser sign-in: open http://HOST:PORT/#token=TOKEN (printed at start when stderr is a
terminal); the page posts the token to /login, which sets the cookie lifeline_<instance>
(or lifeline_<port>). Failed authentications are throttled per address (HTTP 429).
Details: docs/PROTOCOL.md (installed in /usr/share/doc/lifeline).

Environment only: LIFELINE_SYNC=normal (transcript commits without fsync),
LIFELINE_CGROUPS=off (no per-child cgroups), CREDENTIALS_DIRECTORY (systemd's
LoadCredential=token:...). Prefer a credential, LIFELINE_TOKEN or <state-dir>/token to
--token: a command line is visible to every user in ps.
)";
}

}  // namespace

std::string gateway_usage() {
  return usage_serving() + usage_limits() + usage_operations();
}

std::string worker_usage() {
  return R"(usage: lifeline-slash-worker --session-key KEY --lifeline-fd N
       lifeline-slash-worker --pooled --lifeline-fd N
       lifeline-slash-worker --terminal --lifeline-fd N --exec-status-fd N -- CMD [ARGS...]

Runs slash commands read as NDJSON on stdin; spawned by lifeline-gateway. With
--pooled it is started ahead of need and serves the session its first message binds
it to (docs/PROTOCOL.md section 9). With
--terminal it supervises a terminal instead: it runs CMD as a session leader on its
stdin's terminal and kills CMD's whole tree when CMD exits or the gateway dies.
Environment: LIFELINE_WATCHDOG_POLL_S (2.0, min 0.05), LIFELINE_WATCHDOG_GRACE_S (5.0).
)";
}

}  // namespace lifeline
