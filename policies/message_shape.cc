#include "policies/message_shape.h"

#include <algorithm>
#include <map>

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include "policies/field_action.h"
#include "policies/json_text.h"

namespace portier::policies {

namespace {

// Words of home ecosystems' topics that name a kind of thing, never a person or a room: roots,
// component types, message kinds. A word here is kept at any position.
const std::vector<std::string_view> kBuiltIn = {
    // roots of ecosystems
    "homeassistant", "zigbee2mqtt", "zwave", "zwavejs", "zwave2mqtt", "esphome", "tasmota",
    "shellies", "shelly", "owntracks", "dsmr", "frigate", "teslamate", "valetudo", "emon",
    "emonhub", "emonpi", "emontx", "openmqttgateway", "theengs", "rtl_433", "rflink", "ebusd",
    "wled", "homie", "domoticz", "openhab", "deconz", "evcc", "openevse", "home",
    // OpenMQTTGateway's gateway kinds
    "BTtoMQTT", "RFtoMQTT", "IRtoMQTT", "LORAtoMQTT", "SYStoMQTT", "433toMQTT",
    // Tasmota
    "tele", "stat", "cmnd", "SENSOR", "STATE", "RESULT", "LWT", "UPTIME", "MARGINS", "INFO1",
    "INFO2", "INFO3", "STATUS", "STATUS0", "STATUS1", "STATUS2", "STATUS3", "STATUS4", "STATUS5",
    "STATUS6", "STATUS7", "STATUS8", "STATUS9", "STATUS10", "STATUS11", "POWER",
    // message kinds
    "status", "state", "events", "event", "rpc", "set", "get", "availability", "available",
    "attributes", "config", "command", "cmd", "data", "value", "values", "json", "info", "announce",
    "online", "offline", "lwt", "will", "debug", "log", "error", "errors", "alarm", "alert",
    "heartbeat", "uptime", "firmware", "version", "update", "updates", "health", "metrics", "stats",
    "telemetry", "report", "reports", "request", "response", "result", "discovery", "bridge",
    "devices", "device", "groups", "group", "reading", "readings", "review", "reviews", "snapshot",
    "snapshots", "recordings", "waypoint", "waypoints", "card", "transition", "steps", "beacon",
    "cars", "geofence", "map", "MapData",
    // component and sensor kinds
    "sensor", "sensors", "binary_sensor", "text_sensor", "switch", "light", "cover", "climate",
    "fan", "lock", "number", "select", "button", "text", "valve", "siren", "vacuum", "camera",
    "scene", "humidifier", "water_heater", "device_tracker", "alarm_control_panel", "relay",
    "input", "input_event", "roller", "emeter", "meter", "temperature", "humidity", "pressure",
    "illuminance", "battery", "power", "energy", "voltage", "current", "frequency", "consumption",
    "production", "electricity", "gas", "water", "solar", "inverter", "motion", "occupancy",
    "presence", "contact", "door", "window", "leak", "smoke", "co2", "position", "location",
    "speed", "odometer", "charging", "person",
    // channel numbers
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

bool word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == ':';
}

}  // namespace

shape_vocabulary::shape_vocabulary() {
  for (std::string_view w : kBuiltIn) words_[std::string(w)].anywhere = true;
}

shape_vocabulary::shape_vocabulary(const compiled_policy& policy) : shape_vocabulary() {
  for (const auto& c : policy.classes()) {
    for (const auto& f : c->topics) add_filter(f);
  }
  for (const auto& i : policy.ignores()) {
    for (const auto& f : i.topics) add_filter(f);
  }
}

void shape_vocabulary::add_filter(const topic_filter& f) {
  bool after_multi = false;
  for (std::size_t i = 0; i < f.levels().size(); ++i) {
    const auto& lv = f.levels()[i];
    if (lv.kind == topic_filter::level_kind::multi_capture) after_multi = true;
    if (lv.kind != topic_filter::level_kind::literal || !is_word(lv.text)) continue;
    places& p = words_[lv.text];
    if (after_multi) {
      p.from = std::min(p.from, i);
    } else if (i < 64) {
      p.at |= std::uint64_t{1} << i;
    }
  }
}

bool shape_vocabulary::is_word(std::string_view level) {
  return !level.empty() && level.size() <= kMaxShapeWordBytes &&
         std::all_of(level.begin(), level.end(), word_char);
}

const std::vector<std::string_view>& shape_vocabulary::built_in() {
  return kBuiltIn;
}

bool shape_vocabulary::keeps(std::string_view level, std::size_t position) const {
  if (!is_word(level)) return false;
  auto it = words_.find(level);
  if (it == words_.end()) return false;
  const places& p = it->second;
  return p.anywhere || position >= p.from || (position < 64 && (p.at >> position) & 1);
}

std::string topic_shape(std::string_view topic, const shape_vocabulary& vocabulary) {
  std::string out;
  std::size_t position = 0;
  std::size_t start = 0;
  while (true) {
    if (position == kMaxShapeLevels - 1) {
      out += '#';
      return out;
    }
    const std::size_t slash = topic.find('/', start);
    const std::string_view level = topic.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (level.empty() || vocabulary.keeps(level, position)) {
      out += level;
    } else {
      out += '+';
    }
    if (slash == std::string_view::npos) return out;
    out += '/';
    start = slash + 1;
    ++position;
  }
}

std::string_view key_shape(std::string_view key) {
  if (key.empty() || key.size() > kMaxShapeKeyBytes) return "*";
  std::size_t digits = 0, colons = 0;
  for (char c : key) {
    if (!word_char(c)) return "*";
    digits += c >= '0' && c <= '9';
    colons += c == ':';
  }
  if (digits > kMaxShapeKeyDigits || colons > 1) return "*";
  return key;
}

namespace {

constexpr std::pair<std::uint8_t, std::string_view> kTypeNames[] = {
    {shape_string, "string"}, {shape_number, "number"}, {shape_boolean, "boolean"},
    {shape_null, "null"},     {shape_object, "object"}, {shape_array, "array"}};
constexpr std::pair<std::uint8_t, std::string_view> kFormatNames[] = {
    {format_json, "json"}, {format_text, "text"}, {format_binary, "binary"}};

template <std::size_t N>
std::vector<std::string> names_of(std::uint8_t bits,
                                  const std::pair<std::uint8_t, std::string_view> (&table)[N]) {
  std::vector<std::string> out;
  for (const auto& [bit, name] : table) {
    if (bits & bit) out.emplace_back(name);
  }
  return out;
}

template <std::size_t N>
std::uint8_t bit_of(std::string_view name,
                    const std::pair<std::uint8_t, std::string_view> (&table)[N]) {
  for (const auto& [bit, n] : table) {
    if (n == name) return bit;
  }
  return 0;
}

// Collects key paths with their types while RapidJSON reads the payload (SAX: no document is
// built). Containers deeper than kMaxShapeDepth are recorded and skipped, not followed.
class shape_handler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, shape_handler> {
 public:
  explicit shape_handler(std::map<std::string, std::uint8_t>& paths, bool& truncated)
      : paths_(paths), truncated_(truncated) {}

