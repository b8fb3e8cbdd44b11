// The gateway process: the real core (Gateway) on simulated ports - its own clock, the
// simulated ProcessControl, the network as Transport with a Keepalive per connection
// (the runtime's WebSocket server does the same with Beast's pings), and its view of
// the shared store. A SIGKILL destroys it with the process; SIGTERM shuts it down.
#pragma once

#include <map>
#include <memory>
#include <optional>

#include "core/byte_budget.hpp"
#include "core/gateway.hpp"
#include "core/keepalive.hpp"
#include "sim/kernel.hpp"
#include "sim/rng.hpp"
#include "sim/sim_process_control.hpp"
#include "sim/sim_store.hpp"

namespace lifeline::sim {

class World;

class GatewayProgram final : public Program, public Transport, public Log {
 public:
  GatewayProgram(World& world, int pid, Incarnation inc);
  ~GatewayProgram() override;

  // Program.
  void on_start() override;
  void on_signal(SimSignal sig) override;
  void on_child_changed() override { pc_.on_sigchld(); }
  void on_readable(int fd) override { pc_.on_readable(fd); }

  // From the network.
  void accept(ConnId conn);
  void deliver(ConnId conn, const std::string& text);
  void peer_closed(ConnId conn);
  void pong(ConnId conn);
  void consumed(ConnId conn, std::size_t bytes);  // the client read a frame of ours

  // Transport.
  void send(ConnId conn, std::string text) override;
  void close(ConnId conn) override;

  // Log.
  void write(LogLevel level, std::string_view message) override;

  bool listening() const { return started_ && !shutting_down_; }
  bool stopping() const { return started_ && shutting_down_; }
  const Gateway& core() const { return *core_; }
  const SimProcessControl& processes() const { return pc_; }
  std::size_t baseline_fds() const { return baseline_fds_; }
  // Gateway fds that belong to a live connection.
  std::size_t connection_fds() const { return links_.size(); }
  // The connection's unsent bytes are above half its bound (nullopt: no such link, or
  // one past its bound, being dropped).
  std::optional<bool> backed_up(ConnId conn) const {
    auto it = links_.find(conn);
    if (it == links_.end() || it->second.overflowed) return std::nullopt;
    return it->second.budget.backed_up();
  }

 private:
  struct Link {
    int fd = -1;
    std::uint64_t file = 0;
    std::unique_ptr<Keepalive> keepalive;
    ByteBudget budget{1};     // sent and not yet read by the client (docs/DESIGN.md rule 12);
                              // given its real bound at accept
    bool overflowed = false;  // past the bound: being dropped, nothing more is sent
  };
  void drop(ConnId conn, const char* why);

  World& w_;
  int pid_;
  Incarnation inc_;
  void exit_after_strays(int status, int rounds_done);
  SimClock clock_;
  Rng random_;
  SimProcessControl pc_;
  StoreView store_;
  std::map<ConnId, Link> links_;
  std::unique_ptr<Gateway> core_;
  std::size_t baseline_fds_ = 0;
  bool started_ = false;
  bool shutting_down_ = false;
};

}  // namespace lifeline::sim
