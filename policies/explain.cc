#include "policies/explain.h"

#include <cstdio>

namespace portier::policies {

namespace {

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string with_unit(const std::string& value, const std::string& unit) {
  return unit.empty() ? value : value + " " + unit;
}

std::string duration(std::uint32_t seconds) {
  if (seconds % 86400 == 0) return std::to_string(seconds / 86400) + (seconds == 86400 ? " day" : " days");
  if (seconds % 3600 == 0) return std::to_string(seconds / 3600) + (seconds == 3600 ? " hour" : " hours");
  if (seconds % 60 == 0) return std::to_string(seconds / 60) + (seconds == 60 ? " minute" : " minutes");
  return std::to_string(seconds) + " seconds";
}

std::string capitalised(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

}  // namespace

std::string explain_field(const compiled_class& c, std::size_t field, std::size_t purpose) {
  const compiled_field& f = c.fields[field];
  const field_action& a = f.actions[purpose];
  switch (a.kind) {
    case action_kind::none:
    case action_kind::drop:
    case action_kind::location_longitude: return "";
    case action_kind::keep: return with_unit(f.title, f.unit.empty() ? "" : "(" + f.unit + ")") + " as sent";
    case action_kind::pseudonymise: return f.title + " as a pseudonym";
    case action_kind::round: return f.title + " rounded to " + with_unit(number(a.step), f.unit);
    case action_kind::bucket: {
      std::string s = f.title + " only as a range (";
      for (std::size_t i = 0; i < a.labels.size(); ++i) s += (i ? ", " : "") + a.labels[i];
      return s + ")";
    }
    case action_kind::coarsen_time: {
      const char* unit = a.unit == time_unit::minute ? "minute" : a.unit == time_unit::hour ? "hour" : "day";
      return f.title + " to the " + unit;
    }
    case action_kind::truncate: return f.title + " cut to its first " + std::to_string(a.length) + " characters";
    case action_kind::generalise_location:
      return f.title + " and " + c.fields[static_cast<std::size_t>(a.partner_field)].title + " only as a " +
             number(a.cell_km) + " km grid cell";
  }
  return "";
}

std::string explain_policy(const compiled_policy& policy) {
  std::string out;
  out += "Policy " + (policy.name().empty() ? std::string("(unnamed)") : "\"" + policy.name() + "\"") +
         ", version " + std::to_string(policy.version()) + "\n";
  for (std::size_t p = 0; p < policy.purposes().size(); ++p) {
    const compiled_purpose& purpose = policy.purposes()[p];
    out += "\n" + purpose.title + " [" + purpose.id + "]\n";
    if (!purpose.description.empty()) out += "  " + purpose.description + "\n";
    out += "  Legal basis: " + std::string(legal_basis_name(purpose.basis));
    if (purpose.category != special_category::none) {
      out += "; special category: " + std::string(special_category_name(purpose.category));
    }
    out += purpose.granted_by_default ? ". Runs unless the household refuses it.\n"
                                      : ". Nothing is sent until the household grants it.\n";
    if (purpose.suspended) out += "  SUSPENDED by the operator: nothing is sent.\n";
    out += "  Data waits at most " + duration(purpose.retention_seconds) + " to be sent; then it is deleted.\n";
    out += "  Sent to: " + purpose.topic.text() + " (device names replaced by pseudonyms)\n";
    bool any = false;
    for (const auto& c : policy.classes()) {
      std::string items;
      for (std::size_t f = 0; f < c->fields.size(); ++f) {
        const std::string phrase = explain_field(*c, f, p);
        if (!phrase.empty()) items += "    - " + phrase + "\n";
      }
      if (items.empty()) continue;
      any = true;
      out += "  From " + c->title + " [" + c->id + "]:\n" + items;
    }
    out += any ? "  Nothing else leaves for this purpose.\n" : "  Receives nothing.\n";
  }
  out += "\nNever leaves: any field, topic or device not listed above.\n";
  for (const auto& c : policy.classes()) {
    std::string never;
    for (const auto& f : c->fields) {
      bool sent = false;
      for (const auto& a : f.actions) sent = sent || (a.kind != action_kind::none && a.kind != action_kind::drop);
      if (!sent && !f.synthetic) never += (never.empty() ? "" : ", ") + f.title;
    }
    if (!never.empty()) out += "  " + capitalised(c->title) + ": " + never + " stay at home.\n";
  }
  return out;
}

}  // namespace portier::policies
