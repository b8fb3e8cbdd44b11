// lifeline-bench: starts its own lifeline-gateway (temporary state dir, a free port)
// and measures what users feel: warm slash.exec round trips, full lifecycles per
// second, disconnect -> worker tree reaped, gateway SIGKILL -> every worker gone, and
// memory per idle session and per worker. Figures are printed with a baseline measured
// in the same run (a bare fork/exec/kill/reap of /bin/sleep) where one makes sense.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pty.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>
#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Percentiles {
  double p50, p99, max;
};
Percentiles percentiles(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<std::size_t>(q * v.size()))];
  };
  return {at(0.5), at(0.99), v.back()};
}

bool pid_alive(int pid) {
  std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(st, line)) return false;
  auto close = line.rfind(')');
  return close != std::string::npos && line[close + 2] != 'Z';
}

long rss_kib(int pid) {
  std::ifstream st("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  long value = 0;
  while (st >> key) {
    if (key == "VmRSS:") {
      st >> value;
      return value;
    }
    st.ignore(1 << 20, '\n');
  }
  return 0;
}

// Waits until none of pids is alive; returns the milliseconds it took (or -1). The
// bench is a subreaper: orphans of a gateway it SIGKILLs come to it, and it reaps them.
double wait_gone(const std::vector<int>& pids, Clock::time_point t0, double limit_ms = 10'000) {
  while (ms_since(t0) < limit_ms) {
    for (int pid : pids) waitpid(pid, nullptr, WNOHANG);
    if (std::none_of(pids.begin(), pids.end(), pid_alive)) return ms_since(t0);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return -1;
}

struct Gateway {
  int pid = -1;
  int port = 0;
  std::string token;
  std::string state;

  void start(const std::string& exe, const std::string& state_dir, int want_port = 0,
             const std::vector<std::string>& extra = {}) {
    state = state_dir;
    int err[2];
    if (pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    // Built before the fork: the child only execs.
    std::vector<std::string> args = {
        exe,           "--listen", "127.0.0.1:" + std::to_string(want_port),
        "--state-dir", state_dir,  "--ping-interval",
        "20"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);  // a bench that crashes leaves no gateway behind
      dup2(err[1], 2);
      int devnull = open("/dev/null", O_RDWR);
      dup2(devnull, 0);
      dup2(devnull, 1);
      execv(exe.c_str(), argv.data());
      _exit(127);
    }
    close(err[1]);
    std::string buf;
    char c;
    while (read(err[0], &c, 1) == 1) {
      if (c != '\n') {
        buf += c;
        continue;
      }
      if (buf.rfind("listening ws://", 0) == 0) {
        port = std::stoi(buf.substr(buf.rfind(':') + 1));
        break;
      }
      buf.clear();
    }
    // Keep draining the gateway's log so that it never blocks on a full pipe.
    std::thread([fd = err[0]] {
      char sink[4096];
      while (read(fd, sink, sizeof sink) > 0) {
      }
      close(fd);
    }).detach();
    if (!port) throw std::runtime_error("gateway did not start");
    std::ifstream t(state_dir + "/token");
    t >> token;
  }
  void kill_now() {
    ::kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  void stop() {
    ::kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
  }
};

class Client {
 public:
  // hello: the server greets first (lifeline's gateway.ready; websocketd says nothing).
  Client(asio::io_context& io, int port, const std::string& token, bool hello = true) : ws_(io) {
    tcp::resolver r(io);
    asio::connect(ws_.next_layer(), r.resolve("127.0.0.1", std::to_string(port)));
    ws_.next_layer().set_option(tcp::no_delay(true));
    websocket::response_type res;
    beast::error_code ec;
    ws_.handshake(res, "127.0.0.1:" + std::to_string(port), "/ws?token=" + token, ec);
    if (ec)
      throw std::runtime_error("handshake with port " + std::to_string(port) + ": " +
                               std::to_string(res.result_int()) + " " + res.body());
    if (hello) read();  // gateway.ready
  }
  Json read() {
    beast::flat_buffer b;
    ws_.read(b);
    return Json::parse(beast::buffers_to_string(b.data()));
  }
  Json call(const std::string& method, Json params = Json::object()) {
    int id = next_++;
    ws_.write(asio::buffer(
        Json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}}.dump()));
    for (;;) {
      Json m = read();
      if (m.contains("id") && m["id"] == id) return m;
    }
  }
  // Without waiting for a reply: the caller reads what comes.
  void send(const std::string& method, Json params) {
    ws_.write(asio::buffer(
        Json{{"jsonrpc", "2.0"}, {"id", next_++}, {"method", method}, {"params", params}}.dump()));
  }
  void write_text(const std::string& text) {
    ws_.text(true);
    ws_.write(asio::buffer(text));
  }
  // One message as it came (text or binary), unparsed.
  std::string read_raw() {
    beast::flat_buffer b;
    ws_.read(b);
    return beast::buffers_to_string(b.data());
  }
  void abort() { ws_.next_layer().close(); }
  void close() { ws_.close(websocket::close_code::normal); }

 private:
  websocket::stream<tcp::socket> ws_;
  int next_ = 1;
};

int worker_pid(Client& c, const std::string& sid) {
  std::string out =
      c.call("slash.exec", {{"session_id", sid}, {"command", "/pid"}})["result"]["output"];
  return std::stoi(out.substr(4));
}

std::vector<int> tree_of(Client& c, const std::string& sid) {
  int pid = worker_pid(c, sid);
  c.call("slash.exec", {{"session_id", sid}, {"command", "/spawn 2"}});
  c.call("slash.exec", {{"session_id", sid}, {"command", "/spawn 1 --setsid"}});
  std::vector<int> pids = {pid};
  std::ifstream kids("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  int k;
  while (kids >> k) pids.push_back(k);
  return pids;
}

double baseline_kill_reap_ms() {
  std::vector<double> v;
  for (int i = 0; i < 50; ++i) {
    int pid = fork();
    if (pid == 0) {
      execl("/bin/sleep", "sleep", "100", static_cast<char*>(nullptr));
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    auto t0 = Clock::now();
    ::kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    v.push_back(ms_since(t0));
  }
  return percentiles(v).p99;
}

// What a durable commit costs at least on this disk, without the gateway: a bare SQLite
// database beside the gateway's, in WAL mode with the same synchronous setting, one
// small row per transaction (the p50 of the last 500 of 1000, once the log has wrapped).
double bare_commit_p50_us(const std::string& dir, bool power_safe) {
  std::string path = dir + "/bench-commit.db";
  sqlite3* db = nullptr;
  std::vector<double> v;
  if (sqlite3_open(path.c_str(), &db) == SQLITE_OK) {
    std::string setup = std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=") +
                        (power_safe ? "FULL" : "NORMAL") +
                        "; CREATE TABLE t(k TEXT, seq INTEGER, text TEXT, PRIMARY KEY(k, seq));";
    sqlite3_stmt* ins = nullptr;
    if (sqlite3_exec(db, setup.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "INSERT INTO t VALUES('key', ?, 'x')", -1, &ins, nullptr) ==
            SQLITE_OK) {
      for (int i = 0; i < 1000; ++i) {
        auto t0 = Clock::now();
        sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
        sqlite3_bind_int(ins, 1, i);
        sqlite3_step(ins);
        sqlite3_reset(ins);
        if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) break;
        if (i >= 500) v.push_back(ms_since(t0) * 1000.0);
      }
    }
    sqlite3_finalize(ins);
  }
  sqlite3_close(db);
  for (const char* suffix : {"", "-wal", "-shm"}) unlink((path + suffix).c_str());
  return v.empty() ? -1 : percentiles(v).p50;
}

// --peers: one client, one run, three servers. Each lifecycle spawns one process per
// connection and ends with it gone: for websocketd, connect (spawns the echo worker),
// one request, close; for lifeline, connect, session.create, slash.exec (spawns the
// slash worker), session.close, close.
struct Lifecycles {
  double per_second;
  long count;
};

template <typename Body>
Lifecycles lifecycles(int port, const std::string& token, int clients, double seconds, Body body) {
  bool hello = !token.empty();
  std::atomic<long> done{0}, failed{0};
  std::vector<std::thread> threads;
  auto t0 = Clock::now();
  auto end = t0 + std::chrono::duration<double>(seconds);
  std::string first_error;
  std::mutex m;
  threads.reserve(static_cast<std::size_t>(clients));
  for (int i = 0; i < clients; ++i)
    threads.emplace_back([&] {
      asio::io_context tio;
      while (Clock::now() < end) {
        try {
          Client c(tio, port, token, hello);
          body(c);
          c.close();
          ++done;
        } catch (const std::exception& e) {
          ++failed;
          std::lock_guard lock(m);
          if (first_error.empty()) first_error = e.what();
        }
      }
    });
  for (auto& t : threads) t.join();
  if (failed)
    std::printf("  (%ld lifecycles failed, first: %s)\n", failed.load(), first_error.c_str());
  return {done.load() / (ms_since(t0) / 1000), done.load()};
}

Percentiles round_trips(int port, const std::string& token, double seconds,
                        const std::string& method, const Json& params) {
  asio::io_context io;
  Client c(io, port, token, !token.empty());
  for (int i = 0; i < 50; ++i) c.call(method, params);  // warm
  std::vector<double> v;
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    auto t0 = Clock::now();
    c.call(method, params);
    v.push_back(ms_since(t0) * 1000.0);
  }
  c.close();
  return percentiles(v);
}

int start_websocketd(const std::string& echo, int& port, bool binary = false) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(s);
    return -1;
  }
  port = ntohs(a.sin_port);
  close(s);
  std::string port_arg = "--port=" + std::to_string(port);
  int pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execlp("websocketd", "websocketd", port_arg.c_str(), "--address=127.0.0.1", "--loglevel=fatal",
           binary ? "--binary=true" : "--binary=false", echo.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 400; ++i) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    bool up = connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(c);
    if (up) return pid;
    if (waitpid(pid, nullptr, WNOHANG) == pid) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ::kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

