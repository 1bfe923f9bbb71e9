// The outcome of evaluating one message: a release per purpose that may receive something, and
// every drop counted by reason. A decision is owned by its evaluator and overwritten by the next
// evaluate() call; its buffers are reused so the steady state does not allocate.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policies/announcement.h"
#include "policies/compiled_policy.h"
#include "policies/drop_reason.h"

namespace portier::policies {

struct release {
  std::size_t purpose = 0;        // index into compiled_policy::purposes()
  std::string topic;              // upstream topic, device and captures pseudonymised
  std::string payload;            // minimised payload, in the class's format
  bool payload_is_json = true;    // false for RAW classes: a bare value
  std::int64_t expires_at_ms = 0; // received time + the purpose's retention
  std::vector<std::uint16_t> fields;  // indices into the class's fields released (or sampled)
  // A purpose that receives the class per window (compiled_class::windowed_for): no payload;
  // the samples this message adds to the device's open window (window_aggregator.h), which
  // releases them later. `topic` is then the topic the window's release will take.
  bool windowed = false;
  std::vector<window_sample> samples;
};

class decision {
 public:
  // The matched class, or null when the message matched none (or was dropped before matching).
  const compiled_class* device_class() const { return device_class_; }
  // The device id from the topic (raw: for consent lookups and local display, never upstream).
  std::string_view device_id() const { return device_id_; }
  std::span<const release> releases() const { return {releases_.data(), release_count_}; }
  const drop_counts& drops() const { return drops_; }
  std::uint32_t drops(drop_reason r) const { return drops_[static_cast<std::size_t>(r)]; }
  // What the message announced about a state topic (its class announces), or null. Set whatever
  // the consent, the pause or the releases: the caller records it (announcement_table::record).
  const announcement* announced() const { return has_announcement_ ? &announcement_ : nullptr; }

 private:
  friend class evaluator;
  const compiled_class* device_class_ = nullptr;
  std::string device_id_;
  std::vector<release> releases_;
  std::size_t release_count_ = 0;
  drop_counts drops_{};
  announcement announcement_;
  bool has_announcement_ = false;
};

}  // namespace portier::policies
