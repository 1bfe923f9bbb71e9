// compile_policy(): validates a policy (one or more source files) completely and builds its
// immutable compiled form. Every problem found is reported, not just the first, each as
// "FILE:LINE:COLUMN: FIELD.PATH: what is wrong" (JSON sources have no line: "FILE: FIELD.PATH: …").
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "policies/compiled_policy.h"
#include "policies/policy_source.h"

namespace portier::policies {

struct compile_result {
  std::shared_ptr<const compiled_policy> policy;  // null when errors is not empty
  std::vector<std::string> errors;
};

inline constexpr std::size_t kMaxPurposes = 32;
inline constexpr std::size_t kMaxClasses = 256;
inline constexpr std::size_t kMaxFieldsPerClass = 256;

compile_result compile_policy(std::span<const policy_source> sources);

}  // namespace portier::policies
