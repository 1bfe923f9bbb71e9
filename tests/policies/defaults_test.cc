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
  LONGS_EQUAL(5, e.policy->purposes().size());
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
  LONGS_EQUAL(3, d.releases().size());
  STRCMP_EQUAL("portier/gw-test/service/zigbee2mqtt-device/kezu6euatcy5sxpb",
               d.releases()[0].topic.c_str());
  STRCMP_EQUAL(
      // Model, manufacturer and firmware come once, with the same pseudonym, in the inventory
      // (zigbee2mqtt/bridge/devices), not with every message.
      R"({"battery":97,"linkquality":"good","last_seen":"2024-05-01T10:23:00+02:00",)"
      R"("device":{"ieeeAddr":"azbv4cinn6ntwmgm"}})",
      d.releases()[0].payload.c_str());
  // Battery and last seen are for the service only: analytics receives the readings, not now but
  // into the quarter hour's window (its release goes to this topic once the window is over), and
  // energy-research temperature and humidity into the day's.
  STRCMP_EQUAL("portier/gw-test/analytics/zigbee2mqtt-device/o2y2yse7s5pge2sc",
               d.releases()[1].topic.c_str());
  CHECK_TRUE(d.releases()[1].windowed);
  STRCMP_EQUAL("", d.releases()[1].payload.c_str());
  STRCMP_CONTAINS(
      "analytics=window{humidity:48.27,pressure:1012.4,temperature:21.53} "
      "energy-research=window{humidity:48.27,temperature:21.53} |",
      summary(d, *e.policy).c_str());
  LONGS_EQUAL(1,
              d.drops(drop_reason::nothing_permitted));  // location: no occupancy or contact in it

  // Without any decision of the household only the service (a contract) receives it.
  consent_snapshot defaults;
  const decision& by_default = e.ev.evaluate(s.topic, s.payload, defaults, 0);
  LONGS_EQUAL(1, by_default.releases().size());
  LONGS_EQUAL(3, by_default.drops(drop_reason::consent_refused));
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
      R"({"acc":"within 100 m","batt":80,"inregions":["eyfhk5tnpjbyudut"],"lat":52.3599,"lon":4.8620,"t":"p",)"
      R"("tst":1714551780,"vel":0})",
      d.releases()[0].payload.c_str());
  // _type (the class says it), created_at, BSSID, SSID, alt, bs, conn, inrids, m, tid, topic, vac
  // are not listed.
  LONGS_EQUAL(12, d.drops(drop_reason::unlisted_field));

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
  STRCMP_EQUAL(R"(service={"last_seen":1714551780000} | nothing_permitted=3 policy_drop=3)",
               run(R"({"last_seen":1714551825123})"));
  // Microseconds and nanoseconds were taken for milliseconds: 3.6 s and 3.6 ms resolution left.
  STRCMP_EQUAL(R"(service={"last_seen":1714551780000000} | nothing_permitted=3 policy_drop=3)",
               run(R"({"last_seen":1714551825123456})"));
  STRCMP_EQUAL(R"(service={"last_seen":1714551780000000000} | nothing_permitted=3 policy_drop=3)",
               run(R"({"last_seen":1714551825123456789})"));
  STRCMP_EQUAL("| nothing_permitted=4 policy_drop=3 implausible_time=1",
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
  STRCMP_EQUAL("| nothing_permitted=4 policy_drop=3 type_mismatch=1",
               run(sensor, R"({"state":"Anna is at home, the door code is 1234"})").c_str());
  STRCMP_EQUAL("| nothing_permitted=4 policy_drop=3 type_mismatch=1",
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
  STRCMP_EQUAL("esphome-temperature analytics=window{$:21.43} |", a.run(state, "21.43").c_str());
  // Announced again (the household changed the sensor): the same topic now reads as power.
  a.esphome("sensor", "living_room_reading", R"("dev_cla":"power","unit_of_meas":"W")");
  STRCMP_EQUAL("esphome-power analytics=window{$:1873.4} |", a.run(state, "1873.4").c_str());
  // Energy in Wh and in kWh: a class each, whose window is rounded to a step of its own unit.
  a.esphome("sensor", "living_room_reading", R"("dev_cla":"energy","unit_of_meas":"kWh")");
  STRCMP_EQUAL("esphome-energy-kwh analytics=window{$:3.217} |", a.run(state, "3.217").c_str());
  a.esphome("sensor", "living_room_reading", R"("dev_cla":"energy","unit_of_meas":"Wh")");
  STRCMP_EQUAL("esphome-energy analytics=window{$:3217} |", a.run(state, "3217").c_str());
  // Power in kW has no class (10 W steps would be 10 kW): dropped, and said why.
  a.esphome("sensor", "living_room_reading", R"("dev_cla":"power","unit_of_meas":"kW")");
  STRCMP_EQUAL("| unknown_announcement=1", a.run(state, "1.873").c_str());
  // Without a device class the unit decides, where it is unambiguous...
  a.esphome("sensor", "living_room_reading", R"("unit_of_meas":"°C")");
  STRCMP_EQUAL("esphome-temperature analytics=window{$:21.43} |", a.run(state, "21.43").c_str());
  // ... and "%" is not (humidity, battery, moisture): only with its device class.
  a.esphome("sensor", "living_room_reading", R"("unit_of_meas":"%")");
  STRCMP_EQUAL("| unknown_announcement=1", a.run(state, "47.8").c_str());
  a.esphome("sensor", "living_room_reading", R"("dev_cla":"humidity","unit_of_meas":"%")");
  STRCMP_EQUAL("esphome-humidity analytics=window{$:47.8} |", a.run(state, "47.8").c_str());
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
  STRCMP_EQUAL("esphome-temperature analytics=window{$:21.43} |", a.run(state, "21.43").c_str());
  STRCMP_EQUAL(
      "ha-statestream-device-class service=\"temperature\" |",
      a.run("homeassistant/sensor/anna_bedroom_temperature/device_class", R"("temperature")")
          .c_str());
  STRCMP_EQUAL("esphome-temperature analytics=window{$:21.43} |", a.run(state, "21.43").c_str());
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

namespace {

// What every purpose receives of one message ("purpose=payload ..."), without the drop counts.
std::string released(defaults_engine& e, const char* topic, const std::string& payload) {
  const std::string s = summary(e.ev.evaluate(topic, payload, e.consent, 0), *e.policy);
  return s.substr(0, s.find(" |"));
}

// A Gen2 RPC frame as the device publishes it on <prefix>/events/rpc.
std::string rpc_frame(const char* method, const char* params) {
  return std::string(
             R"({"src":"shellyplus1pm-a8032ab12345","dst":"shellyplus1pm-a8032ab12345/events",)") +
         R"("method":")" + method + R"(","params":)" + params + "}";
}

}  // namespace

TEST(defaults, shelly_topics_reach_their_class_or_stay_home) {
  TAKEN_BY("shellies/announce", "shelly-gen1-announce");
  TAKEN_BY("shellies/shellyplug-s-C45BBE6A1B2C/announce", "shelly-gen1-announce");
  TAKEN_BY("shellies/shellyplug-s-C45BBE6A1B2C/info", "shelly-gen1-info");
  TAKEN_BY("shellies/shellyplug-s-C45BBE6A1B2C/relay/0", "shelly-gen1-relay");
  TAKEN_BY("shellies/shellyplug-s-C45BBE6A1B2C/overtemperature", "shelly-gen1-overtemperature");
  TAKEN_BY("shellies/shellydw2-7E3F2A/sensor/state", "shelly-gen1-door-window-state");
  TAKEN_BY("shellies/shellydw2-7E3F2A/sensor/vibration", "shelly-gen1-door-window-vibration");
  TAKEN_BY("shellies/shellyht-D4E5F6/sensor/ext_power", "shelly-gen1-sensor-external-power");
  TAKEN_BY("shellies/command", "ignored");
  TAKEN_BY("shellies/shellyplug-s-C45BBE6A1B2C/command", "ignored");
  TAKEN_BY("shellies/shellyplug-s-C45BBE6A1B2C/relay/0/command", "ignored");
  TAKEN_BY("shellies/shellyswitch25-A1B2C3/roller/0/command", "ignored");
  TAKEN_BY("shellies/shellyswitch25-A1B2C3/roller/0/command/pos", "ignored");
  TAKEN_BY("shellies/shellyplug-s-C45BBE6A1B2C/temperature_f", "ignored");
  TAKEN_BY("shellies/shellydw2-7E3F2A/sensor/tilt", "ignored");
  // A component with channels has a class per channel, so that each channel's window is its own.
  TAKEN_BY("shellyplus1pm-a8032ab12345/status/switch:0", "shelly-gen2-switch-0");
  TAKEN_BY("shellyplus1pm-a8032ab12345/status/switch:3", "shelly-gen2-switch-3");
  TAKEN_BY("shellyplus2pm-b0b21c1a2b3c/status/cover:1", "shelly-gen2-cover-1");
  TAKEN_BY("shellyplusi4-c4d8d51a2b3c/status/input:3", "shelly-gen2-input");
  TAKEN_BY("shellyplus1-a8032ab54321/status/temperature:100", "shelly-gen2-climate-100");
  TAKEN_BY("shellyplus1-a8032ab54321/status/humidity:100", "shelly-gen2-climate-100");
  TAKEN_BY("shellyplus1-a8032ab54321/status/temperature:104", "shelly-gen2-climate-104");
  TAKEN_BY("shellyplusht-b8d61a8b17cc/status/humidity:0", "shelly-gen2-climate");
  TAKEN_BY("shellyplusht-b8d61a8b17cc/status/devicepower:0", "shelly-gen2-devicepower");
  TAKEN_BY("shellypro3em-ec62609a1b2c/status/em:0", "shelly-gen2-meter");
  TAKEN_BY("shellypro3em-ec62609a1b2c/status/emdata:0", "shelly-gen2-meter");
  TAKEN_BY("shellyproem50-08f9e0e51a2b/status/em1:0", "shelly-gen2-meter-em1-0");
  TAKEN_BY("shellyproem50-08f9e0e51a2b/status/em1data:1", "shelly-gen2-meter-em1-1");
  TAKEN_BY("shellypluspmmini-a0a3b3c4d5e6/status/pm1:0", "shelly-gen2-pm1");
  TAKEN_BY("shellyplus1pm-a8032ab12345/rpc", "ignored");
  TAKEN_BY("shellyplus1pm-a8032ab12345/command", "ignored");
  TAKEN_BY("shellyplus1pm-a8032ab12345/command/switch:0", "ignored");
  // A channel no class lists stays home: no rounding was chosen for it.
  TAKEN_BY("shellyplus1pm-a8032ab12345/status/switch:4", "unmatched");
}

TEST(defaults, a_shelly_rpc_topic_is_split_into_classes_by_method) {
  const char* topic = "shellyplus1pm-a8032ab12345/events/rpc";
  const auto class_of = [&](const char* method) -> std::string {
    const decision& d =
        e.ev.evaluate(topic, rpc_frame(method, R"({"ts":1714551825.04})"), e.consent, 0);
    if (d.device_class() != nullptr) return d.device_class()->id;
    return summary(d, *e.policy);
  };
  STRCMP_EQUAL("shelly-gen2-notify-status", class_of("NotifyStatus").c_str());
  STRCMP_EQUAL("shelly-gen2-notify-full-status", class_of("NotifyFullStatus").c_str());
  STRCMP_EQUAL("shelly-gen2-notify-event", class_of("NotifyEvent").c_str());
  // A method no class expects (or none at all) is not taken for one that is.
  STRCMP_EQUAL("| unmatched_topic=1", class_of("Switch.Set").c_str());
  STRCMP_EQUAL("| unmatched_topic=1",
               summary(e.ev.evaluate(topic, R"({"src":"shellyplus1pm-a8032ab12345","params":{}})",
                                     e.consent, 0),
                       *e.policy)
                   .c_str());
}

TEST(defaults, a_shelly_notify_status_sends_its_component_keys_and_nothing_that_identifies) {
  const char* topic = "shellyplus1pm-a8032ab12345/events/rpc";
  // Analytics takes power and the energy counter of "switch:0" into its hourly window; the
  // frame's src (the device id with its MAC), dst, method, ts, the component's id, source,
  // current and energy per minute stay home.
  STRCMP_EQUAL(
      "analytics=window{params.switch:0.apower:1412.7,params.switch:0.aenergy.total:24571.832}",
      released(
          e, topic,
          rpc_frame("NotifyStatus",
                    R"({"ts":1714551886.52,"switch:0":{"id":0,"apower":1412.7,"current":6.112,)"
                    R"("aenergy":{"by_minute":[23442.812,23512.106,23478.914],)"
                    R"("minute_ts":1714551840,"total":24571.832}}})"))
          .c_str());
  // An overheated relay: the service sees the state and the fault, not the temperature.
  STRCMP_EQUAL(
      R"(service={"params":{"switch:1":{"output":false,"errors":["overtemp"]}}})",
      released(
          e, topic,
          rpc_frame(
              "NotifyStatus",
              R"({"ts":1714551991.83,"switch:1":{"id":1,"output":false,"source":"overtemp",)"
              R"("errors":["overtemp"],"temperature":{"tC":93.4,"tF":200.1}}})"))
          .c_str());
  // Button pushes say someone is there: location only.
  STRCMP_EQUAL(R"(location={"params":{"events":[{"component":"input:0","event":"single_push"}]}})",
               released(e, topic,
                        rpc_frame("NotifyEvent",
                                  R"({"ts":1714551825.43,"events":[{"component":"input:0","id":0,)"
                                  R"("event":"single_push","ts":1714551825.43}]})"))
                   .c_str());
}

TEST(defaults, a_shelly_announcement_names_the_device_by_the_pseudonym_of_its_other_topics) {
  const std::string announced =
      released(e, "shellies/announce",
               R"({"id":"shellyplug-s-C45BBE6A1B2C","model":"SHPLG-S","mac":"C45BBE6A1B2C",)"
               R"("ip":"192.168.1.43","new_fw":true,"fw_ver":"20230913-114008/v1.14.0-gcb84623"})");
  const decision& online =
      e.ev.evaluate("shellies/shellyplug-s-C45BBE6A1B2C/online", "true", e.consent, 0);
  LONGS_EQUAL(1, online.releases().size());
  const std::string& topic = online.releases()[0].topic;
  const std::string pseudonym = topic.substr(topic.rfind('/') + 1);
  STRCMP_EQUAL("portier/gw-test/service/shelly-gen1-online/7wq2tzazqky7irwc", topic.c_str());
  STRCMP_EQUAL((R"(service={"id":")" + pseudonym +
                R"(","model":"SHPLG-S","new_fw":true,"fw_ver":"20230913-114008/v1.14.0-gcb84623"})")
                   .c_str(),
               announced.c_str());
}