// Lifecycles against a lifeline gateway: create, one command, close.
Lifecycles gateway_lifecycles(Gateway& g, int clients, double seconds) {
  return lifecycles(g.port, g.token, clients, seconds, [](Client& c) {
    std::string sid = c.call("session.create")["result"]["session_id"];
    c.call("slash.exec", {{"session_id", sid}, {"command", "/echo x"}});
    c.call("session.close", {{"session_id", sid}});
  });
}

// Warm slash.exec round trips on one connection, which holds the session and measures
// (a session is bound to its connection).
Percentiles warm_round_trips(Gateway& g, double seconds) {
  asio::io_context io;
  Client c(io, g.port, g.token);
  std::string sid = c.call("session.create")["result"]["session_id"];
  c.call("slash.exec", {{"session_id", sid}, {"command", "/echo warm"}});
  for (int i = 0; i < 50; ++i) c.call("slash.exec", {{"session_id", sid}, {"command", "/echo x"}});
  std::vector<double> v;
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    auto t0 = Clock::now();
    c.call("slash.exec", {{"session_id", sid}, {"command", "/echo x"}});
    v.push_back(ms_since(t0) * 1000.0);
  }
  c.close();
  return percentiles(v);
}

// Time to the first result of a new session, connect included: websocketd's first echo
// (its connect starts the worker); lifeline's session.create and first slash.exec (which
// starts the worker). Each session is closed after it is timed.
Percentiles first_results(int port, const std::string& token, double seconds) {
  bool lifeline = !token.empty();
  asio::io_context io;
  std::vector<double> v;
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    auto t0 = Clock::now();
    Client c(io, port, token, lifeline);
    if (lifeline) {
      std::string sid = c.call("session.create")["result"]["session_id"];
      c.call("slash.exec", {{"session_id", sid}, {"command", "/echo x"}});
      v.push_back(ms_since(t0) * 1000.0);
      c.call("session.close", {{"session_id", sid}});
    } else {
      c.call("echo", {{"text", "x"}});
      v.push_back(ms_since(t0) * 1000.0);
    }
    c.close();
  }
  return percentiles(v);
}

