// The soak's load: N seeded virtual users, each a loop of scenarios drawn from the mix
// (lifecycles, detach and resume, TCP resets, half-open peers, slow readers of a flooding
// terminal, long commands, session.reset mid-command, terminals whose shells escape).
// They run on one Asio thread of their own; this header keeps Asio and Beast out of the
// orchestrator. What the users were told (acknowledged entries, the client's view of
// every request) is kept here, for the audits to check against the gateway's store.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lifeline::soak {

using Json = nlohmann::json;

struct Target {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string token;
};

struct LoadOptions {
  int clients = 8;
  std::uint64_t seed = 1;
  double orphan_grace_s = 3;  // the gateway's --orphan-grace
  double ping_window_s = 4;   // --ping-interval + --ping-timeout: a half-open peer's bound
  // A request open this long on a live connection is unanswered: the gateway answers
  // within --slash-timeout (5 s in a soak) plus the worker's escalation.
  double request_timeout_s = 15;
};

// One transcript entry a client was told is stored (slash.exec answered with a seq).
struct Ack {
  std::string session_key;
  std::int64_t seq = 0;
  std::string command;
};

// The clients' view. Every request is answered exactly once, or its connection ends
// first; anything else is a violation the audit reports.
struct ClientView {
  std::int64_t requests = 0;
  std::int64_t replies = 0;
  std::int64_t error_replies = 0;                    // legitimate under faults and kills
  std::map<std::int64_t, std::int64_t> error_codes;  // code -> replies
  std::int64_t ended_unanswered = 0;                 // the connection ended first: allowed
  std::int64_t unanswered = 0;          // violation: no reply on a connection that stayed open
  std::int64_t duplicate_replies = 0;   // violation
  std::int64_t unknown_replies = 0;     // violation: a reply to no request of ours
  std::int64_t malformed = 0;           // violation: a frame that is not JSON
  std::int64_t half_open_survived = 0;  // violation: a silent peer's session outlived its bound
};

struct LoadCounters {
  std::int64_t lifecycles = 0;  // scenarios carried out to their end
  std::int64_t aborted = 0;     // scenarios cut short (kills, faults, refusals)
  std::int64_t connects = 0;
  std::int64_t connect_failures = 0;
  std::int64_t resumes = 0;
  std::int64_t terminals = 0;
  std::int64_t half_open_checked = 0;
};

class Load {
 public:
  Load(LoadOptions options, Target target);
  ~Load();
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  void start();
  // Closed: no user opens a connection (restarts measure a gateway with none).
  void set_gate(bool open);
  // Every user finishes its scenario, closes what it opened and disconnects. Returns
  // false if some did not within timeout_s (their connections are then aborted).
  bool stop(double timeout_s);

  // One request on a connection of its own (the audits' view of the gateway).
  std::optional<Json> call_once(const std::string& method, double timeout_s);

  std::vector<Ack> acks() const;
  ClientView view() const;
  LoadCounters counters() const;

  struct Impl;  // load.cpp: the Asio side

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace lifeline::soak
