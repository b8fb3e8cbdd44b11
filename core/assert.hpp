// Assertions of invariants that stay on in production builds (TigerBeetle's rule: a
// broken invariant is a bug to stop at, not a state to limp on in). `assert` is compiled
// out under NDEBUG, which every optimized build defines; LIFELINE_ASSERT is not. Use it
// for facts the code relies on (registry/connection consistency, counters that must not
// go negative), never for input checking: bad input gets an error, not an abort.
#pragma once

namespace lifeline {
[[noreturn]] void assertion_failed(const char* condition, const char* file, int line);
}  // namespace lifeline

#define LIFELINE_ASSERT(condition)    \
  ((condition) ? static_cast<void>(0) \
               : ::lifeline::assertion_failed(#condition, __FILE__, __LINE__))
