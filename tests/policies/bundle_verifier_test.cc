// Remote policy updates: every rejection reason of verify_bundle() with its exact detail, key
// list rotation (operator keys, the root, replayed and older lists), record_applied(), and the
// trust state's round trip through its proto (anti-rollback survives a restart).
#include "policies/bundle_verifier.h"

#include <string>
#include <vector>

#include "policies/bundle_signer.h"
#include "test_keys.h"
#include "test_support.h"

using namespace portier::policies;
using portier::platform::ecdsa_private_key;
namespace pb = portier::bundle;

namespace {

constexpr std::int64_t kNow = 1'750'000'000;  // 2025-06-15T15:06:40Z
constexpr std::int64_t kDay = 86'400;

const std::string kPolicy =
    "purpose { id: \"service\" title: \"Service\" legal_basis: CONTRACT retention_seconds: 60 }\n"
    "device_class { id: \"plug\" topic: \"plugs/{device}\"\n"
    "  field { path: \"power\" rule { purpose: \"service\" keep {} } } }\n";

ecdsa_private_key key(const char* pem) {
  auto k = ecdsa_private_key::parse(pem);
  if (!k) FAIL(k.error_message().c_str());
  return std::move(*k);
}

std::string flip(std::string s, std::size_t at) {
  s[at] = static_cast<char>(s[at] ^ 0x01);
  return s;
}

pb::Target fleet() {
  pb::Target t;
  t.mutable_fleet();
  return t;
}
pb::Target gateways(std::initializer_list<const char*> ids) {
  pb::Target t;
  for (const char* id : ids) t.mutable_gateways()->add_gateway_id(id);
  return t;
}
pb::Target classes(std::initializer_list<const char*> ids) {
  pb::Target t;
  for (const char* id : ids) t.mutable_device_classes()->add_device_class(id);
  return t;
}

TEST_GROUP(bundle_verifier) {
  ecdsa_private_key root = key(test::kRootKey);
  ecdsa_private_key new_root = key(test::kNewRootKey);
  ecdsa_private_key op_a = key(test::kOperatorKeyA);
  ecdsa_private_key op_b = key(test::kOperatorKeyB);
  std::vector<std::string> running_classes = {"plug", "zigbee2mqtt-device"};

  // A key list of `version`, valid for a year, listing `keys`, signed by `signer`.
  std::string key_list(std::uint64_t version, std::vector<ecdsa_private_key*> keys,
                       ecdsa_private_key* signer = nullptr, ecdsa_private_key* rotate_to = nullptr,
                       std::int64_t expires_at = kNow + 365 * kDay) {
    pb::KeyList list;
    list.set_version(version);
    list.set_issued_at(kNow);
    list.set_expires_at(expires_at);
    for (auto* k : keys) {
      auto* e = list.add_key();
      e->set_key_id(k->public_key().key_id());
      e->set_public_key(k->public_key().der());
    }
    auto bytes = sign_key_list(list, signer ? *signer : root, rotate_to);
    if (!bytes) FAIL(bytes.error_message().c_str());
    return *bytes;
  }

  // A trust state holding key list version 1 with operator key A.
  trust_state trusted() {
    auto v = update_key_list(initial_trust_state(root.public_key()), key_list(1, {&op_a}), kNow);
    if (!v.accepted()) FAIL(v.detail.c_str());
    return *v.state;
  }

  pb::PolicyBundle bundle(std::uint64_t sequence, pb::Target target = fleet(),
                          std::string policy = kPolicy) {
    pb::PolicyBundle b;
    b.set_sequence(sequence);
    b.set_issued_at(kNow - 60);
    b.set_expires_at(kNow + 30 * kDay);
    *b.mutable_target() = std::move(target);
    auto* f = b.add_file();
    f->set_name("policy.textproto");
    f->set_content(std::move(policy));
    return b;
  }

  std::string sign(const pb::PolicyBundle& b, ecdsa_private_key* k = nullptr) {
    auto bytes = sign_bundle(b, k ? *k : op_a);
    if (!bytes) FAIL(bytes.error_message().c_str());
    return *bytes;
  }

  // "accepted: DETAIL" or "REASON: DETAIL", so that a case is one line.
  std::string outcome(const trust_state& s, const std::string& bytes,
                      std::string_view gateway = "gw-1", std::int64_t now = kNow,
                      std::size_t max_bytes = kDefaultMaxBundleBytes) {
    auto v = verify_bundle(s, bytes, gateway, running_classes, now, max_bytes);
    if (v.accepted()) CHECK(v.policy != nullptr);
    return std::string(v.accepted() ? "accepted" : update_rejection_name(v.reason)) + ": " +
           v.detail;
  }

  std::string key_list_outcome(const trust_state& s, const std::string& bytes,
                               std::int64_t now = kNow) {
    auto v = update_key_list(s, bytes, now);
    return std::string(v.accepted() ? "accepted" : update_rejection_name(v.reason)) + ": " +
           v.detail;
  }
};

}  // namespace

