#include "gateway/updates/policy_updates.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "platform/ecdsa_p256.h"
#include "policies/bundle_signer.h"
#include "policies/policy_compiler.h"
#include "../../policies/test_keys.h"

#include <CppUTest/TestHarness.h>

using namespace portier;
namespace pb = portier::bundle;

namespace {

constexpr std::int64_t kNow = 1'800'000'000;
constexpr const char* kPolicyV2 = R"(name: "remote" version: 2
purpose { id: "analytics" title: "Analytics" legal_basis: CONSENT retention_seconds: 60 }
device_class { id: "plug" topic: "plug/{device}" field { path: "power" rule { purpose: "analytics" round { step: 10 } } } })";

platform::ecdsa_private_key key(const char* pem) { return platform::ecdsa_private_key::parse(pem).value(); }

std::shared_ptr<const policies::compiled_policy> running_policy() {
  std::vector<policies::policy_source> src;
  src.push_back(policies::parse_policy_source("p.textproto", R"(name: "local" version: 1
purpose { id: "analytics" title: "A" legal_basis: CONSENT retention_seconds: 60 }
device_class { id: "plug" topic: "plug/{device}" field { path: "power" rule { purpose: "analytics" keep {} } } })")
                    .value());
  return policies::compile_policy(src).policy;
}

}  // namespace

TEST_GROUP(policy_updates) {
  std::string dir;
  platform::ecdsa_private_key root = key(policies::test::kRootKey);
  platform::ecdsa_private_key op = key(policies::test::kOperatorKeyA);
  std::shared_ptr<const policies::compiled_policy> running = running_policy();

  void setup() override {
    char tmpl[] = "/tmp/portier-updates-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
    std::ofstream(dir + "/root.pub") << root.public_key().pem();
  }
  void teardown() override { CHECK_EQUAL(0, std::system(("rm -rf " + dir).c_str())); }

  std::unique_ptr<gateway::policy_updates> open() {
    auto u = gateway::policy_updates::open(dir, dir + "/root.pub", "gw-1", "home", 1 << 20);
    CHECK_TEXT(u.ok(), u.ok() ? "" : u.error_message().c_str());
    return std::move(u).value();
  }
  std::string key_list(std::uint64_t version, std::int64_t days = 365) {
    pb::KeyList list;
    list.set_version(version);
    list.set_issued_at(kNow);
    list.set_expires_at(kNow + 86400 * days);
    auto* k = list.add_key();
    k->set_key_id(op.public_key().key_id());
    k->set_public_key(op.public_key().der());
    return policies::sign_key_list(list, root).value();
  }
  std::string bundle(std::uint64_t sequence, const char* note = "round power") {
    pb::PolicyBundle b;
    b.set_sequence(sequence);
    b.set_issued_at(kNow - 60);
    b.set_expires_at(kNow + 86400);
    b.mutable_target()->mutable_fleet();
    b.set_note(note);
    auto* f = b.add_file();
    f->set_name("policy.textproto");
    f->set_content(kPolicyV2);
    return policies::sign_bundle(b, op).value();
  }
};

TEST(policy_updates, subscribes_to_its_own_and_its_fleets_topics) {
  auto u = open();
  const auto t = u->topics();
  LONGS_EQUAL(4, t.size());
  CHECK(u->is_update_topic("portier/gw-1/policy"));
  CHECK(u->is_update_topic("portier/fleet/home/keys"));
  CHECK_FALSE(u->is_update_topic("portier/gw-2/policy"));
}

TEST(policy_updates, accepted_bundle_is_stored_and_its_sequence_survives_a_restart) {
  auto u = open();
  CHECK(u->handle("portier/fleet/home/keys", key_list(1), *running, kNow).accepted);
  const std::string seven = bundle(7);
  auto out = u->handle("portier/fleet/home/policy", seven, *running, kNow);
  CHECK_TEXT(out.accepted, out.detail.c_str());
  CHECK(out.policy != nullptr);
  STRCMP_EQUAL("remote", out.policy->name().c_str());
  STRCMP_EQUAL("round power", out.note.c_str());
  CHECK(std::filesystem::exists(gateway::policy_updates::bundle_dir(dir) + "/policy.textproto"));
  CHECK(u->committed(out).ok());
  LONGS_EQUAL(7, u->applied_sequence());

  auto again = open();  // restart
  LONGS_EQUAL(7, again->applied_sequence());
  LONGS_EQUAL(1, again->key_list_version());
  auto replay = again->handle("portier/fleet/home/policy", seven, *running, kNow);
  CHECK_FALSE(replay.accepted);
  STRCMP_EQUAL("rollback", replay.reason.c_str());
  CHECK(replay.already_in_force);
  auto older = again->handle("portier/fleet/home/policy", bundle(6), *running, kNow);
  STRCMP_EQUAL("rollback", older.reason.c_str());
  CHECK_FALSE(older.already_in_force);
}

