#include "sim/trace.hpp"

#include <charconv>

namespace lifeline::sim {

namespace {
void append_int(std::string& s, std::int64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  s.append(buf, p);
}
}  // namespace

std::string json_str(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      static const char* hex = "0123456789abcdef";
      out += "\\u00";
      out += hex[(c >> 4) & 0xf];
      out += hex[c & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

void Trace::add(Millis t, std::string_view event, std::string_view fields) {
  line_.clear();
  line_ += "{\"i\":";
  append_int(line_, static_cast<std::int64_t>(count_));
  line_ += ",\"t\":";
  append_int(line_, t);
  line_ += ",\"e\":\"";
  line_ += event;
  line_ += '"';
  if (!fields.empty()) {
    line_ += ',';
    line_ += fields;
  }
  line_ += '}';
  for (char ch : line_) {
    auto c = static_cast<unsigned char>(ch);
    hash_ ^= c;
    hash_ *= 0x100000001b3ULL;
  }
  hash_ ^= '\n';
  hash_ *= 0x100000001b3ULL;
  ++count_;
  if (keep_hashes_) hashes_.push_back(hash_);
  if (keep_recent) remember(line_);
  if (out_) *out_ << line_ << '\n';
}

void Trace::note(Millis t, std::string_view who, std::string_view text) {
  if (!out_ && !keep_recent) return;
  std::string line = "{\"t\":" + std::to_string(t) + ",\"log\":" + json_str(who) +
                     ",\"text\":" + json_str(text) + "}";
  if (keep_recent) remember(line);
  if (out_) *out_ << line << '\n';
}

void Trace::remember(const std::string& line) {
  if (recent_.size() < kRecent) {
    recent_.push_back(line);
    return;
  }
  recent_[recent_next_].assign(line);  // keeps the slot's buffer
  recent_next_ = (recent_next_ + 1) % kRecent;
}

std::vector<std::string> Trace::recent() const {
  std::vector<std::string> out;
  out.reserve(recent_.size());
  for (std::size_t i = 0; i < recent_.size(); ++i)
    out.push_back(recent_[(recent_next_ + i) % recent_.size()]);
  return out;
}

}  // namespace lifeline::sim
