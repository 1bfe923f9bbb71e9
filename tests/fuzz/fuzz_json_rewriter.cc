// libFuzzer target: the data path (evaluator + json_rewriter) under the shipped default policy.
//
// Input: the first byte picks a topic from kTopics (modulo its size), the rest is the payload.
// Every purpose is granted, so every rule of every class is exercised. Each decision is checked
// against the invariants of fuzz_checks.h; a violation aborts.
//
// kTopics covers every topic filter of policies/defaults (checked at start-up: a new class
// without a topic here stops the fuzzer), plus a few topics no class matches. The seed corpus
// (corpus/fuzz_json_rewriter/) names files "<index>-<what>": keep the order of kTopics when
// adding to it, append new topics at the end.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>

#include <google/protobuf/stubs/logging.h>

#include "policies/consent_snapshot.h"
#include "policies/evaluator.h"
#include "policies/policy_compiler.h"
#include "policies/policy_source.h"
#include "tests/fuzz/fuzz_checks.h"

namespace {

using namespace portier::policies;

constexpr std::array<std::string_view, 42> kTopics = {
    // 0..5 Zigbee2MQTT and Tasmota
    "zigbee2mqtt/Anna bedroom sensor",
    "zigbee2mqtt/Anna bedroom sensor/availability",
    "tele/tasmota_1A2B3C/SENSOR",
    "tele/tasmota_1A2B3C/STATE",
    "stat/tasmota_1A2B3C/POWER",
    "tele/tasmota_1A2B3C/LWT",
    // 6..7 OwnTracks
    "owntracks/anna/iphone",
    "owntracks/anna/iphone/event",
    // 8..16 Shelly Gen1
    "shellies/shelly1pm-A1B2C3/relay/0",
    "shellies/shelly1pm-A1B2C3/relay/0/power",
    "shellies/shelly1pm-A1B2C3/relay/0/energy",
    "shellies/shelly1pm-A1B2C3/online",
    "shellies/shelly1pm-A1B2C3/temperature",
    "shellies/shelly1pm-A1B2C3/overtemperature",
    "shellies/shellyht-D4E5F6/sensor/temperature",
    "shellies/shellyht-D4E5F6/sensor/humidity",
    "shellies/shellyht-D4E5F6/sensor/battery",
    // 17..23 Shelly Gen2
    "shellyplus1pm-a8032ab12345/status/switch:0",
    "shellyplus1pm-a8032ab12345/status/switch:1",
    "shellyplus1pm-a8032ab12345/status/switch:2",
    "shellyplus1pm-a8032ab12345/status/switch:3",
    "shellyplus1pm-a8032ab12345/status/sys",
    "shellyplus1pm-a8032ab12345/status/wifi",
    "shellyplus1pm-a8032ab12345/online",
    // 24..34 ESPHome
    "anna-bedroom/status",
    "annas-heater/switch/relay/state",
    "anna-bedroom/binary_sensor/motion/state",
    "anna-bedroom/sensor/temperature/state",
    "anna-bedroom/sensor/humidity/state",
    "anna-bedroom/sensor/pressure/state",
    "anna-bedroom/sensor/co2/state",
    "annas-heater/sensor/power/state",
    "annas-heater/sensor/energy/state",
    "anna-bedroom/sensor/wifi_signal/state",
    "anna-bedroom/sensor/uptime/state",
    // 35 DSMR
    "dsmr/json",
    // 36, 37 more devices
    "zigbee2mqtt/Kitchen coffee plug",
    "owntracks/tom/pixel-7",
    // 38..41 no class matches
    "shellies/announce",
    "zigbee2mqtt/bridge/state",
    "$SYS/broker/uptime",
    "zigbee2mqtt/",
};

constexpr std::int64_t kNowMs = 1714551825123;

struct fuzz_state {
  std::unique_ptr<evaluator> ev;
  consent_snapshot consent;
};

fuzz_state* state = nullptr;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "fuzz_json_rewriter: %s\n", message.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  const char* env = std::getenv("PORTIER_POLICY_DIR");
  const std::string dir = env != nullptr ? env : PORTIER_SOURCE_DIR "/policies/defaults";
  auto sources = load_policy_dir(dir);
  if (!sources) die(sources.error_message());
  compile_result compiled = compile_policy(*sources);
  if (!compiled.policy) die(dir + " does not compile: " + compiled.errors.front());

  // Every filter of every class must be reachable from kTopics.
  std::array<std::string_view, topic_filter::kMaxCaptures> captures{};
  for (const auto& c : compiled.policy->classes()) {
    for (const auto& f : c->topics) {
      bool covered = false;
      for (std::string_view t : kTopics) covered = covered || f.match(t, captures);
      if (!covered) die("no topic in kTopics matches filter \"" + f.text() + "\" of class " + c->id + ": add one");
    }
  }

  engine_identity identity;
  identity.gateway_id = "gw-fuzz";
  identity.secret.assign(32, 0x5a);
  state = new fuzz_state;
  state->ev = std::make_unique<evaluator>(compiled.policy, identity);
  for (const auto& p : compiled.policy->purposes()) state->consent.set_household(p.id, consent_decision::granted);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view topic = kTopics[data[0] % kTopics.size()];
  const std::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  const decision& d = state->ev->evaluate(topic, payload, state->consent, kNowMs);
  portier::fuzz::check_decision(*state->ev, d, topic, true, kNowMs);
  return 0;
}