// One row of the --peers table: websocketd's figure, lifeline normal's and full's, each
// lifeline figure with its ratio to websocketd's.
void table_row(const std::string& what, double ws, double normal, double full, const char* goal) {
  std::printf("| %s | %.0f | %.0f | %.2fx | %.0f | %.2fx | %s |\n", what.c_str(), ws, normal,
              normal / ws, full, full / ws, goal);
}

// ---------------------------------------------------------------- the terminal path

// A script that runs `body` (on a PTY: raw, without echo, as a full-screen program is).
std::string write_script(const std::string& path, const std::string& body, bool raw_pty) {
  std::ofstream(path) << "#!/bin/sh\n"
                      << (raw_pty ? "stty raw -echo\n" : "") << "exec " << body << "\n";
  chmod(path.c_str(), 0755);
  return path;
}

// The floor: the same program on a PTY, read and written by this process, no network.
double floor_echo_p50_us(const std::string& cat_script, int keys) {
  int master = -1;
  pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  if (pid == 0) {
    execl(cat_script.c_str(), cat_script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // its stty first
  std::vector<double> v;
  char buf[64];
  for (int i = 0; i < keys + 20; ++i) {
    auto t0 = Clock::now();
    if (write(master, "k", 1) != 1 || read(master, buf, sizeof buf) <= 0) break;
    if (i >= 20) v.push_back(ms_since(t0) * 1000.0);
  }
  ::kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  close(master);
  return percentiles(v).p50;
}

double floor_mib_per_s(const std::string& flood_script) {
  int master = -1;
  pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  if (pid == 0) {
    execl(flood_script.c_str(), flood_script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::vector<char> buf(65536);
  double got = 0;
  auto t0 = Clock::now();
  for (ssize_t n; (n = read(master, buf.data(), buf.size())) > 0;) got += static_cast<double>(n);
  double seconds = ms_since(t0) / 1000;  // EIO: the program is done
  waitpid(pid, nullptr, 0);
  close(master);
  return got / (1 << 20) / seconds;
}

// A session with one terminal running the gateway's --pty-cmd; returns its id.
std::string open_terminal(Client& c) {
  std::string sid = c.call("session.create")["result"]["session_id"];
  Json r = c.call("pty.open", {{"session_id", sid}, {"cols", 80}, {"rows", 24}});
  if (!r.contains("result")) throw std::runtime_error("pty.open: " + r.dump());
  return r["result"]["pty_id"];
}

bool is_output(const Json& m) {
  return m.value("method", "") == "event" && m["params"]["type"] == "pty.output";
}

// A 1-byte pty.write to a raw `cat`, until its pty.output arrives.
double lifeline_echo_p50_us(Gateway& g, int keys) {
  asio::io_context io;
  Client c(io, g.port, g.token);
  std::string pty = open_terminal(c);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // its stty first
  std::vector<double> v;
  for (int i = 0; i < keys + 20; ++i) {
    auto t0 = Clock::now();
    c.send("pty.write", {{"pty_id", pty}, {"data", "aw=="}});  // "k"
    while (!is_output(c.read())) {
    }
    if (i >= 20) v.push_back(ms_since(t0) * 1000.0);
  }
  c.close();
  return percentiles(v).p50;
}

// The flood's bytes through the gateway to a client that counts and discards them.
double lifeline_mib_per_s(Gateway& g, double bytes) {
  asio::io_context io;
  Client c(io, g.port, g.token);
  auto t0 = Clock::now();
  open_terminal(c);
  double got = 0;
  while (got < bytes) {
    Json m = c.read();
    if (m.value("method", "") == "event" && m["params"]["type"] == "pty.exit") break;
    if (!is_output(m)) continue;
    const std::string& data = m["params"]["payload"]["data"].get_ref<const std::string&>();
    std::size_t pad = data.size() - data.find_last_not_of('=') - 1;
    std::size_t chunk = (data.size() / 4) * 3 - pad;  // 4 characters carry 3 bytes
    got += static_cast<double>(chunk);
  }
  double seconds = ms_since(t0) / 1000;
  c.abort();
  return got / (1 << 20) / seconds;
}

double websocketd_echo_p50_us(int port, int keys) {
  asio::io_context io;
  Client c(io, port, "", false);
  std::vector<double> v;
  for (int i = 0; i < keys + 20; ++i) {
    auto t0 = Clock::now();
    c.write_text("k");
    c.read_raw();
    if (i >= 20) v.push_back(ms_since(t0) * 1000.0);
  }
  c.close();
  return percentiles(v).p50;
}

double websocketd_mib_per_s(int port, double bytes) {
  asio::io_context io;
  auto t0 = Clock::now();
  Client c(io, port, "", false);
  double got = 0;
  try {
    while (got < bytes) got += static_cast<double>(c.read_raw().size());
  } catch (const std::exception&) {  // websocketd closes once its program ends
  }
  return got / (1 << 20) / (ms_since(t0) / 1000);
}

struct TerminalFigures {
  double ws = 0, lifeline = 0, floor = 0;
};

// Keystroke echo and output throughput: websocketd running the same program over a pipe,
// lifeline (normal, default pool) over its PTY, and the floor (a local PTY).
std::pair<TerminalFigures, TerminalFigures> measure_terminal(const std::string& dir,
                                                             const std::string& state_base,
                                                             int keys, double mib) {
  std::string scratch = state_base + "-scripts";
  std::filesystem::create_directories(scratch);
  std::string bytes = std::to_string(static_cast<long long>(mib * (1 << 20)));
  std::string cat = write_script(scratch + "/raw-cat", "cat", true);
  std::string flood = write_script(scratch + "/raw-flood", "head -c " + bytes + " /dev/zero", true);
  std::string pipe_flood =
      write_script(scratch + "/flood", "head -c " + bytes + " /dev/zero", false);
  TerminalFigures echo, tp;
  echo.floor = floor_echo_p50_us(cat, keys);
  tp.floor = floor_mib_per_s(flood);
  setenv("LIFELINE_SYNC", "normal", 1);
  for (auto [script, figures] : {std::pair{cat, &echo}, std::pair{flood, &tp}}) {
    Gateway g;
    g.start(dir + "/lifeline-gateway", state_base + "-pty", 0, {"--pty-cmd", script});
    if (figures == &echo)
      echo.lifeline = lifeline_echo_p50_us(g, keys);
    else
      tp.lifeline = lifeline_mib_per_s(g, mib * (1 << 20));
    g.stop();
    std::filesystem::remove_all(g.state);
  }
  unsetenv("LIFELINE_SYNC");
  for (bool binary : {false, true}) {
    int port = 0;
    int pid = start_websocketd(binary ? pipe_flood : "cat", port, binary);
    if (pid < 0) continue;
    if (binary)
      tp.ws = websocketd_mib_per_s(port, mib * (1 << 20));
    else
      echo.ws = websocketd_echo_p50_us(port, keys);
    ::kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
  }
  std::filesystem::remove_all(scratch);
  return {echo, tp};
}

void report_the_terminal(const std::string& dir, const std::string& state_base) {
  constexpr int keys = 500;
  constexpr double mib = 256;
  auto [echo, tp] = measure_terminal(dir, state_base, keys, mib);
  std::printf(
      "\nthe terminal path: %d keystrokes (a 1-byte pty.write to a raw `cat`, until its "
      "pty.output; websocketd runs `cat` over a pipe), %.0f MiB of `head -c` (lifeline to a "
      "client that counts and discards; websocketd --binary; the floor reads its PTY "
      "here)\n\n",
      keys, mib);
  std::printf(
      "| measure | websocketd | lifeline | vs websocketd | local PTY floor | vs floor | goal "
      "|\n|---|---|---|---|---|---|---|\n");
  std::printf(
      "| keystroke echo, p50 us | %.0f | %.0f | %.2fx | %.0f | %.1fx | <= 1.2x websocketd |\n",
      echo.ws, echo.lifeline, echo.lifeline / echo.ws, echo.floor, echo.lifeline / echo.floor);
  std::printf("| output, MiB/s | %.0f | %.0f | %.2fx | %.0f | %.0f%% | >= 50%% of the floor |\n",
              tp.ws, tp.lifeline, tp.lifeline / tp.ws, tp.floor, 100 * tp.lifeline / tp.floor);
}

// What the warm pool (docs/DESIGN.md rule 18) buys: the first result of a new session,
// and lifecycles with one client, with the default pool and with none, both normal.
void report_the_pool(const std::string& dir, const std::string& state_base, Gateway& pooled,
                     double seconds) {
  Gateway bare;
  setenv("LIFELINE_SYNC", "normal", 1);
  bare.start(dir + "/lifeline-gateway", state_base + "-nopool", 0, {"--worker-pool", "0"});
  unsetenv("LIFELINE_SYNC");
  double with = first_results(pooled.port, pooled.token, seconds).p50;
  double without = first_results(bare.port, bare.token, seconds).p50;
  double lc_with = gateway_lifecycles(pooled, 1, seconds).per_second;
  double lc_without = gateway_lifecycles(bare, 1, seconds).per_second;
  std::printf(
      "the warm pool (normal): first result p50 %.0f us with --worker-pool 2, %.0f us with 0 "
      "(%.2fx; the difference is a worker's start, off the path); lifecycles/s at 1 client "
      "%.0f with, %.0f without (%.2fx)\n",
      with, without, with / without, lc_with, lc_without, lc_with / lc_without);
  bare.stop();
  std::filesystem::remove_all(bare.state);
}

// What a fleet's shared store costs per request (docs/PROTOCOL.md section 11): the same
// client against a gateway over PostgreSQL (synchronous_commit on: the analogue of full)
// beside the SQLite gateways, both durabilities.
void report_the_store(const std::string& dir, const std::string& state_base, Gateway& normal,
                      Gateway& full, const std::string& url, double seconds) {
  Gateway pg;
  pg.start(dir + "/lifeline-gateway", state_base + "-pg", 0,
           {"--store", url, "--instance", "bench", "--worker-pool", "2"});
  std::printf(
      "\na shared store (PostgreSQL over a local Unix socket, synchronous_commit on) beside "
      "SQLite:\n\n| measure | SQLite normal | SQLite full | PostgreSQL | vs SQLite full |\n"
      "|---|---|---|---|---|\n");
  for (int clients : {1, 4}) {
    double a = gateway_lifecycles(normal, clients, seconds).per_second;
    double b = gateway_lifecycles(full, clients, seconds).per_second;
    double c = gateway_lifecycles(pg, clients, seconds).per_second;
    const char* plural = clients > 1 ? "s" : "";
    std::printf("| lifecycles/s, %d client%s | %.0f | %.0f | %.0f | %.2fx |\n", clients, plural, a,
                b, c, c / b);
  }
  double a = warm_round_trips(normal, seconds).p50;
  double b = warm_round_trips(full, seconds).p50;
  double c = warm_round_trips(pg, seconds).p50;
  std::printf("| warm round trip, p50 us | %.0f | %.0f | %.0f | %.2fx |\n", a, b, c, c / b);
  pg.stop();
  std::filesystem::remove_all(pg.state);
}

int run_peers(const std::string& dir, const std::vector<int>& client_counts, double seconds,
              const std::string& store_url) {
  int ws_port = 0;
  int ws_pid = start_websocketd(dir + "/lifeline-line-echo", ws_port);
  if (ws_pid < 0) {
    std::printf("lifeline-bench --peers: websocketd did not start (apt-get install websocketd)\n");
    return 2;
  }
  std::string state_base =
      std::filesystem::temp_directory_path() / ("lifeline-bench-" + std::to_string(getpid()));
  Gateway full, normal;
  unsetenv("LIFELINE_SYNC");
  full.start(dir + "/lifeline-gateway", state_base + "-full");
  setenv("LIFELINE_SYNC", "normal", 1);
  normal.start(dir + "/lifeline-gateway", state_base + "-normal");
  unsetenv("LIFELINE_SYNC");
  std::printf(
      "lifeline-bench --peers: the same C++ client (Beast, synchronous), %.1f s per "
      "measurement; websocketd (Debian) running lifeline-line-echo; lifeline with "
      "synchronous=NORMAL (normal) and FULL (full). A lifecycle: connect, start a worker, "
      "one request, close, worker gone.\n\n",
      seconds);
  std::printf(
      "| measure | websocketd | lifeline normal | vs websocketd | lifeline full "
      "| vs websocketd | goal |\n|---|---|---|---|---|---|---|\n");
  Json echo_req = {{"text", "x"}};
  for (int clients : client_counts) {
    auto ws =
        lifecycles(ws_port, "", clients, seconds, [&](Client& c) { c.call("echo", echo_req); });
    table_row("lifecycles/s, " + std::to_string(clients) + " client" + (clients > 1 ? "s" : ""),
              ws.per_second, gateway_lifecycles(normal, clients, seconds).per_second,
              gateway_lifecycles(full, clients, seconds).per_second,
              clients >= 4 ? "lifeline >= 1.5x" : "");
  }
  table_row("first result of a new session, p50 us", first_results(ws_port, "", seconds).p50,
            first_results(normal.port, normal.token, seconds).p50,
            first_results(full.port, full.token, seconds).p50, "normal <= 1.0x");
  table_row("warm round trip, p50 us", round_trips(ws_port, "", seconds, "echo", echo_req).p50,
            warm_round_trips(normal, seconds).p50, warm_round_trips(full, seconds).p50,
            "normal <= 1.0x");
  std::printf(
      "\na bare fsync'd SQLite commit on this disk: p50 %.0f us (full pays one per "
      "acknowledged entry, or one per batch of them)\n",
      bare_commit_p50_us(full.state, true));
  report_the_pool(dir, state_base, normal, seconds);
  if (!store_url.empty()) report_the_store(dir, state_base, normal, full, store_url, seconds);
  report_the_terminal(dir, state_base);
  ::kill(ws_pid, SIGTERM);
  waitpid(ws_pid, nullptr, 0);
  full.stop();
  normal.stop();
  std::filesystem::remove_all(full.state);
  std::filesystem::remove_all(normal.state);
  return 0;
}

// 1. Warm slash.exec round trips, against baselines from this run: a round trip that
// touches neither worker nor store, one through the store thread without a commit,
// and a bare SQLite commit (what the durability setting costs at least).
void bench_round_trips(Gateway& gw, const std::string& state, double seconds) {
  asio::io_context io;
  Client c(io, gw.port, gw.token);
  std::string sid = c.call("session.create")["result"]["session_id"];
  c.call("slash.exec", {{"session_id", sid}, {"command", "/echo warm"}});
  auto time_calls = [&](const std::string& method, const Json& params) {
    std::vector<double> v;
    auto end = Clock::now() + std::chrono::duration<double>(seconds / 2);
    while (Clock::now() < end) {
      auto t0 = Clock::now();
      c.call(method, params);
      v.push_back(ms_since(t0) * 1000.0);
    }
    return v;
  };
  auto bare = percentiles(time_calls("session.active_list", Json::object()));
  auto read = percentiles(time_calls("session.history", {{"session_id", sid}, {"limit", 1}}));
  auto v = time_calls("slash.exec", {{"session_id", sid}, {"command", "/echo x"}});
  auto p = percentiles(v);
  const char* mode = std::getenv("LIFELINE_SYNC");
  bool power_safe = !(mode && std::string(mode) == "normal");
  double commit = bare_commit_p50_us(state, power_safe);
  std::printf(
      "warm slash.exec round trip: %zu calls, p50 %.0f us, p99 %.0f us (each includes a durable "
      "SQLite commit, synchronous=%s)\n"
      "  baselines: gateway-only round trip (session.active_list) p50 %.0f us; through the "
      "store thread, no commit (session.history) p50 %.0f us; a bare SQLite commit of one row "
      "on the same disk, same synchronous setting, p50 %.0f us\n",
      v.size(), p.p50, p.p99, power_safe ? "FULL" : "NORMAL", bare.p50, read.p50, commit);
  c.close();
}

// 2. Full lifecycles per second: connect, create, spawn + exec, close, disconnect.
// Each step is timed too, so that a slow figure says where the time went.
void bench_lifecycles(Gateway& gw, int clients, double seconds) {
  asio::io_context io;
  std::atomic<long> done{0};
  std::vector<std::thread> threads;
  constexpr int steps = 5;
  const char* step_names[steps] = {"connect", "create", "first exec (spawn)", "close",
                                   "disconnect"};
  std::vector<std::array<std::vector<double>, steps>> step_ms(clients);
  auto t0 = Clock::now();
  auto end = t0 + std::chrono::duration<double>(seconds);
  threads.reserve(static_cast<std::size_t>(clients));
  for (int i = 0; i < clients; ++i)
    threads.emplace_back([&, i] {
      asio::io_context tio;
      auto& mine = step_ms[i];
      while (Clock::now() < end) {
        auto t = Clock::now();
        auto lap = [&](int step) {
          mine[step].push_back(ms_since(t));
          t = Clock::now();
        };
        Client c(tio, gw.port, gw.token);
        lap(0);
        std::string sid = c.call("session.create")["result"]["session_id"];
        lap(1);
        c.call("slash.exec", {{"session_id", sid}, {"command", "/echo x"}});
        lap(2);
        c.call("session.close", {{"session_id", sid}});
        lap(3);
        c.close();
        lap(4);
        ++done;
      }
    });
  for (auto& t : threads) t.join();
  std::printf("full lifecycles: %ld in %.2f s = %.0f per second\n  p50 per step:", done.load(),
              ms_since(t0) / 1000, done.load() / (ms_since(t0) / 1000));
  for (int step = 0; step < steps; ++step) {
    std::vector<double> all;
    for (auto& mine : step_ms) all.insert(all.end(), mine[step].begin(), mine[step].end());
    if (!all.empty()) std::printf(" %s %.2f ms;", step_names[step], percentiles(all).p50);
  }
  std::printf("\n");
}

// 3. Client disconnect -> its worker tree reaped.
void bench_disconnect(Gateway& gw, double base) {
  asio::io_context io;
  std::vector<double> v;
  for (int i = 0; i < 20; ++i) {
    Client c(io, gw.port, gw.token);
    std::string sid = c.call("session.create")["result"]["session_id"];
    auto pids = tree_of(c, sid);
    auto t0 = Clock::now();
    c.abort();
    double ms = wait_gone(pids, t0);
    if (ms >= 0) v.push_back(ms);
  }
  auto p = percentiles(v);
  std::printf(
      "disconnect -> worker tree (worker + 3 grandchildren) reaped: p50 %.2f ms, p99 %.2f ms "
      "(%.1fx baseline)\n",
      p.p50, p.p99, p.p99 / base);
}

// 4. Memory: per idle connected session, per worker.
void bench_memory(Gateway& gw) {
  asio::io_context io;
  Client c(io, gw.port, gw.token);
  long before = rss_kib(gw.pid);
  std::vector<std::string> ids;
  ids.reserve(60);
  for (int i = 0; i < 60; ++i) ids.push_back(c.call("session.create")["result"]["session_id"]);
  long after = rss_kib(gw.pid);
  std::printf("gateway memory per idle session: %.1f KiB (RSS %ld -> %ld KiB over 60 sessions)\n",
              (after - before) / 60.0, before, after);
  int w = worker_pid(c, ids[0]);
  std::printf("slash worker RSS: %ld KiB\n", rss_kib(w));
  c.close();
}

// 5. Gateway SIGKILL -> every worker and grandchild gone.
void bench_gateway_kill(Gateway& gw, const std::string& exe, const std::string& state) {
  asio::io_context io;
  std::vector<double> v;
  for (int round = 0; round < 5; ++round) {
    std::vector<int> pids;
    {
      Client c(io, gw.port, gw.token);
      for (int i = 0; i < 8; ++i) {
        std::string sid =
            c.call("session.create", {{"close_on_disconnect", false}})["result"]["session_id"];
        auto t = tree_of(c, sid);
        pids.insert(pids.end(), t.begin(), t.end());
      }
      auto t0 = Clock::now();
      gw.kill_now();
      double ms = wait_gone(pids, t0);
      if (ms >= 0)
        v.push_back(ms);
      else
        std::printf("  round %d: processes survived the gateway's SIGKILL!\n", round);
    }
    gw.start(exe, state, gw.port);  // same port: it must rebind at once
  }
  auto p = percentiles(v);
  std::printf(
      "gateway SIGKILL -> 8 workers + 24 grandchildren gone: p50 %.2f ms, p99 %.2f ms (%zu/5 "
      "rounds clean)\n",
      p.p50, p.p99, v.size());
}

}  // namespace

int main(int argc, char** argv) {
  int clients = 4;
  bool clients_given = false;
  double seconds = 5;
  bool peers = false;
  std::string store_url;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--peers") {
      peers = true;
    } else if (a == "--store" && i + 1 < argc) {
      store_url = argv[++i];
    } else if (a == "--clients" && i + 1 < argc) {
      clients = std::max(1, std::atoi(argv[++i]));
      clients_given = true;
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::max(0.5, std::atof(argv[++i]));
    } else {
      std::printf(
          "usage: lifeline-bench [--clients N] [--seconds S] [--peers [--store URL]]\n"
          "Starts its own gateway (beside this binary) on a free loopback port.\n"
          "--peers: the same client against websocketd (with lifeline-line-echo) and\n"
          "lifeline with LIFELINE_SYNC normal and full, one markdown table: lifecycles/s at\n"
          "1, 4 and 16 clients (or --clients N), the first result of a new session and warm\n"
          "round trips, each with its ratio to websocketd.\n"
          "--store postgresql://...: with --peers, also a gateway over that database (a\n"
          "throwaway one: tests/integration/postgres.py run -- lifeline-bench --peers --store\n"
          "\"$LIFELINE_TEST_PG_URL\") beside SQLite: lifecycles/s and warm round trips.\n");
      return a == "--help" ? 0 : 2;
    }
  }
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  if (peers) try {
      return run_peers(std::filesystem::path(argv[0]).parent_path().string(),
                       clients_given ? std::vector<int>{clients} : std::vector<int>{1, 4, 16},
                       seconds, store_url);
    } catch (const std::exception& e) {
      std::printf("lifeline-bench --peers: %s\n", e.what());
      return 1;
    }
  std::string exe = (std::filesystem::path(argv[0]).parent_path() / "lifeline-gateway").string();
  std::string state =
      std::filesystem::temp_directory_path() / ("lifeline-bench-" + std::to_string(getpid()));
  Gateway gw;
  gw.start(exe, state);
  std::printf("lifeline-bench: gateway pid %d on port %d, %d clients, %.1f s per phase\n", gw.pid,
              gw.port, clients, seconds);

  double base = baseline_kill_reap_ms();
  std::printf("baseline: bare SIGKILL + waitpid of one process, p99 %.3f ms\n", base);

  bench_round_trips(gw, state, seconds);
  bench_lifecycles(gw, clients, seconds);
  bench_disconnect(gw, base);
  bench_memory(gw);
  bench_gateway_kill(gw, exe, state);
  gw.stop();
  std::filesystem::remove_all(state);
  return 0;
}
