// The ports' few defaults. A store that is not shared is never asked about leases or
// claims (the core asks shared() first): reaching one of these is a bug.
#include "core/ports.hpp"

#include "core/assert.hpp"

namespace lifeline {

// The port's signatures take completions by value, as every Store method does.
// NOLINTNEXTLINE(performance-unnecessary-value-param)
void Store::renew_lease(const std::string&, Millis, std::function<void(StoreReply<LeaseRenewal>)>) {
  LIFELINE_ASSERT(shared());
}

void Store::claim(
    const SessionRecord&, const std::optional<std::string>&, WallMs,
    std::function<void(StoreReply<Claim>)>) {  // NOLINT(performance-unnecessary-value-param)
  LIFELINE_ASSERT(shared());
}

}  // namespace lifeline
