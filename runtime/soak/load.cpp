#include "runtime/soak/load.hpp"

#include <sys/socket.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

namespace lifeline::soak {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
template <typename T>
using awaitable = asio::awaitable<T>;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(use_tuple);
}

const Json* result_of(const std::optional<Json>& reply) {
  if (!reply || !reply->is_object()) return nullptr;
  auto it = reply->find("result");
  return it == reply->end() ? nullptr : &*it;
}

std::string string_at(const Json* obj, const char* key) {
  if (!obj || !obj->is_object()) return "";
  auto it = obj->find(key);
  return it != obj->end() && it->is_string() ? it->get<std::string>() : "";
}

std::string base64(const std::string& in) {
  static const char* digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    for (int s : {18, 12, 6, 0}) out += digits[(v >> s) & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += digits[(v >> 18) & 63];
    out += digits[(v >> 12) & 63];
    out += i + 1 < in.size() ? digits[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// JSON-RPC params built outside the coroutines: GCC 12 miscompiles (rejects) a braced
// initializer list that lives across a co_await.
Json params(const char* k1, Json v1) {
  Json o = Json::object();
  o[k1] = std::move(v1);
  return o;
}
Json params(const char* k1, Json v1, const char* k2, Json v2) {
  Json o = params(k1, std::move(v1));
  o[k2] = std::move(v2);
  return o;
}
Json params(const char* k1, Json v1, const char* k2, Json v2, const char* k3, Json v3) {
  Json o = params(k1, std::move(v1), k2, std::move(v2));
  o[k3] = std::move(v3);
  return o;
}

}  // namespace

struct Load::Impl {
  LoadOptions opt;
  Target target;
  asio::io_context io{1};
  std::thread thread;
  std::atomic<bool> gate_open{true};
  std::atomic<bool> stopping{false};
  std::atomic<int> users_running{0};

  mutable std::mutex m;  // guards what the audits read: acks, view, counters
  std::vector<Ack> acks;
  ClientView view;
  LoadCounters counters;

  template <typename F>
  void count(F&& f) {
    std::lock_guard lock(m);
    f();
  }

  class Conn;
  awaitable<void> user(int uid);
  awaitable<void> wait_gate();
  awaitable<std::shared_ptr<Conn>> connect();
};

// One WebSocket connection: a reader that matches replies to requests by id, a write
// queue, and the ways a peer can leave (close, TCP reset, going silent).
class Load::Impl::Conn : public std::enable_shared_from_this<Conn> {
 public:
  struct Pending {
    explicit Pending(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    std::optional<Json> reply;
  };

  Conn(Impl& load) : load_(load), ws_(load.io), resume_(load.io) {}

  awaitable<bool> open() {
    auto& tcp_stream = beast::get_lowest_layer(ws_);
    tcp::endpoint ep(asio::ip::make_address(load_.target.host),
                     static_cast<unsigned short>(load_.target.port));
    tcp_stream.expires_after(std::chrono::seconds(5));
    auto [ec] = co_await tcp_stream.async_connect(ep, use_tuple);
    if (ec) co_return false;
    tcp_stream.socket().set_option(tcp::no_delay(true), ec);
    tcp_stream.expires_never();
    ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(5),
                                                   websocket::stream_base::none(), false});
    ws_.read_message_max(64 << 20);
    std::string host = load_.target.host + ":" + std::to_string(load_.target.port);
    auto [hec] = co_await ws_.async_handshake(host, "/ws?token=" + load_.target.token, use_tuple);
    if (hec) co_return false;
    asio::co_spawn(load_.io, read_loop(shared_from_this()), asio::detached);
    co_return true;
  }

  std::shared_ptr<Pending> begin(const std::string& method, Json params) {
    auto p = std::make_shared<Pending>(load_.io);
    if (ended_) return p;
    std::int64_t id = next_id_++;
    p->timer.expires_after(millis(load_.opt.request_timeout_s));
    pending_[id] = p;
    load_.count([&] { ++load_.view.requests; });
    send(Json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}}
             .dump());
    return p;
  }

  awaitable<std::optional<Json>> finish(std::shared_ptr<Pending> p) {
    if (!p->reply && !ended_) co_await p->timer.async_wait(use_tuple);
    for (auto it = pending_.begin(); it != pending_.end(); ++it)
      if (it->second == p) {
        if (!p->reply) {
          timed_out_.insert(it->first);
          load_.count([&] { ++load_.view.unanswered; });
        }
        pending_.erase(it);
        break;
      }
    co_return p->reply;
  }

  awaitable<std::optional<Json>> call(const std::string& method, Json params = Json::object()) {
    co_return co_await finish(begin(method, std::move(params)));
  }

  // Graceful close; a peer that does not answer within 3 s is reset.
  awaitable<void> close() {
    if (ended_) co_return;
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(3));
    co_await ws_.async_close(websocket::close_code::normal, use_tuple);
    reset();
  }

  // Abrupt: SO_LINGER 0 makes close() send an RST, as a crashed client's kernel would.
  void reset() {
    auto& s = beast::get_lowest_layer(ws_).socket();
    boost::system::error_code ec;
    s.set_option(asio::socket_base::linger(true, 0), ec);
    s.close(ec);
    mark_ended();
  }

  // Stop reading (frames and pings alike) but keep the socket open.
  void pause_reading(bool silent) {
    paused_ = true;
    silent_ = silent;
    if (silent) {
      boost::system::error_code ec;
      beast::get_lowest_layer(ws_).socket().cancel(ec);  // the pending read answered pings
    }
  }
  void resume_reading() {
    paused_ = false;
    resume_.cancel();
  }

  bool ended() const { return ended_; }
  std::int64_t output_bytes() const { return output_bytes_; }

 private:
  void send(std::string text) {
    out_.push_back(std::move(text));
    if (!writing_) asio::co_spawn(load_.io, write_loop(shared_from_this()), asio::detached);
  }

  static awaitable<void> write_loop(std::shared_ptr<Conn> self) {
    self->writing_ = true;
    while (!self->out_.empty() && !self->ended_) {
      auto [ec, n] = co_await self->ws_.async_write(asio::buffer(self->out_.front()), use_tuple);
      if (ec) {
        self->reset();
        break;
      }
      self->out_.pop_front();
    }
    self->out_.clear();
    self->writing_ = false;
  }

  static awaitable<void> read_loop(std::shared_ptr<Conn> self) {
    beast::flat_buffer buf;
    for (;;) {
      while (self->paused_ && !self->silent_ && !self->ended_) {
        self->resume_.expires_after(std::chrono::hours(24));
        co_await self->resume_.async_wait(use_tuple);
      }
      if (self->ended_ || self->silent_) break;
      auto [ec, n] = co_await self->ws_.async_read(buf, use_tuple);
      if (ec) break;
      self->on_frame(beast::buffers_to_string(buf.data()));
      buf.consume(buf.size());
    }
    if (!self->silent_) self->mark_ended();
  }

  void on_frame(const std::string& text) {
    Json m = Json::parse(text, nullptr, false);
    if (m.is_discarded() || !m.is_object()) {
      load_.count([&] { ++load_.view.malformed; });
      return;
    }
    if (m.contains("method")) {  // a notification
      if (m["method"] == "pty.output") output_bytes_ += static_cast<std::int64_t>(text.size());
      return;
    }
    auto id = m.find("id");
    if (id == m.end() || !id->is_number_integer()) {
      load_.count([&] { ++load_.view.unknown_replies; });
      return;
    }
    std::int64_t key = id->get<std::int64_t>();
    std::int64_t error_code = 0;
    if (auto e = m.find("error"); e != m.end())
      error_code = e->is_object() && e->contains("code") && (*e)["code"].is_number_integer()
                       ? (*e)["code"].get<std::int64_t>()
                       : -1;
    auto it = pending_.find(key);
    if (it != pending_.end() && !it->second->reply) {
      it->second->reply = std::move(m);
      it->second->timer.cancel();
      answered_.insert(key);
      load_.count([&] {
        ++load_.view.replies;
        if (error_code) {
          ++load_.view.error_replies;
          ++load_.view.error_codes[error_code];
        }
      });
    } else if (answered_.count(key)) {
      load_.count([&] { ++load_.view.duplicate_replies; });
    } else if (!timed_out_.count(key)) {
      load_.count([&] { ++load_.view.unknown_replies; });
    }
  }

  void mark_ended() {
    if (ended_) return;
    ended_ = true;
    for (auto& [id, p] : pending_)
      if (!p->reply) {
        load_.count([&] { ++load_.view.ended_unanswered; });
        p->timer.cancel();
      }
    pending_.clear();
    resume_.cancel();
  }

  Impl& load_;
  websocket::stream<beast::tcp_stream> ws_;
  asio::steady_timer resume_;
  std::map<std::int64_t, std::shared_ptr<Pending>> pending_;
  std::set<std::int64_t> answered_;
  std::set<std::int64_t> timed_out_;
  std::int64_t next_id_ = 1;
  std::deque<std::string> out_;
  bool writing_ = false;
  bool ended_ = false;
  bool paused_ = false;
  bool silent_ = false;
  std::int64_t output_bytes_ = 0;
};