TEST(policy_updates, a_rejected_bundle_changes_nothing) {
  auto u = open();
  u->handle("portier/fleet/home/keys", key_list(1), *running, kNow);
  std::string tampered = bundle(3);
  tampered[tampered.size() / 2] ^= 0x20;
  auto out = u->handle("portier/gw-1/policy", tampered, *running, kNow);
  CHECK_FALSE(out.accepted);
  STRCMP_EQUAL("bad-signature", out.reason.c_str());
  CHECK_FALSE(std::filesystem::exists(gateway::policy_updates::bundle_dir(dir)));
  LONGS_EQUAL(0, u->applied_sequence());
}

TEST(policy_updates, a_bundle_before_any_key_list_is_from_an_unknown_key) {
  auto u = open();
  STRCMP_EQUAL("unknown-key", u->handle("portier/gw-1/policy", bundle(1), *running, kNow).reason.c_str());
}

TEST(policy_updates, only_the_exact_key_list_in_force_is_already_in_force) {
  const std::string list = key_list(3);
  const std::string other = key_list(3, 30);  // same version, another expiry
  {
    auto u = open();
    CHECK(u->handle("portier/fleet/home/keys", list, *running, kNow).accepted);
    auto again = u->handle("portier/fleet/home/keys", list, *running, kNow);
    CHECK_FALSE(again.accepted);
    CHECK(again.already_in_force);
    auto different = u->handle("portier/gw-1/keys", other, *running, kNow);
    CHECK_FALSE(different.accepted);
    CHECK_FALSE(different.already_in_force);
    STRCMP_EQUAL("rollback", different.reason.c_str());
    STRCMP_EQUAL("a different key list with version 3 is in force; sign the new list with a higher version",
                 different.detail.c_str());
    LONGS_EQUAL(3, u->key_list_version());
  }
  auto restarted = open();
  CHECK(restarted->handle("portier/fleet/home/keys", list, *running, kNow).already_in_force);
  CHECK_FALSE(restarted->handle("portier/gw-1/keys", other, *running, kNow).already_in_force);
}

TEST(policy_updates, only_the_exact_bundle_in_force_is_already_in_force) {
  const std::string applied = bundle(5);
  const std::string other = bundle(5, "another policy, same sequence");
  {
    auto u = open();
    CHECK(u->handle("portier/fleet/home/keys", key_list(1), *running, kNow).accepted);
    auto out = u->handle("portier/fleet/home/policy", applied, *running, kNow);
    CHECK_TEXT(out.accepted, out.detail.c_str());
    CHECK(u->committed(out).ok());
    CHECK(u->handle("portier/fleet/home/policy", applied, *running, kNow).already_in_force);
    auto different = u->handle("portier/gw-1/policy", other, *running, kNow);
    CHECK_FALSE(different.accepted);
    CHECK_FALSE(different.already_in_force);
    STRCMP_EQUAL("rollback", different.reason.c_str());
    STRCMP_EQUAL("a different bundle with sequence 5 is in force; sign the new bundle with a higher sequence",
                 different.detail.c_str());
  }
  auto restarted = open();
  CHECK(restarted->handle("portier/fleet/home/policy", applied, *running, kNow).already_in_force);
  CHECK_FALSE(restarted->handle("portier/gw-1/policy", other, *running, kNow).already_in_force);
  LONGS_EQUAL(5, restarted->applied_sequence());
}

TEST(policy_updates, a_state_from_before_in_force_was_recorded_takes_the_first_copy_seen) {
  const std::string list = key_list(2);
  {
    auto u = open();
    CHECK(u->handle("portier/fleet/home/keys", list, *running, kNow).accepted);
  }
  CHECK(std::filesystem::remove(dir + "/in-force"));  // as an older portierd left it
  auto u = open();
  CHECK(u->handle("portier/fleet/home/keys", list, *running, kNow).already_in_force);
  CHECK_FALSE(u->handle("portier/fleet/home/keys", key_list(2, 30), *running, kNow).already_in_force);
}
