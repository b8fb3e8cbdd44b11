#!/usr/bin/env bash
# docs/DESIGN.md: core/ is C++20 and nlohmann/json only: no Boost, no POSIX or Linux
# headers, no threads, no real clock. sim/ and runtime/ never include each other. The
# compiler enforces the same layering through per-layer include roots (CMakeLists.txt,
# proved by tests/layering); this script also catches what those cannot.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
forbidden='#\s*include\s*[<"](boost/|unistd\.h|sys/|signal\.h|pthread\.h|fcntl\.h|poll\.h|spawn\.h|dirent\.h|sqlite3\.h|fiu|thread>|mutex>|condition_variable>|future>|chrono>|ctime>|time\.h|atomic>|semaphore>|stop_token>|latch>|barrier>)'
if grep -rnE "$forbidden" core/; then
  echo "check-core-purity: core/ includes a forbidden header (above)"; status=1
fi
if grep -rnE 'std::this_thread|std::chrono::(system|steady|high_resolution)_clock|\bsleep\s*\(|usleep|nanosleep|\btime\s*\(\s*(nullptr|NULL|0)\s*\)|getpid|fork\s*\(' core/; then
  echo "check-core-purity: core/ uses real time, threads or processes (above)"; status=1
fi
if grep -rnE '#\s*include\s*"(sim|runtime|fuzz|tests)/' core/; then
  echo "check-core-purity: core/ includes another layer (docs/DESIGN.md: core depends on nothing of ours)"; status=1
fi
# An include root stops "sim/x.hpp" from core/; it cannot stop "../sim/x.hpp", so no file
# of ours may climb out of its folder.
if grep -rnE '#\s*include\s*"[^"]*\.\./' core/ sim/ runtime/ fuzz/ tests/ --include='*.cpp' --include='*.hpp'; then
  echo "check-core-purity: a relative include climbs out of its layer (above)"; status=1
fi
if [ -d runtime ] && grep -rnE '#\s*include\s*"sim/' runtime/; then
  echo "check-core-purity: runtime/ includes sim/"; status=1
fi
if grep -rnE '#\s*include\s*<boost/' sim/ fuzz/ 2>/dev/null; then
  echo "check-core-purity: Boost appears outside runtime/"; status=1
fi
if [ -d sim ] && grep -rnE '#\s*include\s*"runtime/' sim/; then
  echo "check-core-purity: sim/ includes runtime/"; status=1
fi
[ $status -eq 0 ] && echo "check-core-purity: core/ is pure; sim/ and runtime/ keep apart"
exit $status
