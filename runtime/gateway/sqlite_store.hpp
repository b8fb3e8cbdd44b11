// The Store port over SQLite (WAL), on a thread of its own, committing in batches. Every
// completion is posted back to the event loop; an entry is acknowledged only after
// its transaction committed.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/ports.hpp"
#include "runtime/gateway/child_ledger.hpp"
#include "runtime/gateway/io.hpp"
#include "runtime/gateway/job_queue.hpp"

struct sqlite3;

namespace lifeline::runtime {

class Statements;

class SqliteStore final : public Store, public ChildLedger {
 public:
  // Opens (creating) the database; throws std::runtime_error with a clear message.
  // power_safe: synchronous=FULL for every batch holding a transcript entry, so that an
  // acknowledged entry survives power loss (one fsync per such batch). Otherwise
  // synchronous=NORMAL: it survives any crash of the gateway (the OOM killer's SIGKILL included),
  // and the last batches may be lost on power loss.
  // instance: --instance, recorded with each session ("" when unnamed).
  SqliteStore(asio::io_context& io, Log& log, const std::string& path, bool power_safe = true,
              std::string instance = {});
  ~SqliteStore() override;  // drains queued work, then closes

  void record_start(const SessionRecord& rec, std::function<void(bool ok)> done) override;
  void record_end(const std::string& session_id, const std::string& reason, WallMs at,
                  std::function<void(bool ok)> done) override;
  void append(const std::string& session_key, HistoryEntry entry,
              std::function<void(StoreReply<std::int64_t>)> done) override;
  void find_session(const std::string& session_id,
                    std::function<void(StoreReply<std::optional<SessionRecord>>)> done) override;
  void history(const std::string& session_key, const HistoryQuery& query,
               std::function<void(StoreReply<HistoryPage>)> done) override;

  // ChildLedger: fire and forget (a failure is logged); rows become durable in order.
  void ledger_add(const LedgerRow& row) override;
  void ledger_remove(int pid, std::uint64_t start_ticks) override;
  // Every row a predecessor left, removed from the table: call once, before serving.
  std::vector<LedgerRow> ledger_take();

  // Sessions a dead predecessor left open are over: their end is recorded (as
  // `shutdown`, at `at`), so that the store agrees with an empty registry. Call once,
  // before serving; returns how many.
  int end_sessions_left_open(WallMs at);

  // --retain-days: deletes ended sessions that ended before `cutoff`, and the history of
  // every session key no remaining session continues. Blocks until done; returns how
  // many sessions went. vacuum: also give the freed pages back to the file system.
  int prune(WallMs cutoff, bool vacuum);
  // The same, daily, without blocking: done(sessions pruned) on the event loop.
  void prune_async(WallMs cutoff, std::function<void(int)> done);

 private:
  // What one job did inside a batch: whether its writes stand, and what to tell its
  // caller once the batch's fate is known (durable: its writes are committed).
  struct JobResult {
    bool ok = true;
    std::function<void(bool durable)> finish;
  };
  using Job = std::function<JobResult(Statements&)>;
  // acknowledged: a client is told once the job's writes are durable (a transcript
  // entry). Only a batch holding such a job pays for an fsync; the rest (session rows,
  // ledger rows, reads) need durability across a gateway death alone - after a power
  // loss no child of ours is left to find - and the WAL makes every earlier commit
  // durable with the next fsync'd one.
  struct Queued {
    Job job;
    bool acknowledged = false;
  };
  static constexpr std::size_t max_batch = 256;

  void submit(Job job, bool acknowledged = false);
  void prune_job(WallMs cutoff, std::function<void(int)> done);  // done on the store thread
  void run();

  asio::io_context& io_;
  Log& log_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<Statements> statements_;  // the store thread's, once it runs
  JobQueue<Queued> jobs_;
  bool power_safe_ = true;
  bool syncing_ = true;   // the connection's current synchronous=FULL (store thread)
  std::string instance_;  // --instance, recorded with each session
  std::thread thread_;
};

}  // namespace lifeline::runtime
