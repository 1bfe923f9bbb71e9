#include "gateway/mqtt/tls_diagnosis.h"

#include <CppUTest/TestHarness.h>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "gateway/mqtt/tls_probe.h"

using namespace portier::gateway;
using std::chrono::seconds;

namespace {

tls_evidence connected() {
  tls_evidence e;
  e.tcp_connected = true;
  return e;
}

tls_evidence verify_failed(long result, int depth = 0) {
  auto e = connected();
  e.verify_result = result;
  e.verify_depth = depth;
  e.error = "certificate verify failed";
  return e;
}

tls_evidence alert(int description, bool certificate_requested, bool handshake_done = false) {
  auto e = connected();
  e.alert_received = description;
  e.certificate_requested = certificate_requested;
  e.handshake_done = handshake_done;
  return e;
}

// "<title>: <detail>" of the diagnosis, or "none".
std::string line_of(const tls_evidence& e) {
  const auto d = diagnose_tls(e, "broker.example");
  return d ? tls_failure_line(*d) : "none";
}

std::string kind_of(const tls_evidence& e) {
  const auto d = diagnose_tls(e, "broker.example");
  return d ? std::string(tls_failure_name(d->kind)) : "none";
}

}  // namespace

TEST_GROUP(tls_diagnosis){};

TEST(tls_diagnosis, each_verify_result_names_its_kind) {
  STRCMP_EQUAL("unknown_ca",
               kind_of(verify_failed(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY)).c_str());
  STRCMP_EQUAL("unknown_ca",
               kind_of(verify_failed(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT)).c_str());
  STRCMP_EQUAL("unknown_ca",
               kind_of(verify_failed(X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, 1)).c_str());
  STRCMP_EQUAL("unknown_ca",
               kind_of(verify_failed(X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE)).c_str());
  STRCMP_EQUAL("expired_or_not_yet_valid",
               kind_of(verify_failed(X509_V_ERR_CERT_HAS_EXPIRED)).c_str());
  STRCMP_EQUAL("expired_or_not_yet_valid",
               kind_of(verify_failed(X509_V_ERR_CERT_NOT_YET_VALID)).c_str());
  STRCMP_EQUAL("host_name_mismatch", kind_of(verify_failed(X509_V_ERR_HOSTNAME_MISMATCH)).c_str());
  STRCMP_EQUAL("host_name_mismatch",
               kind_of(verify_failed(X509_V_ERR_IP_ADDRESS_MISMATCH)).c_str());
  STRCMP_EQUAL("invalid_server_certificate",
               kind_of(verify_failed(X509_V_ERR_INVALID_PURPOSE)).c_str());
  STRCMP_EQUAL("invalid_server_certificate",
               kind_of(verify_failed(X509_V_ERR_CERT_SIGNATURE_FAILURE)).c_str());
  STRCMP_EQUAL("invalid_server_certificate",
               kind_of(verify_failed(X509_V_ERR_EE_KEY_TOO_SMALL)).c_str());
}

TEST(tls_diagnosis, the_detail_is_openssls_verify_text_on_one_line) {
  STRCMP_EQUAL("unknown CA: unable to get local issuer certificate",
               line_of(verify_failed(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY)).c_str());
  STRCMP_EQUAL("expired or not yet valid: certificate has expired",
               line_of(verify_failed(X509_V_ERR_CERT_HAS_EXPIRED)).c_str());
  STRCMP_EQUAL(
      "expired or not yet valid: certificate is not yet valid (certificate 1 of the chain)",
      line_of(verify_failed(X509_V_ERR_CERT_NOT_YET_VALID, 1)).c_str());
}

TEST(tls_diagnosis, a_trusted_certificate_for_another_name_is_a_host_name_mismatch) {
  auto e = connected();
  e.handshake_done = true;
  e.host_matches = false;
  STRCMP_EQUAL("host name mismatch: the broker's certificate does not name \"broker.example\"",
               line_of(e).c_str());
}

TEST(tls_diagnosis,
     a_certificate_alert_after_a_certificate_request_is_a_refused_client_certificate) {
  // TLS 1.3: the client's handshake is done when the broker refuses; TLS 1.2: it is not.
  STRCMP_EQUAL("client certificate refused: the broker sent the alert \"certificate required\"",
               line_of(alert(SSL_AD_CERTIFICATE_REQUIRED, true, true)).c_str());
  STRCMP_EQUAL("client certificate refused: the broker sent the alert \"unknown CA\"",
               line_of(alert(SSL_AD_UNKNOWN_CA, true, true)).c_str());
  STRCMP_EQUAL("client_certificate_refused",
               kind_of(alert(SSL_AD_HANDSHAKE_FAILURE, true)).c_str());
  STRCMP_EQUAL("client_certificate_refused", kind_of(alert(SSL_AD_BAD_CERTIFICATE, true)).c_str());
  STRCMP_EQUAL("client_certificate_refused",
               kind_of(alert(SSL_AD_CERTIFICATE_EXPIRED, true)).c_str());
}

TEST(tls_diagnosis, a_close_right_after_a_certificate_request_is_a_refused_client_certificate) {
  auto e = connected();
  e.handshake_done = true;
  e.certificate_requested = true;
  e.closed_after_handshake = true;
  STRCMP_EQUAL("client certificate refused: the broker closed the connection after the handshake",
               line_of(e).c_str());
  e.closed_after_handshake = false;  // it waited for MQTT's CONNECT: accepted
  STRCMP_EQUAL("none", kind_of(e).c_str());
}

