// The store, in memory, with the crash semantics of a real one: an operation completes
// (and its completion is posted to the gateway) only once it is durable; when the
// gateway dies, the writes it had queued land as some prefix - the rest vanish - and
// no completion is ever delivered for them. Latency and failures come from the faults.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/ports.hpp"
#include "sim/scheduler.hpp"

namespace lifeline::sim {

class World;

class SimStore {
 public:
  explicit SimStore(World& world) : w_(world) {}

  void record_start(Incarnation by, const SessionRecord& rec, std::function<void(bool)> done);
  void record_end(Incarnation by, const std::string& session_id, const std::string& reason,
                  WallMs at, std::function<void(bool)> done);
  void append(Incarnation by, const std::string& key, HistoryEntry entry,
              std::function<void(StoreReply<std::int64_t>)> done);
  void find_session(Incarnation by, const std::string& session_id,
                    std::function<void(StoreReply<std::optional<SessionRecord>>)> done);
  void history(Incarnation by, const std::string& key, const HistoryQuery& query,
               std::function<void(StoreReply<HistoryPage>)> done);

  // The persistent child ledger (the runtime's `children` table): every child the
  // gateway spawned, until it is released, so that a restarted gateway can kill what a
  // SIGKILLed predecessor left. Written through the store queue (durable later).
  using LedgerRow = lifeline::LedgerRow;  // the core's row: the one the policy reads
  void ledger_add(Incarnation by, const LedgerRow& row);
  void ledger_remove(Incarnation by, int pid, std::uint64_t start_ticks);
  // Read at start-up, before serving (synchronous, like the runtime's), then cleared.
  std::vector<LedgerRow> ledger_take();

  // The gateway incarnation `by` died: a prefix of its queued writes lands, the rest is lost.
  void crash(Incarnation by);

  bool durable(const std::string& key, std::int64_t seq) const;
  std::size_t pending() const { return queue_.size(); }
  const std::unordered_map<std::string, int>& end_requests() const { return end_requests_; }
  int end_requests_max() const { return end_requests_max_; }
  std::uint64_t end_requests_total() const { return end_requests_total_; }

 private:
  struct Op {
    Incarnation by;
    bool write;
    bool faultable;  // injected write failures hit transcript writes, not the ledger
    Millis due;
    std::function<void(bool failed)> run;  // applies (unless failed) and posts the completion
  };
  void enqueue(Incarnation by, bool write, std::function<void(bool)> run, bool faultable = true);
  void process();

  World& w_;
  std::deque<Op> queue_;
  bool scheduled_ = false;
  Millis last_due_ = 0;
  std::map<std::string, SessionRecord> sessions_;
  std::map<std::string, std::vector<HistoryEntry>> entries_;
  std::unordered_map<std::string, int> end_requests_;  // session id -> record_end calls
  int end_requests_max_ = 0;
  std::uint64_t end_requests_total_ = 0;
  std::map<std::pair<int, std::uint64_t>, LedgerRow> ledger_;
};

// The Store port of one gateway incarnation.
class StoreView final : public Store {
 public:
  StoreView(SimStore& store, Incarnation by) : store_(store), by_(by) {}
  void record_start(const SessionRecord& rec, std::function<void(bool)> done) override {
    store_.record_start(by_, rec, std::move(done));
  }
  void record_end(const std::string& id, const std::string& reason, WallMs at,
                  std::function<void(bool)> done) override {
    store_.record_end(by_, id, reason, at, std::move(done));
  }
  void append(const std::string& key, HistoryEntry e,
              std::function<void(StoreReply<std::int64_t>)> done) override {
    store_.append(by_, key, std::move(e), std::move(done));
  }
  void find_session(const std::string& id,
                    std::function<void(StoreReply<std::optional<SessionRecord>>)> done) override {
    store_.find_session(by_, id, std::move(done));
  }
  void history(const std::string& key, const HistoryQuery& query,
               std::function<void(StoreReply<HistoryPage>)> done) override {
    store_.history(by_, key, query, std::move(done));
  }

 private:
  SimStore& store_;
  Incarnation by_;
};

}  // namespace lifeline::sim