TEST(defaults, a_shelly_gen2_status_keeps_what_the_service_and_the_soak_rely_on) {
  // tools/soak counts the service's releases by available_updates.stable.version.
  STRCMP_EQUAL(R"(service={"uptime":273600,"available_updates":{"stable":{"version":"1.7.0"}}})",
               released(e, "shellyplus1pm-a8032ab12345/status/sys",
                        R"({"mac":"A8032AB12345","restart_required":false,"time":"10:23",)"
                        R"("unixtime":1714551825,"uptime":274329,"cfg_rev":17,)"
                        R"("available_updates":{"stable":{"version":"1.7.0"}}})")
                   .c_str());
  // A meter on the mains: the whole home into the hour's window, no phase, no channel id.
  STRCMP_EQUAL("analytics=window{total_act_power:2299.419}",
               released(e, "shellypro3em-ec62609a1b2c/status/em:0",
                        R"({"id":0,"a_act_power":951.2,"b_act_power":632.8,"c_act_power":715.4,)"
                        R"("a_voltage":236.1,"total_current":11.086,"total_act_power":2299.419})")
                   .c_str());
}

TEST(defaults, emonhub_inputs_reach_their_channel_class_or_stay_home) {
  TAKEN_BY("emon/emonTx4_17/P1", "emonhub-power-1");
  TAKEN_BY("emon/emonpi/power1", "emonhub-power-1");
  TAKEN_BY("emon/emonTx4_17/P6", "emonhub-power-6");
  TAKEN_BY("emon/emonTx4_17/E3", "emonhub-energy-3");
  TAKEN_BY("emon/emonTx4_17/Vrms", "emonhub-voltage");
  TAKEN_BY("emon/emontx3/temp2", "emonhub-temperature-2");
  TAKEN_BY("emon/emonpi/pulseCount", "emonhub-pulse");
  TAKEN_BY("emon/emonTx4_17/rssi", "emonhub-rssi");
  TAKEN_BY("emon/emonTx4_17", "emonhub-node");
  TAKEN_BY("emon/emonTx4_17/MSG", "ignored");
  TAKEN_BY("emon/emonpi/power1_plus_power2", "ignored");
  TAKEN_BY("emonhub/rx/17/values", "ignored");
  TAKEN_BY("emonhub/tx/20/values", "ignored");
  // An input no class names has no safe rounding: it stays home.
  TAKEN_BY("emon/emonTx4_17/T4", "unmatched");
  TAKEN_BY("emon/heatpump/flowT", "unmatched");

  // Each channel has its own upstream topic; the node's name leaves only as a pseudonym.
  const decision& p1 = e.ev.evaluate("emon/Smith house/P1", "1437", e.consent, 0);
  LONGS_EQUAL(1, p1.releases().size());
  const std::string topic1 = p1.releases()[0].topic;
  CHECK_TRUE(p1.releases()[0].windowed);  // into the hour's window
  STRCMP_EQUAL("analytics=window{$:1437} |", summary(p1, *e.policy).c_str());
  const decision& p2 = e.ev.evaluate("emon/Smith house/P2", "87", e.consent, 0);
  const std::string topic2 = p2.releases()[0].topic;
  STRCMP_CONTAINS("/analytics/emonhub-power-1/", topic1.c_str());
  STRCMP_CONTAINS("/analytics/emonhub-power-2/", topic2.c_str());
  STRCMP_EQUAL(topic1.substr(topic1.rfind('/')).c_str(), topic2.substr(topic2.rfind('/')).c_str());
  CHECK_TRUE(topic1.find("Smith") == std::string::npos);
}

