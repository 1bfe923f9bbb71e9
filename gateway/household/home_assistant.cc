#include "gateway/household/home_assistant.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "gateway/status_report.h"

namespace portier::gateway {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(json_writer& w, const char* key, std::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

// A command is "ON" or "OFF": anything longer is not one, whatever it holds.
constexpr std::size_t kMaxCommandBytes = 16;

struct entity {
  const char* component;
  const char* object;  // object id, and the end of the unique id
  const char* name;
  const char* icon;
};

constexpr std::array<entity, 4> kEntities{{
    {"sensor", "released", "Released", "mdi:upload"},
    {"sensor", "dropped", "Dropped", "mdi:filter-remove-outline"},
    {"binary_sensor", "paused", "Paused", "mdi:pause-circle-outline"},
    {"switch", "pause", "Pause sharing", "mdi:shield-lock-outline"},
}};

std::string config_json(const entity& e, const home_assistant_topics& t,
                        const std::string& gateway_id, const std::string& node_id) {
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  put(w, "name", e.name);
  put(w, "unique_id", node_id + "_" + e.object);
  put(w, "icon", e.icon);
  put(w, "availability_topic", t.availability);
  put(w, "payload_available", "online");
  put(w, "payload_not_available", "offline");
  const std::string_view component = e.component;
  if (component == "sensor") {
    put(w, "state_topic", std::string_view(e.object) == "released" ? t.released : t.dropped);
    put(w, "state_class", "total_increasing");
    put(w, "unit_of_measurement",
        std::string_view(e.object) == "released" ? "releases" : "messages");
  } else {
    put(w, "state_topic", t.paused);
    put(w, "payload_on", "ON");
    put(w, "payload_off", "OFF");
  }
  if (component == "switch") {
    put(w, "command_topic", t.command);
    put(w, "state_on", "ON");
    put(w, "state_off", "OFF");
    w.Key("optimistic");
    w.Bool(false);
    w.Key("retain");
    w.Bool(false);
    w.Key("qos");
    w.Int(1);
  }
  w.Key("device");
  w.StartObject();
  w.Key("identifiers");
  w.StartArray();
  w.String(node_id.c_str(), static_cast<rapidjson::SizeType>(node_id.size()));
  w.EndArray();
  put(w, "name", "Portier " + gateway_id);
  put(w, "manufacturer", "Portier");
  put(w, "model", "portierd");
  put(w, "sw_version", kPortierVersion);
  w.EndObject();
  w.Key("origin");
  w.StartObject();
  put(w, "name", "portierd");
  put(w, "sw_version", kPortierVersion);
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace

home_assistant_topics home_assistant_topics_for(const std::string& gateway_id,
                                                const config::HomeAssistant& ha) {
  home_assistant_topics t;
  t.base = "portier/" + gateway_id + "/ha";
  t.availability = t.base + "/availability";
  t.released = t.base + "/released";
  t.dropped = t.base + "/dropped";
  t.paused = t.base + "/paused";
  t.command = t.base + "/pause/set";
  for (std::size_t i = 0; i < kEntities.size(); ++i) {
    t.configs[i] = ha.discovery_prefix() + "/" + kEntities[i].component + "/" + ha.node_id() + "/" +
                   kEntities[i].object + "/config";
  }
  return t;
}

bool is_home_assistant_topic(const home_assistant_topics& t, std::string_view topic) {
  if (topic.substr(0, t.base.size()) == t.base &&
      (topic.size() == t.base.size() || topic[t.base.size()] == '/'))
    return true;
  for (const auto& c : t.configs) {
    if (topic == c) return true;
  }
  return false;
}

std::vector<mqtt_out> home_assistant_discovery(const home_assistant_topics& t,
                                               const std::string& gateway_id,
                                               const std::string& node_id) {
  std::vector<mqtt_out> out;
  for (std::size_t i = 0; i < kEntities.size(); ++i) {
    out.push_back({t.configs[i], config_json(kEntities[i], t, gateway_id, node_id)});
  }
  return out;
}

home_assistant_command parse_home_assistant_command(std::string_view payload, bool retained) {
  if (retained || payload.size() > kMaxCommandBytes) return home_assistant_command::invalid;
  if (payload == "ON") return home_assistant_command::pause;
  if (payload == "OFF") return home_assistant_command::resume_refused;
  return home_assistant_command::invalid;
}

std::vector<mqtt_out> home_assistant_state_messages(const home_assistant_topics& t,
                                                    const home_assistant_state& s) {
  return {{t.released, std::to_string(s.released)},
          {t.dropped, std::to_string(s.dropped)},
          {t.paused, s.paused ? "ON" : "OFF"}};
}

}  // namespace portier::gateway
