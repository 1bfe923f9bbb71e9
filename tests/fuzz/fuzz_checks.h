// Invariants the fuzz targets assert on every decision the evaluator returns. A violation is a
// bug in the engine: the target prints what was violated and calls abort(), which libFuzzer
// reports as a crash and saves the input.
//
//   - drop counts: a message is either dropped whole (exactly one message-level reason, no
//     release, nothing else counted) or every purpose of its class is accounted for once, as a
//     release or a per-purpose drop;
//   - releases: purposes in order and granted; every released field index is listed and has an
//     action for that purpose; expiry = now + retention;
//   - JSON releases parse (RapidJSON, UTF-8 validated), contain only listed paths, no empty
//     container and no duplicate key, and their values are exactly the released fields, in order;
//   - topics: the upstream topic is a valid MQTT topic name (UTF-8, no NUL, no wildcard), is
//     exactly the purpose's template with the device and every capture pseudonymised, and no
//     captured topic level (a device name) appears in it.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "policies/compiled_policy.h"
#include "policies/decision.h"
#include "policies/drop_reason.h"
#include "policies/evaluator.h"
#include "policies/json_text.h"

namespace portier::fuzz {

using namespace portier::policies;

[[noreturn]] inline void violated(const std::string& what, std::string_view topic) {
  std::fprintf(stderr, "\n*** INVARIANT VIOLATED: %s\n*** topic: \"%.*s\"\n", what.c_str(),
               static_cast<int>(topic.size()), topic.data());
  std::abort();
}

inline std::uint32_t sum(const drop_counts& d, drop_reason first, drop_reason last) {
  std::uint32_t n = 0;
  for (auto i = static_cast<std::size_t>(first); i <= static_cast<std::size_t>(last); ++i) n += d[i];
  return n;
}

// What a filter does with each level of `topic`, from the left: 0 literal, 1 "+" or "{name}",
// 2 "{name...}", 3 "#" (once for a "#" that matches nothing). The most specific filter has the
// lexicographically smallest sequence (docs/POLICY.md): an oracle for topic_router, computed
// from topic_filter::match() alone.
inline std::vector<int> level_ranks(const topic_filter& f, std::string_view topic,
                                    std::span<const std::string_view> captures) {
  std::size_t topic_levels = 1;
  for (char ch : topic) topic_levels += ch == '/';
  std::vector<int> out;
  std::size_t capture = 0;
  for (const auto& lv : f.levels()) {
    switch (lv.kind) {
      case topic_filter::level_kind::literal:
        out.push_back(0);
        break;
      case topic_filter::level_kind::single:
        out.push_back(1);
        break;
      case topic_filter::level_kind::capture:
        out.push_back(1);
        ++capture;
        break;
      case topic_filter::level_kind::multi_capture: {
        std::size_t n = 1;
        for (char ch : captures[capture]) n += ch == '/';
        out.insert(out.end(), n, 2);
        ++capture;
        break;
      }
      case topic_filter::level_kind::multi:
        out.insert(out.end(), topic_levels > out.size() ? topic_levels - out.size() : 1, 3);
        break;
    }
  }
  return out;
}

// The filter the evaluator took: of the taker's filters (class `c`, or else every ignore) that
// match, the most specific. Checks that every more specific filter that matches belongs to a
// class whose `when` predicate must then have failed. With `c` and `ignored` both unset (an
// unmatched topic), checks that every filter that matches has such a predicate.
inline const topic_filter* matched_filter(const compiled_policy& policy, const compiled_class* c,
                                          bool ignored, std::string_view topic,
                                          std::span<std::string_view> captures) {
  struct candidate {
    const topic_filter* filter;
    const compiled_class* owner;  // null for an ignore
    std::vector<int> ranks;
  };
  std::vector<candidate> all;
  std::array<std::string_view, topic_filter::kMaxCaptures> caps{};
  auto consider = [&](const topic_filter& f, const compiled_class* owner) {
    if (f.match(topic, caps)) all.push_back({&f, owner, level_ranks(f, topic, caps)});
  };
  for (const auto& k : policy.classes()) {
    for (const auto& f : k->topics) consider(f, k.get());
  }
  for (const auto& g : policy.ignores()) {
    for (const auto& f : g.topics) consider(f, nullptr);
  }
  const candidate* taker = nullptr;
  for (const auto& a : all) {
    const bool mine = c != nullptr ? a.owner == c : ignored && a.owner == nullptr;
    if (mine && (taker == nullptr || a.ranks < taker->ranks)) taker = &a;
  }
  if (taker == nullptr && (c != nullptr || ignored)) return nullptr;
  for (const auto& a : all) {
    if (taker != nullptr && !(a.ranks < taker->ranks)) continue;
    if (a.owner == nullptr || !a.owner->when) {
      violated("the topic went to " +
                   (taker ? "\"" + taker->filter->text() + "\"" : std::string("no filter")) +
                   " although \"" + a.filter->text() + "\" (no predicate) is more specific",
               topic);
    }
  }
  if (taker != nullptr) taker->filter->match(topic, captures);
  return taker != nullptr ? taker->filter : nullptr;
}

struct json_walk {
  const compiled_class& c;
  std::size_t purpose;
  std::string_view topic;
  std::vector<std::uint16_t> fields;  // leaves in document order