  bool Null() { return scalar(shape_null); }
  bool Bool(bool) { return scalar(shape_boolean); }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return scalar(shape_number); }
  bool String(const char*, rapidjson::SizeType, bool) { return scalar(shape_string); }
  bool StartObject() { return start(false); }
  bool StartArray() { return start(true); }
  bool EndObject(rapidjson::SizeType) { return end(); }
  bool EndArray(rapidjson::SizeType) { return end(); }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (skip_ > 0) return true;
    path_.resize(frames_.back().base);
    if (!path_.empty()) path_ += '.';
    path_ += key_shape({s, n});
    return true;
  }

 private:
  struct frame {
    std::size_t base;  // length of the container's own path
    bool array;
    bool has_children = false;
  };

  void child() {
    if (!frames_.empty()) frames_.back().has_children = true;
  }
  bool scalar(std::uint8_t type) {
    if (skip_ > 0) return true;
    child();
    record(type);
    return true;
  }
  bool start(bool array) {
    if (skip_ > 0) {
      ++skip_;
      return true;
    }
    child();
    if (frames_.size() == kMaxShapeDepth) {
      record(array ? shape_array : shape_object);
      skip_ = 1;
      return true;
    }
    frames_.push_back({path_.size(), array});
    if (array) path_ += "[*]";
    return true;
  }
  bool end() {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    const frame f = frames_.back();
    frames_.pop_back();
    path_.resize(f.base);
    if (!f.has_children) record(f.array ? shape_array : shape_object);
    return true;
  }
  void record(std::uint8_t type) {
    const std::string key = path_.empty() ? "$" : path_;
    auto it = paths_.find(key);
    if (it != paths_.end()) {
      it->second |= type;
    } else if (paths_.size() < kMaxShapePaths) {
      paths_.emplace(key, type);
    } else {
      truncated_ = true;
    }
  }

  std::map<std::string, std::uint8_t>& paths_;
  bool& truncated_;
  std::vector<frame> frames_;
  std::string path_;
  std::size_t skip_ = 0;  // nesting inside a container too deep to follow
};

}  // namespace

std::vector<std::string> shape_type_names(std::uint8_t types) {
  return names_of(types, kTypeNames);
}
std::vector<std::string> shape_format_names(std::uint8_t formats) {
  return names_of(formats, kFormatNames);
}
std::uint8_t shape_type_bit(std::string_view name) {
  return bit_of(name, kTypeNames);
}
std::uint8_t shape_format_bit(std::string_view name) {
  return bit_of(name, kFormatNames);
}

payload_shape payload_shape_of(std::string_view payload) {
  payload_shape out;
  std::map<std::string, std::uint8_t> paths;
  bool truncated = false;
  shape_handler handler(paths, truncated);
  rapidjson::MemoryStream in(payload.data(), payload.size());
  rapidjson::Reader reader;
  constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseNumbersAsStringsFlag |
                              rapidjson::kParseIterativeFlag;
  if (!payload.empty() && !reader.Parse<kFlags>(in, handler).IsError()) {
    out.formats = format_json;
    out.truncated = truncated;
    for (auto& [path, types] : paths) out.paths.push_back({path, types});
    return out;
  }
  if (!valid_utf8(payload)) {
    out.formats = format_binary;
    return out;
  }
  // A bare value, read as a RAW class reads it.
  double number = 0;
  out.formats = format_text;
  out.paths.push_back({"$", parse_number(payload, number) ? shape_number : shape_string});
  return out;
}

void merge_payload_shape(payload_shape& into, const payload_shape& more) {
  into.formats |= more.formats;
  into.truncated = into.truncated || more.truncated;
  for (const shape_path& p : more.paths) {
    auto it =
        std::lower_bound(into.paths.begin(), into.paths.end(), p.path,
                         [](const shape_path& a, const std::string& b) { return a.path < b; });
    if (it != into.paths.end() && it->path == p.path) {
      it->types |= p.types;
    } else if (into.paths.size() < kMaxShapePaths) {
      into.paths.insert(it, p);
    } else {
      into.truncated = true;
    }
  }
}

}  // namespace portier::policies
