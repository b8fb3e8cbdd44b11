#include "runtime/gateway/sqlite_store.hpp"

#include <sqlite3.h>

#include "core/history_page.hpp"
#include "runtime/gateway/faults.hpp"
#include "runtime/gateway/sqlite_schema.hpp"
#include "runtime/gateway/sqlite_statements.hpp"

#include <future>
#include <stdexcept>

namespace lifeline::runtime {

namespace {

// Several statements at once (schema, pragmas): parsed each time, used at start only.
bool exec(sqlite3* db, const char* sql) {
  return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

}  // namespace

SqliteStore::SqliteStore(asio::io_context& io, Log& log, const std::string& path, bool power_safe,
                         std::string instance)
    : io_(io),
      log_(log),
      power_safe_(power_safe),
      syncing_(power_safe),
      instance_(std::move(instance)) {
  // NOFOLLOW: a link planted in the state dir must not choose the file we write (rule 14).
  int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error("cannot open store " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  const char* pragmas =
      power_safe ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                 : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;";
  if (!exec(db_, pragmas)) {
    std::string msg = sqlite3_errmsg(db_);
    sqlite3_close(db_);
    throw std::runtime_error("cannot initialise store " + path + ": " + msg);
  }
  try {
    migrate_schema(db_, log_, path);
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
  statements_ = std::make_unique<Statements>(db_);
  thread_ = std::thread([this] { run(); });
}

SqliteStore::~SqliteStore() {
  jobs_.stop_and_join(thread_);
  statements_.reset();
  sqlite3_close(db_);
}

void SqliteStore::ledger_add(const LedgerRow& row) {
  submit([this, row](Statements& db) -> JobResult {
    Stmt st(db,
            "INSERT OR REPLACE INTO children (pid, start_ticks, pgid, cgroup) VALUES (?, ?, ?, ?)");
    st.bind(1, std::int64_t{row.pid}).bind(2, static_cast<std::int64_t>(row.start_ticks));
    st.bind(3, std::int64_t{row.pgid}).bind(4, row.cgroup);
    bool ok = st.step() == SQLITE_DONE;
    return {ok, [this, pid = row.pid](bool durable) {
              if (!durable)
                log_.write(LogLevel::error, "store: could not record child pid " +
                                                std::to_string(pid) + " in the ledger");
            }};
  });
}

void SqliteStore::ledger_remove(int pid, std::uint64_t start_ticks) {
  submit([this, pid, start_ticks](Statements& db) -> JobResult {
    Stmt st(db, "DELETE FROM children WHERE pid = ? AND start_ticks = ?");
    st.bind(1, std::int64_t{pid}).bind(2, static_cast<std::int64_t>(start_ticks));
    bool ok = st.step() == SQLITE_DONE;
    return {ok, [this, pid](bool durable) {
              if (!durable)
                log_.write(LogLevel::error, "store: could not remove child pid " +
                                                std::to_string(pid) + " from the ledger");
            }};
  });
}

std::vector<LedgerRow> SqliteStore::ledger_take() {
  std::promise<std::vector<LedgerRow>> done;
  auto rows = done.get_future();
  submit([&done](Statements& db) -> JobResult {
    auto out = std::make_shared<std::vector<LedgerRow>>();
    {
      Stmt st(db, "SELECT pid, start_ticks, pgid, cgroup FROM children");
      while (st.step() == SQLITE_ROW)
        out->push_back({static_cast<int>(st.i64(0)), static_cast<std::uint64_t>(st.i64(1)),
                        static_cast<int>(st.i64(2)), st.text(3)});
    }
    Stmt del(db, "DELETE FROM children");
    bool ok = del.step() == SQLITE_DONE;
    return {ok, [&done, out](bool) { done.set_value(std::move(*out)); }};
  });
  return rows.get();
}

int SqliteStore::end_sessions_left_open(WallMs at) {
  std::promise<int> done;
  auto count = done.get_future();
  submit([&done, at](Statements& db) -> JobResult {
    Stmt st(db, "UPDATE sessions SET ended_at=?, end_reason='shutdown' WHERE ended_at IS NULL");
    st.bind(1, at);
    bool ok = st.step() == SQLITE_DONE;
    int n = ok ? sqlite3_changes(db.db()) : 0;
    return {ok, [&done, n](bool durable) { done.set_value(durable ? n : 0); }};
  });
  return count.get();
}

int SqliteStore::prune(WallMs cutoff, bool vacuum) {
  std::promise<int> done;
  auto count = done.get_future();
  prune_job(cutoff, [&done](int n) { done.set_value(n); });
  int n = count.get();
  if (vacuum && n > 0) {
    // Outside any transaction (finish callbacks run after the commit): start-up only.
    std::promise<void> vacuumed;
    auto wait = vacuumed.get_future();
    submit([this, &vacuumed](Statements&) -> JobResult {
      return {true, [this, &vacuumed](bool) {
                exec(db_, "VACUUM");
                vacuumed.set_value();
              }};
    });
    wait.get();
  }
  return n;
}

void SqliteStore::prune_async(WallMs cutoff, std::function<void(int)> done) {
  prune_job(cutoff,
            [this, done = std::move(done)](int n) { asio::post(io_, [done, n] { done(n); }); });
}

void SqliteStore::prune_job(WallMs cutoff, std::function<void(int)> done) {
  submit([done = std::move(done), cutoff](Statements& db) -> JobResult {
    Stmt del(db, "DELETE FROM sessions WHERE ended_at IS NOT NULL AND ended_at < ?");
    del.bind(1, cutoff);
    bool ok = del.step() == SQLITE_DONE;
    int n = ok ? sqlite3_changes(db.db()) : 0;
    if (ok && n > 0) {
      Stmt orphans(db,
                   "DELETE FROM transcript WHERE session_key NOT IN "
                   "(SELECT session_key FROM sessions)");
      ok = orphans.step() == SQLITE_DONE;
    }
    return {ok, [done, n](bool durable) { done(durable ? n : 0); }};
  });
}

void SqliteStore::submit(Job job, bool acknowledged) {
  jobs_.submit({std::move(job), acknowledged});
}

void SqliteStore::run() {
  for (;;) {
    // Group commit: whatever queued up while the last batch was being made durable
    // shares one transaction - and one fsync. Nobody hears back before the commit.
    std::vector<Queued> batch = jobs_.take(max_batch);
    if (batch.empty()) return;  // stopping, and drained
    Statements& db = *statements_;
    bool want_sync = false;
    for (const auto& q : batch) want_sync = want_sync || q.acknowledged;
    want_sync = want_sync && power_safe_;
    if (want_sync != syncing_ &&
        db.run(want_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"))
      syncing_ = want_sync;
    bool began = db.run("BEGIN IMMEDIATE");
    std::vector<JobResult> results;
    results.reserve(batch.size());
    // Each job in a savepoint of its own: one that fails leaves the others standing.
    // A job alone needs none: when it fails, its writes are all the batch has.
    bool savepoints = began && batch.size() > 1;
    bool failed = false;
    for (auto& job : batch) {
      bool savepoint = savepoints && db.run("SAVEPOINT job");
      results.push_back(job.job(db));
      failed = failed || !results.back().ok;
      if (savepoint) {
        if (!results.back().ok) db.run("ROLLBACK TO job");
        db.run("RELEASE job");
      }
    }
    // Without a transaction (BEGIN failed) each statement committed on its own.
    bool committed = false;
    if (!began)
      committed = true;
    else if (!savepoints && failed)
      db.run("ROLLBACK");  // the lone job failed: nothing of it stays
    else if (!(committed = db.run("COMMIT"))) {
      log_.write(LogLevel::error, std::string("store commit failed: ") + sqlite3_errmsg(db_));
      db.run("ROLLBACK");
    }
    for (auto& r : results)
      if (r.finish) r.finish(r.ok && committed);
  }
}

void SqliteStore::record_start(const SessionRecord& rec, std::function<void(bool)> done) {
  submit([this, rec, done = std::move(done)](Statements& db) -> JobResult {
    Stmt s(db,
           "INSERT OR REPLACE INTO sessions(session_id, session_key, title, close_on_disconnect, "
           "created_at, instance) VALUES(?,?,?,?,?,?)");
    s.bind(1, rec.session_id).bind(2, rec.session_key).bind(3, rec.title);
    s.bind(4, std::int64_t{rec.close_on_disconnect}).bind(5, rec.created_at).bind(6, instance_);
    bool ok = !fault(Fault::store_start) && s.step() == SQLITE_DONE;
    return {ok,
            [this, done](bool durable) { asio::post(io_, [done, durable] { done(durable); }); }};
  });
}

void SqliteStore::record_end(const std::string& session_id, const std::string& reason, WallMs at,
                             std::function<void(bool)> done) {
  submit([this, session_id, reason, at, done = std::move(done)](Statements& db) -> JobResult {
    Stmt s(db,
           "UPDATE sessions SET ended_at=?, end_reason=? WHERE session_id=? AND ended_at IS NULL");
    s.bind(1, at).bind(2, reason).bind(3, session_id);
    bool ok = !fault(Fault::store_end) && s.step() == SQLITE_DONE;
    return {ok,
            [this, done](bool durable) { asio::post(io_, [done, durable] { done(durable); }); }};
  });
}

void SqliteStore::append(const std::string& session_key, HistoryEntry entry,
                         std::function<void(StoreReply<std::int64_t>)> done) {
  submit(
      [this, session_key, entry, done = std::move(done)](Statements& db) -> JobResult {
        Stmt next(db, "SELECT COALESCE(MAX(seq), 0) + 1 FROM transcript WHERE session_key=?");
        next.bind(1, session_key);
        std::int64_t seq = next.step() == SQLITE_ROW ? next.i64(0) : -1;
        Stmt ins(
            db,
            "INSERT INTO transcript(session_key, seq, at, command, ok, text) VALUES(?,?,?,?,?,?)");
        ins.bind(1, session_key).bind(2, seq).bind(3, entry.at).bind(4, entry.command);
        ins.bind(5, std::int64_t{entry.ok}).bind(6, entry.text);
        bool ok = seq > 0 && !fault(Fault::store_append) && ins.step() == SQLITE_DONE;
        if (!ok)
          log_.write(LogLevel::error,
                     std::string("store append failed: ") + sqlite3_errmsg(db.db()));
        return {ok, [this, done, seq](bool durable) {
                  // Durable: the batch holding it committed (fsync'd when power_safe).
                  StoreReply<std::int64_t> reply;
                  if (durable) reply = {true, seq};
                  asio::post(io_, [done, reply] { done(reply); });
                }};
      },
      /*acknowledged=*/true);
}

void SqliteStore::find_session(const std::string& session_id,
                               std::function<void(StoreReply<std::optional<SessionRecord>>)> done) {
  submit([this, session_id, done = std::move(done)](Statements& db) -> JobResult {
    StoreReply<std::optional<SessionRecord>> reply;
    if (!fault(Fault::store_read)) {
      Stmt s(db,
             "SELECT session_key, title, close_on_disconnect, created_at, end_reason FROM sessions "
             "WHERE session_id=?");
      s.bind(1, session_id);
      int rc = s.step();
      if (rc == SQLITE_ROW) {
        SessionRecord r;
        r.session_id = session_id;
        r.session_key = s.text(0);
        r.title = s.text(1);
        r.close_on_disconnect = s.i64(2) != 0;
        r.created_at = s.i64(3);
        if (!s.null(4)) r.end_reason = s.text(4);
        reply = {true, r};
      } else if (rc == SQLITE_DONE) {
        reply = {true, std::nullopt};
      }
    }
    return {true, [this, done, reply](bool) { asio::post(io_, [done, reply] { done(reply); }); }};
  });
}

void SqliteStore::history(const std::string& session_key, const HistoryQuery& query,
                          std::function<void(StoreReply<HistoryPage>)> done) {
  submit([this, session_key, query, done = std::move(done)](Statements& db) -> JobResult {
    auto reply = std::make_shared<StoreReply<HistoryPage>>();
    if (!fault(Fault::store_read)) {
      // Newest first through the pager, which stops at the count or byte bound: rows past
      // the page are never read into memory (docs/DESIGN.md rule 12).
      Stmt s(db,
             "SELECT seq, at, command, ok, text FROM transcript WHERE session_key=? AND seq<? "
             "ORDER BY seq DESC");
      s.bind(1, session_key).bind(2, query.before_seq.value_or(INT64_MAX));
      HistoryPager pager(query);
      int rc;
      while ((rc = s.step()) == SQLITE_ROW &&
             pager.offer({s.i64(0), s.i64(1), s.text(2), s.i64(3) != 0, s.text(4)})) {
      }
      reply->ok = rc == SQLITE_DONE || rc == SQLITE_ROW;
      reply->value = std::move(pager).finish();
    }
    return {true, [this, done, reply](bool) { asio::post(io_, [done, reply] { done(*reply); }); }};
  });
}

}  // namespace lifeline::runtime
