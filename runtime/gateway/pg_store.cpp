#include "runtime/gateway/pg_store.hpp"

#include <future>
#include <stdexcept>

#include "core/config.hpp"
#include "core/history_page.hpp"
#include "runtime/gateway/faults.hpp"
#include "runtime/gateway/pg_schema.hpp"

namespace lifeline::runtime {

namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr unsigned int8 = 20;
constexpr unsigned text = 25;
constexpr unsigned bytea = 17;

// The database's clock, in ms since the epoch: every lease is judged by this one clock,
// never by the gateways' (docs/DESIGN.md rule 15).
#define LIFELINE_DB_NOW "(extract(epoch from clock_timestamp()) * 1000)::bigint"

// Prepared on every connection (docs/DESIGN.md, Durability).
std::vector<PgConnection::Statement> statements() {
  return {
      // A renewal in two steps of one transaction: the lease row, locked (was it lost?),
      // then ours renewed, or a lease that is free, lost or expired taken; another
      // holder's current lease is left alone (no row changed).
      {"lease_row", "SELECT lost::int::bigint FROM leases WHERE instance = $1 FOR UPDATE", {text}},
      {"renew",
       "INSERT INTO leases(instance, holder, expires_at, lost) VALUES($1, $2, " LIFELINE_DB_NOW
       " + $3, false) ON CONFLICT (instance) DO UPDATE SET holder = EXCLUDED.holder, "
       "expires_at = EXCLUDED.expires_at, lost = false WHERE leases.holder = EXCLUDED.holder OR "
       "leases.lost OR leases.expires_at <= " LIFELINE_DB_NOW,
       {text, text, int8}},
      // Whether an instance's lease is current, its row locked for the claim's transaction.
      {"lease_current",
       "SELECT (NOT lost AND expires_at > " LIFELINE_DB_NOW
       ")::int::bigint FROM leases WHERE instance = $1 FOR UPDATE",
       {text}},
      {"end_lost",
       "UPDATE sessions SET ended_at = $1, end_reason = 'instance_lost' WHERE instance = $2 AND "
       "ended_at IS NULL",
       {int8, text}},
      {"mark_lost", "UPDATE leases SET lost = true WHERE instance = $1", {text}},
      {"end_stale",
       "UPDATE sessions SET ended_at = $1, end_reason = 'shutdown' WHERE session_key = $2 AND "
       "instance = $3 AND ended_at IS NULL",
       {int8, text, text}},
      {"claim",
       "INSERT INTO sessions(session_id, session_key, title, close_on_disconnect, created_at, "
       "instance) VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT (session_key) WHERE ended_at IS NULL "
       "DO NOTHING",
       {text, text, text, int8, int8, text}},
      {"holder",
       "SELECT s.session_id, s.instance, COALESCE((NOT l.lost AND l.expires_at > " LIFELINE_DB_NOW
       "), false)::int::bigint FROM sessions s LEFT JOIN leases l ON l.instance = s.instance WHERE "
       "s.session_key = $1 AND s.ended_at IS NULL",
       {text}},
      // INSERT OR REPLACE, as the SQLite store: a session id names one row.
      {"start",
       "INSERT INTO sessions(session_id, session_key, title, close_on_disconnect, created_at, "
       "instance) VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT (session_id) DO UPDATE SET "
       "session_key = EXCLUDED.session_key, title = EXCLUDED.title, close_on_disconnect = "
       "EXCLUDED.close_on_disconnect, created_at = EXCLUDED.created_at, instance = "
       "EXCLUDED.instance, ended_at = NULL, end_reason = NULL",
       {text, text, text, int8, int8, text}},
      {"end",
       "UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE session_id = $3 AND ended_at IS "
       "NULL",
       {int8, text, text}},
      // The next seq and the row in one statement; the primary key refuses a second
      // writer of the same seq (it fails; it is never lost silently).
      {"append",
       "INSERT INTO transcript(session_key, seq, at, command, ok, text) SELECT $1, "
       "COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM transcript WHERE session_key = $1 "
       "RETURNING seq",
       {text, int8, bytea, int8, bytea}},
      {"find",
       "SELECT session_key, title, close_on_disconnect, created_at, end_reason FROM sessions "
       "WHERE session_id = $1",
       {text}},
      {"history",
       "SELECT seq, at, command, ok, text FROM transcript WHERE session_key = $1 AND seq < $2 "
       "ORDER BY seq DESC LIMIT $3",
       {text, int8, int8}},
      {"end_open",
       "UPDATE sessions SET ended_at = $1, end_reason = 'shutdown' WHERE ended_at IS NULL AND "
       "instance = $2",
       {int8, text}},
      {"prune_sessions",
       "DELETE FROM sessions WHERE ended_at IS NOT NULL AND ended_at < $1",
       {int8}},
      {"prune_orphans",
       "DELETE FROM transcript t WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.session_key "
       "= t.session_key)",
       {}},
  };
}

// Ids and keys are made by gateways from [a-z0-9]: one with a NUL byte names nothing
// (and a text parameter cannot carry it).
bool names_nothing(const std::string& id) {
  return id.find('\0') != std::string::npos;
}

}  // namespace

