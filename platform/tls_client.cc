#include "platform/tls_client.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <system_error>
#include <vector>

#include "platform/file.h"
#include "platform/mbedtls_compat.h"

namespace portier::platform {

namespace {

constexpr const char* kSystemBundle = "/etc/ssl/certs/ca-certificates.crt";
constexpr const char* kSystemDir = "/etc/ssl/certs";

std::string mbedtls_text(int ret) {
  std::array<char, 160> buf{};
  mbedtls_strerror(ret, buf.data(), buf.size());
  std::string s = buf.data();
  // mbedTLS prefixes "SSL - ", "X509 - ": keep its words, drop the module.
  if (const auto dash = s.find(" - "); dash != std::string::npos && dash < 12) s.erase(0, dash + 3);
  return s;
}

std::string one_line(std::string s) {
  for (auto& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  std::string out;
  for (char c : s) {
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Every regular file of `dir` once (hash links resolved to their target), in name order.
std::vector<std::string> files_of(const std::string& dir, std::string& error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::set<std::string> seen;
  std::vector<std::string> out;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    error = "ca_path " + dir + ": " + ec.message();
    return out;
  }
  std::vector<fs::path> names;
  for (const auto& entry : it) names.push_back(entry.path());
  std::sort(names.begin(), names.end());
  for (const auto& p : names) {
    const auto real = fs::canonical(p, ec);
    if (ec || !fs::is_regular_file(real, ec)) continue;
    if (seen.insert(real.string()).second) out.push_back(real.string());
  }
  return out;
}

}  // namespace

// ------------------------------------------------------------------------------ trust

struct tls_client_trust::state {
  mbedtls_x509_crt ca;
  mbedtls_x509_crt own_cert;
  mbedtls_pk_context own_key;
  bool has_own = false;
  std::size_t ca_count = 0;
  state() {
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crt_init(&own_cert);
    mbedtls_pk_init(&own_key);
  }
  ~state() {
    mbedtls_x509_crt_free(&ca);
    mbedtls_x509_crt_free(&own_cert);
    mbedtls_pk_free(&own_key);
  }
};

tls_client_trust::tls_client_trust(std::unique_ptr<state> s) : state_(std::move(s)) {}
tls_client_trust::~tls_client_trust() = default;
std::size_t tls_client_trust::ca_count() const {
  return state_->ca_count;
}

std::shared_ptr<const tls_client_trust> tls_client_trust::load(const tls_client_files& files,
                                                               std::string& error) {
  auto s = std::make_unique<state>();
  auto count = [&] {
    std::size_t n = 0;
    for (const mbedtls_x509_crt* c = &s->ca; c != nullptr && c->raw.len > 0; c = c->next) ++n;
    return n;
  };
  if (!files.ca_file.empty()) {
    const int ret = mbedtls_x509_crt_parse_file(&s->ca, files.ca_file.c_str());
    if (ret < 0) {
      error = "ca_file " + files.ca_file + ": " + mbedtls_text(ret);
      return nullptr;
    }
  }
  std::string dir = files.ca_path;
  if (files.ca_file.empty() && files.ca_path.empty()) {
    // The system's trust store: its bundle when there is one (each CA once), else its files.
    if (::access(kSystemBundle, R_OK) == 0) {
      const int ret = mbedtls_x509_crt_parse_file(&s->ca, kSystemBundle);
      if (ret < 0) {
        error = std::string("the system's CA bundle ") + kSystemBundle + ": " + mbedtls_text(ret);
        return nullptr;
      }
    } else {
      dir = kSystemDir;
    }
  }
  if (!dir.empty()) {
    // Files that are not certificates (a README, a CRL) are skipped, as OpenSSL's CApath does.
    for (const auto& f : files_of(dir, error)) mbedtls_x509_crt_parse_file(&s->ca, f.c_str());
    if (!error.empty()) return nullptr;
  }
  s->ca_count = count();
  if (s->ca_count == 0) {
    error =
        files.ca_file.empty() && files.ca_path.empty()
            ? "no CA certificate in the system's trust store (" + std::string(kSystemDir) + ")"
            : "no CA certificate could be read from " +
                  (files.ca_file.empty() ? "ca_path " + files.ca_path : "ca_file " + files.ca_file);
    return nullptr;
  }
  if (!files.client_cert_file.empty()) {
    int ret = mbedtls_x509_crt_parse_file(&s->own_cert, files.client_cert_file.c_str());
    if (ret != 0) {
      error = "client_cert_file " + files.client_cert_file + ": " +
              (ret < 0 ? mbedtls_text(ret) : "a certificate in it cannot be read");
      return nullptr;
    }
    auto key = read_file(files.client_key_file, 1 << 20);
    if (!key) {
      error = "client_key_file " + files.client_key_file + ": " + key.error_message();
      return nullptr;
    }
    key->push_back('\0');  // PEM: the length counts the terminating NUL
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, nullptr, 0);
    if (ret == 0) {
      ret = mbedtls_compat::pk_parse_key(&s->own_key,
                                         reinterpret_cast<const unsigned char*>(key->data()),
                                         key->size(), mbedtls_ctr_drbg_random, &drbg);
      // DER: without the NUL.
      if (ret != 0)
        ret = mbedtls_compat::pk_parse_key(&s->own_key,
                                           reinterpret_cast<const unsigned char*>(key->data()),
                                           key->size() - 1, mbedtls_ctr_drbg_random, &drbg);
    }
    std::fill(key->begin(), key->end(), '\0');
    if (ret != 0) {
      error = "client_key_file " + files.client_key_file + ": " + mbedtls_text(ret);
    } else if (mbedtls_compat::pk_check_pair(&s->own_cert.pk, &s->own_key, mbedtls_ctr_drbg_random,
                                             &drbg) != 0) {
      error = "client_key_file " + files.client_key_file +
              ": the key does not match the certificate of client_cert_file";
    }
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    if (!error.empty()) return nullptr;
    s->has_own = true;
  }
  return std::shared_ptr<const tls_client_trust>(new tls_client_trust(std::move(s)));
}

std::string tls_alert_name(int alert) {
  switch (alert) {
    case 0:
      return "close notify";
    case 10:
      return "unexpected message";
    case 20:
      return "bad record MAC";
    case 22:
      return "record overflow";
    case 40:
      return "handshake failure";
    case 42:
      return "bad certificate";
    case 43:
      return "unsupported certificate";
    case 44:
      return "certificate revoked";
    case 45:
      return "certificate expired";
    case 46:
      return "certificate unknown";
    case 47:
      return "illegal parameter";
    case 48:
      return "unknown CA";
    case 49:
      return "access denied";
    case 50:
      return "decode error";
    case 51:
      return "decrypt error";
    case 70:
      return "protocol version";
    case 71:
      return "insufficient security";
    case 80:
      return "internal error";
    case 86:
      return "inappropriate fallback";
    case 90:
      return "user canceled";
    case 109:
      return "missing extension";
    case 110:
      return "unsupported extension";
    case 112:
      return "unrecognized name";
    case 115:
      return "unknown PSK identity";
    case 116:
      return "certificate required";
    case 120:
      return "no application protocol";
    default:
      return "number " + std::to_string(alert);
  }
}

// ------------------------------------------------------------------------------ session

namespace {

// Watches the server's bytes while the handshake is in the clear (up to its ChangeCipherSpec):
// which handshake messages came (a CertificateRequest) and the alert it sent, if any. mbedTLS
// does not tell either through its API in both 2.28 and 3.6.
class handshake_sniffer {
 public:
  void feed(const unsigned char* p, std::size_t n) {
    for (std::size_t i = 0; i < n && !encrypted_; ++i) byte(p[i]);
  }
  bool certificate_requested = false;
  int alert = -1;

