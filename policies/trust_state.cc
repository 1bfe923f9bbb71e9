#include "policies/trust_state.h"

#include <string>

namespace portier::policies {

const platform::ecdsa_public_key* trust_state::find_key(std::string_view key_id) const {
  for (const auto& k : operator_keys) {
    if (k.key_id() == key_id) return &k;
  }
  return nullptr;
}

trust_state initial_trust_state(platform::ecdsa_public_key root) {
  return trust_state{std::move(root), 0, 0, {}, 0};
}

bundle::TrustState trust_state_to_proto(const trust_state& state) {
  bundle::TrustState p;
  p.set_root_public_key(state.root.der());
  p.set_key_list_version(state.key_list_version);
  p.set_key_list_expires_at(state.key_list_expires_at);
  for (const auto& k : state.operator_keys) {
    auto* key = p.add_key();
    key->set_key_id(k.key_id());
    key->set_public_key(k.der());
  }
  p.set_applied_sequence(state.applied_sequence);
  return p;
}

platform::result<trust_state> trust_state_from_proto(const bundle::TrustState& proto) {
  auto root = platform::ecdsa_public_key::from_der(proto.root_public_key());
  if (!root) return platform::error{"trust state: root_public_key: " + root.error_message()};
  trust_state s = initial_trust_state(std::move(*root));
  s.key_list_version = proto.key_list_version();
  s.key_list_expires_at = proto.key_list_expires_at();
  s.applied_sequence = proto.applied_sequence();
  for (int i = 0; i < proto.key_size(); ++i) {
    const std::string where = "trust state: key[" + std::to_string(i) + "]: ";
    auto key = platform::ecdsa_public_key::from_der(proto.key(i).public_key());
    if (!key) return platform::error{where + key.error_message()};
    if (key->key_id() != proto.key(i).key_id())
      return platform::error{where + "key id does not match the public key"};
    s.operator_keys.push_back(std::move(*key));
  }
  return s;
}

}  // namespace portier::policies
