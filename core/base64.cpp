#include "core/base64.hpp"
#include "core/assert.hpp"

#include <array>
#include <cstdint>

namespace lifeline::base64 {

namespace {
constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int, 256> make_reverse() {
  std::array<int, 256> r{};
  for (auto& v : r) v = -1;
  for (int i = 0; i < 64; ++i) r[static_cast<unsigned char>(alphabet[i])] = i;
  return r;
}
constexpr auto reverse = make_reverse();
}  // namespace

namespace {
std::uint32_t byte(char c) {
  return static_cast<std::uint8_t>(c);
}
}  // namespace

std::string encode(std::string_view bytes) {
  // Sized once and written by index: a terminal's output passes through here whole.
  std::string out((bytes.size() + 2) / 3 * 4, '=');
  char* o = out.data();
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3, o += 4) {
    std::uint32_t v = (byte(bytes[i]) << 16) | (byte(bytes[i + 1]) << 8) | byte(bytes[i + 2]);
    o[0] = alphabet[(v >> 18) & 63];
    o[1] = alphabet[(v >> 12) & 63];
    o[2] = alphabet[(v >> 6) & 63];
    o[3] = alphabet[v & 63];
  }
  std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = byte(bytes[i]) << 16;
    if (rest == 2) v |= byte(bytes[i + 1]) << 8;
    o[0] = alphabet[(v >> 18) & 63];
    o[1] = alphabet[(v >> 12) & 63];
    if (rest == 2) o[2] = alphabet[(v >> 6) & 63];  // else stays '='; o[3] stays '='
  }
  LIFELINE_ASSERT(out.size() == (bytes.size() + 2) / 3 * 4);
  return out;
}

std::optional<std::string> decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int pad = 0;
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      unsigned char c = static_cast<unsigned char>(text[i + k]);
      if (c == '=' && last && k >= 2) {
        ++pad;
        v <<= 6;
        continue;
      }
      if (pad > 0 || reverse[c] < 0) return std::nullopt;
      v = (v << 6) | static_cast<std::uint32_t>(reverse[c]);
    }
    out += static_cast<char>((v >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(v & 0xff);
    // Canonical form only: the bits dropped by padding must be zero.
    if ((pad == 1 && (v & 0xff)) || (pad == 2 && (v & 0xffff))) return std::nullopt;
  }
  return out;
}

}  // namespace lifeline::base64
