// The shape of a message no class takes: what portierd may keep of it (unmatched_shapes.h) so
// that an operator can cover it later (`portier-policy suggest`). A shape keeps the structure of
// a message, never its content: no value, no topic level that may name a person or a room.
//
// Topic: a level is kept only if it is a vocabulary word: 1 to 24 ASCII letters, digits, '_',
// '-' or ':', and either a literal level at the same position in one of the policy's filters
// (class or ignore; after a "{name...}" at that position or later) or one of a short built-in
// list of words common to home ecosystems ("status", "tele", "SENSOR", "events", "rpc", …).
// Every other level is written "+" (an empty level stays empty: it names nothing). Levels past
// the 31st become one "#".
//
// Payload: JSON key paths in the policy's path syntax ("a.b", "items[*].x", "[*].id", "$" for
// a bare value) with the types seen at each. A key is kept only if it is 1 to 32 ASCII letters,
// digits, '_', '-' and at most one ':', with at most 4 digits; any other key (spaces, a MAC, a
// hex id, a long or non-ASCII name) is written "*". Paths stop at 8 steps (the container there
// is recorded as "object" or "array"); at most 64 paths are kept per shape. A payload that is
// not JSON is "text" (a bare value: "$" as number or string, read as a RAW class reads it) or
// "binary" (not UTF-8: no path).
//
// A short key such as "Anna" cannot be told from a field name such as "Power": keys are the
// one place a name may still show, which is why shapes stay on the gateway, for its operator.
//
// Pure: no I/O, no clock. Not on the hot path (unmatched messages only); allocates freely.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policies/compiled_policy.h"

namespace portier::policies {

inline constexpr std::size_t kMaxShapeWordBytes = 24;
inline constexpr std::size_t kMaxShapeLevels = 32;  // the 32nd is "#"
inline constexpr std::size_t kMaxShapeKeyBytes = 32;
inline constexpr std::size_t kMaxShapeKeyDigits = 4;
inline constexpr std::size_t kMaxShapeDepth = 8;
inline constexpr std::size_t kMaxShapePaths = 64;

// The topic words a shape may keep.
class shape_vocabulary {
 public:
  // The built-in words only.
  shape_vocabulary();
  // The built-in words and the literal levels of every filter of `policy`.
  explicit shape_vocabulary(const compiled_policy& policy);

  // Whether `level`, at `position` (0 is the first level) of a topic, is a word kept in a shape.
  bool keeps(std::string_view level, std::size_t position) const;
  // 1 to 24 ASCII letters, digits, '_', '-' or ':'.
  static bool is_word(std::string_view level);
  // The built-in words, for documentation and tests.
  static const std::vector<std::string_view>& built_in();

 private:
  void add_filter(const topic_filter& f);
  struct places {
    bool anywhere = false;        // built in
    std::uint64_t at = 0;         // bit i: literal at position i
    std::size_t from = SIZE_MAX;  // literal after a "{name...}": at this position or later
  };
  struct hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, places, hash, std::equal_to<>> words_;
};

// `topic` with every level the vocabulary does not keep written "+".
std::string topic_shape(std::string_view topic, const shape_vocabulary& vocabulary);

// A key as a shape keeps it: itself, or "*".
std::string_view key_shape(std::string_view key);

// Kinds of value seen at a path (a set of bits).
enum shape_type : std::uint8_t {
  shape_string = 1,
  shape_number = 2,
  shape_boolean = 4,
  shape_null = 8,
  shape_object = 16,  // an empty object, or one 8 steps deep (not followed)
  shape_array = 32,   // the same for arrays
};
// Kinds of payload seen (a set of bits).
enum shape_format : std::uint8_t {
  format_json = 1,
  format_text = 2,    // not JSON, valid UTF-8: a bare value ("ON", "21.5 C")
  format_binary = 4,  // not UTF-8
};

// "string", "number", "boolean", "null", "object", "array"; and "json", "text", "binary".
std::vector<std::string> shape_type_names(std::uint8_t types);
std::vector<std::string> shape_format_names(std::uint8_t formats);
// The bit of one name, or 0 for a name it does not know.
std::uint8_t shape_type_bit(std::string_view name);
std::uint8_t shape_format_bit(std::string_view name);

struct shape_path {
  std::string path;
  std::uint8_t types = 0;
};

struct payload_shape {
  std::uint8_t formats = 0;
  std::vector<shape_path> paths;  // sorted by path, at most kMaxShapePaths
  bool truncated = false;         // more paths were seen than kept
};

payload_shape payload_shape_of(std::string_view payload);

// Adds what `more` saw to `into` (formats, paths and their types), within kMaxShapePaths.
void merge_payload_shape(payload_shape& into, const payload_shape& more);

}  // namespace portier::policies