TEST(defaults, a_frigate_detection_leaves_only_for_location_without_names_zones_or_pictures) {
  const char* event =
      R"({"type":"update","before":{"id":"1714551825.475377-mxklsc","camera":"annas_window"},)"
      R"("after":{"id":"1714551825.475377-mxklsc","camera":"annas_window","label":"person",)"
      R"("sub_label":["John Smith",0.79],"start_time":1714551825.475377,"end_time":null,)"
      R"("box":[432,496,544,854],"current_zones":["anna_window_path"],"thumbnail":null,)"
      R"("recognized_license_plate":"GR-123-K","average_estimated_speed":4.3}})";
  const decision& d = e.ev.evaluate("frigate/events", event, e.consent, 0);
  STRCMP_EQUAL("frigate-event", d.device_class()->id.c_str());
  // The camera's pseudonym is the one its own topics (frigate/annas_window/motion) carry.
  STRCMP_EQUAL(R"(location={"type":"update","after":{"id":"ffp4qlcq","camera":"pp2uh7ziitvco33a",)"
               R"("label":"person","start_time":1714551780}} | unlisted_field=7 type_mismatch=1)",
               summary(d, *e.policy).c_str());
  STRCMP_EQUAL(
      "portier/gw-test/location/frigate-motion/pp2uh7ziitvco33a",
      e.ev.evaluate("frigate/annas_window/motion", "ON", e.consent, 0).releases()[0].topic.c_str());
  // Presence is a special category: nothing leaves without the household's explicit grant.
  consent_snapshot defaults;
  STRCMP_EQUAL("| no_purpose_granted=1 consent_refused=1",
               summary(e.ev.evaluate("frigate/events", event, defaults, 0), *e.policy).c_str());
  // The service hears about the recorder and its cameras, never what they saw.
  STRCMP_EQUAL("service=offline |",
               summary(e.ev.evaluate("frigate/annas_window/status/record", "offline", defaults, 0),
                       *e.policy)
                   .c_str());
}

