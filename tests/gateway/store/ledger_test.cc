#include "gateway/store/ledger.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gateway/digest.h"
#include "ledger.pb.h"
#include "platform/hmac_sha256.h"
#include "tests/gateway/test_files.h"

#include <CppUTest/TestHarness.h>

using namespace portier;
using namespace portier::gateway;

namespace {

const std::vector<std::uint8_t> kSecret(32, 9);
constexpr std::int64_t kT0 = 1'700'000'040'000;  // the start of a minute
constexpr std::int64_t kMin = 60'000;

using portier::gateway::test::slurp;
using portier::gateway::test::spit;

// Every regular file under `dir`, recursively.
std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n == "." || n == "..") continue;
      const std::string p = dir + "/" + n;
      struct stat st {};
      if (::stat(p.c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        for (auto& f : files_under(p)) out.push_back(std::move(f));
      } else {
        out.push_back(p);
      }
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A segment split into its frames: magic, length, hash, body.
std::vector<std::string> frames_of(const std::string& path) {
  const std::string bytes = slurp(path);
  std::vector<std::string> out;
  std::size_t off = 0;
  while (off + 40 <= bytes.size()) {
    std::uint32_t n = 0;
    for (int i = 7; i >= 4; --i) n = (n << 8) | static_cast<unsigned char>(bytes[off + i]);
    out.push_back(bytes.substr(off, 40 + n));
    off += 40 + n;
  }
  return out;
}

void write_frames(const std::string& path, const std::vector<std::string>& frames) {
  std::string all;
  for (const auto& f : frames) all += f;
  spit(path, all);
}

ledger::LedgerEntry entry_of(const std::string& frame) {
  ledger::LedgerEntry e;
  CHECK(e.ParseFromString(frame.substr(40)));
  return e;
}

// A frame for `e` that is valid on its own: what a forger who knows the format writes.
std::string forge(const ledger::LedgerEntry& e) {
  const std::string body = e.SerializeAsString();
  std::string out = "PTL1";
  const auto n = static_cast<std::uint32_t>(body.size());
  for (int i = 0; i < 4; ++i) out += static_cast<char>((n >> (8 * i)) & 0xFF);
  out += as_bytes(sha256(e.prev_hash(), body));
  return out + body;
}

}  // namespace

TEST_GROUP(ledger) {
  std::string dir;
  std::string ldir;
  std::unique_ptr<platform::key_directory> keys;
  std::unique_ptr<gateway::ledger> lg;

  void setup() override {
    char tmpl[] = "/tmp/portier-ledger-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
    ldir = dir + "/ledger";
    keys = platform::key_directory::open(dir + "/keys").value();
  }
  void teardown() override {
    lg.reset();
    keys.reset();
    CHECK_EQUAL(0, std::system(("rm -rf " + dir).c_str()));
  }

  void open_ledger(ledger_options o = {}) {
    lg.reset();
    o.dir = ldir;
    auto r = gateway::ledger::open(o, *keys, kSecret);
    CHECK_TEXT(r.ok(), r.ok() ? "" : r.error_message().c_str());
    lg = std::move(*r);
  }
  void release(const std::string& device, const std::string& purpose, std::vector<std::string_view> fields,
               std::uint64_t bytes, std::int64_t at, const std::string& cls = "thermostat") {
    CHECK(lg->record_release(device, cls, purpose, fields, bytes, at));
  }
  // Five entries, one per policy change: seq n names "policy-n".
  void five_policies() {
    for (int i = 1; i <= 5; ++i) {
      lg->record_policy("policy-" + std::to_string(i), i, "file reload", true, "", kT0 + i);
    }
    LONGS_EQUAL(5, lg->last_seq());
  }
  std::vector<std::string> segments() {
    std::vector<std::string> out;
    for (const auto& f : files_under(ldir)) {
      if (f.size() > 7 && f.substr(f.size() - 7) == ".ledger") out.push_back(f);
    }
    return out;
  }
  void expect_bad(ledger_problem problem, std::uint64_t seq) {
    const auto check = lg->verify();
    CHECK_FALSE(check.ok);
    STRCMP_EQUAL(std::string(ledger_problem_name(problem)).c_str(),
                 std::string(ledger_problem_name(check.problem)).c_str());
    LONGS_EQUAL(seq, check.bad_seq);
  }
  void expect_ok(std::uint64_t count) {
    const auto check = lg->verify();
    CHECK_TEXT(check.ok, check.detail.c_str());
    LONGS_EQUAL(count, check.count);
  }
};

