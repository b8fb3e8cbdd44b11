#include "runtime/gateway/log_sink.hpp"

#include <time.h>

#include <cstdio>

#include "core/json.hpp"

namespace lifeline::runtime {

namespace {

const char* level_name(LogLevel level) {
  static const char* names[] = {"debug", "info", "warn", "error"};
  return names[static_cast<int>(level)];
}

// syslog priorities (sd-daemon(3)): debug 7, info 6, warning 4, error 3.
int priority(LogLevel level) {
  static const int priorities[] = {7, 6, 4, 3};
  return priorities[static_cast<int>(level)];
}

// ISO 8601 with milliseconds and the local offset: 2026-12-02T17:42:29.291+01:00.
std::string iso8601(long long unix_ms, int offset_minutes) {
  time_t local = static_cast<time_t>(unix_ms / 1000) + static_cast<time_t>(offset_minutes) * 60;
  tm t{};
  gmtime_r(&local, &t);
  char when[64];
  int off = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  std::snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03lld%c%02d:%02d",
                t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                unix_ms % 1000, offset_minutes < 0 ? '-' : '+', off / 60, off % 60);
  return when;
}

}  // namespace

std::string StderrLog::render(LogLevel level, std::string_view message, long long unix_ms,
                              int utc_offset_minutes) const {
  if (format_ == LogFormat::json) {
    Json line = {{"ts", iso8601(unix_ms, utc_offset_minutes)},
                 {"level", level_name(level)},
                 {"priority", priority(level)},
                 {"msg", std::string(message)}};
    return line.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  if (journal_) return "<" + std::to_string(priority(level)) + ">" + std::string(message);
  return iso8601(unix_ms, utc_offset_minutes) + " lifeline-gateway " + level_name(level) + ": " +
         std::string(message);
}

void StderrLog::write(LogLevel level, std::string_view message) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm local{};
  localtime_r(&ts.tv_sec, &local);
  auto ms = static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
  std::string line = render(level, message, ms, static_cast<int>(local.tm_gmtoff / 60)) + "\n";
  std::lock_guard lock(mu_);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace lifeline::runtime
