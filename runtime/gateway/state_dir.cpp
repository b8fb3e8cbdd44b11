#include "runtime/gateway/state_dir.hpp"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include "core/trust.hpp"

namespace lifeline::runtime {

namespace {

using trust::FileFacts;

FileFacts facts_of(const struct stat& st) {
  FileFacts f;
  if (S_ISREG(st.st_mode))
    f.kind = FileFacts::Kind::regular;
  else if (S_ISDIR(st.st_mode))
    f.kind = FileFacts::Kind::directory;
  else if (S_ISLNK(st.st_mode))
    f.kind = FileFacts::Kind::symlink;
  else
    f.kind = FileFacts::Kind::other;
  f.uid = st.st_uid;
  f.mode = st.st_mode & 07777;
  return f;
}

// mkdir -p, each missing component 0700. Existing components are left as they are.
void make_missing_dirs(const std::string& path) {
  for (std::size_t at = 1; at <= path.size(); ++at) {
    if (at != path.size() && path[at] != '/') continue;
    std::string prefix = path.substr(0, at);
    if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      std::string why = "state dir " + path;
      why += ": cannot create " + prefix;
      why += ": ";
      why += std::strerror(errno);
      throw std::runtime_error(why);
    }
  }
}

// Reads a small file whole, without ever blocking (a FIFO must not hang start-up).
std::string read_small(int fd, const std::string& what) {
  std::string text;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(what + ": cannot read: " + std::strerror(errno));
    if (n == 0) return text;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > trust::max_token_bytes + 2)
      throw std::runtime_error(what + ": longer than a token can be");
  }
}

}  // namespace

StateDir::StateDir(const std::string& path) : path_(path) {
  if (path_.empty())
    throw std::runtime_error(
        "no state dir: give --state-dir, or set XDG_STATE_HOME or HOME (the current "
        "directory is never used)");
  if (path_.size() > 1 && path_.back() == '/') path_.pop_back();
  make_missing_dirs(path_);
  fd_ = open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error("state dir " + path_ + ": " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd_, &st) != 0) refuse("", std::strerror(errno));
  if (auto why = trust::state_dir_refusal(facts_of(st), static_cast<std::uint32_t>(geteuid())))
    refuse("", *why);
  char real[PATH_MAX];
  if (!realpath(path_.c_str(), real)) refuse("", std::strerror(errno));
  real_path_ = real;
}

StateDir::~StateDir() {
  if (fd_ >= 0) close(fd_);
}

void StateDir::refuse(const std::string& what, const std::string& why) const {
  throw std::runtime_error("refusing state dir " + path_ + ": " +
                           (what.empty() ? "it " : what + " ") + why);
}

void StateDir::check_file(const char* name, bool secret) const {
  struct stat st {};
  FileFacts facts;  // missing unless lstat finds it
  if (fstatat(fd_, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
    facts = facts_of(st);
  else if (errno != ENOENT)
    refuse(name, std::strerror(errno));
  if (auto why = trust::state_file_refusal(facts, static_cast<std::uint32_t>(geteuid()), secret))
    refuse(name, *why);
}

int StateDir::open_file(const char* name, int flags, bool secret) const {
  check_file(name, secret);
  int fd = openat(fd_, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
  if (fd < 0) refuse(name, std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    close(fd);
    refuse(name, std::strerror(errno));
  }
  // Judged again on what was opened: a file swapped in between the two looks is refused.
  if (auto why =
          trust::state_file_refusal(facts_of(st), static_cast<std::uint32_t>(geteuid()), secret)) {
    close(fd);
    refuse(name, *why);
  }
  return fd;
}

std::optional<std::string> StateDir::read_token() const {
  struct stat st {};
  if (fstatat(fd_, "token", &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) return std::nullopt;
  int fd = open_file("token", O_RDONLY, /*secret=*/true);
  std::string text;
  try {
    text = read_small(fd, path_ + "/token");
  } catch (...) {
    close(fd);
    throw;
  }
  close(fd);
  std::string token = trust::token_from_file_text(text);
  if (auto why = trust::token_refusal(token))
    refuse("token", "holds a token that " + *why + "; fix or remove the file");
  return token;
}

void StateDir::write_token(const std::string& token) const {
  std::string tmp = "token.new." + std::to_string(getpid());
  int fd = openat(fd_, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) refuse(tmp, std::string("cannot be created: ") + std::strerror(errno));
  std::string line = token + "\n";
  bool ok =
      ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && fsync(fd) == 0;
  int saved = errno;
  close(fd);
  if (!ok || renameat(fd_, tmp.c_str(), fd_, "token") != 0) {
    if (ok) saved = errno;
    unlinkat(fd_, tmp.c_str(), 0);
    refuse("token", std::string("cannot be written: ") + std::strerror(saved));
  }
  fsync(fd_);  // the rename itself survives a power loss
}

std::optional<std::string> credential_token() {
  const char* dir = getenv("CREDENTIALS_DIRECTORY");
  if (!dir || !*dir) return std::nullopt;
  std::string path = std::string(dir) + "/token";
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0 && errno == ENOENT) return std::nullopt;
  if (fd < 0) throw std::runtime_error("credential " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    throw std::runtime_error("credential " + path + ": not a regular file");
  }
  std::string text;
  try {
    text = read_small(fd, "credential " + path);
  } catch (...) {
    close(fd);
    throw;
  }
  close(fd);
  return trust::token_from_file_text(text);
}

}  // namespace lifeline::runtime
