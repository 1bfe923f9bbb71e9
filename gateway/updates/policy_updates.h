// Remote policy updates on the gateway (operator's guide: docs/POLICY-UPDATES.md).
//
// Owns the trust state (root key, operator key list, highest applied bundle sequence), persisted
// in state_dir/trust.pb by atomic replace, so anti-rollback survives restarts and a reset of the
// policy. handle() takes a message from one of topics() — hostile bytes from the upstream broker
// — and verifies it with policies/bundle_verifier. An accepted key list is persisted and adopted.
// An accepted bundle's files are written to state_dir/policy-bundle/ (a new directory swapped in
// by rename), which from then on is the policy the daemon loads, also after a restart; the
// caller swaps the returned compiled policy in and then calls committed(), which raises and
// persists the applied sequence. A rejected update changes nothing.
//
// A retained update delivered again on reconnect is recognised and reported quietly ("already
// in force"), but only when it is byte for byte the key list (bundle) in force: their SHA-256
// are kept in state_dir/in-force (written before trust.pb, so a power cut between the two leaves
// an update that is simply accepted again). A different key list with the version in force, or a
// different bundle with the applied sequence, is rejected as `rollback`, with a detail that says
// so. A state directory from before in-force existed has no digest for what is in force: the
// first copy seen after the upgrade is taken as the one in force.
//
// Not thread-safe: the daemon calls it from its update worker only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/result.h"
#include "policies/bundle_verifier.h"
#include "policies/compiled_policy.h"

namespace portier::gateway {

struct update_outcome {
  enum class kind { key_list, bundle };
  kind what = kind::bundle;
  bool accepted = false;
  bool already_in_force = false;   // a redelivered retained update: not news, not an attack
  std::string reason;              // rejection reason code ("rollback", …), empty if accepted
  std::string detail;              // one line
  std::vector<std::string> errors; // invalid-policy: compile errors
  std::uint64_t number = 0;        // bundle sequence or key-list version
  std::string note;                // the operator's note, for bundles
  std::shared_ptr<const policies::compiled_policy> policy;  // accepted bundle
  std::optional<bundle::PolicyBundle> bundle;
};

class policy_updates {
 public:
  // Loads (or starts) the trust state; the root key comes from `root_key_file` on first start
  // and must match the persisted root afterwards unless a rotation replaced it.
  static platform::result<std::unique_ptr<policy_updates>> open(const std::string& state_dir,
                                                                const std::string& root_key_file,
                                                                std::string gateway_id, std::string fleet,
                                                                std::size_t max_bundle_bytes);

  // The upstream topics to subscribe to: the gateway's and (with a fleet) the fleet's.
  std::vector<std::string> topics() const;
  bool is_update_topic(std::string_view topic) const;

  update_outcome handle(std::string_view topic, std::string_view payload, const policies::compiled_policy& running,
                        std::int64_t now_s);
  // The accepted bundle is in force: raise and persist the applied sequence.
  platform::result<bool> committed(const update_outcome& outcome);

  std::uint64_t applied_sequence() const { return state_.applied_sequence; }
  std::uint64_t key_list_version() const { return state_.key_list_version; }

  // Where accepted bundles' policy files live; the daemon loads from here when it exists.
  static std::string bundle_dir(const std::string& state_dir) { return state_dir + "/policy-bundle"; }

 private:
  policy_updates(std::string state_dir, std::string gateway_id, std::string fleet, std::size_t max_bytes,
                 policies::trust_state state)
      : state_dir_(std::move(state_dir)),
        gateway_id_(std::move(gateway_id)),
        fleet_(std::move(fleet)),
        max_bytes_(max_bytes),
        state_(std::move(state)) {}
  // SHA-256 (hex) of the exact bytes of the key list and bundle in force, with their numbers.
  struct in_force {
    std::uint64_t key_list_version = 0;
    std::string key_list_sha256;
    std::uint64_t bundle_sequence = 0;
    std::string bundle_sha256;
  };

  platform::result<bool> persist() const;
  platform::result<bool> persist_in_force(const in_force& f) const;
  platform::result<bool> write_bundle_files(const bundle::PolicyBundle& b) const;
  // For a `rollback` at the number in force (`number`, never 0): true when `payload` is the
  // key list (bundle) in force, or none is recorded for that number (adopted then); otherwise
  // false, and `out.detail` says it is a different one.
  bool same_as_in_force(std::uint64_t number, std::string_view payload, bool key_list,
                        update_outcome& out);

  std::string state_dir_;
  std::string gateway_id_;
  std::string fleet_;
  std::size_t max_bytes_;
  policies::trust_state state_;
  in_force in_force_;
  std::string accepted_bundle_sha256_;  // between handle() and committed()
};

}  // namespace portier::gateway
