#include "core/terminal_replay.hpp"

#include <algorithm>
#include <array>

#include "core/assert.hpp"

namespace lifeline {

namespace {
constexpr char esc = '\x1b';
// The modes a full-screen program or a modern shell switches: application cursor keys,
// the alternate screen (three spellings), mouse reporting and its encodings, bracketed
// paste. Mode 25 (the cursor shown) is on by default and tracked apart.
constexpr std::array<int, 11> tracked = {1,    47,   1047, 1049, 1000, 1002,
                                         1003, 1005, 1006, 1015, 2004};
constexpr std::size_t max_params = 32;
bool is_final(char c) {
  return c >= '@' && c <= '~';
}
}  // namespace

void TerminalModes::apply(bool set) {
  std::size_t at = 0;
  while (at <= params_.size()) {
    std::size_t semi = params_.find(';', at);
    if (semi == std::string::npos) semi = params_.size();
    int mode = 0;
    bool number = semi > at && semi - at <= 5;
    for (std::size_t i = at; number && i < semi; ++i) mode = mode * 10 + (params_[i] - '0');
    if (number && mode == 25) {
      cursor_hidden_ = !set;
    } else if (number && std::find(tracked.begin(), tracked.end(), mode) != tracked.end()) {
      if (set)
        on_.insert(mode);
      else
        on_.erase(mode);
    }
    at = semi + 1;
  }
}

void TerminalModes::feed(std::string_view bytes) {
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (state_ == State::ground) {
      // Outside a sequence only ESC matters (CAN and SUB leave the ground as it is):
      // skip to it, since most of a terminal's output is text.
      std::size_t next = bytes.find(esc, i);
      if (next == std::string_view::npos) return;
      i = next;
    }
    char c = bytes[i];
    if (c == '\x18' || c == '\x1a') {  // CAN, SUB: any sequence is abandoned
      state_ = State::ground;
      continue;
    }
    if (c == esc) {
      state_ = State::escape;
      continue;
    }
    switch (state_) {
      case State::ground:
        break;
      case State::escape:
        state_ = State::ground;
        if (c == '[') {
          state_ = State::csi_start;
          params_.clear();
        } else if (c == '=') {
          keypad_application_ = true;
        } else if (c == '>') {
          keypad_application_ = false;
        } else if (c == 'c') {  // RIS: the terminal's power-on state
          on_.clear();
          cursor_hidden_ = keypad_application_ = false;
        }
        break;
      case State::csi_start:
        if (c == '?') {
          state_ = State::csi_private;
          break;
        }
        state_ = is_final(c) ? State::ground : State::csi_other;
        break;
      case State::csi_private:
        if ((c >= '0' && c <= '9') || c == ';') {
          if (params_.size() < max_params)
            params_ += c;
          else
            state_ = State::csi_other;  // no mode change is this long
        } else if (c == 'h' || c == 'l') {
          apply(c == 'h');
          state_ = State::ground;
        } else {
          state_ = is_final(c) ? State::ground : State::csi_other;
        }
        break;
      case State::csi_other:
        if (is_final(c)) state_ = State::ground;
        break;
    }
  }
}

std::string TerminalModes::restore() const {
  std::string out;
  for (int mode : on_) out += std::string("\x1b[?") + std::to_string(mode) + "h";
  if (cursor_hidden_) out += "\x1b[?25l";
  if (keypad_application_) out += "\x1b=";
  return out;
}

void ReplayRing::append(std::string_view bytes) {
  end_ += bytes.size();
  if (capacity_ == 0) return;
  if (bytes.size() > capacity_) {
    // Only the newest capacity bytes can stay: the rest go straight to the tracker, and
    // the kept part starts at a safe place too.
    std::size_t skip = bytes.size() - capacity_;
    at_begin_.feed(std::string(kept_.begin(), kept_.end()));
    at_begin_.feed(bytes.substr(0, skip));
    bool aligned = bytes[skip - 1] == '\n';
    bytes.remove_prefix(skip);
    kept_.assign(bytes.begin(), bytes.end());
    if (!aligned) drop_front(0);
    return;
  }
  kept_.insert(kept_.end(), bytes.begin(), bytes.end());
  if (kept_.size() > capacity_) drop_front(kept_.size() - capacity_);
  LIFELINE_ASSERT(kept_.size() <= capacity_);
}

void ReplayRing::drop_front(std::size_t n) {
  LIFELINE_ASSERT(n <= kept_.size());
  // A safe place to start drawing: after the next line feed within reach, else after a
  // byte that does not continue a UTF-8 character.
  std::size_t limit = std::min(kept_.size(), n + max_cut_search);
  std::size_t cut = n;
  auto from = kept_.begin() + static_cast<std::ptrdiff_t>(n);
  auto lf = std::find(from, kept_.begin() + static_cast<std::ptrdiff_t>(limit), '\n');
  if (lf != kept_.begin() + static_cast<std::ptrdiff_t>(limit)) {
    cut = static_cast<std::size_t>(lf - kept_.begin()) + 1;
  } else {
    while (cut < kept_.size() && (static_cast<unsigned char>(kept_[cut]) & 0xC0) == 0x80) ++cut;
  }
  at_begin_.feed(std::string(kept_.begin(), kept_.begin() + static_cast<std::ptrdiff_t>(cut)));
  kept_.erase(kept_.begin(), kept_.begin() + static_cast<std::ptrdiff_t>(cut));
}

}  // namespace lifeline
