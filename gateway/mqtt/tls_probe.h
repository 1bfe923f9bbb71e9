// One diagnostic TLS handshake with the upstream broker, made the way Paho makes it (same trust
// store, client certificate, SNI, and the host name checked after the handshake), to learn what
// Paho does not report: OpenSSL's verify result, the alert the broker sent, and whether it asked
// for a client certificate. Run after a failed connect only; it sends no MQTT, closes with a TLS
// close_notify, and gives up at its deadline (blocking the calling thread until then at most).
#pragma once

#include <chrono>
#include <string>

#include "gateway/mqtt/tls_diagnosis.h"

namespace portier::gateway {

struct tls_probe_settings {
  std::string host;  // as in upstream.uri, without brackets for IPv6
  std::string port;
  std::string ca_file;           // empty: none
  std::string ca_path;           // empty: none; both empty: OpenSSL's default paths
  std::string client_cert_file;  // empty: no client certificate
  std::string client_key_file;
  // For connecting and the handshake (name resolution is the system's: Paho has just resolved
  // the same name).
  std::chrono::milliseconds timeout{3000};
};

// Host and port of "ssl://HOST:PORT" / "mqtts://[V6]:PORT"; false if the URI has no port.
bool split_upstream_uri(const std::string& uri, std::string& host, std::string& port);

tls_evidence probe_tls(const tls_probe_settings& s);

}  // namespace portier::gateway
