// A terminal's recent output, kept so that a client attaching later (pty.attach, a page
// reload) sees the screen it left (docs/DESIGN.md rule 16, docs/PROTOCOL.md pty.attach).
//
// The ring holds at most its capacity in bytes (rule 12: every buffer has a bound). When
// it must drop old bytes it cuts at a place that is safe to draw from: just after a line
// feed when there is one near, so that no escape sequence or UTF-8 character is cut in
// half. What the dropped bytes had switched on (the alternate screen, a hidden cursor,
// bracketed paste, application keys, mouse reporting) is not lost with them: a tracker
// reads every dropped byte, and modes() gives the sequences that put a fresh terminal in
// the same modes before the kept bytes are drawn. What is not restored: colours and
// scroll regions set before the cut, and screen cells drawn only before it; a
// full-screen program redraws them on the resize that follows an attach.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <string_view>

namespace lifeline {

// Follows the DEC private modes and keypad mode a byte stream sets, across chunk
// boundaries. Bounded: a sequence's parameters longer than a few dozen bytes are not a
// mode change and are skipped.
class TerminalModes {
 public:
  void feed(std::string_view bytes);
  // Escape sequences that take a terminal in its power-on state to these modes.
  std::string restore() const;

 private:
  enum class State { ground, escape, csi_start, csi_private, csi_other };
  void apply(bool set);
  State state_ = State::ground;
  std::string params_;
  std::set<int> on_;                 // tracked modes that are set (reset where default is on)
  bool cursor_hidden_ = false;       // mode 25 is on by default: tracked as its reset
  bool keypad_application_ = false;  // ESC = / ESC >
};

class ReplayRing {
 public:
  explicit ReplayRing(std::size_t capacity) : capacity_(capacity) {}

  void append(std::string_view bytes);

  std::size_t capacity() const { return capacity_; }
  std::size_t size() const { return kept_.size(); }
  // Offsets in the terminal's whole output: the oldest kept byte, and one past the newest.
  std::uint64_t begin() const { return end_ - kept_.size(); }
  std::uint64_t end() const { return end_; }
  std::string kept() const { return std::string(kept_.begin(), kept_.end()); }
  // The modes in force where the kept bytes begin.
  std::string modes() const { return at_begin_.restore(); }

  // How far past the forced cut a drop may go looking for a line feed.
  static constexpr std::size_t max_cut_search = 4096;

 private:
  void drop_front(std::size_t n);

  std::size_t capacity_;
  std::deque<char> kept_;
  std::uint64_t end_ = 0;
  TerminalModes at_begin_;
};

}  // namespace lifeline
