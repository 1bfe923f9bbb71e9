#include "gateway/mqtt/tls_diagnosis.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

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

tls_failure_kind kind_of_verify_result(long result) {
  switch (result) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return tls_failure_kind::host_name_mismatch;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
      return tls_failure_kind::unknown_ca;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
      return tls_failure_kind::expired_or_not_yet_valid;
    default:
      return tls_failure_kind::invalid_server_certificate;
  }
}

// Alerts with which a broker that asked for a client certificate refuses it (TLS 1.2 says
// handshake_failure when none came, TLS 1.3 certificate_required).
bool is_certificate_alert(int alert) {
  switch (alert) {
    case SSL_AD_HANDSHAKE_FAILURE:
    case SSL_AD_BAD_CERTIFICATE:
    case SSL_AD_UNSUPPORTED_CERTIFICATE:
    case SSL_AD_CERTIFICATE_REVOKED:
    case SSL_AD_CERTIFICATE_EXPIRED:
    case SSL_AD_CERTIFICATE_UNKNOWN:
    case SSL_AD_UNKNOWN_CA:
    case SSL_AD_ACCESS_DENIED:
    case SSL_AD_CERTIFICATE_REQUIRED:
      return true;
    default:
      return false;
  }
}

std::string alert_detail(int alert) {
  std::string name = SSL_alert_desc_string_long(alert);
  // OpenSSL 3.0 has no name for the alerts TLS 1.3 added.
  if (alert == SSL_AD_CERTIFICATE_REQUIRED) name = "certificate required";
  if (alert == SSL_AD_MISSING_EXTENSION) name = "missing extension";
  if (name == "unknown") name = "number " + std::to_string(alert);
  return "the broker sent the alert \"" + name + "\"";
}

// OpenSSL's texts may end in a newline; a log line must not.
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

std::optional<tls_diagnosis> diagnose_tls(const tls_evidence& e, std::string_view host) {
  if (!e.tcp_connected) return std::nullopt;
  if (e.verify_result != X509_V_OK) {
    std::string detail = X509_verify_cert_error_string(e.verify_result);
    if (e.verify_depth > 0)
      detail += " (certificate " + std::to_string(e.verify_depth) + " of the chain)";
    return tls_diagnosis{kind_of_verify_result(e.verify_result), one_line(std::move(detail))};
  }
  if (e.handshake_done && !e.host_matches) {
    return tls_diagnosis{
        tls_failure_kind::host_name_mismatch,
        "the broker's certificate does not name \"" + one_line(std::string(host)) + "\""};
  }
  if (e.alert_received >= 0) {
    const auto kind = e.certificate_requested && is_certificate_alert(e.alert_received)
                          ? tls_failure_kind::client_certificate_refused
                          : tls_failure_kind::protocol;
    return tls_diagnosis{kind, alert_detail(e.alert_received)};
  }
  if (e.handshake_done && e.certificate_requested && e.closed_after_handshake) {
    return tls_diagnosis{tls_failure_kind::client_certificate_refused,
                         "the broker closed the connection after the handshake"};
  }
  if (e.handshake_done) return std::nullopt;  // the broker accepted the session
  if (e.timed_out)
    return tls_diagnosis{tls_failure_kind::protocol, "no TLS handshake within the time limit"};
  return tls_diagnosis{
      tls_failure_kind::protocol,
      e.error.empty()
          ? "the broker closed the connection during the handshake (is the port a TLS listener?)"
          : one_line(e.error)};
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
