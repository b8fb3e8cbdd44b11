// The pure codecs: JSON-RPC framing, base64, line splitting, the worker protocol and
// the keepalive state machine (docs/DESIGN.md rule 4).
#include <gtest/gtest.h>

#include "core/base64.hpp"
#include "core/jsonrpc.hpp"
#include "core/keepalive.hpp"
#include "core/line_buffer.hpp"
#include "core/worker_protocol.hpp"
#include "sim/manual_world.hpp"

namespace lifeline {
namespace {

int decode_code(std::string_view text, std::size_t max = 1 << 20) {
  auto d = rpc::decode(text, max);
  if (auto* e = std::get_if<rpc::DecodeError>(&d)) return e->code;
  return 0;
}

TEST(JsonRpc, DecodesAValidRequest) {
  auto d = rpc::decode(R"({"jsonrpc":"2.0","id":"a","method":"m","params":{"x":1}})", 1000);
  auto& r = std::get<rpc::Request>(d);
  EXPECT_EQ(r.id, "a");
  EXPECT_EQ(r.method, "m");
  EXPECT_FALSE(r.notification);
  EXPECT_EQ(r.params["x"], 1);
}

TEST(JsonRpc, ErrorsForEveryKindOfMalformedTraffic) {
  EXPECT_EQ(decode_code("{"), rpc::parse_error);
  EXPECT_EQ(decode_code(""), rpc::parse_error);
  EXPECT_EQ(decode_code("\xff\xfe"), rpc::parse_error);
  EXPECT_EQ(decode_code("[]"), rpc::invalid_request);
  EXPECT_EQ(decode_code("42"), rpc::invalid_request);
  EXPECT_EQ(decode_code(R"({"id":1,"method":"m"})"), rpc::invalid_request);
  EXPECT_EQ(decode_code(R"({"jsonrpc":"1.0","id":1,"method":"m"})"), rpc::invalid_request);
  EXPECT_EQ(decode_code(R"({"jsonrpc":"2.0","id":{},"method":"m"})"), rpc::invalid_request);
  EXPECT_EQ(decode_code(R"({"jsonrpc":"2.0","id":1.5,"method":"m"})"), rpc::invalid_request);
  EXPECT_EQ(decode_code(R"({"jsonrpc":"2.0","id":1,"method":7})"), rpc::invalid_request);
  EXPECT_EQ(decode_code(R"({"jsonrpc":"2.0","id":1,"method":"m","params":[1]})"),
            rpc::invalid_params);
  EXPECT_EQ(decode_code(std::string(2000, ' '), 1000), rpc::message_too_large);
}

TEST(JsonRpc, DeepNestingIsRefusedWithoutRecursion) {
  std::string deep(200000, '[');
  EXPECT_EQ(decode_code(deep, 1 << 20), rpc::parse_error);
  std::string ok = std::string(60, '[') + std::string(60, ']');
  EXPECT_TRUE(rpc::parse_json_bounded(ok));
  // Brackets inside strings do not count.
  EXPECT_TRUE(rpc::parse_json_bounded("\"" + std::string(1000, '[') + "\""));
}

TEST(JsonRpc, RendersResultsErrorsAndEvents) {
  Json r = Json::parse(rpc::result(7, {{"a", 1}}));
  EXPECT_EQ(r["jsonrpc"], "2.0");
  EXPECT_EQ(r["id"], 7);
  EXPECT_EQ(r["result"]["a"], 1);
  Json e = Json::parse(rpc::error(nullptr, rpc::session_not_found, "nope", {{"ran", true}}));
  EXPECT_TRUE(e["id"].is_null());
  EXPECT_EQ(e["error"]["code"], rpc::session_not_found);
  EXPECT_EQ(e["error"]["data"]["ran"], true);
  std::string sid = "s1";
  Json ev = Json::parse(rpc::event("session.closed", &sid, {{"reason", "shutdown"}}));
  EXPECT_EQ(ev["method"], "event");
  EXPECT_EQ(ev["params"]["type"], "session.closed");
  EXPECT_EQ(ev["params"]["session_id"], "s1");
  // Invalid UTF-8 in output is replaced, never thrown.
  Json bad = Json::parse(rpc::result(1, {{"output", std::string("\xff\xfe ok")}}));
  EXPECT_TRUE(bad["result"]["output"].is_string());
}

TEST(JsonRpc, AnEventWithBase64IsTheSameTextAsEvent) {
  std::string sid = "s\"odd\\id";  // escaped around the spliced field
  for (std::string bytes : {std::string(), std::string("a"), std::string("ab"),
                            std::string("\x00\xff\x01 \"\\\n", 7), std::string(5000, 'x')}) {
    std::string b64 = base64::encode(bytes);
    Json payload = {{"pty_id", "p1"}, {"offset", 42}};
    Json whole = payload;
    whole["data"] = b64;
    EXPECT_EQ(rpc::event_with_base64("pty.output", &sid, payload, "data", b64),
              rpc::event("pty.output", &sid, whole));
    EXPECT_EQ(base64::decode(b64), bytes);
  }
}

TEST(Base64, RoundTripsAndRejectsNonCanonicalText) {
  for (std::string s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar",
                                                std::string("\0\xff\x10", 3)})
    EXPECT_EQ(base64::decode(base64::encode(s)), s);
  EXPECT_EQ(base64::encode("foobar"), "Zm9vYmFy");
  EXPECT_FALSE(base64::decode("Zm9"));
  EXPECT_FALSE(base64::decode("Zm9v!A=="));
  EXPECT_FALSE(base64::decode("Zg=a"));
  EXPECT_FALSE(base64::decode("Zh=="));  // non-zero padding bits
  EXPECT_FALSE(base64::decode("Zg==Zg=="));
}

TEST(LineBuffer, SplitsAcrossChunksAndCapsLength) {
  LineBuffer b(8);
  std::vector<std::string> lines;
  EXPECT_TRUE(b.feed("ab", lines));
  EXPECT_TRUE(b.feed("c\r\nde\nf", lines));
  EXPECT_EQ(lines, (std::vector<std::string>{"abc", "de"}));
  EXPECT_EQ(b.pending(), 1u);
  EXPECT_FALSE(b.feed("123456789", lines));
}

TEST(WorkerProtocol, RoundTripsAndRejectsMalformedLines) {
  std::string line = worker_protocol::encode_request({5, "/echo x"});
  line.pop_back();
  auto r = worker_protocol::decode_request(line);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, 5);
  EXPECT_EQ(r->command, "/echo x");
  std::string rep = worker_protocol::encode_reply({std::nullopt, false, "bad"});
  rep.pop_back();
  auto d = worker_protocol::decode_reply(rep);
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->id);
  EXPECT_EQ(d->text, "bad");
  EXPECT_FALSE(worker_protocol::decode_reply(R"({"id":1,"ok":true})"));
  EXPECT_FALSE(worker_protocol::decode_reply(R"({"id":"1","ok":true,"output":""})"));
  EXPECT_FALSE(worker_protocol::decode_request(R"({"id":18446744073709551615,"command":"x"})"));
}

TEST(Rule4_Keepalive, ASilentPeerIsDeadWithinIntervalPlusTimeout) {
  sim::ManualClock clock;
  int pings = 0;
  bool dead = false;
  Keepalive k(
      clock, 20'000, 20'000, [&] { ++pings; }, [&] { dead = true; });
  k.start();
  clock.advance(39'999);
  EXPECT_FALSE(dead);
  clock.advance(1);
  EXPECT_TRUE(dead);
  EXPECT_EQ(pings, 1);
  EXPECT_EQ(clock.pending(), 0u);
}

TEST(Rule4_Keepalive, FalseDisconnectRegression_ASlowButAliveClientIsNeverDropped) {
  sim::ManualClock clock;
  bool dead = false;
  Keepalive k(
      clock, 1'000, 5'000, [] {}, [&] { dead = true; });
  k.start();
  for (int i = 0; i < 100; ++i) {
    clock.advance(4'999);  // answers just inside every deadline
    k.on_activity();
  }
  EXPECT_FALSE(dead);
}

}  // namespace
}  // namespace lifeline
