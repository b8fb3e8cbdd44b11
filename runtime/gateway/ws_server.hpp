// The Beast WebSocket/HTTP front door: /ws (token + Origin admission, keepalive pings
// with a pong deadline, message-size cap), /healthz and /metrics.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/gateway.hpp"
#include "runtime/gateway/hub.hpp"
#include "runtime/gateway/io.hpp"

namespace lifeline::runtime {

struct WsServerOptions {
  std::string host;
  int port = 0;
  std::string token;
  std::vector<std::string> allowed_origins;  // empty: the bound host's own origins
  Millis ping_interval = 20'000;
  Millis ping_timeout = 20'000;
  std::int64_t max_message_bytes = 1 << 20;
};

class WsServer {
 public:
  WsServer(asio::io_context& io, Clock& clock, Log& log, Hub& hub, Gateway& gateway,
           WsServerOptions options, std::function<std::string()> metrics);
  ~WsServer();
  // Binds and starts accepting; returns the bound port. Throws on failure.
  int start();
  void stop();  // stop accepting; live connections stay until the gateway closes them

  struct Impl;  // public so that the connection classes in the .cpp can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace lifeline::runtime
