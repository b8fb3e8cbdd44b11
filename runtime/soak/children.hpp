// The processes the soak runs itself: gateways (restarted on one state dir and port)
// and nginx. The soak is a subreaper and reaps every child in one place (reap_all), so
// that a SIGKILLed gateway's orphans never linger as the soak's zombies.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lifeline::soak {

// Reaps every exited child; returns them (pid -> wait status) and remembers them for
// exit_status().
std::map<int, int> reap_all();
// The wait status of pid if it has been reaped.
std::optional<int> exit_status(int pid);
// Waits (reaping) until pid has exited, up to timeout_s. Returns its wait status.
std::optional<int> wait_exit(int pid, double timeout_s);

struct GatewayCommand {
  std::string exe;
  std::vector<std::string> args;  // --listen is added
  std::vector<std::string> env;   // the whole environment
  std::string log_path;           // stderr is appended here
};

class GatewayProcess {
 public:
  // Starts it and waits for "listening ws://...:PORT/ws" (up to 30 s). port 0: any.
  // Returns the port, or 0 (with why()) if it did not come up.
  int start(const GatewayCommand& cmd, int port);
  int pid() const { return pid_; }
  const std::string& why() const { return why_; }

 private:
  int pid_ = 0;
  std::string why_;
};

// Debian's nginx as an unprivileged child: WebSocket upgrade, and a proxy_read_timeout
// (seconds) that may be shorter than the gateway's ping interval.
struct NginxProxy {
  std::string dir;
  int port = 0;
  int pid = 0;
  std::string why;
};
NginxProxy start_nginx(const std::string& dir, int upstream_port, double read_timeout_s);

int free_loopback_port();

}  // namespace lifeline::soak