PgStore::PgStore(asio::io_context& io, Log& log, const std::string& conninfo, std::string instance,
                 std::string holder, bool power_safe)
    : io_(io),
      log_(log),
      where_(redacted_store(conninfo)),
      instance_(std::move(instance)),
      holder_(std::move(holder)),
      power_safe_(power_safe),
      db_(conninfo, statements()) {
  // At start a slow database gets longer than a request would: 5 s, then exit 1.
  // The schema first, on a connection of its own: the statements need the tables.
  {
    PgConnection setup(conninfo, {});
    auto deadline = steady_clock::now() + std::chrono::seconds(5);
    if (!setup.connect(deadline, {}))
      throw std::runtime_error("cannot connect to store " + where_ + ": " + setup.error());
    migrate_pg_schema(setup, log_, where_, deadline);
    // One gateway per instance name in a fleet: a name another holder's current lease
    // holds is refused now (exit 1), not discovered by ending each other's sessions.
    std::string other;
    auto held = setup.run_sql(
        "SELECT holder FROM leases WHERE instance = $1 AND holder <> $2 "
        "AND NOT lost AND expires_at > " LIFELINE_DB_NOW,
        {PgParam::text(instance_), PgParam::text(holder_)}, deadline,
        [&other](const PgRow& row) { other = row.bytes(0); });
    if (!held.ok)
      throw std::runtime_error("store " + where_ + ": cannot read the leases: " + setup.error());
    if (!other.empty())
      throw std::runtime_error("store " + where_ + ": instance " + instance_ +
                               " is held by another gateway (" + other +
                               ") whose lease is current: give this one another --instance, "
                               "or wait for that lease to lapse");
  }
  next_attempt_ = steady_clock::now();
  if (!ensure_connected())
    throw std::runtime_error("cannot connect to store " + where_ + ": " + db_.error());
  thread_ = std::thread([this] { run(); });
}

PgStore::~PgStore() {
  jobs_.stop_and_join(thread_);
}

bool PgStore::ensure_connected() {
  if (db_.connected()) return true;
  auto now = steady_clock::now();
  if (now < next_attempt_) return false;  // fail fast until the backoff has passed
  // Server-side bounds too: a statement or transaction abandoned by a lost connection
  // does not hold its locks for long.
  if (db_.connect(
          now + connect_deadline,
          {power_safe_ ? "SET synchronous_commit = on" : "SET synchronous_commit = off",
           "SET statement_timeout = 5000", "SET idle_in_transaction_session_timeout = 10000"})) {
    if (reconnecting_)
      log_.write(LogLevel::info, "store: reconnected to " + where_ + " after " +
                                     std::to_string(failed_attempts_) + " failed attempts");
    reconnecting_ = false;
    failed_attempts_ = 0;
    backoff_ = milliseconds(0);
    return true;
  }
  ++failed_attempts_;
  reconnecting_ = true;
  backoff_ = backoff_.count() == 0 ? milliseconds(100) : std::min(backoff_ * 2, milliseconds(5000));
  next_attempt_ = now + backoff_;
  log_.write(LogLevel::warn, "store: cannot reach " + where_ + " (" + db_.error() +
                                 "); requests fail with store_unavailable; retrying in " +
                                 std::to_string(backoff_.count()) + " ms");
  return false;
}

