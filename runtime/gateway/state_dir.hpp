// The gateway's state dir, checked and held open (docs/DESIGN.md rule 14). Missing
// directories are created 0700; an existing one is never chmod'ed, and is refused unless
// it is ours and writable by nobody else. Every file in it is judged by
// core/trust.hpp before use and opened relative to the held fd with O_NOFOLLOW.
#pragma once

#include <optional>
#include <string>

namespace lifeline::runtime {

class StateDir {
 public:
  // Throws std::runtime_error with one line naming the path and the reason.
  explicit StateDir(const std::string& path);
  ~StateDir();
  StateDir(const StateDir&) = delete;
  StateDir& operator=(const StateDir&) = delete;

  const std::string& path() const { return path_; }
  // The same directory with every link resolved: what SQLite opens with
  // SQLITE_OPEN_NOFOLLOW (systemd's DynamicUser= makes the usual path a link).
  const std::string& real_path() const { return real_path_; }

  // Opens NAME in the dir (O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK added; created 0600 with
  // O_CREAT), refusing what trust::state_file_refusal refuses before and after the open.
  // `secret`: also unreadable by group and others. Throws with the reason.
  int open_file(const char* name, int flags, bool secret) const;
  // Refuses (throws) an existing NAME that is not a regular file of ours.
  void check_file(const char* name, bool secret) const;

  // The token file: its whole text as a token, nullopt when there is none; throws when
  // the file or its content is refused (it is never replaced or truncated).
  std::optional<std::string> read_token() const;
  // Writes a new token file: an O_EXCL temporary, fsync, rename into place, fsync the dir.
  void write_token(const std::string& token) const;

 private:
  [[noreturn]] void refuse(const std::string& what, const std::string& why) const;
  std::string path_;
  std::string real_path_;
  int fd_ = -1;
};

// $CREDENTIALS_DIRECTORY/token (systemd's LoadCredential=), nullopt when not set; throws
// when the file is not a readable regular file.
std::optional<std::string> credential_token();

}  // namespace lifeline::runtime