 private:
  void byte(unsigned char b) {
    if (header_got_ < 5) {
      header_[header_got_++] = b;
      if (header_got_ == 5) {
        record_left_ = (std::size_t{header_[3]} << 8) | header_[4];
        if (header_[0] == 20) encrypted_ = true;  // ChangeCipherSpec: the rest is encrypted
        alert_got_ = 0;
        if (record_left_ == 0) header_got_ = 0;
      }
      return;
    }
    if (header_[0] == 22) {  // handshake: messages of 4-byte header + body, across records
      if (msg_header_got_ < 4) {
        msg_header_[msg_header_got_++] = b;
        if (msg_header_got_ == 4) {
          if (msg_header_[0] == 13) certificate_requested = true;
          msg_left_ = (std::size_t{msg_header_[1]} << 16) | (std::size_t{msg_header_[2]} << 8) |
                      msg_header_[3];
          if (msg_left_ == 0) msg_header_got_ = 0;
        }
      } else if (--msg_left_ == 0) {
        msg_header_got_ = 0;
      }
    } else if (header_[0] == 21) {  // alert: level, description
      if (alert_got_++ == 1) alert = b;
    }
    if (--record_left_ == 0) header_got_ = 0;
  }

  std::array<unsigned char, 5> header_{};
  std::size_t header_got_ = 0, record_left_ = 0;
  std::array<unsigned char, 4> msg_header_{};
  std::size_t msg_header_got_ = 0, msg_left_ = 0;
  std::size_t alert_got_ = 0;
  bool encrypted_ = false;
};

bool parse_ip(std::string_view host, std::array<unsigned char, 16>& out, std::size_t& len) {
  const std::string h(host);
  if (::inet_pton(AF_INET, h.c_str(), out.data()) == 1) {
    len = 4;
    return true;
  }
  if (::inet_pton(AF_INET6, h.c_str(), out.data()) == 1) {
    len = 16;
    return true;
  }
  return false;
}

// Whether the certificate's subjectAltName has an iPAddress entry equal to `ip`.
bool names_ip(const mbedtls_x509_crt& crt, const unsigned char* ip, std::size_t ip_len) {
  unsigned char* p = crt.v3_ext.p;
  if (p == nullptr || crt.v3_ext.len == 0) return false;
  unsigned char* const end = p + crt.v3_ext.len;
  std::size_t len = 0;
  // [3] EXPLICIT Extensions: mbedTLS's v3_ext starts inside the [3], at the SEQUENCE OF
  // Extension (accept the [3] too, should a version keep it).
  if (*p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3) &&
      mbedtls_asn1_get_tag(&p, end, &len,
                           MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3) != 0)
    return false;
  if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
    return false;
  unsigned char* const exts_end = p + len;
  while (p < exts_end) {
    if (mbedtls_asn1_get_tag(&p, exts_end, &len,
                             MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
      return false;
    unsigned char* const ext_end = p + len;
    mbedtls_asn1_buf oid{};
    oid.tag = MBEDTLS_ASN1_OID;
    if (mbedtls_asn1_get_tag(&p, ext_end, &oid.len, MBEDTLS_ASN1_OID) != 0) return false;
    oid.p = p;
    p += oid.len;
    int critical = 0;
    if (p < ext_end && *p == MBEDTLS_ASN1_BOOLEAN &&
        mbedtls_asn1_get_bool(&p, ext_end, &critical) != 0)
      return false;
    if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING) != 0) return false;
    if (MBEDTLS_OID_CMP(MBEDTLS_OID_SUBJECT_ALT_NAME, &oid) == 0) {
      unsigned char* q = p;
      unsigned char* const san_end = p + len;
      std::size_t seq_len = 0;
      if (mbedtls_asn1_get_tag(&q, san_end, &seq_len,
                               MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
        return false;
      while (q < san_end) {
        const unsigned char tag = *q++;
        std::size_t n = 0;
        if (mbedtls_asn1_get_len(&q, san_end, &n) != 0) return false;
        if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && n == ip_len &&
            std::memcmp(q, ip, ip_len) == 0)
          return true;
        q += n;
      }
      return false;
    }
    p = ext_end;
  }
  return false;
}

}  // namespace

struct tls_client_session::state {
  std::shared_ptr<const tls_client_trust> trust;
  int fd = -1;
  std::array<unsigned char, 16> ip{};
  std::size_t ip_len = 0;  // > 0: the host is an IP address literal
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_ssl_config conf;
  mbedtls_ssl_context ssl;
  handshake_sniffer sniffer;
  bool handshaking = true;
  bool eof = false;
  std::size_t pending_write = 0;  // length of the write mbedTLS is still sending