void PgStore::run() {
  for (;;) {
    // Group commit: whatever queued while the last batch committed shares the next
    // transaction. Nobody hears back before the commit.
    std::vector<Job> batch = jobs_.take(max_batch);
    if (batch.empty()) return;  // stopping, and drained
    // Each step has its own deadline: a database that stops answering fails the first
    // step that waits on it (and closes the connection, so the rest fail at once), while
    // a large healthy batch is never cut short for its size.
    auto deadline = [] { return steady_clock::now() + step_deadline; };
    bool up = ensure_connected();
    bool began = up && db_.exec("BEGIN", deadline());
    // Outside a transaction a job's writes would commit alone, and be reported failed.
    if (up && !began) db_.close();
    bool savepoints = began && batch.size() > 1;
    bool failed = false;
    std::vector<JobResult> results;
    results.reserve(batch.size());
    for (auto& job : batch) {
      // Each job in a savepoint of its own: one that fails leaves the others standing.
      bool savepoint = savepoints && db_.connected() && db_.exec("SAVEPOINT job", deadline());
      results.push_back(job(db_, deadline()));
      failed = failed || !results.back().ok;
      if (savepoint && db_.connected()) {
        if (!results.back().ok) db_.exec("ROLLBACK TO SAVEPOINT job", deadline());
        db_.exec("RELEASE SAVEPOINT job", deadline());
      }
    }
    bool committed = false;
    if (began && db_.connected()) {
      if (!savepoints && failed)
        db_.exec("ROLLBACK", deadline());  // the lone job failed: nothing of it stays
      else if (!(committed = db_.exec("COMMIT", deadline())) && db_.connected())
        db_.exec("ROLLBACK", deadline());
    }
    if (began && !db_.connected()) {
      // A commit whose answer never came is reported failed: maybe it landed, but
      // nothing unacknowledged is promised, and nothing acknowledged is lost.
      log_.write(LogLevel::error, "store: lost the connection to " + where_ + " (" + db_.error() +
                                      "); " + std::to_string(batch.size()) +
                                      " requests failed; reconnecting");
      // Not at once: a request queued behind the lost step would wait for a connection
      // attempt too. The next batch fails at once; the one after 100 ms reconnects.
      backoff_ = milliseconds(100);
      next_attempt_ = steady_clock::now() + backoff_;
      reconnecting_ = true;
    }
    for (auto& r : results)
      if (r.finish) r.finish(r.ok && committed);
  }
}

void PgStore::record_start(const SessionRecord& rec, std::function<void(bool)> done) {
  submit([this, rec, done = std::move(done)](PgConnection& db, PgDeadline d) -> JobResult {
    bool ok = !fault(Fault::store_start) &&
              db.run("start",
                     {PgParam::text(rec.session_id), PgParam::text(rec.session_key),
                      PgParam::text(rec.title), PgParam::i64(rec.close_on_disconnect),
                      PgParam::i64(rec.created_at), PgParam::text(instance_)},
                     d)
                  .ok;
    return {ok,
            [this, done](bool durable) { asio::post(io_, [done, durable] { done(durable); }); }};
  });
}

void PgStore::record_end(const std::string& session_id, const std::string& reason, WallMs at,
                         std::function<void(bool)> done) {
  submit([this, session_id, reason, at, done = std::move(done)](PgConnection& db,
                                                                PgDeadline d) -> JobResult {
    bool ok =
        !fault(Fault::store_end) &&
        db.run("end", {PgParam::i64(at), PgParam::text(reason), PgParam::text(session_id)}, d).ok;
    return {ok,
            [this, done](bool durable) { asio::post(io_, [done, durable] { done(durable); }); }};
  });
}

