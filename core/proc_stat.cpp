#include "core/proc_stat.hpp"

#include <charconv>
#include <limits>

namespace lifeline {

namespace {

// Splits off the next space-separated field; empty when none is left.
std::string_view next_field(std::string_view& rest) {
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  std::size_t end = rest.find(' ');
  if (end == std::string_view::npos) end = rest.size();
  std::string_view field = rest.substr(0, end);
  rest.remove_prefix(end);
  return field;
}

template <typename T>
bool parse_number(std::string_view field, T& out) {
  if (field.empty()) return false;
  const char* end = field.data() + field.size();
  auto [ptr, ec] = std::from_chars(field.data(), end, out);
  return ec == std::errc() && ptr == end;
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.remove_suffix(1);
  std::size_t open = line.find(" (");
  std::size_t close = line.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open)
    return std::nullopt;
  ProcStat st;
  if (!parse_number(line.substr(0, open), st.pid) || st.pid <= 0) return std::nullopt;
  std::string_view rest = line.substr(close + 1);
  std::string_view state = next_field(rest);  // field 3
  if (state.size() != 1) return std::nullopt;
  st.state = state.front() == 'Z'   ? ProcState::zombie
             : state.front() == 'X' ? ProcState::dead
                                    : ProcState::alive;
  if (!parse_number(next_field(rest), st.ppid) || st.ppid < 0) return std::nullopt;  // 4
  if (!parse_number(next_field(rest), st.pgid) || st.pgid < 0) return std::nullopt;  // 5
  if (!parse_number(next_field(rest), st.sid) || st.sid < 0) return std::nullopt;    // 6
  for (int field = 7; field < 22; ++field)
    if (next_field(rest).empty()) return std::nullopt;
  if (!parse_number(next_field(rest), st.start_ticks)) return std::nullopt;  // 22
  return st;
}

}  // namespace lifeline
