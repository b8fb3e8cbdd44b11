// docs/DESIGN.md rule 14: trust only what the gateway created. The judgements about the
// state dir, the token file and the token itself, made from facts the shell reports
// (lstat/fstat), so that they are unit-tested without root and decided in one place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lifeline::trust {

// What fstat (or stat, for the state dir, whose path may be a link that systemd's
// DynamicUser= makes) says of one path.
struct FileFacts {
  enum class Kind { missing, regular, directory, symlink, other };
  Kind kind = Kind::missing;
  std::uint32_t uid = 0;
  std::uint32_t mode = 0;  // st_mode's permission bits (07777)
};

// Shortest token accepted from an operator (--token, LIFELINE_TOKEN, a credential file
// or a token file): 16 bytes, 128 bits if random.
inline constexpr std::size_t min_token_bytes = 16;
// Longest: a token is a line in a header, a cookie and a file, not a document.
inline constexpr std::size_t max_token_bytes = 1024;

// Why the state dir must be refused, or nullopt when it is ours: a directory owned by
// the gateway's effective uid, writable by nobody else (OpenSSH's StrictModes).
std::optional<std::string> state_dir_refusal(const FileFacts& dir, std::uint32_t euid);

// Why a file the gateway would read or write in its state dir (token, lock, database)
// must be refused, or nullopt when it is missing (it will be created) or ours: a regular
// file (never a link, FIFO or device) owned by euid. `secret`: also unreadable by others.
std::optional<std::string> state_file_refusal(const FileFacts& file, std::uint32_t euid,
                                              bool secret);

// Why a token must be refused, or nullopt: 16 to 1024 bytes of visible ASCII (no
// spaces, no control characters: it travels in headers, cookies and URLs).
std::optional<std::string> token_refusal(std::string_view token);

// Why a client's text that others are shown (a session title) must be refused, or
// nullopt: no control characters (C0, DEL, C1) and no bidi embedding, override or
// isolate (U+202A-U+202E, U+2066-U+2069), which could make a listing read other than it
// is (CVE-2021-42574, "Trojan Source"). `text` is valid UTF-8 (the JSON parser checks).
std::optional<std::string> display_text_refusal(std::string_view text);

// A token as read from a file: the whole text less one final line ending (\n or \r\n).
std::string token_from_file_text(std::string_view text);

}  // namespace lifeline::trust
