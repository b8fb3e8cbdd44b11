// The store audit over PostgreSQL: the same checks as store_audit.cpp's over SQLite,
// against the rows a fleet's gateways wrote (docs/PROTOCOL.md section 11).
#include <chrono>
#include <map>
#include <unordered_map>

#include "runtime/gateway/pg_connection.hpp"
#include "runtime/soak/store_audit.hpp"

namespace lifeline::soak {

StoreReport audit_pg_store(const std::string& url, const std::vector<Ack>& acks) {
  StoreReport r;
  runtime::PgConnection db(url, {});
  auto deadline = [] { return std::chrono::steady_clock::now() + std::chrono::seconds(10); };
  if (!db.connect(deadline(), {})) {
    r.examples.push_back("cannot connect: " + db.error());
    return r;
  }
  r.opened = true;
  r.integrity = "ok";
  std::unordered_map<std::string, std::string> by_entry;      // key \n seq -> command
  std::map<std::pair<std::string, std::string>, int> copies;  // (key, command) -> rows
  bool read = db.run_sql("SELECT session_key, seq, command FROM transcript", {}, deadline(),
                         [&](const runtime::PgRow& row) {
                           std::string key = row.bytes(0), command = row.bytes(2);
                           by_entry[key + "\n" + std::to_string(row.i64(1))] = command;
                           if (unique_command(command)) ++copies[{key, command}];
                         })
                  .ok;
  if (!read) {
    r.integrity = "cannot read the transcript: " + db.error();
    return r;
  }
  for (const auto& a : acks) {
    ++r.checked;
    auto it = by_entry.find(a.session_key + "\n" + std::to_string(a.seq));
    if (it == by_entry.end() || it->second != a.command) {
      ++r.lost;
      if (r.examples.size() < 5)
        r.examples.push_back("acknowledged entry " + a.session_key + "#" + std::to_string(a.seq) +
                             " (" + a.command + ") is " +
                             (it == by_entry.end() ? "missing" : "another command: " + it->second));
    }
  }
  for (const auto& [entry, n] : copies)
    if (n > 1) {
      r.duplicated += n - 1;
      if (r.examples.size() < 5)
        r.examples.push_back("entry '" + entry.second + "' of " + entry.first + " is stored " +
                             std::to_string(n) + " times");
    }
  db.run_sql("SELECT COUNT(*)::bigint FROM sessions WHERE ended_at IS NULL", {}, deadline(),
             [&r](const runtime::PgRow& row) { r.sessions_open = row.i64(0); });
  return r;
}

}  // namespace lifeline::soak
