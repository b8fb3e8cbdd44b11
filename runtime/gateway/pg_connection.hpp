// One libpq connection driven with deadlines: no call waits past the deadline it is
// given, so that a database that stops answering becomes an error within it (a client
// gets store_unavailable), never a hung request (docs/DESIGN.md, Durability). Parameters and
// results travel in binary: a bigint is 8 bytes, text and bytea their bytes. Used by
// one thread at a time (a store's).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

struct pg_conn;
struct pg_result;

namespace lifeline::runtime {

using PgDeadline = std::chrono::steady_clock::time_point;

// One parameter, in binary: the OID names its type (int8, text or bytea).
struct PgParam {
  unsigned oid;
  std::string bytes;
  static PgParam i64(std::int64_t v);
  static PgParam text(std::string_view v);
  static PgParam bytea(std::string_view v);
};

// One row of a result, read in binary.
class PgRow {
 public:
  PgRow(const pg_result* r, int row) : r_(r), row_(row) {}
  bool null(int col) const;
  std::int64_t i64(int col) const;   // an int8 column
  std::string bytes(int col) const;  // a text or bytea column

 private:
  const pg_result* r_;
  int row_;
};

struct PgOutcome {
  bool ok = false;
  std::int64_t affected = 0;  // rows an INSERT, UPDATE or DELETE touched
};

class PgConnection {
 public:
  struct Statement {
    const char* name;
    const char* sql;
    std::vector<unsigned> types;  // its parameters' OIDs
  };

  // statements: prepared on every (re)connection; run() names them.
  PgConnection(std::string conninfo, std::vector<Statement> statements);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  bool connected() const { return conn_ != nullptr; }
  // Connects, sets the session up (setup: plain statements) and prepares every
  // statement. False with error() on failure, the connection closed.
  bool connect(PgDeadline deadline, std::initializer_list<const char*> setup);
  void close();
  // Why the last call failed, one line.
  const std::string& error() const { return error_; }

  // A plain statement without parameters (BEGIN, COMMIT, SAVEPOINT, DDL).
  bool exec(std::string_view sql, PgDeadline deadline);
  // A prepared statement. Rows reach on_row one at a time (single-row mode), so a large
  // result never sits in memory whole. A lost connection is closed (connected() false).
  PgOutcome run(const char* name, const std::vector<PgParam>& params, PgDeadline deadline,
                const std::function<void(const PgRow&)>& on_row = {});
  // An unprepared statement with parameters (start-up and maintenance only).
  PgOutcome run_sql(const std::string& sql, const std::vector<PgParam>& params, PgDeadline deadline,
                    const std::function<void(const PgRow&)>& on_row = {});

 private:
  bool fail(std::string why);
  // Sends through `send` (a PQsend* call), then collects, in single-row mode for rows.
  PgOutcome send_and_collect(const std::function<int(pg_conn*)>& send, PgDeadline deadline,
                             const std::function<void(const PgRow&)>& on_row);
  bool flush(PgDeadline deadline);
  bool wait(short events, PgDeadline deadline);
  // Reads every result of the statement sent; on_row for each row.
  PgOutcome collect(PgDeadline deadline, const std::function<void(const PgRow&)>& on_row);

  std::string conninfo_;
  std::vector<Statement> statements_;
  pg_conn* conn_ = nullptr;
  std::string error_;
};

}  // namespace lifeline::runtime
