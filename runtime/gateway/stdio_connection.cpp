#include "runtime/gateway/stdio_connection.hpp"

#include <errno.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace lifeline::runtime {

struct StdioConnection::Reader {
  std::atomic<bool> alive{true};
};

StdioConnection::StdioConnection(asio::io_context& io, std::int64_t max_line)
    : io_(io), max_line_(max_line), reader_(std::make_shared<Reader>()) {}

StdioConnection::~StdioConnection() {
  reader_->alive = false;
}

void StdioConnection::start(std::function<void(std::string)> on_line,
                            std::function<void()> on_eof) {
  // The thread only reads fd 0 and posts; it never touches core state. It is detached:
  // a blocking read() cannot be interrupted portably, and the process exit ends it.
  std::thread([&io = io_, reader = reader_, max = max_line_, on_line = std::move(on_line),
               on_eof = std::move(on_eof)] {
    std::string line;
    bool overlong = false;
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] != '\n') {
          // Past four times the message cap the line is not kept: the core only needs
          // to know it was too large.
          if (static_cast<std::int64_t>(line.size()) < max * 4 + 16)
            line += buf[i];
          else
            overlong = true;
          continue;
        }
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (overlong)
          line.append(static_cast<std::size_t>(max) + 1 -
                          std::min<std::size_t>(line.size(), static_cast<std::size_t>(max)),
                      ' ');
        asio::post(io, [reader, on_line, l = std::move(line)] {
          if (reader->alive) on_line(l);
        });
        line.clear();
        overlong = false;
      }
    }
    asio::post(io, [reader, on_eof] {
      if (reader->alive) on_eof();
    });
  }).detach();
}

void StdioConnection::send(std::string text) {
  if (closed_) return;
  text += '\n';
  std::string_view rest = text;
  while (!rest.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      closed_ = true;  // the client is gone; stdin EOF will follow
      return;
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

void StdioConnection::close() {
  closed_ = true;
  ::close(STDOUT_FILENO);
}

}  // namespace lifeline::runtime
