// Client connections to the gateway: ordered, per-direction latency (TCP), a clean
// close (FIN after what was sent), an abrupt reset (what is in flight is lost), and
// half-open (the peer goes silent without a FIN: only the gateway's keepalive can find
// out). Pings and pongs are frames like Beast's control frames; the gateway side runs
// the core's Keepalive on them. A client may stop reading for a while: frames for it
// wait unread, and the gateway counts them against its unsent bound (core's
// ByteBudget) until the client reads them. Its stack still answers pings meanwhile, as
// a browser's does while the page's script is busy.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/ports.hpp"
#include "sim/scheduler.hpp"

namespace lifeline::sim {

class World;

class SimNetwork {
 public:
  explicit SimNetwork(World& world) : w_(world) {}

  enum class State { open, half_open, closed };
  struct Conn {
    int client = 0;
    Incarnation gateway = 0;
    State state = State::open;
    bool server_open = false;  // accepted and not yet closed by the gateway side
    Millis c2s_last = 0;       // delivery time of the last client -> server frame
    Millis s2c_last = 0;
    bool reading = true;              // false: a stalled client (frames wait in `unread`)
    std::vector<std::string> unread;  // arrived while the client was not reading
    bool closed_unread = false;       // the close arrived behind them
  };

  // Client side.
  ConnId connect(int client);  // 0 when no gateway is listening
  void client_send(ConnId conn, std::string text);
  void client_close(ConnId conn, bool abrupt);
  void client_vanish(ConnId conn);                // half-open from now on
  void client_stall(ConnId conn, Millis for_ms);  // stop reading for a while

  // Gateway side.
  void server_send(ConnId conn, std::string text);
  void server_ping(ConnId conn);
  void server_close(ConnId conn);  // the gateway dropped it (keepalive)
  void gateway_died(Incarnation gateway);

  const Conn* find(ConnId conn) const;
  const std::map<ConnId, Conn>& conns() const { return conns_; }

 private:
  Millis latency();
  Millis c2s(Conn& c);
  Millis s2c(Conn& c);
  void forget_if_done(ConnId conn);
  void notify_closed(ConnId conn, int client);
  void read_frame(ConnId conn, int client, const std::string& text);
  void resume_reading(ConnId conn);

  World& w_;
  std::map<ConnId, Conn> conns_;
  ConnId next_ = 1;
};

}  // namespace lifeline::sim
