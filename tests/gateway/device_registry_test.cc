#include "gateway/device_registry.h"

#include <string>

#include <CppUTest/TestHarness.h>

using portier::gateway::device_registry;

TEST_GROUP(device_registry){};

TEST(device_registry, keeps_the_last_message_and_orders_by_last_seen) {
  device_registry r;
  r.record("anna", "sensor", "z/anna", "{\"t\":1}", 100);
  r.record("tom", "plug", "z/tom", "on", 200);
  r.record("anna", "sensor", "z/anna", "{\"t\":2}", 300);
  const auto all = r.list();
  LONGS_EQUAL(2, all.size());
  STRCMP_EQUAL("anna", all[0].device_id.c_str());
  STRCMP_EQUAL("{\"t\":2}", all[0].last_payload.c_str());
  LONGS_EQUAL(100, all[0].first_seen_ms);
  LONGS_EQUAL(300, all[0].last_seen_ms);
  LONGS_EQUAL(2, all[0].messages);
  STRCMP_EQUAL("tom", all[1].device_id.c_str());
}

TEST(device_registry, forgets_on_erasure_and_when_full) {
  device_registry r({.max_devices = 100, .max_new_per_minute = 1000});
  r.record("anna", "sensor", "z/anna", "{}", 1);
  CHECK(r.forget("anna"));
  CHECK_FALSE(r.find("anna").has_value());
  CHECK_FALSE(r.forget("anna"));
  for (int i = 0; i <= 100; ++i) r.record(std::to_string(i), "c", "t", "p", 10 + i);
  LONGS_EQUAL(100, r.list().size());
  CHECK_FALSE(r.find("0").has_value());  // the least recently seen went first
  CHECK(r.find("100").has_value());
  LONGS_EQUAL(1, r.evicted());
}

// Issue 11: a burst of made-up ids must neither grow the registry nor push out the household's
// own devices. Before, every id was taken and the least recently seen device (a sensor that
// reports every few minutes) was forgotten first.
TEST(device_registry, new_ids_beyond_the_rate_are_refused_and_known_ones_still_pass) {
  device_registry r({.max_devices = 1000, .max_new_per_minute = 60});
  CHECK(r.admit("kitchen", "c", 1'000));
  for (int i = 0; i < 100; ++i) r.admit("burst-" + std::to_string(i), "c", 2'000);
  LONGS_EQUAL(1 + 60, r.size());  // the bucket: 60 at once
  LONGS_EQUAL(40, r.churned());
  CHECK(r.admit("kitchen", "c", 2'000));  // known: no budget needed
  CHECK_FALSE(r.admit("newcomer", "c", 2'000));
  CHECK(r.admit("newcomer", "c", 3'000));  // one a second comes back
  CHECK_FALSE(r.admit("another", "c", 3'000));
  CHECK_FALSE(r.admit("another", "c", 2'500));  // a clock stepped back refills nothing
  CHECK(r.admit("another", "c", 4'100));
}

TEST(device_registry, a_clock_stepped_forward_refills_no_more_than_a_full_bucket) {
  device_registry r({.max_devices = 1000, .max_new_per_minute = 10});
  for (int i = 0; i < 10; ++i) CHECK(r.admit("a" + std::to_string(i), "c", 1'000));
  int taken = 0;
  for (int i = 0; i < 50; ++i)
    taken += r.admit("b" + std::to_string(i), "c", 1'000 + 86'400'000) ? 1 : 0;
  LONGS_EQUAL(10, taken);
}

TEST(device_registry, established_devices_outlive_a_flood_of_one_shot_ids) {
  device_registry r({.max_devices = 50, .max_new_per_minute = 100000});
  r.record("kitchen", "c", "z/kitchen", "{}", 0);
  r.record("kitchen", "c", "z/kitchen", "{}", 61'000);  // seen again a minute later
  CHECK(r.find("kitchen")->established);
  r.record("hall", "c", "z/hall", "{}", 61'000);  // seen once, long ago: probation
  for (int i = 0; i < 500; ++i) {
    const std::string id = "burst-" + std::to_string(i);
    CHECK(r.admit(id, "c", 70'000 + i));
    r.record(id, "c", "z/" + id, "{}", 70'000 + i);
  }
  LONGS_EQUAL(50, r.size());
  CHECK(r.find("kitchen").has_value());
  CHECK_FALSE(r.find("hall").has_value());
  LONGS_EQUAL(452, r.evicted());
}

TEST(device_registry, kept_payloads_stay_within_their_budget_oldest_dropped_first) {
  device_registry r({.max_devices = 100, .max_new_per_minute = 1000, .max_payload_bytes = 10'000});
  for (int i = 0; i < 10; ++i)
    r.record("d" + std::to_string(i), "c", "t", std::string(2'000, 'x'), 100 + i);
  std::size_t kept = 0;
  for (const auto& d : r.list()) kept += d.last_payload.size();
  CHECK(kept <= 10'000);
  CHECK(r.find("d9")->last_payload.size() == 2'000);  // the most recent keeps its payload
  CHECK(r.find("d0")->last_payload.empty());
  CHECK(r.find("d0")->last_payload_truncated);  // explain says it was not kept whole
}

TEST(device_registry, a_huge_payload_is_kept_truncated_and_says_so) {
  device_registry r;
  r.record("cam", "c", "t", std::string(device_registry::kMaxPayload + 10, 'x'), 1);
  const auto d = r.find("cam");
  LONGS_EQUAL(device_registry::kMaxPayload, d->last_payload.size());
  CHECK(d->last_payload_truncated);
}
