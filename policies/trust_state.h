// What a gateway trusts for remote policy updates: the root key, the operator keys of the
// newest key list it accepted (version and expiry), and the highest bundle sequence it applied.
// A plain value: bundle_verifier.h reads it and returns new states; the daemon persists each new
// state (bundle.proto TrustState, atomic replace) before it adopts it, so anti-rollback and
// revocations survive restarts and power cuts.
//
// First boot: initial_trust_state(root key provisioned with the box): no operator keys, so no
// bundle is accepted until a key list signed by that root arrives.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "bundle.pb.h"
#include "platform/ecdsa_p256.h"
#include "platform/result.h"

namespace portier::policies {

struct trust_state {
  platform::ecdsa_public_key root;
  std::uint64_t key_list_version = 0;  // 0: no key list yet
  std::int64_t key_list_expires_at = 0;
  std::vector<platform::ecdsa_public_key> operator_keys;
  std::uint64_t applied_sequence = 0;  // 0: no bundle applied yet

  // The operator key with this id, or null.
  const platform::ecdsa_public_key* find_key(std::string_view key_id) const;
};

trust_state initial_trust_state(platform::ecdsa_public_key root);

bundle::TrustState trust_state_to_proto(const trust_state& state);
// Validates every key (P-256, canonical DER, key id matching) as the verifier would; the error
// names the field: "trust state: key[1]: key id does not match the public key".
platform::result<trust_state> trust_state_from_proto(const bundle::TrustState& proto);

}  // namespace portier::policies
