#include "runtime/gateway/ws_server.hpp"

#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <cctype>
#include <deque>

#include "core/admission.hpp"
#include "core/byte_budget.hpp"
#include "core/keepalive.hpp"
#include "runtime/gateway/faults.hpp"
#include "runtime/gateway/web_assets.hpp"

namespace lifeline::runtime {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A slot of --max-connections, held by a socket from accept to close. The count is
// shared, not the server's, so that a handler destroyed with the io_context after the
// server is gone still has somewhere to give its slot back.
class ConnectionSlot {
 public:
  explicit ConnectionSlot(std::shared_ptr<std::size_t> live) : live_(std::move(live)) { ++*live_; }
  ~ConnectionSlot() { --*live_; }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;

 private:
  std::shared_ptr<std::size_t> live_;
};

}  // namespace

struct WsServer::Impl {
  asio::io_context& io;
  Clock& clock;
  Log& log;
  Hub& hub;
  Gateway& gateway;
  WsServerOptions opt;
  std::function<std::string()> metrics;
  tcp::acceptor acceptor;
  asio::steady_timer backoff;
  std::chrono::milliseconds backoff_for{0};
  std::shared_ptr<std::size_t> live = std::make_shared<std::size_t>(0);
  std::optional<admission::Policy> policy;            // made in start(), once the port is known
  admission::Throttle throttle;                       // failed authentications per address
  std::map<std::string, std::int64_t> auth_failures;  // by reason, for /metrics
  bool stopped = false;

  Impl(asio::io_context& io, Clock& clock, Log& log, Hub& hub, Gateway& gw, WsServerOptions o,
       std::function<std::string()> m)
      : io(io),
        clock(clock),
        log(log),
        hub(hub),
        gateway(gw),
        opt(std::move(o)),
        metrics(std::move(m)),
        acceptor(io),
        backoff(io) {}

  void accept();
  void on_accept_error(const beast::error_code& ec);
  void refuse_busy(tcp::socket socket);
  // Failed authentications are logged with the peer, at most once a second per line
  // and 100 lines a second in all (the RateLimitedLog).
  void refused_auth(const std::string& peer, const char* what) {
    throttle.failed(peer, clock.now());
    ++auth_failures["wrong_token"];
    log.write(LogLevel::warn,
              std::string("refused ") + what + " from " + peer + ": missing or wrong token");
  }
};

