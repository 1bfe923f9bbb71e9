// portier-policy sub-commands. Each returns the process exit code: 0 success, 1 the input is
// invalid (policy errors, bad input lines), 2 wrong usage.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "policies/compiled_policy.h"

namespace portier::tools {

// Loads and compiles the policy made of `paths` (files or directories). Prints every error to
// stderr and returns null if there is one.
std::shared_ptr<const policies::compiled_policy> load_policy(const std::vector<std::string>& paths);

int run_command(const std::vector<std::string>& args);
// suggest (suggest_command.cc).
int suggest_command(const std::vector<std::string>& args);
// keygen, keylist, sign, verify (update_commands.cc).
int update_command(const std::string& command, const std::vector<std::string>& args);
// publish, publish-keylist (publish_command.cc).
int publish_command(const std::string& command, const std::vector<std::string>& args);

}  // namespace portier::tools
