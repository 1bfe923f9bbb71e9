#include "gateway/household/consent_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "consent.pb.h"
#include "platform/crc32.h"
#include "tests/gateway/test_files.h"

#include <CppUTest/TestHarness.h>

using namespace portier;
using namespace portier::gateway;
using policies::consent_decision;

namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;

using portier::gateway::test::slurp;
using portier::gateway::test::spit;

// Frames a body the way the store does: what a forger who knows the format writes.
std::string framed(const std::string& body) {
  std::string out = "PTC1";
  const std::uint32_t crc = platform::crc32(body);
  for (int i = 0; i < 4; ++i) out += static_cast<char>((crc >> (8 * i)) & 0xFF);
  return out + body;
}

consent_shown shown(const std::string& title = "Energy advice") {
  return {title, "Monthly tips from your consumption", "acme-home", 7};
}

const char* name(consent_decision d) {
  switch (d) {
    case consent_decision::unset: return "unset";
    case consent_decision::granted: return "granted";
    case consent_decision::refused: return "refused";
  }
  return "?";
}

}  // namespace

TEST_GROUP(consent_store) {
  std::string dir;
  std::string path;
  std::unique_ptr<consent_store> store;

  void setup() override {
    char tmpl[] = "/tmp/portier-consent-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
    path = dir + "/consent.pb";
  }
  void teardown() override {
    store.reset();
    CHECK_EQUAL(0, std::system(("rm -rf " + dir).c_str()));
  }

  void open_store(std::size_t max_receipts = 10'000) {
    store.reset();
    auto r = consent_store::open({path, max_receipts});
    CHECK_TEXT(r.ok(), r.ok() ? "" : r.error_message().c_str());
    store = std::move(*r);
  }
  std::string open_error() {
    store.reset();
    auto r = consent_store::open({path, 10'000});
    CHECK_FALSE(r.ok());
    return r.ok() ? "" : r.error_message();
  }
  consent_receipt decide(consent_scope scope, const std::string& value, const std::string& purpose,
                         consent_choice choice, std::int64_t at = kNow) {
    auto r = store->decide(scope, value, purpose, choice, "cli", shown(), at);
    CHECK_TEXT(r.ok(), r.ok() ? "" : r.error_message().c_str());
    return r.ok() ? *r : consent_receipt{};
  }
  void expect(const char* want, const std::string& device, const std::string& cls, const std::string& purpose) {
    STRCMP_EQUAL(want, name(store->snapshot()->lookup(device, cls, purpose)));
  }
  std::string decide_error(consent_scope scope, const std::string& value, const std::string& purpose,
                           const std::string& method = "cli", const consent_shown& s = shown()) {
    auto r = store->decide(scope, value, purpose, consent_choice::grant, method, s, kNow);
    CHECK_FALSE(r.ok());
    return r.ok() ? "" : r.error_message();
  }
};

TEST(consent_store, the_most_specific_scope_wins_and_clearing_falls_back_to_the_wider_one) {
  open_store();
  decide(consent_scope::household, "", "analytics", consent_choice::grant);
  decide(consent_scope::device_class, "thermostat", "analytics", consent_choice::refuse);
  decide(consent_scope::device, "zigbee/living room", "analytics", consent_choice::grant);

  expect("granted", "zigbee/living room", "thermostat", "analytics");  // device
  expect("refused", "zigbee/bedroom", "thermostat", "analytics");      // class
  expect("granted", "plug-1", "plug", "analytics");                    // household
  expect("unset", "plug-1", "plug", "marketing");                      // nobody decided

  decide(consent_scope::device, "zigbee/living room", "analytics", consent_choice::clear);
  expect("refused", "zigbee/living room", "thermostat", "analytics");
  decide(consent_scope::device_class, "thermostat", "analytics", consent_choice::clear);
  expect("granted", "zigbee/living room", "thermostat", "analytics");
  decide(consent_scope::household, "", "analytics", consent_choice::clear);
  expect("unset", "zigbee/living room", "thermostat", "analytics");
  LONGS_EQUAL(0, store->decisions().size());
  LONGS_EQUAL(6, store->receipts().size());
  STRCMP_EQUAL("cleared", std::string(receipt_decision_name(store->receipts().back().decision)).c_str());

  decide(consent_scope::device, "plug-1", "service", consent_choice::refuse, kNow + 9);
  const auto listed = store->decisions();
  LONGS_EQUAL(1, listed.size());
  CHECK_FALSE(listed[0].granted);
  LONGS_EQUAL(kNow + 9, listed[0].decided_at_ms);
  STRCMP_EQUAL(store->receipts().back().id.c_str(), listed[0].receipt_id.c_str());
}

TEST(consent_store, a_change_builds_a_new_snapshot_and_leaves_the_old_one_alone) {
  open_store();
  const auto before = store->snapshot();
  decide(consent_scope::household, "", "analytics", consent_choice::grant);
  const auto after = store->snapshot();
  CHECK(before != after);
  STRCMP_EQUAL("unset", name(before->lookup("d", "c", "analytics")));
  STRCMP_EQUAL("granted", name(after->lookup("d", "c", "analytics")));
  CHECK(after == store->snapshot());  // fetching does not rebuild
}

TEST(consent_store, pause_stops_everything_and_resume_restores_the_decisions) {
  open_store();
  decide(consent_scope::household, "", "analytics", consent_choice::grant);
  decide(consent_scope::device, "plug-1", "service", consent_choice::refuse);
  auto p = store->pause("web", {"", "", "acme-home", 7}, kNow + 1);
  CHECK(p.ok() && p->has_value());
  STRCMP_EQUAL("paused", std::string(receipt_decision_name((*p)->decision)).c_str());
  STRCMP_EQUAL("", (*p)->purpose.c_str());
  auto again = store->pause("web", {"", "", "acme-home", 7}, kNow + 1);  // already paused: no change
  CHECK(again.ok() && !again->has_value());
  LONGS_EQUAL(3, store->receipts().size());
  CHECK(store->paused());
  CHECK(store->snapshot()->paused());
  LONGS_EQUAL(2, store->decisions().size());

  auto r = store->resume("web", {"", "", "acme-home", 7}, kNow + 2);
  CHECK(r.ok() && r->has_value());
  CHECK_FALSE(store->snapshot()->paused());
  expect("granted", "plug-2", "plug", "analytics");
  expect("refused", "plug-1", "plug", "service");
  STRCMP_EQUAL("resumed", std::string(receipt_decision_name(store->receipts().back().decision)).c_str());
}

TEST(consent_store, decisions_pause_and_receipts_survive_a_reopen_in_a_private_file) {
  open_store();
  decide(consent_scope::household, "", "analytics", consent_choice::grant);
  decide(consent_scope::device_class, "camera", "analytics", consent_choice::refuse);
  decide(consent_scope::device, "cam/porch", "service", consent_choice::grant);
  CHECK(store->pause("cli", shown(), kNow).ok());
  const auto receipts = store->receipts();

  open_store();
  CHECK(store->paused());
  CHECK(store->snapshot()->paused());
  expect("refused", "cam/garden", "camera", "analytics");
  expect("granted", "cam/porch", "camera", "service");
  const auto again = store->receipts();
  LONGS_EQUAL(receipts.size(), again.size());
  for (std::size_t i = 0; i < receipts.size(); ++i) STRCMP_EQUAL(receipts[i].hash.c_str(), again[i].hash.c_str());
  STRCMP_EQUAL("Monthly tips from your consumption", again[0].shown.purpose_description.c_str());
  LONGS_EQUAL(7, again[0].shown.policy_version);
  CHECK(store->verify_receipts().ok);

  struct stat st {};
  CHECK_EQUAL(0, ::stat(path.c_str(), &st));
  LONGS_EQUAL(0600, st.st_mode & 0777);
}

TEST(consent_store, receipts_form_a_chain_from_an_empty_previous_hash) {
  open_store();
  const auto a = decide(consent_scope::household, "", "analytics", consent_choice::grant, kNow);
  const auto b = decide(consent_scope::household, "", "analytics", consent_choice::refuse, kNow + 5);
  STRCMP_EQUAL("", a.prev_hash.c_str());
  STRCMP_EQUAL(a.hash.c_str(), b.prev_hash.c_str());
  LONGS_EQUAL(64, a.hash.size());
  LONGS_EQUAL(32, a.id.size());
  CHECK(a.id != b.id);
  STRCMP_EQUAL(consent_receipt_hash(b).c_str(), b.hash.c_str());
  LONGS_EQUAL(kNow + 5, b.time_ms);
  STRCMP_EQUAL("cli", b.method.c_str());
  STRCMP_EQUAL("acme-home", b.shown.policy_name.c_str());
  const auto check = store->verify_receipts();
  CHECK(check.ok);
  LONGS_EQUAL(2, check.count);
}

TEST(consent_store, a_receipt_edited_on_disk_is_detected) {
  open_store();
  decide(consent_scope::household, "", "analytics", consent_choice::grant);
  store->decide(consent_scope::household, "", "service", consent_choice::refuse, "cli", shown("Repairs"), kNow);
  decide(consent_scope::household, "", "marketing", consent_choice::refuse);
  store.reset();

  // The forger changes what the household was shown, and fixes the file's checksum.
  std::string bytes = slurp(path);
  const auto at = bytes.find("Repairs");
  CHECK(at != std::string::npos);
  bytes.replace(at, 7, "Rebates");
  spit(path, framed(bytes.substr(8)));

  open_store();
  const auto check = store->verify_receipts();
  CHECK_FALSE(check.ok);
  LONGS_EQUAL(1, check.first_bad);
  LONGS_EQUAL(1, check.count);
  STRCMP_EQUAL(store->receipts()[1].id.c_str(), check.receipt_id.c_str());
  STRCMP_EQUAL("content does not match its hash: it was edited", check.reason.c_str());
}

TEST(consent_store, a_removed_receipt_breaks_the_chain) {
  open_store();
  for (const char* p : {"analytics", "service", "marketing"}) decide(consent_scope::household, "", p, consent_choice::grant);
  store.reset();
  consent::ConsentState state;
  CHECK(state.ParseFromString(slurp(path).substr(8)));
  state.mutable_receipts()->DeleteSubrange(1, 1);
  spit(path, framed(state.SerializeAsString()));

  open_store();
  const auto check = store->verify_receipts();
  CHECK_FALSE(check.ok);
  LONGS_EQUAL(1, check.first_bad);
  STRCMP_EQUAL("does not chain onto the receipt before it: one was removed, inserted or reordered",
               check.reason.c_str());
}

TEST(consent_store, a_receipt_rewritten_with_a_fresh_hash_is_caught_by_the_next_one) {
  open_store();
  for (const char* p : {"analytics", "service", "marketing"}) decide(consent_scope::household, "", p, consent_choice::grant);
  consent_receipt forged = store->receipts()[0];
  store.reset();
  forged.decision = receipt_decision::refused;
  forged.hash = consent_receipt_hash(forged);
  consent::ConsentState state;
  CHECK(state.ParseFromString(slurp(path).substr(8)));
  state.mutable_receipts(0)->set_decision(consent::RECEIPT_REFUSED);
  state.mutable_receipts(0)->set_hash(forged.hash);
  spit(path, framed(state.SerializeAsString()));

  open_store();
  const auto check = store->verify_receipts();
  CHECK_FALSE(check.ok);
  LONGS_EQUAL(1, check.first_bad);
  LONGS_EQUAL(1, check.count);
}

TEST(consent_store, old_receipts_are_dropped_and_the_rest_still_verifies_from_the_anchor) {
  open_store(3);
  std::vector<consent_receipt> made;
  for (int i = 0; i < 5; ++i) {
    made.push_back(decide(consent_scope::household, "", "analytics",
                          i % 2 ? consent_choice::refuse : consent_choice::grant, kNow + i));
  }
  auto kept = store->receipts();
  LONGS_EQUAL(3, kept.size());
  STRCMP_EQUAL(made[2].id.c_str(), kept[0].id.c_str());
  STRCMP_EQUAL(made[1].hash.c_str(), store->receipts_anchor().c_str());
  CHECK(store->verify_receipts().ok);
  open_store(3);
  LONGS_EQUAL(3, store->receipts().size());
  CHECK(store->verify_receipts().ok);
  STRCMP_EQUAL(made[1].hash.c_str(), store->receipts_anchor().c_str());
}

TEST(consent_store, seed_applies_presets_on_the_first_start_only) {
  open_store();
  const std::vector<std::string> grants = {"service", "analytics"};
  const std::vector<std::string> refusals = {"analytics"};
  std::vector<std::string> asked;
  auto texts = [&](std::string_view p) {
    asked.emplace_back(p);
    return consent_shown{"Title of " + std::string(p), "", "acme-home", 3};
  };
  auto seeded = store->seed(grants, refusals, texts, kNow);
  CHECK(seeded.ok());
  LONGS_EQUAL(2, seeded->size());
  STRCMP_EQUAL("analytics", (*seeded)[0].purpose.c_str());
  STRCMP_EQUAL("refused", std::string(receipt_decision_name((*seeded)[0].decision)).c_str());  // refusal wins
  STRCMP_EQUAL("granted", std::string(receipt_decision_name((*seeded)[1].decision)).c_str());
  STRCMP_EQUAL("config", (*seeded)[1].method.c_str());
  STRCMP_EQUAL("Title of service", (*seeded)[1].shown.purpose_title.c_str());
  STRCMP_EQUAL((*seeded)[0].hash.c_str(), (*seeded)[1].prev_hash.c_str());
  expect("granted", "d", "c", "service");
  expect("refused", "d", "c", "analytics");

  // The household changes its mind; the next start must not bring the presets back.
  decide(consent_scope::household, "", "service", consent_choice::refuse);
  open_store();
  auto again = store->seed(grants, refusals, texts, kNow);
  CHECK(again.ok());
  LONGS_EQUAL(0, again->size());
  expect("refused", "d", "c", "service");
  LONGS_EQUAL(3, store->receipts().size());
}

TEST(consent_store, an_empty_seed_still_marks_the_first_start_done) {
  open_store();
  CHECK(store->seed({}, {}, nullptr, kNow).ok());
  open_store();
  const std::vector<std::string> grants = {"analytics"};
  auto r = store->seed(grants, {}, nullptr, kNow);
  CHECK(r.ok());
  LONGS_EQUAL(0, r->size());
  expect("unset", "d", "c", "analytics");
}

TEST(consent_store, a_seed_with_a_bad_purpose_writes_nothing) {
  open_store();
  const std::vector<std::string> grants = {"analytics", "Bad Id"};
  auto r = store->seed(grants, {}, nullptr, kNow);
  CHECK_FALSE(r.ok());
  STRCMP_EQUAL(
      "consent seed: purpose id \"Bad Id\" must be 1 to 32 lower-case letters, digits or '-', starting with a letter",
      r.error_message().c_str());
  CHECK(::access(path.c_str(), F_OK) != 0);
  expect("unset", "d", "c", "analytics");
}

TEST(consent_store, a_corrupt_file_fails_open_naming_the_file) {
  open_store();
  decide(consent_scope::household, "", "analytics", consent_choice::grant);
  store.reset();
  const std::string good = slurp(path);

  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x01;
  spit(path, flipped);
  STRCMP_EQUAL((path + ": corrupt consent file (checksum mismatch); refusing to run without the household's consent")
                   .c_str(),
               open_error().c_str());

  spit(path, good.substr(0, good.size() - 3));
  STRCMP_CONTAINS("checksum mismatch", open_error().c_str());

  spit(path, "grant: analytics\n");
  STRCMP_EQUAL(
      (path + ": corrupt consent file (not a consent file: bad magic); refusing to run without the household's consent")
          .c_str(),
      open_error().c_str());

  spit(path, framed("\xff\xff\xff"));
  STRCMP_CONTAINS("(cannot be decoded)", open_error().c_str());

  consent::ConsentState state;
  state.set_format("portier.consent.v9");
  spit(path, framed(state.SerializeAsString()));
  STRCMP_CONTAINS("(unknown format \"portier.consent.v9\")", open_error().c_str());

  state.set_format("portier.consent.v1");
  auto* d = state.add_decisions();
  d->set_scope(consent::SCOPE_DEVICE_CLASS);
  d->set_scope_value("Not A Class");
  d->set_purpose("analytics");
  spit(path, framed(state.SerializeAsString()));
  STRCMP_CONTAINS("(decision 0: device class id \"Not A Class\" must be", open_error().c_str());
}

TEST(consent_store, an_unreadable_file_fails_open) {
  CHECK_EQUAL(0, ::mkdir(path.c_str(), 0700));  // a directory where the file should be
  STRCMP_CONTAINS(path.c_str(), open_error().c_str());
}

TEST(consent_store, input_is_validated_with_exact_messages) {
  open_store();
  using s = consent_scope;
  const std::string purpose_rule = " must be 1 to 32 lower-case letters, digits or '-', starting with a letter";
  STRCMP_EQUAL(("purpose id \"\"" + purpose_rule).c_str(), decide_error(s::household, "", "").c_str());
  STRCMP_EQUAL(("purpose id \"9lives\"" + purpose_rule).c_str(), decide_error(s::household, "", "9lives").c_str());
  STRCMP_EQUAL(("purpose id \"a_b\"" + purpose_rule).c_str(), decide_error(s::household, "", "a_b").c_str());
  STRCMP_EQUAL(("purpose id \"" + std::string(33, 'a') + "\"" + purpose_rule).c_str(),
               decide_error(s::household, "", std::string(33, 'a')).c_str());
  STRCMP_EQUAL("the household scope takes no value", decide_error(s::household, "x", "analytics").c_str());
  STRCMP_EQUAL("device class id \"Thermostat\" must be 1 to 48 lower-case letters, digits or '-', starting with a letter",
               decide_error(s::device_class, "Thermostat", "analytics").c_str());
  STRCMP_CONTAINS("device class id \"\" must", decide_error(s::device_class, "", "analytics").c_str());
  const char* device_rule = "a device id must be 1 to 256 bytes of UTF-8 without NUL";
  STRCMP_EQUAL(device_rule, decide_error(s::device, "", "analytics").c_str());
  STRCMP_EQUAL(device_rule, decide_error(s::device, std::string(257, 'd'), "analytics").c_str());
  STRCMP_EQUAL(device_rule, decide_error(s::device, std::string("a\0b", 3), "analytics").c_str());
  STRCMP_EQUAL(device_rule, decide_error(s::device, "caf\xc3", "analytics").c_str());
  STRCMP_EQUAL("method \"\" must be 1 to 32 lower-case letters, digits, '-', '_' or '.'",
               decide_error(s::household, "", "analytics", "").c_str());
  STRCMP_EQUAL("method \"C?I\" must be 1 to 32 lower-case letters, digits, '-', '_' or '.'",
               decide_error(s::household, "", "analytics", "C\nI").c_str());
  STRCMP_EQUAL("purpose title is longer than 256 bytes",
               decide_error(s::household, "", "analytics", "cli", shown(std::string(257, 't'))).c_str());
  STRCMP_EQUAL("purpose title is not valid UTF-8",
               decide_error(s::household, "", "analytics", "cli", shown("\xff")).c_str());
  consent_shown long_description = shown();
  long_description.purpose_description.assign(4097, 'x');
  STRCMP_EQUAL("purpose description is longer than 4096 bytes",
               decide_error(s::household, "", "analytics", "cli", long_description).c_str());
  LONGS_EQUAL(0, store->receipts().size());

  // Devices are arbitrary topic levels: anything else that is UTF-8 is fine.
  decide(s::device, std::string(256, 'd'), "analytics", consent_choice::grant);
  decide(s::device, "Anna's bedroom / \xc3\xa9t\xc3\xa9 #1 +", "analytics", consent_choice::grant);
  LONGS_EQUAL(2, store->decisions().size());
}

TEST(consent_store, a_change_that_cannot_be_written_is_not_applied) {
  path = dir + "/missing-dir/consent.pb";
  open_store();
  auto r = store->decide(consent_scope::household, "", "analytics", consent_choice::grant, "cli", shown(), kNow);
  CHECK_FALSE(r.ok());
  STRCMP_CONTAINS("missing-dir/consent.pb.tmp: cannot create", r.error_message().c_str());
  expect("unset", "d", "c", "analytics");
  LONGS_EQUAL(0, store->receipts().size());
  CHECK_FALSE(store->pause("cli", shown(), kNow).ok());
  CHECK_FALSE(store->paused());
  CHECK_FALSE(store->snapshot()->paused());
}

TEST(consent_store, threads_change_and_read_at_once) {
  open_store();
  std::atomic<int> failures{0};  // CppUTest's checks belong to the test's own thread
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([this, t, &failures] {
      for (int i = 0; i < 20; ++i) {
        if (!store->decide(consent_scope::device, "dev-" + std::to_string(t), "analytics",
                           i % 2 ? consent_choice::refuse : consent_choice::grant, "cli", shown(), kNow + i)
                 .ok()) {
          ++failures;
        }
      }
    });
  }
  for (int i = 0; i < 50; ++i) (void)store->snapshot()->lookup("dev-0", "c", "analytics");
  for (auto& th : threads) th.join();
  LONGS_EQUAL(0, failures.load());
  LONGS_EQUAL(60, store->receipts().size());
  CHECK(store->verify_receipts().ok);
  expect("refused", "dev-2", "c", "analytics");
  open_store();
  CHECK(store->verify_receipts().ok);
}
