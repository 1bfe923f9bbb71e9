// Announcements: what a discovery message says another topic carries.
//
// An ESPHome state topic ("livingroom/sensor/living_room_temperature/state") carries a bare
// "21.4": no unit, and an object id the household chose. What it measures is said only by the
// Home Assistant discovery message the device publishes for it
// ("homeassistant/sensor/livingroom/living_room_temperature/config": device class "temperature",
// unit "°C", state topic ...). A class with `announces` (policy.proto Announce) reads that, and
// the evaluator reports it in its decision (decision::announced()); a class with
// `when { announced { ... } }` is then chosen for the state topic by what was announced for it.
//
// The engine stays pure: it never keeps announcements. It reads them through an
// announcement_table given to evaluate() and reports new ones; the caller records them
// (portierd: gateway/store/announcement_store.h, bounded and persisted; portier-policy run and
// tests: announcement_map below).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policies/field_path.h"
#include "policies/topic_template.h"

namespace portier::policies {

inline constexpr std::size_t kMaxAnnouncedDeviceClass = 64;  // bytes
inline constexpr std::size_t kMaxAnnouncedUnit = 32;         // bytes

// What a state topic carries, as announced.
struct announced_meaning {
  std::string device_class;  // "" when none was announced
  std::string unit;          // "" when none was announced
  // Announced with a value template: the payload is not the announced value itself, so no
  // `announced` predicate holds for the topic (unknown_announcement).
  bool opaque = false;
  bool operator==(const announced_meaning&) const = default;
};

// One announcement: a state topic and what a message said of it. A Home Assistant discovery
// message sets both the device class and the unit (an absent one is ""); an MQTT Statestream
// attribute sets one of them and leaves the other as it was.
struct announcement {
  std::string state_topic;
  bool sets_device_class = false;
  bool sets_unit = false;
  announced_meaning meaning;  // the members set (both when opaque)
};

// Applies `a` to what was known of its topic (`known`, empty when nothing was).
announced_meaning merge_announcement(const announced_meaning* known, const announcement& a);

// Whether a meaning fits a predicate's lists (empty list: any; "" stands for none announced).
bool announcement_fits(const announced_meaning& m, const std::vector<std::string>& device_classes,
                       const std::vector<std::string>& units);

// Where the evaluator looks up announcements, and where the caller records them. The evaluator
// only calls find(); now_ms lets a bounded table keep what is used.
class announcement_table {
 public:
  // Copies what was announced for `state_topic` into `out`; false when nothing was.
  virtual bool find(std::string_view state_topic, std::int64_t now_ms, announced_meaning& out) = 0;
  virtual void record(const announcement& a, std::int64_t now_ms) = 0;

 protected:
  ~announcement_table() = default;
};

// An in-memory table for one run of `portier-policy run` and for tests: unbounded (its input is
// a file the operator chose, not a live broker).
class announcement_map final : public announcement_table {
 public:
  bool find(std::string_view state_topic, std::int64_t now_ms, announced_meaning& out) override;
  void record(const announcement& a, std::int64_t now_ms) override;
  std::size_t size() const { return entries_.size(); }

 private:
  std::map<std::string, announced_meaning, std::less<>> entries_;
};

// The compiled form of a class's `announces` (policy.proto Announce).
struct compiled_announce {
  using alternatives = std::vector<std::vector<path_step>>;  // "$" is an empty path
  alternatives state_topic;
  std::optional<topic_template> about_topic;  // set when state_topic is empty
  alternatives base;
  alternatives device_class;
  alternatives unit;
  alternatives value_template;
};

// Reads what a JSON payload announces: the members `spec` names, each at most once (a second
// copy, or two alternatives of one list, announce nothing). `about_topic` is the rendered
// about_topic when the spec has one. False when the payload announces nothing: malformed,
// empty, no state topic, a member of the wrong type, a value too long, or a state topic that is
// no valid topic (wildcards, over max_topic_bytes, not UTF-8).
bool read_announcement(const compiled_announce& spec, std::string_view payload,
                       std::string_view about_topic, std::size_t max_depth,
                       std::size_t max_topic_bytes, announcement& out);

}  // namespace portier::policies