  void value(const rapidjson::Value& v, const field_node& n) {
    if (v.IsObject()) {
      if (n.is_leaf() || n.members.empty()) violated("release has an object where the policy lists none", topic);
      if (v.MemberCount() == 0) violated("release has an empty object", topic);
      for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
        const std::string_view key(m->name.GetString(), m->name.GetStringLength());
        for (auto k = v.MemberBegin(); k != m; ++k) {
          if (key == std::string_view(k->name.GetString(), k->name.GetStringLength())) {
            violated("release has a duplicate key \"" + std::string(key) + "\"", topic);
          }
        }
        const field_node* child = n.member(key);
        if (child == nullptr) violated("release has an unlisted member \"" + std::string(key) + "\"", topic);
        value(m->value, *child);
      }
    } else if (v.IsArray()) {
      if (n.is_leaf() || !n.each) violated("release has an array where the policy lists none", topic);
      if (v.Empty()) violated("release has an empty array", topic);
      for (const auto& e : v.GetArray()) value(e, *n.each);
    } else {
      if (!n.is_leaf()) violated("release has a value where the policy lists a container", topic);
      const action_kind k = c.fields[static_cast<std::size_t>(n.field)].actions[purpose].kind;
      if (k == action_kind::none || k == action_kind::drop) {
        violated("release has field \"" + c.fields[static_cast<std::size_t>(n.field)].path +
                     "\" which its purpose may not receive",
                 topic);
      }
      fields.push_back(static_cast<std::uint16_t>(n.field));
    }
  }
};

// The topic the release must have: the purpose's template, identifying parts pseudonymised. With
// `skeleton`, identifying parts are written as '\x01' instead (what non-identifying text alone
// contributes).
inline std::string expected_topic(evaluator& ev, const compiled_class& c, std::size_t purpose,
                                  const topic_filter& f, std::span<const std::string_view> captures,
                                  std::string_view device_id, bool skeleton) {
  const compiled_purpose& p = ev.policy().purposes()[purpose];
  std::string out;
  for (const auto& part : p.topic.parts()) {
    switch (part.kind) {
      case topic_template::part_kind::literal: out += part.text; break;
      case topic_template::part_kind::gateway: out += ev.identity().gateway_id; break;
      case topic_template::part_kind::purpose: out += p.id; break;
      case topic_template::part_kind::device_class: out += c.id; break;
      case topic_template::part_kind::device:
        out += skeleton ? std::string("\x01") : ev.device_pseudonym(purpose, device_id);
        break;
      case topic_template::part_kind::capture: {
        const int i = f.capture_index(part.text);
        if (i < 0) violated("template capture {" + part.text + "} missing from the matched filter", f.text());
        out += skeleton ? std::string("\x01") : ev.device_pseudonym(purpose, captures[static_cast<std::size_t>(i)]);
        break;
      }
    }
  }
  return out;
}

