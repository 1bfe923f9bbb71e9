// Announcements (policies/announcement.h): what a discovery message says of a state topic, how a
// class is chosen by it, and what the compiler accepts. Cases run through evaluate() as the
// gateway calls it, with an announcement_map as the table (test_support.h engine).
#include "policies/announcement.h"

#include <string>

#include "test_support.h"

using namespace portier::policies;
using portier::policies::test::compile_errors;
using portier::policies::test::engine;
using portier::policies::test::joined;

namespace {

// Discovery on disc/{node}/{object}/config (full names and ESPHome's abbreviations), statestream
// attributes on ss/{domain}/{entity}/<attribute>, and states on {node}/sensor/{object}/state,
// chosen by what was announced.
const char* const kPolicy = R"(
purpose { id: "service" title: "S" legal_basis: CONTRACT retention_seconds: 60 }
purpose { id: "analytics" title: "A" legal_basis: CONSENT retention_seconds: 60 }
device_class {
  id: "discovery"
  topic: "disc/{component}/{entity...}/config"
  device_id: "{component}/{entity}"
  announces {
    state_topic: ["stat_t", "state_topic"]
    base: "~"
    device_class: ["dev_cla", "device_class"]
    unit: ["unit_of_meas", "unit_of_measurement"]
    template: ["val_tpl", "value_template"]
  }
  field { path: "dev_cla" rule { purpose: "service" keep { type: STRING max_length: 32 } } }
}
device_class {
  id: "ss-class"
  topic: "ss/{domain}/{entity}/device_class"
  device_id: "{domain}/ss/{entity}"
  announces { about_topic: "{entity}/{domain}/x/state" device_class: "$" }
  field { path: "$" rule { purpose: "service" keep { max_length: 32 } } }
}
device_class {
  id: "ss-unit"
  topic: "ss/{domain}/{entity}/unit"
  device_id: "{domain}/ss/{entity}"
  announces { about_topic: "{entity}/{domain}/x/state" unit: "$" }
  field { path: "$" rule { purpose: "service" keep { max_length: 32 } } }
}
device_class {
  id: "temperature"
  topic: "{device}/sensor/{entity}/state"
  device_id: "sensor/{device}/{entity}"
  format: RAW
  when { announced { device_class: ["temperature", ""] unit: ["°C", "°F"] } }
  field { path: "$" rule { purpose: "service" round { step: 0.5 } } }
}
device_class {
  id: "power"
  topic: "{device}/sensor/{entity}/state"
  device_id: "sensor/{device}/{entity}"
  format: RAW
  when { announced { device_class: ["power", ""] unit: "W" } }
  field { path: "$" rule { purpose: "service" round { step: 10 } } }
}
device_class {
  id: "any-binary"
  topic: "{device}/binary/{entity}/state"
  format: RAW
  when { announced {} }
  field { path: "$" rule { purpose: "service" keep { max_length: 8 } } }
}
)";

struct fixture {
  engine e{kPolicy};
  // The decision as "class purpose=payload | drops", and what it announced, if anything:
  // " -> topic (device class, unit)".
  std::string run(const std::string& topic, const std::string& payload) {
    const decision& d = e.eval(topic, payload);
    std::string out = d.device_class() != nullptr ? d.device_class()->id + " " : "";
    out += portier::policies::test::summary(d, *e.policy);
    if (const announcement* a = d.announced()) {
      out += " -> " + a->state_topic;
      if (a->meaning.opaque) {
        out += " (opaque)";
      } else {
        out += " (" + (a->sets_device_class ? "\"" + a->meaning.device_class + "\"" : "-") + ", " +
               (a->sets_unit ? "\"" + a->meaning.unit + "\"" : "-") + ")";
      }
    }
    return out;
  }
};

#define RUN(topic, payload, expected) \
  STRCMP_EQUAL_LOCATION(expected, f.run(topic, payload).c_str(), topic, __FILE__, __LINE__)

}  // namespace

TEST_GROUP(announcement) {
  fixture f;
};