// One WebSocket client, Beast-example style: owns its stream, reads and writes
// asynchronously, and is the core's connection until it closes.
class WsConnection final : public ConnectionSink,
                           public std::enable_shared_from_this<WsConnection> {
 public:
  WsConnection(WsServer::Impl& server, beast::tcp_stream stream,
               std::unique_ptr<ConnectionSlot> slot, std::string peer)
      : peer_(std::move(peer)),
        server_(server),
        ws_(std::move(stream)),
        slot_(std::move(slot)),
        close_deadline_(server.io),
        budget_(server.opt.max_unsent_bytes) {}

  void start(const http::request<http::string_body>& req) {
    // The upgrade must complete within 10 s (docs/PROTOCOL.md); idle time is the keepalive's.
    ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(10),
                                                   websocket::stream_base::none(), false});
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
      res.set(http::field::server, "lifeline");  // not Beast's name and version
    }));
    auto hard_cap = static_cast<std::uint64_t>(
        std::min<std::int64_t>(server_.opt.max_message_bytes * 4 + 4096, 64 << 20));
    ws_.read_message_max(hard_cap);  // above the soft cap the core answers 4130; above this, 1009
    std::weak_ptr<WsConnection> weak = shared_from_this();
    ws_.control_callback([weak](websocket::frame_type, beast::string_view) {
      if (auto self = weak.lock()) self->keepalive_.on_activity();
    });
    ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->open_ = true;
      self->id_ = self->server_.hub.add(self);
      self->server_.log.write(LogLevel::info,
                              "connection " + std::to_string(self->id_) + " from " + self->peer_);
      self->server_.gateway.on_connect(self->id_, self->peer_);
      self->keepalive_.start();
      self->read();
    });
  }

  void send(std::string text) override {
    if (!open_ || closing_) return;
    if (text.find("\"id\"") != std::string::npos && fault(Fault::plant_drop_reply))
      return;  // planted bug (faults.hpp)
    auto change = queue_.size() >= max_queued_frames ? ByteBudget::Change::overflow
                                                     : budget_.add(text.size());
    if (change == ByteBudget::Change::overflow) {
      server_.log.write(LogLevel::warn, "connection " + std::to_string(id_) + " is not reading (" +
                                            std::to_string(budget_.bytes()) +
                                            " bytes unsent); closing it");
      close(websocket::close_code::policy_error);
      return;
    }
    queue_.push_back(std::move(text));
    if (change == ByteBudget::Change::backed_up) server_.gateway.on_backpressure(id_, true);
    if (queue_.size() == 1) write();
  }

  void abort() override {
    keepalive_.stop();
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

  void close() override { close(websocket::close_code::normal); }

  // The close handshake cannot finish against a peer that does not read (a stopped
  // process, a dead proxy): after 2 s the socket is aborted, the pending read fails, and
  // the core hears of the disconnect at once.
  void close(websocket::close_code code) {
    if (!open_ || closing_) return;
    closing_ = true;
    std::weak_ptr<WsConnection> weak = shared_from_this();
    close_deadline_.expires_after(std::chrono::seconds(2));
    close_deadline_.async_wait([weak](const beast::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || !self->open_) return;
      self->server_.log.write(LogLevel::info, "connection " + std::to_string(self->id_) +
                                                  ": close not completed within 2 s; aborting");
      self->abort();
    });
    ws_.async_close(code, [self = shared_from_this()](beast::error_code) {});
  }

 private:
  void read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->finish(ec);
      self->keepalive_.on_activity();
      std::string text = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      if (!self->ws_.got_text()) {
        self->server_.hub.send(self->id_,
                               rpc::error(nullptr, rpc::invalid_request,
                                          "invalid request: binary frames are not accepted"));
      } else {
        self->server_.gateway.on_message(self->id_, text);
      }
      self->read();
    });
  }

  void write() {
    ws_.text(true);
    ws_.async_write(asio::buffer(queue_.front()),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      if (ec) return;  // the read side reports the disconnect
                      auto change = self->budget_.remove(self->queue_.front().size());
                      self->queue_.pop_front();
                      if (change == ByteBudget::Change::drained && self->open_)
                        self->server_.gateway.on_backpressure(self->id_, false);
                      if (!self->queue_.empty()) self->write();
                    });
  }

  void ping() {
    if (!open_ || closing_) return;
    ws_.async_ping({}, [](beast::error_code) {});
  }

  void dead() {
    server_.log.write(LogLevel::info, "connection " + std::to_string(id_) +
                                          ": no pong within the deadline; dropping it");
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).close();
  }

  void finish(beast::error_code ec) {
    if (!open_) return;
    open_ = false;
    keepalive_.stop();
    close_deadline_.cancel();
    server_.hub.remove(id_);
    // A client that closes, resets or vanishes is ordinary, not an error to report.
    bool ordinary = ec == websocket::error::closed || ec == beast::errc::not_connected ||
                    ec == asio::error::eof || ec == asio::error::connection_reset ||
                    ec == asio::error::operation_aborted || ec == beast::error::timeout;
    server_.log.write(LogLevel::info, "connection " + std::to_string(id_) + " from " + peer_ +
                                          (ordinary ? " closed" : " ended: " + ec.message()));
    server_.gateway.on_disconnect(id_);
  }

  std::string peer_;  // the client's address, for the log
  WsServer::Impl& server_;
  websocket::stream<beast::tcp_stream> ws_;
  std::unique_ptr<ConnectionSlot> slot_;
  asio::steady_timer close_deadline_;
  ByteBudget budget_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  ConnId id_ = 0;
  bool open_ = false;
  bool closing_ = false;
  Keepalive keepalive_{server_.clock, server_.opt.ping_interval, server_.opt.ping_timeout,
                       [this] { ping(); }, [this] { dead(); }};
};

