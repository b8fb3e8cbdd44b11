// One owner per live session, fleet-wide (docs/DESIGN.md rule 15). With a shared store
// each gateway holds a lease under its --instance name, renewed every third of
// --lease-ttl. It serves sessions only while the lease is current *by its own clock*:
// a renewal counts from the moment it was sent, and the gateway stops a fifth of the
// lease early, so it has stopped before the store (whose clock judges expiry, and which
// stamps a renewal after it was sent) could let another gateway claim its histories.
// A session of another instance is resumed here only through a claim: one store
// transaction that, when that instance's lease has expired, ends all of its open
// sessions (`instance_lost`) and marks its lease lost, then records the new session as
// the one open session of its key - or returns who holds the key instead.
#include "core/gateway.hpp"

namespace lifeline {

bool Gateway::lease_current() const {
  return !store_.shared() || clock_.now() < lease_until_;
}

void Gateway::renew_lease() {
  lease_timer_ = 0;
  if (shutting_down_) return;
  lease_timer_ =
      clock_.after(std::max<Millis>(config_.lease_ttl / 3, 1), [this] { renew_lease(); });
  if (renewing_) return;  // the last one is still out: its answer decides
  renewing_ = true;
  Millis sent = clock_.now();
  store_.renew_lease(config_.instance, config_.lease_ttl,
                     [this, sent](StoreReply<LeaseRenewal> r) { on_lease_renewed(sent, r); });
}

void Gateway::on_lease_renewed(Millis sent, const StoreReply<LeaseRenewal>& r) {
  renewing_ = false;
  if (shutting_down_) return;
  if (!r.ok) {
    log_.write(LogLevel::warn,
               "store: could not renew the lease of instance " + config_.instance + "; retrying");
    return;  // the fence timer, armed by the last renewal, ends the sessions in time
  }
  if (!r.value.renewed) {
    log_.write(LogLevel::error, "store: another gateway holds the lease of instance " +
                                    config_.instance + "; serving no sessions until it lapses");
    return fence("another gateway holds instance " + config_.instance + "'s lease");
  }
  // Sessions that lived through a claim of this instance's are someone else's now.
  if (r.value.was_lost)
    fence("instance " + config_.instance + "'s lease was marked lost while away");
  // mutant: the-lease-is-counted-from-its-answer-not-from-its-request
  Millis until = sent + config_.lease_ttl - config_.lease_ttl / 5;
  if (until <= lease_until_) return;
  bool was_current = clock_.now() < lease_until_;
  lease_until_ = until;
  if (!was_current)
    log_.write(LogLevel::info, "store: lease of instance " + config_.instance + " held (" +
                                   std::to_string(config_.lease_ttl) + " ms, renewed every " +
                                   std::to_string(config_.lease_ttl / 3) + " ms)");
  if (fence_timer_) clock_.cancel(fence_timer_);
  fence_timer_ = clock_.after(lease_until_ - clock_.now(), [this] {
    fence_timer_ = 0;
    // Re-validated: a renewal may have landed as this fired.
    if (clock_.now() >= lease_until_)
      fence("the lease of instance " + config_.instance + " lapsed");
  });
}

void Gateway::fence(const std::string& why) {
  lease_until_ = std::min(lease_until_, clock_.now());
  auto live = sessions();
  if (!live.empty())
    log_.write(LogLevel::error, why + ": ending its " + std::to_string(live.size()) +
                                    " sessions, whose histories another gateway may now claim");
  // mutant: a-gateway-that-lost-its-lease-keeps-serving
  for (const auto& s : live) teardown(s, EndReason::lease_lost);
}

void Gateway::refuse_elsewhere(const ReplyTo& to, const SessionHolder& holder) {
  reply_error(to, rpc::session_elsewhere,
              "session live on instance " + holder.instance + ": resume it there",
              {{"instance", holder.instance}, {"session_id", holder.session_id}});
}

void Gateway::resume_shared(const ReplyTo& to, const SessionRecord& rec) {
  if (!lease_current())
    return reply_error(
        to, rpc::store_unavailable,
        "store unavailable: this gateway's lease on the shared store is not current");
  std::optional<std::string> lost_owner;
  if (rec.holder && rec.holder->instance != config_.instance) {
    if (rec.holder->lease_current) return refuse_elsewhere(to, *rec.holder);
    lost_owner = rec.holder->instance;
  }
  // Two resumes of one history here at once: the first claims, the second retries.
  if (claiming_.count(rec.session_key))
    return reply_error(to, rpc::session_elsewhere, "session being resumed here: try again",
                       {{"instance", config_.instance}, {"session_id", rec.session_id}});
  auto& conn = connections_[to.conn];
  if (static_cast<std::int64_t>(conn.sessions.size()) >= config_.max_sessions_per_connection)
    return reply_error(to, rpc::limit_reached, "limit reached: sessions per connection");
  if (!make_room()) return reply_error(to, rpc::limit_reached, "limit reached: live sessions");
  if (!store_query_allowed(to)) return;
  // mutant: a-claim-starts-a-fresh-history
  SessionRecord fresh{new_session_id(),  rec.session_key, rec.title,   rec.close_on_disconnect,
                      clock_.wall_now(), std::nullopt,    std::nullopt};
  claiming_.insert(fresh.session_key);
  // mutant: a-claim-does-not-end-the-lost-instances-sessions
  store_.claim(fresh, lost_owner, clock_.wall_now(),
               [this, to, fresh, lost_owner](const StoreReply<Claim>& r) {
                 on_claimed(to, fresh, lost_owner, r);
               });
}

void Gateway::on_claimed(const ReplyTo& to, const SessionRecord& fresh,
                         const std::optional<std::string>& lost_owner, const StoreReply<Claim>& r) {
  store_query_done(to);
  claiming_.erase(fresh.session_key);
  if (!r.ok) {
    if (connected(to.conn) && !shutting_down_)
      reply_error(to, rpc::store_unavailable, "store unavailable");
    return;
  }
  // mutant: a-claim-that-lost-is-served
  if (!r.value.won) {
    if (!connected(to.conn) || shutting_down_) return;
    if (r.value.holder && r.value.holder->instance != config_.instance)
      return refuse_elsewhere(to, *r.value.holder);
    return reply_error(to, rpc::session_elsewhere, "session being resumed here: try again",
                       {{"instance", config_.instance}, {"session_id", fresh.session_id}});
  }
  if (lost_owner)
    log_.write(LogLevel::warn, "instance " + *lost_owner +
                                   "'s lease had expired: its sessions "
                                   "are recorded ended (instance_lost); session " +
                                   fresh.session_id + " continues one of them here");
  // Won, but nobody can take it now: the row just written is ended at once, so that the
  // store never shows a session open that no gateway serves.
  auto abandon = [&](const char* reason) {
    store_.record_end(fresh.session_id, reason, clock_.wall_now(), [](bool) {});
  };
  if (shutting_down_) return abandon("shutdown");
  if (!connected(to.conn)) return abandon("ws_disconnect");
  if (!lease_current()) {
    abandon("lease_lost");
    return reply_error(
        to, rpc::store_unavailable,
        "store unavailable: this gateway's lease on the shared store is not current");
  }
  auto& conn = connections_[to.conn];
  if (static_cast<std::int64_t>(conn.sessions.size()) >= config_.max_sessions_per_connection) {
    abandon("client_close");
    return reply_error(to, rpc::limit_reached, "limit reached: sessions per connection");
  }
  if (!make_room()) {
    abandon("lru_evict");
    return reply_error(to, rpc::limit_reached, "limit reached: live sessions");
  }
  SessionPtr s =
      create_session(to.conn, fresh.session_key, fresh.title, fresh.close_on_disconnect, &fresh);
  Json result = {{"session_id", s->id},
                 {"session_key", s->key},
                 {"resumed", true},
                 {"from_store", true},
                 {"status", to_string(s->status())}};
  if (lost_owner) result["claimed_from"] = *lost_owner;
  reply(to, std::move(result));
}

}  // namespace lifeline