// ------------------------------------------------------------------------------ accepted

TEST(bundle_verifier, accepts_a_bundle_for_the_fleet_a_listed_gateway_or_a_running_class) {
  const auto s = trusted();
  const std::string a = op_a.public_key().key_id();
  STRCMP_EQUAL(("accepted: sequence 1, 1 files, key " + a).c_str(),
               outcome(s, sign(bundle(1))).c_str());
  STRCMP_EQUAL(("accepted: sequence 2, 1 files, key " + a).c_str(),
               outcome(s, sign(bundle(2, gateways({"gw-0", "gw-1"})))).c_str());
  STRCMP_EQUAL(("accepted: sequence 3, 1 files, key " + a).c_str(),
               outcome(s, sign(bundle(3, classes({"camera", "plug"})))).c_str());
}

TEST(bundle_verifier, an_accepted_bundle_comes_with_its_compiled_policy_and_files) {
  auto v = verify_bundle(trusted(), sign(bundle(9)), "gw-1", running_classes, kNow);
  CHECK(v.accepted());
  LONGS_EQUAL(9, v.sequence);
  LONGS_EQUAL(9, v.bundle->sequence());
  STRCMP_EQUAL("policy.textproto", v.bundle->file(0).name().c_str());
  CHECK(v.policy->find_class("plug") != nullptr);
  STRCMP_EQUAL(op_a.public_key().key_id().c_str(), v.key_id.c_str());
}

// ------------------------------------------------------------------------------ each reason

TEST(bundle_verifier, too_large_is_checked_before_anything_is_parsed) {
  const auto s = trusted();
  const std::string good = sign(bundle(1));
  const std::string n = std::to_string(good.size());
  STRCMP_EQUAL(("too-large: bundle of " + n + " bytes is over the limit of " +
                std::to_string(good.size() - 1))
                   .c_str(),
               outcome(s, good, "gw-1", kNow, good.size() - 1).c_str());
  STRCMP_EQUAL("too-large: bundle of 11 bytes is over the limit of 10",
               outcome(s, "not a proto", "gw-1", kNow, 10).c_str());
  STRCMP_CONTAINS("accepted", outcome(s, good, "gw-1", kNow, good.size()).c_str());
}

TEST(bundle_verifier, bad_signature_for_garbage_tampering_and_foreign_signatures) {
  const auto s = trusted();
  const std::string a = op_a.public_key().key_id();
  const std::string good = sign(bundle(1));
  pb::SignedPolicyBundle parsed;
  CHECK(parsed.ParseFromString(good));

  auto with = [&](auto change) {
    pb::SignedPolicyBundle copy = parsed;
    change(copy);
    return copy.SerializeAsString();
  };
  const std::string other_signature = [&] {
    pb::SignedPolicyBundle o;
    CHECK(o.ParseFromString(sign(bundle(2))));
    return o.signature();
  }();

  STRCMP_EQUAL("bad-signature: not a signed policy bundle", outcome(s, "").c_str());
  STRCMP_EQUAL("bad-signature: not a signed policy bundle",
               outcome(s, "\xff\xff\xff garbage").c_str());
  STRCMP_EQUAL("bad-signature: not a signed policy bundle",
               outcome(s, with([](auto& b) { b.clear_signature(); })).c_str());
  const std::string bad = "bad-signature: the signature does not verify with key " + a;
  STRCMP_EQUAL(bad.c_str(),
               outcome(s, with([](auto& b) { b.set_bundle(flip(b.bundle(), 10)); })).c_str());
  STRCMP_EQUAL(bad.c_str(),
               outcome(s, with([](auto& b) { b.set_bundle(b.bundle() + " "); })).c_str());
  STRCMP_EQUAL(bad.c_str(),
               outcome(s, with([&](auto& b) { b.set_signature(other_signature); })).c_str());
  STRCMP_EQUAL(bad.c_str(),
               outcome(s, with([](auto& b) { b.set_signature(flip(b.signature(), 8)); })).c_str());
  STRCMP_EQUAL(bad.c_str(), outcome(s, with([](auto& b) { b.set_signature("x"); })).c_str());
  // A bundle signed by key B but claiming key A.
  STRCMP_EQUAL(bad.c_str(),
               outcome(s, with([&](auto& b) { b.set_signature(*op_b.sign(b.bundle())); })).c_str());
}

