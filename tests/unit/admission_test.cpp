// docs/PROTOCOL.md sections 1 and 6, docs/DESIGN.md rule 14: who is admitted.
#include "core/admission.hpp"

#include <gtest/gtest.h>

namespace lifeline::admission {
namespace {

const std::string token = "the-right-token-0123456789";

Policy policy() {
  return Policy(token, "lifeline_8765", {"http://127.0.0.1:8765"},
                {"127.0.0.1:8765", "localhost:8765"}, {"gw.example", "pinned.example:443"});
}

TEST(Rule14_Admission, EachFormOfTheTokenAdmits) {
  Policy p = policy();
  EXPECT_TRUE(p.authenticated({"Bearer-less", token, {}}));
  EXPECT_TRUE(p.authenticated({token, "", {}}));
  EXPECT_TRUE(p.authenticated({"", "", {"theme=dark; lifeline_8765=" + token}}));
  EXPECT_FALSE(p.authenticated({"", "", {}}));
  EXPECT_FALSE(p.authenticated({"", "", {"lifeline_token=" + token}}));  // not this gateway's name
  EXPECT_FALSE(p.authenticated({"", "", {"lifeline_8766=" + token}}));   // another gateway's
  EXPECT_FALSE(p.authenticated({token.substr(1), "", {}}));
  EXPECT_FALSE(p.authenticated({token + "x", "", {}}));
}

TEST(Rule14_Admission, APlantedDecoyCookieDoesNotLockTheOwnerOutButOnlyFourValuesCount) {
  Policy p = policy();
  EXPECT_TRUE(p.cookie_authenticated({"lifeline_8765=planted; lifeline_8765=" + token}));
  EXPECT_TRUE(p.cookie_authenticated({"lifeline_8765=planted", "lifeline_8765=" + token}));
  std::string four;
  for (int i = 0; i < 4; ++i) four += "lifeline_8765=decoy" + std::to_string(i) + "; ";
  EXPECT_FALSE(p.cookie_authenticated({four + "lifeline_8765=" + token}));
  // Percent-encoded values are decoded (the gateway sets them encoded).
  Policy odd("tok/with+odd=chars!!", "c", {}, {}, {});
  EXPECT_TRUE(odd.cookie_authenticated({"c=" + percent_encode("tok/with+odd=chars!!")}));
}

TEST(Rule14_Admission, OriginsAreExactAndHostsNameThisGateway) {
  Policy p = policy();
  EXPECT_TRUE(p.origin_allowed("http://127.0.0.1:8765"));
  EXPECT_FALSE(p.origin_allowed("http://127.0.0.1:8766"));
  EXPECT_FALSE(p.origin_allowed("http://127.0.0.1:8765.evil.example"));
  EXPECT_FALSE(p.origin_allowed("null"));
  EXPECT_TRUE(p.host_allowed(""));  // no Host: not a browser's request
  EXPECT_TRUE(p.host_allowed("LOCALHOST:8765"));
  EXPECT_FALSE(p.host_allowed("localhost:8766"));
  EXPECT_FALSE(p.host_allowed("evil.example:8765"));
  EXPECT_TRUE(p.host_allowed("gw.example:1234"));  // a name without a port: any port
  EXPECT_TRUE(p.host_allowed("pinned.example:443"));
  EXPECT_FALSE(p.host_allowed("pinned.example:444"));
}

TEST(Rule14_Admission, CookieNamesArePerInstanceOrPort) {
  EXPECT_EQ(cookie_name("", 8765), "lifeline_8765");
  EXPECT_EQ(cookie_name("gw-a", 8765), "lifeline_gw-a");
  EXPECT_EQ(cookie_name("gw a;=/x", 1), "lifeline_gw_a___x");
}

TEST(Rule14_Admission, QueryAndCookieParsingSurviveJunk) {
  EXPECT_EQ(query_param("/ws?a=1&token=t%2Bx&token=second", "token"), "t+x");
  EXPECT_EQ(query_param("/ws?token", "token"), "");
  EXPECT_EQ(query_param("/ws", "token"), "");
  EXPECT_EQ(percent_decode("%zz%4"), "%zz%4");
  EXPECT_EQ(cookie_values(";;; =; a; lifeline_1=v", "lifeline_1"), (std::vector<std::string>{"v"}));
}

TEST(Rule14_Throttle, TwentyFailuresAtOnceThenTenASecondNeverForGood) {
  Throttle t(10, 20, 4);
  Millis now = 1000;
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE(t.refused("10.0.0.1", now)) << i;
    t.failed("10.0.0.1", now);
  }
  auto wait = t.refused("10.0.0.1", now);
  ASSERT_TRUE(wait);
  EXPECT_GT(*wait, 0);
  EXPECT_LE(*wait, 101);
  EXPECT_FALSE(t.refused("10.0.0.2", now)) << "another address is not throttled";
  EXPECT_FALSE(t.refused("10.0.0.1", now + *wait)) << "the wait it announced is enough";
  EXPECT_FALSE(t.refused("10.0.0.1", now + 60'000));
}

TEST(Rule14_Throttle, MemoryIsBoundedAndForgetsFullBucketsFirst) {
  Throttle t(10, 20, 4);
  for (int i = 0; i < 20; ++i) t.failed("busy", 0);
  for (int i = 0; i < 100; ++i) t.failed("scan-" + std::to_string(i), 0);
  EXPECT_LE(t.addresses(), 4u);
  Throttle u(10, 20, 2);
  u.failed("once", 0);
  for (int i = 0; i < 20; ++i) u.failed("busy", 9'950);
  u.failed("later", 10'000);  // "once" has refilled by now: forgotten; "busy" has not
  EXPECT_TRUE(u.refused("busy", 10'000));
  EXPECT_EQ(u.addresses(), 2u);
}

}  // namespace
}  // namespace lifeline::admission
