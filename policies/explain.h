// Plain-language summary of a compiled policy, per purpose: who receives what from which
// devices, and how it is minimised ("Analytics receives temperature rounded to 0.5 °C, …").
// Used by `portier-policy explain` and, later, by the household's tools. The Markdown form, per
// ecosystem and device class, is docs/DEFAULTS.md for the shipped defaults.
#pragma once

#include <string>

#include "policies/compiled_policy.h"

namespace portier::policies {

// One phrase for what `purpose` receives of field `field` of class `c` ("temperature rounded
// to 0.5 °C"); empty if the purpose does not receive it.
std::string explain_field(const compiled_class& c, std::size_t field, std::size_t purpose);

std::string explain_policy(const compiled_policy& policy);

// In what form `purpose` receives field `field` of class `c`, without the field's name
// ("rounded to 0.5 °C", "as a pseudonym", "as sent, if text of at most 16 characters"); empty if
// the purpose does not receive it.
std::string explain_form(const compiled_class& c, std::size_t field, std::size_t purpose);

// The whole policy as Markdown for a household or a regulator: the purposes with their legal
// basis, then per ecosystem (DeviceClass.ecosystem; "Other" for classes without one) each device
// class's topics and a table of what each purpose receives of each field, in what form and why,
// and the topics that stay home. Deterministic: the same policy gives the same bytes.
std::string explain_policy_markdown(const compiled_policy& policy);

}  // namespace portier::policies
