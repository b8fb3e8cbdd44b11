#include "sim/network.hpp"

#include <algorithm>

#include "sim/client.hpp"
#include "sim/gateway_program.hpp"
#include "sim/world.hpp"

namespace lifeline::sim {

Millis SimNetwork::latency() {
  return w_.rng.between(0, w_.config.latency_max);
}

Millis SimNetwork::c2s(Conn& c) {
  c.c2s_last = std::max(c.c2s_last, w_.sched.now() + latency());
  return c.c2s_last;
}

Millis SimNetwork::s2c(Conn& c) {
  c.s2c_last = std::max(c.s2c_last, w_.sched.now() + latency());
  return c.s2c_last;
}

const SimNetwork::Conn* SimNetwork::find(ConnId conn) const {
  auto it = conns_.find(conn);
  return it == conns_.end() ? nullptr : &it->second;
}

ConnId SimNetwork::connect(int client) {
  GatewayProgram* gw = w_.gateway();
  if (!gw || !gw->listening()) return 0;
  ConnId id = next_++;
  Conn c;
  c.client = client;
  c.gateway = w_.gateway_inc();
  Millis when = c2s(c);
  conns_.emplace(id, c);
  w_.sched.at(when, c.gateway, [this, id] {
    auto it = conns_.find(id);
    if (it == conns_.end() || it->second.state == State::closed) return;  // reset before accept
    if (GatewayProgram* g = w_.gateway(); g && w_.gateway_inc() == it->second.gateway) {
      it->second.server_open = true;
      g->accept(id);
    }
  });
  w_.trace("net.connect",
           "\"conn\":" + std::to_string(id) + ",\"client\":" + std::to_string(client));
  return id;
}

void SimNetwork::client_send(ConnId id, std::string text) {
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second.state != State::open) return;  // half-open: lost
  Conn& c = it->second;
  w_.sched.at(c2s(c), c.gateway, [this, id, text = std::move(text)] {
    auto jt = conns_.find(id);
    if (jt == conns_.end() || !jt->second.server_open) return;
    if (jt->second.state == State::half_open) return;
    if (GatewayProgram* g = w_.gateway(); g && w_.gateway_inc() == jt->second.gateway)
      g->deliver(id, text);
  });
}

void SimNetwork::client_close(ConnId id, bool abrupt) {
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second.state == State::closed) return;
  Conn& c = it->second;
  bool was_half_open = c.state == State::half_open;
  c.state = State::closed;
  w_.trace(abrupt ? "net.reset" : "net.close", "\"conn\":" + std::to_string(id));
  if (was_half_open) return;  // the FIN never gets through either
  // A FIN follows what was sent; a reset overtakes it (in-flight frames are lost).
  Millis when = abrupt ? w_.sched.now() + latency() : c2s(c);
  w_.sched.at(when, c.gateway, [this, id] {
    auto jt = conns_.find(id);
    if (jt == conns_.end() || !jt->second.server_open) return;
    jt->second.server_open = false;
    if (GatewayProgram* g = w_.gateway(); g && w_.gateway_inc() == jt->second.gateway)
      g->peer_closed(id);
    forget_if_done(id);
  });
}

void SimNetwork::client_vanish(ConnId id) {
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second.state != State::open) return;
  it->second.state = State::half_open;
  w_.trace("net.half_open", "\"conn\":" + std::to_string(id));
  w_.deadlines.peer_silent(id, it->second.gateway);
}

void SimNetwork::server_send(ConnId id, std::string text) {
  auto it = conns_.find(id);
  if (it == conns_.end() || !it->second.server_open) return;
  Conn& c = it->second;
  if (c.state != State::open) return;  // the peer is gone or silent
  int client = c.client;
  w_.sched.at(s2c(c), 0, [this, id, client, text = std::move(text)]() mutable {
    auto jt = conns_.find(id);
    if (jt == conns_.end() || jt->second.state != State::open) return;
    if (!jt->second.reading) {
      jt->second.unread.push_back(std::move(text));
      return;
    }
    read_frame(id, client, text);
  });
}

