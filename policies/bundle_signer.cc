#include "policies/bundle_signer.h"

#include "policies/bundle_verifier.h"

namespace portier::policies {

platform::result<std::string> sign_bundle(bundle::PolicyBundle bundle,
                                          platform::ecdsa_private_key& key) {
  bundle.set_format(std::string(kBundleFormat));
  bundle::SignedPolicyBundle signed_bundle;
  if (!bundle.SerializeToString(signed_bundle.mutable_bundle()))
    return platform::error{"cannot serialize the bundle"};
  auto sig = key.sign(signed_bundle.bundle());
  if (!sig) return platform::error{sig.error_message()};
  signed_bundle.set_key_id(key.public_key().key_id());
  signed_bundle.set_signature(*sig);
  return signed_bundle.SerializeAsString();
}

platform::result<std::string> sign_key_list(bundle::KeyList list, platform::ecdsa_private_key& root,
                                            platform::ecdsa_private_key* new_root) {
  list.set_format(std::string(kKeyListFormat));
  if (new_root != nullptr) list.set_new_root_public_key(new_root->public_key().der());
  bundle::SignedKeyList signed_list;
  if (!list.SerializeToString(signed_list.mutable_key_list()))
    return platform::error{"cannot serialize the key list"};
  auto sig = root.sign(signed_list.key_list());
  if (!sig) return platform::error{sig.error_message()};
  signed_list.set_root_key_id(root.public_key().key_id());
  signed_list.set_signature(*sig);
  if (new_root != nullptr) {
    auto new_sig = new_root->sign(signed_list.key_list());
    if (!new_sig) return platform::error{new_sig.error_message()};
    signed_list.set_new_root_signature(*new_sig);
  }
  return signed_list.SerializeAsString();
}

}  // namespace portier::policies
