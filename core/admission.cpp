#include "core/admission.hpp"

#include <algorithm>
#include <cctype>

#include "core/assert.hpp"

namespace lifeline::admission {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "name:port" -> "name"; "[v6]:port" -> "[v6]"; "name" -> "name".
std::string host_name(const std::string& host) {
  if (!host.empty() && host.front() == '[') return host.substr(0, host.find(']') + 1);
  auto colon = host.find(':');
  return colon == std::string::npos ? host : host.substr(0, colon);
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff = static_cast<unsigned char>(
        diff | (static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i])));
  return diff == 0;
}

std::string percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
      out += static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2]));
      i += 2;
    } else {
      out += in[i] == '+' ? ' ' : in[i];
    }
  }
  return out;
}

std::string percent_encode(std::string_view in) {
  static const char digits[] = "0123456789ABCDEF";
  std::string out;
  for (char c : in) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += digits[u >> 4];
      out += digits[u & 15U];
    }
  }
  return out;
}

std::string query_param(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name)
      return percent_decode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

std::vector<std::string> cookie_values(std::string_view header, std::string_view name) {
  std::vector<std::string> out;
  while (!header.empty()) {
    auto semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name)
      out.push_back(percent_decode(pair.substr(eq + 1)));
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return out;
}

std::string cookie_name(std::string_view instance, int port) {
  std::string name = "lifeline_";
  if (instance.empty()) return name + std::to_string(port);
  for (char c : instance) {
    auto u = static_cast<unsigned char>(c);
    name += (std::isalnum(u) || c == '-' || c == '_' || c == '.') ? c : '_';
  }
  return name;
}

Policy::Policy(std::string token, std::string cookie, std::vector<std::string> allowed_origins,
               const std::vector<std::string>& own_hosts,
               const std::vector<std::string>& allowed_hosts)
    : token_(std::move(token)), cookie_(std::move(cookie)), origins_(std::move(allowed_origins)) {
  LIFELINE_ASSERT(!token_.empty());
  LIFELINE_ASSERT(!cookie_.empty());
  for (const auto& h : own_hosts) own_hosts_.push_back(lower(h));
  for (const auto& h : allowed_hosts) allowed_hosts_.push_back(lower(h));
}

bool Policy::token_matches(std::string_view candidate) const {
  return !candidate.empty() && constant_time_equal(candidate, token_);
}

bool Policy::authenticated(const Presented& p) const {
  std::size_t compared = 0;
  bool ok = false;
  auto consider = [&](std::string_view value) {
    if (value.empty() || compared >= max_presented) return;
    ++compared;
    ok = token_matches(value) || ok;  // every candidate compared: no early exit
  };
  consider(p.bearer);
  consider(p.query);
  for (const auto& header : p.cookies)
    for (const auto& v : cookie_values(header, cookie_)) consider(v);
  return ok;
}

bool Policy::cookie_authenticated(const std::vector<std::string>& cookie_headers) const {
  return authenticated(Presented{{}, {}, cookie_headers});
}

bool Policy::origin_allowed(std::string_view origin) const {
  return std::find(origins_.begin(), origins_.end(), origin) != origins_.end();
}

bool Policy::host_allowed(std::string_view host) const {
  if (host.empty()) return true;
  std::string h = lower(host);
  if (std::find(own_hosts_.begin(), own_hosts_.end(), h) != own_hosts_.end()) return true;
  // An --allowed-host without a port admits that name on any port.
  std::string name = host_name(h);
  for (const auto& ok : allowed_hosts_)
    if (ok == name || ok == h) return true;
  return false;
}

Throttle::Throttle(double per_second, double burst, std::size_t max_addresses)
    : per_second_(per_second), burst_(burst), max_addresses_(max_addresses) {
  LIFELINE_ASSERT(per_second_ > 0);
  LIFELINE_ASSERT(burst_ >= 1);
  LIFELINE_ASSERT(max_addresses_ > 0);
}

double Throttle::level(const Bucket& b, Millis now) const {
  Millis elapsed = std::max<Millis>(0, now - b.at);
  return std::min(burst_, b.tokens + static_cast<double>(elapsed) * per_second_ / 1000.0);
}

std::optional<Millis> Throttle::refused(const std::string& address, Millis now) {
  auto it = buckets_.find(address);
  if (it == buckets_.end()) return std::nullopt;
  double have = level(it->second, now);
  if (have >= 1) return std::nullopt;
  auto wait = static_cast<Millis>((1 - have) * 1000.0 / per_second_) + 1;
  LIFELINE_ASSERT(wait > 0);
  return wait;
}

void Throttle::failed(const std::string& address, Millis now) {
  auto it = buckets_.find(address);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_addresses_) prune(now);
    it = buckets_.emplace(address, Bucket{burst_, now}).first;
  }
  it->second.tokens = std::max(0.0, level(it->second, now) - 1);
  it->second.at = now;
  LIFELINE_ASSERT(buckets_.size() <= max_addresses_);
}

void Throttle::prune(Millis now) {
  // A full bucket is the same as none: forget those first, then the oldest.
  std::erase_if(buckets_, [&](const auto& kv) { return level(kv.second, now) >= burst_; });
  while (buckets_.size() >= max_addresses_) {
    auto oldest =
        std::min_element(buckets_.begin(), buckets_.end(),
                         [](const auto& a, const auto& b) { return a.second.at < b.second.at; });
    buckets_.erase(oldest);
  }
}

}  // namespace lifeline::admission
