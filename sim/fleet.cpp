#include "sim/fleet.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "core/gateway.hpp"
#include "core/history_page.hpp"
#include "sim/manual_world.hpp"
#include "sim/rng.hpp"
#include "sim/scheduler.hpp"

namespace lifeline::sim {

namespace {

constexpr WallMs wall_epoch = 1'700'000'000'000;

// What a seed draws.
struct FleetConfig {
  int gateways = 2;
  int clients = 3;
  Millis lease_ttl = 2000;
  Millis store_latency_max = 5;  // each store operation: uniform in [0, this]
  Millis duration = 40'000;      // of faults and traffic, before the world settles
  int partitions = 2;            // store cut-offs, each up to twice the lease
  bool deaths = true;            // gateways SIGKILLed (never the last one)
};

FleetConfig draw(std::uint64_t seed) {
  Rng r(seed ^ 0xf1ee7f1ee7ULL);
  FleetConfig c;
  c.gateways = r.chance(60) ? 2 : 3;
  c.clients = static_cast<int>(r.between(2, 4));
  c.lease_ttl = r.between(1000, 3000);
  // Some seeds' stores answer in a quarter of the lease: the margin a gateway keeps
  // must hold however late a renewal's answer comes.
  int latency = static_cast<int>(r.below(3));
  c.store_latency_max = latency == 0 ? 2 : latency == 1 ? 40 : c.lease_ttl / 4;
  c.partitions = static_cast<int>(r.between(0, 4));
  c.deaths = r.chance(75);
  return c;
}

// A gateway's own clock: true time at a rate within 5%, from its own origin.
class SkewClock final : public Clock {
 public:
  SkewClock(Scheduler& s, Incarnation inc, std::int64_t permille, Millis origin)
      : s_(s), inc_(inc), permille_(permille), origin_(origin) {}
  Millis now() const override { return origin_ + s_.now() * permille_ / 1000; }
  WallMs wall_now() const override { return wall_epoch + s_.now(); }
  TimerId after(Millis delay, std::function<void()> fn) override {
    Millis real = (std::max<Millis>(delay, 0) * 1000 + permille_ - 1) / permille_;
    return s_.after(real, inc_, std::move(fn));
  }
  void cancel(TimerId id) override { s_.cancel(id); }

 private:
  Scheduler& s_;
  Incarnation inc_;
  std::int64_t permille_;
  Millis origin_;
};

class FleetWorld;

// The shared database, judged by one clock (the scheduler's): the model of PostgreSQL's
// rows, unique index and transactions that runtime/gateway/pg_store.cpp relies on.
struct Db {
  struct Row {
    std::string key, title, instance;
    bool close_on_disconnect = true;
    WallMs created_at = 0;
    std::optional<std::string> end_reason;
    int ends_written = 0;
  };
  struct Lease {
    std::string holder;
    Millis expires = 0;
    bool lost = false;
  };
  std::map<std::string, Row> rows;  // by session id
  std::map<std::string, std::vector<HistoryEntry>> transcript;
  std::map<std::string, Lease> leases;

  bool current(const std::string& instance, Millis now) const {
    auto it = leases.find(instance);
    return it != leases.end() && !it->second.lost && it->second.expires > now;
  }
  std::optional<SessionHolder> holder(const std::string& key, Millis now) const {
    for (const auto& [id, row] : rows)
      if (row.key == key && !row.end_reason)
        return SessionHolder{id, row.instance, current(row.instance, now)};
    return std::nullopt;
  }
  void end(const std::string& id, const std::string& reason) {
    auto it = rows.find(id);
    if (it == rows.end() || it->second.end_reason) return;
    it->second.end_reason = reason;
    ++it->second.ends_written;
  }
};

struct Node;

// One gateway's connection to the shared store.
class FleetStore final : public Store {
 public:
  FleetStore(FleetWorld& w, Node& node) : w_(w), node_(node) {}
  bool shared() const override { return true; }
  void record_start(const SessionRecord& rec, std::function<void(bool)> done) override;
  void record_end(const std::string& id, const std::string& reason, WallMs at,
                  std::function<void(bool)> done) override;
  void append(const std::string& key, HistoryEntry entry,
              std::function<void(StoreReply<std::int64_t>)> done) override;
  void find_session(const std::string& id,
                    std::function<void(StoreReply<std::optional<SessionRecord>>)> done) override;
  void history(const std::string& key, const HistoryQuery& query,
               std::function<void(StoreReply<HistoryPage>)> done) override;
  void renew_lease(const std::string& instance, Millis ttl,
                   std::function<void(StoreReply<LeaseRenewal>)> done) override;
  void claim(const SessionRecord& rec, const std::optional<std::string>& lost_owner, WallMs at,
             std::function<void(StoreReply<Claim>)> done) override;

