#include "core/trust.hpp"

namespace lifeline::trust {

namespace {
constexpr std::uint32_t group_or_other_write = 0022;
constexpr std::uint32_t group_or_other_any = 0077;

std::string octal(std::uint32_t mode) {
  std::string out;
  for (int shift = 9; shift >= 0; shift -= 3)
    out += static_cast<char>('0' + ((mode >> shift) & 7U));
  return out;
}

const char* kind_name(FileFacts::Kind kind) {
  switch (kind) {
    case FileFacts::Kind::missing:
      return "missing";
    case FileFacts::Kind::regular:
      return "a regular file";
    case FileFacts::Kind::directory:
      return "a directory";
    case FileFacts::Kind::symlink:
      return "a symbolic link";
    case FileFacts::Kind::other:
      return "not a regular file (a FIFO, socket or device)";
  }
  return "unknown";
}
}  // namespace

std::optional<std::string> state_dir_refusal(const FileFacts& dir, std::uint32_t euid) {
  if (dir.kind != FileFacts::Kind::directory)
    return std::string("is ") + kind_name(dir.kind) + ", not a directory";
  if (dir.uid != euid)
    return "is owned by uid " + std::to_string(dir.uid) + ", not by this gateway's uid " +
           std::to_string(euid);
  if ((dir.mode & group_or_other_write) != 0)
    return "is writable by its group or by others (mode " + octal(dir.mode) +
           "); chmod go-w it, or choose a directory of the gateway's own";
  return std::nullopt;
}

std::optional<std::string> state_file_refusal(const FileFacts& file, std::uint32_t euid,
                                              bool secret) {
  if (file.kind == FileFacts::Kind::missing) return std::nullopt;
  if (file.kind != FileFacts::Kind::regular) return std::string("is ") + kind_name(file.kind);
  if (file.uid != euid)
    return "is owned by uid " + std::to_string(file.uid) + ", not by this gateway's uid " +
           std::to_string(euid);
  std::uint32_t forbidden = secret ? group_or_other_any : group_or_other_write;
  if ((file.mode & forbidden) != 0)
    return std::string("is ") + (secret ? "readable or writable" : "writable") +
           " by its group or by others (mode " + octal(file.mode) + ")";
  return std::nullopt;
}

std::optional<std::string> token_refusal(std::string_view token) {
  if (token.size() < min_token_bytes)
    return "is " + std::to_string(token.size()) + " bytes; a token needs at least " +
           std::to_string(min_token_bytes);
  if (token.size() > max_token_bytes)
    return "is longer than " + std::to_string(max_token_bytes) + " bytes";
  for (char c : token)
    if (c <= ' ' || c > '~') return "holds a space, a control or a non-ASCII character";
  return std::nullopt;
}

std::optional<std::string> display_text_refusal(std::string_view text) {
  auto byte = [&text](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  for (std::size_t i = 0; i < text.size(); ++i) {
    unsigned char c = byte(i);
    if (c < 0x20 || c == 0x7f) return "holds a control character";
    // U+0080-U+009F: C2 80 .. C2 9F.
    if (c == 0xc2 && i + 1 < text.size() && byte(i + 1) < 0xa0) return "holds a control character";
    // U+202A-U+202E: E2 80 AA..AE; U+2066-U+2069: E2 81 A6..A9.
    if (c == 0xe2 && i + 2 < text.size()) {
      unsigned char b1 = byte(i + 1);
      unsigned char b2 = byte(i + 2);
      if ((b1 == 0x80 && b2 >= 0xaa && b2 <= 0xae) || (b1 == 0x81 && b2 >= 0xa6 && b2 <= 0xa9))
        return "holds a bidirectional override or isolate character";
    }
  }
  return std::nullopt;
}

std::string token_from_file_text(std::string_view text) {
  // Only the one line ending is removed: a second line is kept, and refused by
  // token_refusal, rather than silently cut off.
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  return std::string(text);
}

}  // namespace lifeline::trust