TEST(defaults, frigate_pictures_recognitions_audio_and_commands_stay_home) {
  TAKEN_BY("frigate/events", "frigate-event");
  TAKEN_BY("frigate/annas_window/person", "frigate-person-count");
  TAKEN_BY("frigate/annas_window/person/snapshot", "ignored");
  TAKEN_BY("frigate/annas_window/car", "ignored");
  TAKEN_BY("frigate/annas_window/person/active", "ignored");
  TAKEN_BY("frigate/tracked_object_update", "ignored");
  TAKEN_BY("frigate/triggers", "ignored");
  TAKEN_BY("frigate/annas_window/audio/transcription", "ignored");
  TAKEN_BY("frigate/annas_window/audio/state", "ignored");
  TAKEN_BY("frigate/annas_window/detect/state", "frigate-detect-state");
  TAKEN_BY("frigate/annas_window/snapshots/state", "ignored");
  TAKEN_BY("frigate/annas_window/detect/set", "ignored");
  TAKEN_BY("frigate/annas_window/zone/anna_window_path/state", "ignored");
  TAKEN_BY("frigate/annas_window/status/detect", "frigate-camera-status");
  TAKEN_BY("frigate/notifications/state", "ignored");
  // The person count says whether someone is there, not how many.
  STRCMP_EQUAL(
      "location=someone |",
      summary(e.ev.evaluate("frigate/front_door/person", "3", e.consent, 0), *e.policy).c_str());
}