 private:
  // Applies `apply` at the store after its latency (FIFO per gateway), unless the gateway
  // is cut off then; the reply goes back to the gateway, if it still lives.
  template <typename Reply>
  void op(std::function<Reply(Db&)> apply, std::function<void(Reply)> done);

  FleetWorld& w_;
  Node& node_;
  Millis last_due_ = 0;
};

struct Node {
  int index = 0;
  std::string instance;
  Incarnation inc = 0;
  bool alive = true;
  Millis cut_until = 0;  // the store refuses this gateway until then
  std::unique_ptr<SkewClock> clock;
  TaskQueue tasks;
  FakeProcesses procs{tasks};
  FakeTransport transport;
  std::unique_ptr<FleetStore> store;
  CountingRandom random;
  CaptureLog log;
  std::unique_ptr<Gateway> gw;
  ConnId next_conn = 1;
};

struct Ack {
  std::string key;
  std::int64_t seq;
  std::string output;
};

struct FleetClient {
  explicit FleetClient(int who) : id(who) {}
  int id = 0;
  int node = -1;
  ConnId conn = 0;
  std::size_t read = 0;  // messages of the connection's outbox already handled
  std::int64_t next_request = 1;
  std::map<std::int64_t, std::pair<std::string, std::string>> pending;  // id -> (method, arg)
  std::vector<std::string> held;  // session ids bound to this connection
  std::optional<int> redirect;    // a 4011 named this gateway
  int commands = 0;
};

class FleetWorld {
 public:
  FleetWorld(std::uint64_t seed, FleetConfig config)
      : seed_(seed),
        config_(config),
        rng_(seed),
        sched_([this](Incarnation inc) { return inc == 0 || nodes_[inc - 1]->alive; }) {
    for (int i = 0; i < config_.gateways; ++i) {
      auto n = std::make_unique<Node>();
      n->index = i;
      n->instance = std::string("gw-") + static_cast<char>('a' + i);
      n->inc = static_cast<Incarnation>(i) + 1;
      n->clock = std::make_unique<SkewClock>(sched_, n->inc, rng_.between(950, 1050),
                                             rng_.between(0, 100000));
      n->random = CountingRandom(seed * 31 + static_cast<std::uint64_t>(i) + 1);
      n->procs.auto_answer = true;
      n->store = std::make_unique<FleetStore>(*this, *n);
      nodes_.push_back(std::move(n));
    }
    for (int i = 0; i < config_.clients; ++i) clients_.emplace_back(i);
  }

  RunResult run();

