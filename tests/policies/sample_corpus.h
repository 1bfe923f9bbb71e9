// The shipped sample messages (policies/defaults/samples/<ecosystem>.jsonl) and the checks the
// policy tests run on them: reading a line as the gateway would read its topic and payload,
// comparing releases as JSON values, and finding what must not leave (names captured from a
// topic, identifiers, coordinates, second-precise times).
//
// A corpus line is one JSON object:
//   {"source": "<doc URL>", "topic": "...", "payload": <JSON value, or a string = a RAW payload>,
//    "expect": {"<purpose>": <release payload>, ...}, "drop": "<reason>", "never": ["..."]}
// `expect` is required unless `drop` says why nothing leaves; any other member is an error, so a
// misspelt key cannot switch a check off. A purpose that receives the class per window (Aggregate)
// gets no payload from the message; its expectation is then {"window": {"<field path>": <number>,
// ...}}: exactly the samples the message adds to the device's open window, as the message wrote
// them (the window's release, later, carries their mean, increase, ...).
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "policies/decision.h"
#include "policies/evaluator.h"
#include "policies/policy_source.h"
#include "policies/topic_filter.h"
#include "policies/window_aggregator.h"
#include "test_support.h"

namespace portier::policies::test {

inline std::string json_text(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

// Equal as JSON values: numbers by value (21.5 == 21.50, 9 == 9.0), object members in any order,
// array elements in order.
inline bool json_equal(const rapidjson::Value& a, const rapidjson::Value& b) {
  if (a.IsNumber() && b.IsNumber()) {
    if (a.IsInt64() && b.IsInt64()) return a.GetInt64() == b.GetInt64();
    if (a.IsUint64() && b.IsUint64()) return a.GetUint64() == b.GetUint64();
    return a.GetDouble() == b.GetDouble();
  }
  if (a.GetType() != b.GetType()) return false;
  if (a.IsObject()) {
    if (a.MemberCount() != b.MemberCount()) return false;
    for (const auto& m : a.GetObject()) {
      const auto it = b.FindMember(m.name);
      if (it == b.MemberEnd() || !json_equal(m.value, it->value)) return false;
    }
    return true;
  }
  if (a.IsArray()) {
    if (a.Size() != b.Size()) return false;
    for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
      if (!json_equal(a[i], b[i])) return false;
    }
    return true;
  }
  return a == b;  // strings, booleans, null
}

// Every string (member names and values) in `v`, decoded.
inline void collect_strings(const rapidjson::Value& v, std::vector<std::string>& out) {
  if (v.IsString()) {
    out.emplace_back(v.GetString(), v.GetStringLength());
  } else if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      out.emplace_back(m.name.GetString(), m.name.GetStringLength());
      collect_strings(m.value, out);
    }
  } else if (v.IsArray()) {
    for (const auto& e : v.GetArray()) collect_strings(e, out);
  }
}

// Whether `needle` is in `text` or in one of the decoded strings of the JSON document `text` (so
// that a name written with an escape, "Tom\u2019s", is found as the device wrote it).
inline bool occurs_in(std::string_view needle, std::string_view text) {
  if (text.find(needle) != std::string_view::npos) return true;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(text.data(), text.size());
  if (doc.HasParseError()) return false;
  std::vector<std::string> strings;
  collect_strings(doc, strings);
  return std::any_of(strings.begin(), strings.end(),
                     [&](const std::string& s) { return s.find(needle) != std::string::npos; });
}

