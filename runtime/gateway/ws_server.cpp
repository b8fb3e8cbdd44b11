#include "runtime/gateway/ws_server.hpp"

#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <cctype>
#include <deque>
#include <fstream>
#include <iterator>

#include "core/keepalive.hpp"
#include "core/unsent_budget.hpp"
#include "runtime/gateway/faults.hpp"
#include "runtime/gateway/web_assets.hpp"

namespace lifeline::runtime {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// %XX and '+' decoded; malformed escapes are kept as they are (they match no token).
std::string percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
      out += static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2]));
      i += 2;
    } else {
      out += in[i] == '+' ? ' ' : in[i];
    }
  }
  return out;
}

std::string percent_encode(std::string_view in) {
  static const char digits[] = "0123456789ABCDEF";
  std::string out;
  for (char c : in) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += digits[u >> 4];
      out += digits[u & 15];
    }
  }
  return out;
}

std::string query_param(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name)
      return percent_decode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

// The value of cookie `name` in a Cookie header ("a=1; lifeline_token=T"), or "".
std::string cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name)
      return percent_decode(pair.substr(eq + 1));
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return {};
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "name:port" -> "name"; "[v6]:port" -> "[v6]"; "name" -> "name".
std::string host_name(const std::string& host) {
  if (!host.empty() && host.front() == '[') return host.substr(0, host.find(']') + 1);
  auto colon = host.find(':');
  return colon == std::string::npos ? host : host.substr(0, colon);
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
  std::vector<std::string> hosts;  // Host values we answer to, lower case ("name" or "name:port")
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
  bool origin_allowed(std::string_view origin) const {
    for (const auto& o : opt.allowed_origins)
      if (o == origin) return true;
    return false;
  }
  // DNS rebinding: a page of evil.example that resolves to 127.0.0.1 still says
  // Host: evil.example. No Host at all is not a browser, and nothing to rebind.
  bool host_allowed(std::string_view host) const {
    if (host.empty()) return true;
    std::string h = lower(host);
    for (const auto& ok : hosts)
      if (h == ok) return true;
    // An --allowed-host without a port admits that name on any port.
    std::string name = host_name(h);
    for (const auto& ok : opt.allowed_hosts)
      if (lower(ok) == name || lower(ok) == h) return true;
    return false;
  }
};

