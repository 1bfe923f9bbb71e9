// The shipped default policy against its own samples (policies/defaults/samples.jsonl), with every
// purpose granted: nothing personal in the samples may reach a release topic or payload.
#include <algorithm>
#include <array>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "policies/evaluator.h"
#include "policies/policy_source.h"
#include "test_support.h"

using namespace portier::policies;
using portier::policies::test::joined;
using portier::policies::test::summary;
using portier::policies::test::test_identity;

namespace {

const std::string kDefaults = std::string(PORTIER_SOURCE_DIR) + "/policies/defaults";

struct sample {
  int line = 0;
  std::string topic;
  std::string payload;  // the wire payload
  rapidjson::Document doc;
};

std::string json_text(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

std::vector<sample> load_samples() {
  std::ifstream in(kDefaults + "/samples.jsonl");
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

std::shared_ptr<const compiled_policy> load_defaults() {
  auto sources = load_policy_dir(kDefaults);
  if (!sources) FAIL(sources.error_message().c_str());
  auto r = compile_policy(*sources);
  if (!r.errors.empty()) FAIL(joined(r.errors).c_str());
  return r.policy;
}

bool is_one_of(std::string_view key, std::initializer_list<std::string_view> keys) {
  for (auto k : keys) {
    if (k == key) return true;
  }
  return false;
}

// Patterns of values that identify a person, a place or a moment.
struct detectors {
  std::regex mac{"([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}"};
  std::regex ipv4{"([0-9]{1,3}\\.){3}[0-9]{1,3}"};
  std::regex iso_seconds{
      "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([0-9]{2}:[0-9]{2}:([0-9]{2}))([.,][0-9]+)?.*"};
  std::regex decimals{"-?[0-9]+\\.[0-9]{5,}"};
};

// What must not leave, as the device wrote it: values under identifying keys, MAC and IP
// addresses anywhere, coordinates with more than 4 decimals, second-precise times.
void collect_sensitive(const detectors& re, const rapidjson::Value& v, std::string_view key,
                       std::vector<std::string>& out) {
  const auto& [mac, ipv4, iso_seconds, decimals] = re;
  const bool identifying =
      is_one_of(key, {"SSID", "SSId", "ssid", "BSSID", "BSSId", "mac", "ip", "sta_ip",
                      "friendlyName", "ieeeAddr", "networkAddress", "desc", "tid", "topic", "Id",
                      "inregions", "inrids", "rid"});
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) collect_sensitive(re, m.value, m.name.GetString(), out);
    return;
  }
  if (v.IsArray()) {
    for (const auto& e : v.GetArray()) collect_sensitive(re, e, key, out);
    return;
  }
  const std::string text =
      v.IsString() ? std::string(v.GetString(), v.GetStringLength()) : json_text(v);
  std::smatch m;
  if (identifying || std::regex_match(text, mac) || std::regex_match(text, ipv4))
    out.push_back(text);
  if (v.IsString() && std::regex_match(text, m, iso_seconds) && (m[2] != "00" || m[3].matched)) {
    out.push_back(text);
    out.push_back(m[1]);  // the time of day to the second, in any notation
  }
  if (v.IsNumber() && is_one_of(key, {"lat", "lon"}) && std::regex_match(text, decimals))
    out.push_back(text);
  if (v.IsInt64()) {
    const std::int64_t n = v.GetInt64();
    const bool epoch_s = n >= 1'000'000'000 && n < 20'000'000'000 && n % 60 != 0;
    const bool epoch_ms = n >= 1'000'000'000'000 && n < 20'000'000'000'000 && n % 60'000 != 0;
    if (epoch_s || epoch_ms) out.push_back(text);
  }
}

// The topic levels a class captured (device names, user names, node names).
void collect_captures(const decision& d, const std::string& topic, std::vector<std::string>& out) {
  if (d.device_class() == nullptr) return;
  for (const auto& f : d.device_class()->topics) {
    std::array<std::string_view, topic_filter::kMaxCaptures> captures{};
    if (!f.match(topic, captures)) continue;
    for (std::size_t i = 0; i < f.capture_names().size(); ++i) {
      if (captures[i].size() >= 3) out.emplace_back(captures[i]);  // not a channel number like "0"
    }
  }
}

struct defaults_engine {
  defaults_engine() : policy(load_defaults()), ev(policy, test_identity()) {
    for (const auto& p : policy->purposes()) consent.set_household(p.id, consent_decision::granted);
  }
  std::shared_ptr<const compiled_policy> policy;
  evaluator ev;
  consent_snapshot consent;
};

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
  announcement_map announced;  // the ESPHome discovery lines come before their states
  for (const auto& s : samples) {
    const decision& d = e.ev.evaluate(s.topic, s.payload, e.consent, 0, &announced);
    if (d.announced()) announced.record(*d.announced(), 0);
    std::vector<std::string> sensitive;
    collect_sensitive(re, s.doc["payload"], "", sensitive);
    collect_captures(d, s.topic, sensitive);
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
  LONGS_EQUAL(37, samples.size());
  announcement_map announced;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const sample& s = samples[i];
    const decision& d = e.ev.evaluate(s.topic, s.payload, e.consent, 0, &announced);
    if (d.announced()) announced.record(*d.announced(), 0);
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
  STRCMP_EQUAL("| unmatched_topic=1", reason(34).c_str());
  STRCMP_EQUAL("| invalid_json=1", reason(35).c_str());
  STRCMP_EQUAL("| ignored_topic=1", reason(36).c_str());
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

namespace {

// The defaults with what earlier messages announced, as portierd keeps it: "class | drops" or
// "class purpose=payload |".
struct announcing {
  explicit announcing(defaults_engine& engine) : e(engine) {}
  defaults_engine& e;
  announcement_map announced;
  std::string run(std::string_view topic, std::string_view payload) {
    const decision& d = e.ev.evaluate(topic, payload, e.consent, 0, &announced);
    if (d.announced() != nullptr) announced.record(*d.announced(), 0);
    return (d.device_class() != nullptr ? d.device_class()->id + " " : std::string()) +
           summary(d, *e.policy);
  }
  // ESPHome's discovery message for an entity of node "livingroom", abbreviated as ESPHome
  // writes it; `meaning` is its device class and unit members.
  std::string esphome(std::string_view component, std::string_view object,
                      std::string_view meaning) {
    const std::string topic = "homeassistant/" + std::string(component) + "/livingroom/" +
                              std::string(object) + "/config";
    return run(
        topic,
        "{" + std::string(meaning) + (meaning.empty() ? "" : ",") +
            R"("name":"Living room","stat_t":"livingroom/)" + std::string(component) + "/" +
            std::string(object) +
            R"(/state","dev":{"ids":"a4cf12d4e5f6","name":"Living room","sa":"Living room"}})");
  }
};

}  // namespace