inline bool is_one_of(std::string_view key, std::initializer_list<std::string_view> keys) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
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
inline void collect_sensitive(const detectors& re, const rapidjson::Value& v, std::string_view key,
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

// The topic levels the matched class captured (device, user and node names) of at least
// `min_size` characters; a "{name...}" capture also level by level ("Anna/bedroom climate",
// "Anna", "bedroom climate").
inline void collect_captures(const decision& d, std::string_view topic, std::size_t min_size,
                             std::vector<std::string>& out) {
  if (d.device_class() == nullptr) return;
  for (const auto& f : d.device_class()->topics) {
    std::array<std::string_view, topic_filter::kMaxCaptures> captures{};
    if (!f.match(topic, captures)) continue;
    for (std::size_t i = 0; i < f.capture_names().size(); ++i) {
      std::string_view c = captures[i];
      if (c.size() >= min_size) out.emplace_back(c);
      if (c.find('/') == std::string_view::npos) continue;
      for (std::size_t start = 0; start <= c.size();) {
        const std::size_t end = std::min(c.find('/', start), c.size());
        if (end - start >= min_size) out.emplace_back(c.substr(start, end - start));
        start = end + 1;
      }
    }
  }
}

// One line of a corpus file.
struct sample_line {
  std::string where;  // "zigbee2mqtt.jsonl:12"
  std::string topic;
  std::string payload;  // the wire payload: a string's content, or any other value's own text
  rapidjson::Document doc;
  std::string drop;  // empty unless the line has `drop`
  std::vector<std::string> never;

  // What each purpose receives: an object, or null when the line has `drop`.
  const rapidjson::Value* expect() const { return drop.empty() ? &doc["expect"] : nullptr; }
};

// The text of the value that starts at `text[i]` in a valid JSON document, byte for byte: a
// string to its closing quote, an object or array to its matching bracket, anything else to the
// next ',', '}' or ']'.
inline std::string_view json_value_text(std::string_view text, std::size_t i) {
  const std::size_t start = i;
  std::size_t depth = 0;
  bool in_string = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
        if (depth == 0) return text.substr(start, i + 1 - start);
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']' || c == ',' || c == ' ' || c == '\t' || c == '\r') {
      if (depth == 0) break;
      if ((c == '}' || c == ']') && --depth == 0) return text.substr(start, i + 1 - start);
    }
  }
  return text.substr(start, i - start);
}

// The wire payload of a line: the content of a string, or the text of the top-level "payload"
// member as written (numbers keep their text, as `portier-policy run` and a device send them).
inline std::string wire_payload(std::string_view line, const rapidjson::Value& payload) {
  if (payload.IsString()) return {payload.GetString(), payload.GetStringLength()};
  // The line has been parsed: find the top-level member name "payload" (a string followed by ':'
  // at depth 1) and take its value's text.
  std::size_t depth = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') --depth;
    if (c != '"') continue;
    const std::size_t end = i + json_value_text(line, i).size();  // just after the string
    std::size_t colon = end;
    while (colon < line.size() && (line[colon] == ' ' || line[colon] == '\t')) ++colon;
    if (depth == 1 && line.substr(i, end - i) == "\"payload\"" && colon < line.size() &&
        line[colon] == ':') {
      std::size_t v = colon + 1;
      while (v < line.size() && (line[v] == ' ' || line[v] == '\t')) ++v;
      return std::string(json_value_text(line, v));
    }
    i = end - 1;
  }
  return json_text(payload);
}

