#include "runtime/common/proc_info.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>

namespace lifeline::runtime {

std::optional<ProcStat> read_proc_stat(int pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  auto st = parse_proc_stat(line);
  if (!st || st->pid != pid) return std::nullopt;
  return st;
}

std::vector<int> list_fds() {
  std::vector<int> fds;
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return fds;
  int self = dirfd(dir);
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    int fd = std::atoi(e->d_name);
    if (fd != self) fds.push_back(fd);
  }
  closedir(dir);
  std::sort(fds.begin(), fds.end());
  return fds;
}

std::int64_t count_fds() {
  return static_cast<std::int64_t>(list_fds().size());
}

std::vector<int> pids_in_group(int pgid) {
  std::vector<int> out;
  for (const auto& st : process_table())
    if (st.pgid == pgid && st.state != ProcState::zombie) out.push_back(st.pid);
  return out;
}

std::vector<ProcStat> process_table() {
  std::vector<ProcStat> out;
  DIR* dir = opendir("/proc");
  if (!dir) return out;
  while (dirent* e = readdir(dir)) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    if (auto st = read_proc_stat(pid)) out.push_back(*st);  // gone meanwhile: skipped
  }
  closedir(dir);
  return out;
}

std::vector<int> cgroup_members(const std::string& dir) {
  std::vector<int> out;
  std::ifstream in(dir + "/cgroup.procs");
  int pid = 0;
  while (in >> pid) out.push_back(pid);
  return out;
}

std::vector<int> children_of(int pid) {
  std::vector<int> out;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/task", pid);
  DIR* dir = opendir(path);
  if (!dir) return out;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(std::string(path) + "/" + e->d_name + "/children");
    int child = 0;
    while (in >> child) out.push_back(child);
  }
  closedir(dir);
  return out;
}

}  // namespace lifeline::runtime

namespace lifeline::runtime {

std::string cgroup2_mount_point() {
  std::string mount;
  std::ifstream mi("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mi, line)) {
    // ... mount-point ... - fstype source options
    auto dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream f(line.substr(0, dash));
    std::string id, parent, devno, root, point;
    f >> id >> parent >> devno >> root >> point;
    mount = point;
    break;
  }
  return mount;
}

std::string own_cgroup2_dir() {
  std::string mount = cgroup2_mount_point();
  if (mount.empty()) return "";
  std::string line;
  std::ifstream cg("/proc/self/cgroup");
  while (std::getline(cg, line))
    if (line.rfind("0::", 0) == 0)
      return mount + (line.size() > 3 && line != "0::/" ? line.substr(3) : "");
  return "";
}

std::string gateway_cgroup_name(const std::string& state_dir) {
  char tag[17];
  std::snprintf(tag, sizeof tag, "%016zx", std::hash<std::string>{}(state_dir));
  return std::string("lifeline-") + tag;
}

}  // namespace lifeline::runtime
