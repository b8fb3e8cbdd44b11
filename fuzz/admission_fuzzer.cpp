// Admission (core/admission.hpp) against arbitrary header values: never a crash, and
// never admitted without the token among what was presented; percent-encoding round-trips;
// the throttle's memory stays bounded whatever addresses and times it is fed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/admission.hpp"

using namespace lifeline::admission;

namespace {
const std::string kToken = "fuzz-token-0123456789";

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out(1);
  for (char c : text) {
    if (c == '\n') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

void check(bool condition) {
  if (!condition) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto f = split(text);
  f.resize(6);
  Policy p(kToken, "lifeline_1", {"http://127.0.0.1:1"}, {"127.0.0.1:1"}, {f[5]});
  Presented presented{f[0], query_param(f[1], "token"), {f[2], f[3]}};
  if (p.authenticated(presented)) {
    bool present = presented.bearer == kToken || presented.query == kToken;
    for (const auto& header : presented.cookies)
      for (const auto& v : cookie_values(header, "lifeline_1")) present = present || v == kToken;
    check(present);
  }
  (void)p.origin_allowed(f[4]);
  (void)p.host_allowed(f[4]);
  check(percent_decode(percent_encode(text)) == text);
  Throttle t(10, 20, 8);
  lifeline::Millis now = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    now += static_cast<unsigned char>(text[i]);
    std::string address(1, text[i]);
    if (!t.refused(address, now)) t.failed(address, now);
    check(t.addresses() <= 8);
  }
  return 0;
}
