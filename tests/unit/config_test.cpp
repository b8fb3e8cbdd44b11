// docs/DESIGN.md rule 10: the gateway's settings are strict (a refused value is a usage
// error naming the setting, the value and what it accepts); the worker's watchdog knobs
// fall back to their defaults, reported once.
#include <gtest/gtest.h>

#include "core/config.hpp"

namespace lifeline {
namespace {

TEST(Rule10_Config, DefaultsMatchProtocolMd) {
  auto p = parse_gateway_config({}, {{"HOME", "/home/u"}});
  const auto& c = p.config;
  EXPECT_EQ(c.listen_host, "127.0.0.1");
  EXPECT_EQ(c.listen_port, 8765);
  EXPECT_EQ(c.state_dir, "/home/u/.local/state/lifeline");
  EXPECT_EQ(c.pty_cmd, "");  // the runtime's login shell (docs/PROTOCOL.md --pty-cmd)
  EXPECT_EQ(c.pty_replay_bytes, 262144);
  EXPECT_EQ(c.session_ttl, 21'600'000);
  EXPECT_EQ(c.reaper_interval, 300'000);
  EXPECT_EQ(c.orphan_grace, 20'000);
  EXPECT_EQ(c.ping_interval, 20'000);
  EXPECT_EQ(c.ping_timeout, 20'000);
  EXPECT_EQ(c.slash_timeout, 45'000);
  EXPECT_EQ(c.max_sessions, 1024);
  EXPECT_EQ(c.max_sessions_per_connection, 64);
  EXPECT_EQ(c.max_message_bytes, 1048576);
  EXPECT_EQ(c.max_reply_bytes, 4194304);
  EXPECT_EQ(c.max_unsent_bytes, 16777216);
  EXPECT_EQ(c.max_connections, 4096);
  EXPECT_EQ(c.max_ptys, 256);
  EXPECT_EQ(c.session_pids_max, 1024);
  EXPECT_EQ(c.session_memory_max, 0);
  EXPECT_EQ(c.retain_days, 30);
  EXPECT_TRUE(c.allowed_hosts.empty());
  EXPECT_FALSE(c.version);
  EXPECT_TRUE(p.warnings.empty());
  EXPECT_FALSE(p.error);
}

TEST(Rule10_Config, HardeningFlagsParseAndZeroMeansOffWhereDocumented) {
  auto p = parse_gateway_config(
      {"--retain-days", "0", "--session-memory-max", "0", "--max-connections", "10",
       "--allowed-host", "a.example", "--allowed-host=b.example", "--version"},
      {{"LIFELINE_MAX_PTYS", "3"}, {"LIFELINE_ALLOWED_HOST", "env.example"}});
  EXPECT_FALSE(p.error);
  EXPECT_TRUE(p.warnings.empty());
  EXPECT_EQ(p.config.retain_days, 0);
  EXPECT_EQ(p.config.session_memory_max, 0);
  EXPECT_EQ(p.config.max_connections, 10);
  EXPECT_EQ(p.config.max_ptys, 3);
  EXPECT_EQ(p.config.allowed_hosts, (std::vector<std::string>{"a.example", "b.example"}));
  EXPECT_TRUE(p.config.version);
  // 0 is not a connection limit: a usage error that names the range.
  auto bad = parse_gateway_config({"--max-connections", "0"}, {});
  ASSERT_TRUE(bad.error);
  EXPECT_EQ(*bad.error,
            "invalid --max-connections value '0': expected an integer from 1 to 1048576");
}

TEST(Rule10_Config, XdgStateHomeWins) {
  auto p = parse_gateway_config({}, {{"HOME", "/h"}, {"XDG_STATE_HOME", "/x"}});
  EXPECT_EQ(p.config.state_dir, "/x/lifeline");
}

TEST(Rule10_Config, FlagsAndEnvironmentFlagWins) {
  auto p = parse_gateway_config({"--orphan-grace", "0.5", "--listen=[::1]:0", "--stdio"},
                                {{"LIFELINE_ORPHAN_GRACE", "7"}, {"LIFELINE_SLASH_TIMEOUT", "3"}});
  EXPECT_EQ(p.config.orphan_grace, 500);
  EXPECT_EQ(p.config.slash_timeout, 3000);
  EXPECT_EQ(p.config.listen_host, "::1");
  EXPECT_EQ(p.config.listen_port, 0);
  EXPECT_TRUE(p.config.stdio);
  EXPECT_TRUE(p.warnings.empty());
}

TEST(Rule10_Config, MalformedNegativeNonFiniteOrOutOfRangeValuesAreUsageErrors) {
  // Each refused alone, from a flag or from the environment, naming what it got.
  for (const auto& [flag, value] : std::vector<std::pair<std::string, std::string>>{
           {"--session-ttl", "-1"},
           {"--ping-timeout", "nan"},
           {"--max-sessions", "12x"},
           {"--orphan-grace", "inf"},
           {"--orphan-grace", "abc"},
           {"--listen", "nohost"},
           {"--listen", "127.0.0.1:99999"},
           {"--max-sessions", "-5"},
           {"--slash-timeout", "1e400"},
           {"--max-message-bytes", "2305843009213693952"},  // 2^61: 4x would overflow
           {"--max-message-bytes", "100"},
           {"--session-memory-max", "5"},
           {"--retain-days", "99999"},
           {"--stdio", "maybe"},
       }) {
    auto p = parse_gateway_config({flag + "=" + value}, {});
    ASSERT_TRUE(p.error) << flag << "=" << value;
    EXPECT_NE(p.error->find(flag), std::string::npos) << *p.error;
    EXPECT_NE(p.error->find("'" + value + "'"), std::string::npos) << *p.error;
    EXPECT_NE(p.error->find("expected"), std::string::npos) << *p.error;
  }
  auto env = parse_gateway_config({}, {{"LIFELINE_SLASH_TIMEOUT", "soon"}});
  ASSERT_TRUE(env.error);
  EXPECT_NE(env.error->find("LIFELINE_SLASH_TIMEOUT"), std::string::npos) << *env.error;
  // The largest accepted values still parse.
  auto top = parse_gateway_config({"--max-message-bytes", "67108864", "--listen", "h:65535"}, {});
  EXPECT_FALSE(top.error) << *top.error;
}

TEST(Rule10_Config, ZeroIntervalsWouldSpinAndAreRefused) {
  EXPECT_TRUE(parse_gateway_config({"--reaper-interval", "0"}, {}).error);
  EXPECT_TRUE(parse_gateway_config({"--ping-interval", "0"}, {}).error);
}

TEST(Rule10_Config, AFlagNeedingAValueNeverSwallowsTheNextFlag) {
  auto p = parse_gateway_config({"--listen", "--stdio"}, {});
  ASSERT_TRUE(p.error);
  EXPECT_EQ(*p.error, "flag '--listen' needs a value (got the flag '--stdio')");
  EXPECT_FALSE(p.config.stdio);
  // A value that starts with "--" is written with '='.
  auto q = parse_gateway_config({"--pty-cmd=--odd"}, {});
  EXPECT_FALSE(q.error);
  EXPECT_EQ(q.config.pty_cmd, "--odd");
}

TEST(Rule14_Config, OperatorTokensUnder16BytesAreUsageErrors) {
  auto p = parse_gateway_config({"--token", "short"}, {});
  ASSERT_TRUE(p.error);
  EXPECT_NE(p.error->find("at least 16"), std::string::npos) << *p.error;
  EXPECT_TRUE(parse_gateway_config({}, {{"LIFELINE_TOKEN", "fifteen-bytes.."}}).error);
  EXPECT_TRUE(parse_gateway_config({"--token", "has a space in it!"}, {}).error);
  auto ok = parse_gateway_config({}, {{"LIFELINE_TOKEN", "sixteen-bytes..."}});
  EXPECT_FALSE(ok.error);
  EXPECT_EQ(ok.config.token, "sixteen-bytes...");
}

TEST(Rule14_Config, NoHomeAndNoXdgStateHomeLeavesNoStateDir) {
  EXPECT_EQ(parse_gateway_config({}, {}).config.state_dir, "");
  EXPECT_EQ(parse_gateway_config({}, {{"HOME", ""}}).config.state_dir, "");
}

TEST(Rule10_Config, UnknownFlagsAndMissingValuesAreErrorsNotCrashes) {
  EXPECT_TRUE(parse_gateway_config({"--bogus"}, {}).error);
  EXPECT_TRUE(parse_gateway_config({"--listen"}, {}).error);
  EXPECT_TRUE(parse_gateway_config({"positional"}, {}).error);
  EXPECT_TRUE(parse_gateway_config({"--help"}, {}).help);
}

TEST(Rule10_Config, RepeatableOriginsFromFlagsReplaceTheEnvironment) {
  auto p = parse_gateway_config({"--allowed-origin", "http://a", "--allowed-origin", "http://b"},
                                {{"LIFELINE_ALLOWED_ORIGIN", "http://env1,http://env2"}});
  EXPECT_EQ(p.config.allowed_origins, (std::vector<std::string>{"http://a", "http://b"}));
  auto q = parse_gateway_config({}, {{"LIFELINE_ALLOWED_ORIGIN", "http://env1,http://env2"}});
  EXPECT_EQ(q.config.allowed_origins, (std::vector<std::string>{"http://env1", "http://env2"}));
}

TEST(Rule10_Config, WorkerKnobsHaveMinimumsAndFallbacks) {
  auto p = parse_worker_config(
      {"--session-key", "k", "--lifeline-fd", "3"},
      {{"LIFELINE_WATCHDOG_POLL_S", "0.001"}, {"LIFELINE_WATCHDOG_GRACE_S", "abc"}});
  EXPECT_EQ(p.config.session_key, "k");
  EXPECT_EQ(p.config.lifeline_fd, 3);
  EXPECT_EQ(p.config.watchdog_poll, 50);
  EXPECT_EQ(p.config.watchdog_grace, 5000);
  EXPECT_EQ(p.warnings.size(), 2u);
  // Its flags come from the gateway: a refused one is an error, never a fallback.
  auto bad = parse_worker_config({"--lifeline-fd", "-4"}, {});
  EXPECT_TRUE(bad.error);
  EXPECT_EQ(bad.config.lifeline_fd, -1);
}

TEST(Rule18_Config, AWorkerKnowsItsSessionOrIsPooledNeverBoth) {
  auto pooled = parse_worker_config({"--pooled", "--lifeline-fd", "3"}, {});
  EXPECT_FALSE(pooled.error);
  EXPECT_TRUE(pooled.config.pooled);
  EXPECT_TRUE(pooled.config.session_key.empty());
  EXPECT_TRUE(parse_worker_config({"--lifeline-fd", "3"}, {}).error);
  EXPECT_TRUE(
      parse_worker_config({"--pooled", "--session-key", "k", "--lifeline-fd", "3"}, {}).error);
  EXPECT_TRUE(parse_worker_config({"--session-key", "", "--lifeline-fd", "3"}, {}).error);
}

TEST(Rule10_Config, WorkerPoolIsBoundedAndZeroTurnsItOff) {
  EXPECT_EQ(parse_gateway_config({}, {}).config.worker_pool, 2);
  EXPECT_EQ(parse_gateway_config({"--worker-pool", "0"}, {}).config.worker_pool, 0);
  EXPECT_EQ(parse_gateway_config({"--worker-pool", "64"}, {}).config.worker_pool, 64);
  EXPECT_EQ(parse_gateway_config({}, {{"LIFELINE_WORKER_POOL", "3"}}).config.worker_pool, 3);
  for (const char* bad : {"65", "-1", "2.5", "", "lots", "99999999999999999999"}) {
    auto p = parse_gateway_config({"--worker-pool", bad}, {});
    ASSERT_TRUE(p.error) << bad;
    EXPECT_NE(p.error->find("worker-pool"), std::string::npos) << *p.error;
  }
}

TEST(Rule10_Config, StrictNumberParsers) {
  EXPECT_EQ(parse_seconds("0.5"), 500);
  EXPECT_EQ(parse_seconds("20"), 20'000);
  EXPECT_FALSE(parse_seconds(""));
  EXPECT_FALSE(parse_seconds(" 1"));
  EXPECT_FALSE(parse_seconds("1s"));
  EXPECT_FALSE(parse_seconds("-0.1"));
  EXPECT_FALSE(parse_seconds("1e308"));
  EXPECT_EQ(parse_count("64"), 64);
  EXPECT_FALSE(parse_count("0"));
  EXPECT_FALSE(parse_count("99999999999999999999"));
}

}  // namespace
}  // namespace lifeline

namespace lifeline::testing {
namespace {

TEST(Rule10_Config, EnvironmentFilesParseLikeSystemdsAndSkipWhatIsMalformed) {
  std::vector<std::string> warnings;
  Env env = parse_env_file(
      "# a comment\n\n  LIFELINE_ORPHAN_GRACE=5\nexport LIFELINE_TOKEN=\"s3cret\"\n"
      "LIFELINE_TITLE='a b'\r\nnot a setting\n=nokey\nBAD-KEY=1\nLIFELINE_EMPTY=\n",
      &warnings);
  EXPECT_EQ(env.at("LIFELINE_ORPHAN_GRACE"), "5");
  EXPECT_EQ(env.at("LIFELINE_TOKEN"), "s3cret");
  EXPECT_EQ(env.at("LIFELINE_TITLE"), "a b");
  EXPECT_EQ(env.at("LIFELINE_EMPTY"), "");
  EXPECT_EQ(env.size(), 4u);
  EXPECT_EQ(warnings.size(), 3u);
}

TEST(Rule10_Config, WhatReloadAppliesIsWhatTheEnvFileOwnsOnReload) {
  GatewayConfig live = parse_gateway_config({}, {}).config;
  auto fresh = parse_gateway_config({"--session-ttl", "1", "--orphan-grace", "2", "--slash-timeout",
                                     "3", "--max-sessions", "4", "--max-sessions-per-connection",
                                     "5", "--max-reply-bytes", "6000", "--max-pending-input-bytes",
                                     "9000", "--retain-days", "7", "--pty-replay-bytes", "0"},
                                    {})
                   .config;
  Reload r = reload_limits(live, fresh);
  std::vector<std::string> names;
  for (const auto& flag : r.applied) names.push_back(env_name_of(flag));
  names.push_back("LIFELINE_FAULTS");
  EXPECT_EQ(names, reloadable_env_names());
}

TEST(Rule10_Config, ReloadAppliesOnlyWhatCanChangeLive) {
  GatewayConfig live = parse_gateway_config({}, {}).config;
  auto fresh =
      parse_gateway_config({"--orphan-grace", "3", "--max-sessions", "7", "--listen",
                            "127.0.0.1:9999", "--max-ptys", "4", "--max-message-bytes", "4096"},
                           {})
          .config;
  Reload r = reload_limits(live, fresh);
  EXPECT_EQ(r.applied, (std::vector<std::string>{"--orphan-grace", "--max-sessions"}));
  // The frame cap lives in the readers too: reported as needing a restart, not applied.
  EXPECT_EQ(r.need_restart,
            (std::vector<std::string>{"--listen", "--max-message-bytes", "--max-ptys"}));
  EXPECT_EQ(live.max_message_bytes, 1048576);
  EXPECT_EQ(live.orphan_grace, 3000);
  EXPECT_EQ(live.max_sessions, 7);
  EXPECT_EQ(live.listen_port, 8765) << "a bound address cannot move live";
  EXPECT_EQ(live.max_ptys, 256);
  Reload again = reload_limits(live, fresh);
  EXPECT_TRUE(again.applied.empty());
}

}  // namespace
}  // namespace lifeline::testing

TEST(Rule10_Config, AReplayRingThatCouldNotBeSentInOneMessageIsLoweredAndSaid) {
  auto big = lifeline::parse_gateway_config({"--pty-replay-bytes", "8000000"}, {});
  EXPECT_FALSE(big.error.has_value());
  EXPECT_EQ(big.config.pty_replay_bytes, 16777216 / 4);
  ASSERT_EQ(big.warnings.size(), 1u);
  EXPECT_NE(big.warnings[0].find("a quarter of --max-unsent-bytes"), std::string::npos);
  auto small = lifeline::parse_gateway_config({"--max-unsent-bytes", "262144"}, {});
  EXPECT_FALSE(small.error.has_value());
  EXPECT_EQ(small.config.pty_replay_bytes, 65536);
  auto fits = lifeline::parse_gateway_config(
      {"--pty-replay-bytes", "8000000", "--max-unsent-bytes", "33554432"}, {});
  EXPECT_FALSE(fits.error.has_value());
  EXPECT_EQ(fits.config.pty_replay_bytes, 8000000);
}

namespace lifeline {
namespace {

TEST(Rule15_StoreConfig, TheStoreIsAFileInTheStateDirOrAPostgresqlUrlWithAnInstance) {
  auto def = parse_gateway_config({}, {{"HOME", "/home/u"}});
  ASSERT_FALSE(def.error);
  EXPECT_EQ(def.config.store, "sqlite:lifeline.db");
  auto target = parse_store(def.config.store);
  ASSERT_TRUE(target);
  EXPECT_EQ(target->kind, StoreTarget::Kind::sqlite);
  EXPECT_EQ(target->target, "lifeline.db");
  auto pg = parse_gateway_config(
      {"--store", "postgresql://u@db/lifeline", "--instance", "east", "--lease-ttl", "4"}, {});
  ASSERT_FALSE(pg.error) << *pg.error;
  EXPECT_EQ(parse_store(pg.config.store)->kind, StoreTarget::Kind::postgresql);
  EXPECT_EQ(pg.config.lease_ttl, 4000);
  // From the environment too (where a password belongs).
  auto env = parse_gateway_config({"--instance", "east"},
                                  {{"LIFELINE_STORE", "postgres://u:pw@db/lifeline"}});
  ASSERT_FALSE(env.error) << *env.error;
  EXPECT_EQ(env.config.store, "postgres://u:pw@db/lifeline");
  for (const char* bad : {"sqlite:", "sqlite:../x.db", "sqlite:/var/x.db", "sqlite:.", "mysql://x",
                          "lifeline.db", ""}) {
    auto p = parse_gateway_config({"--store", bad}, {});
    ASSERT_TRUE(p.error) << bad;
    EXPECT_NE(p.error->find("--store"), std::string::npos) << *p.error;
  }
}

TEST(Rule15_StoreConfig, ASharedStoreNeedsAnInstanceAndALeaseOfASecondOrMore) {
  auto unnamed = parse_gateway_config({"--store", "postgresql://u@db/lifeline"}, {});
  ASSERT_TRUE(unnamed.error);
  EXPECT_NE(unnamed.error->find("--instance"), std::string::npos) << *unnamed.error;
  auto short_lease = parse_gateway_config({"--lease-ttl", "0.5"}, {});
  ASSERT_TRUE(short_lease.error);
  EXPECT_NE(short_lease.error->find("--lease-ttl"), std::string::npos);
  auto zero = parse_gateway_config({"--lease-ttl", "0"}, {});
  EXPECT_TRUE(zero.error);
}

TEST(Rule15_StoreConfig, APasswordInAStoreUrlIsNeverEchoed) {
  EXPECT_EQ(redacted_store("postgresql://u:s3cret@db:5432/lifeline?sslmode=require"),
            "postgresql://u:***@db:5432/lifeline?sslmode=require");
  EXPECT_EQ(redacted_store("postgresql://u@db/lifeline?password=s3cret&sslmode=require"),
            "postgresql://u@db/lifeline?password=***&sslmode=require");
  EXPECT_EQ(redacted_store("postgresql:///lifeline?host=/run/pg"),
            "postgresql:///lifeline?host=/run/pg");
  auto refused = parse_gateway_config({"--store", "postgresq://u:s3cret@db/x"}, {});
  ASSERT_TRUE(refused.error);
  EXPECT_EQ(refused.error->find("s3cret"), std::string::npos) << *refused.error;
  auto unnamed = parse_gateway_config({"--store", "postgresql://u:s3cret@db/x"}, {});
  ASSERT_TRUE(unnamed.error);
  EXPECT_EQ(unnamed.error->find("s3cret"), std::string::npos) << *unnamed.error;
}

}  // namespace
}  // namespace lifeline
