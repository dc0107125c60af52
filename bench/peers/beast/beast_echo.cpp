// Boost.Beast echo server, a peer in bench/compare. One io_context run on one thread;
// every path upgrades and echoes each message with its opcode. Auto-fragment off (a
// message goes out as one frame, like wsedge), no permessage-deflate, 64 MiB max message,
// TCP_NODELAY. With --tls-cert/--tls-key: wss:// through asio::ssl (OpenSSL), TLS 1.2 and
// 1.3, the TLS handshake then the WebSocket one on the same stream.
// Usage: beast_echo [--port P] [--tls-cert FILE --tls-key FILE]; the first stdout line
// names the port.
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// One connection over Stream: beast::tcp_stream (ws://) or ssl_stream of it (wss://).
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <class... Args>
  explicit Session(Args&&... args) : ws_(std::forward<Args>(args)...) {}

  void start() {
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.auto_fragment(false);
    ws_.read_message_max(64u << 20);
    if constexpr (kTls) {
      ws_.next_layer().async_handshake(
          ssl::stream_base::server,
          beast::bind_front_handler(&Session::on_tls, this->shared_from_this()));
    } else {
      accept();
    }
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
  void on_tls(beast::error_code ec) {
    if (!ec) accept();
  }
  void accept() {
    ws_.async_accept(beast::bind_front_handler(&Session::on_accept, this->shared_from_this()));
  }
  void on_accept(beast::error_code ec) {
    if (!ec) read();
  }
  void read() {
    ws_.async_read(buffer_,
                   beast::bind_front_handler(&Session::on_read, this->shared_from_this()));
  }
  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return;
    ws_.text(ws_.got_text());
    ws_.async_write(buffer_.data(),
                    beast::bind_front_handler(&Session::on_write, this->shared_from_this()));
  }
  void on_write(beast::error_code ec, std::size_t) {
    if (ec) return;
    buffer_.consume(buffer_.size());
    read();
  }

  websocket::stream<Stream> ws_;
  beast::flat_buffer buffer_;
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(asio::io_context& ioc, tcp::endpoint ep, ssl::context* tls)
      : ioc_(ioc), acceptor_(ioc), tls_(tls) {
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(4096);
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  void accept() {
    acceptor_.async_accept(ioc_,  // one thread: no strand needed
                           beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
  }

 private:
  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (!ec) {
      socket.set_option(tcp::no_delay(true));
      if (tls_)
        std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(std::move(socket), *tls_)
            ->start();
      else
        std::make_shared<Session<beast::tcp_stream>>(std::move(socket))->start();
    }
    accept();
  }
  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  ssl::context* tls_;
};

int main(int argc, char** argv) {
  unsigned short port = 0;
  const char *cert = nullptr, *key = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = static_cast<unsigned short>(std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--tls-cert") == 0 && i + 1 < argc) {
      cert = argv[++i];
    } else if (std::strcmp(argv[i], "--tls-key") == 0 && i + 1 < argc) {
      key = argv[++i];
    } else {
      std::fprintf(stderr, "usage: beast_echo [--port P] [--tls-cert FILE --tls-key FILE]\n");
      return 2;
    }
  }
  if (!cert != !key) {
    std::fprintf(stderr, "beast_echo: --tls-cert and --tls-key go together\n");
    return 2;
  }
  std::optional<ssl::context> tls;
  if (cert) {
    tls.emplace(ssl::context::tls_server);
    tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                     ssl::context::no_tlsv1_1);
    beast::error_code ec;
    tls->use_certificate_chain_file(cert, ec);
    if (!ec) tls->use_private_key_file(key, ssl::context::pem, ec);
    if (ec) {
      std::fprintf(stderr, "beast_echo: %s\n", ec.message().c_str());
      return 2;
    }
  }
  asio::io_context ioc{1};  // concurrency hint 1: one thread, no locking
  auto listener = std::make_shared<Listener>(
      ioc, tcp::endpoint{asio::ip::make_address("127.0.0.1"), port}, tls ? &*tls : nullptr);
  std::printf("beast listening on %s://127.0.0.1:%u/\n", cert ? "wss" : "ws", listener->port());
  std::fflush(stdout);
  listener->accept();
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) { ioc.stop(); });
  ioc.run();
  return 0;
}
