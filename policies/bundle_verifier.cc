#include "policies/bundle_verifier.h"

#include <algorithm>
#include <ctime>
#include <limits>
#include <set>

#include "policies/policy_compiler.h"
#include "policies/policy_source.h"

namespace portier::policies {

namespace {

// "2025-06-01T12:00:00Z"; the number itself for times gmtime cannot represent.
std::string iso_time(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  char buf[32];
  if (::gmtime_r(&t, &tm) == nullptr ||
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    return std::to_string(unix_seconds);
  }
  return buf;
}

// Key ids come from unauthenticated input before the signature is checked: quote them in a
// detail only when they have the shape of a key id.
std::string printable_key_id(std::string_view id) {
  if (id.size() != 16) return "(malformed key id)";
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return "(malformed key id)";
  }
  return std::string(id);
}

key_list_verdict reject(update_rejection reason, std::string detail, std::uint64_t version = 0) {
  key_list_verdict v;
  v.reason = reason;
  v.detail = std::move(detail);
  v.version = version;
  return v;
}

bundle_verdict& reject(bundle_verdict& v, update_rejection reason, std::string detail) {
  v.reason = reason;
  v.detail = std::move(detail);
  return v;
}

std::string joined(const google::protobuf::RepeatedPtrField<std::string>& items,
                   std::size_t max_items) {
  std::string out;
  int shown = 0;
  for (const auto& s : items) {
    if (static_cast<std::size_t>(shown) == max_items) {
      out += " and " + std::to_string(items.size() - shown) + " more";
      break;
    }
    out += (shown == 0 ? "" : ", ") + s;
    ++shown;
  }
  return out;
}

bool valid_file_name(const std::string& name) {
  return !name.empty() && name.size() <= 128 && name[0] != '.' &&
         name.find('/') == std::string::npos && name.find('\0') == std::string::npos &&
         is_policy_file_name(name);
}

// The bundle's files, parsed and compiled; errors collected into v.errors.
void compile_files(const bundle::PolicyBundle& b, bundle_verdict& v) {
  if (b.file_size() == 0) {
    v.errors.push_back("the bundle has no policy files");
    return;
  }
  if (static_cast<std::size_t>(b.file_size()) > kMaxBundleFiles) {
    v.errors.push_back("the bundle has " + std::to_string(b.file_size()) + " files; at most " +
                       std::to_string(kMaxBundleFiles) + " are allowed");
    return;
  }
  std::set<std::string> names;
  std::vector<policy_source> sources;
  for (int i = 0; i < b.file_size(); ++i) {
    const auto& f = b.file(i);
    if (!valid_file_name(f.name())) {
      v.errors.push_back(
          "file[" + std::to_string(i) +
          "].name: not a policy file name (NAME.textproto, .txtpb, .pb.txt or .json; no '/', "
          "not starting with '.', at most 128 bytes)");
      continue;
    }
    if (!names.insert(f.name()).second) {
      v.errors.push_back("file[" + std::to_string(i) + "].name: \"" + f.name() +
                         "\" appears twice");
      continue;
    }
    auto src = parse_policy_source(f.name(), f.content());
    if (!src) {
      v.errors.push_back(src.error_message());
      continue;
    }
    sources.push_back(std::move(*src));
  }
  if (!v.errors.empty()) return;
  auto compiled = compile_policy(sources);
  if (!compiled.errors.empty()) {
    v.errors = std::move(compiled.errors);
    return;
  }
  v.policy = std::move(compiled.policy);
}

}  // namespace

std::string_view update_rejection_name(update_rejection r) {
  constexpr std::string_view names[kUpdateRejectionCount] = {
      "too-large", "bad-signature", "unknown-key",    "rollback",
      "expired",   "not-targeted",  "invalid-policy", "invalid-key-list",
  };
  return names[static_cast<std::size_t>(r)];
}

// ------------------------------------------------------------------------------ key lists

