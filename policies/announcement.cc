#include "policies/announcement.h"

#include <algorithm>

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include "policies/json_text.h"

namespace portier::policies {

announced_meaning merge_announcement(const announced_meaning* known, const announcement& a) {
  if (a.meaning.opaque) return announced_meaning{"", "", true};
  announced_meaning m = known != nullptr ? *known : announced_meaning{};
  if (a.sets_device_class) m.device_class = a.meaning.device_class;
  if (a.sets_unit) m.unit = a.meaning.unit;
  m.opaque = false;
  return m;
}

bool announcement_fits(const announced_meaning& m, const std::vector<std::string>& device_classes,
                       const std::vector<std::string>& units) {
  if (m.opaque) return false;
  auto in = [](const std::vector<std::string>& list, const std::string& v) {
    return list.empty() || std::find(list.begin(), list.end(), v) != list.end();
  };
  return in(device_classes, m.device_class) && in(units, m.unit);
}

bool announcement_map::find(std::string_view state_topic, std::int64_t, announced_meaning& out) {
  auto it = entries_.find(state_topic);
  if (it == entries_.end()) return false;
  out = it->second;
  return true;
}

void announcement_map::record(const announcement& a, std::int64_t) {
  auto it = entries_.find(a.state_topic);
  if (it == entries_.end()) {
    entries_.emplace(a.state_topic, merge_announcement(nullptr, a));
  } else {
    it->second = merge_announcement(&it->second, a);
  }
}

namespace {

constexpr unsigned kParseFlags = rapidjson::kParseValidateEncodingFlag |
                                 rapidjson::kParseNumbersAsStringsFlag |
                                 rapidjson::kParseIterativeFlag;

enum class seen : std::uint8_t { absent, string, null, other };

struct slot {
  const std::vector<path_step>* path = nullptr;
  seen what = seen::absent;
  std::string text;
};

// Reads the whole payload once and keeps, for every path named, what its one copy holds; a
// second copy stops the read (which copy counts would be ambiguous).
class announce_handler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, announce_handler> {
 public:
  announce_handler(std::vector<slot>& slots, std::size_t max_depth)
      : slots_(slots), max_depth_(max_depth) {}

  bool failed() const { return failed_; }

  bool Null() { return value(seen::null, {}); }
  bool Bool(bool) { return value(seen::other, {}); }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return value(seen::other, {}); }
  bool String(const char* s, rapidjson::SizeType n, bool) { return value(seen::string, {s, n}); }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    frames_.back().key.assign(s, n);
    return true;
  }
  bool StartObject() { return open(false); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool StartArray() { return open(true); }
  bool EndArray(rapidjson::SizeType) { return close(); }

 private:
  struct frame {
    bool array = false;
    std::string key;  // the member being read (objects)
  };

  bool open(bool array) {
    if (!value(seen::other, {})) return false;
    if (frames_.size() + 1 > max_depth_) return fail();
    frames_.push_back({array, {}});
    return true;
  }
  bool close() {
    frames_.pop_back();
    return true;
  }
  bool fail() {
    failed_ = true;
    return false;
  }

  // The value that starts here is at a path of members only (no array on the way): compare.
  bool value(seen what, std::string_view text) {
    for (const frame& f : frames_) {
      if (f.array) return true;
    }
    for (slot& s : slots_) {
      const auto& path = *s.path;
      if (path.size() != frames_.size()) continue;
      bool same = true;
      for (std::size_t i = 0; i < path.size() && same; ++i) same = path[i].key == frames_[i].key;
      if (!same) continue;
      if (s.what != seen::absent) return fail();  // a second copy
      s.what = what;
      s.text.assign(text);
    }
    return true;
  }

  std::vector<slot>& slots_;
  std::size_t max_depth_;
  std::vector<frame> frames_;
  bool failed_ = false;
};

// The one alternative present of a list (null when none is), or false when two are.
bool pick(const std::vector<slot>& slots, std::size_t first, std::size_t count, const slot*& out) {
  out = nullptr;
  for (std::size_t i = first; i < first + count; ++i) {
    if (slots[i].what == seen::absent || slots[i].what == seen::null) continue;
    if (out != nullptr) return false;
    out = &slots[i];
  }
  return true;
}

bool valid_state_topic(std::string_view t, std::size_t max_bytes) {
  if (t.empty() || t.size() > max_bytes || !valid_utf8(t)) return false;
  return t.find_first_of(std::string_view("+#\0", 3)) == std::string_view::npos;
}

}  // namespace

bool read_announcement(const compiled_announce& spec, std::string_view payload,
                       std::string_view about_topic, std::size_t max_depth,
                       std::size_t max_topic_bytes, announcement& out) {
  out.state_topic.clear();
  out.sets_device_class = false;
  out.sets_unit = false;
  out.meaning = {};
  if (payload.empty()) return false;  // Home Assistant: an empty config removes the entity
  const compiled_announce::alternatives* lists[] = {
      &spec.state_topic, &spec.base, &spec.device_class, &spec.unit, &spec.value_template};
  std::vector<slot> slots;
  for (const auto* list : lists) {
    for (const auto& path : *list) slots.push_back({&path, seen::absent, {}});
  }
  announce_handler handler(slots, max_depth);
  rapidjson::MemoryStream stream(payload.data(), payload.size());
  rapidjson::Reader reader;
  const rapidjson::ParseResult r = reader.Parse<kParseFlags>(stream, handler);
  if (r.IsError() || handler.failed()) return false;

  std::size_t at = 0;
  const slot* found[5] = {};
  for (std::size_t i = 0; i < 5; ++i) {
    if (!pick(slots, at, lists[i]->size(), found[i])) return false;
    at += lists[i]->size();
  }
  const slot* topic = found[0];
  const slot* base = found[1];
  const slot* device_class = found[2];
  const slot* unit = found[3];
  const slot* value_template = found[4];
  for (const slot* s : {topic, base, device_class, unit}) {
    if (s != nullptr && (s->what != seen::string || !valid_utf8(s->text))) return false;
  }

  if (spec.about_topic) {
    out.state_topic.assign(about_topic);
  } else {
    if (topic == nullptr) return false;
    const std::string& t = topic->text;
    const bool starts = !t.empty() && t.front() == '~';
    const bool ends = !t.empty() && t.back() == '~';
    if ((starts || ends) && !spec.base.empty()) {
      // As Home Assistant expands "~" (mqtt/discovery.py): the end, if it has one, decides.
      if (base == nullptr) return false;
      out.state_topic = ends ? t.substr(0, t.size() - 1) + base->text : base->text + t.substr(1);
    } else {
      out.state_topic = t;
    }
  }
  if (!valid_state_topic(out.state_topic, max_topic_bytes)) return false;

  out.sets_device_class = !spec.device_class.empty();
  out.sets_unit = !spec.unit.empty();
  if (value_template != nullptr) {
    out.meaning.opaque = true;
    out.sets_device_class = out.sets_unit = true;
    return true;
  }
  if (device_class != nullptr) {
    if (device_class->text.size() > kMaxAnnouncedDeviceClass) return false;
    out.meaning.device_class = device_class->text;
  }
  if (unit != nullptr) {
    if (unit->text.size() > kMaxAnnouncedUnit) return false;
    out.meaning.unit = unit->text;
  }
  return true;
}

}  // namespace portier::policies