TEST(ledger, releases_are_aggregated_per_device_purpose_and_minute_and_written_when_it_is_over) {
  open_ledger();
  release("dev-1", "analytics", {"temperature"}, 10, kT0 + 1000);
  release("dev-1", "analytics", {"temperature", "humidity"}, 20, kT0 + 2000);
  release("dev-1", "service", {"battery"}, 5, kT0 + 3000);
  policies::drop_counts drops{};
  drops[static_cast<std::size_t>(policies::drop_reason::consent_refused)] = 2;
  drops[static_cast<std::size_t>(policies::drop_reason::unlisted_field)] = 3;
  lg->record_drops(drops, kT0 + 4000);
  lg->record_drops(drops, kT0 + 5000);
  LONGS_EQUAL(0, lg->last_seq());  // nothing written while the minute runs

  release("dev-2", "analytics", {"temperature"}, 7, kT0 + kMin + 1);
  LONGS_EQUAL(0, lg->last_seq());  // the data path never writes: flush() does
  lg->flush(kT0 + kMin + 2);
  LONGS_EQUAL(3, lg->last_seq());
  const auto records = lg->read(0);
  LONGS_EQUAL(3, records.size());
  const ledger_record& a = records[0];
  CHECK(a.type == ledger_record::kind::release);
  STRCMP_EQUAL("dev-1", a.device.c_str());
  CHECK_FALSE(a.device_erased);
  STRCMP_EQUAL("thermostat", a.device_class.c_str());
  STRCMP_EQUAL("analytics", a.purpose.c_str());
  LONGS_EQUAL(kT0, a.minute_ms);
  LONGS_EQUAL(2, a.count);
  LONGS_EQUAL(30, a.bytes);
  LONGS_EQUAL(2, a.fields.size());
  STRCMP_EQUAL("humidity", a.fields[0].c_str());
  STRCMP_EQUAL("temperature", a.fields[1].c_str());
  STRCMP_EQUAL("service", records[1].purpose.c_str());
  LONGS_EQUAL(1, records[1].count);
  CHECK(records[2].type == ledger_record::kind::drops);
  LONGS_EQUAL(2, records[2].drops.size());
  STRCMP_EQUAL("consent_refused", records[2].drops[0].first.c_str());
  LONGS_EQUAL(4, records[2].drops[0].second);
  STRCMP_EQUAL("unlisted_field", records[2].drops[1].first.c_str());
  LONGS_EQUAL(6, records[2].drops[1].second);

  lg->flush(kT0 + kMin + 30'000);  // same minute: nothing to write yet
  LONGS_EQUAL(3, lg->last_seq());
  lg->flush(kT0 + 2 * kMin);
  LONGS_EQUAL(4, lg->last_seq());
  LONGS_EQUAL(1, lg->read(kT0 + kMin).size());
  expect_ok(4);
}

TEST(ledger, a_full_aggregation_table_is_written_early) {
  ledger_options o;
  o.max_open_keys = 2;
  open_ledger(o);
  release("dev-1", "analytics", {"t"}, 1, kT0);
  release("dev-2", "analytics", {"t"}, 1, kT0);
  release("dev-1", "analytics", {"t"}, 1, kT0);  // an open key: no flush
  LONGS_EQUAL(0, lg->last_seq());
  release("dev-3", "analytics", {"t"}, 1, kT0);
  LONGS_EQUAL(0, lg->last_seq());
  lg->flush(kT0);  // the early batch, not the open minute
  LONGS_EQUAL(2, lg->last_seq());
  const auto r = lg->report(0);
  LONGS_EQUAL(3, r.releases.size());
  LONGS_EQUAL(4, r.released_count);
}

TEST(ledger, a_device_id_that_is_not_utf8_or_holds_nul_is_refused) {
  open_ledger();
  const std::vector<std::string_view> fields = {"t"};
  CHECK_FALSE(lg->record_release(std::string("a\0b", 3), "c", "p", fields, 1, kT0));
  CHECK_FALSE(lg->record_release("\xff", "c", "p", fields, 1, kT0));
  CHECK_FALSE(lg->record_release("", "c", "p", fields, 1, kT0));
  CHECK_FALSE(lg->record_release(std::string(257, 'd'), "c", "p", fields, 1, kT0));
  LONGS_EQUAL(0, lg->report(0).releases.size());
}

TEST(ledger, the_report_adds_up_rows_drops_and_totals_including_the_open_minute) {
  open_ledger();
  release("dev-1", "analytics", {"temperature"}, 10, kT0);
  release("dev-1", "analytics", {"humidity"}, 10, kT0 + kMin);
  lg->flush(kT0 + kMin);  // writes minute 0
  release("dev-1", "analytics", {"temperature"}, 10, kT0 + 2 * kMin);
  lg->flush(kT0 + 2 * kMin);  // writes minute 1
  release("dev-2", "service", {"battery"}, 3, kT0 + 2 * kMin, "plug");
  policies::drop_counts drops{};
  drops[static_cast<std::size_t>(policies::drop_reason::paused)] = 5;
  lg->record_drops(drops, kT0 + 2 * kMin);

  const auto r = lg->report(0);
  LONGS_EQUAL(kT0 + kMin, r.oldest_ms);  // minute 0 was written when minute 1 began
  LONGS_EQUAL(2, r.releases.size());
  const auto& row = r.releases[0];
  STRCMP_EQUAL("dev-1", row.device.c_str());
  STRCMP_EQUAL("analytics", row.purpose.c_str());
  LONGS_EQUAL(3, row.count);
  LONGS_EQUAL(30, row.bytes);
  LONGS_EQUAL(2, row.fields.size());
  STRCMP_EQUAL("humidity", row.fields[0].c_str());
  LONGS_EQUAL(kT0, row.first_minute_ms);
  LONGS_EQUAL(kT0 + 2 * kMin, row.last_minute_ms);
  STRCMP_EQUAL("plug", r.releases[1].device_class.c_str());
  LONGS_EQUAL(4, r.released_count);
  LONGS_EQUAL(33, r.released_bytes);
  LONGS_EQUAL(1, r.drops.size());
  STRCMP_EQUAL("paused", r.drops[0].first.c_str());
  LONGS_EQUAL(5, r.dropped_count);

  const auto later = lg->report(kT0 + kMin);
  LONGS_EQUAL(2, later.releases[0].count);
}

TEST(ledger, no_device_id_appears_in_the_files_in_clear) {
  open_ledger();
  const std::string device = "zigbee2mqtt/Anna's bedroom sensor";
  release(device, "analytics", {"temperature", "humidity"}, 42, kT0);
  consent_receipt receipt;
  receipt.id = "00112233445566778899aabbccddeeff";
  receipt.time_ms = kT0 + 10;
  receipt.scope = consent_scope::device;
  receipt.scope_value = device;
  receipt.purpose = "analytics";
  receipt.method = "cli";
  lg->record_consent(receipt);
  lg->flush_all(kT0 + 20);
  lg.reset();  // and whatever the destructor writes

  std::size_t files = 0;
  for (const auto& f : files_under(dir)) {
    ++files;
    const std::string bytes = slurp(f);
    CHECK_TEXT(bytes.find("Anna") == std::string::npos, f.c_str());
    CHECK_TEXT(bytes.find("bedroom") == std::string::npos, f.c_str());
  }
  CHECK(files >= 3);  // a segment, the head, the device keys

  open_ledger();
  const auto records = lg->read(0);
  LONGS_EQUAL(2, records.size());
  STRCMP_EQUAL(device.c_str(), records[0].receipt.scope_value.c_str());  // consent, written first
  STRCMP_EQUAL(device.c_str(), records[1].device.c_str());
  CHECK(records[0].device_key == records[1].device_key);
}

TEST(ledger, reopening_continues_the_chain) {
  open_ledger();
  lg->record_policy("p", 1, "start-up", true, "", kT0);
  lg->record_policy("p", 2, "bundle", false, "bad-signature", kT0 + 1);
  open_ledger();
  LONGS_EQUAL(2, lg->last_seq());
  lg->record_policy("p", 3, "bundle", true, "", kT0 + 2);
  expect_ok(3);
  const auto records = lg->read(0);
  LONGS_EQUAL(3, records[2].seq);
  CHECK_FALSE(records[1].policy_applied);
  STRCMP_EQUAL("bad-signature", records[1].policy_reason.c_str());
  STRCMP_EQUAL("bundle", records[1].policy_source.c_str());
  LONGS_EQUAL(1, lg->verify().first_seq);
  LONGS_EQUAL(64, lg->verify().head_hash.size());
}

TEST(ledger, access_entries_wait_for_the_next_batch_and_are_bounded) {
  std::atomic<std::uint64_t> dropped{0};
  ledger_options o;
  o.access_dropped_counter = &dropped;
  open_ledger(o);
  lg->record_access("web", "devices", true, kT0);
  lg->record_access("cli", "redeem_pairing", false, kT0 + 1);
  LONGS_EQUAL(0, lg->last_seq());  // no write of their own
  lg->flush(kT0 + 2);
  expect_ok(2);
  const auto records = lg->read(0, ledger_record::kind::access);
  LONGS_EQUAL(2, records.size());
  STRCMP_EQUAL("web", records[0].access_method.c_str());
  STRCMP_EQUAL("devices", records[0].access_command.c_str());
  CHECK_TRUE(records[0].access_ok);
  STRCMP_EQUAL("redeem_pairing", records[1].access_command.c_str());
  CHECK_FALSE(records[1].access_ok);
  CHECK_EQUAL(kT0 + 1, records[1].time_ms);
  LONGS_EQUAL(0, lg->read(0, ledger_record::kind::policy).size());
  // Writing stuck: the oldest beyond the bound are dropped and counted.
  for (std::size_t i = 0; i < gateway::ledger::kMaxQueuedAccess + 3; ++i)
    lg->record_access("web", "status", true, kT0 + 3);
  LONGS_EQUAL(3, lg->access_dropped());
  LONGS_EQUAL(3, dropped.load());
  lg->flush(kT0 + 4);
  LONGS_EQUAL(2 + gateway::ledger::kMaxQueuedAccess, lg->last_seq());
  expect_ok(2 + gateway::ledger::kMaxQueuedAccess);
}

TEST(ledger, a_policy_change_keeps_what_it_changed) {
  open_ledger();
  const std::vector<release_change_record> changes = {
      {"sensor", "analytics", {"temperature rounded to 1 °C"}, {"temperature as sent"}, true},
      {"plug", "service", {"power as sent"}, {}, false}};
  lg->record_policy("p", 2, "bundle 2", true, "", kT0, {}, changes, true);
  open_ledger();
  const auto records = lg->read(0);
  LONGS_EQUAL(1, records.size());
  CHECK_TRUE(records[0].policy_widens);
  LONGS_EQUAL(2, records[0].policy_changes.size());
  const auto& c = records[0].policy_changes[0];
  STRCMP_EQUAL("sensor", c.class_id.c_str());
  STRCMP_EQUAL("analytics", c.purpose.c_str());
  STRCMP_EQUAL("temperature rounded to 1 °C", c.before.at(0).c_str());
  STRCMP_EQUAL("temperature as sent", c.after.at(0).c_str());
  CHECK_TRUE(c.widens);
  CHECK_TRUE(records[0].policy_changes[1].after.empty());
  CHECK_FALSE(records[0].policy_changes[1].widens);
  expect_ok(1);
}

TEST(ledger, a_policy_change_with_too_much_to_say_is_cut_to_fit_a_frame) {
  open_ledger();
  release_change_record big{"sensor", "analytics", {}, {}, true};
  for (int i = 0; i < 100; ++i) big.after.push_back(std::string(300, 'p'));
  const std::vector<release_change_record> changes(gateway::ledger::kMaxPolicyChanges + 10, big);
  lg->record_policy("p", 2, "bundle 2", true, "", kT0, {}, changes, true);
  expect_ok(1);
  const auto records = lg->read(0);
  LONGS_EQUAL(1, records.size());
  CHECK_TRUE(records[0].policy_widens);
  const auto& kept = records[0].policy_changes;
  CHECK(!kept.empty() && kept.size() < gateway::ledger::kMaxPolicyChanges);
  LONGS_EQUAL(64, kept[0].after.size());
  LONGS_EQUAL(256, kept[0].after[0].size());
}

TEST(ledger, an_edited_entry_is_detected) {
  open_ledger();
  five_policies();
  lg.reset();
  const std::string seg = segments().front();
  std::string bytes = slurp(seg);
  const auto at = bytes.find("policy-3");
  CHECK(at != std::string::npos);
  bytes[at + 7] = '9';
  spit(seg, bytes);
  open_ledger();
  expect_bad(ledger_problem::edited, 3);
}

TEST(ledger, a_removed_entry_is_detected) {
  open_ledger();
  five_policies();
  lg.reset();
  auto frames = frames_of(segments().front());
  frames.erase(frames.begin() + 2);
  write_frames(segments().front(), frames);
  open_ledger();
  expect_bad(ledger_problem::removed, 3);
}

TEST(ledger, reordered_entries_are_detected) {
  open_ledger();
  five_policies();
  auto frames = frames_of(segments().front());
  std::swap(frames[1], frames[2]);
  write_frames(segments().front(), frames);
  expect_bad(ledger_problem::reordered, 2);  // while running, too
}

TEST(ledger, a_replaced_entry_with_a_fresh_hash_breaks_the_link_to_the_next) {
  open_ledger();
  five_policies();
  lg.reset();
  auto frames = frames_of(segments().front());
  auto e = entry_of(frames[2]);
  e.mutable_policy()->set_applied(false);
  frames[2] = forge(e);
  write_frames(segments().front(), frames);
  open_ledger();
  expect_bad(ledger_problem::broken_link, 4);
}

TEST(ledger, a_truncated_tail_is_detected_by_the_head) {
  open_ledger();
  five_policies();
  lg.reset();
  auto frames = frames_of(segments().front());
  frames.pop_back();
  write_frames(segments().front(), frames);
  open_ledger();
  expect_bad(ledger_problem::truncated, 5);
  // It stays visible after more entries.
  lg->record_policy("p", 6, "bundle", true, "", kT0 + 9);
  expect_bad(ledger_problem::removed, 5);
}

TEST(ledger, a_corrupt_frame_is_detected) {
  open_ledger();
  five_policies();
  lg.reset();
  auto frames = frames_of(segments().front());
  frames[2][0] = 'X';
  write_frames(segments().front(), frames);
  open_ledger();  // committed entries follow: this is no torn tail, nothing is cut
  expect_bad(ledger_problem::corrupt, 3);
}

TEST(ledger, a_missing_head_is_reported) {
  open_ledger();
  five_policies();
  lg.reset();
  CHECK_EQUAL(0, ::unlink((ldir + "/head").c_str()));
  open_ledger();
  expect_bad(ledger_problem::head_mismatch, 5);
}

TEST(ledger, a_torn_tail_from_a_power_cut_is_cut_off) {
  open_ledger();
  five_policies();
  lg.reset();
  spit(segments().front(), slurp(segments().front()) + std::string("PTL1\x40\x00\x00\x00partial", 15));
  open_ledger();
  expect_ok(5);
  lg->record_policy("p", 6, "bundle", true, "", kT0 + 9);
  expect_ok(6);
}

TEST(ledger, entries_written_before_a_lost_head_update_are_adopted) {
  open_ledger();
  lg->record_policy("p", 1, "bundle", true, "", kT0);
  const std::string old_head = slurp(ldir + "/head");
  lg->record_policy("p", 2, "bundle", true, "", kT0 + 1);
  lg.reset();
  spit(ldir + "/head", old_head);
  open_ledger();
  LONGS_EQUAL(2, lg->last_seq());
  expect_ok(2);
}

TEST(ledger, the_first_batch_before_its_head_update_is_adopted) {
  open_ledger();  // writes the empty head
  const std::string empty_head = slurp(ldir + "/head");
  lg->record_policy("p", 1, "bundle", true, "", kT0);
  lg.reset();
  spit(ldir + "/head", empty_head);
  open_ledger();
  expect_ok(1);
}

TEST(ledger, erasing_a_device_makes_its_entries_unreadable_and_the_chain_still_verifies) {
  open_ledger();
  release("dev-1", "analytics", {"temperature"}, 10, kT0);
  release("dev-2", "analytics", {"temperature"}, 10, kT0);
  consent_receipt receipt;
  receipt.id = "r1";
  receipt.time_ms = kT0 + 5;
  receipt.scope = consent_scope::device;
  receipt.scope_value = "dev-1";
  receipt.purpose = "analytics";
  receipt.method = "cli";
  lg->record_consent(receipt);
  release("dev-1", "analytics", {"temperature"}, 10, kT0 + kMin);  // writes minute 0
  release("dev-1", "service", {"battery"}, 1, kT0 + kMin);         // still open at erasure

  const std::vector<std::pair<std::string, std::string>> pseudonyms = {{"analytics", "k3vq"}, {"service", "x9pa"}};
  auto out = lg->erase_device("dev-1", pseudonyms, 4, kT0 + kMin + 10);
  CHECK_TEXT(out.ok(), out.ok() ? "" : out.error_message().c_str());
  LONGS_EQUAL(1, out->keys_destroyed.size());
  LONGS_EQUAL(4, out->ledger_entries);  // consent, minute 0, and the two flushed open aggregates
  expect_ok(lg->last_seq());

  std::size_t erased = 0, readable = 0;
  bool saw_erasure = false;
  for (const auto& r : lg->read(0)) {
    if (r.type == ledger_record::kind::erasure) {
      saw_erasure = true;
      LONGS_EQUAL(4, r.spool_records);
      LONGS_EQUAL(4, r.ledger_entries);
      LONGS_EQUAL(2, r.pseudonyms.size());
      STRCMP_EQUAL("k3vq", r.pseudonyms[0].second.c_str());
      LONGS_EQUAL(out->keys_destroyed[0], r.erased_keys[0]);
      continue;
    }
    if (r.type != ledger_record::kind::release && r.type != ledger_record::kind::consent) continue;
    if (r.device_erased) {
      ++erased;
      STRCMP_EQUAL("", r.device.c_str());
      STRCMP_EQUAL("", r.receipt.scope_value.c_str());
    } else {
      ++readable;
      STRCMP_EQUAL("dev-2", r.device.c_str());
    }
  }
  CHECK(saw_erasure);
  LONGS_EQUAL(4, erased);
  LONGS_EQUAL(1, readable);
  const auto report = lg->report(0);
  LONGS_EQUAL(3, report.releases.size());  // dev-2, and the erased device's two purposes
  CHECK(report.releases[0].device_erased);

  open_ledger();  // for good
  expect_ok(lg->last_seq());
  const auto records = lg->read(0);
  LONGS_EQUAL(4, std::count_if(records.begin(), records.end(), [](const ledger_record& r) { return r.device_erased; }));

  // The device comes back: it gets a new key, and its new entries are readable.
  release("dev-1", "analytics", {"temperature"}, 10, kT0 + 3 * kMin);
  lg->flush_all(kT0 + 3 * kMin);
  const auto again = lg->read(kT0 + 3 * kMin);
  LONGS_EQUAL(1, again.size());
  STRCMP_EQUAL("dev-1", again[0].device.c_str());
  CHECK(again[0].device_key != out->keys_destroyed[0]);
}

// Earlier versions kept one key file per device in the key directory and an index "devices".
TEST(ledger, keys_of_an_earlier_version_are_moved_into_the_device_keys_file) {
  const std::uint64_t key_id = 0xab;
  auto key = keys->create("ledger-device-00000000000000ab");
  CHECK(key.ok());
  const auto mac = platform::hmac_sha256::mac(kSecret, "portier/ledger-device/v1/dev-1");
  ::portier::ledger::LedgerIndex index;
  (*index.mutable_devices())[gateway::to_hex(mac.data(), 16)] = key_id;
  ::mkdir(ldir.c_str(), 0700);
  std::ofstream(ldir + "/devices") << index.SerializeAsString();

  open_ledger();
  CHECK(::access((ldir + "/devices").c_str(), F_OK) != 0);
  CHECK_FALSE(keys->get("ledger-device-00000000000000ab").has_value());  // the file is gone
  LONGS_EQUAL(1, lg->device_keys());
  release("dev-1", "analytics", {"temperature"}, 10, kT0);
  lg->flush_all(kT0);
  open_ledger();
  const auto records = lg->read(0);
  LONGS_EQUAL(1, records.size());
  LONGS_EQUAL(key_id, records[0].device_key);  // the same key, so older entries stay readable
  STRCMP_EQUAL("dev-1", records[0].device.c_str());
  auto out = lg->erase_device("dev-1", {}, 0, kT0 + 1);
  CHECK(out.ok());
  LONGS_EQUAL(1, out->keys_destroyed.size());
  CHECK(lg->read(0)[0].device_erased);
  CHECK_FALSE(lg->erase_device(std::string("a\0b", 3), {}, 0, kT0).ok());
}

// Issue 11: every new device made a key file (fsync'd, plus a directory sync) and rewrote the whole
// device index, under the lock the data path holds, outside any disk budget: 36,558 files and
// 146 MB after a few bursts of made-up ids.
TEST(ledger, device_keys_are_bounded_in_one_file_and_one_shot_devices_are_forgotten_first) {
  std::atomic<std::uint64_t> evicted{0};
  ledger_options o;
  o.max_devices = 10;
  o.evicted_counter = &evicted;
  open_ledger(o);
  release("kitchen", "analytics", {"t"}, 1, kT0);
  lg->flush(kT0 + kMin);
  release("kitchen", "analytics", {"t"}, 1, kT0 + 2 * kMin);  // seen again: established
  for (int i = 0; i < 200; ++i)
    release("burst-" + std::to_string(i), "analytics", {"t"}, 1, kT0 + 2 * kMin);
  lg->flush(kT0 + 3 * kMin);
  LONGS_EQUAL(10, lg->device_keys());
  LONGS_EQUAL(191, evicted.load());
  for (const auto& f : files_under(dir + "/keys"))
    CHECK_TEXT(f.find("ledger-device") == std::string::npos, f.c_str());

  std::size_t forgotten = 0, readable = 0;
  bool kitchen = false;
  for (const auto& r : lg->read(0)) {
    if (r.type != ledger_record::kind::release) continue;
    CHECK_FALSE(r.device_erased);
    if (r.device_forgotten) {
      ++forgotten;
    } else {
      ++readable;
      kitchen = kitchen || r.device == "kitchen";
    }
  }
  CHECK(kitchen);
  LONGS_EQUAL(191, forgotten);
  LONGS_EQUAL(2 + 9, readable);  // kitchen twice, the last nine of the burst
  const auto report = lg->report(0);
  CHECK(std::any_of(report.releases.begin(), report.releases.end(),
                    [](const ledger_report::row& r) { return r.device_forgotten; }));
  expect_ok(lg->last_seq());

  open_ledger(o);  // the table and its eviction order survive a restart
  LONGS_EQUAL(10, lg->device_keys());
  release("burst-new", "analytics", {"t"}, 1, kT0 + 4 * kMin);
  lg->flush_all(kT0 + 4 * kMin);
  CHECK_FALSE(lg->read(kT0 + 4 * kMin).back().device_forgotten);
  bool kitchen_still = false;
  for (const auto& r : lg->read(0)) kitchen_still = kitchen_still || r.device == "kitchen";
  CHECK(kitchen_still);
}

TEST(ledger, lowering_max_devices_keeps_the_most_recent_and_established_device_keys) {
  ledger_options o;
  o.max_devices = 10;
  open_ledger(o);
  release("kitchen", "analytics", {"t"}, 1, kT0);
  lg->flush(kT0 + kMin);
  release("kitchen", "analytics", {"t"}, 1, kT0 + 2 * kMin);  // seen again: established
  for (int i = 0; i < 9; ++i)
    release("burst-" + std::to_string(i), "analytics", {"t"}, 1, kT0 + 2 * kMin);
  lg->flush_all(kT0 + 3 * kMin);
  LONGS_EQUAL(10, lg->device_keys());

  o.max_devices = 4;  // lowered across a restart: the first to be evicted go
  open_ledger(o);
  LONGS_EQUAL(4, lg->device_keys());
  std::set<std::string> readable;
  for (const auto& r : lg->read(0)) {
    if (r.type == ledger_record::kind::release && !r.device_forgotten && !r.device.empty())
      readable.insert(r.device);
  }
  CHECK(readable.count("kitchen") == 1);  // established: kept
  CHECK(readable.count("burst-8") == 1);  // the most recent newcomers: kept
  CHECK(readable.count("burst-6") == 1);
  CHECK(readable.count("burst-0") == 0);  // the oldest newcomer: gone
  std::string names;
  for (const auto& n : readable) names += n + " ";
  LONGS_EQUAL_TEXT(4, readable.size(), names.c_str());
}

TEST(ledger, a_flush_that_falls_behind_drops_the_oldest_minutes_and_counts_them) {
  std::atomic<std::uint64_t> dropped{0};
  ledger_options o;
  o.dropped_counter = &dropped;
  open_ledger(o);
  for (int minute = 0; minute < 12; ++minute)
    release("dev", "analytics", {"t"}, 1, kT0 + minute * kMin);
  lg->flush_all(kT0 + 12 * kMin);
  LONGS_EQUAL(3, lg->batches_dropped());  // eleven finished minutes queued, eight kept
  LONGS_EQUAL(3, dropped.load());
  LONGS_EQUAL(8 + 1, lg->last_seq());
}

TEST(ledger, rotation_keeps_the_files_bounded_and_verification_starts_at_the_anchor) {
  ledger_options o;
  o.segment_bytes = 4096;
  o.max_bytes = 8192;
  open_ledger(o);
  for (int minute = 0; minute < 12; ++minute) {
    for (int d = 0; d < 20; ++d) {
      release("device-" + std::to_string(d), "analytics", {"temperature", "humidity"}, 10, kT0 + minute * kMin);
    }
    lg->flush(kT0 + minute * kMin);
  }
  lg->flush_all(kT0 + 12 * kMin);
  LONGS_EQUAL(240, lg->last_seq());

  std::uint64_t on_disk = slurp(ldir + "/device-keys").size();  // the device keys count too
  CHECK(on_disk > 0);
  for (const auto& s : segments()) on_disk += slurp(s).size();
  CHECK(on_disk <= 8192);
  LONGS_EQUAL(on_disk, lg->bytes());
  CHECK(segments().size() >= 2);

  auto check = lg->verify();
  CHECK_TEXT(check.ok, check.detail.c_str());
  CHECK(check.first_seq > 1);
  LONGS_EQUAL(240 - check.first_seq + 1, check.count);
  CHECK(lg->report(0).oldest_ms > 0);

  open_ledger(o);
  check = lg->verify();
  CHECK_TEXT(check.ok, check.detail.c_str());
  lg->record_policy("p", 1, "bundle", true, "", kT0 + 13 * kMin);
  check = lg->verify();
  CHECK_TEXT(check.ok, check.detail.c_str());
  LONGS_EQUAL(241 - check.first_seq + 1, check.count);

  // Deleting the oldest remaining segment is detected: the anchor says where the chain starts.
  lg.reset();
  CHECK_EQUAL(0, ::unlink(segments().front().c_str()));
  open_ledger(o);
  expect_bad(ledger_problem::removed, check.first_seq);
}

TEST(ledger, threads_record_and_read_at_once) {
  open_ledger();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      const std::vector<std::string_view> fields = {"temperature"};
      policies::drop_counts drops{};
      drops[0] = 1;
      for (int i = 0; i < 500; ++i) {
        const std::int64_t at = kT0 + (i / 100) * kMin;
        lg->record_release("dev-" + std::to_string(t), "thermostat", "analytics", fields, 2, at);
        lg->record_drops(drops, at);
      }
    });
  }
  for (int i = 0; i < 5; ++i) (void)lg->report(0);
  for (auto& th : threads) th.join();
  const auto r = lg->report(0);
  LONGS_EQUAL(2000, r.released_count);
  LONGS_EQUAL(4000, r.released_bytes);
  LONGS_EQUAL(2000, r.dropped_count);
  expect_ok(lg->last_seq());
}

