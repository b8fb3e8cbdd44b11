// The slash worker's OS services (core WorkerHost and ParentProbe) on Linux.
#pragma once

#include <vector>

#include "core/ports.hpp"

namespace lifeline::runtime {

class PosixWorkerHost final : public WorkerHost, public ParentProbe {
 public:
  void write_stdout(std::string_view bytes) override;
  std::string describe_process() override;
  std::string list_fds() override;
  std::string spawn_background(int n, bool setsid) override;
  void exit_with_containment(int code) override;
  void exit_without_containment(int code) override;
  void crash() override;
  ParentIdentity parent() override;

  // Reaps background children that exited (called on SIGCHLD).
  void reap_children();

 private:
  std::vector<int> children_;
  bool forked_ = false;  // ever, even if every child is reaped since
};

}  // namespace lifeline::runtime
