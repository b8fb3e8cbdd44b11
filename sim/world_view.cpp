#include "sim/world_view.hpp"

#include "sim/client.hpp"
#include "sim/gateway_program.hpp"
#include "sim/world.hpp"

namespace lifeline::sim {

namespace {
ChildFact fact(const SimProcessControl::Child& c) {
  return ChildFact{c.id,     c.pid,        c.session_id,  c.exited,
                   c.reaped, c.fds.size(), c.cgroup != 0, c.output_paused};
}
}  // namespace

SimWorldView::SimWorldView(const World& w, CatalogueMemo* memo, bool timers_ran_out)
    : w_(w), timers_ran_out_(timers_ran_out), gateway_(w.gateway()), memo_(memo) {}

std::uint64_t SimWorldView::end_requests_total() const {
  return w_.store.end_requests_total();
}

const Gateway* SimWorldView::core() const {
  GatewayProgram* g = gateway_;
  return g && g->listening() ? &g->core() : nullptr;
}

const Gateway* SimWorldView::stopping_core() const {
  GatewayProgram* g = gateway_;
  return g && g->stopping() ? &g->core() : nullptr;
}

std::span<const std::string> SimWorldView::kernel_violations() const {
  return w_.kernel.violations;
}

void SimWorldView::for_each_child(const std::function<void(const ChildFact&)>& fn) const {
  if (GatewayProgram* g = gateway_)
    for (const auto& [id, c] : g->processes().children()) fn(fact(c));
}

std::optional<ChildFact> SimWorldView::child(ChildId id) const {
  GatewayProgram* g = gateway_;
  if (!g) return std::nullopt;
  auto it = g->processes().children().find(id);
  if (it == g->processes().children().end()) return std::nullopt;
  return fact(it->second);
}

std::span<const std::string> SimWorldView::bystander_harm() const {
  return w_.kernel.bystander_harm;
}

void SimWorldView::for_each_process(const std::function<void(const ProcessFact&)>& fn) const {
  for (const auto& [pid, p] : w_.kernel.processes())
    if (pid != 1 && pid != w_.gateway_pid() && !p.bystander)
      fn(ProcessFact{pid, p.name, p.origin, p.zombie});
}

int SimWorldView::end_requests(const std::string& session_id) const {
  auto it = w_.store.end_requests().find(session_id);
  return it == w_.store.end_requests().end() ? 0 : it->second;
}

int SimWorldView::end_requests_max() const {
  return w_.store.end_requests_max();
}

void SimWorldView::for_each_end_request(
    const std::function<void(const std::string&, int)>& fn) const {
  for (const auto& [id, n] : w_.store.end_requests()) fn(id, n);
}

void SimWorldView::for_each_ack(const std::function<void(const AckFact&)>& fn) const {
  for (const auto& c : w_.clients)
    for (const auto& a : c->acks()) fn(AckFact{a.key, a.seq, w_.store.durable(a.key, a.seq)});
}

std::size_t SimWorldView::store_pending() const {
  return w_.store.pending();
}

void SimWorldView::for_each_client(const std::function<void(const ClientFact&)>& fn) const {
  for (const auto& c : w_.clients) {
    std::vector<std::string> held = c->held(), here = c->held_here();
    std::string oldest = c->oldest_unanswered();
    fn(ClientFact{c->conn(), held, here, c->unanswered(), oldest});
  }
}

std::optional<WorldView::Fds> SimWorldView::gateway_fds() const {
  GatewayProgram* g = gateway_;
  if (!g) return std::nullopt;
  return Fds{w_.kernel.fd_count(w_.gateway_pid()), g->baseline_fds(), g->connection_fds()};
}

std::optional<std::size_t> SimWorldView::cgroups() const {
  return w_.kernel.cgroups().size();
}

std::optional<bool> SimWorldView::backed_up(ConnId conn) const {
  GatewayProgram* g = gateway_;
  return g ? g->backed_up(conn) : std::nullopt;
}

}  // namespace lifeline::sim
