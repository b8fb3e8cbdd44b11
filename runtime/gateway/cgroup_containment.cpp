#include "runtime/gateway/cgroup_containment.hpp"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <functional>

#include "runtime/common/proc_info.hpp"

namespace lifeline::runtime {

namespace {

bool write_file(const std::string& path, const char* text) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text, std::strlen(text)) == static_cast<ssize_t>(std::strlen(text));
  close(fd);
  return ok;
}

bool populated(const std::string& dir) {
  std::ifstream events(dir + "/cgroup.events");
  std::string key, value;
  while (events >> key >> value)
    if (key == "populated") return value != "0";
  return false;
}

// Kills everything in dir (descendant cgroups included) and removes it, waiting a
// bounded time for the kernel to empty it.
bool kill_and_remove(const std::string& dir) {
  write_file(dir + "/cgroup.kill", "1");
  for (int i = 0; i < 200 && populated(dir); ++i) usleep(5000);
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_type == DT_DIR && e->d_name[0] != '.') kill_and_remove(dir + "/" + e->d_name);
    closedir(d);
  }
  return rmdir(dir.c_str()) == 0 || errno == ENOENT;
}

}  // namespace

CgroupContainment::CgroupContainment(Log& log, const std::string& state_dir, bool enable)
    : log_(log) {
  if (!enable) {
    description_ = "process-group (cgroups switched off by LIFELINE_CGROUPS=off)";
    return;
  }
  std::string own = own_cgroup2_dir();
  if (own.empty()) {
    description_ = "process-group (no cgroup v2 mounted)";
    return;
  }
  base_ = own + "/" + gateway_cgroup_name(state_dir);
  // A cgroup that holds processes cannot pass controllers down (cgroup v2's "no internal
  // processes" rule), and under systemd with Delegate=yes the service's cgroup holds us.
  // So, below the root cgroup (which is exempt), we first move into a leaf of our own.
  if (own != cgroup2_mount_point()) {
    std::string leaf = base_ + "-self";
    if ((mkdir(leaf.c_str(), 0755) == 0 || errno == EEXIST) &&
        write_file(leaf + "/cgroup.procs", "0")) {
      relocated_to_ = leaf;
      log_.write(LogLevel::info, "moved into the leaf cgroup " + leaf +
                                     ", so that controllers can be enabled in " + own);
    }
  }
  if (mkdir(base_.c_str(), 0755) != 0 && errno != EEXIST) {
    description_ =
        "process-group (cgroup v2 at " + own + " is not writable: " + std::strerror(errno) + ")";
    return;
  }
  // Probe: can a process actually be moved into a cgroup of ours?
  std::string probe = base_ + "/probe";
  mkdir(probe.c_str(), 0755);
  pid_t pid = fork();
  if (pid == 0) _exit(write_file(probe + "/cgroup.procs", "0") ? 0 : 1);
  int status = 0;
  bool moved =
      pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  bool killable = access((probe + "/cgroup.kill").c_str(), W_OK) == 0;
  rmdir(probe.c_str());
  if (!moved || !killable) {
    description_ = std::string("process-group (cgroup v2 at ") + own +
                   (moved ? " has no cgroup.kill)" : " refuses to take processes)");
    return;
  }
  enabled_ = true;
  description_ = "cgroup v2 (" + base_ + ")";
}

CgroupContainment::~CgroupContainment() {
  if (!enabled_) return;
  retry_removals();
  if (pending_removal_.empty()) rmdir(base_.c_str());  // fails, harmlessly, if still in use
  // Our leaf is removed once we have left it: by moving back up (the exit would leave it
  // populated until the process is gone).
  if (!relocated_to_.empty()) {
    std::string own = relocated_to_.substr(0, relocated_to_.rfind('/'));
    if (write_file(own + "/cgroup.procs", "0")) rmdir(relocated_to_.c_str());
  }
}

int CgroupContainment::sweep_predecessor() {
  if (!enabled_) return 0;
  int swept = 0;
  if (DIR* d = opendir(base_.c_str())) {
    std::vector<std::string> dirs;
    while (dirent* e = readdir(d))
      if (e->d_type == DT_DIR && e->d_name[0] == 'c') dirs.push_back(base_ + "/" + e->d_name);
    closedir(d);
    for (const auto& dir : dirs) {
      if (populated(dir)) {
        ++swept;
        log_.write(LogLevel::warn, "killing what a previous gateway left in " + dir);
      }
      kill_and_remove(dir);
    }
  }
  return swept;
}

namespace {
bool has_word(const std::string& path, const std::string& word) {
  std::ifstream in(path);
  std::string w;
  while (in >> w)
    if (w == word) return true;
  return false;
}
}  // namespace

void CgroupContainment::apply_limits(std::int64_t pids_max, std::int64_t memory_max) {
  limits_ = {};
  if (!enabled_) {
    limits_.note = "no cgroups: no per-child limits";
    return;
  }
  std::string own = base_.substr(0, base_.rfind('/'));
  std::vector<std::string> missing;
  auto enable = [&](const std::string& controller) {
    // Our cgroup must offer it and pass it down to ours (the root cgroup may always; an
    // inner one only when it holds no processes itself - the kernel says which).
    if (!has_word(own + "/cgroup.controllers", controller)) {
      missing.push_back(controller + " (the kernel does not offer this controller to " + own + ")");
      return false;
    }
    if (!has_word(own + "/cgroup.subtree_control", controller))
      write_file(own + "/cgroup.subtree_control", ("+" + controller).c_str());
    write_file(base_ + "/cgroup.subtree_control", ("+" + controller).c_str());
    if (!has_word(base_ + "/cgroup.subtree_control", controller)) {
      missing.push_back(controller + " (cannot be enabled under " + own + ")");
      return false;
    }
    return true;
  };
  if (enable("pids")) limits_.pids_max = pids_max;
  if (memory_max > 0 && enable("memory")) limits_.memory_max = memory_max;
  for (const auto& m : missing) limits_.note += (limits_.note.empty() ? "" : "; ") + m;
  // Said in words, once: containment itself is unaffected, only the per-child caps.
  if (!missing.empty())
    log_.write(LogLevel::info,
               "per-child limits (--session-pids-max, --session-memory-max) do not apply here: " +
                   limits_.note + "; children are still contained by their own cgroup and " +
                   "process group");
}

std::string CgroupContainment::create(ChildId child) {
  if (!enabled_) return "";
  std::string d = dir(child);
  if (mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) {
    log_.write(LogLevel::warn, "mkdir " + d + ": " + std::strerror(errno));
    return "";
  }
  if (limits_.pids_max > 0) write_file(d + "/pids.max", std::to_string(limits_.pids_max).c_str());
  if (limits_.memory_max > 0)
    write_file(d + "/memory.max", std::to_string(limits_.memory_max).c_str());
  return d + "/cgroup.procs";
}

void CgroupContainment::kill(ChildId child) {
  if (enabled_) write_file(dir(child) + "/cgroup.kill", "1");
}

void CgroupContainment::remove(ChildId child) {
  if (!enabled_) return;
  std::string d = dir(child);
  if (rmdir(d.c_str()) != 0 && errno != ENOENT) pending_removal_.insert(d);
}

void CgroupContainment::retry_removals() {
  for (auto it = pending_removal_.begin(); it != pending_removal_.end();) {
    if (rmdir(it->c_str()) == 0 || errno == ENOENT)
      it = pending_removal_.erase(it);
    else
      ++it;
  }
}

}  // namespace lifeline::runtime
