// --stdio: one client on stdin/stdout, one JSON message per line. The connection ends
// at stdin EOF. stdin is read on a small thread (it may be a file, which epoll refuses);
// lines are handed to the event loop.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "runtime/gateway/hub.hpp"
#include "runtime/gateway/io.hpp"

namespace lifeline::runtime {

class StdioConnection final : public ConnectionSink {
 public:
  StdioConnection(asio::io_context& io, std::int64_t max_line);
  ~StdioConnection() override;
  // on_line for every line; on_eof once, at stdin EOF or error.
  void start(std::function<void(std::string)> on_line, std::function<void()> on_eof);
  void send(std::string text) override;
  void close() override;

 private:
  struct Reader;
  asio::io_context& io_;
  std::int64_t max_line_;
  std::shared_ptr<Reader> reader_;
  bool closed_ = false;
};

}  // namespace lifeline::runtime
