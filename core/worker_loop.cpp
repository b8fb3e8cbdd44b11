#include "core/worker_loop.hpp"
#include "core/assert.hpp"

#include <charconv>

#include "core/config.hpp"

namespace lifeline {

bool parent_changed(const ParentIdentity& born, const ParentIdentity& now) {
  if (now.pid != born.pid) return true;
  // mutant: c3-a-zero-parent-start-time-condemns-the-worker
  return born.start_ticks != 0 && now.start_ticks != 0 && born.start_ticks != now.start_ticks;
}

WorkerLoop::WorkerLoop(WorkerConfig config, Clock& clock, ParentProbe& probe, WorkerHost& host,
                       Log& log)
    : config_(std::move(config)),
      clock_(clock),
      probe_(probe),
      host_(host),
      log_(log),
      bound_(!config_.pooled) {}

WorkerLoop::~WorkerLoop() {
  for (TimerId t : {command_timer_, poll_timer_, grace_timer_})
    if (t) clock_.cancel(t);
}

void WorkerLoop::start() {
  LIFELINE_ASSERT(poll_timer_ == 0);
  LIFELINE_ASSERT(!exited_);
  LIFELINE_ASSERT(config_.watchdog_poll > 0);
  born_under_ = probe_.parent();
  poll_timer_ = clock_.after(config_.watchdog_poll, [this] { poll_parent(); });
}

void WorkerLoop::poll_parent() {
  poll_timer_ = 0;
  if (exited_ || orphaned_) return;
  ParentIdentity now = probe_.parent();
  if (parent_changed(born_under_, now)) {
    become_orphan("parent changed from pid " + std::to_string(born_under_.pid) + " to pid " +
                  std::to_string(now.pid));
    return;
  }
  poll_timer_ = clock_.after(config_.watchdog_poll, [this] { poll_parent(); });
}

void WorkerLoop::on_lifeline_eof() {
  become_orphan("lifeline closed: the gateway is gone");
}

void WorkerLoop::become_orphan(const std::string& why) {
  if (orphaned_ || exited_) return;
  orphaned_ = true;
  log_.write(LogLevel::warn, "orphaned (" + why + ")");
  queue_.clear();  // nobody will read the answers
  if (poll_timer_) {
    clock_.cancel(poll_timer_);
    poll_timer_ = 0;
  }
  LIFELINE_ASSERT(queue_.empty());
  LIFELINE_ASSERT(poll_timer_ == 0);
  if (!in_flight_) return exit_with_containment(0);
  // mutant: an-orphaned-worker-drains-its-command-past-the-grace
  grace_timer_ = clock_.after(config_.watchdog_grace, [this] {
    grace_timer_ = 0;
    log_.write(LogLevel::warn, "in-flight command outlived the orphan grace; exiting");
    exit_with_containment(0);
  });
}

void WorkerLoop::exit_with_containment(int code) {
  if (exited_) return;
  exited_ = true;
  for (TimerId* t : {&command_timer_, &poll_timer_, &grace_timer_})
    if (*t) {
      clock_.cancel(*t);
      *t = 0;
    }
  LIFELINE_ASSERT(command_timer_ == 0);
  LIFELINE_ASSERT(poll_timer_ == 0);
  LIFELINE_ASSERT(grace_timer_ == 0);
  host_.exit_with_containment(code);
}

void WorkerLoop::on_stdin(std::string_view bytes) {
  if (exited_ || orphaned_) return;
  std::vector<std::string> lines;
  if (!lines_.feed(bytes, lines))
    host_.write_stdout(worker_protocol::encode_reply({std::nullopt, false, "request too long"}));
  for (auto& line : lines) {
    if (line.empty()) continue;
    if (queue_.size() >= worker_max_queue) {
      host_.write_stdout(worker_protocol::encode_reply({std::nullopt, false, "queue full"}));
      continue;
    }
    queue_.push_back(std::move(line));
  }
  LIFELINE_ASSERT(queue_.size() <= worker_max_queue);
  run_next();
}

void WorkerLoop::on_stdin_eof() {
  stdin_closed_ = true;
  if (!in_flight_ && queue_.empty()) exit_with_containment(0);
}

void WorkerLoop::run_next() {
  while (!in_flight_ && !queue_.empty() && !exited_) {
    std::string line = std::move(queue_.front());
    queue_.pop_front();
    if (bind_or_refuse(line)) continue;
    std::string why;
    auto req = worker_protocol::decode_request(line, &why);
    if (!req) {
      host_.write_stdout(worker_protocol::encode_reply({std::nullopt, false, why}));
      continue;
    }
    in_flight_ = req->id;
    execute(*req);
  }
  if (!in_flight_ && queue_.empty() && stdin_closed_) exit_with_containment(0);
}

bool WorkerLoop::bind_or_refuse(const std::string& line) {
  bool bound = bound_;
  // The common case, a request to a bound worker, is parsed once (by run_next), not
  // here too: only a line that names "bind" can be one.
  if (bound && line.find("\"bind\"") == std::string::npos) return false;
  auto key = worker_protocol::decode_bind(line);
  if (!key && bound) return false;
  if (key && !bound) {
    config_.session_key = *key;
    bound_ = true;
    return true;
  }
  // docs/PROTOCOL.md section 9: a worker serves one session, ever; and it runs nothing
  // before it knows which.
  auto req = worker_protocol::decode_request(line);
  std::optional<std::int64_t> id;
  if (req) id = req->id;
  host_.write_stdout(worker_protocol::encode_reply(
      {id, false,
       bound ? "already bound to a session: a worker serves one session, ever"
             : "not bound to a session yet: a pooled worker's first message is a bind"}));
  return true;
}

void WorkerLoop::complete(std::int64_t id, bool ok, std::string text) {
  if (exited_) return;
  in_flight_.reset();
  host_.write_stdout(worker_protocol::encode_reply({id, ok, std::move(text)}));
  if (orphaned_) return exit_with_containment(0);  // drained: the grace is over early
  run_next();
}

namespace {
bool parse_int(std::string_view s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}
}  // namespace

void WorkerLoop::execute(const worker_protocol::Request& req) {
  std::string command = req.command;
  auto first = command.find_first_not_of(' ');
  command = first == std::string::npos ? "" : command.substr(first);
  if (command.empty()) return complete(req.id, false, "empty command");
  if (command.front() != '/') command.insert(command.begin(), '/');
  auto space = command.find(' ');
  std::string name = command.substr(0, space);
  std::string arg = space == std::string::npos ? "" : command.substr(space + 1);

  if (name == "/help")
    return complete(req.id, true,
                    "/help, /echo TEXT, /session, /sleep SECONDS, /pid, /fds, "
                    "/spawn N [--setsid], /exit CODE, /crash");
  if (name == "/echo") return complete(req.id, true, arg);
  if (name == "/session") return complete(req.id, true, config_.session_key);
  if (name == "/pid") return complete(req.id, true, host_.describe_process());
  if (name == "/fds") return complete(req.id, true, host_.list_fds());
  if (name == "/sleep") {
    auto ms = parse_seconds(arg);
    if (!ms) return complete(req.id, false, "usage: /sleep SECONDS");
    command_timer_ = clock_.after(*ms, [this, id = req.id, ms = *ms] {
      command_timer_ = 0;
      complete(id, true, "slept " + std::to_string(ms) + " ms");
    });
    return;
  }
  if (name == "/spawn") {
    bool setsid = false;
    std::string count = arg;
    if (auto flag = arg.find(" --setsid"); flag != std::string::npos) {
      setsid = true;
      count = arg.substr(0, flag);
    }
    int n = 0;
    if (!parse_int(count, n) || n < 1 || n > 64)
      return complete(req.id, false, "usage: /spawn N [--setsid] (N from 1 to 64)");
    std::string err = host_.spawn_background(n, setsid);
    if (!err.empty()) return complete(req.id, false, err);
    return complete(req.id, true, "spawned " + std::to_string(n));
  }
  if (name == "/exit") {
    int code = 0;
    if (!arg.empty() && (!parse_int(arg, code) || code < 0 || code > 255))
      return complete(req.id, false, "usage: /exit CODE (0-255)");
    exited_ = true;
    host_.exit_without_containment(code);
    return;
  }
  if (name == "/crash") {
    exited_ = true;
    host_.crash();
    return;
  }
  complete(req.id, false, "unknown command " + name + " (try /help)");
}

}  // namespace lifeline
