#include "gateway/mqtt/tls_diagnosis.h"

#include <utility>

namespace portier::gateway {

namespace {

constexpr std::array<std::string_view, kTlsFailureKindCount> kNames{
    "host_name_mismatch",         "unknown_ca",
    "expired_or_not_yet_valid",   "client_certificate_refused",
    "invalid_server_certificate", "protocol"};
constexpr std::array<std::string_view, kTlsFailureKindCount> kTitles{
    "host name mismatch",         "unknown CA",
    "expired or not yet valid",   "client certificate refused",
    "invalid server certificate", "protocol"};

// Alerts with which a broker that asked for a client certificate refuses it (TLS 1.2 says
// handshake_failure when none came, TLS 1.3 certificate_required).
bool is_certificate_alert(int alert) {
  switch (alert) {
    case 40:   // handshake_failure
    case 42:   // bad_certificate
    case 43:   // unsupported_certificate
    case 44:   // certificate_revoked
    case 45:   // certificate_expired
    case 46:   // certificate_unknown
    case 48:   // unknown_ca
    case 49:   // access_denied
    case 116:  // certificate_required
      return true;
    default:
      return false;
  }
}

// mbedTLS's texts may hold newlines; a log line must not.
std::string one_line(std::string s) {
  for (auto& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

std::string_view tls_failure_name(tls_failure_kind kind) {
  return kNames[static_cast<std::size_t>(kind)];
}

std::string_view tls_failure_title(tls_failure_kind kind) {
  return kTitles[static_cast<std::size_t>(kind)];
}

std::optional<tls_diagnosis> diagnose_tls(const platform::tls_handshake_report& r,
                                          std::string_view host) {
  using namespace platform;
  if (r.verify_problems != 0) {
    // In the order a verifier meets them: an untrusted chain says nothing of its dates or names.
    const auto p = r.verify_problems;
    const auto kind = (p & tls_not_trusted) != 0 ? tls_failure_kind::unknown_ca
                      : (p & (tls_expired | tls_not_yet_valid)) != 0
                          ? tls_failure_kind::expired_or_not_yet_valid
                      : (p & tls_host_mismatch) != 0 ? tls_failure_kind::host_name_mismatch
                                                     : tls_failure_kind::invalid_server_certificate;
    if (kind == tls_failure_kind::host_name_mismatch) {
      return tls_diagnosis{
          kind, "the broker's certificate does not name \"" + one_line(std::string(host)) + "\""};
    }
    return tls_diagnosis{kind, one_line(r.verify_text.empty() ? r.error : r.verify_text)};
  }
  if (r.handshake_done) return std::nullopt;  // the broker accepted the session
  if (r.alert_received >= 0) {
    const auto kind = r.certificate_requested && is_certificate_alert(r.alert_received)
                          ? tls_failure_kind::client_certificate_refused
                          : tls_failure_kind::protocol;
    return tls_diagnosis{kind,
                         "the broker sent the alert \"" + tls_alert_name(r.alert_received) + "\""};
  }
  if (r.peer_closed && r.certificate_requested) {
    return tls_diagnosis{tls_failure_kind::client_certificate_refused,
                         "the broker closed the connection after asking for a client certificate"};
  }
  if (r.peer_closed) {
    return tls_diagnosis{
        tls_failure_kind::protocol,
        "the broker closed the connection during the handshake (is the port a TLS listener?)"};
  }
  return tls_diagnosis{tls_failure_kind::protocol,
                       r.error.empty() ? "the handshake failed" : one_line(r.error)};
}

std::string tls_failure_line(const tls_diagnosis& d) {
  return std::string(tls_failure_title(d.kind)) + ": " + d.detail;
}

std::optional<std::uint64_t> repeat_limiter::admit(const std::string& key, clock::time_point now) {
  if (last_ != key) {
    last_ = key;
    logged_at_ = now;
    suppressed_ = 0;
    return 0;
  }
  if (now - logged_at_ < interval_) {
    ++suppressed_;
    return std::nullopt;
  }
  logged_at_ = now;
  return std::exchange(suppressed_, 0);
}

}  // namespace portier::gateway
