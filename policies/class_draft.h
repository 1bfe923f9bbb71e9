// Draft device classes from the shapes of unmatched messages (message_shape.h), for
// `portier-policy suggest`: one class per topic shape, in policy text format, that compiles with
// the rest of a policy and releases nothing until an operator has decided field by field.
//
// In a draft every listed field has no rule, so it is dropped for every purpose (policy_drop);
// its `why` and the class's title and ecosystem say "TODO". The topic filter is the shape's topic
// with its first variable level captured as {device} (the device id) and the others as "+".
// What cannot be a field is a comment: a path through a key that may be a name ("*"), an empty
// or too deep container, a path that is sometimes a value and sometimes holds others, a text
// payload beside JSON ones. A shape with no field to list becomes a commented-out `ignore`.
// Class ids are "draft-" and the topic's words, unique within the draft.
//
// Pure: text in, text out.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "policies/message_shape.h"

namespace portier::policies {

struct draft_shape {
  std::string topic;  // the topic shape: words, "+", a final "#"
  std::uint64_t messages = 0;
  std::int64_t first_seen_ms = 0;  // 0: unknown
  std::int64_t last_seen_ms = 0;
  payload_shape payload;
};

// The draft policy file for `shapes`, in their order; `source` says where they came from, for
// the header comment ("portierctl unmatched --json", "capture.jsonl").
std::string draft_classes(std::span<const draft_shape> shapes, const std::string& source);

}  // namespace portier::policies