// Reads one HTTP request and routes it: /healthz, /metrics, or the /ws upgrade.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(WsServer::Impl& server, tcp::socket socket)
      : server_(server),
        stream_(std::move(socket)),
        slot_(std::make_unique<ConnectionSlot>(server.live)) {
    beast::error_code ec;
    auto remote = stream_.socket().remote_endpoint(ec);
    peer_ = ec ? std::string("an unknown peer") : remote.address().to_string();
    loopback_peer_ = !ec && remote.address().is_loopback();
  }

  void start() {
    parser_.emplace();
    parser_->header_limit(header_limit);
    parser_->body_limit(8192);
    // Slowloris: the request, and then the upgrade, must be done within 10 s.
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read(
        stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
          if (ec == http::error::header_limit)
            return self->respond(http::status::request_header_fields_too_large,
                                 "request headers too large\n");
          if (ec == http::error::body_limit)
            return self->respond(http::status::payload_too_large, "request body too large\n");
          if (ec) return;
          self->route(self->parser_->release());
        });
  }

  static constexpr std::uint32_t header_limit = 16 * 1024;

 private:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  void respond(http::status status, std::string body,
               const char* type = "text/plain; charset=utf-8", const Headers& headers = {}) {
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::content_type, type);
    res->set(http::field::server, "lifeline");
    for (const auto& [field, value] : headers) res->set(field, value);
    res->keep_alive(false);
    res->body() = std::move(body);
    res->prepare_payload();
    if (head_only_) res->body().clear();  // HEAD: GET's headers, Content-Length included
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code, std::size_t) {
                        beast::error_code ignored;
                        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                      });
  }

  // What a request presents as its credential: Authorization: Bearer, ?token=, and
  // every Cookie header (the policy reads its own cookie's values from them).
  static std::vector<std::string> cookie_headers(const http::request<http::string_body>& req) {
    std::vector<std::string> out;
    for (auto it = req.find(http::field::cookie);
         it != req.end() && it->name() == http::field::cookie; ++it)
      out.emplace_back(it->value());
    return out;
  }
  static admission::Presented presented(const http::request<http::string_body>& req,
                                        std::string_view target) {
    admission::Presented p;
    auto auth = req[http::field::authorization];
    if (auth.starts_with("Bearer ")) p.bearer = std::string(auth.substr(7));
    p.query = admission::query_param(target, "token");
    p.cookies = cookie_headers(req);
    return p;
  }

  // Over the throttle: 429 with Retry-After (whole seconds, rounded up). True when refused.
  bool throttled() {
    auto wait = server_.throttle.refused(peer_, server_.clock.now());
    if (!wait) return false;
    server_.log.write(LogLevel::warn, "throttled " + peer_ + ": too many failed authentications");
    ++server_.auth_failures["throttled"];
    respond(http::status::too_many_requests, "too many failed authentications; retry later\n",
            "text/plain; charset=utf-8",
            {{"Retry-After", std::to_string((*wait + 999) / 1000)}, {"Cache-Control", "no-store"}});
    return true;
  }

  // POST /login: the page's sign-in. The token travels in the body, never in a URL
  // (CWE-598): the printed link carries it in the fragment, which no server or proxy
  // sees, and the page posts it here. A cross-site page cannot post it: the Origin must be
  // on the allow-list.
  void login(const http::request<http::string_body>& req) {
    const Headers no_store = {{"Cache-Control", "no-store"}};
    auto origin = req[http::field::origin];
    if (origin.empty() || !server_.policy->origin_allowed(origin)) {
      ++server_.auth_failures["origin"];
      server_.log.write(LogLevel::warn, "refused a sign-in from " + peer_ + ": origin '" +
                                            std::string(origin) + "' not allowed");
      return respond(http::status::forbidden, "origin not allowed\n", "text/plain; charset=utf-8",
                     no_store);
    }
    if (req.body().size() > max_login_body)
      return respond(http::status::payload_too_large, "sign-in body too large\n",
                     "text/plain; charset=utf-8", no_store);
    if (throttled()) return;
    std::string token = req.body();
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    if (!server_.policy->token_matches(token)) {
      server_.refused_auth(peer_, "a sign-in");
      return respond(http::status::unauthorized, "wrong token\n", "text/plain; charset=utf-8",
                     no_store);
    }
    // Secure when the page came over https through a proxy on this host (the only
    // X-Forwarded-Proto we trust: anyone else could say it).
    bool https = req["X-Forwarded-Proto"] == "https" && loopback_peer_;
    Headers h = no_store;
    h.emplace_back("Set-Cookie", server_.policy->cookie() + "=" + admission::percent_encode(token) +
                                     "; HttpOnly; SameSite=Strict; Path=/" +
                                     (https ? "; Secure" : ""));
    respond(http::status::no_content, "", "text/plain; charset=utf-8", h);
  }
  static constexpr std::size_t max_login_body = 1024;

  // GET /login: whether this browser's cookie is still a valid sign-in (204) or not
  // (401), which a refused WebSocket cannot tell the page.
  void signed_in(const http::request<http::string_body>& req) {
    const Headers no_store = {{"Cache-Control", "no-store"}};
    if (throttled()) return;
    if (server_.policy->cookie_authenticated(cookie_headers(req)))
      return respond(http::status::no_content, "", "text/plain; charset=utf-8", no_store);
    server_.refused_auth(peer_, "a sign-in check");
    respond(http::status::unauthorized, "not signed in\n", "text/plain; charset=utf-8", no_store);
  }

  // The page and what it loads (docs/PROTOCOL.md, Web client). Everything comes from here:
  // the policy forbids any other origin, and nothing is cached across a new build.
  // Styles may be inline because xterm.js sizes its grid and draws its theme through
  // <style> elements it creates; a style cannot run code, and scripts stay 'self' only.
  void serve_web(const http::request<http::string_body>& req, std::string_view path) {
    const Headers web = {
        {"Content-Security-Policy",
         "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
         "connect-src 'self'; img-src 'self' data:; "
         "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"},
        {"Cache-Control", "no-cache"},
        {"Referrer-Policy", "no-referrer"},
        {"X-Content-Type-Options", "nosniff"}};
    if (path == "/") {
      // A ?token= is not a sign-in (it would sit in history and access logs): the page
      // posts it to /login and drops it from the address bar.
      std::string page(asset("/index.html")->body);
      if (server_.policy->cookie_authenticated(cookie_headers(req))) {
        const std::string_view from = "data-state=\"login\"";
        if (auto at = page.find(from); at != std::string::npos)
          page.replace(at, from.size(), "data-state=\"connecting\"");
      }
      return respond(http::status::ok, std::move(page), "text/html; charset=utf-8", web);
    }
    // Only the compiled-in names: no path from a request ever reaches the file system.
    const WebAsset* a = path == "/index.html" ? nullptr : asset(path);
    if (!a) return respond(http::status::not_found, "not found\n");
    return respond(http::status::ok, std::string(a->body), content_type(path), web);
  }

  static const char* content_type(std::string_view path) {
    if (path.ends_with(".js")) return "text/javascript; charset=utf-8";
    if (path.ends_with(".css")) return "text/css; charset=utf-8";
    if (path.ends_with(".svg")) return "image/svg+xml";
    return "application/octet-stream";
  }

  static const WebAsset* asset(std::string_view path) {
    for (const auto& a : web_assets())
      if (a.path == path) return &a;
    return nullptr;
  }

  void route(const http::request<http::string_body>& req) {
    std::string target(req.target());
    std::string_view path = path_of(target);
    // One Origin and one Host: with two, which one a check reads is a parser's accident
    // (an allowed origin followed by a hostile one).
    if (req.count(http::field::origin) > 1 || req.count(http::field::host) > 1) {
      server_.log.write(LogLevel::warn, "refused a request from " + peer_ +
                                            " with a repeated Origin or Host header");
      return respond(http::status::bad_request, "repeated Origin or Host header\n");
    }
    if (!server_.policy->host_allowed(req[http::field::host])) {
      ++server_.auth_failures["host"];
      server_.log.write(LogLevel::warn, "refused a request from " + peer_ + " for Host " +
                                            std::string(req[http::field::host]) +
                                            " (not this gateway's; --allowed-host adds names)");
      return respond(http::status::bad_request, "unknown Host\n");
    }
    bool web = path == "/" || asset(path) != nullptr;
    if (!web && path != "/healthz" && path != "/metrics" && path != "/ws" && path != "/login")
      return respond(http::status::not_found, "not found\n");
    if (path == "/login") {
      if (req.method() == http::verb::post) return login(req);
      if (req.method() == http::verb::get) return signed_in(req);
      return respond(http::status::method_not_allowed, "only GET and POST are served here\n",
                     "text/plain; charset=utf-8", {{"Allow", "GET, POST"}});
    }
    // Every resource here is read with GET, or HEAD for its headers; /ws only with GET
    // (a WebSocket upgrade is a GET).
    head_only_ = req.method() == http::verb::head && path != "/ws";
    if (req.method() != http::verb::get && !head_only_)
      return respond(http::status::method_not_allowed, "only GET is served here\n",
                     "text/plain; charset=utf-8", {{"Allow", path == "/ws" ? "GET" : "GET, HEAD"}});
    if (path == "/healthz") return respond(http::status::ok, "ok\n");
    if (path == "/metrics")
      return respond(http::status::ok, server_.metrics(), "text/plain; version=0.0.4");
    if (web) return serve_web(req, path);
    if (!websocket::is_upgrade(req))
      return respond(http::status::bad_request, "expected a WebSocket upgrade\n");
    // Admission: the token (header, query or the browser's cookie), then the Origin
    // allow-list - the defence against cross-site WebSocket hijacking, since a cookie
    // is sent by any page of the same site.
    // Guessing is throttled per address (429 before any comparison).
    if (throttled()) return;
    if (!server_.policy->authenticated(presented(req, target))) {
      server_.refused_auth(peer_, "a /ws upgrade");
      return respond(http::status::unauthorized, "missing or wrong token\n");
    }
    auto origin = req[http::field::origin];
    if (!origin.empty() && !server_.policy->origin_allowed(origin)) {
      ++server_.auth_failures["origin"];
      server_.log.write(LogLevel::warn, "refused a /ws upgrade from " + peer_ + ": origin " +
                                            std::string(origin) + " not allowed");
      return respond(http::status::forbidden, "origin not allowed\n");
    }
    stream_.expires_never();
    auto conn =
        std::make_shared<WsConnection>(server_, std::move(stream_), std::move(slot_), peer_);
    conn->start(req);
  }

  WsServer::Impl& server_;
  beast::tcp_stream stream_;
  std::unique_ptr<ConnectionSlot> slot_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool head_only_ = false;  // answering a HEAD request
  std::string peer_;        // the client's address: throttling and log lines
  bool loopback_peer_ = false;
};