// Reads one line; false with `error` if it is not a valid corpus line.
inline bool parse_sample_line(std::string_view text, sample_line& s, std::string& error) {
  s.doc.Parse<rapidjson::kParseFullPrecisionFlag>(text.data(), text.size());
  if (s.doc.HasParseError() || !s.doc.IsObject()) {
    error = "not a JSON object";
    return false;
  }
  for (const auto& m : s.doc.GetObject()) {
    const std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (!is_one_of(key, {"source", "topic", "payload", "expect", "drop", "never"})) {
      error = "unknown member \"" + std::string(key) + "\"";
      return false;
    }
  }
  const auto source = s.doc.FindMember("source");
  if (source == s.doc.MemberEnd() || !source->value.IsString() ||
      std::string_view(source->value.GetString()).rfind("https://", 0) != 0) {
    error = "\"source\" must be the https:// address of the documentation the message is from";
    return false;
  }
  const auto topic = s.doc.FindMember("topic");
  const auto payload = s.doc.FindMember("payload");
  if (topic == s.doc.MemberEnd() || !topic->value.IsString() || payload == s.doc.MemberEnd()) {
    error = "needs \"topic\" (a string) and \"payload\"";
    return false;
  }
  s.topic.assign(topic->value.GetString(), topic->value.GetStringLength());
  s.payload = wire_payload(text, payload->value);
  const auto drop = s.doc.FindMember("drop");
  const auto expect = s.doc.FindMember("expect");
  if (drop != s.doc.MemberEnd()) {
    if (!drop->value.IsString() || drop->value.GetStringLength() == 0) {
      error = "\"drop\" must name a drop reason";
      return false;
    }
    s.drop = drop->value.GetString();
    if (expect != s.doc.MemberEnd() &&
        (!expect->value.IsObject() || expect->value.MemberCount() != 0)) {
      error = "a line with \"drop\" expects nothing: leave \"expect\" out or empty";
      return false;
    }
  } else {
    if (expect == s.doc.MemberEnd() || !expect->value.IsObject() ||
        expect->value.MemberCount() == 0) {
      error = "\"expect\" must name what at least one purpose receives (or \"drop\" say why not)";
      return false;
    }
  }
  const auto never = s.doc.FindMember("never");
  if (never != s.doc.MemberEnd()) {
    if (!never->value.IsArray()) {
      error = "\"never\" must be an array of strings";
      return false;
    }
    for (const auto& n : never->value.GetArray()) {
      if (!n.IsString() || n.GetStringLength() == 0) {
        error = "\"never\" must be an array of non-empty strings";
        return false;
      }
      s.never.emplace_back(n.GetString(), n.GetStringLength());
    }
  }
  return true;
}

// policies/defaults/samples/*.jsonl, sorted by name: a new ecosystem's file is picked up as it is.
inline std::vector<std::filesystem::path> sample_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".jsonl") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The lines of one corpus file (blank lines skipped); a line that is not a valid corpus line is
// an entry in `errors` ("owntracks.jsonl:3: unknown member ...").
inline std::vector<sample_line> load_sample_file(const std::filesystem::path& file,
                                                 std::vector<std::string>& errors) {
  std::vector<sample_line> out;
  std::ifstream in(file);
  if (!in) errors.push_back(file.string() + ": cannot be read");
  std::string text;
  for (int n = 1; std::getline(in, text); ++n) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    sample_line s;
    s.where = file.filename().string() + ":" + std::to_string(n);
    std::string error;
    if (!parse_sample_line(text, s, error)) {
      errors.push_back(s.where + ": " + error);
      continue;
    }
    out.push_back(std::move(s));
  }
  return out;
}

// A drop reason by name.
inline std::optional<drop_reason> drop_reason_by_name(std::string_view name) {
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    const auto r = static_cast<drop_reason>(i);
    if (drop_reason_name(r) == name) return r;
  }
  return std::nullopt;
}

inline const std::string kDefaultsDir = std::string(PORTIER_SOURCE_DIR) + "/policies/defaults";

inline std::shared_ptr<const compiled_policy> load_defaults() {
  auto sources = load_policy_dir(kDefaultsDir);
  if (!sources) FAIL(sources.error_message().c_str());
  auto r = compile_policy(*sources);
  if (!r.errors.empty()) FAIL(joined(r.errors).c_str());
  return r.policy;
}

// The shipped defaults with every purpose granted, as `portier-policy run --grant-all` runs them.
struct defaults_engine {
  defaults_engine() : policy(load_defaults()), ev(policy, test_identity()) {
    for (const auto& p : policy->purposes()) consent.set_household(p.id, consent_decision::granted);
  }
  std::shared_ptr<const compiled_policy> policy;
  evaluator ev;
  consent_snapshot consent;
};

