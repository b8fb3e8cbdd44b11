// The Store port over PostgreSQL (libpq), for a fleet of gateways sharing one database
// (docs/DESIGN.md, Durability). The same semantics as the SQLite store: one thread, group
// commit (a batch shares one transaction), prepared statements, and a completion only
// once its transaction committed (synchronous_commit on). During an outage every
// request fails within a second (store_unavailable) instead of waiting: a lost
// connection is re-made on demand with a backoff (100 ms doubling to 5 s), and logged.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/ports.hpp"
#include "runtime/gateway/io.hpp"
#include "runtime/gateway/job_queue.hpp"
#include "runtime/gateway/pg_connection.hpp"

namespace lifeline::runtime {

class PgStore final : public Store {
 public:
  // Connects, checks and migrates the schema; throws std::runtime_error with a clear
  // message (the password redacted) when it cannot. power_safe false (LIFELINE_SYNC=normal):
  // synchronous_commit off, so a commit is acknowledged before the database's WAL flush.
  // holder: who this gateway is, beyond its instance name (host and state dir): a restart
  // on the same state dir keeps its lease; another gateway under the same name is refused.
  PgStore(asio::io_context& io, Log& log, const std::string& conninfo, std::string instance,
          std::string holder, bool power_safe = true);
  ~PgStore() override;  // drains queued work, then closes

  void record_start(const SessionRecord& rec, std::function<void(bool ok)> done) override;
  void record_end(const std::string& session_id, const std::string& reason, WallMs at,
                  std::function<void(bool ok)> done) override;
  void append(const std::string& session_key, HistoryEntry entry,
              std::function<void(StoreReply<std::int64_t>)> done) override;
  void find_session(const std::string& session_id,
                    std::function<void(StoreReply<std::optional<SessionRecord>>)> done) override;
  void history(const std::string& session_key, const HistoryQuery& query,
               std::function<void(StoreReply<HistoryPage>)> done) override;
  // A fleet's store (docs/DESIGN.md rule 15): leases and claims, judged by the database's
  // clock, each in one transaction.
  bool shared() const override { return true; }
  void renew_lease(const std::string& instance, Millis ttl,
                   std::function<void(StoreReply<LeaseRenewal>)> done) override;
  void claim(const SessionRecord& rec, const std::optional<std::string>& lost_owner, WallMs at,
             std::function<void(StoreReply<Claim>)> done) override;

  // The SQLite store's start-up calls, for this instance's sessions alone: a fleet's
  // other gateways own theirs. Block until done; -1 when the store failed.
  int end_sessions_left_open(WallMs at);
  int prune(WallMs cutoff);
  void prune_async(WallMs cutoff, std::function<void(int)> done);

  // How long one step of a batch (a statement, or one job's few) may wait on the database
  // before the connection is given up and the batch's jobs fail.
  static constexpr std::chrono::milliseconds step_deadline{800};
  static constexpr std::chrono::milliseconds connect_deadline{500};

 private:
  struct JobResult {
    bool ok = true;
    std::function<void(bool durable)> finish;
  };
  using Job = std::function<JobResult(PgConnection&, PgDeadline)>;
  static constexpr std::size_t max_batch = 256;

  void submit(Job job) { jobs_.submit(std::move(job)); }
  // done(result) on the store thread; -1 when the store failed.
  void count_job(const char* statement, std::vector<PgParam> params, std::function<void(int)> done);
  bool claim_in(PgConnection& db, PgDeadline d, const SessionRecord& rec,
                const std::optional<std::string>& lost_owner, WallMs at, Claim& out);
  int wait_for_count(const char* statement, std::vector<PgParam> params);
  bool ensure_connected();
  void run();

  asio::io_context& io_;
  Log& log_;
  std::string where_;     // the URL, password redacted: for logs
  std::string instance_;  // --instance: recorded with each session, and scopes the start-up
  std::string holder_;    // host and state dir: tells a restart from a second gateway
  bool power_safe_;
  PgConnection db_;
  // The store thread's reconnection state.
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{0};
  int failed_attempts_ = 0;
  bool reconnecting_ = false;  // a connection was lost or refused: say when one is back
  JobQueue<Job> jobs_;
  std::thread thread_;
};

}  // namespace lifeline::runtime
