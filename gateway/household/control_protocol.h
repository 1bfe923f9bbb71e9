// Constants of the control protocol shared by portierd and its clients (docs/CONTROL.md).
#pragma once

#include <cstddef>
#include <cstdint>

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
// A pairing code as typed (redeem_pairing), in bytes.
inline constexpr std::size_t kMaxPairingCodeBytes = 32;
// What the LAN page may announce (web_announce): addresses, their length, the fingerprint's.
inline constexpr std::size_t kMaxWebUrls = 8;
inline constexpr std::size_t kMaxWebUrlBytes = 256;
inline constexpr std::size_t kWebFingerprintChars = 95;
// Report buckets (ReportRequest.bucket_ms): at least a minute each, at most this many.
inline constexpr std::int64_t kMinBucketMs = 60'000;
inline constexpr std::int64_t kMaxReportBuckets = 1000;
// policy_history: the default and the largest limit.
inline constexpr std::uint32_t kDefaultPolicyHistory = 50;
inline constexpr std::uint32_t kMaxPolicyHistory = 1000;

// How many buckets of `bucket_ms` (> 0) a report from `since_ms` to `now_ms` has: at least one.
constexpr std::int64_t report_buckets(std::int64_t since_ms, std::int64_t bucket_ms,
                                      std::int64_t now_ms) {
  if (now_ms <= since_ms) return 1;
  return (now_ms - since_ms + bucket_ms - 1) / bucket_ms;
}

}  // namespace portier::gateway
