#include "sim/minimize.hpp"

namespace lifeline::sim {

RunResult run_once(std::uint64_t seed, const SwarmConfig& config, const std::vector<Step>& steps,
                   WorldOptions options) {
  World world(seed, config, std::move(options));
  return world.run(steps);
}

Json Reproduction::to_json() const {
  Json s = Json::array();
  for (const auto& step : steps) s.push_back(step.to_json());
  return {{"simrun_reproduction", 1},
          {"seed", seed},
          {"invariant", invariant},
          {"config", config.to_json()},
          {"steps", std::move(s)}};
}

std::optional<Reproduction> Reproduction::from_json(const Json& j, std::string* why) {
  if (!j.is_object() || !j.contains("simrun_reproduction")) {
    *why = "not a simrun reproduction file";
    return std::nullopt;
  }
  Reproduction r;
  if (!j.contains("seed") || !j["seed"].is_number_unsigned()) {
    *why = "'seed' must be a non-negative integer";
    return std::nullopt;
  }
  r.seed = j["seed"].get<std::uint64_t>();
  auto config = SwarmConfig::from_json(j.value("config", Json::object()), why);
  if (!config) return std::nullopt;
  r.config = *config;
  r.config.gateway.worker_cmd = "lifeline-slash-worker";
  r.config.gateway.max_message_bytes = 65536;
  if (j.contains("invariant") && j["invariant"].is_string())
    r.invariant = j["invariant"].get<std::string>();
  if (!j.contains("steps") || !j["steps"].is_array()) {
    *why = "'steps' must be an array";
    return std::nullopt;
  }
  if (j["steps"].size() > 100000) {
    *why = "too many steps";
    return std::nullopt;
  }
  for (const auto& s : j["steps"]) {
    auto step = Step::from_json(s);
    if (!step) {
      *why = "a step must be [at_ms, kind, client, a, b]: " + s.dump();
      return std::nullopt;
    }
    r.steps.push_back(*step);
  }
  return r;
}

std::vector<Step> minimize(const Runner& run, std::vector<Step> failing,
                           const std::string& invariant, MinimizeStats* stats,
                           const std::function<void(std::size_t)>& progress) {
  MinimizeStats local;
  MinimizeStats& st = stats ? *stats : local;
  st.from = failing.size();
  auto fails = [&](const std::vector<Step>& candidate) {
    ++st.runs;
    RunResult r = run(candidate);
    return !r.ok && r.invariant == invariant;
  };
  std::size_t n = 2;
  while (failing.size() >= 2) {
    std::size_t chunk = (failing.size() + n - 1) / n;
    bool reduced = false;
    // Try each complement (the schedule without one chunk).
    for (std::size_t start = 0; start < failing.size(); start += chunk) {
      std::vector<Step> complement;
      complement.reserve(failing.size());
      for (std::size_t i = 0; i < failing.size(); ++i)
        if (i < start || i >= start + chunk) complement.push_back(failing[i]);
      if (fails(complement)) {
        failing = std::move(complement);
        n = std::max<std::size_t>(n - 1, 2);
        reduced = true;
        if (progress) progress(failing.size());
        break;
      }
    }
    if (reduced) continue;
    if (n >= failing.size()) break;  // single steps tried: 1-minimal
    n = std::min(n * 2, failing.size());
  }
  if (failing.size() == 1 && fails({})) failing.clear();
  st.to = failing.size();
  return failing;
}

}  // namespace lifeline::sim
