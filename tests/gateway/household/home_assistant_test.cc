#include "gateway/household/home_assistant.h"

#include <rapidjson/document.h>

#include <string>

// After rapidjson: CppUTest redefines `new`.
#include <CppUTest/TestHarness.h>

using namespace portier::gateway;

namespace {

portier::config::HomeAssistant settings(const std::string& prefix, const std::string& node) {
  portier::config::HomeAssistant ha;
  ha.set_discovery_prefix(prefix);
  ha.set_node_id(node);
  ha.set_state_interval_seconds(60);
  return ha;
}

rapidjson::Document parsed(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str(), json.size());
  CHECK_FALSE(d.HasParseError());
  CHECK_TRUE(d.IsObject());
  return d;
}

std::string str(const rapidjson::Value& v, const char* key) {
  CHECK_TRUE(v.HasMember(key));
  CHECK_TRUE(v[key].IsString());
  return v[key].GetString();
}

const home_assistant_topics kTopics =
    home_assistant_topics_for("gw1", settings("homeassistant", "portier-gw1"));

}  // namespace

TEST_GROUP(home_assistant){};

TEST(home_assistant, topics_follow_the_prefix_node_and_gateway) {
  STRCMP_EQUAL("portier/gw1/ha/availability", kTopics.availability.c_str());
  STRCMP_EQUAL("portier/gw1/ha/released", kTopics.released.c_str());
  STRCMP_EQUAL("portier/gw1/ha/dropped", kTopics.dropped.c_str());
  STRCMP_EQUAL("portier/gw1/ha/paused", kTopics.paused.c_str());
  STRCMP_EQUAL("portier/gw1/ha/pause/set", kTopics.command.c_str());
  STRCMP_EQUAL("homeassistant/sensor/portier-gw1/released/config", kTopics.configs[0].c_str());
  STRCMP_EQUAL("homeassistant/sensor/portier-gw1/dropped/config", kTopics.configs[1].c_str());
  STRCMP_EQUAL("homeassistant/binary_sensor/portier-gw1/paused/config", kTopics.configs[2].c_str());
  STRCMP_EQUAL("homeassistant/switch/portier-gw1/pause/config", kTopics.configs[3].c_str());
  const auto other = home_assistant_topics_for("gw2", settings("ha/disc", "box"));
  STRCMP_EQUAL("ha/disc/switch/box/pause/config", other.configs[3].c_str());
}

TEST(home_assistant, only_portiers_own_topics_are_its_own) {
  for (const char* own :
       {"portier/gw1/ha", "portier/gw1/ha/released", "portier/gw1/ha/pause/set",
        "portier/gw1/ha/anything/else", "homeassistant/switch/portier-gw1/pause/config",
        "homeassistant/sensor/portier-gw1/dropped/config"}) {
    CHECK_TRUE_TEXT(is_home_assistant_topic(kTopics, own), own);
  }
  // A device's discovery config and state, another gateway's, and near misses are telemetry.
  for (const char* device : {"homeassistant/sensor/kitchen/temperature/config",
                             "homeassistant/switch/portier-gw1/other/config", "portier/gw1/hallway",
                             "portier/gw1/status", "portier/gw10/ha/released", "portier/gw1/hab",
                             "homeassistant/sensor/portier-gw1/released/config/x", ""}) {
    CHECK_FALSE_TEXT(is_home_assistant_topic(kTopics, device), device);
  }
}