void WsServer::Impl::accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (stopped) return;
    if (ec && ec != asio::error::operation_aborted) return on_accept_error(ec);
    if (!ec) {
      backoff_for = std::chrono::milliseconds(0);
      // Small JSON frames back to back: Nagle + delayed ACK would add ~40 ms to the
      // second one.
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      if (fault(Fault::plant_leak_fd)) (void)::dup(socket.native_handle());  // planted bug
      if (static_cast<std::int64_t>(*live) >= opt.max_connections)
        refuse_busy(std::move(socket));
      else
        std::make_shared<HttpSession>(*this, std::move(socket))->start();
    }
    accept();
  });
}

void WsServer::Impl::on_accept_error(const beast::error_code& ec) {
  // Out of fds (EMFILE, ENFILE) or kernel memory: retrying at once would spin at 100%
  // CPU and flood the log while the backlog waits. Back off, 50 ms doubling to 1 s.
  using std::chrono::milliseconds;
  backoff_for = std::min(milliseconds(1000), std::max(milliseconds(50), backoff_for * 2));
  log.write(LogLevel::warn, "accept: " + ec.message() + "; not accepting for " +
                                std::to_string(backoff_for.count()) + " ms (" +
                                std::to_string(*live) + " connections open)");
  backoff.expires_after(backoff_for);
  backoff.async_wait([this](const beast::error_code& e) {
    if (!e && !stopped) accept();
  });
}