TEST(bundle_verifier, signed_bytes_of_another_kind_are_bad_signature) {
  const auto s = trusted();
  // An operator key misused to sign something shaped like a key list: the signature verifies,
  // the format does not.
  pb::KeyList list;
  list.set_version(100);
  auto as_list = sign_key_list(list, op_a);
  STRCMP_EQUAL("bad-signature: the signed bytes are not a policy bundle (portier.policy-bundle.v1)",
               outcome(s, *as_list).c_str());
  // A bundle of another format version.
  pb::SignedPolicyBundle signed_b;
  CHECK(signed_b.ParseFromString(sign(bundle(1))));
  pb::PolicyBundle b;
  CHECK(b.ParseFromString(signed_b.bundle()));
  b.set_format("portier.policy-bundle.v2");
  signed_b.set_bundle(b.SerializeAsString());
  signed_b.set_signature(*op_a.sign(signed_b.bundle()));
  STRCMP_EQUAL("bad-signature: the signed bytes are not a policy bundle (portier.policy-bundle.v1)",
               outcome(s, signed_b.SerializeAsString()).c_str());
  // A genuine root-signed key list presented as a bundle: wire-compatible, but the root is never
  // an operator key.
  STRCMP_EQUAL(
      ("unknown-key: key " + root.public_key().key_id() + " is not in key list version 1").c_str(),
      outcome(s, key_list(2, {&op_a})).c_str());
}

TEST(bundle_verifier, unknown_key_for_unlisted_keys_and_before_any_key_list) {
  const auto s = trusted();
  STRCMP_EQUAL(
      ("unknown-key: key " + op_b.public_key().key_id() + " is not in key list version 1").c_str(),
      outcome(s, sign(bundle(1), &op_b)).c_str());
  STRCMP_EQUAL("unknown-key: no key list yet: the gateway trusts no operator key",
               outcome(initial_trust_state(root.public_key()), sign(bundle(1))).c_str());
  pb::SignedPolicyBundle b;
  CHECK(b.ParseFromString(sign(bundle(1))));
  b.set_key_id("not\na key id, \"quoted\" in status");
  STRCMP_EQUAL("unknown-key: key (malformed key id) is not in key list version 1",
               outcome(s, b.SerializeAsString()).c_str());
}

TEST(bundle_verifier, rollback_for_a_replay_an_older_sequence_and_sequence_zero) {
  auto s = trusted();
  const std::string five = sign(bundle(5));
  auto v = verify_bundle(s, five, "gw-1", running_classes, kNow);
  CHECK(v.accepted());
  record_applied(s, *v.bundle);
  LONGS_EQUAL(5, s.applied_sequence);
  STRCMP_EQUAL("rollback: sequence 5 is not above the applied sequence 5",
               outcome(s, five).c_str());
  STRCMP_EQUAL("rollback: sequence 4 is not above the applied sequence 5",
               outcome(s, sign(bundle(4))).c_str());
  STRCMP_EQUAL("rollback: sequence 0 is not above the applied sequence 0",
               outcome(trusted(), sign(bundle(0))).c_str());
  STRCMP_CONTAINS("accepted", outcome(s, sign(bundle(6))).c_str());
  // The redelivery of the running bundle is recognisable: its sequence is the applied one.
  auto again = verify_bundle(s, five, "gw-1", running_classes, kNow);
  LONGS_EQUAL(s.applied_sequence, again.sequence);
}

TEST(bundle_verifier, record_applied_never_lowers_the_sequence) {
  auto s = trusted();
  record_applied(s, bundle(8));
  record_applied(s, bundle(3));
  LONGS_EQUAL(8, s.applied_sequence);
}

TEST(bundle_verifier, expired_past_expiry_issued_in_the_future_or_key_list_expired) {
  const auto s = trusted();
  auto b = bundle(1);
  b.set_expires_at(kNow - 1);
  STRCMP_EQUAL("expired: bundle expired at 2025-06-15T15:06:39Z", outcome(s, sign(b)).c_str());
  b.set_expires_at(kNow);
  STRCMP_CONTAINS("accepted", outcome(s, sign(b)).c_str());
  b.set_expires_at(0);
  STRCMP_EQUAL("expired: bundle expired at 1970-01-01T00:00:00Z", outcome(s, sign(b)).c_str());

  b = bundle(1);
  b.set_issued_at(kNow + kMaxClockSkewSeconds + 1);
  STRCMP_EQUAL("expired: bundle issued in the future, at 2025-06-15T15:11:41Z",
               outcome(s, sign(b)).c_str());
  b.set_issued_at(kNow + kMaxClockSkewSeconds);
  STRCMP_CONTAINS("accepted", outcome(s, sign(b)).c_str());

  // Key list version 1 expires after a year; a bundle valid for longer still needs a fresh list.
  const std::int64_t later = kNow + 366 * kDay;
  b = bundle(1);
  b.set_expires_at(later + kDay);
  STRCMP_EQUAL("expired: key list version 1 expired at 2026-06-15T15:06:40Z; publish a newer one",
               outcome(s, sign(b), "gw-1", later).c_str());
}