// What a set of lines sends upstream, for the targets. A line whose purpose receives its
// class per window releases to that purpose by adding samples to the device's window: it counts as
// released (and useful, for analytics), with 0 upstream bytes of its own (`windowed` counts such
// lines); the windows' releases are counted apart (window_releases, window_bytes), each standing
// for every message of its window.
struct corpus_stats {
  std::size_t lines = 0;
  std::size_t useful = 0;           // lines that release something to service or analytics
  std::size_t released = 0;         // lines that release something to any purpose
  std::size_t windowed = 0;         // lines that add samples to a window
  std::size_t kept_home = 0;        // lines nothing leaves of, on purpose (ignored_topic)
  std::size_t input_bytes = 0;      // wire payloads
  std::size_t upstream_bytes = 0;   // release payloads per message, over all purposes
  std::size_t window_releases = 0;  // windows released
  std::size_t window_bytes = 0;     // their payloads

  void add(const corpus_stats& o) {
    lines += o.lines;
    useful += o.useful;
    released += o.released;
    windowed += o.windowed;
    kept_home += o.kept_home;
    input_bytes += o.input_bytes;
    upstream_bytes += o.upstream_bytes;
    window_releases += o.window_releases;
    window_bytes += o.window_bytes;
  }
  static double percent(std::size_t n, std::size_t of) {
    return of == 0 ? 0 : 100.0 * double(n) / double(of);
  }
  double useful_percent() const { return percent(useful, lines); }
  // Released to the purpose it serves, or known and kept home: not dropped as unknown or broken.
  double handled_percent() const { return percent(released + kept_home, lines); }
  // Per message: what each message's releases weigh against the message (issue 12's measure).
  double reduction_percent() const { return reduction(upstream_bytes); }
  // With the window releases the lines caused added, however few messages each window gathered.
  double reduction_with_windows_percent() const { return reduction(upstream_bytes + window_bytes); }
  double reduction(std::size_t upstream) const {
    return input_bytes == 0 ? 0 : 100.0 * (1.0 - double(upstream) / double(input_bytes));
  }
};

// {"window": {...}} of an expectation: the samples a windowed purpose expects; null otherwise.
inline const rapidjson::Value* expected_window(const rapidjson::Value& expected) {
  if (!expected.IsObject() || expected.MemberCount() != 1) return nullptr;
  const auto it = expected.FindMember("window");
  return it != expected.MemberEnd() && it->value.IsObject() ? &it->value : nullptr;
}

// A windowed release's samples as {"path":value,...}, each value as the shortest text that reads
// back as the same double.
inline std::string window_samples_text(const decision& d, const release& r) {
  std::string out = "{";
  for (std::size_t i = 0; i < r.samples.size(); ++i) {
    char v[32];
    const auto end = std::to_chars(v, v + sizeof v, r.samples[i].value).ptr;
    out += (i ? "," : "") + std::string("\"") + d.device_class()->fields[r.samples[i].field].path +
           "\":" + std::string(v, end);
  }
  return out + "}";
}

// What differs between a windowed release's samples and the expected {"path": number, ...}:
// every sample must be expected with exactly its value, and every expected path must be sampled.
inline std::vector<std::string> window_mismatches(const decision& d, const release& r,
                                                  const rapidjson::Value& expected) {
  std::vector<std::string> out;
  const auto& fields = d.device_class()->fields;
  for (const auto& sample : r.samples) {
    const std::string& path = fields[sample.field].path;
    const auto it = expected.FindMember(path.c_str());
    if (it == expected.MemberEnd()) {
      out.push_back("adds " + path + " to its window, which \"window\" does not name (samples " +
                    window_samples_text(d, r) + ")");
    } else if (!it->value.IsNumber() || it->value.GetDouble() != sample.value) {
      out.push_back("adds " + path + " " + window_samples_text(d, r) + " to its window, expected " +
                    json_text(it->value));
    }
  }
  for (const auto& m : expected.GetObject()) {
    const std::string path(m.name.GetString(), m.name.GetStringLength());
    const bool sampled =
        std::any_of(r.samples.begin(), r.samples.end(),
                    [&](const window_sample& w) { return fields[w.field].path == path; });
    if (!sampled) {
      out.push_back("\"window\" names " + path + ", which the message does not add (samples " +
                    window_samples_text(d, r) + ")");
    }
  }
  return out;
}

