// Command-line parsing shared by the update sub-commands: options that take a value (possibly
// repeated), switches, positional arguments; durations ("30d", "12h", "90m", "45s"); ids that
// become MQTT topic levels. Parse errors are printed as "portier-policy COMMAND: …" and mean exit
// status 2 (wrong usage).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace portier::tools {

struct parsed_args {
  std::map<std::string, std::vector<std::string>> values;  // every value of each option, in order
  std::set<std::string> switches;
  std::vector<std::string> positional;

  bool has(const std::string& name) const {
    return values.count(name) > 0 || switches.count(name) > 0;
  }
  const std::vector<std::string>& all(const std::string& name) const;
  // The value of an option given at most once (checked by parse_args for `single` options).
  std::optional<std::string> get(const std::string& name) const;
};

// `single` options take a value and may appear once, `repeated` ones any number of times;
// `switches` take none. Anything else starting with "--" is an unknown option.
std::optional<parsed_args> parse_args(std::string_view command,
                                      const std::vector<std::string>& args,
                                      std::initializer_list<const char*> single,
                                      std::initializer_list<const char*> repeated,
                                      std::initializer_list<const char*> switches);

// Prints "portier-policy COMMAND: message" to stderr; returns 2.
int usage_error(std::string_view command, const std::string& message);

// Seconds in "30d", "12h", "90m" or "45s" (1 s to 3650 days); nullopt otherwise.
std::optional<std::int64_t> parse_duration(std::string_view text);
// A positive decimal integer without sign or leading zeros that fits in 64 bits.
std::optional<std::uint64_t> parse_positive(std::string_view text);
// 1 to 64 letters, digits, '-' or '_': gateway ids and fleet names (topic levels).
bool valid_topic_id(std::string_view id);
// "2025-06-15T15:06:40Z".
std::string iso_utc(std::int64_t unix_seconds);

}  // namespace portier::tools