TEST(announcement, a_state_topic_takes_the_class_its_discovery_message_announced) {
  RUN("n/sensor/o/state", "21.43", "| unannounced_topic=1");
  RUN("disc/sensor/n/o/config",
      R"({"dev_cla":"temperature","unit_of_meas":"°C","stat_t":"n/sensor/o/state"})",
      "discovery service={\"dev_cla\":\"temperature\"} | unlisted_field=2 -> n/sensor/o/state "
      "(\"temperature\", \"°C\")");
  RUN("n/sensor/o/state", "21.43", "temperature service=21.5 |");
  // Re-announced: the new meaning replaces the old one.
  RUN("disc/sensor/n/o/config",
      R"({"device_class":"power","unit_of_measurement":"W","state_topic":"n/sensor/o/state"})",
      "discovery | nothing_permitted=1 unlisted_field=3 -> n/sensor/o/state (\"power\", \"W\")");
  RUN("n/sensor/o/state", "1873.4", "power service=1870 |");
  // Announced as something no class accepts.
  RUN("disc/sensor/n/o/config",
      R"({"dev_cla":"power","unit_of_meas":"kW","stat_t":"n/sensor/o/state"})",
      "discovery service={\"dev_cla\":\"power\"} | unlisted_field=2 -> n/sensor/o/state "
      "(\"power\", \"kW\")");
  RUN("n/sensor/o/state", "1.8734", "| unknown_announcement=1");
  // No device class: "" in a predicate's list takes it by its unit.
  RUN("disc/sensor/n/o/config", R"({"unit_of_meas":"°F","stat_t":"n/sensor/o/state"})",
      "discovery | nothing_permitted=1 unlisted_field=2 -> n/sensor/o/state (\"\", \"°F\")");
  RUN("n/sensor/o/state", "70.3", "temperature service=70.5 |");
  // An empty `announced {}` takes any announced topic, and only announced ones.
  RUN("n/binary/o/state", "ON", "| unannounced_topic=1");
  RUN("disc/binary/n/o/config", R"({"stat_t":"n/binary/o/state"})",
      "discovery | nothing_permitted=1 unlisted_field=1 -> n/binary/o/state (\"\", \"\")");
  RUN("n/binary/o/state", "ON", "any-binary service=ON |");
}

TEST(announcement, the_base_topic_and_a_value_template) {
  // "~" at the start (or end) of the state topic stands for the base topic.
  RUN("disc/sensor/kitchen/config",
      R"({"~":"k/sensor/t","dev_cla":"temperature","unit_of_meas":"°C","stat_t":"~/state"})",
      "discovery service={\"dev_cla\":\"temperature\"} | unlisted_field=3 -> k/sensor/t/state "
      "(\"temperature\", \"°C\")");
  RUN("disc/sensor/kitchen/config",
      R"({"~":"k/sensor/t/state","dev_cla":"temperature","unit_of_meas":"°C","stat_t":"~"})",
      "discovery service={\"dev_cla\":\"temperature\"} | unlisted_field=3 -> k/sensor/t/state "
      "(\"temperature\", \"°C\")");
  RUN("disc/sensor/kitchen/config",
      R"({"~":"t/state","dev_cla":"temperature","unit_of_meas":"°C","stat_t":"k/sensor/~"})",
      "discovery service={\"dev_cla\":\"temperature\"} | unlisted_field=3 -> k/sensor/t/state "
      "(\"temperature\", \"°C\")");
  RUN("k/sensor/t/state", "21.4", "temperature service=21.5 |");
  // A "~" without a base announces nothing.
  RUN("disc/sensor/kitchen/config",
      R"({"dev_cla":"temperature","unit_of_meas":"°C","stat_t":"~/state"})",
      "discovery service={\"dev_cla\":\"temperature\"} | unlisted_field=2");
  // A value template: the payload is not the value itself, whatever the device class says.
  RUN("disc/sensor/kitchen/config",
      R"({"dev_cla":"temperature","unit_of_meas":"°C","stat_t":"k/sensor/t/state","value_template":"{{ value_json.t }}"})",
      "discovery service={\"dev_cla\":\"temperature\"} | unlisted_field=3 -> k/sensor/t/state "
      "(opaque)");
  RUN("k/sensor/t/state", "21.4", "| unknown_announcement=1");
  // A template given as null is no template.
  RUN("disc/sensor/kitchen/config",
      R"({"dev_cla":"temperature","unit_of_meas":"°C","stat_t":"k/sensor/t/state","val_tpl":null})",
      "discovery service={\"dev_cla\":\"temperature\"} | unlisted_field=3 -> k/sensor/t/state "
      "(\"temperature\", \"°C\")");
  RUN("k/sensor/t/state", "21.4", "temperature service=21.5 |");
}

