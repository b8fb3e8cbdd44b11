// One store conformance suite (docs/DESIGN.md, Durability), run against every implementation
// of the Store port: the SQLite store, the simulator's store and the PostgreSQL store.
// The core was written against the port's contract; these cases are that contract.
// PostgreSQL: LIFELINE_TEST_PG_URL names a throwaway database (tests/integration/
// postgres.py run -- ... makes one); without it the PostgreSQL cases fail when
// LIFELINE_REQUIRE_PG=1 (CI) and are skipped, saying why, otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "runtime/gateway/io.hpp"
#include "runtime/gateway/pg_connection.hpp"
#include "runtime/gateway/pg_store.hpp"
#include "runtime/gateway/sqlite_store.hpp"
#include "sim/sim_store.hpp"
#include "sim/world.hpp"

namespace lifeline {
namespace {

class NullLog final : public Log {
 public:
  void write(LogLevel, std::string_view) override {}
};

// A store and the loop its completions arrive on.
class Subject {
 public:
  virtual ~Subject() = default;
  virtual Store& store() = 0;
  // Runs the loop until done() holds (every case waits for its completions); false when
  // 10 s pass first.
  virtual bool settle(const std::function<bool()>& done) = 0;
};

class RuntimeSubject : public Subject {
 public:
  bool settle(const std::function<bool()>& done) override {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
      io.restart();
      io.run_for(std::chrono::milliseconds(5));
    }
    return true;
  }
  runtime::asio::io_context io;
  NullLog log;
};

class SqliteSubject final : public RuntimeSubject {
 public:
  SqliteSubject() {
    dir_ = std::filesystem::temp_directory_path() /
           ("lifeline-conformance-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    std::filesystem::remove(dir_ / "store.db");
    store_ =
        std::make_unique<runtime::SqliteStore>(io, log, (dir_ / "store.db").string(), true, "east");
  }
  ~SqliteSubject() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  Store& store() override { return *store_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<runtime::SqliteStore> store_;
};

class PgSubject final : public RuntimeSubject {
 public:
  explicit PgSubject(const std::string& url) {
    // Each case starts from an empty database.
    runtime::PgConnection admin(url, {});
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    if (admin.connect(deadline, {}))
      admin.exec("DROP TABLE IF EXISTS sessions, transcript, meta, leases", deadline);
    store_ = std::make_unique<runtime::PgStore>(io, log, url, "east", "conformance");
  }
  Store& store() override { return *store_; }

 private:
  std::unique_ptr<runtime::PgStore> store_;
};

class SimSubject final : public Subject {
 public:
  SimSubject() : world_(1, sim::SwarmConfig{}), view_(world_.store, /*the world=*/0) {}
  Store& store() override { return view_; }
  bool settle(const std::function<bool()>& done) override {
    while (!done())
      if (!world_.sched.step(world_.sched.now() + 1000)) return false;
    return true;
  }

 private:
  sim::World world_;
  sim::StoreView view_;
};

enum class Kind { sqlite, sim, postgresql };

std::string kind_name(const testing::TestParamInfo<Kind>& info) {
  switch (info.param) {
    case Kind::sqlite:
      return "sqlite";
    case Kind::sim:
      return "sim";
    case Kind::postgresql:
      return "postgresql";
  }
  return "unknown";
}

class StoreConformance : public testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    switch (GetParam()) {
      case Kind::sqlite:
        subject_ = std::make_unique<SqliteSubject>();
        break;
      case Kind::sim:
        subject_ = std::make_unique<SimSubject>();
        break;
      case Kind::postgresql: {
        const char* url = std::getenv("LIFELINE_TEST_PG_URL");
        if (!url || !*url) {
          const char* required = std::getenv("LIFELINE_REQUIRE_PG");
          if (required && std::string(required) == "1")
            FAIL() << "LIFELINE_REQUIRE_PG=1 but LIFELINE_TEST_PG_URL is not set";
          GTEST_SKIP() << "no LIFELINE_TEST_PG_URL (tests/integration/postgres.py run -- ...)";
        }
        subject_ = std::make_unique<PgSubject>(url);
        break;
      }
    }
  }

  Store& store() { return subject_->store(); }

