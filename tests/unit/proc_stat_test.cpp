// The pure /proc/<pid>/stat parser: the start time it returns decides whether a process
// is the incarnation the ledger or the watchdog knew (C3: a misread start time condemns
// a healthy process, or spares a stranger).
#include <gtest/gtest.h>

#include "core/proc_stat.hpp"

namespace lifeline::testing {
namespace {

// A real line (bash), fields 1..52.
constexpr std::string_view bash_line =
    "4242 (bash) S 4200 4242 4242 34816 4300 4194304 1234 5678 0 0 10 3 0 0 20 0 1 0 "
    "987654321 9000000 1100 18446744073709551615 1 1 0 0 0 0 65536 3670020 1266777851 0 0 "
    "0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

TEST(ProcStat, ParsesTheFieldsTheCoreUses) {
  auto st = parse_proc_stat(bash_line);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->pid, 4242);
  EXPECT_EQ(st->state, ProcState::alive);
  EXPECT_EQ(st->ppid, 4200);
  EXPECT_EQ(st->pgid, 4242);
  EXPECT_EQ(st->sid, 4242);
  EXPECT_EQ(st->start_ticks, 987654321u);
}

TEST(ProcStat, CommWithSpacesAndParenthesesDoesNotShiftTheFields) {
  auto st = parse_proc_stat("77 (a) b (c)) Z 1 77 70 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 555 0 0");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->pid, 77);
  EXPECT_EQ(st->state, ProcState::zombie);
  EXPECT_EQ(st->ppid, 1);
  EXPECT_EQ(st->pgid, 77);
  EXPECT_EQ(st->sid, 70);
  EXPECT_EQ(st->start_ticks, 555u);
}

TEST(ProcStat, LargeStartTimesAreExact) {
  auto st = parse_proc_stat("9 (x) R 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 18446744073709551615 0");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->start_ticks, 18446744073709551615u);
}

TEST(ProcStat, MalformedLinesAreRefusedNotGuessed) {
  for (std::string_view bad : {
           std::string_view(""), std::string_view("garbage"),
           std::string_view("12 (x"),                                                 // no ')'
           std::string_view("12 (x) S 1 12 12"),                                      // truncated
           std::string_view("12 (x) S 1 12 12 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0"),      // no field 22
           std::string_view("12 (x) S 1 12 12 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -5"),   // negative
           std::string_view("12 (x) S 1 12 12 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99x"),  // junk
           std::string_view("12 (x) SS 1 12 12 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99"),  // state
           std::string_view("-3 (x) S 1 12 12 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99"),   // pid
           std::string_view("0 (x) S 1 12 12 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99"),    // pid 0
           std::string_view("12 (x) S 1 99999999999 12 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9"),
           std::string_view(") 12 (x S 1 12 12 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99"),  // order
       })
    EXPECT_FALSE(parse_proc_stat(bad)) << bad;
}

}  // namespace
}  // namespace lifeline::testing