// Beyond --max-connections: a plain 503 before any upgrade, then the socket is closed.
void WsServer::Impl::refuse_busy(tcp::socket socket) {
  log.write(LogLevel::warn, "refusing a connection: " + std::to_string(*live) +
                                " open, --max-connections is " +
                                std::to_string(opt.max_connections));
  static const std::string response =
      "HTTP/1.1 503 Service Unavailable\r\nServer: lifeline\r\nContent-Type: text/plain\r\n"
      "Content-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n";
  auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
  stream->expires_after(std::chrono::seconds(2));
  asio::async_write(*stream, asio::buffer(response),
                    [stream](const beast::error_code&, std::size_t) {
                      beast::error_code ignored;
                      stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
                      stream->close();
                    });
}

WsServer::WsServer(asio::io_context& io, Clock& clock, Log& log, Hub& hub, Gateway& gateway,
                   WsServerOptions options, std::function<std::string()> metrics)
    : impl_(std::make_unique<Impl>(io, clock, log, hub, gateway, std::move(options),
                                   std::move(metrics))) {}

WsServer::~WsServer() = default;

namespace {

// --listen takes an address or a name. A name is resolved once, at start; "localhost"
// is 127.0.0.1 whatever the resolver prefers, since that is where clients of a
// "localhost" gateway connect first. Among several addresses IPv4 wins, for the same reason.
asio::ip::address listen_address(asio::io_context& io, const std::string& host) {
  beast::error_code ec;
  auto literal = asio::ip::make_address(host, ec);
  if (!ec) return literal;
  if (host == "localhost") return asio::ip::address_v4::loopback();
  tcp::resolver resolver(io);
  auto results = resolver.resolve(host, "", ec);
  if (ec || results.empty())
    throw std::runtime_error("cannot listen on " + host + ": not an address, and the name " +
                             (ec ? "does not resolve (" + ec.message() + ")" : "has no address"));
  for (const auto& r : results)
    if (r.endpoint().address().is_v4()) return r.endpoint().address();
  return results.begin()->endpoint().address();
}

}  // namespace