  bool start(const std::string& id, const std::string& key, const std::string& title = "t") {
    std::optional<bool> ok;
    store().record_start({id, key, title, true, 1000, std::nullopt, std::nullopt},
                         [&](bool r) { ok = r; });
    return subject_->settle([&] { return ok.has_value(); }) && *ok;
  }
  bool end(const std::string& id, const std::string& reason) {
    std::optional<bool> ok;
    store().record_end(id, reason, 2000, [&](bool r) { ok = r; });
    return subject_->settle([&] { return ok.has_value(); }) && *ok;
  }
  std::int64_t append(const std::string& key, const std::string& command,
                      const std::string& text = "out", bool ok_entry = true) {
    std::optional<StoreReply<std::int64_t>> r;
    store().append(key, {0, 1500, command, ok_entry, text}, [&](auto reply) { r = reply; });
    if (!subject_->settle([&] { return r.has_value(); }) || !r->ok) return -1;
    return r->value;
  }
  StoreReply<std::optional<SessionRecord>> find(const std::string& id) {
    std::optional<StoreReply<std::optional<SessionRecord>>> r;
    store().find_session(id, [&](auto reply) { r = reply; });
    EXPECT_TRUE(subject_->settle([&] { return r.has_value(); }));
    return r.value_or(StoreReply<std::optional<SessionRecord>>{});
  }
  StoreReply<HistoryPage> history(const std::string& key, HistoryQuery q = {}) {
    std::optional<StoreReply<HistoryPage>> r;
    store().history(key, q, [&](auto reply) { r = reply; });
    EXPECT_TRUE(subject_->settle([&] { return r.has_value(); }));
    return r.value_or(StoreReply<HistoryPage>{});
  }

  std::unique_ptr<Subject> subject_;
};

TEST_P(StoreConformance, a_started_session_is_found_with_what_was_recorded) {
  ASSERT_TRUE(start("s1", "k1", "first tab"));
  auto r = find("s1");
  ASSERT_TRUE(r.ok);
  ASSERT_TRUE(r.value.has_value());
  EXPECT_EQ(r.value->session_key, "k1");
  EXPECT_EQ(r.value->title, "first tab");
  EXPECT_TRUE(r.value->close_on_disconnect);
  EXPECT_EQ(r.value->created_at, 1000);
  EXPECT_FALSE(r.value->end_reason.has_value());
}

TEST_P(StoreConformance, an_unknown_session_is_not_found_and_that_is_no_failure) {
  auto r = find("nobody");
  EXPECT_TRUE(r.ok);
  EXPECT_FALSE(r.value.has_value());
  auto odd = find(std::string("s\0x", 3));
  EXPECT_TRUE(odd.ok);
  EXPECT_FALSE(odd.value.has_value());
}

TEST_P(StoreConformance, a_sessions_first_recorded_end_stands) {
  ASSERT_TRUE(start("s1", "k1"));
  ASSERT_TRUE(end("s1", "client_close"));
  ASSERT_TRUE(end("s1", "shutdown"));
  auto r = find("s1");
  ASSERT_TRUE(r.value.has_value());
  EXPECT_EQ(r.value->end_reason.value_or("(open)"), "client_close");
}

TEST_P(StoreConformance, appends_number_each_history_from_one_in_order) {
  EXPECT_EQ(append("k1", "/a"), 1);
  EXPECT_EQ(append("k1", "/b"), 2);
  EXPECT_EQ(append("k2", "/c"), 1);
  EXPECT_EQ(append("k1", "/d"), 3);
  auto page = history("k1");
  ASSERT_TRUE(page.ok);
  ASSERT_EQ(page.value.entries.size(), 3u);
  EXPECT_EQ(page.value.entries[0].seq, 1);
  EXPECT_EQ(page.value.entries[2].command, "/d");
  EXPECT_FALSE(page.value.more);
}

TEST_P(StoreConformance, entries_come_back_byte_for_byte) {
  using namespace std::string_literals;  // the literal's whole length, its NULs included
  std::string command = "/echo a\0b \xc3\xa9\n\"q\""s;
  std::string text = "line1\r\nline2\0\x01\x7f end"s;
  ASSERT_EQ(command.size(), 16u);
  ASSERT_EQ(text.size(), 19u);
  ASSERT_EQ(append("k1", command, text, true), 1);
  ASSERT_EQ(append("k1", "/fail", "no such command", false), 2);
  auto page = history("k1");
  ASSERT_EQ(page.value.entries.size(), 2u);
  const HistoryEntry& e = page.value.entries[0];
  EXPECT_EQ(e.command, command);
  EXPECT_EQ(e.text, text);
  EXPECT_TRUE(e.ok);
  EXPECT_EQ(e.at, 1500);
  EXPECT_FALSE(page.value.entries[1].ok);
  EXPECT_EQ(page.value.entries[1].text, "no such command");
}

TEST_P(StoreConformance, history_pages_back_by_count_and_before_seq) {
  for (int i = 1; i <= 5; ++i) ASSERT_EQ(append("k1", "/" + std::to_string(i)), i);
  HistoryQuery q;
  q.limit = 2;
  auto newest = history("k1", q);
  ASSERT_EQ(newest.value.entries.size(), 2u);
  EXPECT_EQ(newest.value.entries[0].seq, 4);
  EXPECT_EQ(newest.value.entries[1].seq, 5);
  EXPECT_TRUE(newest.value.more);
  q.before_seq = 4;
  auto older = history("k1", q);
  ASSERT_EQ(older.value.entries.size(), 2u);
  EXPECT_EQ(older.value.entries[0].seq, 2);
  EXPECT_TRUE(older.value.more);
  q.before_seq = 2;
  auto oldest = history("k1", q);
  ASSERT_EQ(oldest.value.entries.size(), 1u);
  EXPECT_EQ(oldest.value.entries[0].seq, 1);
  EXPECT_FALSE(oldest.value.more);
}

TEST_P(StoreConformance, history_pages_stop_at_the_byte_bound_but_always_progress) {
  std::string big(1000, 'x');
  for (int i = 1; i <= 4; ++i) ASSERT_EQ(append("k1", "/big", big), i);
  HistoryQuery q;
  q.max_bytes = 2500;
  auto page = history("k1", q);
  ASSERT_EQ(page.value.entries.size(), 2u);
  EXPECT_EQ(page.value.entries[0].seq, 3);
  EXPECT_TRUE(page.value.more);
  q.max_bytes = 1;  // smaller than any entry: the newest one still comes
  auto one = history("k1", q);
  ASSERT_EQ(one.value.entries.size(), 1u);
  EXPECT_EQ(one.value.entries[0].seq, 4);
  EXPECT_TRUE(one.value.more);
}

TEST_P(StoreConformance, an_unknown_history_is_empty) {
  auto page = history("nothing-here");
  EXPECT_TRUE(page.ok);
  EXPECT_TRUE(page.value.entries.empty());
  EXPECT_FALSE(page.value.more);
}

TEST_P(StoreConformance, completions_arrive_in_the_order_operations_were_issued) {
  std::vector<std::string> order;
  store().record_start({"s1", "k1", "t", false, 1, std::nullopt, std::nullopt},
                       [&](bool) { order.push_back("start"); });
  for (int i = 0; i < 20; ++i)
    store().append("k1", {0, 1, "/" + std::to_string(i), true, "x"}, [&, i](auto r) {
      order.push_back("append" + std::to_string(i) + "=" + std::to_string(r.value));
    });
  store().find_session("s1", [&](auto) { order.push_back("find"); });
  store().record_end("s1", "client_close", 5, [&](bool) { order.push_back("end"); });
  ASSERT_TRUE(subject_->settle([&] { return order.size() == 23; }));
  std::vector<std::string> want{"start"};
  for (int i = 0; i < 20; ++i)
    want.push_back("append" + std::to_string(i) + "=" + std::to_string(i + 1));
  want.push_back("find");
  want.push_back("end");
  EXPECT_EQ(order, want);
}

TEST_P(StoreConformance, a_resumed_history_continues_under_a_new_session) {
  ASSERT_TRUE(start("s1", "k1"));
  ASSERT_EQ(append("k1", "/one"), 1);
  ASSERT_TRUE(end("s1", "idle_timeout"));
  ASSERT_TRUE(start("s2", "k1"));
  ASSERT_EQ(append("k1", "/two"), 2);
  auto first = find("s1");
  auto second = find("s2");
  ASSERT_TRUE(first.value && second.value);
  EXPECT_EQ(first.value->end_reason.value_or(""), "idle_timeout");
  EXPECT_FALSE(second.value->end_reason.has_value());
  EXPECT_EQ(first.value->session_key, second.value->session_key);
  EXPECT_EQ(history("k1").value.entries.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreConformance,
                         testing::Values(Kind::sqlite, Kind::sim, Kind::postgresql), kind_name);

}  // namespace
}  // namespace lifeline

