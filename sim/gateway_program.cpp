#include "sim/gateway_program.hpp"

#include "core/recovery.hpp"
#include "core/strays.hpp"
#include "sim/catalogue.hpp"
#include "sim/world.hpp"

namespace lifeline::sim {

GatewayProgram::GatewayProgram(World& world, int pid, Incarnation inc)
    : w_(world),
      pid_(pid),
      inc_(inc),
      clock_(world.sched, inc),
      random_(world.rng.next()),
      pc_(world, pid, inc),
      store_(world.store, inc) {
  // Before anything is spawned or served, as the runtime does it, in the core's order.
  sweep_predecessor({.kill_ledger = [this] { return pc_.sweep_ledger(); },
                     .end_open_sessions = nullptr,  // the model's store keeps no open rows
                     .prune = nullptr,
                     .sweep_cgroups = [this] { return pc_.sweep_cgroups(); }},
                    *this);
  core_ = std::make_unique<Gateway>(w_.config.gateway,
                                    GatewayPorts{clock_, pc_, *this, store_, random_, *this});
  core_->teardown_observer = [this](const Session& s, EndReason reason, bool connected) {
    std::string why = check_end_reason(s, reason, connected);
    if (!why.empty()) w_.violate(Inv::end_reasons_agree_with_state, why);
  };
}

GatewayProgram::~GatewayProgram() {
  core_.reset();  // before the ports it holds
  links_.clear();
}

void GatewayProgram::on_start() {
  core_->start();
  started_ = true;
  baseline_fds_ = w_.kernel.fd_count(pid_);
  w_.trace("gateway.listening", "\"pid\":" + std::to_string(pid_));
}

void GatewayProgram::on_signal(SimSignal sig) {
  if (sig != SimSignal::term || shutting_down_) return;
  shutting_down_ = true;
  w_.trace("gateway.shutdown", "\"pid\":" + std::to_string(pid_));
  core_->shutdown([this](bool clean) {
    // Every child reaped and released (clean), or the core's deadline passed: close the
    // connections and exit 0, or 3 as the runtime does.
    std::vector<ConnId> conns;
    for (auto& [id, link] : links_) conns.push_back(id);
    for (ConnId c : conns) drop(c, "shutdown");
    exit_after_strays(clean ? 0 : 3, 0);
  });
}

// As the runtime does before it exits, in the core's rounds (core/strays.hpp).
void GatewayProgram::exit_after_strays(int status, int rounds_done) {
  pc_.on_sigchld();  // the core's stray decision: kill the live, reap the dead
  if (!another_stray_round(rounds_done + 1, !w_.kernel.children_of(pid_).empty())) {
    w_.kernel.exit(pid_, status);
    return;
  }
  w_.sched.after(exit_stray_gap_ms, inc_,
                 [this, status, rounds_done] { exit_after_strays(status, rounds_done + 1); });
}

void GatewayProgram::accept(ConnId conn) {
  Link link;
  link.file = w_.kernel.open_file(FileKind::socket, conn);
  link.fd = w_.kernel.install(pid_, link.file, true);
  link.keepalive = std::make_unique<Keepalive>(
      clock_, w_.config.gateway.ping_interval, w_.config.gateway.ping_timeout,
      [this, conn] { w_.net.server_ping(conn); },
      [this, conn] {
        // The peer said nothing for a whole ping timeout: half-open (rule 4).
        const SimNetwork::Conn* c = w_.net.find(conn);
        ++w_.counters.keepalive_drops;
        if (c && c->state == SimNetwork::State::open)
          w_.violate(Inv::no_false_keepalive_drop,
                     "connection " + std::to_string(conn) +
                         " of a healthy client was dropped by the keepalive");
        // Not from inside the Keepalive's own callback: it is destroyed with the link.
        w_.sched.after(0, inc_, [this, conn] { drop(conn, "keepalive timeout"); });
      });
  link.budget = ByteBudget(w_.config.gateway.max_unsent_bytes);
  link.keepalive->start();
  links_.emplace(conn, std::move(link));
  w_.trace("gateway.accept",
           "\"conn\":" + std::to_string(conn) + ",\"fd\":" + std::to_string(links_[conn].fd));
  core_->on_connect(conn);
}

void GatewayProgram::deliver(ConnId conn, const std::string& text) {
  auto it = links_.find(conn);
  if (it == links_.end()) return;
  it->second.keepalive->on_activity();
  core_->on_message(conn, text);
}

void GatewayProgram::pong(ConnId conn) {
  if (auto it = links_.find(conn); it != links_.end()) it->second.keepalive->on_activity();
}

void GatewayProgram::peer_closed(ConnId conn) {
  drop(conn, "peer closed");
}

void GatewayProgram::drop(ConnId conn, const char* why) {
  auto it = links_.find(conn);
  if (it == links_.end()) return;
  Link link = std::move(it->second);
  links_.erase(it);
  link.keepalive->stop();
  w_.kernel.close(pid_, link.fd, link.file);
  w_.net.server_close(conn);
  w_.trace("gateway.disconnect", "\"conn\":" + std::to_string(conn) + ",\"why\":" + json_str(why));
  core_->on_disconnect(conn);
}

// As the runtime's connections do (runtime/gateway/ws_server.cpp): past the bound the
// client is dropped, above half of it the core is told to pause its terminals.
void GatewayProgram::send(ConnId conn, std::string text) {
  auto it = links_.find(conn);
  if (it == links_.end() || it->second.overflowed) return;
  auto change = it->second.budget.add(text.size());
  if (change == ByteBudget::Change::overflow) {
    it->second.overflowed = true;
    ++w_.counters.slow_readers_dropped;
    w_.trace("gateway.unsent_overflow", "\"conn\":" + std::to_string(conn) + ",\"bytes\":" +
                                            std::to_string(it->second.budget.bytes()));
    // Not from inside the core's own call: it may be mid-teardown of this connection.
    w_.sched.after(0, inc_, [this, conn] { drop(conn, "unsent bytes past the bound"); });
    return;
  }
  w_.net.server_send(conn, std::move(text));
  if (change == ByteBudget::Change::backed_up) {
    ++w_.counters.backpressure_pauses;
    core_->on_backpressure(conn, true);
  }
}

void GatewayProgram::consumed(ConnId conn, std::size_t bytes) {
  auto it = links_.find(conn);
  if (it == links_.end()) return;
  auto change = it->second.budget.remove(bytes);
  if (change == ByteBudget::Change::drained && !it->second.overflowed)
    core_->on_backpressure(conn, false);
}

void GatewayProgram::close(ConnId conn) {
  w_.sched.after(0, inc_, [this, conn] { drop(conn, "closed by the core"); });
}

void GatewayProgram::write(LogLevel, std::string_view message) {
  if (w_.tracing_notes()) w_.note("gateway", message);
}

}  // namespace lifeline::sim