int WsServer::start() {
  auto& a = impl_->acceptor;
  tcp::endpoint ep(listen_address(impl_->io, impl_->opt.host),
                   static_cast<unsigned short>(impl_->opt.port));
  // Errors name the address and say what went wrong, not where in Asio.
  beast::error_code ec;
  auto check = [&](const char* what) {
    if (ec)
      throw std::runtime_error("cannot " + std::string(what) + " " + impl_->opt.host + ":" +
                               std::to_string(impl_->opt.port) + " (" + ep.address().to_string() +
                               "): " + ec.message());
  };
  a.open(ep.protocol(), ec);
  check("open a socket for");
  a.set_option(asio::socket_base::reuse_address(true), ec);  // rebind at once after a SIGKILL
  check("set SO_REUSEADDR for");
  a.bind(ep, ec);
  check("listen on");
  a.listen(asio::socket_base::max_listen_connections, ec);
  check("listen on");
  int port = a.local_endpoint().port();
  std::string p = ":" + std::to_string(port);
  auto bracketed = [](const std::string& h) {
    return h.find(':') != std::string::npos ? "[" + h + "]" : h;
  };
  // The bound address is the name given (when --listen named one) and what it resolved to.
  std::string bound = bracketed(impl_->opt.host);
  std::vector<std::string> hosts;  // Host values we answer to ("name:port", or "name" on 80)
  for (const std::string& h : {bound, bracketed(ep.address().to_string()), std::string("localhost"),
                               std::string("127.0.0.1"), std::string("[::1]")}) {
    hosts.push_back(lower(h) + p);
    if (port == 80) hosts.push_back(lower(h));  // a browser leaves out the default port
  }
  if (impl_->opt.allowed_origins.empty()) {
    for (const std::string& h : {bound, std::string("127.0.0.1"), std::string("localhost")})
      impl_->opt.allowed_origins.push_back("http://" + h + ":" + std::to_string(port));
  }
  impl_->policy.emplace(impl_->opt.token, admission::cookie_name(impl_->opt.instance, port),
                        impl_->opt.allowed_origins, hosts, impl_->opt.allowed_hosts);
  impl_->accept();
  return port;
}

std::map<std::string, std::int64_t> WsServer::auth_failures() const {
  return impl_->auth_failures;
}

std::string WsServer::cookie_name() const {
  return impl_->policy ? impl_->policy->cookie() : std::string();
}

std::size_t WsServer::live_connections() const {
  return *impl_->live;
}

void WsServer::stop() {
  impl_->stopped = true;
  impl_->backoff.cancel();
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
}

}  // namespace lifeline::runtime