TEST(defaults, a_teslamate_car_s_whereabouts_leave_only_for_location_and_coarsened) {
  const auto run = [&](const char* field, const char* payload, const consent_snapshot& c) {
    return summary(e.ev.evaluate(std::string("teslamate/cars/1/") + field, payload, c, 0),
                   *e.policy);
  };
  STRCMP_EQUAL(
      R"(location={"latitude":52.3599,"longitude":4.8620} |)",
      run("location", R"({"latitude":52.370216,"longitude":4.895168})", e.consent).c_str());
  // The older split position: each coordinate on its own topic, rounded to 0.05 degrees.
  STRCMP_EQUAL("location=52.35 |", run("latitude", "52.370216", e.consent).c_str());
  STRCMP_EQUAL("location=4.90 |", run("longitude", "4.895168", e.consent).c_str());
  // A place's name leaves as a pseudonym, the same for the geofence and the route's destination.
  STRCMP_EQUAL("location=anrsr5aw7kocr4gc |", run("geofence", "Anna's school", e.consent).c_str());
  STRCMP_EQUAL(R"(location={"destination":"anrsr5aw7kocr4gc","minutes_to_arrival":25} |)"
               R"( unlisted_field=1)",
               run("active_route",
                   R"({"destination":"Anna's school","minutes_to_arrival":23.4,)"
                   R"("miles_to_arrival":6.485299})",
                   e.consent)
                   .c_str());
  STRCMP_EQUAL("location=50 |", run("speed", "47", e.consent).c_str());
  consent_snapshot defaults;
  STRCMP_EQUAL("| no_purpose_granted=1 consent_refused=1",
               run("location", R"({"latitude":52.370216,"longitude":4.895168})", defaults).c_str());
  // The service keeps the car working; analytics gets energy, rounded; the car's name stays home.
  STRCMP_EQUAL("service=false |", run("locked", "false", defaults).c_str());
  STRCMP_EQUAL("service=2.9 |", run("tpms_pressure_fl", "2.875", defaults).c_str());
  STRCMP_EQUAL("analytics=15700 |", run("odometer", "15653.42", e.consent).c_str());
  STRCMP_EQUAL("analytics=90 |", run("battery_level", "88", e.consent).c_str());
  STRCMP_EQUAL("| ignored_topic=1", run("display_name", "Anna's Blue Thunder", e.consent).c_str());
  STRCMP_EQUAL("| ignored_topic=1", run("heading", "340", e.consent).c_str());
  STRCMP_EQUAL("| unmatched_topic=1", run("something_new", "1", e.consent).c_str());
}

