// class_draft: `portier-policy suggest`'s drafts compile with the shipped defaults and release
// nothing until an operator writes rules.
#include "policies/class_draft.h"

#include <string>
#include <vector>

#include "policies/evaluator.h"
#include "policies/policy_compiler.h"
#include "policies/policy_source.h"
#include "test_support.h"

using namespace portier::policies;
using portier::policies::test::joined;
using portier::policies::test::test_identity;

namespace {

const std::string kDefaults = std::string(PORTIER_SOURCE_DIR) + "/policies/defaults";

draft_shape shape_of(const std::string& topic, const std::vector<std::string>& payloads) {
  draft_shape s;
  s.topic = topic_shape(topic, shape_vocabulary());
  for (const auto& p : payloads) {
    merge_payload_shape(s.payload, payload_shape_of(p));
    ++s.messages;
  }
  return s;
}

// The defaults and `draft` compiled together; fails the test with every error.
std::shared_ptr<const compiled_policy> with_defaults(const std::string& draft) {
  auto sources = load_policy_dir(kDefaults);
  if (!sources) FAIL(sources.error_message().c_str());
  auto d = parse_policy_source("draft.textproto", draft);
  if (!d) FAIL((d.error_message() + "\n" + draft).c_str());
  sources->push_back(std::move(*d));
  auto r = compile_policy(*sources);
  if (!r.errors.empty()) FAIL(("draft does not compile:\n" + joined(r.errors) + draft).c_str());
  return r.policy;
}

}  // namespace

TEST_GROUP(class_draft){};

TEST(class_draft, one_class_per_shape_every_field_without_a_rule) {
  draft_shape s = shape_of("tele/Anna_plug/SENSOR",
                           {R"({"Time":"2024-05-01T10:00:00","ENERGY":{"Power":42,"Total":1.5}})"});
  s.messages = 1234;
  s.first_seen_ms = 1'714'550'400'000;  // 2024-05-01 08:00 UTC
  s.last_seen_ms = 1'714'557'540'000;
  const std::vector<draft_shape> shapes{s};
  STRCMP_EQUAL(
      "# Draft device classes by `portier-policy suggest`: 1 shape of messages no class takes, "
      "from\n"
      "# portierctl unmatched --json.\n"
      "# Nothing here releases anything: a field without a rule is dropped for every purpose.\n"
      "# For each class: give it a title and an ecosystem, check its topic filter, and for each\n"
      "# field decide whether a purpose needs it (add a rule: docs/POLICY.md \"Actions\") or\n"
      "# delete it, and say why. Then check it with the rest of the policy, sign and push it:\n"
      "#   portier-policy check POLICY_DIR THIS_FILE\n"
      "\n"
      "# tele/+/SENSOR: 1,234 messages, 2024-05-01 08:00 to 2024-05-01 09:59 UTC\n"
      "device_class {\n"
      "  id: \"draft-tele-sensor\"\n"
      "  title: \"TODO: what kind of device sends this\"\n"
      "  ecosystem: \"TODO\"\n"
      "  # {device} is the first level that varied; \"+\" the others. Write a level that is a\n"
      "  # fixed word of the ecosystem as that word, and capture what names the device.\n"
      "  topic: \"tele/{device}/SENSOR\"\n"
      "  # seen as number\n"
      "  field {\n"
      "    path: \"ENERGY.Power\"\n"
      "    why: \"TODO: why a purpose needs it, with a rule; or delete the field\"\n"
      "  }\n"
      "  # seen as number\n"
      "  field {\n"
      "    path: \"ENERGY.Total\"\n"
      "    why: \"TODO: why a purpose needs it, with a rule; or delete the field\"\n"
      "  }\n"
      "  # seen as string\n"
      "  field {\n"
      "    path: \"Time\"\n"
      "    why: \"TODO: why a purpose needs it, with a rule; or delete the field\"\n"
      "  }\n"
      "}\n",
      draft_classes(shapes, "portierctl unmatched --json").c_str());
}

