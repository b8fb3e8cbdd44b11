// The parser of one /proc/<pid>/stat line, kept apart from the reading so that it is pure
// (unit-tested and fuzzed): the process table is a fact the shells report, and a
// misparsed start time is the C3 bug (a healthy process taken for another incarnation).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace lifeline {

// The one distinction drawn from /proc's state letter: a zombie ('Z') has exited and waits
// for its parent's reap, so killing it does nothing and it still holds its pid; 'X' is
// being reaped right now. Every other letter (running, sleeping, stopped, ...) can still
// act and be signalled.
enum class ProcState { alive, zombie, dead };

struct ProcStat {
  int pid = 0;
  ProcState state = ProcState::alive;
  int ppid = 0;
  int pgid = 0;
  int sid = 0;
  std::uint64_t start_ticks = 0;  // field 22: start time in clock ticks since boot
};

// "pid (comm) state ppid pgrp session ... starttime ...". comm may hold spaces and
// parentheses, so the fields resume after the last ')'. Anything malformed, truncated or
// out of range gives nullopt, never a guess.
std::optional<ProcStat> parse_proc_stat(std::string_view line);

}  // namespace lifeline
