// The run's trace: one JSON line per simulated event, chained into a rolling FNV-1a
// hash. Same seed, same lines, same hash - `--check-determinism` compares the per-event
// hashes of two runs and names the first event where they part.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "core/ports.hpp"

namespace lifeline::sim {

class Trace {
 public:
  // out: where JSON lines go (nullptr: nowhere). keep_hashes: remember each event's hash.
  Trace(std::ostream* out, bool keep_hashes) : out_(out), keep_hashes_(keep_hashes) {}

  // fields: a JSON object body fragment (`"pid":3,"why":"x"`), or empty.
  void add(Millis t, std::string_view event, std::string_view fields);
  // Free-form lines (core logs) go to the file only: they are not events.
  void note(Millis t, std::string_view who, std::string_view text);

  std::uint64_t hash() const { return hash_; }
  std::uint64_t count() const { return count_; }
  const std::vector<std::uint64_t>& hashes() const { return hashes_; }
  std::vector<std::string> recent() const;  // the last lines, oldest first
  bool writing() const { return out_ != nullptr; }
  bool keep_recent = false;

 private:
  std::ostream* out_;
  bool keep_hashes_;
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
  std::uint64_t count_ = 0;
  std::vector<std::uint64_t> hashes_;
  void remember(const std::string& line);
  // A ring of the last kRecent lines, reused in place (no allocation per event).
  static constexpr std::size_t kRecent = 40;
  std::vector<std::string> recent_;
  std::size_t recent_next_ = 0;
  std::string line_;
};

// JSON string escaping for trace fields.
std::string json_str(std::string_view text);

}  // namespace lifeline::sim
