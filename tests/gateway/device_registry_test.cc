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
  device_registry r;
  r.record("anna", "sensor", "z/anna", "{}", 1);
  CHECK(r.forget("anna"));
  CHECK_FALSE(r.find("anna").has_value());
  CHECK_FALSE(r.forget("anna"));
  for (std::size_t i = 0; i <= device_registry::kMaxDevices; ++i) r.record(std::to_string(i), "c", "t", "p", 10 + i);
  LONGS_EQUAL(device_registry::kMaxDevices, r.list().size());
  CHECK_FALSE(r.find("0").has_value());  // the least recently seen went first
  CHECK(r.find(std::to_string(device_registry::kMaxDevices)).has_value());
}

TEST(device_registry, a_huge_payload_is_kept_truncated_and_says_so) {
  device_registry r;
  r.record("cam", "c", "t", std::string(device_registry::kMaxPayload + 10, 'x'), 1);
  const auto d = r.find("cam");
  LONGS_EQUAL(device_registry::kMaxPayload, d->last_payload.size());
  CHECK(d->last_payload_truncated);
}
