#include "runtime/gateway/ws_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <deque>

#include "core/keepalive.hpp"

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

std::string query_param(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name)
      return std::string(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

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
        acceptor(io) {}

  void accept();
  bool origin_allowed(std::string_view origin) const {
    for (const auto& o : opt.allowed_origins)
      if (o == origin) return true;
    return false;
  }
};

// One WebSocket client, Beast-example style: owns its stream, reads and writes
// asynchronously, and is the core's connection until it closes.
class WsConnection final : public ConnectionSink,
                           public std::enable_shared_from_this<WsConnection> {
 public:
  WsConnection(WsServer::Impl& server, beast::tcp_stream stream)
      : server_(server), ws_(std::move(stream)) {}

  void start(const http::request<http::string_body>& req) {
    ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(30),
                                                   websocket::stream_base::none(), false});
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
    if (queue_.size() >= max_queued_frames) {
      server_.log.write(LogLevel::warn,
                        "connection " + std::to_string(id_) + " is not reading; closing it");
      close();
      return;
    }
    queue_.push_back(std::move(text));
    if (queue_.size() == 1) write();
  }

  void abort() override {
    keepalive_.stop();
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

  void close() override {
    if (!open_ || closing_) return;
    closing_ = true;
    ws_.async_close(websocket::close_code::normal,
                    [self = shared_from_this()](beast::error_code) {});
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
                      self->queue_.pop_front();
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
    server_.hub.remove(id_);
    if (ec != websocket::error::closed)
      server_.log.write(LogLevel::info,
                        "connection " + std::to_string(id_) + " ended: " + ec.message());
    server_.gateway.on_disconnect(id_);
  }

  WsServer::Impl& server_;
  websocket::stream<beast::tcp_stream> ws_;
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
      : server_(server), stream_(std::move(socket)) {}

  void start() {
    parser_.emplace();
    parser_->body_limit(8192);
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return;
                       self->route(self->parser_->release());
                     });
  }

 private:
  void respond(http::status status, std::string body,
               const char* type = "text/plain; charset=utf-8") {
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::content_type, type);
    res->set(http::field::server, "lifeline");
    res->keep_alive(false);
    res->body() = std::move(body);
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code, std::size_t) {
                        beast::error_code ignored;
                        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                      });
  }

  void route(http::request<http::string_body> req) {
    std::string target(req.target());
    std::string_view path = path_of(target);
    if (req.method() == http::verb::get && path == "/healthz")
      return respond(http::status::ok, "ok\n");
    if (req.method() == http::verb::get && path == "/metrics")
      return respond(http::status::ok, server_.metrics(), "text/plain; version=0.0.4");
    if (path != "/ws") return respond(http::status::not_found, "not found\n");
    if (!websocket::is_upgrade(req))
      return respond(http::status::bad_request, "expected a WebSocket upgrade\n");
    // Admission: the token (header or query), then the Origin allow-list.
    std::string token;
    auto auth = req[http::field::authorization];
    if (auth.starts_with("Bearer ")) token = std::string(auth.substr(7));
    if (token.empty()) token = query_param(target, "token");
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
    auto conn = std::make_shared<WsConnection>(server_, std::move(stream_));
    conn->start(std::move(req));
  }

  WsServer::Impl& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

void WsServer::Impl::accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (stopped) return;
    if (!ec) {
      // Small JSON frames back to back: Nagle + delayed ACK would add ~40 ms to the
      // second one.
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<HttpSession>(*this, std::move(socket))->start();
    } else if (ec != asio::error::operation_aborted) {
      log.write(LogLevel::warn, "accept: " + ec.message());  // e.g. EMFILE: keep serving
    }
    accept();
  });
}

WsServer::WsServer(asio::io_context& io, Clock& clock, Log& log, Hub& hub, Gateway& gateway,
                   WsServerOptions options, std::function<std::string()> metrics)
    : impl_(std::make_unique<Impl>(io, clock, log, hub, gateway, std::move(options),
                                   std::move(metrics))) {}

WsServer::~WsServer() = default;

int WsServer::start() {
  auto& a = impl_->acceptor;
  tcp::endpoint ep(asio::ip::make_address(impl_->opt.host),
                   static_cast<unsigned short>(impl_->opt.port));
  a.open(ep.protocol());
  a.set_option(asio::socket_base::reuse_address(true));  // rebind at once after a SIGKILL
  a.bind(ep);
  a.listen(asio::socket_base::max_listen_connections);
  int port = a.local_endpoint().port();
  if (impl_->opt.allowed_origins.empty()) {
    std::string host = impl_->opt.host.find(':') != std::string::npos ? "[" + impl_->opt.host + "]"
                                                                      : impl_->opt.host;
    for (const std::string& h : {host, std::string("127.0.0.1"), std::string("localhost")})
      impl_->opt.allowed_origins.push_back("http://" + h + ":" + std::to_string(port));
  }
  impl_->accept();
  return port;
}

void WsServer::stop() {
  impl_->stopped = true;
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
}

}  // namespace lifeline::runtime