TEST(ledger, window_releases_record_the_epsilon_spent_and_policies_the_caps_they_raise) {
  open_ledger();
  std::vector<std::string_view> fields = {"energy"};
  CHECK(lg->record_release("meter-1", "dsmr", "research", fields, 90, kT0, 600'000));
  CHECK(lg->record_release("meter-1", "dsmr", "research", fields, 90, kT0 + 1'000, 300'000));
  const std::vector<gateway::ledger::cap_change> raised = {{"research", 0.5, 1.0}};
  lg->record_policy("p", 2, "bundle", true, "", kT0 + 2'000, raised);
  // Not written yet: the report adds the open minute.
  auto rep = lg->report(0);
  LONGS_EQUAL(1, rep.releases.size());
  LONGS_EQUAL(900'000, rep.releases[0].epsilon_micro);
  lg->flush_all(kT0 + 3'000);
  open_ledger();
  rep = lg->report(0);
  LONGS_EQUAL(900'000, rep.releases[0].epsilon_micro);
  LONGS_EQUAL(2, rep.releases[0].count);
  const auto records = lg->read(0);
  bool policy_seen = false;
  for (const auto& r : records) {
    if (r.type != ledger_record::kind::policy) continue;
    policy_seen = true;
    LONGS_EQUAL(1, r.cap_raises.size());
    STRCMP_EQUAL("research", r.cap_raises[0].purpose.c_str());
    LONGS_EQUAL(500'000, r.cap_raises[0].before_micro);
    LONGS_EQUAL(1'000'000, r.cap_raises[0].after_micro);
  }
  CHECK(policy_seen);
  expect_ok(records.size());
}
