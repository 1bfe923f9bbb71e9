// TLS client sessions on mbedTLS, for portierd's upstream connection: the trust store, the
// client's own certificate and key, and one session per TCP connection that verifies the server.
//
// tls_client_trust::load() reads and checks the files once (a reload builds a new one): the CA
// certificates of ca_file and/or every file of ca_path (each file once, however many hash links
// point at it); with neither, the system's bundle /etc/ssl/certs/ca-certificates.crt, else the
// files of /etc/ssl/certs. Then the client certificate chain and its key, which must match.
//
// tls_client_session runs TLS 1.2 (mbedTLS 2.28 has no production TLS 1.3) over a connected,
// non-blocking socket the caller owns and polls: every call does what it can without blocking and
// says whether it needs the socket readable or writable to go on. The server's certificate is
// always verified against the trust store, and the host: a DNS name against the certificate's
// DNS names (and its CN when it has none), an IP address literal against its iPAddress names. A
// session that fails verification sends the matching alert and ends; there is no switch that
// turns verification off. What a failed handshake showed (verification flags, the alert the
// server sent, whether it asked for a client certificate) stays readable for a diagnosis.
//
// A session is not thread-safe: its owner serialises every call (a mutex when one thread reads
// and others write).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace portier::platform {

struct tls_client_files {
  std::string ca_file;           // PEM, one or more certificates
  std::string ca_path;           // a directory of PEM files
  std::string client_cert_file;  // empty: no client certificate
  std::string client_key_file;   // unencrypted PEM or DER key of client_cert_file
};

class tls_client_trust {
 public:
  // nullptr with `error` set ("ca_file /x: cannot read: ...") when a file cannot be used.
  static std::shared_ptr<const tls_client_trust> load(const tls_client_files& files,
                                                      std::string& error);
  ~tls_client_trust();
  tls_client_trust(const tls_client_trust&) = delete;
  tls_client_trust& operator=(const tls_client_trust&) = delete;
  std::size_t ca_count() const;

  struct state;
  const state& get() const { return *state_; }

 private:
  explicit tls_client_trust(std::unique_ptr<state> s);
  std::unique_ptr<state> state_;
};

// Why the server's certificate failed verification (bits; 0 = it did not fail).
enum tls_verify_problem : std::uint32_t {
  tls_not_trusted = 1u << 0,    // the chain does not lead to a trusted CA
  tls_expired = 1u << 1,        // a certificate is past its notAfter date
  tls_not_yet_valid = 1u << 2,  // ... or before its notBefore date
  tls_host_mismatch = 1u << 3,  // the leaf names neither the host name nor the address dialled
  tls_other_problem = 1u << 4,  // key usage, weak key or digest, bad signature, revoked, ...
};

// What one handshake showed, for diagnosing a failure.
struct tls_handshake_report {
  bool handshake_done = false;
  std::uint32_t verify_problems = 0;   // tls_verify_problem bits
  std::string verify_text;             // mbedTLS's description of the problems, one line
  int alert_received = -1;             // the TLS alert description the server sent, -1 none
  bool certificate_requested = false;  // the server sent a CertificateRequest
  bool peer_closed = false;            // the connection closed (EOF or reset) during the handshake
  std::string error;                   // mbedTLS's text of the error that ended it, if any
};

// A TLS alert's name as RFC 8446 spells it ("handshake failure", "unknown CA", ...), or
// "number N".
std::string tls_alert_name(int alert);

class tls_client_session {
 public:
  enum class io {
    done,        // the call did all it could (see its contract)
    want_read,   // call again once the socket is readable
    want_write,  // call again once the socket is writable
    closed,      // the server closed the session (close_notify or EOF)
    failed,      // a TLS or socket error; the session is over (report() says why)
  };

  // `host`: the name or IP address literal from the broker's address (no brackets).
  tls_client_session(std::shared_ptr<const tls_client_trust> trust, int fd, std::string_view host);
  ~tls_client_session();
  tls_client_session(const tls_client_session&) = delete;
  tls_client_session& operator=(const tls_client_session&) = delete;

  // done once the handshake completed and the server was verified.
  io handshake();
  // Reads up to `n` bytes of application data into `buf`: done with `got` > 0, want_read with
  // `got` = 0 when nothing is there now, closed, or failed.
  io read(char* buf, std::size_t n, std::size_t& got);
  // Writes from `buf`: done with `wrote` > 0 bytes taken (may be fewer than `n`; call again with
  // the rest). want_write with `wrote` = 0: the TLS record already made from a previous call is
  // still being sent; call again, once writable, with the *same* bytes at the front of `buf` and
  // at least as many of them.
  io write(const char* buf, std::size_t n, std::size_t& wrote);
  // Sends close_notify (best effort, never blocks).
  void close_notify();
  const tls_handshake_report& report() const { return report_; }
  // The protocol agreed ("TLSv1.2"), after the handshake.
  std::string version() const;

  struct state;

 private:
  io fail(int ret);
  std::unique_ptr<state> s_;
  tls_handshake_report report_;
};

}  // namespace portier::platform