TEST(bundle_verifier, not_targeted_for_other_gateways_classes_not_running_and_no_target) {
  const auto s = trusted();
  STRCMP_EQUAL("not-targeted: bundle targets gateways gw-2, gw-3",
               outcome(s, sign(bundle(1, gateways({"gw-2", "gw-3"})))).c_str());
  STRCMP_EQUAL("not-targeted: bundle targets device classes camera",
               outcome(s, sign(bundle(1, classes({"camera"})))).c_str());
  STRCMP_EQUAL("not-targeted: bundle targets nothing",
               outcome(s, sign(bundle(1, pb::Target()))).c_str());
  STRCMP_EQUAL("not-targeted: bundle targets nothing",
               outcome(s, sign(bundle(1, gateways({})))).c_str());
  // A gateway without a running policy is not selected by class.
  running_classes.clear();
  STRCMP_EQUAL("not-targeted: bundle targets device classes plug",
               outcome(s, sign(bundle(1, classes({"plug"})))).c_str());
  STRCMP_CONTAINS("accepted", outcome(s, sign(bundle(1))).c_str());
}

TEST(bundle_verifier, not_targeted_lists_at_most_eight_gateways) {
  STRCMP_EQUAL(
      "not-targeted: bundle targets gateways a, b, c, d, e, f, g, h and 2 more",
      outcome(trusted(),
              sign(bundle(1, gateways({"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}))))
          .c_str());
}

TEST(bundle_verifier, invalid_policy_keeps_the_compile_errors_with_file_and_line) {
  const auto s = trusted();
  auto v = verify_bundle(s, sign(bundle(1, fleet(), kPolicy + "purpose { id: \"Bad\" }\n")), "gw-1",
                         running_classes, kNow);
  CHECK_FALSE(v.accepted());
  STRCMP_EQUAL("invalid-policy", std::string(update_rejection_name(v.reason)).c_str());
  STRCMP_EQUAL("the policy does not compile: 4 errors", v.detail.c_str());
  STRCMP_EQUAL(
      "policy.textproto:4:11: purpose[1].id: purpose id \"Bad\" must be 1 to 32 lower-case "
      "letters, digits or '-', "
      "starting with a letter\n"
      "policy.textproto:4:1: purpose[1].title: every purpose needs a title the household can read\n"
      "policy.textproto:4:1: purpose[1].legal_basis: legal_basis must be CONSENT, CONTRACT, "
      "LEGITIMATE_INTEREST or "
      "LEGAL_OBLIGATION\n"
      "policy.textproto:4:1: purpose[1].retention_seconds: retention_seconds must be 1 to 31536000 "
      "(one year), got 0\n",
      test::joined(v.errors).c_str());
  CHECK(v.policy == nullptr);
  LONGS_EQUAL(1, v.sequence);
}

TEST(bundle_verifier, invalid_policy_for_syntax_errors_and_malformed_file_lists) {
  const auto s = trusted();
  auto errors = [&](const pb::PolicyBundle& b) {
    auto v = verify_bundle(s, sign(b), "gw-1", running_classes, kNow);
    if (v.accepted()) return std::string("accepted");
    return std::string(update_rejection_name(v.reason)) + ": " + v.detail + "\n" +
           test::joined(v.errors);
  };
  STRCMP_EQUAL(
      "invalid-policy: the policy does not compile: 1 error\n"
      "policy.textproto:1:17: Message type \"portier.policy.Policy\" has no field named "
      "\"purpos\".\n",
      errors(bundle(1, fleet(), "purpose{}purpos {}")).c_str());

  auto b = bundle(1);
  b.clear_file();
  STRCMP_EQUAL(
      "invalid-policy: the policy does not compile: 1 error\nthe bundle has no policy files\n",
      errors(b).c_str());

  for (const char* name :
       {"", "../etc/passwd.textproto", ".hidden.textproto", "policy.txt", "a/b.json"}) {
    b = bundle(1);
    b.mutable_file(0)->set_name(name);
    STRCMP_EQUAL(
        "invalid-policy: the policy does not compile: 1 error\n"
        "file[0].name: not a policy file name (NAME.textproto, .txtpb, .pb.txt or .json; no '/', "
        "not starting "
        "with '.', at most 128 bytes)\n",
        errors(b).c_str());
  }

  b = bundle(1);
  *b.add_file() = b.file(0);
  STRCMP_EQUAL(
      "invalid-policy: the policy does not compile: 1 error\nfile[1].name: \"policy.textproto\" "
      "appears twice\n",
      errors(b).c_str());

  b = bundle(1);
  for (std::size_t i = 0; i < kMaxBundleFiles; ++i) *b.add_file() = b.file(0);
  STRCMP_EQUAL(
      "invalid-policy: the policy does not compile: 1 error\nthe bundle has 65 files; at most 64 "
      "are allowed\n",
      errors(b).c_str());

  // Several files form one policy; JSON files are accepted too.
  b = bundle(1, fleet(),
             "purpose { id: \"service\" title: \"Service\" legal_basis: CONTRACT "
             "retention_seconds: 60 }\n");
  auto* json = b.add_file();
  json->set_name("plug.json");
  json->set_content(
      R"({"device_class": [{"id": "plug", "topic": ["plugs/{device}"],
          "field": [{"path": "power", "rule": [{"purpose": ["service"], "keep": {}}]}]}]})");
  STRCMP_EQUAL("accepted", errors(b).c_str());
}

TEST(bundle_verifier, reasons_are_reported_in_order) {
  // A bundle that is stale, expired, for another gateway and broken: rollback is the first that
  // applies once the signature verifies.
  auto s = trusted();
  s.applied_sequence = 10;
  auto b = bundle(3, gateways({"gw-9"}), "broken");
  b.set_expires_at(kNow - 1);
  STRCMP_EQUAL("rollback: sequence 3 is not above the applied sequence 10",
               outcome(s, sign(b)).c_str());
  b.set_sequence(11);
  STRCMP_EQUAL("expired: bundle expired at 2025-06-15T15:06:39Z", outcome(s, sign(b)).c_str());
  b.set_expires_at(kNow + 1);
  STRCMP_EQUAL("not-targeted: bundle targets gateways gw-9", outcome(s, sign(b)).c_str());
  *b.mutable_target() = fleet();
  STRCMP_CONTAINS("invalid-policy", outcome(s, sign(b)).c_str());
  // The same bundle signed by an unknown key: the key comes first.
  STRCMP_CONTAINS("unknown-key", outcome(s, sign(b, &op_b)).c_str());
}

TEST(bundle_verifier, reason_names_are_stable) {
  const char* expected[] = {"too-large", "bad-signature", "unknown-key",    "rollback",
                            "expired",   "not-targeted",  "invalid-policy", "invalid-key-list"};
  for (std::size_t i = 0; i < kUpdateRejectionCount; ++i) {
    STRCMP_EQUAL(expected[i],
                 std::string(update_rejection_name(static_cast<update_rejection>(i))).c_str());
  }
}

// ------------------------------------------------------------------------------ key lists

TEST(bundle_verifier, a_new_key_list_replaces_and_revokes_operator_keys) {
  const auto s1 = trusted();
  auto v = update_key_list(s1, key_list(2, {&op_b}), kNow);
  CHECK(v.accepted());
  STRCMP_EQUAL("key list version 2: 1 operator keys", v.detail.c_str());
  const auto& s2 = *v.state;
  LONGS_EQUAL(2, s2.key_list_version);
  STRCMP_EQUAL(
      ("unknown-key: key " + op_a.public_key().key_id() + " is not in key list version 2").c_str(),
      outcome(s2, sign(bundle(1), &op_a)).c_str());
  STRCMP_CONTAINS("accepted", outcome(s2, sign(bundle(1), &op_b)).c_str());
  // Both keys during a hand-over.
  auto both = update_key_list(s2, key_list(3, {&op_a, &op_b}), kNow);
  CHECK(both.accepted());
  LONGS_EQUAL(2, both.state->operator_keys.size());
}

TEST(bundle_verifier, a_key_list_keeps_the_applied_sequence) {
  auto s = trusted();
  s.applied_sequence = 42;
  auto v = update_key_list(s, key_list(2, {&op_b}), kNow);
  CHECK(v.accepted());
  LONGS_EQUAL(42, v.state->applied_sequence);
}

TEST(bundle_verifier, replayed_and_older_key_lists_are_rollback) {
  const std::string v1 = key_list(1, {&op_a});
  const std::string v3 = key_list(3, {&op_b});
  auto s3 = *update_key_list(trusted(), v3, kNow).state;
  STRCMP_EQUAL("rollback: key list version 3 is not above the current version 3",
               key_list_outcome(s3, v3).c_str());
  STRCMP_EQUAL("rollback: key list version 1 is not above the current version 3",
               key_list_outcome(s3, v1).c_str());
  STRCMP_EQUAL("rollback: key list version 2 is not above the current version 3",
               key_list_outcome(s3, key_list(2, {&op_a})).c_str());
  STRCMP_EQUAL(
      "rollback: key list version 0 is not above the current version 0",
      key_list_outcome(initial_trust_state(root.public_key()), key_list(0, {&op_a})).c_str());
  // The redelivered list in force is recognisable by its version.
  LONGS_EQUAL(3, update_key_list(s3, v3, kNow).version);
}

TEST(bundle_verifier, key_lists_not_signed_by_the_current_root_are_refused) {
  const auto s = trusted();
  const std::string r = root.public_key().key_id();
  STRCMP_EQUAL(("unknown-key: key list signed by " + op_a.public_key().key_id() +
                ", not by the current root " + r)
                   .c_str(),
               key_list_outcome(s, key_list(2, {&op_a}, &op_a)).c_str());
  // Claims the root, signed by another key.
  pb::SignedKeyList forged;
  CHECK(forged.ParseFromString(key_list(2, {&op_b})));
  forged.set_signature(*op_a.sign(forged.key_list()));
  STRCMP_EQUAL(("bad-signature: the key list's signature does not verify with root " + r).c_str(),
               key_list_outcome(s, forged.SerializeAsString()).c_str());
  // Tampered after signing.
  CHECK(forged.ParseFromString(key_list(2, {&op_b})));
  forged.set_key_list(flip(forged.key_list(), 4));
  STRCMP_EQUAL(("bad-signature: the key list's signature does not verify with root " + r).c_str(),
               key_list_outcome(s, forged.SerializeAsString()).c_str());
  STRCMP_EQUAL("bad-signature: not a signed key list", key_list_outcome(s, "garbage").c_str());
  STRCMP_EQUAL("bad-signature: not a signed key list", key_list_outcome(s, "").c_str());
  STRCMP_EQUAL("too-large: key list of 65537 bytes is over the limit of 65536",
               key_list_outcome(s, std::string(kMaxKeyListBytes + 1, 'x')).c_str());
  // A root-signed bundle is not a key list.
  pb::PolicyBundle b = bundle(1);
  auto root_bundle = sign_bundle(b, root);
  pb::SignedPolicyBundle sb;
  CHECK(sb.ParseFromString(*root_bundle));
  STRCMP_EQUAL("bad-signature: the signed bytes are not a key list (portier.key-list.v1)",
               key_list_outcome(s, *root_bundle).c_str());
}

TEST(bundle_verifier, expired_key_lists_are_refused) {
  STRCMP_EQUAL(
      "expired: key list version 2 expired at 2025-06-15T15:06:39Z",
      key_list_outcome(trusted(), key_list(2, {&op_a}, nullptr, nullptr, kNow - 1)).c_str());
}

TEST(bundle_verifier, malformed_key_entries_are_invalid_key_list) {
  const auto s = trusted();
  auto list_with = [&](auto change) {
    pb::KeyList list;
    list.set_version(2);
    list.set_expires_at(kNow + kDay);
    auto* k = list.add_key();
    k->set_key_id(op_b.public_key().key_id());
    k->set_public_key(op_b.public_key().der());
    change(list);
    return key_list_outcome(s, *sign_key_list(list, root));
  };
  STRCMP_EQUAL(
      ("invalid-key-list: key[0]: key id does not match the public key (" +
       op_b.public_key().key_id() + ")")
          .c_str(),
      list_with([](pb::KeyList& l) { l.mutable_key(0)->set_key_id("0000000000000000"); }).c_str());
  STRCMP_EQUAL("invalid-key-list: key[0]: not a DER public key (SubjectPublicKeyInfo)",
               list_with([](pb::KeyList& l) { l.mutable_key(0)->set_public_key("nope"); }).c_str());
  STRCMP_EQUAL(
      ("invalid-key-list: key[1]: " + op_b.public_key().key_id() + " is listed twice").c_str(),
      list_with([](pb::KeyList& l) { *l.add_key() = l.key(0); }).c_str());
  STRCMP_EQUAL("invalid-key-list: key[1]: the root key cannot be an operator key",
               list_with([&](pb::KeyList& l) {
                 auto* k = l.add_key();
                 k->set_key_id(root.public_key().key_id());
                 k->set_public_key(root.public_key().der());
               }).c_str());
  STRCMP_EQUAL("invalid-key-list: more than 32 operator keys", list_with([](pb::KeyList& l) {
                                                                 for (int i = 0; i < 32; ++i)
                                                                   *l.add_key() = l.key(0);
                                                               }).c_str());
  // An empty list is valid: it revokes every operator key.
  STRCMP_EQUAL("accepted: key list version 2: 0 operator keys",
               list_with([](pb::KeyList& l) { l.clear_key(); }).c_str());
}

TEST(bundle_verifier, root_rotation_needs_both_roots_and_retires_the_old_one) {
  const auto s1 = trusted();
  auto v = update_key_list(s1, key_list(2, {&op_b}, &root, &new_root), kNow);
  CHECK(v.accepted());
  STRCMP_EQUAL(
      ("key list version 2: 1 operator keys, new root " + new_root.public_key().key_id()).c_str(),
      v.detail.c_str());
  const auto& s2 = *v.state;
  CHECK(s2.root == new_root.public_key());
  // From now on only the new root signs key lists.
  STRCMP_EQUAL(("unknown-key: key list signed by " + root.public_key().key_id() +
                ", not by the current root " + new_root.public_key().key_id())
                   .c_str(),
               key_list_outcome(s2, key_list(3, {&op_a})).c_str());
  STRCMP_CONTAINS("accepted", key_list_outcome(s2, key_list(3, {&op_a}, &new_root)).c_str());
  // A replay of the rotation itself.
  STRCMP_CONTAINS("unknown-key",
                  key_list_outcome(s2, key_list(2, {&op_b}, &root, &new_root)).c_str());
}

TEST(bundle_verifier, root_rotation_without_the_new_roots_signature_is_refused) {
  const auto s = trusted();
  const std::string n = new_root.public_key().key_id();
  pb::SignedKeyList rotation;
  CHECK(rotation.ParseFromString(key_list(2, {&op_b}, &root, &new_root)));
  pb::SignedKeyList missing = rotation;
  missing.clear_new_root_signature();
  STRCMP_EQUAL(("bad-signature: a root rotation must also be signed by the new root " + n).c_str(),
               key_list_outcome(s, missing.SerializeAsString()).c_str());
  pb::SignedKeyList wrong = rotation;
  wrong.set_new_root_signature(*op_a.sign(rotation.key_list()));
  STRCMP_EQUAL(("bad-signature: a root rotation must also be signed by the new root " + n).c_str(),
               key_list_outcome(s, wrong.SerializeAsString()).c_str());
  // Rotating to the current root, or a new root signature without a new root.
  STRCMP_EQUAL("invalid-key-list: new_root_public_key is the current root",
               key_list_outcome(s, key_list(2, {&op_b}, &root, &root)).c_str());
  pb::SignedKeyList stray;
  CHECK(stray.ParseFromString(key_list(2, {&op_b})));
  stray.set_new_root_signature(*new_root.sign(stray.key_list()));
  STRCMP_EQUAL("invalid-key-list: new_root_signature without a new_root_public_key",
               key_list_outcome(s, stray.SerializeAsString()).c_str());
  // The new root may not double as an operator key.
  STRCMP_EQUAL("invalid-key-list: key[0]: the root key cannot be an operator key",
               key_list_outcome(s, key_list(2, {&new_root}, &root, &new_root)).c_str());
}

// ------------------------------------------------------------------------------ persistence

TEST(bundle_verifier, trust_state_round_trips_through_its_proto_and_keeps_anti_rollback) {
  auto s = *update_key_list(trusted(), key_list(2, {&op_a, &op_b}, &root, &new_root), kNow).state;
  const std::string seven = sign(bundle(7));
  auto v = verify_bundle(s, seven, "gw-1", running_classes, kNow);
  CHECK(v.accepted());
  record_applied(s, *v.bundle);

  // What the daemon writes, and reads back after a restart.
  const std::string stored = trust_state_to_proto(s).SerializeAsString();
  pb::TrustState proto;
  CHECK(proto.ParseFromString(stored));
  auto loaded = trust_state_from_proto(proto);
  CHECK(loaded.ok());
  CHECK(loaded->root == new_root.public_key());
  LONGS_EQUAL(2, loaded->key_list_version);
  LONGS_EQUAL(kNow + 365 * kDay, loaded->key_list_expires_at);
  LONGS_EQUAL(2, loaded->operator_keys.size());
  CHECK(loaded->operator_keys[0] == op_a.public_key());
  CHECK(loaded->operator_keys[1] == op_b.public_key());
  LONGS_EQUAL(7, loaded->applied_sequence);

  STRCMP_EQUAL("rollback: sequence 7 is not above the applied sequence 7",
               outcome(*loaded, seven).c_str());
  STRCMP_CONTAINS("accepted", outcome(*loaded, sign(bundle(8), &op_b)).c_str());
}

TEST(bundle_verifier, a_damaged_trust_state_is_refused_naming_the_field) {
  pb::TrustState proto = trust_state_to_proto(trusted());
  pb::TrustState bad_root = proto;
  bad_root.set_root_public_key("x");
  auto r = trust_state_from_proto(bad_root);
  CHECK_FALSE(r.ok());
  STRCMP_EQUAL("trust state: root_public_key: not a DER public key (SubjectPublicKeyInfo)",
               r.error_message().c_str());
  pb::TrustState bad_id = proto;
  bad_id.mutable_key(0)->set_key_id("ffffffffffffffff");
  r = trust_state_from_proto(bad_id);
  CHECK_FALSE(r.ok());
  STRCMP_EQUAL("trust state: key[0]: key id does not match the public key",
               r.error_message().c_str());
}

// ------------------------------------------------------------------------------ helpers

TEST(bundle_verifier, describe_target_and_class_ids) {
  STRCMP_EQUAL("fleet", describe_target(fleet()).c_str());
  STRCMP_EQUAL("gateways gw-1", describe_target(gateways({"gw-1"})).c_str());
  STRCMP_EQUAL("device classes a, b", describe_target(classes({"a", "b"})).c_str());
  STRCMP_EQUAL("nothing", describe_target(pb::Target()).c_str());
  auto policy = test::compile_ok(kPolicy);
  const auto ids = class_ids(*policy);
  LONGS_EQUAL(1, ids.size());
  STRCMP_EQUAL("plug", ids[0].c_str());
}

TEST(bundle_verifier, widened_defaults_names_purposes_a_bundle_would_start_granting) {
  auto policy = [](const char* analytics_basis, const char* extra) {
    return test::compile_ok(
        std::string(
            "purpose { id: \"service\" title: \"S\" legal_basis: CONTRACT retention_seconds: 60 }\n"
            "purpose { id: \"analytics\" title: \"A\" retention_seconds: 60 legal_basis: ") +
        analytics_basis + " " + extra +
        " }\n"
        "device_class { id: \"plug\" topic: \"plugs/{device}\"\n"
        "  field { path: \"power\" rule { purpose: \"service\" purpose: \"analytics\" keep {} } } "
        "}\n");
  };
  auto consent = policy("CONSENT", "");
  auto contract = policy("CONTRACT", "");
  auto health = policy("CONTRACT", "special_category: HEALTH");
  LONGS_EQUAL(0, widened_defaults(*consent, *consent).size());
  LONGS_EQUAL(0, widened_defaults(*contract, *consent).size());
  const auto widened = widened_defaults(*consent, *contract);
  LONGS_EQUAL(1, widened.size());
  STRCMP_EQUAL("analytics", widened[0].c_str());
  LONGS_EQUAL(1, widened_defaults(*health, *contract).size());
}

TEST(bundle_verifier, raised_caps_names_purposes_whose_daily_epsilon_a_bundle_raises) {
  auto policy = [](const char* analytics_cap, const char* research_cap) {
    const auto purpose = [](const char* id, const char* cap) {
      return std::string("purpose { id: \"") + id + "\" title: \"T\" legal_basis: CONTRACT retention_seconds: 60 " +
             (cap[0] ? std::string("epsilon_per_day: ") + cap : std::string()) + " }\n";
    };
    const auto rule = [](const char* id, const char* cap) {
      return cap[0] ? std::string("rule { purpose: \"") + id +
                          "\" aggregate { function: SUM window_seconds: 3600 noise { epsilon: 0.1 "
                          "lower: 0 upper: 10 } } } "
                    : std::string("rule { purpose: \"") + id + "\" keep {} } ";
    };
    return test::compile_ok(purpose("analytics", analytics_cap) + purpose("research", research_cap) +
                            "device_class { id: \"meter\" topic: \"meters/{device}\"\n"
                            "  field { path: \"energy\" " +
                            rule("analytics", analytics_cap) + rule("research", research_cap) +
                            "} }\n");
  };
  auto low = policy("0.5", "");
  auto high = policy("1", "");
  auto both = policy("0.2", "2");
  LONGS_EQUAL(0, raised_caps(*low, *low).size());
  LONGS_EQUAL(0, raised_caps(*high, *low).size());  // lowered: narrower
  const auto raised = raised_caps(*low, *high);
  LONGS_EQUAL(1, raised.size());
  STRCMP_EQUAL("analytics", raised[0].purpose.c_str());
  DOUBLES_EQUAL(0.5, raised[0].before, 1e-12);
  DOUBLES_EQUAL(1.0, raised[0].after, 1e-12);
  // research had no noisy release before (kept as it came): a cap where there was none is no raise.
  LONGS_EQUAL(0, raised_caps(*high, *both).size());
  LONGS_EQUAL(1, raised_caps(*both, *high).size());  // analytics 0.2 -> 1
}