TEST(announcement, what_announces_nothing) {
  const std::string before =
      f.run("disc/sensor/n/o/config",
            R"({"dev_cla":"temperature","unit_of_meas":"°C","stat_t":"n/sensor/o/state"})");
  // Each of these leaves the earlier announcement as it was.
  for (
      const char* payload : {
          "",                                           // HA: removes the entity
          R"({"dev_cla":"power","unit_of_meas":"W"})",  // no state topic
          R"({"dev_cla":"power","stat_t":"n/sensor/o/state","stat_t":"x"})",  // a member twice
          R"({"dev_cla":"power","stat_t":"n/sensor/o/state","state_topic":"n/sensor/o/state"})",  // both names
          R"({"dev_cla":"power","stat_t":"n/sensor/+/state"})",  // a wildcard
          R"({"dev_cla":"power","stat_t":""})",                  // empty
          R"({"dev_cla":42,"stat_t":"n/sensor/o/state"})",       // not a string
          R"({"dev_cla":{"x":1},"stat_t":"n/sensor/o/state"})",
          R"({"dev_cla":"power","stat_t":["n/sensor/o/state"]})",
          R"({"dev_cla":"power","stat_t":"n/sensor/o/state")",  // malformed
          R"(["n/sensor/o/state"])",
      }) {
    const decision& d = f.e.eval("disc/sensor/n/o/config", payload);
    CHECK_TEXT(d.announced() == nullptr, payload);
  }
  const std::string long_class(kMaxAnnouncedDeviceClass + 1, 'x');
  CHECK(f.e.eval("disc/sensor/n/o/config",
                 R"({"dev_cla":")" + long_class + R"(","stat_t":"n/sensor/o/state"})")
            .announced() == nullptr);
  const std::string long_topic(1025, 'x');
  CHECK(f.e.eval("disc/sensor/n/o/config", R"({"stat_t":")" + long_topic + R"("})").announced() ==
        nullptr);
  RUN("n/sensor/o/state", "21.4", "temperature service=21.5 |");
  // Members inside arrays, or deeper than named, are not the ones named.
  RUN("disc/sensor/n/o/config",
      R"({"x":[{"stat_t":"a/b"}],"dev":{"stat_t":"a/b"},"stat_t":"n/sensor/o/state"})",
      "discovery | nothing_permitted=1 unlisted_field=3 -> n/sensor/o/state (\"\", \"\")");
}

TEST(announcement, statestream_attributes_announce_one_meaning_each) {
  RUN("ss/sensor/kitchen/unit", R"("°C")",
      "ss-unit service=\"°C\" | -> kitchen/sensor/x/state (-, \"°C\")");
  RUN("kitchen/sensor/x/state", "21.4", "temperature service=21.5 |");
  RUN("ss/sensor/kitchen/device_class", R"("power")",
      "ss-class service=\"power\" | -> kitchen/sensor/x/state (\"power\", -)");
  // The unit stays as it was announced: power in °C fits no class.
  RUN("kitchen/sensor/x/state", "21.4", "| unknown_announcement=1");
  RUN("ss/sensor/kitchen/unit", R"("W")",
      "ss-unit service=\"W\" | -> kitchen/sensor/x/state (-, \"W\")");
  RUN("kitchen/sensor/x/state", "1873.4", "power service=1870 |");
}

TEST(announcement, announcing_needs_no_consent_and_goes_on_while_paused) {
  f.e.consent.set_household("service", consent_decision::refused);
  RUN("disc/sensor/n/o/config",
      R"({"dev_cla":"temperature","unit_of_meas":"°C","stat_t":"n/sensor/o/state"})",
      "discovery | no_purpose_granted=1 consent_refused=1 -> n/sensor/o/state (\"temperature\", "
      "\"°C\")");
  f.e.consent.set_household("service", consent_decision::granted);
  f.e.consent.set_paused(true);
  RUN("disc/sensor/n/p/config",
      R"({"dev_cla":"power","unit_of_meas":"W","stat_t":"n/sensor/p/state"})",
      "| paused=1 -> n/sensor/p/state (\"power\", \"W\")");
  RUN("n/sensor/p/state", "1873.4", "| paused=1");
  f.e.consent.set_paused(false);
  RUN("n/sensor/o/state", "21.4", "temperature service=21.5 |");
  RUN("n/sensor/p/state", "1873.4", "power service=1870 |");
}

