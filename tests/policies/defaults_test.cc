// The shipped default policy against its own samples (policies/defaults/samples.jsonl), with every
// purpose granted: nothing personal in the samples may reach a release topic or payload.
#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "sample_corpus.h"

using namespace portier::policies;
using namespace portier::policies::test;

namespace {

struct sample {
  int line = 0;
  std::string topic;
  std::string payload;  // the wire payload
  rapidjson::Document doc;
};

std::vector<sample> load_samples() {
  std::ifstream in(kDefaultsDir + "/samples.jsonl");
  std::vector<sample> out;
  std::string text;
  int line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.empty()) continue;
    sample s;
    s.line = line;
    s.doc.Parse<rapidjson::kParseFullPrecisionFlag>(text.c_str(), text.size());
    if (s.doc.HasParseError() || !s.doc.IsObject() || !s.doc.HasMember("topic") ||
        !s.doc.HasMember("payload")) {
      FAIL(("samples.jsonl:" + std::to_string(line) + ": not {\"topic\", \"payload\"}").c_str());
    }
    s.topic = s.doc["topic"].GetString();
    const rapidjson::Value& p = s.doc["payload"];
    s.payload = p.IsString() ? std::string(p.GetString(), p.GetStringLength()) : json_text(p);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

TEST_GROUP(defaults) {
  defaults_engine e;
  std::vector<sample> samples = load_samples();
};

TEST(defaults, the_policy_compiles) {
  LONGS_EQUAL(3, e.policy->purposes().size());
  STRCMP_EQUAL("portier-defaults", e.policy->name().c_str());
  LONGS_EQUAL(1, e.policy->version());
  CHECK_TRUE(e.policy->classes().size() >= 30);
}

TEST(defaults, nothing_sensitive_in_any_sample_leaves) {
  const detectors re;
  std::size_t checked = 0;
  std::vector<std::string> all;
  for (const auto& s : samples) {
    const decision& d = e.ev.evaluate(s.topic, s.payload, e.consent, 0);
    std::vector<std::string> sensitive;
    collect_sensitive(re, s.doc["payload"], "", sensitive);
    collect_captures(d, s.topic, 3, sensitive);  // not a channel number like "0"
    for (const auto& r : d.releases()) {
      for (const auto& value : sensitive) {
        const std::string where = "samples.jsonl:" + std::to_string(s.line) + ": \"" + value +
                                  "\" leaves for " + e.policy->purposes()[r.purpose].id + ": " +
                                  r.topic + " " + r.payload;
        CHECK_TEXT(r.topic.find(value) == std::string::npos, where.c_str());
        CHECK_TEXT(r.payload.find(value) == std::string::npos, where.c_str());
        ++checked;
      }
    }
    all.insert(all.end(), sensitive.begin(), sensitive.end());
  }
  // The search must look for the right things, or it proves nothing.
  for (const char* expected : {"Smith Family WiFi",
                               "30:B5:C2:3D:6A:4E",
                               "30:b5:c2:3d:6a:4e",
                               "A8032AB12345",
                               "192.168.1.57",
                               "52.370216",
                               "4.954213",
                               "Anna bedroom sensor",
                               "Tom's hallway motion",
                               "Front door (Smith family)",
                               "anna",
                               "iphone",
                               "anna-bedroom",
                               "annas-heater",
                               "shelly1pm-A1B2C3",
                               "2024-05-01T10:23:45.123+02:00",
                               "10:23:45",
                               "1714551825",
                               "1714551825123",
                               "0x00158d0001a2b3c4",
                               "Anna's school",
                               "Home",
                               "01144A0CB2AA",
                               "AS"}) {
    CHECK_TEXT(std::find(all.begin(), all.end(), expected) != all.end(), expected);
  }
  CHECK_TRUE(checked > 100);
}

TEST(defaults, every_sample_releases_something_except_the_three_that_must_be_dropped) {
  LONGS_EQUAL(36, samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const sample& s = samples[i];
    const decision& d = e.ev.evaluate(s.topic, s.payload, e.consent, 0);
    const std::string what =
        "samples.jsonl:" + std::to_string(s.line) + " " + s.topic + ": " + summary(d, *e.policy);
    if (i + 3 < samples.size()) {
      CHECK_TEXT(!d.releases().empty(), what.c_str());
    } else {
      LONGS_EQUAL_TEXT(0, d.releases().size(), what.c_str());
    }
  }
  // Why the last three are dropped (README: no class, malformed JSON, a command that stays home).
  auto reason = [&](std::size_t i) {
    return summary(e.ev.evaluate(samples[i].topic, samples[i].payload, e.consent, 0), *e.policy);
  };
  STRCMP_EQUAL("| unmatched_topic=1", reason(33).c_str());
  STRCMP_EQUAL("| invalid_json=1", reason(34).c_str());
  STRCMP_EQUAL("| ignored_topic=1", reason(35).c_str());
}

TEST(defaults, a_zigbee2mqtt_climate_sensor) {
  const sample& s = samples[0];
  STRCMP_EQUAL("zigbee2mqtt/Anna bedroom sensor", s.topic.c_str());
  const decision& d = e.ev.evaluate(s.topic, s.payload, e.consent, 0);
  STRCMP_EQUAL("zigbee2mqtt-device", d.device_class()->id.c_str());
  LONGS_EQUAL(2, d.releases().size());
  STRCMP_EQUAL("portier/gw-test/service/zigbee2mqtt-device/kezu6euatcy5sxpb",
               d.releases()[0].topic.c_str());
  STRCMP_EQUAL(
      // Model, manufacturer and firmware come once, with the same pseudonym, in the inventory
      // (zigbee2mqtt/bridge/devices), not with every message.
      R"({"battery":97,"linkquality":"good","last_seen":"2024-05-01T10:23:00+02:00",)"
      R"("device":{"ieeeAddr":"azbv4cinn6ntwmgm"}})",
      d.releases()[0].payload.c_str());
  STRCMP_EQUAL("portier/gw-test/analytics/zigbee2mqtt-device/o2y2yse7s5pge2sc",
               d.releases()[1].topic.c_str());
  // Battery and last seen are for the service only: analytics receives the readings.
  STRCMP_EQUAL(R"({"humidity":48,"pressure":1012,"temperature":21.5})",
               d.releases()[1].payload.c_str());
  LONGS_EQUAL(1,
              d.drops(drop_reason::nothing_permitted));  // location: no occupancy or contact in it

  // Without any decision of the household only the service (a contract) receives it.
  consent_snapshot defaults;
  const decision& by_default = e.ev.evaluate(s.topic, s.payload, defaults, 0);
  LONGS_EQUAL(1, by_default.releases().size());
  LONGS_EQUAL(2, by_default.drops(drop_reason::consent_refused));
}

TEST(defaults, an_owntracks_location) {
  const sample& s = samples[11];
  STRCMP_EQUAL("owntracks/anna/iphone", s.topic.c_str());
  const decision& d = e.ev.evaluate(s.topic, s.payload, e.consent, 0);
  STRCMP_EQUAL("owntracks-location", d.device_class()->id.c_str());
  LONGS_EQUAL(1, d.releases().size());
  STRCMP_EQUAL("portier/gw-test/location/owntracks-location/ibvk45qqyrlliy62",
               d.releases()[0].topic.c_str());
  STRCMP_EQUAL(
      R"({"acc":"within 100 m","batt":80,"bs":1,"conn":"w",)"
      R"("inregions":["eyfhk5tnpjbyudut"],"inrids":["ciwlhrobvhwxvwrk"],"lat":52.3599,"lon":4.8620,"t":"p",)"
      R"("tst":1714551780,"vel":0})",
      d.releases()[0].payload.c_str());
  // _type (the class says it), created_at, BSSID, SSID, alt, m, tid, topic, vac are not listed.
  LONGS_EQUAL(9, d.drops(drop_reason::unlisted_field));

  // Location is a special category: nothing leaves until the household grants it.
  consent_snapshot defaults;
  STRCMP_EQUAL("| no_purpose_granted=1 consent_refused=1",
               summary(e.ev.evaluate(s.topic, s.payload, defaults, 0), *e.policy).c_str());
}

TEST(defaults, a_zigbee2mqtt_last_seen_keeps_its_unit_and_loses_its_precision) {
  std::string out;
  const auto run = [&](const char* payload) {
    out =
        summary(e.ev.evaluate("zigbee2mqtt/Anna bedroom sensor", payload, e.consent, 0), *e.policy);
    return out.c_str();
  };
  // Only the service receives last_seen: policy_drop, then nothing_permitted for the others.
  STRCMP_EQUAL(R"(service={"last_seen":1714551780000} | nothing_permitted=2 policy_drop=2)",
               run(R"({"last_seen":1714551825123})"));
  // Microseconds and nanoseconds were taken for milliseconds: 3.6 s and 3.6 ms resolution left.
  STRCMP_EQUAL(R"(service={"last_seen":1714551780000000} | nothing_permitted=2 policy_drop=2)",
               run(R"({"last_seen":1714551825123456})"));
  STRCMP_EQUAL(R"(service={"last_seen":1714551780000000000} | nothing_permitted=2 policy_drop=2)",
               run(R"({"last_seen":1714551825123456789})"));
  STRCMP_EQUAL("| nothing_permitted=3 policy_drop=2 implausible_time=1",
               run(R"({"last_seen":17145518251234})"));
}

TEST(defaults, free_text_leaves_only_short_and_of_the_expected_type) {
  const auto run = [&](const char* topic, const std::string& payload) {
    return summary(e.ev.evaluate(topic, payload, e.consent, 0), *e.policy);
  };
  // The inventory (zigbee2mqtt/bridge/devices) is where a device's model leaves.
  const char* inventory = "zigbee2mqtt/bridge/devices";
  const std::string model64(64, 'M');
  STRCMP_EQUAL(
      (R"(service=[{"type":"Router","definition":{"model":")" + model64 + R"("}}] |)").c_str(),
      run(inventory, R"([{"type":"Router","definition":{"model":")" + model64 + R"("}}])").c_str());
  // A device can write anything into its model name or state: not more than the service needs.
  STRCMP_EQUAL(R"(service=[{"type":"Router"}] | type_mismatch=1)",
               run(inventory, R"([{"type":"Router","definition":{"model":")" + model64 + R"(M"}}])")
                   .c_str());
  const char* sensor = "zigbee2mqtt/Anna bedroom sensor";
  STRCMP_EQUAL("| nothing_permitted=3 policy_drop=2 type_mismatch=1",
               run(sensor, R"({"state":"Anna is at home, the door code is 1234"})").c_str());
  STRCMP_EQUAL("| nothing_permitted=3 policy_drop=2 type_mismatch=1",
               run(sensor, R"({"state":1})").c_str());
}

namespace {

// Which class takes a topic, or "ignored" (a known topic that stays home) or "unmatched".
std::string taken_by(defaults_engine& e, const char* topic) {
  const decision& d =
      e.ev.evaluate(topic, R"({"state":"ON","level":"error","_type":"lwt"})", e.consent, 0);
  if (d.device_class() != nullptr) return d.device_class()->id;
  if (d.drops(drop_reason::ignored_topic) == 1) return "ignored";
  if (d.drops(drop_reason::unmatched_topic) == 1) return "unmatched";
  return summary(d, *e.policy);
}

}  // namespace

#define TAKEN_BY(topic, expected) STRCMP_EQUAL(expected, taken_by(e, topic).c_str())

TEST(defaults, zigbee2mqtt_names_with_slashes_are_devices_and_commands_and_bridge_topics_are_not) {
  TAKEN_BY("zigbee2mqtt/Anna bedroom sensor", "zigbee2mqtt-device");
  TAKEN_BY("zigbee2mqtt/Anna/bedroom climate", "zigbee2mqtt-device");
  TAKEN_BY("zigbee2mqtt/first floor/Anna/bedroom climate", "zigbee2mqtt-device");
  TAKEN_BY("zigbee2mqtt/Anna/bedroom climate/availability", "zigbee2mqtt-availability");
  TAKEN_BY("zigbee2mqtt/Anna/bedroom lamp/set", "ignored");
  TAKEN_BY("zigbee2mqtt/Anna/bedroom lamp/set/state", "ignored");
  TAKEN_BY("zigbee2mqtt/Anna/bedroom lamp/get", "ignored");
  TAKEN_BY("zigbee2mqtt/bridge/state", "zigbee2mqtt-bridge-state");
  TAKEN_BY("zigbee2mqtt/bridge/devices", "zigbee2mqtt-bridge-devices");
  TAKEN_BY("zigbee2mqtt/bridge/logging", "zigbee2mqtt-bridge-error");  // level "error"
  TAKEN_BY("zigbee2mqtt/bridge/request/device/rename", "ignored");
  TAKEN_BY("zigbee2mqtt/bridge/response/networkmap", "ignored");
  TAKEN_BY("zigbee2mqtt/bridge/definitions", "ignored");
  TAKEN_BY("zigbee2mqtt/bridge/groups", "ignored");
  // Only error lines of the bridge's log leave, and only their level.
  STRCMP_EQUAL("| ignored_topic=1",
               summary(e.ev.evaluate(
                           "zigbee2mqtt/bridge/logging",
                           R"({"level":"info","message":"MQTT publish: topic 'zigbee2mqtt/Anna'"})",
                           e.consent, 0),
                       *e.policy)
                   .c_str());
}

TEST(defaults, owntracks_tasmota_and_dsmr_topics_reach_their_class_or_stay_home) {
  TAKEN_BY("owntracks/anna/iphone", "owntracks-lwt");     // _type "lwt"
  TAKEN_BY("owntracks/anna/iphone/status", "unmatched");  // _type is not "status"
  TAKEN_BY("owntracks/anna/iphone/cmd", "ignored");
  TAKEN_BY("owntracks/anna/iphone/info", "ignored");
  TAKEN_BY("owntracks/anna/iphone/dump", "ignored");
  TAKEN_BY("stat/tasmota_1A2B3C/STATUS0", "tasmota-status");
  TAKEN_BY("stat/tasmota_1A2B3C/STATUS11", "tasmota-status");
  TAKEN_BY("stat/tasmota_1A2B3C/STATUS5", "ignored");
  TAKEN_BY("stat/tasmota_1A2B3C/RESULT", "tasmota-result");
  TAKEN_BY("tele/tasmota_1A2B3C/INFO3", "tasmota-info");
  TAKEN_BY("tele/tasmota_1A2B3C/INFO2", "ignored");
  TAKEN_BY("cmnd/tasmota_1A2B3C/POWER", "ignored");
  TAKEN_BY("tasmota/discovery/A4CF121A2B3C/config", "tasmota-discovery");
  TAKEN_BY("tasmota/discovery/A4CF121A2B3C/sensors", "ignored");
  TAKEN_BY("dsmr/reading/electricity_currently_delivered",
           "dsmr-reading-electricity-currently-delivered");
  TAKEN_BY("dsmr/reading/phase_currently_delivered_l1", "ignored");
  TAKEN_BY("dsmr/day-consumption", "dsmr-day-consumption");
  TAKEN_BY("dsmr/day-consumption/electricity_merged", "dsmr-day-consumption-electricity-merged");
  TAKEN_BY("dsmr/day-consumption/total_cost", "ignored");
  TAKEN_BY("dsmr/meter-stats/rejected_telegrams", "dsmr-meter-stats-rejected-telegrams");
  TAKEN_BY("dsmr/raw", "ignored");
}
