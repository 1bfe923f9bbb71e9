#include "gateway/mqtt/tls_diagnosis.h"

#include "gateway/mqtt/mqtt_client.h"

#include <CppUTest/TestHarness.h>

using namespace portier::gateway;
using portier::platform::tls_handshake_report;
using std::chrono::seconds;
namespace tls = portier::platform;

namespace {

tls_handshake_report verify_failed(std::uint32_t problems, std::string text = "") {
  tls_handshake_report r;
  r.verify_problems = problems;
  r.verify_text = std::move(text);
  r.error = "Certificate verification failed, e.g. CRL, CA or signature check failed";
  return r;
}

tls_handshake_report alert(int description, bool certificate_requested) {
  tls_handshake_report r;
  r.alert_received = description;
  r.certificate_requested = certificate_requested;
  return r;
}

// "<title>: <detail>" of the diagnosis, or "none".
std::string line_of(const tls_handshake_report& r, std::string_view host = "broker.example") {
  const auto d = diagnose_tls(r, host);
  return d ? tls_failure_line(*d) : "none";
}

std::string kind_of(const tls_handshake_report& r) {
  const auto d = diagnose_tls(r, "broker.example");
  return d ? std::string(tls_failure_name(d->kind)) : "none";
}

}  // namespace

TEST_GROUP(tls_diagnosis){};

TEST(tls_diagnosis, each_verify_problem_names_its_kind) {
  STRCMP_EQUAL("unknown_ca", kind_of(verify_failed(tls::tls_not_trusted)).c_str());
  STRCMP_EQUAL("expired_or_not_yet_valid", kind_of(verify_failed(tls::tls_expired)).c_str());
  STRCMP_EQUAL("expired_or_not_yet_valid", kind_of(verify_failed(tls::tls_not_yet_valid)).c_str());
  STRCMP_EQUAL("host_name_mismatch", kind_of(verify_failed(tls::tls_host_mismatch)).c_str());
  STRCMP_EQUAL("invalid_server_certificate",
               kind_of(verify_failed(tls::tls_other_problem)).c_str());
}

TEST(tls_diagnosis, an_untrusted_chain_comes_first_then_dates_then_the_name) {
  STRCMP_EQUAL("unknown_ca", kind_of(verify_failed(tls::tls_not_trusted | tls::tls_expired |
                                                   tls::tls_host_mismatch))
                                 .c_str());
  STRCMP_EQUAL("expired_or_not_yet_valid",
               kind_of(verify_failed(tls::tls_expired | tls::tls_host_mismatch)).c_str());
  STRCMP_EQUAL("host_name_mismatch",
               kind_of(verify_failed(tls::tls_host_mismatch | tls::tls_other_problem)).c_str());
}

TEST(tls_diagnosis, the_detail_is_mbedtls_verify_text_on_one_line) {
  STRCMP_EQUAL("unknown CA: The certificate is not correctly signed by the trusted CA",
               line_of(verify_failed(tls::tls_not_trusted,
                                     "The certificate is not correctly signed by the trusted CA"))
                   .c_str());
  STRCMP_EQUAL(
      "expired or not yet valid: The certificate validity has expired; x",
      line_of(verify_failed(tls::tls_expired, "The certificate validity has expired;\nx")).c_str());
}

TEST(tls_diagnosis, a_host_mismatch_names_the_host_dialled) {
  STRCMP_EQUAL("host name mismatch: the broker's certificate does not name \"broker.example\"",
               line_of(verify_failed(tls::tls_host_mismatch, "CN mismatch")).c_str());
  STRCMP_EQUAL("host name mismatch: the broker's certificate does not name \"127.0.0.1\"",
               line_of(verify_failed(tls::tls_host_mismatch), "127.0.0.1").c_str());
}

TEST(tls_diagnosis,
     a_certificate_alert_after_a_certificate_request_is_a_refused_client_certificate) {
  STRCMP_EQUAL("client certificate refused: the broker sent the alert \"handshake failure\"",
               line_of(alert(40, true)).c_str());
  STRCMP_EQUAL("client certificate refused: the broker sent the alert \"unknown CA\"",
               line_of(alert(48, true)).c_str());
  STRCMP_EQUAL("client certificate refused: the broker sent the alert \"certificate required\"",
               line_of(alert(116, true)).c_str());
  STRCMP_EQUAL("client_certificate_refused", kind_of(alert(42, true)).c_str());
  STRCMP_EQUAL("client_certificate_refused", kind_of(alert(45, true)).c_str());
}

