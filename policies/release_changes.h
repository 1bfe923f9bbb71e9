// What a policy update changes in what leaves the home: per (device class, purpose), the fields a
// purpose receives before and after, in explain's words (explain_field), and whether the change
// widens what leaves. The daemon records it with the policy change in the ledger, and the
// household sees it (portierctl updates, the LAN page).
//
// Widens, per (class, purpose), when after the update:
//  - a field is received that was not (a new field, a new purpose for the class, a new class,
//    a purpose no longer suspended);
//  - a field is received in a finer form: a smaller rounding step, time or grid cell; a longer
//    pseudonym, cut or keep limit; a keep without its type or length limit; a bucket bound that
//    was not there; a shorter window, finer step, fewer samples, a different figure, less or no
//    noise; or a form of another kind, unless the field was sent as it was before (anything is
//    at most that);
//  - the purpose's daily privacy budget (epsilon_per_day) is raised or removed while the class
//    sends it noisy figures (the budget then shows as a phrase on both sides).
// A change that is none of these (a field dropped, a coarser form) narrows or only rewords.
// Pure: a function of the two compiled policies.
#pragma once

#include <string>
#include <vector>

#include "policies/compiled_policy.h"

namespace portier::policies {

struct release_change {
  std::string class_id;
  std::string class_title;  // the newer policy's title where it has the class
  std::string purpose_id;
  std::string purpose_title;
  std::vector<std::string> before;  // empty: received nothing
  std::vector<std::string> after;   // empty: receives nothing now
  bool widens = false;
};

struct release_changes {
  // Only pairs whose phrases differ or that widen; classes and purposes in the newer policy's
  // order, then those it no longer has.
  std::vector<release_change> changes;
  bool widens = false;  // any change widens
};

release_changes compare_releases(const compiled_policy& before, const compiled_policy& after);

// Whether `next` lets a purpose learn more of a field than `previous` did, both received (see
// the contract above).
bool finer_form(const field_action& previous, const field_action& next);

}  // namespace portier::policies
