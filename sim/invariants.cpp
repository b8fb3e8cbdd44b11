#include "sim/invariants.hpp"

namespace lifeline::sim {

namespace {

// ManualWorld's facts: a child is a process until it is reaped, a zombie once it exited.
class ManualView final : public WorldView {
 public:
  ManualView(const Gateway& gw, const FakeProcesses& procs, const FakeStore& store)
      : gw_(gw), procs_(procs), store_(store) {}

  const Gateway* core() const override { return &gw_; }
  std::span<const std::string> kernel_violations() const override { return procs_.violations; }
  void for_each_child(const std::function<void(const ChildFact&)>& fn) const override {
    for (const auto& [id, c] : procs_.all())
      if (!c.released) fn(fact(c));
  }
  std::optional<ChildFact> child(ChildId id) const override {
    auto it = procs_.all().find(id);
    if (it == procs_.all().end() || it->second.released) return std::nullopt;
    return fact(it->second);
  }
  void for_each_process(const std::function<void(const ProcessFact&)>& fn) const override {
    for (const auto& [id, c] : procs_.all())
      if (!c.reaped) fn(ProcessFact{c.pid, "child", id, c.exited});
  }
  int end_requests(const std::string& session_id) const override {
    auto it = store_.end_records.find(session_id);
    return it == store_.end_records.end() ? 0 : it->second;
  }
  // A unit test may hand out a session id again (forced randomness): the record a new
  // start wrote has no end, whatever the earlier session of that id left.
  bool ended_in_store(const std::string& session_id) const override {
    auto it = store_.sessions.find(session_id);
    return it != store_.sessions.end() && it->second.end_reason.has_value();
  }
  int end_requests_max() const override {
    int most = 0;
    for (const auto& [id, n] : store_.end_records) most = std::max(most, n);
    return most;
  }
  void for_each_end_request(const std::function<void(const std::string&, int)>& fn) const override {
    for (const auto& [id, n] : store_.end_records) fn(id, n);
  }
  void for_each_ack(const std::function<void(const AckFact&)>& fn) const override {
    for (const auto& [key, seq] : store_.acknowledged_seqs)
      fn(AckFact{key, seq, durable(key, seq)});
  }
  std::size_t store_pending() const override { return 0; }  // FakeStore answers through tasks

 private:
  static ChildFact fact(const FakeProcesses::Child& c) {
    return ChildFact{c.id, c.pid, c.spec.session_id, c.exited, c.reaped, 0, false};
  }
  bool durable(const std::string& key, std::int64_t seq) const {
    auto it = store_.entries.find(key);
    if (it == store_.entries.end()) return false;
    for (const auto& e : it->second)
      if (e.seq == seq) return true;
    return false;
  }

  const Gateway& gw_;
  const FakeProcesses& procs_;
  const FakeStore& store_;
};

std::vector<std::string> lines(const std::vector<Violation>& found) {
  std::vector<std::string> out;
  out.reserve(found.size());
  for (const auto& v : found) out.push_back(std::string(v.invariant->name) + ": " + v.detail);
  return out;
}

}  // namespace

std::vector<std::string> check_safety(const Gateway& gw, const FakeProcesses& procs,
                                      const FakeStore& store) {
  return lines(run_catalogue(ManualView(gw, procs, store), CheckedWhen::every_event, false));
}

std::vector<std::string> check_settled(const Gateway& gw, const FakeProcesses& procs,
                                       const FakeStore& store) {
  return lines(run_catalogue(ManualView(gw, procs, store), CheckedWhen::settled, false));
}

}  // namespace lifeline::sim
