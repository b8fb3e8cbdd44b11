// UnsentBudget (core/unsent_budget.hpp): the byte bound on a connection's unsent frames
// (docs/DESIGN.md rule 12) that the WebSocket and stdio connections and simrun's network share.
#include <gtest/gtest.h>

#include "core/unsent_budget.hpp"

namespace lifeline::testing {
namespace {

using Change = UnsentBudget::Change;

TEST(Rule12_UnsentBudget, BacksUpAboveHalfAndDrainsAtAQuarterNotBetween) {
  UnsentBudget b(1000);
  EXPECT_EQ(b.add(500), Change::none);  // exactly half is not above it
  EXPECT_EQ(b.add(1), Change::backed_up);
  EXPECT_EQ(b.add(100), Change::none);  // reported once
  EXPECT_TRUE(b.backed_up());
  EXPECT_EQ(b.remove(300), Change::none);  // 301 left: above a quarter, still backed up
  EXPECT_TRUE(b.backed_up());
  EXPECT_EQ(b.remove(51), Change::drained);  // 250: a quarter
  EXPECT_FALSE(b.backed_up());
  EXPECT_EQ(b.remove(250), Change::none);
  EXPECT_EQ(b.bytes(), 0);
}

TEST(Rule12_UnsentBudget, AFrameThatWouldPassTheBoundOverflowsAndIsNotCounted) {
  UnsentBudget b(100);
  EXPECT_EQ(b.add(60), Change::backed_up);
  EXPECT_EQ(b.add(41), Change::overflow);
  EXPECT_EQ(b.bytes(), 60);
  EXPECT_EQ(b.add(40), Change::none);  // exactly the bound still fits
  EXPECT_EQ(b.add(1), Change::overflow);
  UnsentBudget tiny(10);
  EXPECT_EQ(tiny.add(11), Change::overflow);  // one frame larger than the whole bound
}

TEST(Rule12_UnsentBudget, RemovingMoreThanWasCountedNeverGoesNegative) {
  UnsentBudget b(100);
  b.add(10);
  b.remove(50);
  EXPECT_EQ(b.bytes(), 0);
  EXPECT_EQ(b.add(50), Change::none);
}

}  // namespace
}  // namespace lifeline::testing
