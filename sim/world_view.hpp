// The catalogue's view (sim/catalogue.hpp) of simrun's whole simulated machine: the
// kernel's process table, the serving gateway's core and process port, the store and
// the clients.
#pragma once

#include "sim/catalogue.hpp"

namespace lifeline::sim {

class World;
class GatewayProgram;

class SimWorldView final : public WorldView {
 public:
  SimWorldView(const World& w, CatalogueMemo* memo, bool timers_ran_out = false);

  const Gateway* core() const override;
  const Gateway* stopping_core() const override;
  std::span<const std::string> kernel_violations() const override;
  std::span<const std::string> bystander_harm() const override;
  void for_each_child(const std::function<void(const ChildFact&)>& fn) const override;
  std::optional<ChildFact> child(ChildId id) const override;
  void for_each_process(const std::function<void(const ProcessFact&)>& fn) const override;
  int end_requests(const std::string& session_id) const override;
  int end_requests_max() const override;
  void for_each_end_request(const std::function<void(const std::string&, int)>& fn) const override;
  void for_each_ack(const std::function<void(const AckFact&)>& fn) const override;
  std::size_t store_pending() const override;
  void for_each_client(const std::function<void(const ClientFact&)>& fn) const override;
  bool timers_ran_out() const override { return timers_ran_out_; }
  CatalogueMemo* memo() const override { return memo_; }
  std::uint64_t end_requests_total() const override;
  std::optional<Fds> gateway_fds() const override;
  std::optional<std::size_t> cgroups() const override;
  std::optional<bool> backed_up(ConnId conn) const override;

 private:
  const World& w_;
  bool timers_ran_out_;
  GatewayProgram* gateway_;  // looked up once per check, not once per fact
  CatalogueMemo* memo_;
};

}  // namespace lifeline::sim