TEST(tls_diagnosis, other_alerts_and_alerts_without_a_certificate_request_are_protocol) {
  STRCMP_EQUAL("protocol: the broker sent the alert \"protocol version\"",
               line_of(alert(SSL_AD_PROTOCOL_VERSION, false)).c_str());
  STRCMP_EQUAL("protocol", kind_of(alert(SSL_AD_PROTOCOL_VERSION, true)).c_str());
  STRCMP_EQUAL("protocol", kind_of(alert(SSL_AD_HANDSHAKE_FAILURE, false)).c_str());
  STRCMP_EQUAL("protocol", kind_of(alert(SSL_AD_INTERNAL_ERROR, true, true)).c_str());
}

TEST(tls_diagnosis, a_failed_handshake_without_verify_error_or_alert_is_protocol) {
  auto e = connected();
  e.error = "wrong version number";
  STRCMP_EQUAL("protocol: wrong version number", line_of(e).c_str());
  e.error = "";
  STRCMP_EQUAL(
      "protocol: the broker closed the connection during the handshake (is the port a TLS "
      "listener?)",
      line_of(e).c_str());
  e.timed_out = true;
  STRCMP_EQUAL("protocol: no TLS handshake within the time limit", line_of(e).c_str());
}

TEST(tls_diagnosis, newlines_in_openssl_texts_never_reach_the_line) {
  auto e = connected();
  e.error = "unexpected eof while reading\n";
  STRCMP_EQUAL("protocol: unexpected eof while reading", line_of(e).c_str());
  const auto d = diagnose_tls(
      [] {
        auto h = connected();
        h.handshake_done = true;
        h.host_matches = false;
        return h;
      }(),
      "evil\nhost");
  STRCMP_EQUAL("the broker's certificate does not name \"evil host\"", d->detail.c_str());
}

TEST(tls_diagnosis, no_tcp_connection_or_an_accepted_session_is_no_tls_failure) {
  STRCMP_EQUAL("none", kind_of(tls_evidence{}).c_str());
  auto e = connected();
  e.handshake_done = true;
  STRCMP_EQUAL("none", kind_of(e).c_str());
}

TEST(tls_diagnosis, every_kind_has_a_name_and_a_title) {
  for (std::size_t i = 0; i < kTlsFailureKindCount; ++i) {
    const auto kind = static_cast<tls_failure_kind>(i);
    CHECK_FALSE(tls_failure_name(kind).empty());
    CHECK_FALSE(tls_failure_title(kind).empty());
  }
  STRCMP_EQUAL("protocol", std::string(tls_failure_name(tls_failure_kind::protocol)).c_str());
}

TEST_GROUP(repeat_limiter){};

TEST(repeat_limiter, logs_the_first_then_once_per_interval_with_the_count_not_logged) {
  repeat_limiter r(seconds(60));
  const repeat_limiter::clock::time_point t0{};
  CHECK_EQUAL(0u, r.admit("a", t0).value());
  CHECK_FALSE(r.admit("a", t0 + seconds(1)).has_value());
  CHECK_FALSE(r.admit("a", t0 + seconds(59)).has_value());
  CHECK_EQUAL(2u, r.admit("a", t0 + seconds(60)).value());
  CHECK_FALSE(r.admit("a", t0 + seconds(61)).has_value());
  CHECK_EQUAL(1u, r.admit("a", t0 + seconds(125)).value());
}

TEST(repeat_limiter, a_different_line_or_a_reset_is_logged_at_once) {
  repeat_limiter r(seconds(60));
  const repeat_limiter::clock::time_point t0{};
  CHECK_EQUAL(0u, r.admit("a", t0).value());
  CHECK_FALSE(r.admit("a", t0 + seconds(1)).has_value());
  CHECK_EQUAL(0u, r.admit("b", t0 + seconds(2)).value());
  CHECK_EQUAL(0u, r.admit("a", t0 + seconds(3)).value());
  r.reset();
  CHECK_EQUAL(0u, r.admit("a", t0 + seconds(4)).value());
}

TEST_GROUP(split_upstream_uri){};

TEST(split_upstream_uri, host_and_port_of_names_addresses_and_ipv6) {
  std::string host, port;
  CHECK_TRUE(split_upstream_uri("ssl://cloud.example:8883", host, port));
  STRCMP_EQUAL("cloud.example", host.c_str());
  STRCMP_EQUAL("8883", port.c_str());
  CHECK_TRUE(split_upstream_uri("mqtts://127.0.0.1:1234", host, port));
  STRCMP_EQUAL("127.0.0.1", host.c_str());
  STRCMP_EQUAL("1234", port.c_str());
  CHECK_TRUE(split_upstream_uri("ssl://[::1]:8883", host, port));
  STRCMP_EQUAL("::1", host.c_str());
  STRCMP_EQUAL("8883", port.c_str());
  CHECK_FALSE(split_upstream_uri("ssl://cloud.example", host, port));
  CHECK_FALSE(split_upstream_uri("ssl://[::1]", host, port));
}
