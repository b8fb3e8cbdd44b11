#include "core/history_page.hpp"

#include <algorithm>
#include <string_view>

#include "core/assert.hpp"

namespace lifeline {

namespace {
std::int64_t json_string_cost(std::string_view s) {
  std::int64_t n = 2;  // the quotes
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    n += u < 0x20 ? 6 : (c == '"' || c == '\\') ? 2 : 1;
  }
  return n;
}
}  // namespace

std::int64_t HistoryPager::cost(const HistoryEntry& e) {
  // {"seq":N,"at":N,"command":"...","ok":false,"output":"..."}, plus a comma.
  constexpr std::int64_t fixed = 64;
  return fixed + json_string_cost(e.command) + json_string_cost(e.text);
}

bool HistoryPager::offer(HistoryEntry entry) {
  LIFELINE_ASSERT(!more_);  // a full page takes nothing more
  // mutant: a-history-page-includes-its-before-seq-entry
  if (query_.before_seq && entry.seq >= *query_.before_seq) return true;  // newer: skip
  std::int64_t c = cost(entry);
  bool full = static_cast<std::int64_t>(newest_first_.size()) >= query_.limit ||
              (!newest_first_.empty() && bytes_ + c > query_.max_bytes);
  // mutant: a-full-history-page-does-not-say-there-is-more
  if (full) {
    more_ = true;
    return false;
  }
  bytes_ += c;
  newest_first_.push_back(std::move(entry));
  return true;
}

HistoryPage HistoryPager::finish() && {
  HistoryPage page;
  page.more = more_;
  page.entries = std::move(newest_first_);
  std::reverse(page.entries.begin(), page.entries.end());
  return page;
}

}  // namespace lifeline