  Scheduler& sched() { return sched_; }
  Rng& rng() { return rng_; }
  Db& db() { return db_; }
  const FleetConfig& config() const { return config_; }
  void violate(Inv inv, std::string detail) {
    if (!result_.ok) return;
    result_.ok = false;
    result_.invariant = std::string(invariant(inv).name);
    result_.detail = std::move(detail);
    result_.event_index = sched_.executed();
    result_.at = sched_.now();
  }
  bool cut_off(const Node& n) const { return sched_.now() < n.cut_until; }
  // A gateway is serving: it appended an entry for `key`. Its lease must be current by
  // the store's clock, and no other instance may hold the history.
  void on_serving(const Node& n, const std::string& key) {
    Millis now = sched_.now();
    // mutant-free oracle: judged at the moment the gateway acts, by the store's clock.
    if (!db_.current(n.instance, now))
      violate(Inv::a_gateway_never_serves_a_session_whose_lease_it_lost,
              n.instance + " served history " + key + " at t=" + std::to_string(now) +
                  " while its lease was not current in the store");
    if (auto h = db_.holder(key, now); h && h->instance != n.instance)
      violate(Inv::a_gateway_never_serves_a_session_whose_lease_it_lost,
              n.instance + " served history " + key + ", which " + h->instance + " holds");
  }

 private:
  void start_gateways();
  void settle_nodes();  // runs what the fakes owe the cores (spawns, answers, exits)
  void check();         // after every event
  void client_act(FleetClient& c);
  void client_read(FleetClient& c);
  void send(FleetClient& c, const std::string& method, Json params, std::string arg = {});
  void connect(FleetClient& c, int node);
  void drop(FleetClient& c);
  int random_alive(std::optional<int> prefer = std::nullopt);
  void schedule_faults();
  void final_checks();