namespace lifeline {
namespace {

// A shared store's leases and claims (docs/DESIGN.md rule 15), between two instances of
// one PostgreSQL database: the transactions the fleet's safety rests on.
class SharedStore : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("LIFELINE_TEST_PG_URL");
    if (!url || !*url) {
      const char* required = std::getenv("LIFELINE_REQUIRE_PG");
      if (required && std::string(required) == "1")
        FAIL() << "LIFELINE_REQUIRE_PG=1 but LIFELINE_TEST_PG_URL is not set";
      GTEST_SKIP() << "no LIFELINE_TEST_PG_URL";
    }
    runtime::PgConnection admin(url, {});
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    ASSERT_TRUE(admin.connect(deadline, {}));
    admin.exec("DROP TABLE IF EXISTS sessions, transcript, meta, leases", deadline);
    admin.close();
    east_ = std::make_unique<runtime::PgStore>(io_, log_, url, "east", "host-e");
    west_ = std::make_unique<runtime::PgStore>(io_, log_, url, "west", "host-w");
  }

  template <typename T>
  T wait(std::function<void(std::function<void(T)>)> start) {
    std::optional<T> got;
    start([&](T v) { got = std::move(v); });
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!got && std::chrono::steady_clock::now() < until) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE(got.has_value());
    return got.value_or(T{});
  }
  StoreReply<LeaseRenewal> renew(runtime::PgStore& s, Millis ttl) {
    return wait<StoreReply<LeaseRenewal>>(
        [&](auto done) { s.renew_lease(&s == east_.get() ? "east" : "west", ttl, done); });
  }
  StoreReply<Claim> claim(runtime::PgStore& s, const std::string& id, const std::string& key,
                          std::optional<std::string> lost_owner = std::nullopt) {
    SessionRecord rec{id, key, "t", true, 1, std::nullopt, std::nullopt};
    return wait<StoreReply<Claim>>([&](auto done) { s.claim(rec, lost_owner, 5, done); });
  }
  StoreReply<std::optional<SessionRecord>> find(runtime::PgStore& s, const std::string& id) {
    return wait<StoreReply<std::optional<SessionRecord>>>(
        [&](auto done) { s.find_session(id, done); });
  }

  runtime::asio::io_context io_;
  NullLog log_;
  std::unique_ptr<runtime::PgStore> east_, west_;
};

