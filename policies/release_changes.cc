#include "policies/release_changes.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

#include "policies/explain.h"

namespace portier::policies {

namespace {

bool receives(const field_action& a) {
  return a.kind != action_kind::none && a.kind != action_kind::drop;
}

bool finer_window(const aggregate_spec& was, const aggregate_spec& now) {
  if (now.fn != was.fn || now.window_seconds < was.window_seconds || now.step < was.step ||
      now.min_samples < was.min_samples) {
    return true;
  }
  return was.noisy && (!now.noisy || now.epsilon > was.epsilon);
}

// The purpose at `p` of `policy` (-1: none), unless suspended (it receives nothing then).
const compiled_purpose* active(const compiled_policy& policy, int p) {
  if (p < 0) return nullptr;
  const auto& purpose = policy.purposes()[static_cast<std::size_t>(p)];
  return purpose.suspended ? nullptr : &purpose;
}

bool sends_noise(const compiled_class& c, std::size_t p) {
  return std::any_of(c.fields.begin(), c.fields.end(), [&](const compiled_field& f) {
    return f.actions[p].kind == action_kind::aggregate && f.actions[p].window.noisy;
  });
}

std::string budget_phrase(double epsilon) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", epsilon);
  return std::string("privacy budget: the noisy figures of one device spend at most ε ") + buf +
         " a day";
}

// What `p` of `policy` receives from `c`, in explain's words, with its budget when it applies.
std::vector<std::string> phrases(const compiled_policy& policy, const compiled_class* c, int p) {
  std::vector<std::string> out;
  const compiled_purpose* purpose = c != nullptr ? active(policy, p) : nullptr;
  if (purpose == nullptr) return out;
  const auto pi = static_cast<std::size_t>(p);
  for (std::size_t f = 0; f < c->fields.size(); ++f) {
    std::string s = explain_field(*c, f, pi);
    if (!s.empty()) out.push_back(std::move(s));
  }
  if (!out.empty() && purpose->epsilon_per_day > 0 && sends_noise(*c, pi))
    out.push_back(budget_phrase(purpose->epsilon_per_day));
  return out;
}

bool widens(const compiled_policy& before, const compiled_class* cb, int pb,
            const compiled_policy& after, const compiled_class& ca, int pa) {
  const compiled_purpose* now = active(after, pa);
  if (now == nullptr) return false;
  const compiled_purpose* was = cb != nullptr ? active(before, pb) : nullptr;
  const auto pai = static_cast<std::size_t>(pa);
  for (const auto& f : ca.fields) {
    if (!receives(f.actions[pai])) continue;
    if (was == nullptr) return true;
    const auto old = std::find_if(cb->fields.begin(), cb->fields.end(),
                                  [&](const compiled_field& x) { return x.path == f.path; });
    if (old == cb->fields.end()) return true;
    const field_action& a = old->actions[static_cast<std::size_t>(pb)];
    if (!receives(a) || finer_form(a, f.actions[pai])) return true;
  }
  // A budget raised or removed, where the class sends noisy figures.
  if (was != nullptr && was->epsilon_per_day > 0 && sends_noise(ca, pai) &&
      (now->epsilon_per_day == 0 || now->epsilon_per_day > was->epsilon_per_day)) {
    return true;
  }
  return false;
}

}  // namespace

bool finer_form(const field_action& previous, const field_action& next) {
  if (previous.kind != next.kind) return previous.kind != action_kind::keep;
  switch (next.kind) {
    case action_kind::none:
    case action_kind::drop:
    case action_kind::location_longitude:  // its latitude carries the grid
      return false;
    case action_kind::keep:
      if (previous.length > 0 && (next.length == 0 || next.length > previous.length)) return true;
      return previous.type.has_value() && next.type != previous.type;
    case action_kind::pseudonymise:
    case action_kind::truncate:
      return next.length > previous.length;
    case action_kind::round:
      return next.step < previous.step;
    case action_kind::bucket:
      return std::any_of(next.bounds.begin(), next.bounds.end(), [&](double b) {
        return std::find(previous.bounds.begin(), previous.bounds.end(), b) ==
               previous.bounds.end();
      });
    case action_kind::coarsen_time:
      return next.unit < previous.unit;
    case action_kind::generalise_location:
      return next.cell_km < previous.cell_km;
    case action_kind::aggregate:
      return finer_window(previous.window, next.window);
  }
  return true;
}

release_changes compare_releases(const compiled_policy& before, const compiled_policy& after) {
  std::vector<std::string> class_ids;
  for (const auto& c : after.classes()) class_ids.push_back(c->id);
  for (const auto& c : before.classes()) {
    if (after.find_class(c->id) == nullptr) class_ids.push_back(c->id);
  }
  std::vector<std::string> purpose_ids;
  for (const auto& p : after.purposes()) purpose_ids.push_back(p.id);
  for (const auto& p : before.purposes()) {
    if (after.purpose_index(p.id) < 0) purpose_ids.push_back(p.id);
  }
  release_changes out;
  for (const auto& cid : class_ids) {
    const compiled_class* cb = before.find_class(cid);
    const compiled_class* ca = after.find_class(cid);
    for (const auto& pid : purpose_ids) {
      const int pb = before.purpose_index(pid);
      const int pa = after.purpose_index(pid);
      release_change c;
      c.before = phrases(before, cb, pb);
      c.after = phrases(after, ca, pa);
      c.widens = ca != nullptr && widens(before, cb, pb, after, *ca, pa);
      if (c.before == c.after && !c.widens) continue;
      c.class_id = cid;
      c.class_title = ca != nullptr ? ca->title : cb->title;
      c.purpose_id = pid;
      const auto& p = pa >= 0 ? after.purposes()[static_cast<std::size_t>(pa)]
                              : before.purposes()[static_cast<std::size_t>(pb)];
      c.purpose_title = p.title;
      out.widens = out.widens || c.widens;
      out.changes.push_back(std::move(c));
    }
  }
  return out;
}

}  // namespace portier::policies
