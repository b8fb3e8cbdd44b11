#include "sim/sim_store.hpp"

#include <algorithm>

#include "core/history_page.hpp"
#include "sim/world.hpp"

namespace lifeline::sim {

void SimStore::enqueue(Incarnation by, bool write, std::function<void(bool)> run, bool faultable) {
  Millis latency = w_.config.store_latency;
  if (w_.faults.active && w_.faults.slow_store_ops > 0) {
    --w_.faults.slow_store_ops;
    latency += w_.faults.slow_store_ms;
  }
  Millis due = std::max(last_due_, w_.sched.now() + latency);  // one thread: FIFO
  last_due_ = due;
  queue_.push_back(Op{by, write, faultable, due, std::move(run)});
  if (!scheduled_) {
    scheduled_ = true;
    w_.sched.at(queue_.front().due, 0, [this] { process(); });
  }
}

void SimStore::process() {
  scheduled_ = false;
  if (queue_.empty()) return;
  if (queue_.front().due > w_.sched.now()) {  // the op this wake-up was for was lost in a crash
    scheduled_ = true;
    w_.sched.at(queue_.front().due, 0, [this] { process(); });
    return;
  }
  Op op = std::move(queue_.front());
  queue_.pop_front();
  bool failed = false;
  if (op.write && op.faultable && w_.faults.active && w_.faults.store_write_failures > 0) {
    --w_.faults.store_write_failures;
    failed = true;
  }
  op.run(failed);
  if (!queue_.empty()) {
    scheduled_ = true;
    w_.sched.at(queue_.front().due, 0, [this] { process(); });
  }
}

void SimStore::crash(Incarnation by) {
  std::deque<Op> keep;
  std::vector<Op> lost;
  for (auto& op : queue_) {
    if (op.by == by)
      lost.push_back(std::move(op));
    else
      keep.push_back(std::move(op));
  }
  queue_ = std::move(keep);
  // A prefix of the dead gateway's writes made it to disk; nobody hears about them.
  std::size_t landed =
      static_cast<std::size_t>(w_.rng.below(static_cast<std::int64_t>(lost.size()) + 1));
  for (std::size_t i = 0; i < landed; ++i)
    if (lost[i].write) lost[i].run(false);
  w_.trace("store.crash",
           "\"queued\":" + std::to_string(lost.size()) + ",\"landed\":" + std::to_string(landed));
}

void SimStore::record_start(Incarnation by, const SessionRecord& rec,
                            std::function<void(bool)> done) {
  enqueue(by, true, [this, by, rec, done = std::move(done)](bool failed) {
    if (!failed) sessions_[rec.session_id] = rec;
    if (done) w_.sched.after(0, by, [done, failed] { done(!failed); });
  });
}

void SimStore::record_end(Incarnation by, const std::string& id, const std::string& reason, WallMs,
                          std::function<void(bool)> done) {
  end_requests_max_ = std::max(end_requests_max_, ++end_requests_[id]);
  ++end_requests_total_;
  enqueue(by, true, [this, by, id, reason, done = std::move(done)](bool failed) {
    if (!failed)
      // The first end stands, as in the real stores (ended_at IS NULL).
      if (auto it = sessions_.find(id); it != sessions_.end() && !it->second.end_reason)
        it->second.end_reason = reason;
    if (done) w_.sched.after(0, by, [done, failed] { done(!failed); });
  });
}

void SimStore::append(Incarnation by, const std::string& key, HistoryEntry entry,
                      std::function<void(StoreReply<std::int64_t>)> done) {
  enqueue(by, true,
          [this, by, key, entry = std::move(entry), done = std::move(done)](bool failed) mutable {
            StoreReply<std::int64_t> r;
            if (!failed) {
              auto& list = entries_[key];
              entry.seq = static_cast<std::int64_t>(list.size()) + 1;
              list.push_back(entry);
              r = {true, entry.seq};
              w_.trace("store.commit",
                       "\"key\":" + json_str(key) + ",\"seq\":" + std::to_string(entry.seq));
            }
            w_.sched.after(0, by, [done, r] { done(r); });
          });
}

void SimStore::find_session(Incarnation by, const std::string& id,
                            std::function<void(StoreReply<std::optional<SessionRecord>>)> done) {
  enqueue(by, false, [this, by, id, done = std::move(done)](bool) {
    StoreReply<std::optional<SessionRecord>> r{true, std::nullopt};
    if (auto it = sessions_.find(id); it != sessions_.end()) r.value = it->second;
    w_.sched.after(0, by, [done, r] { done(r); });
  });
}

void SimStore::history(Incarnation by, const std::string& key, const HistoryQuery& query,
                       std::function<void(StoreReply<HistoryPage>)> done) {
  enqueue(by, false, [this, by, key, query, done = std::move(done)](bool) {
    HistoryPager pager(query);
    if (auto it = entries_.find(key); it != entries_.end())
      for (auto e = it->second.rbegin(); e != it->second.rend() && pager.offer(*e); ++e) {
      }
    StoreReply<HistoryPage> r{true, std::move(pager).finish()};
    w_.sched.after(0, by, [done, r] { done(r); });
  });
}

void SimStore::ledger_add(Incarnation by, const LedgerRow& row) {
  enqueue(
      by, true,
      [this, row](bool) {
        ledger_[{row.pid, row.start_ticks}] = row;
      },
      false);
}

void SimStore::ledger_remove(Incarnation by, int pid, std::uint64_t start_ticks) {
  enqueue(
      by, true,
      [this, pid, start_ticks](bool) {
        ledger_.erase({pid, start_ticks});
      },
      false);
}

std::vector<SimStore::LedgerRow> SimStore::ledger_take() {
  std::vector<LedgerRow> rows;
  for (const auto& [key, row] : ledger_) rows.push_back(row);
  ledger_.clear();
  return rows;
}

bool SimStore::durable(const std::string& key, std::int64_t seq) const {
  auto it = entries_.find(key);
  return it != entries_.end() && seq >= 1 && static_cast<std::size_t>(seq) <= it->second.size() &&
         it->second[static_cast<std::size_t>(seq - 1)].seq == seq;
}

}  // namespace lifeline::sim
