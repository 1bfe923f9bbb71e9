// Home Assistant MQTT discovery, the pure part: which topics portierd uses on the local broker,
// the retained discovery configs that announce it, and what a command on its switch means.
// The session that publishes them is home_assistant_link.h.
//
// Entities (one Home Assistant device per gateway, node_id from the configuration):
//   sensor "Released" and sensor "Dropped" (state_class total_increasing): the counters
//   `released` and `dropped`; binary_sensor "Paused"; switch "Pause sharing", whose state is
//   the same paused flag. Every entity is unavailable when the availability topic says offline
//   (portierd's will, and its clean stop).
//
// The one-way rule: ON on the switch's command topic asks for a pause, which portierd makes
// like any household pause (receipt, ledger; method "home-assistant"). OFF would resume, which
// would let data leave again: it is refused, and the switch's real state is published again.
// Anyone who can publish on the local broker can make the box more private, never less.
//
// Portier's own topics (discovery configs and everything under portier/GATEWAY/ha) are never
// device telemetry: the ingress skips them (own_topics()).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config.pb.h"

namespace portier::gateway {

struct home_assistant_topics {
  std::string base;          // portier/GATEWAY/ha
  std::string availability;  // BASE/availability: "online" / "offline", retained
  std::string released;      // BASE/released: the counter, as decimal text, retained
  std::string dropped;       // BASE/dropped
  std::string paused;        // BASE/paused: "ON" / "OFF", retained (binary sensor and switch)
  std::string command;       // BASE/pause/set: the switch's command topic
  // PREFIX/sensor/NODE/released/config, PREFIX/sensor/NODE/dropped/config,
  // PREFIX/binary_sensor/NODE/paused/config, PREFIX/switch/NODE/pause/config.
  std::array<std::string, 4> configs;
};

// From a validated configuration (home_assistant's defaults filled in).
home_assistant_topics home_assistant_topics_for(const std::string& gateway_id,
                                                const config::HomeAssistant& ha);

// True for a topic portierd publishes itself for Home Assistant: one of the configs, or the
// base or anything under it.
bool is_home_assistant_topic(const home_assistant_topics& t, std::string_view topic);

struct mqtt_out {
  std::string topic;
  std::string payload;
};

// The four retained discovery configs (JSON), in the order of `configs`.
std::vector<mqtt_out> home_assistant_discovery(const home_assistant_topics& t,
                                               const std::string& gateway_id,
                                               const std::string& node_id);

// What a message on the command topic asks for.
enum class home_assistant_command {
  // Exactly "ON", not retained: pause (as the household would; a paused box stays paused).
  pause,
  // Exactly "OFF", not retained: a resume, which Home Assistant may not ask for. Refused,
  // counted (ha_resume_refused), and the real state is published again.
  resume_refused,
  // Anything else: another payload, a payload over 16 bytes, or a retained message (a stale
  // command would act again at every reconnect). Counted (ha_commands_invalid), never logged.
  invalid,
};
home_assistant_command parse_home_assistant_command(std::string_view payload, bool retained);

struct home_assistant_state {
  std::uint64_t released = 0;
  std::uint64_t dropped = 0;
  bool paused = false;
  bool operator==(const home_assistant_state&) const = default;
};

// The state messages (retained): released, dropped and paused, in that order.
std::vector<mqtt_out> home_assistant_state_messages(const home_assistant_topics& t,
                                                    const home_assistant_state& s);

}  // namespace portier::gateway
