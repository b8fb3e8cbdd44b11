// ByteBudget (core/byte_budget.hpp): the byte bound on a connection's unsent frames
// (docs/DESIGN.md rule 12) that the WebSocket and stdio connections and simrun's network share.
#include <gtest/gtest.h>

#include "core/byte_budget.hpp"

namespace lifeline::testing {
namespace {

using Change = ByteBudget::Change;

TEST(Rule12_ByteBudget, BacksUpAboveHalfAndDrainsAtAQuarterNotBetween) {
  ByteBudget b(1000);
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

TEST(Rule12_ByteBudget, AFrameThatWouldPassTheBoundOverflowsAndIsNotCounted) {
  ByteBudget b(100);
  EXPECT_EQ(b.add(60), Change::backed_up);
  EXPECT_EQ(b.add(41), Change::overflow);
  EXPECT_EQ(b.bytes(), 60);
  EXPECT_EQ(b.add(40), Change::none);  // exactly the bound still fits
  EXPECT_EQ(b.add(1), Change::overflow);
  ByteBudget tiny(10);
  EXPECT_EQ(tiny.add(11), Change::overflow);  // one frame larger than the whole bound
}

TEST(Rule12_ByteBudget, FitsIsTheBoundEveryByteLimitShares) {
  ByteBudget b(100);
  EXPECT_TRUE(b.fits(100));
  EXPECT_FALSE(b.fits(101));
  b.add(60);
  EXPECT_TRUE(b.fits(40));
  EXPECT_FALSE(b.fits(41));
  EXPECT_TRUE(within_bound(60, 40, 100));
  EXPECT_FALSE(within_bound(60, 41, 100));
}

TEST(Rule12_ByteBudgetDeathTest, RemovingMoreThanWasCountedIsAnAccountingBugNotAZero) {
  // Clamping at zero would hide the bug and let the connection's next frames pass the
  // bound uncounted; the invariant stops the process instead.
  ByteBudget b(100);
  b.add(10);
  EXPECT_DEATH(b.remove(50), "invariant broken");
}

}  // namespace
}  // namespace lifeline::testing
