#include "runtime/gateway/stdio_connection.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "runtime/common/stop_and_join.hpp"

namespace lifeline::runtime {

namespace {

// Written in pieces no larger than this: after POLLOUT a pipe takes at least this much
// without blocking, so the writer stays wakeable between pieces.
constexpr std::size_t write_piece = 4096;

}  // namespace

StdioConnection::StdioConnection(asio::io_context& io, Log& log, std::int64_t max_line,
                                 std::int64_t max_unsent_bytes, int in_fd, int out_fd)
    : io_(io),
      log_(log),
      max_line_(max_line),
      in_fd_(in_fd),
      out_fd_(out_fd),
      alive_(std::make_shared<std::atomic<bool>>(true)),
      budget_(max_unsent_bytes) {
  if (pipe2(wake_, O_CLOEXEC) != 0) throw std::runtime_error("stdio: cannot make a wake pipe");
}

StdioConnection::~StdioConnection() {
  alive_->store(false);
  {
    // Replies already queued still go out (a client may pipe requests in and close its
    // stdin at once), but a client that does not read gets drain_deadline, no more.
    std::unique_lock lock(mu_);
    closing_ = true;
    cv_.notify_all();
    if (writer_.joinable())
      done_cv_.wait_for(lock, drain_deadline, [this] { return writer_done_; });
  }
  stop_and_join(mu_, stopping_, {&cv_, &room_cv_}, {&reader_, &writer_}, [this] {
    char byte = 0;  // the reader sleeps in poll(): a byte on the wake pipe stops it
    ssize_t ignored = ::write(wake_[1], &byte, 1);
    (void)ignored;
  });
  ::close(wake_[0]);
  ::close(wake_[1]);
}

void StdioConnection::start(std::function<void(std::string)> on_line, std::function<void()> on_end,
                            std::function<void(bool)> on_backpressure) {
  on_line_ = std::move(on_line);
  on_end_ = std::move(on_end);
  on_backpressure_ = std::move(on_backpressure);
  reader_ = std::thread([this] { read_loop(); });
  writer_ = std::thread([this] { write_loop(); });
}

bool StdioConnection::wait_ready(int fd, short events) {
  for (;;) {
    pollfd fds[2] = {{fd, events, 0}, {wake_[0], POLLIN, 0}};
    int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || fds[1].revents) return false;
    // POLLHUP/POLLERR: the read or write that follows reports it.
    if (fds[0].revents) return true;
  }
}

void StdioConnection::end(const char* why) {
  if (ended_.exchange(true)) return;
  log_.write(LogLevel::info, std::string("stdio client: ") + why);
  // Lines read before the end are ahead of this in the loop's queue: they are handled,
  // and answered, first.
  asio::post(io_, [this, alive = alive_] {
    if (!alive->load() || ended_in_loop_) return;
    ended_in_loop_ = true;
    if (on_end_) on_end_();
  });
}

// Hands one complete line to the loop (reader thread); false when the gateway is stopping.
bool StdioConnection::post_line(std::string& line, bool& overlong) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (overlong)
    line.append(static_cast<std::size_t>(max_line_) + 1 -
                    std::min(line.size(), static_cast<std::size_t>(max_line_)),
                ' ');
  {
    // Backpressure, as a WebSocket reader gets by reading one frame at a time: no
    // more than max_pending_lines wait for the event loop; a flood waits in the pipe.
    std::unique_lock lock(mu_);
    room_cv_.wait(lock, [this] { return stopping_ || pending_lines_ < max_pending_lines; });
    if (stopping_) return false;
    ++pending_lines_;
  }
  asio::post(io_, [this, alive = alive_, l = std::move(line)] {
    if (!alive->load()) return;
    {
      std::lock_guard lock(mu_);
      --pending_lines_;
    }
    room_cv_.notify_one();
    if (!ended_in_loop_) on_line_(l);
  });
  line.clear();
  overlong = false;
  return true;
}

void StdioConnection::read_loop() {
  // The thread only reads stdin and posts; it never touches core state.
  std::string line;
  bool overlong = false;
  char buf[65536];
  for (;;) {
    if (!wait_ready(in_fd_, POLLIN)) return;  // stopping: the gateway is going away
    ssize_t n = ::read(in_fd_, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
    for (std::string_view rest(buf, static_cast<std::size_t>(n)); !rest.empty();) {
      auto nl = rest.find('\n');
      std::string_view piece = rest.substr(0, nl);
      // Past four times the message cap the line is not kept: the core only needs to
      // know it was too large.
      std::size_t keep = static_cast<std::size_t>(max_line_) * 4 + 16;
      std::size_t room = keep > line.size() ? keep - line.size() : 0;
      line.append(piece.substr(0, room));
      if (piece.size() > room) overlong = true;
      if (nl == std::string_view::npos) break;
      rest.remove_prefix(nl + 1);
      if (!post_line(line, overlong)) return;
    }
  }
  // A last line without its newline is still a message the client sent.
  if ((!line.empty() || overlong) && !post_line(line, overlong)) return;
  end("stdin closed");
}

void StdioConnection::write_loop() {
  write_queue();
  {
    std::lock_guard lock(mu_);
    writer_done_ = true;
  }
  done_cv_.notify_all();
}

void StdioConnection::write_queue() {
  for (;;) {
    std::string text;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !out_.empty() || closing_; });
      if (stopping_) return;
      if (out_.empty()) {  // closing, and everything written
        lock.unlock();
        // The client sees EOF; the descriptor number stays taken (by /dev/null), so
        // nothing opened later can be mistaken for our stdout.
        int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (devnull < 0 || ::dup2(devnull, out_fd_) < 0) ::close(out_fd_);
        if (devnull >= 0) ::close(devnull);
        return;
      }
      text = std::move(out_.front());
      out_.pop_front();
    }
    std::string_view rest = text;
    while (!rest.empty()) {
      if (!wait_ready(out_fd_, POLLOUT)) return;
      ssize_t n = ::write(out_fd_, rest.data(), std::min(rest.size(), write_piece));
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        end("stdout is gone");
        return;
      }
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    bool drained = false;
    {
      std::lock_guard lock(mu_);
      drained = budget_.remove(text.size()) == ByteBudget::Change::drained;
    }
    if (drained)
      asio::post(io_, [this, alive = alive_] {
        if (alive->load() && !ended_in_loop_ && on_backpressure_) on_backpressure_(false);
      });
  }
}

void StdioConnection::send(std::string text) {
  bool overflow = false;
  bool backed_up = false;
  {
    std::lock_guard lock(mu_);
    if (closing_) return;  // after stdin EOF replies still go out
    text += '\n';
    auto change =
        out_.size() >= max_queued_frames ? ByteBudget::Change::overflow : budget_.add(text.size());
    if (change == ByteBudget::Change::overflow) {
      closing_ = overflow = true;  // nothing more is queued; the writer goes on with what is
    } else {
      backed_up = change == ByteBudget::Change::backed_up;
      out_.push_back(std::move(text));
    }
  }
  cv_.notify_one();
  if (overflow) end("not reading its stdout (too much unsent); ending the connection");
  if (backed_up && on_backpressure_) on_backpressure_(true);  // send() runs on the loop
}

void StdioConnection::close() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  cv_.notify_one();
}

void StdioConnection::abort() {
  alive_->store(false);  // no more lines or end reach the loop; queued replies still go
}

}  // namespace lifeline::runtime
