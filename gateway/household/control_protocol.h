// Constants of the control protocol shared by portierd and its clients (docs/CONTROL.md).
#pragma once

#include <cstddef>

namespace portier::gateway {

// Where portierd listens and portierctl connects unless told otherwise.
inline constexpr const char* kDefaultControlSocket = "/run/portier/control.sock";
// The group whose members may use the control socket (besides root).
inline constexpr const char* kDefaultControlGroup = "portier";
// Largest request body a server accepts by default: requests carry a few ids, never data.
inline constexpr std::size_t kMaxControlRequestBytes = 64 * 1024;
// Largest response body a server sends and a client accepts: an export of a full ledger.
inline constexpr std::size_t kMaxControlResponseBytes = 64 * 1024 * 1024;
// Device ids and scope values in requests, in bytes of UTF-8.
inline constexpr std::size_t kMaxControlIdBytes = 256;

}  // namespace portier::gateway