  state() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_ssl_config_init(&conf);
    mbedtls_ssl_init(&ssl);
  }
  ~state() {
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }

  static int send_cb(void* ctx, const unsigned char* buf, std::size_t len) {
    auto* s = static_cast<state*>(ctx);
    const ssize_t n = ::send(s->fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_WRITE;
    if (errno == EINTR) return MBEDTLS_ERR_SSL_WANT_WRITE;
    if (errno == EPIPE || errno == ECONNRESET) {
      s->eof = true;
      return MBEDTLS_ERR_NET_CONN_RESET;
    }
    return MBEDTLS_ERR_NET_SEND_FAILED;
  }
  static int recv_cb(void* ctx, unsigned char* buf, std::size_t len) {
    auto* s = static_cast<state*>(ctx);
    const ssize_t n = ::recv(s->fd, buf, len, 0);
    if (n > 0) {
      if (s->handshaking) s->sniffer.feed(buf, static_cast<std::size_t>(n));
      return static_cast<int>(n);
    }
    if (n == 0) {
      s->eof = true;
      return 0;  // EOF: mbedTLS reports MBEDTLS_ERR_SSL_CONN_EOF
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return MBEDTLS_ERR_SSL_WANT_READ;
    if (errno == ECONNRESET) {
      s->eof = true;
      return MBEDTLS_ERR_NET_CONN_RESET;
    }
    return MBEDTLS_ERR_NET_RECV_FAILED;
  }
  // Adds the host check for an IP address literal (mbedTLS 2.28 checks only DNS names).
  static int verify_cb(void* ctx, mbedtls_x509_crt* crt, int depth, std::uint32_t* flags) {
    auto* s = static_cast<state*>(ctx);
    if (depth == 0 && s->ip_len > 0 && !names_ip(*crt, s->ip.data(), s->ip_len))
      *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
    return 0;
  }
};

tls_client_session::tls_client_session(std::shared_ptr<const tls_client_trust> trust, int fd,
                                       std::string_view host)
    : s_(std::make_unique<state>()) {
  s_->trust = std::move(trust);
  s_->fd = fd;
  auto& st = const_cast<tls_client_trust::state&>(s_->trust->get());
  int ret = mbedtls_ctr_drbg_seed(&s_->drbg, mbedtls_entropy_func, &s_->entropy,
                                  reinterpret_cast<const unsigned char*>("portier-tls"), 11);
  if (ret == 0)
    ret = mbedtls_ssl_config_defaults(&s_->conf, MBEDTLS_SSL_IS_CLIENT,
                                      MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret == 0) {
    mbedtls_ssl_conf_rng(&s_->conf, mbedtls_ctr_drbg_random, &s_->drbg);
    mbedtls_ssl_conf_authmode(&s_->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&s_->conf, &st.ca, nullptr);
    mbedtls_ssl_conf_verify(&s_->conf, &state::verify_cb, s_.get());
    mbedtls_compat::ssl_conf_tls12_only(&s_->conf);
    if (st.has_own) ret = mbedtls_ssl_conf_own_cert(&s_->conf, &st.own_cert, &st.own_key);
  }
  if (ret == 0) ret = mbedtls_ssl_setup(&s_->ssl, &s_->conf);
  if (ret == 0) {
    if (parse_ip(host, s_->ip, s_->ip_len)) {
      ret = mbedtls_ssl_set_hostname(&s_->ssl, nullptr);  // checked by verify_cb; no SNI for IPs
    } else {
      ret = mbedtls_ssl_set_hostname(&s_->ssl, std::string(host).c_str());
    }
  }
  if (ret != 0) {
    report_.error = mbedtls_text(ret);
    s_->handshaking = false;
    s_->fd = -1;  // every call fails
    return;
  }
  mbedtls_ssl_set_bio(&s_->ssl, s_.get(), &state::send_cb, &state::recv_cb, nullptr);
}

tls_client_session::~tls_client_session() = default;

tls_client_session::io tls_client_session::fail(int ret) {
  if (ret == MBEDTLS_ERR_SSL_WANT_READ) return io::want_read;
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) return io::want_write;
  const bool handshake = s_->handshaking;
  s_->handshaking = false;
  if (handshake) {
    // The server's alert may still wait unread (our write failed first): read what is there.
    std::array<unsigned char, 512> rest{};
    for (int i = 0; i < 16 && s_->sniffer.alert < 0; ++i) {
      const ssize_t n = ::recv(s_->fd, rest.data(), rest.size(), MSG_DONTWAIT);
      if (n <= 0) break;
      s_->sniffer.feed(rest.data(), static_cast<std::size_t>(n));
    }
    report_.certificate_requested = s_->sniffer.certificate_requested;
    report_.alert_received = s_->sniffer.alert;
    report_.peer_closed = s_->eof;
    const std::uint32_t flags = mbedtls_ssl_get_verify_result(&s_->ssl);
    if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0 && flags != std::uint32_t(-1)) {
      std::uint32_t p = 0;
      if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) p |= tls_not_trusted;
      if (flags & MBEDTLS_X509_BADCERT_EXPIRED) p |= tls_expired;
      if (flags & MBEDTLS_X509_BADCERT_FUTURE) p |= tls_not_yet_valid;
      if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) p |= tls_host_mismatch;
      if (flags & ~std::uint32_t(MBEDTLS_X509_BADCERT_NOT_TRUSTED | MBEDTLS_X509_BADCERT_EXPIRED |
                                 MBEDTLS_X509_BADCERT_FUTURE | MBEDTLS_X509_BADCERT_CN_MISMATCH))
        p |= tls_other_problem;
      report_.verify_problems = p;
      std::array<char, 512> info{};
      mbedtls_x509_crt_verify_info(info.data(), info.size(), "", flags);
      std::string text = info.data();
      for (std::size_t i = 0; i + 1 < text.size(); ++i)
        if (text[i] == '\n') text[i] = ';';
      report_.verify_text = one_line(text);
      if (!report_.verify_text.empty() && report_.verify_text.back() == ';')
        report_.verify_text.pop_back();
    }
    if (ret != MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE || report_.alert_received < 0)
      report_.error = mbedtls_text(ret);
  } else {
    report_.error = mbedtls_text(ret);
  }
  if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_SSL_CONN_EOF ||
      ret == MBEDTLS_ERR_NET_CONN_RESET)
    return io::closed;
  return io::failed;
}

