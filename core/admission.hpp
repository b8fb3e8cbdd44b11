// Who may use the gateway over HTTP (docs/PROTOCOL.md section 1 and 6; docs/DESIGN.md
// rule 14): the token in its three forms, the per-instance login cookie, the Origin
// allow-list, the Host check against DNS rebinding, and the throttle on guessing. Pure:
// the WebSocket shell extracts header values and asks; the unit tests and a fuzzer ask
// the same questions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ports.hpp"

namespace lifeline::admission {

bool constant_time_equal(std::string_view a, std::string_view b);
// %XX decoded, '+' as a space; malformed escapes kept as they are (they match no token).
std::string percent_decode(std::string_view in);
std::string percent_encode(std::string_view in);
// The first value of query parameter `name` in a request target, percent-decoded.
std::string query_param(std::string_view target, std::string_view name);
// Every value of cookie `name` in one Cookie header ("a=1; lifeline_8765=T").
std::vector<std::string> cookie_values(std::string_view header, std::string_view name);

// The login cookie's name: one per gateway, because cookies are not isolated by port
// (RFC 6265 section 8.5): "lifeline_<instance>" when --instance is set (characters a
// cookie name may not hold become '_'), else "lifeline_<port>".
std::string cookie_name(std::string_view instance, int port);

// At most this many credential values of one request are compared: a header stuffed
// with thousands of cookies costs no more than four comparisons.
inline constexpr std::size_t max_presented = 4;

struct Presented {
  std::string bearer;                // Authorization: Bearer <token>
  std::string query;                 // ?token=
  std::vector<std::string> cookies;  // every Cookie header's value
};

class Policy {
 public:
  Policy(std::string token, std::string cookie, std::vector<std::string> allowed_origins,
         const std::vector<std::string>& own_hosts, const std::vector<std::string>& allowed_hosts);

  const std::string& cookie() const { return cookie_; }
  // True when one of the first max_presented values presented (bearer, query, then the
  // cookie's values in order) is the token, each compared in constant time. A planted
  // bogus cookie beside the real one does not lock its owner out.
  bool authenticated(const Presented& p) const;
  // The login cookie alone (the page's own sign-in state).
  bool cookie_authenticated(const std::vector<std::string>& cookie_headers) const;
  bool token_matches(std::string_view candidate) const;
  // An Origin header's value is on the allow-list.
  bool origin_allowed(std::string_view origin) const;
  // A Host header's value names this gateway (empty: no Host, not a browser's request).
  bool host_allowed(std::string_view host) const;

 private:
  std::string token_;
  std::string cookie_;
  std::vector<std::string> origins_;
  std::vector<std::string> own_hosts_;      // lower case, "name:port"
  std::vector<std::string> allowed_hosts_;  // lower case, "name" or "name:port"
};

// Failed authentications per source address: a token bucket (`burst` failures at once,
// refilled at `per_second`). An address with an empty bucket is answered 429 until it
// refills: the right token works again within seconds, and nothing locks out for good.
// Memory is bounded: at most `max_addresses` buckets, full ones forgotten first.
class Throttle {
 public:
  Throttle(double per_second = 10, double burst = 20, std::size_t max_addresses = 4096);
  // nullopt: go ahead; else the milliseconds until one attempt is allowed again.
  std::optional<Millis> refused(const std::string& address, Millis now);
  // A failed authentication from `address`.
  void failed(const std::string& address, Millis now);
  std::size_t addresses() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    Millis at = 0;
  };
  double level(const Bucket& b, Millis now) const;
  void prune(Millis now);
  double per_second_;
  double burst_;
  std::size_t max_addresses_;
  std::map<std::string, Bucket> buckets_;
};

}  // namespace lifeline::admission