TEST(tls_diagnosis, other_alerts_and_alerts_without_a_certificate_request_are_protocol) {
  STRCMP_EQUAL("protocol: the broker sent the alert \"protocol version\"",
               line_of(alert(70, false)).c_str());
  STRCMP_EQUAL("protocol", kind_of(alert(70, true)).c_str());
  STRCMP_EQUAL("protocol: the broker sent the alert \"handshake failure\"",
               line_of(alert(40, false)).c_str());
  STRCMP_EQUAL("protocol: the broker sent the alert \"number 200\"",
               line_of(alert(200, false)).c_str());
}

TEST(tls_diagnosis, a_failed_handshake_without_verify_problem_or_alert_is_protocol) {
  tls_handshake_report r;
  r.error = "no TLS handshake within the time limit";
  STRCMP_EQUAL("protocol: no TLS handshake within the time limit", line_of(r).c_str());
  r.peer_closed = true;
  STRCMP_EQUAL(
      "protocol: the broker closed the connection during the handshake (is the port a TLS "
      "listener?)",
      line_of(r).c_str());
}

TEST(tls_diagnosis, a_close_after_a_certificate_request_is_a_refused_client_certificate) {
  tls_handshake_report r;
  r.peer_closed = true;
  r.certificate_requested = true;
  STRCMP_EQUAL(
      "client certificate refused: the broker closed the connection after asking for a client "
      "certificate",
      line_of(r).c_str());
}

TEST(tls_diagnosis, newlines_never_reach_the_line) {
  tls_handshake_report r;
  r.error = "unexpected eof\nwhile reading\n";
  STRCMP_EQUAL("protocol: unexpected eof while reading", line_of(r).c_str());
  STRCMP_EQUAL("host name mismatch: the broker's certificate does not name \"evil host\"",
               line_of(verify_failed(tls::tls_host_mismatch), "evil\nhost").c_str());
}

TEST(tls_diagnosis, an_accepted_session_is_no_tls_failure) {
  tls_handshake_report r;
  r.handshake_done = true;
  r.certificate_requested = true;
  STRCMP_EQUAL("none", kind_of(r).c_str());
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

TEST_GROUP(mqtt_client_uri){};

TEST(mqtt_client_uri, scheme_host_and_port_of_names_addresses_and_ipv6) {
  mqtt_client::address a;
  std::string why;
  CHECK_TRUE(mqtt_client::parse_uri("ssl://cloud.example:8883", a, why));
  CHECK_TRUE(a.tls);
  STRCMP_EQUAL("cloud.example", a.host.c_str());
  STRCMP_EQUAL("8883", a.port.c_str());
  CHECK_TRUE(mqtt_client::parse_uri("mqtts://127.0.0.1:1234", a, why));
  STRCMP_EQUAL("127.0.0.1", a.host.c_str());
  STRCMP_EQUAL("1234", a.port.c_str());
  CHECK_TRUE(mqtt_client::parse_uri("ssl://[::1]:8883", a, why));
  STRCMP_EQUAL("::1", a.host.c_str());
  CHECK_TRUE(mqtt_client::parse_uri("tcp://localhost", a, why));
  CHECK_FALSE(a.tls);
  STRCMP_EQUAL("1883", a.port.c_str());
  CHECK_TRUE(mqtt_client::parse_uri("mqtts://[::1]", a, why));
  STRCMP_EQUAL("8883", a.port.c_str());
  CHECK_FALSE(mqtt_client::parse_uri("http://x:1", a, why));
  CHECK_FALSE(mqtt_client::parse_uri("ssl://:8883", a, why));
  CHECK_FALSE(mqtt_client::parse_uri("ssl://x:0", a, why));
  CHECK_FALSE(mqtt_client::parse_uri("ssl://x:65536", a, why));
  CHECK_FALSE(mqtt_client::parse_uri("ssl://[::1", a, why));
  CHECK_FALSE(why.empty());
}