  std::uint64_t seed_;
  FleetConfig config_;
  Rng rng_;
  Scheduler sched_;
  Db db_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<FleetClient> clients_;
  std::vector<std::string> known_;             // session ids clients have seen
  std::map<std::string, std::string> key_of_;  // session id -> its history's key
  std::vector<Ack> acks_;
  bool settling_ = false;
  RunResult result_;
};

template <typename Reply>
void FleetStore::op(std::function<Reply(Db&)> apply, std::function<void(Reply)> done) {
  Millis due =
      std::max(last_due_, w_.sched().now() + w_.rng().between(0, w_.config().store_latency_max));
  last_due_ = due;
  w_.sched().at(due, 0, [this, apply = std::move(apply), done = std::move(done)] {
    Reply r{};
    if (!w_.cut_off(node_)) r = apply(w_.db());
    w_.sched().after(0, node_.inc, [done, r] { done(r); });
  });
}

void FleetStore::record_start(const SessionRecord& rec, std::function<void(bool)> done) {
  std::string instance = node_.instance;
  op<bool>(
      [rec, instance](Db& db) {
        // The unique index of open sessions by key refuses a second (a create's key is new).
        if (db.holder(rec.session_key, 0)) return false;
        db.rows[rec.session_id] = Db::Row{
            rec.session_key, rec.title, instance, rec.close_on_disconnect, rec.created_at, {}, 0};
        return true;
      },
      std::move(done));
}

void FleetStore::record_end(const std::string& id, const std::string& reason, WallMs,
                            std::function<void(bool)> done) {
  op<bool>(
      [id, reason](Db& db) {
        db.end(id, reason);
        return true;
      },
      std::move(done));
}

void FleetStore::append(const std::string& key, HistoryEntry entry,
                        std::function<void(StoreReply<std::int64_t>)> done) {
  w_.on_serving(node_, key);
  op<StoreReply<std::int64_t>>(
      [key, entry](Db& db) mutable {
        auto& list = db.transcript[key];
        entry.seq = static_cast<std::int64_t>(list.size()) + 1;
        list.push_back(entry);
        return StoreReply<std::int64_t>{true, entry.seq};
      },
      std::move(done));
}

void FleetStore::find_session(const std::string& id,
                              std::function<void(StoreReply<std::optional<SessionRecord>>)> done) {
  Scheduler& s = w_.sched();
  op<StoreReply<std::optional<SessionRecord>>>(
      [id, &s](Db& db) {
        StoreReply<std::optional<SessionRecord>> r{true, std::nullopt};
        auto it = db.rows.find(id);
        if (it == db.rows.end()) return r;
        const Db::Row& row = it->second;
        r.value = SessionRecord{id,
                                row.key,
                                row.title,
                                row.close_on_disconnect,
                                row.created_at,
                                row.end_reason,
                                db.holder(row.key, s.now())};
        return r;
      },
      std::move(done));
}

void FleetStore::history(const std::string& key, const HistoryQuery& query,
                         std::function<void(StoreReply<HistoryPage>)> done) {
  op<StoreReply<HistoryPage>>(
      [key, query](Db& db) {
        HistoryPager pager(query);
        auto it = db.transcript.find(key);
        if (it != db.transcript.end())
          for (auto e = it->second.rbegin(); e != it->second.rend() && pager.offer(*e); ++e) {
          }
        return StoreReply<HistoryPage>{true, std::move(pager).finish()};
      },
      std::move(done));
}

void FleetStore::renew_lease(const std::string& instance, Millis ttl,
                             std::function<void(StoreReply<LeaseRenewal>)> done) {
  Scheduler& s = w_.sched();
  // One holder per name here (a name is never reused): the instance is its own holder.
  op<StoreReply<LeaseRenewal>>(
      [instance, ttl, &holder = instance, &s](Db& db) {
        StoreReply<LeaseRenewal> r{true, {}};
        auto it = db.leases.find(instance);
        if (it != db.leases.end() && it->second.holder != holder && !it->second.lost &&
            it->second.expires > s.now())
          return r;  // another holder's, current
        r.value.renewed = true;
        r.value.was_lost = it != db.leases.end() && it->second.lost;
        db.leases[instance] = Db::Lease{holder, s.now() + ttl, false};
        return r;
      },
      std::move(done));
}

void FleetStore::claim(const SessionRecord& rec, const std::optional<std::string>& lost_owner,
                       WallMs, std::function<void(StoreReply<Claim>)> done) {
  Scheduler& s = w_.sched();
  std::string me = node_.instance;
  op<StoreReply<Claim>>(
      [rec, lost_owner, me, &s](Db& db) {
        StoreReply<Claim> r{true, {}};
        Millis now = s.now();
        if (lost_owner) {
          if (db.current(*lost_owner, now)) {
            r.value.holder = db.holder(rec.session_key, now);
            return r;
          }
          for (auto& [id, row] : db.rows)
            if (row.instance == *lost_owner && !row.end_reason) db.end(id, "instance_lost");
          db.leases[*lost_owner].lost = true;
        }
        for (auto& [id, row] : db.rows)
          if (row.key == rec.session_key && row.instance == me && !row.end_reason)
            db.end(id, "shutdown");
        if (auto h = db.holder(rec.session_key, now)) {
          r.value.holder = h;
          return r;
        }
        db.rows[rec.session_id] =
            Db::Row{rec.session_key, rec.title, me, rec.close_on_disconnect, rec.created_at, {}, 0};
        r.value.won = true;
        return r;
      },
      std::move(done));
}

void FleetWorld::start_gateways() {
  for (auto& n : nodes_) {
    GatewayConfig cfg;
    cfg.instance = n->instance;
    cfg.lease_ttl = config_.lease_ttl;
    cfg.worker_pool = 0;
    cfg.orphan_grace = 5000;
    n->gw = std::make_unique<Gateway>(
        cfg, GatewayPorts{*n->clock, n->procs, n->transport, *n->store, n->random, n->log});
    n->gw->start();
  }
}

void FleetWorld::settle_nodes() {
  for (bool more = true; more;) {
    more = false;
    for (auto& n : nodes_) {
      if (!n->alive) continue;
      while (n->procs.pending_spawns()) {
        n->procs.complete_spawn();
        more = true;
      }
      if (n->tasks.run_all()) more = true;
    }
  }
}

int FleetWorld::random_alive(std::optional<int> prefer) {
  if (prefer && nodes_[static_cast<std::size_t>(*prefer)]->alive) return *prefer;
  std::vector<int> up;
  for (auto& n : nodes_)
    if (n->alive) up.push_back(n->index);
  return up[static_cast<std::size_t>(rng_.below(static_cast<std::int64_t>(up.size())))];
}

void FleetWorld::send(FleetClient& c, const std::string& method, Json params, std::string arg) {
  std::int64_t id = c.next_request++;
  c.pending[id] = {method, std::move(arg)};
  Json msg = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
  nodes_[static_cast<std::size_t>(c.node)]->gw->on_message(c.conn, msg.dump());
}

void FleetWorld::connect(FleetClient& c, int node) {
  Node& n = *nodes_[static_cast<std::size_t>(node)];
  c.node = node;
  c.conn = n.next_conn++;
  c.read = 0;
  c.pending.clear();
  c.held.clear();
  n.gw->on_connect(c.conn, "client " + std::to_string(c.id));
}

void FleetWorld::drop(FleetClient& c) {
  if (c.conn && nodes_[static_cast<std::size_t>(c.node)]->alive)
    nodes_[static_cast<std::size_t>(c.node)]->gw->on_disconnect(c.conn);
  c.conn = 0;
  c.held.clear();
  c.pending.clear();
}

void FleetWorld::client_act(FleetClient& c) {
  if (!c.conn || !nodes_[static_cast<std::size_t>(c.node)]->alive) {
    c.conn = 0;
    connect(c, random_alive(c.redirect));
    c.redirect.reset();
  } else if (c.redirect) {
    drop(c);
    connect(c, random_alive(c.redirect));
    c.redirect.reset();
  } else {
    int roll = static_cast<int>(rng_.below(100));
    if (roll < 15 && c.held.size() < 2) {
      send(c, "session.create", {{"close_on_disconnect", rng_.chance(30)}});
    } else if (roll < 60 && !c.held.empty()) {
      const std::string& sid =
          c.held[static_cast<std::size_t>(rng_.below(static_cast<std::int64_t>(c.held.size())))];
      std::string word = "c" + std::to_string(c.id) + "n" + std::to_string(++c.commands);
      send(c, "slash.exec", {{"session_id", sid}, {"command", "/echo " + word}}, sid);
    } else if (roll < 85 && !known_.empty()) {
      const std::string& sid =
          known_[static_cast<std::size_t>(rng_.below(static_cast<std::int64_t>(known_.size())))];
      send(c, "session.resume", {{"session_id", sid}}, sid);
    } else if (roll < 93) {
      drop(c);
    } else {
      drop(c);
      connect(c, random_alive());
    }
  }
  if (!settling_ && sched_.now() < config_.duration) {
    FleetClient* self = &c;
    sched_.after(rng_.between(20, 400), 0, [this, self] { client_act(*self); });
  }
}

void FleetWorld::client_read(FleetClient& c) {
  if (!c.conn) return;
  Node& n = *nodes_[static_cast<std::size_t>(c.node)];
  const auto& out = n.transport.sent(c.conn);
  for (; c.read < out.size(); ++c.read) {
    const Json& msg = out[c.read];
    if (msg.value("method", "") == "event") {
      const Json& p = msg["params"];
      if (p.value("type", "") == "session.closed" || p.value("type", "") == "session.taken_over") {
        std::string sid = p.value("session_id", "");
        c.held.erase(std::remove(c.held.begin(), c.held.end(), sid), c.held.end());
      }
      continue;
    }
    if (!msg.contains("id") || !msg["id"].is_number_integer()) continue;
    auto it = c.pending.find(msg["id"].get<std::int64_t>());
    if (it == c.pending.end()) continue;
    auto [method, arg] = it->second;
    c.pending.erase(it);
    if (msg.contains("error")) {
      const Json& e = msg["error"];
      if (e.value("code", 0) == rpc::session_elsewhere && e.contains("data")) {
        ++result_.counters.stale_refused;
        std::string where = e["data"].value("instance", "");
        for (auto& node : nodes_)
          if (node->instance == where && node->index != c.node) c.redirect = node->index;
      }
      continue;
    }
    const Json& r = msg["result"];
    if (method == "session.create") {
      ++result_.counters.sessions_created;
      std::string sid = r["session_id"], key = r["session_key"];
      c.held.push_back(sid);
      known_.push_back(sid);
      key_of_[sid] = key;
    } else if (method == "session.resume") {
      ++result_.counters.resumes_ok;
      if (r.contains("claimed_from")) ++result_.counters.takeovers_seen;
      std::string sid = r["session_id"];
      if (r.contains("session_key")) {
        std::string key = r["session_key"];
        auto asked = key_of_.find(arg);
        if (asked != key_of_.end() && asked->second != key) {
          std::string what = "resuming " + arg;
          what += " (history " + asked->second + ") on ";
          what += nodes_[static_cast<std::size_t>(c.node)]->instance;
          what += " continued history " + key;
          violate(Inv::no_acknowledged_entry_is_lost_across_a_claim, what);
        }
        if (!key_of_.count(sid)) known_.push_back(sid);
        key_of_[sid] = key;
      }
      if (std::find(c.held.begin(), c.held.end(), sid) == c.held.end()) c.held.push_back(sid);
    } else if (method == "slash.exec" && r.contains("seq")) {
      auto k = key_of_.find(arg);
      if (k != key_of_.end())
        acks_.push_back({k->second, r["seq"].get<std::int64_t>(), r.value("output", "")});
    }
  }
}

void FleetWorld::check() {
  // At most one live session per history, over every gateway that still runs.
  std::map<std::string, std::string> live;  // key -> "instance/session"
  for (auto& n : nodes_) {
    if (!n->alive) continue;
    for (const auto& [id, s] : n->gw->registry()) {
      auto [it, fresh] = live.emplace(s->key, n->instance + "/" + id);
      if (!fresh)
        violate(
            Inv::at_most_one_live_session_per_history_across_the_fleet,
            "history " + s->key + " is live as " + it->second + " and " + n->instance + "/" + id);
    }
  }
  // Every acknowledged entry is where the client was told it is.
  for (const Ack& a : acks_) {
    auto it = db_.transcript.find(a.key);
    bool there = it != db_.transcript.end() && a.seq >= 1 &&
                 a.seq <= static_cast<std::int64_t>(it->second.size()) &&
                 "ok " + it->second[static_cast<std::size_t>(a.seq - 1)].command == a.output;
    if (!there)
      violate(Inv::no_acknowledged_entry_is_lost_across_a_claim,
              "entry " + std::to_string(a.seq) + " of history " + a.key + " (" + a.output +
                  ") was acknowledged and is not in the store");
  }
}

void FleetWorld::schedule_faults() {
  for (int i = 0; i < config_.partitions; ++i) {
    Millis at = rng_.between(config_.duration / 8, config_.duration * 7 / 8);
    Millis length = rng_.between(config_.lease_ttl / 4, config_.lease_ttl * 2);
    int node = static_cast<int>(rng_.below(config_.gateways));
    sched_.at(at, 0, [this, node, length] {
      Node& n = *nodes_[static_cast<std::size_t>(node)];
      n.cut_until = std::max(n.cut_until, sched_.now() + length);
    });
  }
  if (config_.deaths)
    for (int i = 0; i < config_.gateways - 1; ++i) {
      if (!rng_.chance(60)) continue;
      Millis at = rng_.between(config_.duration / 6, config_.duration * 3 / 4);
      sched_.at(at, 0, [this] {
        int up = 0;
        for (auto& n : nodes_) up += n->alive;
        if (up <= 1) return;
        Node& victim = *nodes_[static_cast<std::size_t>(random_alive())];
        victim.alive = false;  // SIGKILL, no restart: its timers and replies vanish
        ++result_.counters.gateway_kills;
        for (auto& c : clients_)
          if (c.node == victim.index) c.conn = 0;
      });
    }
}

// The world has settled: every history a dead instance left open must be claimable on a
// live gateway, and then its old sessions are ended once, as instance_lost.
void FleetWorld::final_checks() {
  std::set<std::string> dead;
  for (auto& n : nodes_)
    if (!n->alive) dead.insert(n->instance);
  std::vector<std::string> orphans;
  for (const auto& [id, row] : db_.rows)
    if (!row.end_reason && dead.count(row.instance)) orphans.push_back(id);
  if (orphans.empty() || !result_.ok) return;
  FleetClient settler(99);
  connect(settler, random_alive());
  for (const std::string& id : orphans) {
    if (db_.rows[id].end_reason) continue;  // ended by an earlier claim of this loop
    send(settler, "session.resume", {{"session_id", id}}, id);
    for (int i = 0; i < 100000 && sched_.step(sched_.now() + 60'000); ++i) {
      settle_nodes();
      client_read(settler);
      check();
      if (settler.pending.empty()) break;
    }
  }
  for (const std::string& id : orphans) {
    const Db::Row& row = db_.rows[id];
    if (row.end_reason != std::optional<std::string>("instance_lost") || row.ends_written != 1)
      violate(Inv::a_lost_instances_sessions_are_ended_exactly_once,
              "session " + id + " of lost instance " + row.instance + " ended " +
                  std::to_string(row.ends_written) + " times, as " +
                  row.end_reason.value_or("(still open)") + ", after a resume on a live gateway");
  }
}

RunResult FleetWorld::run() {
  start_gateways();
  schedule_faults();
  for (auto& c : clients_) {
    FleetClient* self = &c;
    sched_.after(rng_.between(0, 200), 0, [this, self] { client_act(*self); });
  }
  // Traffic and faults, then the world settles: partitions heal, leases of the dead
  // lapse, and what remains is claimed.
  Millis until = config_.duration + 4 * config_.lease_ttl;
  while (result_.ok && sched_.step(until)) {
    settle_nodes();
    for (auto& c : clients_) client_read(c);
    check();
    if (sched_.now() >= config_.duration) settling_ = true;
  }
  sched_.advance_to(until);
  if (result_.ok) final_checks();
  result_.events = sched_.executed();
  result_.sim_time = sched_.now();
  result_.counters.acks_checked = static_cast<std::int64_t>(acks_.size());
  // The run's outcome, hashed (FNV-1a): what the determinism check compares.
  std::uint64_t h = 1469598103934665603ULL ^ seed_;
  auto mix = [&h](const std::string& text) {
    for (char ch : text) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ULL;
  };
  mix(std::to_string(result_.events));
  for (const auto& [id, row] : db_.rows) mix(id + row.instance + row.end_reason.value_or("-"));
  for (const auto& [key, list] : db_.transcript) mix(key + std::to_string(list.size()));
  for (auto& n : nodes_) {
    result_.counters.sessions_finalized += n->gw->counters().finalized;
    // Fences: sessions a gateway ended because its lease lapsed or was lost.
    result_.counters.keepalive_drops += n->gw->counters().ended(EndReason::lease_lost);
  }
  result_.hash = h;
  return result_;
}

}  // namespace

bool fleet_seed(std::uint64_t seed) {
  return seed % 5 == 4;
}

std::string describe_fleet(std::uint64_t seed) {
  FleetConfig c = draw(seed);
  return "fleet gateways=" + std::to_string(c.gateways) + " clients=" + std::to_string(c.clients) +
         " lease_ms=" + std::to_string(c.lease_ttl) +
         " store_latency_max_ms=" + std::to_string(c.store_latency_max) +
         " partitions=" + std::to_string(c.partitions) + " deaths=" + (c.deaths ? "yes" : "no");
}

RunResult run_fleet(std::uint64_t seed) {
  FleetWorld w(seed, draw(seed));
  return w.run();
}

}  // namespace lifeline::sim