TEST(announcement, the_table_merges_and_fits) {
  announcement_map m;
  announced_meaning out;
  CHECK_FALSE(m.find("t", 0, out));
  announcement a;
  a.state_topic = "t";
  a.sets_unit = true;
  a.meaning.unit = "W";
  m.record(a, 0);
  CHECK(m.find("t", 0, out));
  CHECK(out == (announced_meaning{"", "W", false}));
  CHECK(announcement_fits(out, {"power", ""}, {"W"}));
  CHECK_FALSE(announcement_fits(out, {"power"}, {"W"}));
  CHECK(announcement_fits(out, {}, {}));
  a.sets_unit = false;
  a.sets_device_class = true;
  a.meaning = {"power", "", false};
  m.record(a, 0);
  CHECK(m.find("t", 0, out));
  CHECK(out == (announced_meaning{"power", "W", false}));
  a.meaning.opaque = true;
  m.record(a, 0);
  CHECK(m.find("t", 0, out));
  CHECK(out.opaque);
  CHECK_FALSE(announcement_fits(out, {}, {}));
  LONGS_EQUAL(1, m.size());
}

TEST_GROUP(announcement_compiler){};

namespace {

const std::string kHead =
    "purpose { id: \"service\" title: \"S\" legal_basis: CONTRACT retention_seconds: 60 }\n";
const std::string kField = "  field { path: \"$\" rule { purpose: \"service\" keep {} } }\n";
// A valid class after the one under test, so that rejecting that one leaves a policy with a class.
const std::string kValid =
    "device_class { id: \"ok\" topic: \"ok/{device}\" field { path: \"v\" rule { purpose: "
    "\"service\" keep {} } } }\n";

void check_errors(const std::string& text, std::initializer_list<const char*> expected,
                  const char* file, int line) {
  std::vector<std::string> want(expected.begin(), expected.end());
  STRCMP_EQUAL_LOCATION(joined(want).c_str(), joined(compile_errors(text)).c_str(), text.c_str(),
                        file, line);
}
#define ERRORS(text, ...) check_errors(text, {__VA_ARGS__}, __FILE__, __LINE__)

}  // namespace

TEST(announcement_compiler, announces) {
  ERRORS(kHead +
         "device_class {\n  id: \"d\"\n  topic: \"d/{device}\"\n  announces { state_topic: \"t\" "
         "unit: \"u\" }\n" +
         kField + "}\n" + kValid);
  ERRORS(kHead +
             "device_class {\n  id: \"d\"\n  topic: \"d/{device}\"\n  format: RAW\n"
             "  announces { state_topic: \"t\" unit: \"u\" }\n" +
             kField + "}\n" + kValid,
         "test.textproto:6:3: device_class[0].announces: announces reads JSON members: a RAW class "
         "cannot announce");
  ERRORS(
      kHead +
          "device_class {\n  id: \"d\"\n  topic: \"d/{device}\"\n  announces { unit: \"u\" }\n" +
          kField + "}\n" + kValid,
      "test.textproto:5:3: device_class[0].announces: announces needs exactly one of state_topic "
      "(the members holding it) and about_topic (a template)");
  ERRORS(
      kHead +
          "device_class {\n  id: \"d\"\n  topic: \"d/{device}\"\n"
          "  announces { state_topic: \"t\" about_topic: \"x/{device}\" unit: \"u\" }\n" +
          kField + "}\n" + kValid,
      "test.textproto:5:3: device_class[0].announces: announces needs exactly one of state_topic "
      "(the members holding it) and about_topic (a template)");
  ERRORS(kHead +
             "device_class {\n  id: \"d\"\n  topic: \"d/{device}\"\n  announces { state_topic: "
             "\"t\" }\n" +
             kField + "}\n" + kValid,
         "test.textproto:5:3: device_class[0].announces: announces needs device_class or unit "
         "members (or both): it would announce nothing");
  ERRORS(kHead +
             "device_class {\n  id: \"d\"\n  topic: \"d/{device}\"\n"
             "  announces { about_topic: \"x/{device}/{other}\" base: \"~\" unit: \"u\" }\n" +
             kField + "}\n" + kValid,
         "test.textproto:4:3: device_class[0].topic[0]: topic filter \"d/{device}\" has no capture "
         "{other}, which about_topic \"x/{device}/{other}\" needs",
         "test.textproto:5:49: device_class[0].announces.base[0]: base expands a \"~\" in the "
         "state_topic "
         "members; about_topic has none");
  ERRORS(kHead +
             "device_class {\n  id: \"d\"\n  topic: \"d/{device}\"\n"
             "  announces { about_topic: \"{gateway}/x\" unit: \"u\" }\n" +
             kField + "}\n" + kValid,
         "test.textproto:5:15: device_class[0].announces.about_topic: about_topic may use only "
         "captures of the topic filters, not {gateway}");
  ERRORS(
      kHead +
          "device_class {\n  id: \"d\"\n  topic: \"d/{device}\"\n"
          "  announces { state_topic: [\"a[*].t\", \"t\", \"t\"] unit: \"a..b\" }\n" +
          kField + "}\n" + kValid,
      "test.textproto:5:15: device_class[0].announces.state_topic[0]: an announced member is one "
      "member, like \"stat_t\" or \"dev.ids\", not \"a[*].t\"",
      "test.textproto:5:15: device_class[0].announces.state_topic[2]: \"t\" is listed twice",
      "test.textproto:5:49: device_class[0].announces.unit[0]: bad path \"a..b\": empty key at "
      "offset 2");
}