awaitable<void> Load::Impl::wait_gate() {
  while (!gate_open && !stopping) co_await sleep_for(std::chrono::milliseconds(50));
}

awaitable<std::shared_ptr<Load::Impl::Conn>> Load::Impl::connect() {
  for (int attempt = 0; attempt < 40 && !stopping; ++attempt) {
    co_await wait_gate();
    auto c = std::make_shared<Conn>(*this);
    if (co_await c->open()) {
      count([&] { ++counters.connects; });
      co_return c;
    }
    count([&] { ++counters.connect_failures; });
    co_await sleep_for(std::chrono::milliseconds(100 + 50 * attempt));
  }
  co_return nullptr;
}

namespace {

// The scenario mix. Each returns true when carried out to its end; false when a kill, a
// fault or a refusal cut it short (which is expected and only counted).
enum class Scenario {
  lifecycle,
  resume_within_grace,
  resume_after_grace,
  reset_mid_command,
  half_open,
  slow_reader,
  long_command,
  reset_session_mid_command,
  escaping_terminal,
  spawning_worker,
};
constexpr std::pair<Scenario, int> mix[] = {
    {Scenario::lifecycle, 30},         {Scenario::resume_within_grace, 10},
    {Scenario::resume_after_grace, 4}, {Scenario::reset_mid_command, 8},
    {Scenario::half_open, 3},          {Scenario::slow_reader, 4},
    {Scenario::long_command, 6},       {Scenario::reset_session_mid_command, 8},
    {Scenario::escaping_terminal, 12}, {Scenario::spawning_worker, 10},
};

// A terminal whose shell leaves everything a gateway can lose: background jobs, nohup,
// HUP/TERM-ignoring subshells, setsid'd and double-forked sleepers.
constexpr const char* escaping_shell_line =
    "sleep 1000 & nohup sleep 1000 >/dev/null 2>&1 & (trap '' HUP TERM; sleep 1000) & "
    "setsid sleep 1000 & (sleep 1000 &) & echo ready\n";

}  // namespace

