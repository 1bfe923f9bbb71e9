// Checks of a page's markup a browser would otherwise silently repair: every element closed in
// order, no id twice. Not a validator: enough to catch a page whose structure went wrong.
#pragma once

#include <string>

namespace portier::gateway::web::testing {

// Empty when the page is well formed; otherwise what is wrong, and where.
std::string markup_problem(const std::string& page);

}  // namespace portier::gateway::web::testing
