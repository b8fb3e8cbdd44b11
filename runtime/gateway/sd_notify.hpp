// systemd's readiness protocol without libsystemd: one datagram to $NOTIFY_SOCKET
// ("READY=1", "STOPPING=1", "STATUS=..."). A no-op when not started by systemd.
#pragma once

#include <string>

namespace lifeline::runtime {

// Returns false when $NOTIFY_SOCKET is set but the message could not be sent.
bool sd_notify(const std::string& message);

}  // namespace lifeline::runtime