// The client reads one frame: the gateway's unsent count drops by it (its write
// completes), then the client handles it.
void SimNetwork::read_frame(ConnId id, int client, const std::string& text) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  if (GatewayProgram* g = w_.gateway();
      g && it->second.server_open && w_.gateway_inc() == it->second.gateway)
    g->consumed(id, text.size());
  w_.clients[static_cast<std::size_t>(client)]->on_message(id, text);
}

void SimNetwork::client_stall(ConnId id, Millis for_ms) {
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second.state != State::open || !it->second.reading) return;
  it->second.reading = false;
  w_.trace("net.stall", "\"conn\":" + std::to_string(id) + ",\"ms\":" + std::to_string(for_ms));
  w_.sched.after(for_ms, 0, [this, id] { resume_reading(id); });
}

void SimNetwork::resume_reading(ConnId id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  it->second.reading = true;
  std::vector<std::string> backlog = std::move(it->second.unread);
  it->second.unread.clear();
  int client = it->second.client;
  w_.trace("net.resume_reading",
           "\"conn\":" + std::to_string(id) + ",\"frames\":" + std::to_string(backlog.size()));
  for (const auto& text : backlog) {
    auto jt = conns_.find(id);
    if (jt == conns_.end() || jt->second.state != State::open) return;  // the client left
    read_frame(id, client, text);
  }
  auto jt = conns_.find(id);
  if (jt != conns_.end() && jt->second.closed_unread) {
    jt->second.closed_unread = false;
    notify_closed(id, client);
  }
}

void SimNetwork::server_ping(ConnId id) {
  auto it = conns_.find(id);
  if (it == conns_.end() || !it->second.server_open || it->second.state != State::open) return;
  Conn& c = it->second;
  // A healthy client's stack answers a ping by itself (a Beast/browser control frame).
  w_.sched.at(s2c(c), 0, [this, id] {
    auto jt = conns_.find(id);
    if (jt == conns_.end() || jt->second.state != State::open) return;
    Conn& d = jt->second;
    w_.sched.at(c2s(d), d.gateway, [this, id] {
      auto kt = conns_.find(id);
      if (kt == conns_.end() || !kt->second.server_open || kt->second.state != State::open) return;
      if (GatewayProgram* g = w_.gateway(); g && w_.gateway_inc() == kt->second.gateway)
        g->pong(id);
    });
  });
}

void SimNetwork::server_close(ConnId id) {
  auto it = conns_.find(id);
  if (it == conns_.end() || !it->second.server_open) return;
  Conn& c = it->second;
  c.server_open = false;
  w_.trace("net.server_close", "\"conn\":" + std::to_string(id));
  int client = c.client;
  if (c.state == State::open)
    w_.sched.at(s2c(c), 0, [this, id, client] { notify_closed(id, client); });
  forget_if_done(id);
}

void SimNetwork::gateway_died(Incarnation gateway) {
  // The kernel closed its sockets: every peer that is listening sees a reset.
  for (auto& [id, c] : conns_) {
    if (c.gateway != gateway || !c.server_open) continue;
    c.server_open = false;
    if (c.state == State::open) {
      int client = c.client;
      ConnId cid = id;
      w_.sched.at(s2c(c), 0, [this, cid, client] { notify_closed(cid, client); });
    }
  }
  std::erase_if(conns_, [&](const auto& kv) {
    return kv.second.gateway == gateway && kv.second.state != State::open;
  });
}

void SimNetwork::notify_closed(ConnId id, int client) {
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second.state != State::open) return;
  if (!it->second.reading) {  // a stalled client sees the close after what precedes it
    it->second.closed_unread = true;
    return;
  }
  it->second.state = State::closed;
  forget_if_done(id);
  w_.clients[static_cast<std::size_t>(client)]->on_closed(id);
}

void SimNetwork::forget_if_done(ConnId id) {
  auto it = conns_.find(id);
  if (it != conns_.end() && !it->second.server_open && it->second.state != State::open)
    conns_.erase(it);
}

}  // namespace lifeline::sim
