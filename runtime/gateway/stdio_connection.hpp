// --stdio: one client on stdin/stdout, one JSON message per line. The connection ends
// at stdin EOF, when stdout is gone, or when the client stops reading its stdout.
//
// stdin and stdout may be files, which epoll refuses, and making them non-blocking
// would change the file description the invoking shell shares with us. So each has a
// small thread that blocks in poll() on it and on a wake pipe: the event loop never
// blocks on the client, and both threads are woken and joined on the way out.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/byte_budget.hpp"
#include "core/ports.hpp"
#include "runtime/gateway/hub.hpp"
#include "runtime/gateway/io.hpp"

namespace lifeline::runtime {

class StdioConnection final : public ConnectionSink {
 public:
  StdioConnection(asio::io_context& io, Log& log, std::int64_t max_line,
                  std::int64_t max_unsent_bytes, int in_fd = 0, int out_fd = 1);
  ~StdioConnection() override;  // writes what is queued (up to 2 s), joins both threads
  // on_line for every line; on_end once: stdin EOF or error, stdout gone, or a client
  // that stopped reading (more than max_queued_frames replies, or more than
  // max_unsent_bytes, waiting). on_backpressure(true) when unsent output passes half of
  // max_unsent_bytes, (false) once it has drained; always on the event loop.
  void start(std::function<void(std::string)> on_line, std::function<void()> on_end,
             std::function<void(bool)> on_backpressure = {});
  void send(std::string text) override;
  void close() override;  // what is queued is still written, then stdout is closed
  void abort() override;

 private:
  void read_loop();
  bool post_line(std::string& line, bool& overlong);  // reader thread
  void write_loop();
  void write_queue();                     // until closed and drained, stopped, or stdout fails
  void end(const char* why);              // any thread: posts on_end once
  bool wait_ready(int fd, short events);  // false: woken to stop, or fd error

  asio::io_context& io_;
  Log& log_;
  std::int64_t max_line_;
  int in_fd_, out_fd_;
  int wake_[2] = {-1, -1};  // a byte in it stops both threads
  std::function<void(std::string)> on_line_;
  std::function<void()> on_end_;
  std::function<void(bool)> on_backpressure_;
  std::shared_ptr<std::atomic<bool>> alive_;  // guards posted handlers against our death
  std::atomic<bool> ended_{false};            // end() ran (any thread): on_end is posted once
  bool ended_in_loop_ = false;                // the loop ran on_end: later lines are dropped

  static constexpr int max_pending_lines = 256;             // read, not yet handled by the loop
  static constexpr std::chrono::seconds drain_deadline{2};  // for replies at the end

  std::mutex mu_;               // guards the outbound queue, pending_lines_ and the two flags below
  std::condition_variable cv_;  // the writer waits on it: replies, closing, stopping
  std::condition_variable room_cv_;  // the reader waits on it: room for another line
  std::condition_variable done_cv_;  // the destructor waits on it: the writer finished
  bool writer_done_ = false;
  std::deque<std::string> out_;
  ByteBudget budget_;  // the bytes in out_ and being written
  int pending_lines_ = 0;
  bool closing_ = false;  // no more sends; stdout closes once the queue is written
  bool stopping_ = false;
  std::thread reader_, writer_;
};

}  // namespace lifeline::runtime
