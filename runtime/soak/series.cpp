#include "runtime/soak/series.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

namespace lifeline::soak {

Series::Series(std::string dir) : dir_(std::move(dir)) {
  if (dir_.empty()) return;
  std::filesystem::create_directories(dir_);
  csv_ = std::fopen((dir_ + "/soak.csv").c_str(), "w");
  if (csv_)
    std::fputs(
        "t_s,lifecycles,kills,faults,processes,unowned,zombies,fds,rss_kib,sessions,ptys,"
        "connections\n",
        csv_);
}

Series::~Series() {
  if (csv_) std::fclose(csv_);
}

void Series::add(const SeriesRow& r) {
  rows_.push_back(r);
  if (!csv_) return;
  std::fprintf(csv_, "%.1f,%lld,%lld,%lld,%d,%d,%d,%lld,%lld,%lld,%lld,%lld\n", r.t_s,
               static_cast<long long>(r.lifecycles), static_cast<long long>(r.kills),
               static_cast<long long>(r.faults), r.processes, r.unowned, r.zombies,
               static_cast<long long>(r.fds), static_cast<long long>(r.rss_kib),
               static_cast<long long>(r.sessions), static_cast<long long>(r.ptys),
               static_cast<long long>(r.connections));
  std::fflush(csv_);
}

void Series::mark_kill(double t_s, bool graceful) {
  kills_.emplace_back(t_s, graceful);
}
void Series::mark_fault_window(double from_s, double to_s) {
  faults_.emplace_back(from_s, to_s);
}

std::string Series::plot(const std::string& title) const {
  if (dir_.empty() || rows_.empty()) return "";
  constexpr int width = 960, panel = 170, gap = 40, left = 70, right = 20, top = 50;
  struct Panel {
    const char* name;
    const char* colour;
    std::function<double(const SeriesRow&)> value;
  };
  const Panel panels[] = {
      {"processes (the gateway's children; red: unowned or zombie, a leak only past --settle)",
       "#1f77b4", [](const SeriesRow& r) { return static_cast<double>(r.processes); }},
      {"gateway open fds", "#2ca02c",
       [](const SeriesRow& r) { return static_cast<double>(r.fds); }},
      {"gateway RSS (MiB)", "#9467bd",
       [](const SeriesRow& r) { return static_cast<double>(r.rss_kib) / 1024.0; }},
  };
  const int n_panels = 3;
  int height = top + n_panels * (panel + gap) + 30;
  double t_max = std::max(1.0, rows_.back().t_s);
  int plot_w = width - left - right;
  auto x_of = [&](double t) { return left + t / t_max * plot_w; };

  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height
      << "' font-family='sans-serif' font-size='12'>\n"
      << "<rect width='100%' height='100%' fill='white'/>\n"
      << "<text x='" << left << "' y='24' font-size='15'>" << title << "</text>\n"
      << "<text x='" << left
      << "' y='40' fill='#555'>red lines: gateway SIGKILL; orange: "
         "SIGTERM restart; shaded: fault windows</text>\n";
  for (int p = 0; p < n_panels; ++p) {
    int y0 = top + p * (panel + gap) + 10;
    double v_max = 1;
    for (const auto& r : rows_) v_max = std::max(v_max, panels[p].value(r));
    v_max *= 1.1;
    auto y_of = [&](double v) { return y0 + panel - v / v_max * panel; };
    svg << "<text x='" << left << "' y='" << y0 - 4 << "'>" << panels[p].name << "</text>\n";
    for (const auto& [from, to] : faults_)
      svg << "<rect x='" << x_of(from) << "' y='" << y0 << "' width='"
          << std::max(1.0, x_of(to) - x_of(from)) << "' height='" << panel
          << "' fill='#ffdd88' opacity='0.5'/>\n";
    for (const auto& [t, graceful] : kills_)
      svg << "<line x1='" << x_of(t) << "' x2='" << x_of(t) << "' y1='" << y0 << "' y2='"
          << y0 + panel << "' stroke='" << (graceful ? "orange" : "red")
          << "' stroke-width='1'/>\n";
    svg << "<rect x='" << left << "' y='" << y0 << "' width='" << plot_w << "' height='" << panel
        << "' fill='none' stroke='#888'/>\n";
    for (int tick = 0; tick <= 4; ++tick) {
      double v = v_max * tick / 4;
      svg << "<text x='" << left - 6 << "' y='" << y_of(v) + 4 << "' text-anchor='end'>"
          << (v_max < 10 ? std::to_string(v).substr(0, 4) : std::to_string(static_cast<long>(v)))
          << "</text>\n";
    }
    svg << "<polyline fill='none' stroke='" << panels[p].colour << "' stroke-width='1.5' points='";
    for (const auto& r : rows_) svg << x_of(r.t_s) << "," << y_of(panels[p].value(r)) << " ";
    svg << "'/>\n";
    if (p == 0) {
      svg << "<polyline fill='none' stroke='#d62728' stroke-width='1.5' points='";
      for (const auto& r : rows_) svg << x_of(r.t_s) << "," << y_of(r.unowned + r.zombies) << " ";
      svg << "'/>\n";
    }
  }
  int axis_y = top + n_panels * (panel + gap) - gap + 24;
  for (int tick = 0; tick <= 6; ++tick) {
    double t = t_max * tick / 6;
    svg << "<text x='" << x_of(t) << "' y='" << axis_y << "' text-anchor='middle'>"
        << static_cast<long>(t) << " s</text>\n";
  }
  svg << "</svg>\n";
  std::string path = dir_ + "/soak.svg";
  std::ofstream(path) << svg.str();
  return path;
}

}  // namespace lifeline::soak
