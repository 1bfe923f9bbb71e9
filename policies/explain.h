// Plain-language summary of a compiled policy, per purpose: who receives what from which
// devices, and how it is minimised ("Analytics receives temperature rounded to 0.5 °C, …").
// Used by `portier-policy explain` and, later, by the household's tools.
#pragma once

#include <string>

#include "policies/compiled_policy.h"

namespace portier::policies {

// One phrase for what `purpose` receives of field `field` of class `c` ("temperature rounded
// to 0.5 °C"); empty if the purpose does not receive it.
std::string explain_field(const compiled_class& c, std::size_t field, std::size_t purpose);

std::string explain_policy(const compiled_policy& policy);

}  // namespace portier::policies