TEST_F(SharedStore, ALeaseIsHeldRenewedAndRefusedToAnotherHolderUnderTheSameName) {
  auto first = renew(*east_, 60'000);
  ASSERT_TRUE(first.ok);
  EXPECT_TRUE(first.value.renewed);
  EXPECT_FALSE(first.value.was_lost);
  EXPECT_TRUE(renew(*east_, 60'000).value.renewed) << "its own holder renews";
  // Another gateway (another holder) under the name "east" while the lease is current.
  const char* url = std::getenv("LIFELINE_TEST_PG_URL");
  EXPECT_THROW(runtime::PgStore(io_, log_, url, "east", "host-x"), std::runtime_error)
      << "refused at start";
}

TEST_F(SharedStore, AHistoryHasOneOpenSessionAndFindNamesItsHolder) {
  ASSERT_TRUE(renew(*east_, 60'000).value.renewed);
  ASSERT_TRUE(renew(*west_, 60'000).value.renewed);
  auto won = claim(*east_, "s1", "k1");
  ASSERT_TRUE(won.ok);
  EXPECT_TRUE(won.value.won);
  auto lost = claim(*west_, "s2", "k1");
  ASSERT_TRUE(lost.ok);
  EXPECT_FALSE(lost.value.won) << "the unique index allows one open session per history";
  ASSERT_TRUE(lost.value.holder.has_value());
  EXPECT_EQ(lost.value.holder->instance, "east");
  EXPECT_EQ(lost.value.holder->session_id, "s1");
  EXPECT_TRUE(lost.value.holder->lease_current);
  auto found = find(*west_, "s1");
  ASSERT_TRUE(found.value && found.value->holder);
  EXPECT_EQ(found.value->holder->instance, "east");
}

TEST_F(SharedStore, ALostInstancesSessionsEndOnceWhenItsHistoryIsClaimed) {
  ASSERT_TRUE(renew(*east_, 1).value.renewed);  // a 1 ms lease: expired at once
  ASSERT_TRUE(claim(*east_, "s1", "k1").value.won);
  ASSERT_TRUE(claim(*east_, "s2", "k2").value.won);
  ASSERT_TRUE(renew(*west_, 60'000).value.renewed);
  // A claim that names the live owner is refused while its lease holds (west holds k3).
  ASSERT_TRUE(claim(*west_, "s3", "k3").value.won);
  auto refused = claim(*east_, "s4", "k3", std::string("west"));
  EXPECT_FALSE(refused.value.won);
  ASSERT_TRUE(refused.value.holder);
  EXPECT_EQ(refused.value.holder->instance, "west");
  // East's lease has expired: west claims k1, ending every open session of east's.
  auto won = claim(*west_, "s5", "k1", std::string("east"));
  ASSERT_TRUE(won.ok);
  EXPECT_TRUE(won.value.won);
  EXPECT_EQ(find(*west_, "s1").value->end_reason.value_or(""), "instance_lost");
  EXPECT_EQ(find(*west_, "s2").value->end_reason.value_or(""), "instance_lost");
  EXPECT_FALSE(find(*west_, "s3").value->end_reason.has_value()) << "west's own stands";
  // A second claimant of the same history finds the winner, and ends nothing twice.
  auto second = claim(*east_, "s6", "k1", std::string("east"));
  EXPECT_FALSE(second.value.won);
  ASSERT_TRUE(second.value.holder);
  EXPECT_EQ(second.value.holder->instance, "west");
  // East comes back: its renewal says it was lost.
  auto back = renew(*east_, 60'000);
  EXPECT_TRUE(back.value.renewed);
  EXPECT_TRUE(back.value.was_lost);
}

}  // namespace
}  // namespace lifeline
