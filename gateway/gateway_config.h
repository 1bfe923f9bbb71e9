// portierd's configuration: loaded from a text-format file (proto/config.proto), defaults
// applied, and validated completely once. Every problem is reported as
// "FILE:LINE:COLUMN: field: what is wrong". The result is immutable; SIGHUP loads a new one.
// What needs the file system or the policy beyond the file itself (groups, certificates, key
// files, the consent preset against the policy) is checked by gateway/startup_checks.h.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/text_format.h>

#include "config.pb.h"
#include "platform/proto_text.h"
#include "platform/result.h"

namespace portier::gateway {

// The largest limits.max_payload_bytes a configuration may set.
inline constexpr std::size_t kMaxPayloadLimit = 1 << 20;

struct gateway_config {
  std::string path;
  portier::config::GatewayConfig proto;  // with every default filled in
  std::string password_local;            // read from local.password_file, if any
  std::string password_upstream;         // read from upstream.password_file, if any
  // Where each field was written, for errors found after loading (shared: the tree is large).
  std::shared_ptr<const google::protobuf::TextFormat::ParseInfoTree> locations;
};

// "FILE:LINE:COLUMN: field.path" of a field of `config` ("FILE: field.path" for a field the file
// does not set), to start an error message with.
std::string config_field(const gateway_config& config,
                         std::initializer_list<platform::field_step> steps);

// `s` in double quotes for an error message: at most 40 characters of it (then its length), and
// anything but printable ASCII as '?'.
std::string quoted_bounded(std::string_view s);

// Errors are joined one per line.
platform::result<gateway_config> load_gateway_config(const std::string& path);

}  // namespace portier::gateway