// Checks everything above. `all_granted`: the consent grants every purpose (no refusals).
inline void check_decision(evaluator& ev, const decision& d, std::string_view topic, bool all_granted,
                           std::int64_t now_ms) {
  const compiled_policy& policy = ev.policy();
  const drop_counts& drops = d.drops();
  const std::uint32_t message_drops =
      sum(drops, drop_reason::paused, drop_reason::no_purpose_granted) +
      drops[static_cast<std::size_t>(drop_reason::ignored_topic)] +
      drops[static_cast<std::size_t>(drop_reason::unannounced_topic)] +
      drops[static_cast<std::size_t>(drop_reason::unknown_announcement)];
  const std::uint32_t purpose_drops = sum(drops, drop_reason::consent_refused, drop_reason::nothing_permitted);
  const std::uint32_t field_drops =
      sum(drops, drop_reason::unlisted_field, drop_reason::incomplete_location) +
      drops[static_cast<std::size_t>(drop_reason::implausible_time)];
  const auto releases = d.releases();

  if (message_drops > 1) violated("more than one message-level drop reason", topic);
  if (message_drops == 0 && releases.empty() && purpose_drops == 0) {
    violated("no release and nothing counted", topic);
  }
  if (all_granted && drops[static_cast<std::size_t>(drop_reason::consent_refused)] != 0) {
    violated("consent_refused counted although every purpose is granted", topic);
  }
  if (message_drops == 1) {
    std::array<std::string_view, topic_filter::kMaxCaptures> ignored_captures{};
    if (drops[static_cast<std::size_t>(drop_reason::ignored_topic)] == 1 &&
        matched_filter(policy, nullptr, true, topic, ignored_captures) == nullptr) {
      violated("ignored_topic but no ignore filter matches", topic);
    }
    if (drops[static_cast<std::size_t>(drop_reason::unmatched_topic)] == 1) {
      matched_filter(policy, nullptr, false, topic, ignored_captures);
    }
    if (!releases.empty()) violated("a dropped message has releases", topic);
    if (field_drops != 0) violated("a dropped message has field-level drops", topic);
    if (drops[static_cast<std::size_t>(drop_reason::no_purpose_granted)] == 1) {
      if (d.device_class() == nullptr) violated("no_purpose_granted without a class", topic);
      if (drops[static_cast<std::size_t>(drop_reason::nothing_permitted)] != 0 ||
          purpose_drops != d.device_class()->purposes.size()) {
        violated("no_purpose_granted but per-purpose drops do not cover the class's purposes", topic);
      }
    } else if (drops[static_cast<std::size_t>(drop_reason::nothing_permitted)] != 0) {
      violated("a message dropped whole also counts nothing_permitted", topic);
    } else if (purpose_drops != 0) {
      // Consent and suspension are decided before the payload is read: a message that then
      // fails as a whole keeps those counts, one per purpose of its class that was not granted.
      if (d.device_class() == nullptr) violated("per-purpose drops without a class", topic);
      std::uint32_t not_granted = 0;
      for (std::size_t p : d.device_class()->purposes) {
        if (ev.policy().purposes()[p].suspended || !all_granted) ++not_granted;
      }
      if (all_granted ? purpose_drops != not_granted : purpose_drops > not_granted) {
        violated("a message dropped whole has per-purpose drops for granted purposes", topic);
      }
    }
    return;
  }
  if (d.device_class() == nullptr) violated("no message-level drop but no class", topic);
  const compiled_class& c = *d.device_class();
  if (releases.size() + purpose_drops != c.purposes.size()) {
    violated("releases + per-purpose drops (" + std::to_string(releases.size()) + " + " +
                 std::to_string(purpose_drops) + ") != the class's purposes (" + std::to_string(c.purposes.size()) +
                 ")",
             topic);
  }

  std::array<std::string_view, topic_filter::kMaxCaptures> captures{};
  const topic_filter* f = matched_filter(policy, &c, false, topic, captures);
  if (f == nullptr) violated("the matched class has no filter matching the topic", topic);
  const std::size_t ncap = f->capture_names().size();
  std::string device_id;
  bool identifying_id = false;
  for (const auto& part : c.device_id.parts()) {
    if (part.kind == topic_template::part_kind::literal) {
      device_id += part.text;
    } else {
      identifying_id = true;
      device_id += captures[static_cast<std::size_t>(f->capture_index(part.text))];
    }
  }
  if (device_id != d.device_id()) violated("device id is not the class's device_id over the captures", topic);

  std::size_t previous = SIZE_MAX;
  for (const release& r : releases) {
    if (previous != SIZE_MAX && r.purpose <= previous) violated("releases not in purpose order", topic);
    previous = r.purpose;
    bool listed = false;
    for (std::size_t p : c.purposes) listed = listed || p == r.purpose;
    if (!listed) violated("release for a purpose the class does not use", topic);
    if (r.fields.empty()) violated("release with no field", topic);
    for (std::uint16_t field : r.fields) {
      if (field >= c.fields.size()) violated("released field index out of range", topic);
      const action_kind k = c.fields[field].actions[r.purpose].kind;
      if (k == action_kind::none || k == action_kind::drop) {
        violated("released field \"" + c.fields[field].path + "\" has no action for its purpose", topic);
      }
    }
    const auto retention = static_cast<std::int64_t>(policy.purposes()[r.purpose].retention_seconds);
    if (r.expires_at_ms != now_ms + retention * 1000) violated("expiry is not now + retention", topic);

    // A windowed purpose: samples of aggregated fields, finite numbers, and no payload at all.
    if (r.windowed != c.windowed_for(r.purpose)) violated("windowed release for a per-message purpose", topic);
    if (r.windowed) {
      if (!r.payload.empty()) violated("a windowed release carries a payload", topic);
      if (r.samples.size() != r.fields.size()) violated("samples differ from the fields sampled", topic);
      for (const window_sample& w : r.samples) {
        if (w.field >= c.fields.size() || c.fields[w.field].actions[r.purpose].kind != action_kind::aggregate)
          violated("a sample of a field the purpose does not aggregate", topic);
        if (!std::isfinite(w.value)) violated("a sample that is not a finite number", topic);
      }
      continue;
    }
    if (!r.samples.empty()) violated("a per-message release carries samples", topic);

    // Payload.
    if (c.format == compiled_class::payload_format::json) {
      if (!r.payload_is_json) violated("JSON class release not marked JSON", topic);
      rapidjson::Document doc;
      doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseNumbersAsStringsFlag>(r.payload.data(),
                                                                                              r.payload.size());
      if (doc.HasParseError()) {
        violated(std::string("release payload is not valid JSON (") + rapidjson::GetParseError_En(doc.GetParseError()) +
                     "): " + r.payload,
                 topic);
      }
      json_walk walk{c, r.purpose, topic, {}};
      walk.value(doc, c.root);
      if (walk.fields != r.fields) violated("release fields differ from the values in its payload: " + r.payload, topic);
    } else {
      if (r.payload_is_json) violated("RAW class release marked JSON", topic);
      if (!valid_utf8(r.payload)) violated("RAW release payload is not valid UTF-8", topic);
      if (r.fields.size() != 1 || r.fields[0] != static_cast<std::uint16_t>(c.root.field)) {
        violated("RAW release fields are not exactly \"$\"", topic);
      }
    }

    // Topic.
    if (r.topic.empty() || !valid_utf8(r.topic) || r.topic.find_first_of(std::string_view("+#\0", 3)) != std::string::npos) {
      violated("release topic is not a valid MQTT topic name: " + r.topic, topic);
    }
    const std::string expected = expected_topic(ev, c, r.purpose, *f, captures, device_id, false);
    if (r.topic != expected) violated("release topic \"" + r.topic + "\" != expected \"" + expected + "\"", topic);
    const std::string skeleton = expected_topic(ev, c, r.purpose, *f, captures, device_id, true);
    std::vector<std::string_view> raw(captures.begin(), captures.begin() + static_cast<std::ptrdiff_t>(ncap));
    if (identifying_id) raw.push_back(device_id);
    for (std::string_view name : raw) {
      // A raw name may appear only where the template's own text (not a pseudonym) spells it. A
      // pseudonym is base32 text: a short name ("5", "ab") turns up in one by chance; from 8
      // characters on, a match means the name itself went out (odds of chance: 9 in 32^8).
      if (name.size() >= 8 && r.topic.find(name) != std::string::npos &&
          skeleton.find(name) == std::string::npos) {
        violated("release topic \"" + r.topic + "\" contains the raw topic level \"" + std::string(name) + "\"",
                 topic);
      }
    }
  }
}

}  // namespace portier::fuzz
