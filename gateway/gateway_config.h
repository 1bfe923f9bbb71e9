// portierd's configuration: loaded from a text-format file (proto/config.proto), defaults
// applied, and validated completely once. Every problem is reported as
// "FILE:LINE:COLUMN: field: what is wrong". The result is immutable; SIGHUP loads a new one.
#pragma once

#include <string>
#include <cstddef>
#include <vector>

#include "config.pb.h"
#include "platform/result.h"

namespace portier::gateway {

// The largest limits.max_payload_bytes a configuration may set.
inline constexpr std::size_t kMaxPayloadLimit = 1 << 20;

struct gateway_config {
  std::string path;
  portier::config::GatewayConfig proto;  // with every default filled in
  std::string password_local;            // read from local.password_file, if any
  std::string password_upstream;         // read from upstream.password_file, if any
};

// Errors are joined one per line.
platform::result<gateway_config> load_gateway_config(const std::string& path);

}  // namespace portier::gateway