// One virtual user: its seeded choices and the steps its scenarios share.
struct User {
  Load::Impl& load;
  int uid;
  std::mt19937_64 rng;
  std::int64_t n = 0;

  int roll(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
  std::string unique(const char* what) {
    return std::string("/echo ") + what + "-u" + std::to_string(uid) + "-" + std::to_string(++n);
  }
  awaitable<void> pause(int lo_ms, int hi_ms) {
    co_await sleep_for(std::chrono::milliseconds(roll(lo_ms, hi_ms)));
  }
  // slash.exec, recording the acknowledgement.
  awaitable<bool> exec(Load::Impl::Conn& c, std::string sid, std::string key, std::string command);
  awaitable<bool> create(Load::Impl::Conn& c, bool close_on_disconnect, std::string& sid,
                         std::string& key);
  // session.resume of sid on c (live, or from the store: the key stays), one more
  // command, session.close. True when all of it was answered.
  awaitable<bool> resume_and_close(Load::Impl::Conn& c, std::string sid, std::string key,
                                   const char* tag, bool read_history);

  // One scenario each, on the connection `c` it starts with: true when it ran through.
  awaitable<bool> play(Scenario scenario, Load::Impl::Conn& c);
  awaitable<bool> lifecycle(Load::Impl::Conn& c);
  awaitable<bool> resume_later(Load::Impl::Conn& c, bool past_grace);
  awaitable<std::string> open_terminal(Load::Impl::Conn& c, std::string& sid);
  awaitable<bool> reset_mid_command(Load::Impl::Conn& c);
  awaitable<bool> half_open(Load::Impl::Conn& c);
  awaitable<bool> slow_reader(Load::Impl::Conn& c);
  awaitable<bool> long_command(Load::Impl::Conn& c);
  awaitable<bool> reset_session_mid_command(Load::Impl::Conn& c);
  awaitable<bool> escaping_terminal(Load::Impl::Conn& c);
  awaitable<bool> spawning_worker(Load::Impl::Conn& c);
};

awaitable<bool> User::exec(Load::Impl::Conn& c, std::string sid, std::string key,
                           std::string command) {
  auto r = co_await c.call("slash.exec", params("session_id", sid, "command", command));
  const Json* res = result_of(r);
  if (!res) co_return false;
  auto seq = res->find("seq");
  if (seq != res->end() && seq->is_number_integer() && seq->get<std::int64_t>() > 0) {
    std::int64_t at = seq->get<std::int64_t>();
    load.count([&] { load.acks.push_back({key, at, command}); });
  }
  co_return true;
}

awaitable<bool> User::create(Load::Impl::Conn& c, bool close_on_disconnect, std::string& sid,
                             std::string& key) {
  auto r = co_await c.call("session.create", params("close_on_disconnect", close_on_disconnect));
  const Json* res = result_of(r);
  sid = string_at(res, "session_id");
  key = string_at(res, "session_key");
  co_return !sid.empty() && !key.empty();
}

awaitable<bool> User::resume_and_close(Load::Impl::Conn& c, std::string sid, std::string key,
                                       const char* tag, bool read_history) {
  auto r = co_await c.call("session.resume", params("session_id", sid));
  std::string live = string_at(result_of(r), "session_id");
  if (live.empty()) co_return false;
  load.count([&] { ++load.counters.resumes; });
  if (read_history) co_await c.call("session.history", params("session_key", key, "limit", 10));
  co_await exec(c, live, key, unique(tag));
  auto closed = co_await c.call("session.close", params("session_id", live));
  co_return result_of(closed) != nullptr;
}

awaitable<bool> User::lifecycle(Load::Impl::Conn& c) {
  std::string sid, key;
  if (!co_await create(c, true, sid, key)) co_return false;
  int k = roll(1, 3);
  bool ok = true;
  for (int i = 0; i < k && ok; ++i) ok = co_await exec(c, sid, key, unique("life"));
  auto closed = co_await c.call("session.close", params("session_id", sid));
  co_await c.close();
  co_return ok&& result_of(closed);
}

// A kept session left behind - its connection reset within the grace, or closed and the
// grace waited out (it then resumes from the store) - resumed on a new connection, given
// one more command and closed.
awaitable<bool> User::resume_later(Load::Impl::Conn& c, bool past_grace) {
  std::string sid, key;
  if (!co_await create(c, false, sid, key)) co_return false;
  co_await exec(c, sid, key, unique(past_grace ? "before-grace" : "before-reset"));
  if (past_grace) {
    co_await c.close();
    co_await sleep_for(millis(load.opt.orphan_grace_s + 1.5));
  } else {
    c.reset();
  }
  auto again = co_await load.connect();
  if (!again) co_return false;
  bool done = co_await resume_and_close(*again, sid, key,
                                        past_grace ? "after-grace" : "after-resume", past_grace);
  co_await again->close();
  co_return done;
}

awaitable<bool> User::reset_mid_command(Load::Impl::Conn& c) {
  std::string sid, key;
  if (!co_await create(c, true, sid, key)) co_return false;
  c.begin("slash.exec", params("session_id", sid, "command", "/sleep 1"));
  co_await pause(50, 400);
  c.reset();
  co_return true;
}

awaitable<bool> User::half_open(Load::Impl::Conn& c) {
  std::string sid, key;
  if (!co_await create(c, true, sid, key)) co_return false;
  co_await exec(c, sid, key, unique("half-open"));
  c.pause_reading(/*silent=*/true);
  // The gateway must notice within ping interval + timeout, plus its 2 s close limit.
  co_await sleep_for(millis(load.opt.ping_window_s + 3.5));
  bool done = false;
  auto probe = co_await load.connect();
  if (probe) {
    auto r = co_await probe->call("session.active_list");
    const Json* res = result_of(r);
    if (res && res->contains("sessions") && (*res)["sessions"].is_array()) {
      bool still = false;
      for (auto& s : (*res)["sessions"])
        if (s.is_object() && s.value("session_id", "") == sid) still = true;
      load.count([&] {
        ++load.counters.half_open_checked;
        if (still) ++load.view.half_open_survived;
      });
      done = true;
    }
    co_await probe->close();
  }
  c.reset();
  co_return done;
}

// A close_on_disconnect session with one 80x24 terminal: its pty id ("" if refused).
awaitable<std::string> User::open_terminal(Load::Impl::Conn& c, std::string& sid) {
  std::string key;
  if (!co_await create(c, true, sid, key)) co_return std::string();
  auto r = co_await c.call("pty.open", params("session_id", sid, "cols", 80, "rows", 24));
  std::string pty = string_at(result_of(r), "pty_id");
  if (!pty.empty()) load.count([&] { ++load.counters.terminals; });
  co_return pty;
}

awaitable<bool> User::slow_reader(Load::Impl::Conn& c) {
  std::string sid;
  std::string pty = co_await open_terminal(c, sid);
  if (pty.empty()) co_return false;
  c.begin("pty.write", params("pty_id", pty, "data", base64("yes | head -c 30000000\n")));
  co_await pause(100, 300);
  c.pause_reading(/*silent=*/false);
  co_await pause(1500, 3500);
  c.resume_reading();
  co_await pause(300, 1000);
  bool done = true;  // closed for not reading (1008): the bound at work
  if (!c.ended()) {
    co_await c.call("pty.close", params("pty_id", pty));
    auto closed = co_await c.call("session.close", params("session_id", sid));
    done = result_of(closed) != nullptr;
  }
  co_await c.close();
  co_return done;
}

awaitable<bool> User::long_command(Load::Impl::Conn& c) {
  std::string sid, key;
  if (!co_await create(c, true, sid, key)) co_return false;
  bool ok = co_await exec(c, sid, key, "/sleep 2");
  if (roll(0, 1)) {
    auto closed = co_await c.call("session.close", params("session_id", sid));
    ok = ok && result_of(closed);
  }
  co_await c.close();
  co_return ok;
}

awaitable<bool> User::reset_session_mid_command(Load::Impl::Conn& c) {
  std::string sid, key;
  if (!co_await create(c, true, sid, key)) co_return false;
  auto slow = c.begin("slash.exec", params("session_id", sid, "command", "/sleep 3"));
  co_await pause(100, 500);
  auto r = co_await c.call("session.reset", params("session_id", sid));
  auto first = co_await c.finish(slow);
  co_await exec(c, sid, key, unique("after-reset"));
  auto closed = co_await c.call("session.close", params("session_id", sid));
  co_await c.close();
  co_return result_of(r) && first&& result_of(closed);
}

awaitable<bool> User::escaping_terminal(Load::Impl::Conn& c) {
  std::string sid;
  std::string pty = co_await open_terminal(c, sid);
  if (pty.empty()) co_return false;
  co_await c.call("pty.write", params("pty_id", pty, "data", base64(escaping_shell_line)));
  co_await pause(200, 1200);
  switch (roll(0, 3)) {
    case 0:
      co_await c.call("pty.close", params("pty_id", pty));
      [[fallthrough]];
    case 1:
      co_await c.call("session.close", params("session_id", sid));
      co_await c.close();
      break;
    case 2:
      c.reset();
      break;
    default:
      co_await c.close();
      break;  // close_on_disconnect ends it
  }
  co_return true;
}

awaitable<bool> User::spawning_worker(Load::Impl::Conn& c) {
  std::string sid, key;
  if (!co_await create(c, roll(0, 1) == 1, sid, key)) co_return false;
  bool ok = co_await exec(c, sid, key, "/spawn 2");
  ok = ok && co_await exec(c, sid, key, "/spawn 1 --setsid");
  if (roll(0, 1)) {
    co_await c.call("session.close", params("session_id", sid));
    co_await c.close();
  } else {
    c.reset();  // a detached session with grandchildren: the orphan grace ends it
  }
  co_return ok;
}

awaitable<bool> User::play(Scenario scenario, Load::Impl::Conn& c) {
  switch (scenario) {
    case Scenario::lifecycle:
      co_return co_await lifecycle(c);
    case Scenario::resume_within_grace:
      co_return co_await resume_later(c, /*past_grace=*/false);
    case Scenario::resume_after_grace:
      co_return co_await resume_later(c, /*past_grace=*/true);
    case Scenario::reset_mid_command:
      co_return co_await reset_mid_command(c);
    case Scenario::half_open:
      co_return co_await half_open(c);
    case Scenario::slow_reader:
      co_return co_await slow_reader(c);
    case Scenario::long_command:
      co_return co_await long_command(c);
    case Scenario::reset_session_mid_command:
      co_return co_await reset_session_mid_command(c);
    case Scenario::escaping_terminal:
      co_return co_await escaping_terminal(c);
    case Scenario::spawning_worker:
      co_return co_await spawning_worker(c);
  }
  co_return false;
}

awaitable<void> Load::Impl::user(int uid) {
  User u{*this, uid, std::mt19937_64(opt.seed * 1'000'003ULL + static_cast<std::uint64_t>(uid))};
  int total = 0;
  for (auto& [s, w] : mix) total += w;
  while (!stopping) {
    int pick = u.roll(0, total - 1);
    Scenario scenario = mix[0].first;
    for (auto& [s, w] : mix) {
      if (pick < w) {
        scenario = s;
        break;
      }
      pick -= w;
    }
    bool done = false;
    try {
      auto c = co_await connect();
      if (!c) break;
      done = co_await u.play(scenario, *c);
      if (!c->ended()) c->reset();
    } catch (const std::exception&) {
      done = false;  // a reply of an unexpected shape: counted as cut short
    }
    count([&] { ++(done ? counters.lifecycles : counters.aborted); });
    co_await u.pause(0, 150);
  }
  --users_running;
}

Load::Load(LoadOptions options, Target target) : impl_(std::make_unique<Impl>()) {
  impl_->opt = options;
  impl_->target = std::move(target);
}

Load::~Load() {
  impl_->stopping = true;
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void Load::start() {
  for (int uid = 0; uid < impl_->opt.clients; ++uid) {
    ++impl_->users_running;
    asio::co_spawn(impl_->io, impl_->user(uid), asio::detached);
  }
  impl_->thread = std::thread([this] {
    auto guard = asio::make_work_guard(impl_->io);
    impl_->io.run();
  });
}

void Load::set_gate(bool open) {
  impl_->gate_open = open;
}

bool Load::stop(double timeout_s) {
  impl_->stopping = true;
  impl_->gate_open = true;
  auto end = std::chrono::steady_clock::now() + millis(timeout_s);
  while (impl_->users_running > 0 && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return impl_->users_running == 0;  // the thread runs on for call_once, until ~Load
}

std::optional<Json> Load::call_once(const std::string& method, double timeout_s) {
  if (!impl_->thread.joinable() || impl_->io.stopped()) return std::nullopt;
  Impl& load = *impl_;
  auto fut = asio::co_spawn(
      load.io,
      [&load, method, timeout_s]() -> awaitable<std::optional<Json>> {
        auto c = std::make_shared<Impl::Conn>(load);
        if (!co_await c->open()) co_return std::nullopt;
        auto p = c->begin(method, Json::object());
        p->timer.expires_after(millis(timeout_s));
        auto r = co_await c->finish(p);
        co_await c->close();
        co_return r;
      },
      asio::use_future);
  if (fut.wait_for(millis(timeout_s + 5)) != std::future_status::ready) return std::nullopt;
  try {
    return fut.get();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::vector<Ack> Load::acks() const {
  std::lock_guard lock(impl_->m);
  return impl_->acks;
}
ClientView Load::view() const {
  std::lock_guard lock(impl_->m);
  return impl_->view;
}
LoadCounters Load::counters() const {
  std::lock_guard lock(impl_->m);
  return impl_->counters;
}

}  // namespace lifeline::soak
