// Why a TLS connection to the upstream broker failed, from what its handshake showed
// (platform::tls_handshake_report): the certificate verification result, the host check, the
// alert the broker sent and whether it asked for a client certificate. Pure: no sockets, no clock
// of its own (mqtt_client hands the report over; upstream_egress logs and counts the result).
//
// Also the rule that keeps a broker that refuses every reconnect from flooding the log: the first
// failure is logged at once, more of the same kind at most once a minute, with how many were not
// logged; a failure of another kind, or one after a successful connect, is logged at once.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "platform/tls_client.h"

namespace portier::gateway {

enum class tls_failure_kind : std::uint8_t {
  // The chain is trusted and valid, but the certificate names neither the host name nor the IP
  // address of upstream.uri.
  host_name_mismatch,
  // The chain does not lead to a CA of ca_file / ca_path (or the system store): self-signed,
  // signed by another CA, or an intermediate missing.
  unknown_ca,
  // A certificate of the chain is past its notAfter or before its notBefore date (or the
  // gateway's clock is wrong).
  expired_or_not_yet_valid,
  // The broker asked for a client certificate and refused the one sent (or that none was sent):
  // it answered with a certificate alert.
  client_certificate_refused,
  // Any other verification failure of the broker's certificate: wrong key usage or purpose, a bad
  // signature, a key or digest too weak for the security level.
  invalid_server_certificate,
  // No TLS session could be agreed: no common version or cipher, an answer that is not TLS
  // (a plain MQTT port), the connection closed or silent during the handshake, another alert.
  protocol,
};
inline constexpr std::size_t kTlsFailureKindCount = 6;

// "host_name_mismatch", ...: for counters and the status.
std::string_view tls_failure_name(tls_failure_kind kind);
// "host name mismatch", ...: for the log.
std::string_view tls_failure_title(tls_failure_kind kind);

struct tls_diagnosis {
  tls_failure_kind kind;
  std::string detail;  // one line, no newline: what mbedTLS said, in its words, or the alert
};

// The kind of failure and a one-line detail; nullopt when the report shows no TLS failure (a
// session the broker accepted).
std::optional<tls_diagnosis> diagnose_tls(const platform::tls_handshake_report& r,
                                          std::string_view host);

// The log line's text after "upstream TLS: ": "<title>: <detail>".
std::string tls_failure_line(const tls_diagnosis& d);

// Which of a run of events with the same key (the failure kind) to log (see the header
// paragraph). Not thread-safe.
class repeat_limiter {
 public:
  using clock = std::chrono::steady_clock;
  explicit repeat_limiter(clock::duration interval) : interval_(interval) {}
  // nullopt: do not log this event now. Otherwise log it, with the returned number of events
  // with its key that were not logged since the last one that was (0 for a new key).
  std::optional<std::uint64_t> admit(const std::string& key, clock::time_point now);
  // The next event is logged whatever its key (after a successful connect).
  void reset() { last_.reset(); }

 private:
  clock::duration interval_;
  std::optional<std::string> last_;
  clock::time_point logged_at_{};
  std::uint64_t suppressed_ = 0;
};

}  // namespace portier::gateway
