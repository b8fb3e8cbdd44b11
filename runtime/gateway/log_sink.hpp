// Where the gateway's log lines go: stderr, one line each, in the form an operator's
// tools read (docs/PROTOCOL.md section 7, "Logs"):
// - text: "2026-12-02T17:42:29.291+00:00 lifeline-gateway info: MESSAGE";
// - under systemd (JOURNAL_STREAM set): "<6>MESSAGE" — the syslog priority prefix of
//   sd-daemon(3), so that journalctl -p warning filters, and no timestamp (journald adds
//   its own);
// - json: {"ts":"…","level":"info","priority":6,"msg":"…"}, one object per line.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

#include "core/ports.hpp"

namespace lifeline::runtime {

enum class LogFormat { text, json };

class StderrLog final : public Log {
 public:
  StderrLog(LogFormat format, bool journal) : format_(format), journal_(journal) {}
  void write(LogLevel level, std::string_view message) override;
  // What a line looks like, for a given time (tests; the clock is read by write()).
  std::string render(LogLevel level, std::string_view message, long long unix_ms,
                     int utc_offset_minutes) const;

 private:
  LogFormat format_;
  bool journal_;
  std::mutex mu_;  // the store thread logs too
};

}  // namespace lifeline::runtime
