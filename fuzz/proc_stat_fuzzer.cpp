// Fuzzes the pure /proc/<pid>/stat parser: any bytes give a parse or nullopt, never a
// crash, and a parse is self-consistent (a positive pid, fields the kernel could write).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/proc_stat.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto st = lifeline::parse_proc_stat(line);
  if (st && (st->pid <= 0 || st->ppid < 0 || st->pgid < 0 || st->sid < 0)) std::abort();
  return 0;
}
