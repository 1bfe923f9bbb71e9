#include "gateway/mqtt/tls_probe.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <utility>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace portier::gateway {

namespace {

using clock = std::chrono::steady_clock;

// How long a broker that asked for a client certificate has to refuse it after the handshake.
constexpr auto kAfterHandshake = std::chrono::milliseconds(1500);

// What the callbacks saw during the handshake (the SSL's app data).
struct observed {
  int alert = -1;
  int verify_depth = -1;
  bool certificate_requested = false;
};

observed& observed_of(const SSL* ssl) {
  return *static_cast<observed*>(SSL_get_app_data(ssl));
}

void on_info(const SSL* ssl, int where, int ret) {
  if ((where & SSL_CB_READ_ALERT) != SSL_CB_READ_ALERT) return;
  const int description = ret & 0xff;
  auto& o = observed_of(ssl);
  if (description != SSL_AD_CLOSE_NOTIFY && o.alert < 0) o.alert = description;
}

void on_message(int write_p, int, int content_type, const void* buf, std::size_t len, SSL* ssl,
                void*) {
  if (write_p || content_type != SSL3_RT_HANDSHAKE || len == 0) return;
  if (static_cast<const unsigned char*>(buf)[0] == SSL3_MT_CERTIFICATE_REQUEST) {
    observed_of(ssl).certificate_requested = true;
  }
}

// Keeps OpenSSL's verdict; only notes which certificate of the chain the first error is about.
int on_verify(int ok, X509_STORE_CTX* store) {
  if (!ok) {
    auto* ssl =
        static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto& o = observed_of(ssl);
    if (o.verify_depth < 0) o.verify_depth = X509_STORE_CTX_get_error_depth(store);
  }
  return ok;
}

struct fd_closer {
  int fd = -1;
  ~fd_closer() {
    if (fd >= 0) ::close(fd);
  }
};

bool wait_fd(int fd, short events, clock::time_point deadline) {
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r > 0) return true;
    if (r == 0 || errno != EINTR) return false;
  }
}

// A connected non-blocking TCP socket, or -1.
int connect_tcp(const tls_probe_settings& s, clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(s.host.c_str(), s.port.c_str(), &hints, &found) != 0) return -1;
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, ::freeaddrinfo);
  for (auto* a = found; a != nullptr; a = a->ai_next) {
    fd_closer sock{
        ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol)};
    if (sock.fd < 0) continue;
    if (::connect(sock.fd, a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS || !wait_fd(sock.fd, POLLOUT, deadline)) continue;
      int error = 0;
      socklen_t len = sizeof error;
      if (::getsockopt(sock.fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) continue;
    }
    return std::exchange(sock.fd, -1);
  }
  return -1;
}

// Drives a non-blocking OpenSSL call until it completes, fails or the deadline passes.
// 1: done; 0: failed (error text in `error`); -1: deadline.
template <typename Call>
int drive(SSL* ssl, int fd, clock::time_point deadline, std::string& error, Call call) {
  while (true) {
    ERR_clear_error();
    const int r = call();
    if (r > 0) return 1;
    const int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if (!wait_fd(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) return -1;
      continue;
    }
    // A closed or reset connection leaves `error` empty: the diagnosis words it.
    const unsigned long code = ERR_peek_last_error();
    const bool closed = e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN ||
                        ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
    if (!closed && code != 0) {
      if (const char* reason = ERR_reason_error_string(code)) error = reason;
    }
    return 0;
  }
}

}  // namespace

bool split_upstream_uri(const std::string& uri, std::string& host, std::string& port) {
  const auto scheme = uri.find("://");
  std::string rest = scheme == std::string::npos ? uri : uri.substr(scheme + 3);
  if (const auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  std::size_t colon;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      return false;
    host = rest.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = rest.rfind(':');
    if (colon == std::string::npos) return false;
    host = rest.substr(0, colon);
  }
  port = rest.substr(colon + 1);
  return !host.empty() && !port.empty();
}

tls_evidence probe_tls(const tls_probe_settings& s) {
  const auto deadline = clock::now() + s.timeout;
  tls_evidence e;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  if (!ctx) return e;
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, on_verify);
  const bool trust_loaded = s.ca_file.empty() && s.ca_path.empty()
                                ? SSL_CTX_set_default_verify_paths(ctx.get()) == 1
                                : SSL_CTX_load_verify_locations(
                                      ctx.get(), s.ca_file.empty() ? nullptr : s.ca_file.c_str(),
                                      s.ca_path.empty() ? nullptr : s.ca_path.c_str()) == 1;
  if (!trust_loaded) return e;  // Paho cannot load it either: --check-config says why
  if (!s.client_cert_file.empty() &&
      (SSL_CTX_use_certificate_chain_file(ctx.get(), s.client_cert_file.c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx.get(), s.client_key_file.c_str(), SSL_FILETYPE_PEM) != 1)) {
    return e;
  }
  fd_closer sock{connect_tcp(s, deadline)};
  if (sock.fd < 0) return e;
  e.tcp_connected = true;

  observed seen;  // outlives the SSL, whose callbacks write it
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  if (!ssl) return e;
  SSL_set_app_data(ssl.get(), &seen);
  SSL_set_info_callback(ssl.get(), on_info);
  SSL_set_msg_callback(ssl.get(), on_message);
  SSL_set_fd(ssl.get(), sock.fd);
  SSL_set_tlsext_host_name(ssl.get(), s.host.c_str());

  const int handshake =
      drive(ssl.get(), sock.fd, deadline, e.error, [&] { return SSL_connect(ssl.get()); });
  e.handshake_done = handshake == 1;
  e.timed_out = handshake < 0;
  e.verify_result = SSL_get_verify_result(ssl.get());
  if (e.handshake_done) {
    // As Paho checks it: after the handshake, the name first, then the address.
    X509* cert = SSL_get1_peer_certificate(ssl.get());
    e.host_matches =
        cert != nullptr && (X509_check_host(cert, s.host.data(), s.host.size(), 0, nullptr) == 1 ||
                            X509_check_ip_asc(cert, s.host.c_str(), 0) == 1);
    X509_free(cert);
    if (e.host_matches && seen.certificate_requested) {
      // A TLS 1.3 broker refuses a client certificate after the client's handshake is done: wait
      // a moment for its alert or for it to close the connection. One that accepted sends nothing
      // until MQTT's CONNECT, which the probe never sends. (No close_notify first: the broker
      // would close with it unread, and the reset that follows can overtake the alert.)
      const auto until = std::min(deadline, clock::now() + kAfterHandshake);
      std::string ignored;
      char buf[512];
      e.closed_after_handshake = drive(ssl.get(), sock.fd, until, ignored, [&] {
                                   int n;
                                   while ((n = SSL_read(ssl.get(), buf, sizeof buf)) > 0) {
                                   }
                                   return n;
                                 }) == 0;
    }
  }
  e.verify_depth = seen.verify_depth;
  e.alert_received = seen.alert;
  e.certificate_requested = seen.certificate_requested;
  return e;
}

}  // namespace portier::gateway