TEST(class_draft, compiles_with_the_defaults_and_releases_nothing) {
  const std::vector<draft_shape> shapes{
      shape_of("rtl_433/Bob-laptop/Acurite-Tower/1234",
               {R"({"temperature_C":21.5,"battery_ok":1})"}),
      shape_of("acme/Anna bedroom/events/rpc",
               {R"({"src":"x","params":{"switch:0":{"apower":4.2},"Anna's phone":{"rssi":-60}}})",
                R"({"src":"y","params":{"ts":1714557600.5}})"}),
      shape_of("acme/Anna bedroom/state", {"ON", "21.5"}),
      shape_of("acme/Anna bedroom/status", {"online", R"({"a":1,"b":[]})"}),
      shape_of("acme/Anna bedroom/data", {"\xff\xfe"}),
      shape_of("tele/status", {R"({"a":{"b":1}})", R"({"a":2})"}),
      shape_of("tele/status/x", {"[]"}),
  };
  const std::string draft = draft_classes(shapes, "capture.jsonl");
  auto policy = with_defaults(draft);
  for (const char* secret : {"Anna", "Bob", "laptop", "21.5", "4.2", "Acurite"}) {
    CHECK_FALSE_TEXT(draft.find(secret) != std::string::npos, secret);
  }
  // Every class of the draft takes its messages and releases nothing, whatever is granted.
  consent_snapshot consent;
  for (const auto& p : policy->purposes()) consent.set_household(p.id, consent_decision::granted);
  evaluator ev(policy, test_identity());
  const struct {
    const char* topic;
    const char* payload;
    const char* cls;
  } cases[] = {
      {"rtl_433/Eve-pi/Acurite-Tower/99", R"({"temperature_C":19.5,"battery_ok":1})",
       "draft-rtl-433"},
      {"acme/kitchen/events/rpc", R"({"src":"z","params":{"switch:0":{"apower":1}}})",
       "draft-events-rpc"},
      {"acme/kitchen/state", "OFF", "draft-state"},
      {"acme/kitchen/status", R"({"a":3})", "draft-status"},
      {"tele/status", R"({"a":{"b":3}})", "draft-tele-status"},
  };
  for (const auto& c : cases) {
    const decision& d = ev.evaluate(c.topic, c.payload, consent, 0);
    CHECK_TEXT(d.device_class() != nullptr, c.topic);
    STRCMP_EQUAL_TEXT(c.cls, d.device_class()->id.c_str(), c.topic);
    LONGS_EQUAL_TEXT(0, d.releases().size(), c.topic);
  }
  // What could not be a field is said, not listed.
  CHECK(draft.find("#   \"params.*.rssi\" (number): through a key that may be a name") !=
        std::string::npos);
  CHECK(draft.find("#   \"b\" (array): an empty or deeply nested container") != std::string::npos);
  CHECK(draft.find("\"a\" (number): sometimes a value, sometimes holding the paths below") !=
        std::string::npos);
  CHECK(draft.find("  format: RAW\n") != std::string::npos);
  // A shape with nothing to list is an ignore to consider, commented out.
  CHECK(draft.find("# ignore {\n#   topic: \"{device}/+/data\"\n#   why: \"TODO\"\n# }\n") !=
        std::string::npos);
  CHECK(draft.find("# ignore {\n#   topic: \"tele/status/{device}\"") != std::string::npos);
}

TEST(class_draft, ids_are_unique_and_valid) {
  const std::vector<draft_shape> shapes{
      shape_of("a/b/state/x", {"1"}),
      shape_of("a/b/c/state/x", {"1"}),
      shape_of("Anna", {"1"}),
      shape_of("status/state", {"1"}),
      shape_of("status/state/sensor/events/config/attributes/availability/telemetry/devices",
               {"1"}),
  };
  const std::string draft = draft_classes(shapes, "test");
  CHECK(draft.find("id: \"draft-state\"\n") != std::string::npos);
  CHECK(draft.find("id: \"draft-state-2\"\n") != std::string::npos);
  CHECK(draft.find("id: \"draft\"\n") != std::string::npos);
  CHECK(draft.find("id: \"draft-status-state-sensor-events-config-attr\"\n") != std::string::npos);
  CHECK(draft.find("device_id: \"draft\"") != std::string::npos);  // a topic without variable level
  with_defaults(draft);
}
