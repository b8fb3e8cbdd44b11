// The core's Transport over every live connection, WebSocket or stdio alike.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/ports.hpp"

namespace lifeline::runtime {

// Replies waiting for one client, at most: a slower reader is disconnected.
constexpr std::size_t max_queued_frames = 4096;

class ConnectionSink {
 public:
  virtual ~ConnectionSink() = default;
  virtual void send(std::string text) = 0;
  virtual void close() = 0;
  virtual void abort() {}  // drop at once, at process exit, so pending handlers finish
};

class Hub final : public Transport {
 public:
  ConnId add(std::weak_ptr<ConnectionSink> sink) {
    ConnId id = next_++;
    sinks_[id] = std::move(sink);
    return id;
  }
  void remove(ConnId id) { sinks_.erase(id); }
  std::size_t size() const { return sinks_.size(); }

  void send(ConnId conn, std::string text) override {
    if (auto s = lookup(conn)) s->send(std::move(text));
  }
  void close(ConnId conn) override {
    if (auto s = lookup(conn)) s->close();
  }
  void abort_all() {
    for (auto& [id, weak] : sinks_)
      if (auto s = weak.lock()) s->abort();
  }

 private:
  std::shared_ptr<ConnectionSink> lookup(ConnId conn) {
    auto it = sinks_.find(conn);
    return it == sinks_.end() ? nullptr : it->second.lock();
  }
  std::map<ConnId, std::weak_ptr<ConnectionSink>> sinks_;
  ConnId next_ = 1;
};

}  // namespace lifeline::runtime
