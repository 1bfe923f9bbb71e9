// Why something did not leave the home. Every drop is counted under exactly one reason; the
// names are stable (metrics, `portier-policy run`, the ledger) and never carry a value.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace portier::policies {

enum class drop_reason : std::uint8_t {
  // Whole message, nothing released for any purpose:
  paused,             // the household paused every release
  invalid_topic,      // topic empty, too long or not valid UTF-8
  unmatched_topic,    // no device class matches the topic (and payload predicate)
  too_large,          // payload over the size limit
  too_deep,           // JSON nested deeper than the depth limit
  invalid_json,       // not a JSON document (syntax, trailing bytes, NaN)
  invalid_utf8,       // a string or a bare payload that is not valid UTF-8
  duplicate_key,      // an object names a listed field twice: which one would leave is ambiguous
  no_purpose_granted, // the class's purposes are all refused or suspended
  // One purpose, for one message:
  consent_refused,    // the household has not granted (or has withdrawn) this purpose
  purpose_suspended,  // the operator suspended this purpose
  nothing_permitted,  // the message had no field this purpose may receive
  // One field, for one purpose:
  unlisted_field,     // the field is not in the class's field table
  policy_drop,        // the field is listed, but not for this purpose (or explicitly dropped)
  type_mismatch,      // the value's type does not fit its action (text to round, object to keep)
  incomplete_location,// a latitude without its longitude (or the reverse), or out of range
  implausible_time,   // coarsen_time: a time outside 2000..2100, or not in the declared unit
  // Whole message (counted by the gateway, not the engine):
  device_churn,       // a device id the gateway did not know, beyond devices.max_new_per_minute
  // Whole message (engine):
  ignored_topic,      // the policy's `ignore` names the topic: known, and stays home
  unannounced_topic,  // only classes chosen by announcement could take it, and none was seen
  unknown_announcement, // announced as something (device class, unit) none of them accepts
  // Aggregation windows (counted by the gateway's window store, not the engine):
  window_sparse,      // a window closed with fewer samples than min_samples: not released
  budget_exhausted,   // a window not released: its ε does not fit in what is left of the day's budget
  window_limit,       // a sample refused: aggregation.max_windows windows are open already
};

inline constexpr std::size_t kDropReasonCount = 24;

constexpr std::string_view drop_reason_name(drop_reason r) {
  constexpr std::array<std::string_view, kDropReasonCount> names = {
      "paused",          "invalid_topic",      "unmatched_topic", "too_large",
      "too_deep",        "invalid_json",       "invalid_utf8",    "duplicate_key",
      "no_purpose_granted", "consent_refused", "purpose_suspended", "nothing_permitted",
      "unlisted_field",  "policy_drop",        "type_mismatch",   "incomplete_location",
      "implausible_time",
      "device_churn",
      "ignored_topic",
      "unannounced_topic",
      "unknown_announcement",
      "window_sparse",
      "budget_exhausted",
      "window_limit",
  };
  return names[static_cast<std::size_t>(r)];
}

using drop_counts = std::array<std::uint32_t, kDropReasonCount>;

}  // namespace portier::policies
