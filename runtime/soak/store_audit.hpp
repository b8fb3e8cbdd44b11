// The store audit: reads the gateway's SQLite file directly (never through the
// gateway) and checks it against what the clients were told.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/soak/load.hpp"

namespace lifeline::soak {

struct StoreReport {
  bool opened = false;
  std::string integrity = "not checked";  // "ok", or what PRAGMA integrity_check said
  std::int64_t checked = 0;               // acknowledged entries looked up
  std::int64_t lost = 0;                  // acknowledged, but absent (or another command)
  std::int64_t duplicated = 0;            // a unique command stored more than once
  std::int64_t sessions_open = 0;         // sessions with no recorded end
  std::vector<std::string> examples;      // the first few problems, for the log
};

// Commands that the load makes unique per user (see load.cpp): each may be stored once,
// so only these can be audited for duplicates.
bool unique_command(const std::string& command);

// The transcript as a store holds it, and what both audits conclude from it: every
// acknowledged entry there with its command, no unique command stored twice.
struct StoredEntries {
  std::unordered_map<std::string, std::string> by_entry;      // key \n seq -> command
  std::map<std::pair<std::string, std::string>, int> copies;  // (key, command) -> rows
  void add(const std::string& key, std::int64_t seq, const std::string& command);
};
void judge_entries(const StoredEntries& rows, const std::vector<Ack>& acks, StoreReport& r);

StoreReport audit_store(const std::string& db_path, const std::vector<Ack>& acks);
// The same audit of a fleet's PostgreSQL store (--store URL), read with libpq, never
// through a gateway (integrity is the database's own: "ok" once it answers).
StoreReport audit_pg_store(const std::string& url, const std::vector<Ack>& acks);

// Planted for the audits' own tests (tests/integration/test_soak.py): a store that lost
// an acknowledged entry, and one that holds an entry twice (plant that one on an ack whose
// command is unique_command, or the audit cannot see it). Returns false if it could not.
bool plant_lost_entry(const std::string& db_path, const Ack& ack);
bool plant_duplicate_entry(const std::string& db_path, const Ack& ack);

}  // namespace lifeline::soak