TEST(announcement_compiler, announced_predicates) {
  ERRORS(kHead +
         "device_class {\n  id: \"d\"\n  topic: \"d/{device}\"\n  format: RAW\n"
         "  when { announced { device_class: [\"a\", \"\"] unit: \"W\" } }\n" +
         kField + "}\n" + kValid);
  ERRORS(
      kHead +
          "device_class {\n  id: \"d\"\n  topic: \"d/{device}\"\n"
          "  when { path: \"k\" announced { } }\n" +
          kField + "}\n" + kValid,
      "test.textproto:5:3: device_class[0].when: a predicate tests either a payload member (path, "
      "equals) or the announcement (announced), not both");
  ERRORS(
      kHead +
          "device_class {\n  id: \"d\"\n  topic: \"d/{device}\"\n"
          "  when { announced { device_class: [\"a\", \"a\"] unit: \"" +
          std::string(33, 'u') + "\" } }\n" + kField + "}\n" + kValid,
      "test.textproto:5:22: device_class[0].when.announced.device_class[1]: \"a\" is listed twice",
      "test.textproto:5:47: device_class[0].when.announced.unit[0]: must be UTF-8 text of at most "
      "32 bytes");
}

TEST(announcement_compiler, overlapping_announced_predicates_are_ambiguous) {
  auto cls = [](const char* id, const char* announced) {
    return std::string("device_class { id: \"") + id +
           "\" topic: \"x/{device}\" format: RAW when { announced { " + announced +
           " } } field { path: \"$\" rule { purpose: \"service\" keep {} } } }\n";
  };
  // Disjoint device classes, or disjoint units: fine.
  ERRORS(kHead + cls("a", "device_class: \"temperature\" unit: \"°C\"") +
         cls("b", "device_class: \"power\" unit: \"°C\"") +
         cls("c", "device_class: \"temperature\" unit: \"K\""));
  ERRORS(kHead + cls("a", "device_class: [\"temperature\", \"\"] unit: \"°C\"") +
             cls("b", "device_class: \"\" unit: [\"W\", \"°C\"]"),
         "test.textproto:3:1: device_class[1]: topic filter \"x/{device}\" is the same as "
         "\"x/{device}\" "
         "of device class \"a\" with an overlapping announced predicate: which class applies to a "
         "topic announced with both would be ambiguous");
  // An empty list accepts any value, so it overlaps every list.
  ERRORS(kHead + cls("a", "device_class: \"temperature\"") + cls("b", "unit: \"°C\""),
         "test.textproto:3:1: device_class[1]: topic filter \"x/{device}\" is the same as "
         "\"x/{device}\" "
         "of device class \"a\" with an overlapping announced predicate: which class applies to a "
         "topic announced with both would be ambiguous");
}