key_list_verdict update_key_list(const trust_state& state, std::string_view signed_key_list,
                                 std::int64_t now) {
  using enum update_rejection;
  if (signed_key_list.size() > kMaxKeyListBytes) {
    return reject(too_large, "key list of " + std::to_string(signed_key_list.size()) +
                                 " bytes is over the limit of " + std::to_string(kMaxKeyListBytes));
  }
  bundle::SignedKeyList signed_list;
  if (!signed_list.ParseFromArray(signed_key_list.data(),
                                  static_cast<int>(signed_key_list.size())) ||
      signed_list.key_list().empty() || signed_list.signature().empty()) {
    return reject(bad_signature, "not a signed key list");
  }
  if (signed_list.root_key_id() != state.root.key_id()) {
    return reject(unknown_key, "key list signed by " + printable_key_id(signed_list.root_key_id()) +
                                   ", not by the current root " + state.root.key_id());
  }
  if (!state.root.verify(signed_list.key_list(), signed_list.signature())) {
    return reject(bad_signature,
                  "the key list's signature does not verify with root " + state.root.key_id());
  }
  bundle::KeyList list;
  if (!list.ParseFromString(signed_list.key_list()) || list.format() != kKeyListFormat) {
    return reject(bad_signature,
                  "the signed bytes are not a key list (" + std::string(kKeyListFormat) + ")");
  }
  const std::uint64_t version = list.version();

  std::optional<platform::ecdsa_public_key> new_root;
  if (!list.new_root_public_key().empty()) {
    auto key = platform::ecdsa_public_key::from_der(list.new_root_public_key());
    if (!key)
      return reject(invalid_key_list, "new_root_public_key: " + key.error_message(), version);
    if (*key == state.root)
      return reject(invalid_key_list, "new_root_public_key is the current root", version);
    if (!key->verify(signed_list.key_list(), signed_list.new_root_signature())) {
      return reject(bad_signature,
                    "a root rotation must also be signed by the new root " + key->key_id(),
                    version);
    }
    new_root = std::move(*key);
  } else if (!signed_list.new_root_signature().empty()) {
    return reject(invalid_key_list, "new_root_signature without a new_root_public_key", version);
  }

  if (version <= state.key_list_version) {
    return reject(rollback,
                  "key list version " + std::to_string(version) +
                      " is not above the current version " + std::to_string(state.key_list_version),
                  version);
  }
  if (now > list.expires_at()) {
    return reject(expired,
                  "key list version " + std::to_string(version) + " expired at " +
                      iso_time(list.expires_at()),
                  version);
  }

  if (static_cast<std::size_t>(list.key_size()) > kMaxOperatorKeys) {
    return reject(invalid_key_list,
                  "more than " + std::to_string(kMaxOperatorKeys) + " operator keys", version);
  }
  std::vector<platform::ecdsa_public_key> keys;
  for (int i = 0; i < list.key_size(); ++i) {
    const std::string where = "key[" + std::to_string(i) + "]: ";
    auto key = platform::ecdsa_public_key::from_der(list.key(i).public_key());
    if (!key) return reject(invalid_key_list, where + key.error_message(), version);
    if (key->key_id() != list.key(i).key_id()) {
      return reject(invalid_key_list,
                    where + "key id does not match the public key (" + key->key_id() + ")",
                    version);
    }
    if (*key == state.root || (new_root && *key == *new_root)) {
      // The root signs key lists only; as an operator key, a key list's signature could pass for
      // a bundle's.
      return reject(invalid_key_list, where + "the root key cannot be an operator key", version);
    }
    for (const auto& k : keys) {
      if (k == *key)
        return reject(invalid_key_list, where + key->key_id() + " is listed twice", version);
    }
    keys.push_back(std::move(*key));
  }

  trust_state next = new_root ? initial_trust_state(std::move(*new_root)) : state;
  next.key_list_version = version;
  next.key_list_expires_at = list.expires_at();
  next.operator_keys = std::move(keys);
  next.applied_sequence = state.applied_sequence;
  key_list_verdict v;
  v.state = std::move(next);
  v.version = version;
  v.detail = "key list version " + std::to_string(version) + ": " +
             std::to_string(list.key_size()) + " operator keys" +
             (v.state->root == state.root ? "" : ", new root " + v.state->root.key_id());
  return v;
}

// ------------------------------------------------------------------------------ bundles