TEST(defaults, esphome_sensors_take_their_class_from_the_discovery_message) {
  announcing a(e);
  const char* state = "livingroom/sensor/living_room_reading/state";
  STRCMP_EQUAL("| unannounced_topic=1", a.run(state, "21.43").c_str());
  a.esphome("sensor", "living_room_reading", R"("dev_cla":"temperature","unit_of_meas":"°C")");
  STRCMP_EQUAL("esphome-temperature analytics=21.5 |", a.run(state, "21.43").c_str());
  // Announced again (the household changed the sensor): the same topic now reads as power.
  a.esphome("sensor", "living_room_reading", R"("dev_cla":"power","unit_of_meas":"W")");
  STRCMP_EQUAL("esphome-power analytics=1870 |", a.run(state, "1873.4").c_str());
  // Energy in Wh and in kWh are rounded to steps of their own unit.
  a.esphome("sensor", "living_room_reading", R"("dev_cla":"energy","unit_of_meas":"kWh")");
  STRCMP_EQUAL("esphome-energy-kwh analytics=3.22 |", a.run(state, "3.217").c_str());
  a.esphome("sensor", "living_room_reading", R"("dev_cla":"energy","unit_of_meas":"Wh")");
  STRCMP_EQUAL("esphome-energy analytics=3220 |", a.run(state, "3217").c_str());
  // Power in kW has no class (10 W steps would be 10 kW): dropped, and said why.
  a.esphome("sensor", "living_room_reading", R"("dev_cla":"power","unit_of_meas":"kW")");
  STRCMP_EQUAL("| unknown_announcement=1", a.run(state, "1.873").c_str());
  // Without a device class the unit decides, where it is unambiguous...
  a.esphome("sensor", "living_room_reading", R"("unit_of_meas":"°C")");
  STRCMP_EQUAL("esphome-temperature analytics=21.5 |", a.run(state, "21.43").c_str());
  // ... and "%" is not (humidity, battery, moisture): only with its device class.
  a.esphome("sensor", "living_room_reading", R"("unit_of_meas":"%")");
  STRCMP_EQUAL("| unknown_announcement=1", a.run(state, "47.8").c_str());
  a.esphome("sensor", "living_room_reading", R"("dev_cla":"humidity","unit_of_meas":"%")");
  STRCMP_EQUAL("esphome-humidity analytics=48 |", a.run(state, "47.8").c_str());
  a.esphome("sensor", "living_room_reading", R"("dev_cla":"battery","unit_of_meas":"%")");
  STRCMP_EQUAL("esphome-battery service=88 |", a.run(state, "87.5").c_str());
  // A value template means the state payload is not the value as such.
  a.esphome("sensor", "living_room_reading",
            R"("dev_cla":"temperature","unit_of_meas":"°C","val_tpl":"{{ value_json.t }}")");
  STRCMP_EQUAL("| unknown_announcement=1", a.run(state, R"({"t":21.43})").c_str());
  // Another node's topic was never announced.
  STRCMP_EQUAL("| unannounced_topic=1",
               a.run("kitchen/sensor/living_room_reading/state", "21.4").c_str());
}