TEST(defaults, a_valetudo_robot_s_health_reaches_the_service_and_its_map_never_leaves) {
  consent_snapshot defaults;  // the service runs by contract; nothing else is needed here
  const auto run = [&](const std::string& property, const char* payload) {
    return summary(e.ev.evaluate("valetudo/SmithsRoborockS5/" + property, payload, defaults, 0),
                   *e.policy);
  };
  STRCMP_EQUAL("service=lost |", run("$state", "lost").c_str());
  STRCMP_EQUAL(R"(service={"severity":{"kind":"permanent","level":"error"},"subsystem":"motors",)"
               R"("message":"Main brush jammed"} |)",
               run("StatusStateAttribute/error",
                   R"({"severity":{"kind":"permanent","level":"error"},"subsystem":"motors",)"
                   R"("message":"Main brush jammed"})")
                   .c_str());
  STRCMP_EQUAL("service=42 |", run("BatteryStateAttribute/level", "42").c_str());
  STRCMP_EQUAL("service=good |", run("WifiConfigurationCapability/signal", "-23").c_str());
  // Each consumable is its own device: its remaining time falls on its own upstream topic.
  const decision& brush = e.ev.evaluate(
      "valetudo/SmithsRoborockS5/ConsumableMonitoringCapability/brush-main", "29520", defaults, 0);
  STRCMP_EQUAL("SmithsRoborockS5/brush-main", std::string(brush.device_id()).c_str());
  // The map, room names, cleaned areas, the Wi-Fi network, the robot's name and commands stay.
  STRCMP_EQUAL("| ignored_topic=1",
               run("MapData/segments", R"({"16":"Hallway","18":"Anna's bedroom"})").c_str());
  STRCMP_EQUAL("| ignored_topic=1", run("MapData/map-data", "x\x9c\xed\xbd").c_str());
  STRCMP_EQUAL("| ignored_topic=1", run("TotalStatisticsCapability/area", "3150000").c_str());
  STRCMP_EQUAL("| ignored_topic=1",
               run("WifiConfigurationCapability/ssid", "Smith Family WiFi").c_str());
  STRCMP_EQUAL("| ignored_topic=1", run("$name", "Anna's Roborock").c_str());
  STRCMP_EQUAL("| ignored_topic=1", run("BasicControlCapability/operation/set", "START").c_str());
  STRCMP_EQUAL("| ignored_topic=1",
               run("ConsumableMonitoringCapability/brush-main/reset/set", "PERFORM").c_str());
}

TEST(defaults, a_bluetooth_scale_or_heart_rate_reaches_only_the_health_purpose) {
  const int health = e.policy->purpose_index("health");
  CHECK_TRUE(health >= 0);
  const auto& purpose = e.policy->purposes()[static_cast<std::size_t>(health)];
  CHECK_TRUE(purpose.category == special_category::health);
  const char* scale =
      R"({"id":"C8:47:8C:9F:7B:0A","rssi":-64,"brand":"Xiaomi","model_id":"XMTZC02HM/XMTZC05HM",)"
      R"("type":"SCALE","weighing_mode":"person","unit":"kg","weight":72.35,"impedance":503})";
  const char* topic = "home/OMG_ESP32_Smiths/BTtoMQTT/C8478C9F7B0A";
  const decision& d = e.ev.evaluate(topic, scale, e.consent, 0);
  STRCMP_EQUAL("omg-ble-scale", d.device_class()->id.c_str());
  STRCMP_EQUAL(R"(health={"unit":"kg","weight":72.5,"impedance":500} | unlisted_field=6)",
               summary(d, *e.policy).c_str());
  // The MAC address in the topic leaves only as the device's pseudonym.
  CHECK_TRUE(d.releases()[0].topic.find("C8478C9F7B0A") == std::string::npos);
  // Health is a special category: refused until the household grants it, and then only the
  // health purpose hears of the device at all.
  consent_snapshot defaults;
  STRCMP_EQUAL("| no_purpose_granted=1 consent_refused=1",
               summary(e.ev.evaluate(topic, scale, defaults, 0), *e.policy).c_str());
  const char* strap = R"({"id":"E8:F1:A2:B3:C4:D5","type":"BODY","bpm":131,"batt":80})";
  STRCMP_EQUAL(
      "health={\"bpm\":130} | unlisted_field=3",
      summary(e.ev.evaluate("home/OMG_ESP32_Smiths/BTtoMQTT/E8F1A2B3C4D5", strap, e.consent, 0),
              *e.policy)
          .c_str());
  // A climate sensor on the same topic: analytics (per quarter hour) and service as for Zigbee.
  STRCMP_EQUAL(R"(service={"batt":88} analytics=window{tempc:22.43,hum:45.12} | unlisted_field=10 )"
               R"(policy_drop=3)",
               summary(e.ev.evaluate("home/OMG_ESP32_Smiths/BTtoMQTT/A4C1380F2D45",
                                     R"({"id":"A4:C1:38:0F:2D:45","rssi":-56,"type":"THB",)"
                                     R"("tempc":22.43,"tempf":72.374,"hum":45.12,"batt":88,)"
                                     R"("volt":3.012})",
                                     e.consent, 0),
                       *e.policy)
                   .c_str());
  // Any other Bluetooth device in range (a phone, an undecoded advertisement) stays home.
  TAKEN_BY("home/OMG_ESP32_Smiths/BTtoMQTT/7B63C682DC57", "ignored");
  STRCMP_EQUAL("| ignored_topic=1",
               summary(e.ev.evaluate("home/OMG_ESP32_Smiths/BTtoMQTT/45E174126E00",
                                     R"({"id":"45:e1:74:12:6e:00","rssi":-89,"distance":21.5})",
                                     e.consent, 0),
                       *e.policy)
                   .c_str());
  TAKEN_BY("home/OMG_ESP32_Smiths/commands/MQTTtoSYS/config", "ignored");
  TAKEN_BY("home/OMG_ESP32_Smiths/LWT", "omg-lwt");
}

TEST(defaults, owntracks_step_counts_go_only_to_the_health_purpose) {
  const char* steps = R"({"_type":"steps","tst":1714576500,"steps":8734,"from":1714514400,)"
                      R"("to":1714576500})";
  STRCMP_EQUAL(
      R"(health={"steps":8700,"from":1714514400,"to":1714575600} | unlisted_field=2)",
      summary(e.ev.evaluate("owntracks/anna/iphone/step", steps, e.consent, 0), *e.policy).c_str());
  consent_snapshot defaults;
  STRCMP_EQUAL(
      "| no_purpose_granted=1 consent_refused=1",
      summary(e.ev.evaluate("owntracks/anna/iphone/step", steps, defaults, 0), *e.policy).c_str());
}