bundle_verdict verify_bundle(const trust_state& state, std::string_view signed_bundle,
                             std::string_view gateway_id,
                             std::span<const std::string> current_policy_classes, std::int64_t now,
                             std::size_t max_bytes) {
  using enum update_rejection;
  bundle_verdict v;
  max_bytes =
      std::min<std::size_t>(max_bytes, std::numeric_limits<int>::max());  // protobuf's bound
  if (signed_bundle.size() > max_bytes) {
    return reject(v, too_large,
                  "bundle of " + std::to_string(signed_bundle.size()) +
                      " bytes is over the limit of " + std::to_string(max_bytes));
  }
  bundle::SignedPolicyBundle signed_b;
  if (!signed_b.ParseFromArray(signed_bundle.data(), static_cast<int>(signed_bundle.size())) ||
      signed_b.bundle().empty() || signed_b.signature().empty()) {
    return reject(v, bad_signature, "not a signed policy bundle");
  }
  if (state.key_list_version == 0) {
    return reject(v, unknown_key, "no key list yet: the gateway trusts no operator key");
  }
  const platform::ecdsa_public_key* key = state.find_key(signed_b.key_id());
  if (key == nullptr) {
    return reject(v, unknown_key,
                  "key " + printable_key_id(signed_b.key_id()) + " is not in key list version " +
                      std::to_string(state.key_list_version));
  }
  if (now > state.key_list_expires_at) {
    return reject(v, expired,
                  "key list version " + std::to_string(state.key_list_version) + " expired at " +
                      iso_time(state.key_list_expires_at) + "; publish a newer one");
  }
  if (!key->verify(signed_b.bundle(), signed_b.signature())) {
    return reject(v, bad_signature, "the signature does not verify with key " + key->key_id());
  }
  bundle::PolicyBundle b;
  if (!b.ParseFromString(signed_b.bundle()) || b.format() != kBundleFormat) {
    return reject(v, bad_signature,
                  "the signed bytes are not a policy bundle (" + std::string(kBundleFormat) + ")");
  }
  v.key_id = key->key_id();
  v.sequence = b.sequence();
  if (b.sequence() <= state.applied_sequence) {
    return reject(v, rollback,
                  "sequence " + std::to_string(b.sequence()) +
                      " is not above the applied sequence " +
                      std::to_string(state.applied_sequence));
  }
  if (now > b.expires_at())
    return reject(v, expired, "bundle expired at " + iso_time(b.expires_at()));
  if (b.issued_at() > now + kMaxClockSkewSeconds) {
    return reject(v, expired, "bundle issued in the future, at " + iso_time(b.issued_at()));
  }
  if (!is_targeted(b.target(), gateway_id, current_policy_classes)) {
    return reject(v, not_targeted, "bundle targets " + describe_target(b.target()));
  }
  compile_files(b, v);
  if (!v.errors.empty()) {
    return reject(v, invalid_policy,
                  "the policy does not compile: " + std::to_string(v.errors.size()) +
                      (v.errors.size() == 1 ? " error" : " errors"));
  }
  v.detail = "sequence " + std::to_string(b.sequence()) + ", " + std::to_string(b.file_size()) +
             " files, key " + v.key_id;
  v.bundle = std::move(b);
  return v;
}

void record_applied(trust_state& state, const bundle::PolicyBundle& bundle) {
  if (bundle.sequence() > state.applied_sequence) state.applied_sequence = bundle.sequence();
}

// ------------------------------------------------------------------------------ targets and
// policies

bool is_targeted(const bundle::Target& target, std::string_view gateway_id,
                 std::span<const std::string> current_policy_classes) {
  switch (target.selector_case()) {
    case bundle::Target::kFleet:
      return true;
    case bundle::Target::kGateways:
      for (const auto& id : target.gateways().gateway_id()) {
        if (!id.empty() && id == gateway_id) return true;
      }
      return false;
    case bundle::Target::kDeviceClasses:
      for (const auto& wanted : target.device_classes().device_class()) {
        for (const auto& have : current_policy_classes) {
          if (!wanted.empty() && wanted == have) return true;
        }
      }
      return false;
    case bundle::Target::SELECTOR_NOT_SET:
      break;
  }
  return false;
}

std::string describe_target(const bundle::Target& target) {
  constexpr std::size_t kShown = 8;
  switch (target.selector_case()) {
    case bundle::Target::kFleet:
      return "fleet";
    case bundle::Target::kGateways:
      if (target.gateways().gateway_id().empty()) break;
      return "gateways " + joined(target.gateways().gateway_id(), kShown);
    case bundle::Target::kDeviceClasses:
      if (target.device_classes().device_class().empty()) break;
      return "device classes " + joined(target.device_classes().device_class(), kShown);
    case bundle::Target::SELECTOR_NOT_SET:
      break;
  }
  return "nothing";
}

std::vector<std::string> class_ids(const compiled_policy& policy) {
  std::vector<std::string> ids;
  for (const auto& c : policy.classes()) ids.push_back(c->id);
  return ids;
}

std::vector<std::string> widened_defaults(const compiled_policy& running,
                                          const compiled_policy& next) {
  std::vector<std::string> out;
  for (const auto& p : next.purposes()) {
    const int before = running.purpose_index(p.id);
    if (before < 0 || !p.granted_by_default) continue;
    if (!running.purposes()[static_cast<std::size_t>(before)].granted_by_default)
      out.push_back(p.id);
  }
  return out;
}

std::vector<cap_raise> raised_caps(const compiled_policy& running, const compiled_policy& next) {
  std::vector<cap_raise> out;
  for (const auto& p : next.purposes()) {
    const int before = running.purpose_index(p.id);
    if (before < 0) continue;
    const double was = running.purposes()[static_cast<std::size_t>(before)].epsilon_per_day;
    if (was > 0 && p.epsilon_per_day > was) out.push_back({p.id, was, p.epsilon_per_day});
  }
  return out;
}

}  // namespace portier::policies