TEST(home_assistant, discovery_configs_announce_counts_paused_and_the_switch) {
  const auto configs = home_assistant_discovery(kTopics, "gw1", "portier-gw1");
  LONGS_EQUAL(4, configs.size());
  for (std::size_t i = 0; i < configs.size(); ++i) {
    STRCMP_EQUAL(kTopics.configs[i].c_str(), configs[i].topic.c_str());
    const auto d = parsed(configs[i].payload);
    STRCMP_EQUAL("portier/gw1/ha/availability", str(d, "availability_topic").c_str());
    STRCMP_EQUAL("online", str(d, "payload_available").c_str());
    STRCMP_EQUAL("offline", str(d, "payload_not_available").c_str());
    const auto& device = d["device"];
    CHECK_TRUE(device["identifiers"].IsArray());
    STRCMP_EQUAL("portier-gw1", device["identifiers"][0].GetString());
    STRCMP_EQUAL("Portier gw1", str(device, "name").c_str());
  }
  const auto released = parsed(configs[0].payload);
  STRCMP_EQUAL("portier-gw1_released", str(released, "unique_id").c_str());
  STRCMP_EQUAL("portier/gw1/ha/released", str(released, "state_topic").c_str());
  STRCMP_EQUAL("total_increasing", str(released, "state_class").c_str());
  const auto dropped = parsed(configs[1].payload);
  STRCMP_EQUAL("portier-gw1_dropped", str(dropped, "unique_id").c_str());
  STRCMP_EQUAL("portier/gw1/ha/dropped", str(dropped, "state_topic").c_str());
  STRCMP_EQUAL("total_increasing", str(dropped, "state_class").c_str());
  const auto paused = parsed(configs[2].payload);
  STRCMP_EQUAL("portier-gw1_paused", str(paused, "unique_id").c_str());
  STRCMP_EQUAL("portier/gw1/ha/paused", str(paused, "state_topic").c_str());
  STRCMP_EQUAL("ON", str(paused, "payload_on").c_str());
  STRCMP_EQUAL("OFF", str(paused, "payload_off").c_str());
  CHECK_FALSE(paused.HasMember("command_topic"));
  const auto sw = parsed(configs[3].payload);
  STRCMP_EQUAL("Pause sharing", str(sw, "name").c_str());
  STRCMP_EQUAL("portier-gw1_pause", str(sw, "unique_id").c_str());
  STRCMP_EQUAL("portier/gw1/ha/paused", str(sw, "state_topic").c_str());
  STRCMP_EQUAL("portier/gw1/ha/pause/set", str(sw, "command_topic").c_str());
  STRCMP_EQUAL("ON", str(sw, "payload_on").c_str());
  STRCMP_EQUAL("OFF", str(sw, "payload_off").c_str());
  CHECK_FALSE(sw["optimistic"].GetBool());  // the switch shows the real state, not the command
  CHECK_FALSE(sw["retain"].GetBool());      // a retained command would act at every reconnect
}

TEST(home_assistant, on_pauses_off_is_refused_and_anything_else_is_invalid) {
  using c = home_assistant_command;
  struct {
    const char* payload;
    bool retained;
    c expected;
  } cases[] = {
      {"ON", false, c::pause},
      {"OFF", false, c::resume_refused},
      {"ON", true, c::invalid},  // stale: would pause again after every household resume
      {"OFF", true, c::invalid},
      {"on", false, c::invalid},
      {"ON ", false, c::invalid},
      {"", false, c::invalid},
      {"{\"state\":\"ON\"}", false, c::invalid},
      {"resume", false, c::invalid},
      {"ONONONONONONONONONON", false, c::invalid},
  };
  for (const auto& k : cases) {
    CHECK_TRUE_TEXT(parse_home_assistant_command(k.payload, k.retained) == k.expected, k.payload);
  }
  // No payload whatever makes a resume: the only outcomes are pause, refused, invalid.
  CHECK_TRUE(parse_home_assistant_command(std::string_view("ON\0", 3), false) == c::invalid);
}

TEST(home_assistant, state_messages_carry_counts_and_paused) {
  const auto m = home_assistant_state_messages(kTopics, {12, 3, true});
  LONGS_EQUAL(3, m.size());
  STRCMP_EQUAL("portier/gw1/ha/released", m[0].topic.c_str());
  STRCMP_EQUAL("12", m[0].payload.c_str());
  STRCMP_EQUAL("portier/gw1/ha/dropped", m[1].topic.c_str());
  STRCMP_EQUAL("3", m[1].payload.c_str());
  STRCMP_EQUAL("portier/gw1/ha/paused", m[2].topic.c_str());
  STRCMP_EQUAL("ON", m[2].payload.c_str());
  STRCMP_EQUAL("OFF", home_assistant_state_messages(kTopics, {0, 0, false})[2].payload.c_str());
}