tls_client_session::io tls_client_session::handshake() {
  if (s_->fd < 0) return io::failed;
  const int ret = mbedtls_ssl_handshake(&s_->ssl);
  if (ret == 0) {
    s_->handshaking = false;
    report_.handshake_done = true;
    report_.certificate_requested = s_->sniffer.certificate_requested;
    return io::done;
  }
  const auto r = fail(ret);
  return r == io::closed ? io::failed : r;  // a close during the handshake is a failure
}

tls_client_session::io tls_client_session::read(char* buf, std::size_t n, std::size_t& got) {
  got = 0;
  if (s_->fd < 0) return io::failed;
  const int ret = mbedtls_ssl_read(&s_->ssl, reinterpret_cast<unsigned char*>(buf), n);
  if (ret > 0) {
    got = static_cast<std::size_t>(ret);
    return io::done;
  }
  if (ret == 0) return io::closed;
  return fail(ret);
}

tls_client_session::io tls_client_session::write(const char* buf, std::size_t n,
                                                 std::size_t& wrote) {
  wrote = 0;
  if (s_->fd < 0) return io::failed;
  // mbedTLS needs the same length again after WANT_WRITE: it already made the record from it.
  const std::size_t len = s_->pending_write > 0 ? s_->pending_write : n;
  const int ret = mbedtls_ssl_write(&s_->ssl, reinterpret_cast<const unsigned char*>(buf), len);
  if (ret > 0) {
    s_->pending_write = 0;
    wrote = static_cast<std::size_t>(ret);
    return io::done;
  }
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ)
    s_->pending_write = len;
  return fail(ret);
}

void tls_client_session::close_notify() {
  if (s_->fd >= 0 && !s_->handshaking) mbedtls_ssl_close_notify(&s_->ssl);
}

std::string tls_client_session::version() const {
  const char* v = mbedtls_ssl_get_version(&s_->ssl);
  return v != nullptr ? v : "";
}

}  // namespace portier::platform
