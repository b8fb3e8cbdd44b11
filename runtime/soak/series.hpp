// The soak's time series: one row per audit, written as CSV as it goes and drawn as an
// SVG at the end (processes, fds and RSS over time, with the kills and fault windows
// marked), for a person to read at a glance.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace lifeline::soak {

struct SeriesRow {
  double t_s = 0;
  std::int64_t lifecycles = 0;
  std::int64_t kills = 0;
  std::int64_t faults = 0;
  int processes = 0;
  int unowned = 0;
  int zombies = 0;
  std::int64_t fds = 0;
  std::int64_t rss_kib = 0;
  std::int64_t sessions = 0;
  std::int64_t ptys = 0;
  std::int64_t connections = 0;
};

class Series {
 public:
  // dir "" keeps the rows in memory only.
  explicit Series(std::string dir);
  ~Series();
  Series(const Series&) = delete;
  Series& operator=(const Series&) = delete;
  void add(const SeriesRow& row);
  void mark_kill(double t_s, bool graceful);
  void mark_fault_window(double from_s, double to_s);
  // Writes <dir>/soak.svg; returns its path ("" without a dir).
  std::string plot(const std::string& title) const;

 private:
  std::string dir_;
  std::FILE* csv_ = nullptr;
  std::vector<SeriesRow> rows_;
  std::vector<std::pair<double, bool>> kills_;
  std::vector<std::pair<double, double>> faults_;
};

}  // namespace lifeline::soak
