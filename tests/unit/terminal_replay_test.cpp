// docs/DESIGN.md rule 16: a terminal's replay ring is bounded, cuts where drawing can
// start, and keeps the modes its dropped bytes switched on.
#include "core/terminal_replay.hpp"

#include <gtest/gtest.h>

#include <string>

using lifeline::ReplayRing;
using lifeline::TerminalModes;

TEST(Rule16_Replay, KeepsEverythingUnderItsBound) {
  ReplayRing r(64);
  r.append("hello ");
  r.append("world\n");
  EXPECT_EQ(r.kept(), "hello world\n");
  EXPECT_EQ(r.begin(), 0u);
  EXPECT_EQ(r.end(), 12u);
  EXPECT_EQ(r.modes(), "");
}

TEST(Rule16_Replay, NeverExceedsItsBoundAndKeepsASuffixThatStartsAfterALineFeed) {
  ReplayRing r(100);
  std::string all;
  for (int i = 0; i < 200; ++i) {
    std::string line = "line " + std::to_string(i) + "\n";
    all += line;
    r.append(line);
    ASSERT_LE(r.size(), 100u);
    ASSERT_EQ(r.end(), all.size());
    ASSERT_EQ(all.substr(r.begin()), r.kept());  // a suffix of the output, at its offset
    ASSERT_TRUE(r.begin() == 0 || all[r.begin() - 1] == '\n') << r.begin();
  }
  EXPECT_GT(r.size(), 50u);  // the cut is near the bound, not far below it
}

TEST(Rule16_Replay, AChunkLargerThanTheRingKeepsItsNewestBytes) {
  ReplayRing r(10);
  r.append("old\n");
  r.append("0123456789abcdef\nxyz");
  EXPECT_EQ(r.kept(), "xyz");
  EXPECT_EQ(r.end(), 24u);
  EXPECT_EQ(r.begin(), 21u);
}

TEST(Rule16_Replay, WithoutALineFeedTheCutNeverSplitsAUtf8Character) {
  ReplayRing r(8);
  r.append("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");  // eight bytes: four two-byte characters
  r.append("\xc3\xa9");
  ASSERT_LE(r.size(), 8u);
  EXPECT_NE(static_cast<unsigned char>(r.kept()[0]) & 0xC0, 0x80);
}

TEST(Rule16_Replay, ZeroKeepsNothingButCountsTheOffset) {
  ReplayRing r(0);
  r.append("abc");
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(r.end(), 3u);
  EXPECT_EQ(r.begin(), 3u);
}

TEST(Rule16_Replay, ModesSwitchedOnInDroppedBytesAreRestored) {
  ReplayRing r(32);
  r.append("$ vi\n\x1b[?1049h\x1b[?1h\x1b=\x1b[?25l\x1b[?2004h\n");  // vi starts
  for (int i = 0; i < 10; ++i) r.append("~ screen line\n");          // the start is dropped
  std::string m = r.modes();
  EXPECT_NE(m.find("\x1b[?1049h"), std::string::npos) << m;
  EXPECT_NE(m.find("\x1b[?1h"), std::string::npos) << m;
  EXPECT_NE(m.find("\x1b[?2004h"), std::string::npos) << m;
  EXPECT_NE(m.find("\x1b[?25l"), std::string::npos) << m;
  EXPECT_NE(m.find("\x1b="), std::string::npos) << m;
}

TEST(Rule16_Replay, ModesSwitchedOffAgainAreNotRestored) {
  TerminalModes t;
  t.feed("\x1b[?1049h\x1b[?25l\x1b=");
  t.feed("\x1b[?1049l\x1b[?25h\x1b>");
  EXPECT_EQ(t.restore(), "");
}

TEST(Rule16_Replay, ASequenceSplitAcrossChunksIsStillRead) {
  TerminalModes t;
  t.feed("\x1b[");
  t.feed("?10");
  t.feed("49;2004h");
  EXPECT_EQ(t.restore(), "\x1b[?1049h\x1b[?2004h");
}

TEST(Rule16_Replay, AResetForgetsEveryModeAndNonsenseChangesNothing) {
  TerminalModes t;
  t.feed(
      "\x1b[?1049h\x1b"
      "c");
  EXPECT_EQ(t.restore(), "");
  t.feed("\x1b[?99999999999999999999999999999999999999999h\x1b[?7h\x1b[31m\x1b]0;title\x07");
  EXPECT_EQ(t.restore(), "");
}
