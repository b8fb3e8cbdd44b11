#include "sim/manual_world.hpp"

#include <algorithm>
#include <cstdio>

#include "core/history_page.hpp"
#include "core/worker_protocol.hpp"

namespace lifeline::sim {

std::size_t TaskQueue::run_all(std::size_t limit) {
  std::size_t ran = 0;
  while (!tasks_.empty() && ran < limit) {
    auto fn = std::move(tasks_.front());
    tasks_.pop_front();
    fn();
    ++ran;
  }
  return ran;
}

TimerId ManualClock::after(Millis delay, std::function<void()> fn) {
  TimerId id = next_id_++;
  timers_.emplace(id, Timer{now_ + std::max<Millis>(0, delay), std::move(fn)});
  return id;
}

std::optional<Millis> ManualClock::next_deadline() const {
  std::optional<Millis> best;
  for (const auto& [id, t] : timers_)
    if (!best || t.deadline < *best) best = t.deadline;
  return best;
}

void ManualClock::advance(Millis by, const std::function<void()>& between) {
  Millis target = now_ + by;
  for (;;) {
    auto deadline = next_deadline();
    if (!deadline || *deadline > target) break;
    now_ = std::max(now_, *deadline);
    // Everything expiring now is queued at once (std::map keeps creation order).
    std::vector<std::function<void()>> batch;
    for (auto it = timers_.begin(); it != timers_.end();) {
      if (it->second.deadline == *deadline) {
        batch.push_back(std::move(it->second.fn));
        it = timers_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& fn : batch) {
      fn();
      if (between) between();
    }
  }
  now_ = target;
}

std::uint64_t CountingRandom::next() {
  if (!forced.empty()) {
    std::uint64_t v = forced.front();
    forced.pop_front();
    return v;
  }
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void CaptureLog::write(LogLevel level, std::string_view message) {
  static const char* names[] = {"debug", "info", "warn", "error"};
  std::string line = std::string(names[static_cast<int>(level)]) + ": " + std::string(message);
  if (echo) std::fprintf(stderr, "%s\n", line.c_str());
  if (lines.size() < 10000) lines.push_back(std::move(line));
}

// ---------------------------------------------------------------- processes

void FakeProcesses::spawn(const SpawnSpec& spec, std::function<void(SpawnResult)> done) {
  pending_.push_back(PendingSpawn{spec, std::move(done)});
}

ChildId FakeProcesses::complete_spawn(bool ok, std::string error) {
  return complete_spawn_at(0, ok, std::move(error));
}

ChildId FakeProcesses::complete_spawn_at(std::size_t index, bool ok, std::string error) {
  if (index >= pending_.size()) return 0;
  PendingSpawn p = std::move(pending_[index]);
  pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(index));
  SpawnResult r;
  if (ok) {
    Child c;
    c.id = next_child_++;
    c.spec = p.spec;
    c.pid = next_pid_++;
    c.pgid = next_pgid.value_or(c.pid);  // normally a new group, led by the child
    c.behaviour = next_behaviour;
    children_.emplace(c.id, c);
    r = SpawnResult{true, c.id, c.pid, c.pgid, ""};
  } else {
    r = SpawnResult{false, 0, 0, 0, std::move(error)};
  }
  tasks_.post([done = std::move(p.done), r] { done(r); });
  return r.child;
}

FakeProcesses::Child* FakeProcesses::find(ChildId child) {
  auto it = children_.find(child);
  return it == children_.end() ? nullptr : &it->second;
}

void FakeProcesses::schedule_exit(Child& c, int status) {
  if (c.dying || c.exited) return;
  c.dying = true;
  tasks_.post([this, id = c.id, status] {
    Child* exiting = find(id);
    if (!exiting || exiting->exited) return;
    exiting->exited = true;
    exiting->status = status;
    if (events_) events_->on_child_exit(id, status);
  });
}

void FakeProcesses::signal(ChildId child, Signal sig, Scope scope) {
  Child* c = find(child);
  if (!c) {
    violations.push_back("signal to a child that never existed: " + std::to_string(child));
    return;
  }
  if (c->reaped) {
    violations.push_back("signal to reaped child pid " + std::to_string(c->pid) +
                         " (its pid may belong to someone else now)");
    return;
  }
  if (scope == Scope::containment && sig != Signal::kill)
    violations.push_back("a containment-wide signal other than KILL");
  if (scope != Scope::process && c->pgid == gateway_pgid_)
    violations.push_back("signal to the gateway's own process group");
  c->signals.emplace_back(sig, scope);
  if (c->exited || c->dying) return;
  bool dies = (sig == Signal::hup && c->behaviour.dies_on_hup) ||
              (sig == Signal::term && c->behaviour.dies_on_term) ||
              (sig == Signal::kill && c->behaviour.dies_on_kill);
  int signo = sig == Signal::hup ? 1 : sig == Signal::term ? 15 : 9;
  if (dies) schedule_exit(*c, 128 + signo);
}

void FakeProcesses::reap(ChildId child) {
  Child* c = find(child);
  if (!c) return violations.push_back("reap of unknown child");
  if (!c->exited)
    return violations.push_back("reap before exit observed: pid " + std::to_string(c->pid));
  if (c->reaped) return violations.push_back("double reap: pid " + std::to_string(c->pid));
  c->reaped = true;
}

void FakeProcesses::release(ChildId child) {
  Child* c = find(child);
  if (!c) return violations.push_back("release of unknown child");
  if (!c->reaped)
    return violations.push_back("fds closed before reap: pid " + std::to_string(c->pid));
  if (c->released) return violations.push_back("fds closed twice: pid " + std::to_string(c->pid));
  c->released = true;
}

bool FakeProcesses::write(ChildId child, std::string_view bytes) {
  Child* c = find(child);
  if (!c || c->released) {
    violations.push_back("write to a released or unknown child");
    return false;
  }
  if (fail_writes || c->exited || c->dying) return false;
  c->writes.emplace_back(bytes);
  if (auto_answer && c->behaviour.answers_commands && c->spec.kind == ChildKind::slash) {
    if (auto req = worker_protocol::decode_request(
            std::string_view(bytes).substr(0, bytes.size() - (bytes.ends_with('\n') ? 1 : 0)))) {
      tasks_.post([this, child,
                   line = worker_protocol::encode_reply({req->id, true, "ok " + req->command})] {
        Child* target = find(child);
        if (target && !target->exited && !target->dying && events_)
          events_->on_child_output(child, line);
      });
    }
  }
  return true;
}

void FakeProcesses::resize(ChildId child, int, int) {
  Child* c = find(child);
  if (!c || c->released) violations.push_back("resize of a released or unknown child");
}

std::int64_t FakeProcesses::open_fds() const {
  std::int64_t n = 3;
  for (const auto& [id, c] : children_)
    n += c.released ? 0 : (c.spec.kind == ChildKind::pty ? 1 : 3);
  return n;
}

void FakeProcesses::exit_child(ChildId child, int status) {
  Child* c = find(child);
  if (c) schedule_exit(*c, status);
}

void FakeProcesses::child_output(ChildId child, std::string bytes) {
  tasks_.post([this, child, bytes = std::move(bytes)] {
    Child* c = find(child);
    if (c && !c->exited && events_) events_->on_child_output(child, bytes);
  });
}

void FakeProcesses::answer(ChildId child, bool ok, std::string text) {
  Child* c = find(child);
  if (!c || c->writes.empty()) return;
  std::string last = c->writes.back();
  if (!last.empty() && last.back() == '\n') last.pop_back();
  auto req = worker_protocol::decode_request(last);
  if (!req) return;
  child_output(child, worker_protocol::encode_reply({req->id, ok, std::move(text)}));
}

std::vector<ChildId> FakeProcesses::alive() const {
  std::vector<ChildId> out;
  for (const auto& [id, c] : children_)
    if (!c.reaped) out.push_back(id);
  return out;
}

std::vector<ChildId> FakeProcesses::unreleased() const {
  std::vector<ChildId> out;
  for (const auto& [id, c] : children_)
    if (!c.released) out.push_back(id);
  return out;
}

// ---------------------------------------------------------------- transport

void FakeTransport::send(ConnId conn, std::string text) {
  if (closed.count(conn)) return;
  Json j = Json::parse(text, nullptr, false);
  outbox[conn].push_back(std::move(j));
}

// ---------------------------------------------------------------- store

void FakeStore::record_start(const SessionRecord& rec, std::function<void(bool)> done) {
  tasks_.post([this, rec, done = std::move(done)] {
    if (fail_writes) return done(false);
    sessions[rec.session_id] = rec;
    done(true);
  });
}

void FakeStore::record_end(const std::string& session_id, const std::string& reason, WallMs,
                           std::function<void(bool)> done) {
  tasks_.post([this, session_id, reason, done = std::move(done)] {
    ++end_records[session_id];  // counted even when the write fails: it was attempted
    if (fail_writes) return done(false);
    auto it = sessions.find(session_id);
    // The first end stands, as in every real store.
    if (it != sessions.end() && !it->second.end_reason) it->second.end_reason = reason;
    done(true);
  });
}

void FakeStore::append(const std::string& session_key, HistoryEntry entry,
                       std::function<void(StoreReply<std::int64_t>)> done) {
  tasks_.post([this, session_key, entry, done = std::move(done)]() mutable {
    if (fail_writes) return done({false, 0});
    auto& list = entries[session_key];
    entry.seq = static_cast<std::int64_t>(list.size()) + 1;
    list.push_back(entry);
    acknowledged_seqs.insert({session_key, entry.seq});
    done({true, entry.seq});
  });
}

void FakeStore::find_session(const std::string& session_id,
                             std::function<void(StoreReply<std::optional<SessionRecord>>)> done) {
  tasks_.post([this, session_id, done = std::move(done)] {
    if (fail_reads) return done({false, std::nullopt});
    auto it = sessions.find(session_id);
    if (it == sessions.end()) return done({true, std::nullopt});
    SessionRecord rec = it->second;
    if (auto h = holders.find(rec.session_key); shared_mode && h != holders.end())
      rec.holder = h->second;
    done({true, rec});
  });
}

void FakeStore::renew_lease(const std::string&, Millis,
                            std::function<void(StoreReply<LeaseRenewal>)> done) {
  ++renewals;
  auto answer = [this, done = std::move(done)] { done(renewal); };
  if (hold_renewals)
    held_renewals.push_back(std::move(answer));
  else
    tasks_.post(std::move(answer));
}

void FakeStore::claim(const SessionRecord& rec, const std::optional<std::string>& lost_owner,
                      WallMs, std::function<void(StoreReply<Claim>)> done) {
  claims.push_back({rec, lost_owner});
  tasks_.post([this, rec, done = std::move(done)] {
    if (fail_writes) return done({false, {}});
    if (claim_answer) return done({true, *claim_answer});
    sessions[rec.session_id] = rec;
    done({true, Claim{true, std::nullopt}});
  });
}

void FakeStore::history(const std::string& session_key, const HistoryQuery& query,
                        std::function<void(StoreReply<HistoryPage>)> done) {
  tasks_.post([this, session_key, query, done = std::move(done)] {
    if (fail_reads) return done({false, {}});
    HistoryPager pager(query);
    if (auto it = entries.find(session_key); it != entries.end())
      for (auto e = it->second.rbegin(); e != it->second.rend() && pager.offer(*e); ++e) {
      }
    done({true, std::move(pager).finish()});
  });
}

}  // namespace lifeline::sim
