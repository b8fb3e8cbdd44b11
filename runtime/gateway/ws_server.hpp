// The Beast WebSocket/HTTP front door: /ws (token or cookie + Origin + Host admission,
// keepalive pings with a pong deadline, message-size cap, a byte bound on unsent output),
// /healthz and /metrics. Connections are capped below the fd limit (503 beyond), an
// unfinished handshake is closed after 10 s, and at EMFILE accepting backs off.
#pragma once

#include <functional>
#include <map>
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
  std::int64_t max_unsent_bytes = 16 << 20;
  std::int64_t max_connections = 4096;
  std::vector<std::string> allowed_hosts;  // beyond the bound address and loopback names
  std::string instance;                    // names the login cookie (else the port does)
};

class WsServer {
 public:
  WsServer(asio::io_context& io, Clock& clock, Log& log, Hub& hub, Gateway& gateway,
           WsServerOptions options, std::function<std::string()> metrics);
  ~WsServer();
  // Binds and starts accepting; returns the bound port. Throws on failure.
  int start();
  void stop();  // stop accepting; live connections stay until the gateway closes them
  std::size_t live_connections() const;  // sockets open now: HTTP requests and WebSockets
  std::string cookie_name() const;       // the login cookie's name (after start)
  // Refused authentications by reason: wrong_token, throttled, origin, host.
  std::map<std::string, std::int64_t> auth_failures() const;

  struct Impl;  // public so that the connection classes in the .cpp can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace lifeline::runtime
