// The household's consent snapshot: the most specific explicit decision wins (device, then
// class, then household); unset defers to the wider scope.
#include "policies/consent_snapshot.h"

#include <string>

#include <CppUTest/TestHarness.h>

using portier::policies::consent_decision;
using portier::policies::consent_snapshot;

namespace {

const char* name(consent_decision d) {
  switch (d) {
    case consent_decision::unset:
      return "unset";
    case consent_decision::granted:
      return "granted";
    case consent_decision::refused:
      return "refused";
  }
  return "?";
}

void check_lookup(const consent_snapshot& c, const char* device, const char* device_class,
                  const char* purpose, consent_decision expected, const char* file, int line) {
  const std::string what = std::string(device) + " / " + device_class + " / " + purpose;
  STRCMP_EQUAL_LOCATION(name(expected), name(c.lookup(device, device_class, purpose)), what.c_str(),
                        file, line);
}

#define LOOKUP(device, device_class, purpose, expected) \
  check_lookup(c, device, device_class, purpose, consent_decision::expected, __FILE__, __LINE__)

}  // namespace

TEST_GROUP(consent_snapshot) {
  consent_snapshot c;
};

TEST(consent_snapshot, nothing_decided_is_unset) {
  LOOKUP("lamp", "zigbee", "analytics", unset);
  CHECK_FALSE(c.paused());
}

TEST(consent_snapshot, the_most_specific_decision_wins) {
  c.set_household("analytics", consent_decision::granted);
  c.set_class("zigbee", "analytics", consent_decision::refused);
  c.set_device("lamp", "analytics", consent_decision::granted);
  LOOKUP("lamp", "zigbee", "analytics", granted);   // device
  LOOKUP("plug", "zigbee", "analytics", refused);   // class
  LOOKUP("plug", "tasmota", "analytics", granted);  // household
  LOOKUP("lamp", "tasmota", "analytics", granted);  // device, in any class
  LOOKUP("lamp", "zigbee", "service", unset);       // purposes are independent
}

TEST(consent_snapshot, unset_defers_to_the_wider_scope) {
  c.set_household("analytics", consent_decision::refused);
  c.set_class("zigbee", "analytics", consent_decision::granted);
  c.set_device("lamp", "analytics", consent_decision::refused);
  c.set_device("lamp", "analytics", consent_decision::unset);
  LOOKUP("lamp", "zigbee", "analytics", granted);
  c.set_class("zigbee", "analytics", consent_decision::unset);
  LOOKUP("lamp", "zigbee", "analytics", refused);
}

TEST(consent_snapshot, a_later_decision_replaces_an_earlier_one) {
  c.set_household("analytics", consent_decision::granted);
  c.set_household("analytics", consent_decision::refused);
  LOOKUP("lamp", "zigbee", "analytics", refused);
}

TEST(consent_snapshot, scopes_do_not_leak_into_each_other) {
  // A device named like a class, or a class like a device, is still its own scope.
  c.set_device("zigbee", "analytics", consent_decision::granted);
  c.set_class("lamp", "analytics", consent_decision::refused);
  LOOKUP("lamp", "zigbee", "analytics", unset);
  LOOKUP("zigbee", "lamp", "analytics", granted);
  LOOKUP("other", "lamp", "analytics", refused);
}

TEST(consent_snapshot, pause_is_a_flag_beside_the_decisions) {
  c.set_household("analytics", consent_decision::granted);
  c.set_paused(true);
  CHECK_TRUE(c.paused());
  LOOKUP("lamp", "zigbee", "analytics", granted);  // the evaluator applies the pause
  c.set_paused(false);
  CHECK_FALSE(c.paused());
}
