// One page of a session's transcript (session.history, docs/PROTOCOL.md): the newest `limit`
// entries before `before_seq`, cut further so the reply stays under a byte bound
// (docs/DESIGN.md rule 12), oldest first, with `more` when older entries remain. Every store
// (SQLite, the simulator's, the unit tests' fake) walks its entries newest first through
// one HistoryPager, so the paging rule is written once.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/ports.hpp"

namespace lifeline {

class HistoryPager {
 public:
  explicit HistoryPager(const HistoryQuery& query) : query_(query) {}

  // Offer the next entry, newest first (entries at or after before_seq are skipped).
  // Returns false when the page is full: this entry and any older ones are left for the
  // next page (more = true).
  bool offer(HistoryEntry entry);

  // The page, oldest first. The newest entry always fits, whatever its size, so that a
  // client paging back by before_seq always makes progress.
  HistoryPage finish() &&;

  // What one entry costs toward max_bytes: its strings as JSON may escape them (6 bytes
  // for a control character) plus the fixed keys, so the bound holds for the reply.
  static std::int64_t cost(const HistoryEntry& e);

 private:
  HistoryQuery query_;
  std::vector<HistoryEntry> newest_first_;
  std::int64_t bytes_ = 0;
  bool more_ = false;
};

}  // namespace lifeline
