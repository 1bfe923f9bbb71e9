// The operator's side of remote policy updates: serialize a PolicyBundle or KeyList and sign the
// exact bytes (bundle.proto). Used by `portier-policy sign` and `keylist`, and by tests. The
// format field is filled in here; callers set everything else.
#pragma once

#include <string>

#include "bundle.pb.h"
#include "platform/ecdsa_p256.h"
#include "platform/result.h"

namespace portier::policies {

// A serialized SignedPolicyBundle.
platform::result<std::string> sign_bundle(bundle::PolicyBundle bundle,
                                          platform::ecdsa_private_key& key);

// A serialized SignedKeyList signed by `root`; with `new_root` (a root rotation) the list's
// new_root_public_key is set to its public key and it signs the same bytes too.
platform::result<std::string> sign_key_list(bundle::KeyList list, platform::ecdsa_private_key& root,
                                            platform::ecdsa_private_key* new_root = nullptr);

}  // namespace portier::policies
