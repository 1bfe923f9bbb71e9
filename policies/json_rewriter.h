// The single-pass JSON rewriter: one SAX read of the payload (RapidJSON, numbers kept as their
// exact text) feeds one output per purpose at once. No DOM is built; only the listed paths are
// followed and everything else is skipped as it streams by. Containers are written lazily, so
// an object none of whose members a purpose may receive does not appear in its output.
//
// Fail closed: a syntax error, invalid UTF-8, a duplicate listed key or nesting beyond the limit
// abandons every output and returns the reason. A class's predicate is tested before, by a
// reader that stops at the member it names. Field-level problems (type mismatch, a lone
// latitude) drop that field for that purpose and are counted.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policies/compiled_policy.h"
#include "policies/drop_reason.h"
#include "policies/pseudonymiser.h"

namespace portier::policies {

inline constexpr std::size_t kMaxJsonDepth = 32;

// One purpose's output of a rewrite.
struct rewrite_output {
  std::size_t purpose = 0;
  std::string* payload = nullptr;               // cleared, then written
  std::vector<std::uint16_t>* fields = nullptr; // cleared, then the fields released
  // Cleared, then the numbers of aggregated fields (a windowed purpose: nothing is written to
  // `payload`). Null: aggregated fields are counted as policy_drop.
  std::vector<window_sample>* samples = nullptr;
};

class json_rewriter {
 public:
  // Rewrites `payload` of class `c` for every output. Returns the message-level reason when the
  // whole message must be dropped; field-level drops are added to `drops`.
  std::optional<drop_reason> rewrite(const compiled_class& c, std::string_view payload,
                                     std::span<rewrite_output> outputs, pseudonymiser& names,
                                     std::size_t max_depth, drop_counts& drops);

  // Whether a JSON payload satisfies the class's predicate: true/false, or the reason it is
  // malformed.
  std::optional<drop_reason> test_predicate(const compiled_predicate& p, std::string_view payload,
                                            std::size_t max_depth, bool& matches);

  // Whether the predicate's member, or a member on the way to it, appears twice in the payload
  // (test_predicate reads only up to the first copy). Reads the whole payload; a payload that is
  // malformed before a second copy is not this function's to judge (false).
  bool predicate_path_twice(const compiled_predicate& p, std::string_view payload,
                            std::size_t max_depth);

 private:
  std::string scratch_;
};

}  // namespace portier::policies