TEST(defaults, esphome_discovery_sends_an_inventory_under_the_states_pseudonym) {
  announcing a(e);
  const decision& config = e.ev.evaluate(
      "homeassistant/sensor/livingroom/living_room_wifi_signal/config",
      R"({"dev_cla":"signal_strength","unit_of_meas":"dBm","name":"Living room WiFi signal",)"
      R"("stat_t":"livingroom/sensor/living_room_wifi_signal/state","avty_t":"livingroom/status",)"
      R"("uniq_id":"ESPsensorliving_room_wifi_signal","dev":{"ids":"a4cf12d4e5f6","name":"Living room",)"
      R"j("sw":"2024.6.1 (config hash 0x1a2b3c4d)","mdl":"esp32dev","mf":"Espressif","sa":"Living room",)j"
      R"("cns":[["mac","a4cf12d4e5f6"]]}})",
      e.consent, 0, &a.announced);
  LONGS_EQUAL(1, config.releases().size());
  const std::string inventory_topic = config.releases()[0].topic;
  const std::string inventory = config.releases()[0].payload;
  STRCMP_CONTAINS(R"("dev_cla":"signal_strength","unit_of_meas":"dBm","dev":{"ids":")",
                  inventory.c_str());
  STRCMP_CONTAINS(
      R"j(","sw":"2024.6.1 (config hash 0x1a2b3c4d)","mdl":"esp32dev","mf":"Espressif"}})j",
      inventory.c_str());
  for (const char* never : {"a4cf12d4e5f6", "Living room", "livingroom", "living_room"}) {
    CHECK_TEXT(inventory.find(never) == std::string::npos, never);
    CHECK_TEXT(inventory_topic.find(never) == std::string::npos, never);
  }
  a.announced.record(*config.announced(), 0);
  const decision& state = e.ev.evaluate("livingroom/sensor/living_room_wifi_signal/state", "-63",
                                        e.consent, 0, &a.announced);
  LONGS_EQUAL(1, state.releases().size());
  STRCMP_EQUAL("good", state.releases()[0].payload.c_str());
  // The same device id ("sensor/livingroom/living_room_wifi_signal"), so the same pseudonym.
  const auto last_level = [](const std::string& t) { return t.substr(t.rfind('/')); };
  STRCMP_EQUAL(last_level(inventory_topic).c_str(), last_level(state.releases()[0].topic).c_str());
}

TEST(defaults, esphome_binary_sensors_go_to_location_or_service_by_device_class) {
  announcing a(e);
  const char* state = "livingroom/binary_sensor/living_room_contact/state";
  STRCMP_EQUAL("| unannounced_topic=1", a.run(state, "ON").c_str());
  a.esphome("binary_sensor", "living_room_contact", R"("dev_cla":"window")");
  STRCMP_EQUAL("esphome-binary-sensor location=ON |", a.run(state, "ON").c_str());
  a.esphome("binary_sensor", "living_room_contact", R"("dev_cla":"moisture")");
  STRCMP_EQUAL("esphome-binary-alarm service=ON |", a.run(state, "ON").c_str());
  // No device class: whether it shows presence or a fault is unknown.
  a.esphome("binary_sensor", "living_room_contact", "");
  STRCMP_EQUAL("| unknown_announcement=1", a.run(state, "ON").c_str());
}

