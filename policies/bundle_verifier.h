// Verifying remote policy updates (bundle.proto; operator's guide: docs/POLICY-UPDATES.md).
// Pure: no I/O, no clock (now is unix seconds, given), no threads; the input is hostile bytes as
// they arrived from the broker. Every rejection carries exactly one reason and a one-line detail
// that never quotes policy text or payloads.
//
// The daemon's part:
//   key list on portier/.../keys:
//     auto v = update_key_list(state, bytes, now);
//     if (v.accepted()) { persist(trust_state_to_proto(*v.state)); state = std::move(*v.state); }
//   bundle on portier/.../policy:
//     auto v = verify_bundle(state, bytes, gateway_id, class_ids(running_policy), now, max_bytes);
//     if (v.accepted()) { write v.bundle->file() to the policy dir; swap in v.policy;
//                         record_applied(state, *v.bundle); persist(trust_state_to_proto(state)); }
//     report v.reason / v.detail / v.errors on portier/{gateway}/status and in the ledger.
// A rejected update changes nothing. A retained message is delivered again on every reconnect:
// `rollback` with v.sequence == state.applied_sequence (or v.version == state.key_list_version)
// is the update already in force, not an attack; report it quietly.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bundle.pb.h"
#include "policies/compiled_policy.h"
#include "policies/trust_state.h"

namespace portier::policies {

enum class update_rejection : std::uint8_t {
  // The message is over the size limit; nothing was parsed.
  too_large,
  // Not a well-formed signed message, a signature that does not verify, or signed bytes that are
  // not the kind of message expected (a key list where a bundle belongs, another format version).
  bad_signature,
  // Signed by a key the gateway does not trust: a bundle whose key id is not in the current key
  // list (or no key list yet); a key list not signed by the current root.
  unknown_key,
  // Sequence (bundle) or version (key list) not greater than the one in force: a replay or a
  // downgrade.
  rollback,
  // Past its expires_at, issued more than kMaxClockSkewSeconds in the future, or (bundles) the
  // key list that vouches for the signing key has expired.
  expired,
  // A valid bundle for other gateways.
  not_targeted,
  // A valid bundle whose policy files do not parse or compile (errors in bundle_verdict::errors),
  // or whose file list is malformed (names, count).
  invalid_policy,
  // A key list, correctly signed, with malformed content: a key that is not P-256, a key id that
  // does not match its key, a duplicate, the root listed as an operator key, too many keys.
  invalid_key_list,
};

inline constexpr std::size_t kUpdateRejectionCount = 8;

// "too-large", "bad-signature", "unknown-key", "rollback", "expired", "not-targeted",
// "invalid-policy", "invalid-key-list": stable names for status, ledger and metrics.
std::string_view update_rejection_name(update_rejection r);

inline constexpr std::string_view kBundleFormat = "portier.policy-bundle.v1";
inline constexpr std::string_view kKeyListFormat = "portier.key-list.v1";
// How far a bundle's issued_at may lie ahead of the gateway's clock.
inline constexpr std::int64_t kMaxClockSkewSeconds = 300;
inline constexpr std::size_t kDefaultMaxBundleBytes = 4 << 20;
inline constexpr std::size_t kMaxKeyListBytes = 64 * 1024;
inline constexpr std::size_t kMaxOperatorKeys = 32;
inline constexpr std::size_t kMaxBundleFiles = 64;

struct key_list_verdict {
  std::optional<trust_state> state;  // accepted: the state to persist, then adopt
  update_rejection reason = update_rejection::bad_signature;  // when rejected
  std::string detail;                                         // one line, for logs and status
  std::uint64_t version = 0;  // the list's version, once its signature verified
  bool accepted() const { return state.has_value(); }
};

// Checks, in this order: size (kMaxKeyListBytes) → too-large; parse → bad-signature; signed by
// the current root (root_key_id) → unknown-key; root signature → bad-signature; format →
// bad-signature; with a new root: its key → invalid-key-list, and its signature over the same
// bytes → bad-signature (TUF: a root rotation is signed by the old and the new root); version >
// state.key_list_version → rollback; now <= expires_at → expired; keys → invalid-key-list.
// The accepted list replaces every operator key (keys not listed are revoked) and, with a new
// root, the root. applied_sequence is kept.
key_list_verdict update_key_list(const trust_state& state, std::string_view signed_key_list,
                                 std::int64_t now);

struct bundle_verdict {
  std::optional<bundle::PolicyBundle> bundle;     // accepted
  std::shared_ptr<const compiled_policy> policy;  // accepted: the bundle's policy, compiled
  update_rejection reason = update_rejection::bad_signature;  // when rejected
  std::string detail;                                         // one line, for logs and status
  std::vector<std::string> errors;  // invalid_policy: every error, "FILE:LINE:COLUMN: FIELD: …"
  std::string key_id;               // the signing key's id, once the signature verified
  std::uint64_t sequence = 0;       // the bundle's sequence, once the signature verified
  bool accepted() const { return bundle.has_value(); }
};

// Checks, in this order: size (max_bytes) → too-large; parse → bad-signature; key id in the
// current key list → unknown-key, and that list not expired → expired; signature →
// bad-signature; format → bad-signature; sequence > state.applied_sequence → rollback; not
// expired and not issued in the future → expired; target (gateway_id, and for a device-class
// selector the class ids of the policy the gateway runs now) → not-targeted; file names, then
// parse and compile → invalid-policy. Does not change the state: see record_applied().
bundle_verdict verify_bundle(const trust_state& state, std::string_view signed_bundle,
                             std::string_view gateway_id,
                             std::span<const std::string> current_policy_classes, std::int64_t now,
                             std::size_t max_bytes = kDefaultMaxBundleBytes);

// Raises state.applied_sequence to the bundle's sequence. Call once the new policy is in force
// (swapped in and its files written), then persist the state.
void record_applied(trust_state& state, const bundle::PolicyBundle& bundle);

// Whether `target` selects a gateway with this id whose running policy defines these classes.
bool is_targeted(const bundle::Target& target, std::string_view gateway_id,
                 std::span<const std::string> current_policy_classes);
// "fleet", "gateways gw-1, gw-2", "device classes zigbee2mqtt-device, tasmota-power", "nothing".
std::string describe_target(const bundle::Target& target);
// The device class ids of a policy, for verify_bundle().
std::vector<std::string> class_ids(const compiled_policy& policy);

// Purposes defined by both policies that `running` leaves refused without a household decision
// and `next` would grant by default (a consent basis turned contract, a special category
// removed). A bundle must not widen consent; the daemon decides what to do with such a bundle
// (docs/POLICY-UPDATES.md).
std::vector<std::string> widened_defaults(const compiled_policy& running,
                                          const compiled_policy& next);

// Purposes defined by both policies whose daily ε cap (epsilon_per_day) `next` raises: their
// noisy releases may then tell more about each device per day, a change that widens what is
// released. The daemon records it and shows it to the household (docs/POLICY-UPDATES.md). A cap
// that appears where there was none is not listed: the purpose had no noisy releases before.
struct cap_raise {
  std::string purpose;
  double before = 0;
  double after = 0;
};
std::vector<cap_raise> raised_caps(const compiled_policy& running, const compiled_policy& next);

}  // namespace portier::policies