void PgStore::append(const std::string& session_key, HistoryEntry entry,
                     std::function<void(StoreReply<std::int64_t>)> done) {
  submit([this, session_key, entry, done = std::move(done)](PgConnection& db,
                                                            PgDeadline d) -> JobResult {
    std::int64_t seq = -1;
    bool ok =
        !names_nothing(session_key) && !fault(Fault::store_append) &&
        db.run("append",
               {PgParam::text(session_key), PgParam::i64(entry.at), PgParam::bytea(entry.command),
                PgParam::i64(entry.ok), PgParam::bytea(entry.text)},
               d, [&seq](const PgRow& row) { seq = row.i64(0); })
            .ok &&
        seq > 0;
    if (!ok) log_.write(LogLevel::error, "store append failed: " + db.error());
    return {ok, [this, done, seq](bool durable) {
              StoreReply<std::int64_t> reply;
              if (durable) reply = {true, seq};
              asio::post(io_, [done, reply] { done(reply); });
            }};
  });
}

void PgStore::find_session(const std::string& session_id,
                           std::function<void(StoreReply<std::optional<SessionRecord>>)> done) {
  submit([this, session_id, done = std::move(done)](PgConnection& db, PgDeadline d) -> JobResult {
    auto reply = std::make_shared<StoreReply<std::optional<SessionRecord>>>();
    if (names_nothing(session_id)) {
      reply->ok = true;
    } else if (!fault(Fault::store_read)) {
      std::optional<SessionRecord> found;
      reply->ok = db.run("find", {PgParam::text(session_id)}, d, [&](const PgRow& row) {
                      SessionRecord r;
                      r.session_id = session_id;
                      r.session_key = row.bytes(0);
                      r.title = row.bytes(1);
                      r.close_on_disconnect = row.i64(2) != 0;
                      r.created_at = row.i64(3);
                      if (!row.null(4)) r.end_reason = row.bytes(4);
                      found = std::move(r);
                    }).ok;
      if (reply->ok && found) {
        reply->ok = db.run("holder", {PgParam::text(found->session_key)}, d, [&](const PgRow& row) {
                        found->holder = SessionHolder{row.bytes(0), row.bytes(1), row.i64(2) != 0};
                      }).ok;
      }
      reply->value = std::move(found);
    }
    // A read's answer stands whatever the batch's commit does.
    return {true, [this, done, reply](bool) { asio::post(io_, [done, reply] { done(*reply); }); }};
  });
}

void PgStore::history(const std::string& session_key, const HistoryQuery& query,
                      std::function<void(StoreReply<HistoryPage>)> done) {
  submit([this, session_key, query, done = std::move(done)](PgConnection& db,
                                                            PgDeadline d) -> JobResult {
    auto reply = std::make_shared<StoreReply<HistoryPage>>();
    if (names_nothing(session_key)) {
      reply->ok = true;
    } else if (!fault(Fault::store_read)) {
      // Rows arrive one at a time, newest first, through the pager; one past the count
      // tells it whether older ones remain. Rows past a full page are read and dropped.
      HistoryPager pager(query);
      bool open = true;
      reply->ok =
          db.run("history",
                 {PgParam::text(session_key), PgParam::i64(query.before_seq.value_or(INT64_MAX)),
                  PgParam::i64(query.limit + 1)},
                 d,
                 [&](const PgRow& row) {
                   open = open && pager.offer({row.i64(0), row.i64(1), row.bytes(2),
                                               row.i64(3) != 0, row.bytes(4)});
                 })
              .ok;
      reply->value = std::move(pager).finish();
    }
    return {true, [this, done, reply](bool) { asio::post(io_, [done, reply] { done(*reply); }); }};
  });
}

void PgStore::renew_lease(const std::string& instance, Millis ttl,
                          std::function<void(StoreReply<LeaseRenewal>)> done) {
  submit([this, instance, ttl, done = std::move(done)](PgConnection& db,
                                                       PgDeadline d) -> JobResult {
    StoreReply<LeaseRenewal> reply;
    bool was_lost = false;
    reply.ok = db.run("lease_row", {PgParam::text(instance)}, d, [&was_lost](const PgRow& row) {
                   was_lost = row.i64(0) != 0;
                 }).ok;
    if (reply.ok) {
      PgOutcome renewed =
          db.run("renew", {PgParam::text(instance), PgParam::text(holder_), PgParam::i64(ttl)}, d);
      reply.ok = renewed.ok;
      reply.value.renewed = renewed.affected == 1;
      reply.value.was_lost = reply.value.renewed && was_lost;
    }
    // Held only once committed: a renewal that did not commit renewed nothing.
    return {reply.ok, [this, done, reply](bool durable) {
              StoreReply<LeaseRenewal> r = reply;
              if (!durable) r = {};
              asio::post(io_, [done, r] { done(r); });
            }};
  });
}

