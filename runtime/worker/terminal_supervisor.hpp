// The terminal supervisor (docs/DESIGN.md rule 7): `lifeline-slash-worker --terminal`. The
// gateway spawns it for every pty.open, with the PTY slave as its stdin/stdout/stderr and
// the read end of its lifeline; it forks the terminal's shell as a session leader on that
// PTY and stays its parent, as a child subreaper.
//
// - The gateway's HUP is passed on to the shell's process group (a hang-up); its TERM
//   too, and half a second later everything is killed.
// - When the shell exits, whatever it left (background jobs, nohup, setsid and
//   double-forked escapees) is killed and reaped, and the supervisor exits with the
//   shell's status.
// - When the lifeline reaches EOF or the parent-death signal arrives (the gateway died,
//   even by SIGKILL), the whole tree is killed at once, with no grace: nothing of a
//   terminal outlives its gateway, with or without cgroups.
#pragma once

#include <string>
#include <vector>

namespace lifeline::runtime {

struct TerminalOptions {
  int lifeline_fd = -1;
  int exec_status_fd = -1;  // the gateway's exec-status pipe: the shell's exec errno, or EOF
  std::vector<std::string> argv;
};

// Parses "--terminal --lifeline-fd N --exec-status-fd N -- CMD [ARGS...]" (args without
// argv[0]); returns an error message, empty on success.
std::string parse_terminal_options(const std::vector<std::string>& args, TerminalOptions& out);

// Runs the supervisor; returns the exit status (never returns before the tree is gone).
int run_terminal_supervisor(const TerminalOptions& options);

}  // namespace lifeline::runtime