// One WebSocket client, Beast-example style: owns its stream, reads and writes
// asynchronously, and is the core's connection until it closes.
class WsConnection final : public ConnectionSink,
                           public std::enable_shared_from_this<WsConnection> {
 public:
  WsConnection(WsServer::Impl& server, beast::tcp_stream stream,
               std::unique_ptr<ConnectionSlot> slot)
      : server_(server),
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
      self->server_.gateway.on_connect(self->id_);
      self->keepalive_.start();
      self->read();
    });
  }

  void send(std::string text) override {
    if (!open_ || closing_) return;
    if (text.find("\"id\"") != std::string::npos && fault("lifeline/plant/drop-reply"))
      return;  // planted bug (faults.hpp)
    auto change = queue_.size() >= max_queued_frames ? UnsentBudget::Change::overflow
                                                     : budget_.add(text.size());
    if (change == UnsentBudget::Change::overflow) {
      server_.log.write(LogLevel::warn, "connection " + std::to_string(id_) + " is not reading (" +
                                            std::to_string(budget_.bytes()) +
                                            " bytes unsent); closing it");
      close(websocket::close_code::policy_error);
      return;
    }
    queue_.push_back(std::move(text));
    if (change == UnsentBudget::Change::backed_up) server_.gateway.on_backpressure(id_, true);
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
                      if (change == UnsentBudget::Change::drained && self->open_)
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
    if (ec != websocket::error::closed)
      server_.log.write(LogLevel::info,
                        "connection " + std::to_string(id_) + " ended: " + ec.message());
    server_.gateway.on_disconnect(id_);
  }

  WsServer::Impl& server_;
  websocket::stream<beast::tcp_stream> ws_;
  std::unique_ptr<ConnectionSlot> slot_;
  asio::steady_timer close_deadline_;
  UnsentBudget budget_;
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
        slot_(std::make_unique<ConnectionSlot>(server.live)) {}

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

  // The credential a request presents: Authorization: Bearer, ?token=, or the cookie.
  static std::string presented_token(const http::request<http::string_body>& req,
                                     std::string_view target) {
    std::string token;
    auto auth = req[http::field::authorization];
    if (auth.starts_with("Bearer ")) token = std::string(auth.substr(7));
    if (token.empty()) token = query_param(target, "token");
    if (token.empty())
      for (auto it = req.find(http::field::cookie);
           token.empty() && it != req.end() && it->name() == http::field::cookie; ++it)
        token = cookie_value(it->value(), "lifeline_token");
    return token;
  }

  // The page and what it loads (docs/PROTOCOL.md, Web client). Everything comes from here:
  // the policy forbids any other origin, and nothing is cached across a new build.
  void serve_web(const http::request<http::string_body>& req, std::string_view target,
                 std::string_view path) {
    const Headers web = {{"Content-Security-Policy",
                          "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
                          "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"},
                         {"Cache-Control", "no-cache"},
                         {"Referrer-Policy", "no-referrer"},
                         {"X-Content-Type-Options", "nosniff"}};
    if (path == "/") {
      if (target.find("token=") != std::string_view::npos) {
        // Sign-in: the token becomes a cookie and leaves the address bar (303 to "/").
        std::string token = query_param(target, "token");
        Headers h = web;
        if (!token.empty() && constant_time_equal(token, server_.opt.token)) {
          h.emplace_back("Set-Cookie", "lifeline_token=" + percent_encode(token) +
                                           "; HttpOnly; SameSite=Strict; Path=/");
          h.emplace_back("Location", "/");
        } else {
          server_.log.write(LogLevel::warn, "refused a sign-in to the web page: wrong token");
          h.emplace_back("Location", "/#wrong-token");
        }
        return respond(http::status::see_other, "", "text/plain; charset=utf-8", h);
      }
      std::string page(asset("/index.html"));
      std::string cookie;
      for (auto it = req.find(http::field::cookie);
           cookie.empty() && it != req.end() && it->name() == http::field::cookie; ++it)
        cookie = cookie_value(it->value(), "lifeline_token");
      if (!cookie.empty() && constant_time_equal(cookie, server_.opt.token)) {
        const std::string_view from = "data-state=\"login\"";
        if (auto at = page.find(from); at != std::string::npos)
          page.replace(at, from.size(), "data-state=\"connecting\"");
      }
      return respond(http::status::ok, std::move(page), "text/html; charset=utf-8", web);
    }
    if (path == "/app.js")
      return respond(http::status::ok, std::string(asset(path)), "text/javascript", web);
    if (path == "/app.css")
      return respond(http::status::ok, std::string(asset(path)), "text/css", web);
    // xterm.js from Debian's libjs-xterm, where installed; two fixed names, no path
    // from the request ever reaches the file system.
    for (const char* name : {"xterm.js", "xterm.css"}) {
      if (path != std::string("/assets/xterm/") + name) continue;
      std::ifstream in(std::string("/usr/share/javascript/xterm/") + name, std::ios::binary);
      std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (!in.good() && body.empty()) break;
      return respond(http::status::ok, std::move(body),
                     name[6] == 'j' ? "text/javascript" : "text/css", web);
    }
    return respond(http::status::not_found, "not found\n");
  }

  static std::string_view asset(std::string_view path) {
    for (const auto& a : web_assets())
      if (a.path == path) return a.body;
    return {};
  }

  void route(const http::request<http::string_body>& req) {
    std::string target(req.target());
    std::string_view path = path_of(target);
    // One Origin and one Host: with two, which one a check reads is a parser's accident
    // (an allowed origin followed by a hostile one).
    if (req.count(http::field::origin) > 1 || req.count(http::field::host) > 1) {
      server_.log.write(LogLevel::warn, "refused a request with a repeated Origin or Host header");
      return respond(http::status::bad_request, "repeated Origin or Host header\n");
    }
    if (!server_.host_allowed(req[http::field::host])) {
      server_.log.write(LogLevel::warn, "refused a request for Host " +
                                            std::string(req[http::field::host]) +
                                            " (not this gateway's; --allowed-host adds names)");
      return respond(http::status::bad_request, "unknown Host\n");
    }
    bool web =
        path == "/" || path == "/app.js" || path == "/app.css" || path.starts_with("/assets/");
    if (!web && path != "/healthz" && path != "/metrics" && path != "/ws")
      return respond(http::status::not_found, "not found\n");
    // Every resource here is read with GET, or HEAD for its headers; /ws only with GET
    // (a WebSocket upgrade is a GET).
    head_only_ = req.method() == http::verb::head && path != "/ws";
    if (req.method() != http::verb::get && !head_only_)
      return respond(http::status::method_not_allowed, "only GET is served here\n",
                     "text/plain; charset=utf-8", {{"Allow", path == "/ws" ? "GET" : "GET, HEAD"}});
    if (path == "/healthz") return respond(http::status::ok, "ok\n");
    if (path == "/metrics")
      return respond(http::status::ok, server_.metrics(), "text/plain; version=0.0.4");
    if (web) return serve_web(req, target, path);
    if (!websocket::is_upgrade(req))
      return respond(http::status::bad_request, "expected a WebSocket upgrade\n");
    // Admission: the token (header, query or the browser's cookie), then the Origin
    // allow-list - the defence against cross-site WebSocket hijacking, since a cookie
    // is sent by any page of the same site.
    std::string token = presented_token(req, target);
    if (!constant_time_equal(token, server_.opt.token)) {
      server_.log.write(LogLevel::warn, "refused a /ws upgrade: missing or wrong token");
      return respond(http::status::unauthorized, "missing or wrong token\n");
    }
    auto origin = req[http::field::origin];
    if (!origin.empty() && !server_.origin_allowed(origin)) {
      server_.log.write(LogLevel::warn, "refused a /ws upgrade from origin " + std::string(origin));
      return respond(http::status::forbidden, "origin not allowed\n");
    }
    stream_.expires_never();
    auto conn = std::make_shared<WsConnection>(server_, std::move(stream_), std::move(slot_));
    conn->start(req);
  }

  WsServer::Impl& server_;
  beast::tcp_stream stream_;
  std::unique_ptr<ConnectionSlot> slot_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool head_only_ = false;  // answering a HEAD request
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
      if (fault("lifeline/plant/leak-fd")) (void)::dup(socket.native_handle());  // planted bug
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
  for (const std::string& h : {bound, bracketed(ep.address().to_string()), std::string("localhost"),
                               std::string("127.0.0.1"), std::string("[::1]")}) {
    impl_->hosts.push_back(lower(h) + p);
    if (port == 80) impl_->hosts.push_back(lower(h));  // a browser leaves out the default port
  }
  if (impl_->opt.allowed_origins.empty()) {
    for (const std::string& h : {bound, std::string("127.0.0.1"), std::string("localhost")})
      impl_->opt.allowed_origins.push_back("http://" + h + ":" + std::to_string(port));
  }
  impl_->accept();
  return port;
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