void PgStore::claim(const SessionRecord& rec, const std::optional<std::string>& lost_owner,
                    WallMs at, std::function<void(StoreReply<Claim>)> done) {
  submit([this, rec, lost_owner, at, done = std::move(done)](PgConnection& db,
                                                             PgDeadline d) -> JobResult {
    StoreReply<Claim> reply;
    reply.ok = claim_in(db, d, rec, lost_owner, at, reply.value);
    return {reply.ok, [this, done, reply](bool durable) {
              StoreReply<Claim> r = reply;
              if (!durable) r = {};
              asio::post(io_, [done, r] { done(r); });
            }};
  });
}

// The claim's statements, in the batch's transaction (one savepoint: all or nothing).
bool PgStore::claim_in(PgConnection& db, PgDeadline d, const SessionRecord& rec,
                       const std::optional<std::string>& lost_owner, WallMs at, Claim& out) {
  if (fault(Fault::store_start)) return false;
  auto holder = [&] {
    return db
        .run("holder", {PgParam::text(rec.session_key)}, d,
             [&](const PgRow& row) {
               out.holder = SessionHolder{row.bytes(0), row.bytes(1), row.i64(2) != 0};
             })
        .ok;
  };
  if (lost_owner) {
    // The owner's lease row, locked: a racing claimant waits here, then finds it lost.
    bool current = false;
    if (!db.run("lease_current", {PgParam::text(*lost_owner)}, d, [&](const PgRow& row) {
             current = row.i64(0) != 0;
           }).ok)
      return false;
    if (current) return holder();  // the owner came back: not ours to take
    if (!db.run("end_lost", {PgParam::i64(at), PgParam::text(*lost_owner)}, d).ok ||
        !db.run("mark_lost", {PgParam::text(*lost_owner)}, d).ok)
      return false;
  }
  if (!db.run("end_stale",
              {PgParam::i64(at), PgParam::text(rec.session_key), PgParam::text(instance_)}, d)
           .ok)
    return false;
  PgOutcome inserted = db.run("claim",
                              {PgParam::text(rec.session_id), PgParam::text(rec.session_key),
                               PgParam::text(rec.title), PgParam::i64(rec.close_on_disconnect),
                               PgParam::i64(rec.created_at), PgParam::text(instance_)},
                              d);
  if (!inserted.ok) return false;
  out.won = inserted.affected == 1;
  return out.won || holder();
}

void PgStore::count_job(const char* statement, std::vector<PgParam> params,
                        std::function<void(int)> done) {
  submit([statement, params = std::move(params), done = std::move(done)](
             PgConnection& db, PgDeadline d) -> JobResult {
    PgOutcome r = db.run(statement, params, d);
    int n = r.ok ? static_cast<int>(r.affected) : -1;
    if (r.ok && n > 0 && std::string(statement) == "prune_sessions")
      r.ok = db.run("prune_orphans", {}, d).ok;
    return {r.ok, [done, n](bool durable) { done(durable ? n : -1); }};
  });
}

int PgStore::wait_for_count(const char* statement, std::vector<PgParam> params) {
  std::promise<int> done;
  auto count = done.get_future();
  count_job(statement, std::move(params), [&done](int n) { done.set_value(n); });
  return count.get();
}

int PgStore::end_sessions_left_open(WallMs at) {
  return wait_for_count("end_open", {PgParam::i64(at), PgParam::text(instance_)});
}

int PgStore::prune(WallMs cutoff) {
  return wait_for_count("prune_sessions", {PgParam::i64(cutoff)});
}

void PgStore::prune_async(WallMs cutoff, std::function<void(int)> done) {
  count_job("prune_sessions", {PgParam::i64(cutoff)},
            [this, done = std::move(done)](int n) { asio::post(io_, [done, n] { done(n); }); });
}

}  // namespace lifeline::runtime