// Evaluates one line with `ev` and returns what is wrong with it, each entry starting with
// s.where; adds the line to `stats`. `announced` (one table per file, as portierd keeps one across
// messages) holds what earlier lines announced and records what this one announces; `windows`, if
// given, takes the line's window samples, at `now_ms`. Checks: each
// purpose receives exactly `expect[purpose]` (a windowed purpose: exactly the samples of
// `expect[purpose].window`, no more, no fewer, each with its value) and no other purpose
// anything; a `drop` line releases nothing, for that reason; every `never`
// string is in the message and in no release; no captured topic level of 4+ characters reaches
// an upstream topic; no value the detectors find (identifiers, precise coordinates and times)
// leaves as it was.
inline std::vector<std::string> check_sample(evaluator& ev, const consent_snapshot& consent,
                                             const detectors& re, const sample_line& s,
                                             corpus_stats& stats,
                                             announcement_table* announced = nullptr,
                                             window_aggregator* windows = nullptr,
                                             std::int64_t now_ms = 0) {
  std::vector<std::string> errors;
  const compiled_policy& policy = ev.policy();
  const decision& d = ev.evaluate(s.topic, s.payload, consent, now_ms, announced);
  if (announced != nullptr && d.announced() != nullptr) announced->record(*d.announced(), now_ms);
  if (windows != nullptr) windows->add(policy, d, now_ms);
  const std::string got = " (" + s.topic + ": " + summary(d, policy) + ")";
  auto error = [&](const std::string& what) { errors.push_back(s.where + ": " + what + got); };

  ++stats.lines;
  stats.input_bytes += s.payload.size();
  bool useful = false;
  bool windowed = false;
  for (const auto& r : d.releases()) {
    const std::string& purpose = policy.purposes()[r.purpose].id;
    stats.upstream_bytes += r.payload.size();  // 0 for a window's samples
    useful = useful || purpose == "service" || purpose == "analytics";
    windowed = windowed || r.windowed;
    const std::string got_text =
        r.windowed ? "window samples " + window_samples_text(d, r) : r.payload;
    const rapidjson::Value* expected = nullptr;
    if (s.expect() != nullptr) {
      const auto it = s.expect()->FindMember(purpose.c_str());
      if (it != s.expect()->MemberEnd()) expected = &it->value;
    }
    if (expected == nullptr) {
      error(purpose + " receives " + got_text + ", which \"expect\" does not name");
      continue;
    }
    const rapidjson::Value* window = expected_window(*expected);
    if (r.windowed || window != nullptr) {
      if (!r.windowed) {
        error(purpose + " receives " + r.payload + " per message, expected window samples " +
              json_text(*window));
      } else if (window == nullptr) {
        error(purpose + " receives " + got_text + " (per window), expected " +
              json_text(*expected));
      } else {
        for (const auto& e : window_mismatches(d, r, *window)) error(purpose + ": " + e);
      }
      continue;
    }
    if (!r.payload_is_json) {
      if (!expected->IsString() || r.payload != expected->GetString()) {
        error(purpose + " receives the RAW payload \"" + r.payload + "\", expected " +
              json_text(*expected));
      }
      continue;
    }
    rapidjson::Document released;
    released.Parse<rapidjson::kParseFullPrecisionFlag>(r.payload.c_str(), r.payload.size());
    if (released.HasParseError() || !json_equal(released, *expected)) {
      error(purpose + " receives " + r.payload + ", expected " + json_text(*expected));
    }
  }
  if (useful) ++stats.useful;
  if (windowed) ++stats.windowed;
  if (!d.releases().empty()) ++stats.released;
  if (d.releases().empty() && d.drops(drop_reason::ignored_topic) > 0) ++stats.kept_home;
  if (s.expect() != nullptr) {
    for (const auto& m : s.expect()->GetObject()) {
      const int p = policy.purpose_index(m.name.GetString());
      const bool released = std::any_of(
          d.releases().begin(), d.releases().end(),
          [&](const auto& r) { return p >= 0 && r.purpose == static_cast<std::size_t>(p); });
      if (!released)
        error("\"expect\" names " + std::string(m.name.GetString()) + ", which receives nothing");
    }
  }

  if (!s.drop.empty()) {
    const auto reason = drop_reason_by_name(s.drop);
    if (!d.releases().empty()) error("\"drop\": \"" + s.drop + "\", but something leaves");
    if (!reason) {
      error("\"drop\": \"" + s.drop + "\" is not a drop reason");
    } else {
      const auto r = *reason;
      const bool per_purpose = r == drop_reason::consent_refused ||
                               r == drop_reason::purpose_suspended ||
                               r == drop_reason::nothing_permitted;
      const bool per_field =
          !per_purpose && r >= drop_reason::unlisted_field && r <= drop_reason::implausible_time;
      const std::size_t purposes =
          d.device_class() != nullptr ? d.device_class()->purposes.size() : 0;
      if (per_field) {
        error("\"drop\": \"" + s.drop + "\" drops a field, not a whole message");
      } else if (per_purpose ? purposes == 0 || d.drops(r) != purposes : d.drops(r) != 1) {
        error("\"drop\": \"" + s.drop + "\" is not why nothing leaves");
      }
    }
  }

  for (const auto& n : s.never) {
    if (!occurs_in(n, s.topic) && !occurs_in(n, s.payload)) {
      error("\"never\": \"" + n + "\" is not in the message, so it checks nothing");
    }
    for (const auto& r : d.releases()) {
      if (occurs_in(n, r.topic) || occurs_in(n, r.payload)) {
        error("\"" + n + "\" leaves for " + policy.purposes()[r.purpose].id + ": " + r.topic + " " +
              r.payload);
      }
    }
  }

  std::vector<std::string> names;
  collect_captures(d, s.topic, 4, names);
  for (const auto& n : names) {
    for (const auto& r : d.releases()) {
      if (r.topic.find(n) != std::string::npos) {
        error("the topic level \"" + n + "\" reaches the upstream topic " + r.topic);
      }
    }
  }

  std::vector<std::string> sensitive;
  collect_sensitive(re, s.doc["payload"], "", sensitive);
  for (const auto& v : sensitive) {
    for (const auto& r : d.releases()) {
      if (r.topic.find(v) != std::string::npos || r.payload.find(v) != std::string::npos) {
        error("\"" + v + "\" leaves as it was for " + policy.purposes()[r.purpose].id + ": " +
              r.topic + " " + r.payload);
      }
    }
  }
  return errors;
}

// Releases every window `windows` holds, as if the clock ran `days` past `now_ms` with every
// purpose permitted; counts them in `stats`. Noise and delays from a fixed-seed DRBG.
inline std::vector<window_release> release_all_windows(const compiled_policy& policy,
                                                       window_aggregator& windows,
                                                       std::int64_t now_ms, corpus_stats& stats) {
  auto drbg = platform::ctr_drbg::deterministic(
      std::span(reinterpret_cast<const std::uint8_t*>("samples"), 7));
  drbg_source rng(*drbg);
  std::vector<window_release> out;
  const auto all = [](std::size_t, std::string_view, std::string_view) { return true; };
  const std::int64_t until = now_ms + 2 * 86'400'000;
  for (std::int64_t at = windows.next_due_ms(); at <= until; at = windows.next_due_ms()) {
    if (!windows.take_due(policy, at, rng, all, out)) FAIL("the window DRBG failed");
  }
  for (const auto& r : out) {
    ++stats.window_releases;
    stats.window_bytes += r.payload.size();
  }
  return out;
}

}  // namespace portier::policies::test
