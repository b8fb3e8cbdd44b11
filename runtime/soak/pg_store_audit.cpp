// The store audit over PostgreSQL: the same checks as store_audit.cpp's over SQLite,
// against the rows a fleet's gateways wrote (docs/PROTOCOL.md section 11).
#include <chrono>

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
  StoredEntries rows;
  bool read = db.run_sql("SELECT session_key, seq, command FROM transcript", {}, deadline(),
                         [&rows](const runtime::PgRow& row) {
                           rows.add(row.bytes(0), row.i64(1), row.bytes(2));
                         })
                  .ok;
  if (!read) {
    r.integrity = "cannot read the transcript: " + db.error();
    return r;
  }
  judge_entries(rows, acks, r);
  db.run_sql("SELECT COUNT(*)::bigint FROM sessions WHERE ended_at IS NULL", {}, deadline(),
             [&r](const runtime::PgRow& row) { r.sessions_open = row.i64(0); });
  return r;
}

}  // namespace lifeline::soak