TEST(defaults, esphome_wifi_text_sensors_logs_settings_and_commands_stay_home) {
  announcing a(e);
  for (const char* object :
       {"living_room_ssid", "living_room_bssid", "living_room_ip", "living_room_mac"}) {
    // Even announced with a device class, a text sensor has no class that could take it.
    a.esphome("text_sensor", object, R"("dev_cla":"temperature","unit_of_meas":"°C")");
    STRCMP_EQUAL(
        "| ignored_topic=1",
        a.run("livingroom/text_sensor/" + std::string(object) + "/state", "Smith Family WiFi")
            .c_str());
  }
  TAKEN_BY("livingroom/text_sensor/living_room_esphome_version/state", "ignored");
  TAKEN_BY("livingroom/debug", "ignored");
  TAKEN_BY("livingroom/switch/living_room_heater/command", "ignored");
  TAKEN_BY("livingroom/climate/living_room_thermostat/target_temperature/command", "ignored");
  TAKEN_BY("livingroom/number/living_room_display_brightness/state", "ignored");
  TAKEN_BY("livingroom/select/living_room_mode/state", "ignored");
  TAKEN_BY("livingroom/climate/living_room_thermostat/fan_mode/state", "ignored");
  TAKEN_BY("livingroom/fan/living_room_fan/oscillation/state", "ignored");
  TAKEN_BY("livingroom/status", "esphome-status");
  TAKEN_BY("livingroom/switch/living_room_heater/state", "esphome-switch");
  TAKEN_BY("livingroom/fan/living_room_fan/state", "esphome-fan");
  TAKEN_BY("livingroom/lock/front_door/state", "esphome-lock");
  TAKEN_BY("livingroom/cover/living_room_blinds/state", "esphome-cover");
  TAKEN_BY("livingroom/cover/living_room_blinds/position/state", "esphome-cover-position");
  TAKEN_BY("livingroom/light/living_room_lamp/state", "esphome-light");
  TAKEN_BY("livingroom/climate/living_room_thermostat/mode/state", "esphome-climate-mode");
  TAKEN_BY("livingroom/climate/living_room_thermostat/current_temperature/state",
           "esphome-climate-temperature");
  TAKEN_BY("homeassistant/sensor/livingroom/living_room_reading/config", "ha-discovery");
  TAKEN_BY("homeassistant/switch/irrigation/config", "ha-discovery");
  TAKEN_BY("homeassistant/device/livingroom/config", "ignored");
}

TEST(defaults, home_assistant_statestream_states_are_read_by_their_attributes) {
  announcing a(e);
  const char* state = "homeassistant/sensor/anna_bedroom_temperature/state";
  STRCMP_EQUAL("| unannounced_topic=1", a.run(state, "21.43").c_str());
  // Attributes are JSON-encoded; the unit comes first, then the device class (two messages).
  STRCMP_EQUAL("ha-statestream-unit service=\"°C\" |",
               a.run("homeassistant/sensor/anna_bedroom_temperature/unit_of_measurement", R"("°C")")
                   .c_str());
  STRCMP_EQUAL("esphome-temperature analytics=21.5 |", a.run(state, "21.43").c_str());
  STRCMP_EQUAL(
      "ha-statestream-device-class service=\"temperature\" |",
      a.run("homeassistant/sensor/anna_bedroom_temperature/device_class", R"("temperature")")
          .c_str());
  STRCMP_EQUAL("esphome-temperature analytics=21.5 |", a.run(state, "21.43").c_str());
  TAKEN_BY("homeassistant/sensor/anna_bedroom_temperature/friendly_name", "ignored");
  TAKEN_BY("homeassistant/sensor/anna_bedroom_temperature/last_changed", "ignored");
  TAKEN_BY("homeassistant/person/anna/latitude", "ignored");
  TAKEN_BY("homeassistant/status", "ignored");
  TAKEN_BY("homeassistant/light/kitchen/set", "ignored");
  // Where a person is: a pseudonym of the zone, for location only.
  const std::string anna = a.run("homeassistant/person/anna/state", "Anna's school");
  STRCMP_CONTAINS("ha-presence location=", anna.c_str());
  CHECK(anna.find("school") == std::string::npos);
}

TEST(defaults, home_assistant_discovery_expands_the_base_topic) {
  announcing a(e);
  a.run(
      "homeassistant/binary_sensor/garden/config",
      R"({"~":"homeassistant/binary_sensor/garden","name":null,"dev_cla":"motion","stat_t":"~/state"})");
  STRCMP_EQUAL("esphome-binary-sensor location=ON |",
               a.run("homeassistant/binary_sensor/garden/state", "ON").c_str());
}
