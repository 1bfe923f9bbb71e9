#include "policies/explain.h"

#include "policies/noise_cost.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>
#include <vector>

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

// A positive number to two significant digits, as a person writes it: 0.42, 1.7, 17, 170.
std::string two_digits(double v) {
  if (!(v > 0) || !std::isfinite(v)) return number(v);
  const double unit = std::pow(10.0, std::floor(std::log10(v)) - 1);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.12g", std::round(v / unit) * unit);
  return buf;
}

// "per quarter hour", "per hour", "per 6 hours".
std::string per_window(std::uint32_t seconds) {
  if (seconds == 60) return "per minute";
  if (seconds == 900) return "per quarter hour";
  if (seconds == 3600) return "per hour";
  if (seconds == 86400) return "per day";
  return "per " + duration(seconds);
}

// "off by 0.4 kWh on average"; for a mean, with the fewest samples it is sent with ("off by
// 0.42 °C on average with 48 readings, less with more"). Empty without noise.
std::string noise_error_words(const aggregate_spec& w, const std::string& unit) {
  const std::uint64_t n = w.fn == aggregate_fn::mean ? w.min_samples : 1;
  const auto error = expected_noise_error(w, n);
  if (!error) return "";
  std::string s = "off by " + with_unit(two_digits(*error), unit) + " on average";
  if (w.fn == aggregate_fn::mean) {
    s += " with " + std::to_string(n) + (n == 1 ? " reading" : " readings") + ", less with more";
  }
  return s;
}

// "how much it rose per quarter hour, to 0.001 kWh; never single readings, with random noise
// added (...)": how a field leaves per window, in plain words.
std::string window_words(const aggregate_spec& w, const std::string& unit) {
  const std::string per = per_window(w.window_seconds);
  const std::string each = per == "per quarter hour" ? "of each quarter hour"
                           : per == "per hour"       ? "of each hour"
                           : per == "per day"        ? "of each day (UTC)"
                           : per == "per minute"     ? "of each minute"
                                                     : "of every " + duration(w.window_seconds);
  const std::string to = ", to " + with_unit(number(w.step), unit);
  std::string s;
  switch (w.fn) {
    case aggregate_fn::mean:
      s = "averaged " + per + to + "; never single readings";
      break;
    case aggregate_fn::sum:
      s = "summed " + per + to + "; never single readings";
      break;
    case aggregate_fn::count:
      s = "how many readings there were " + per + "; never the readings";
      break;
    case aggregate_fn::delta:
      s = "how much it rose " + per + to + "; never single readings";
      break;
    case aggregate_fn::min:
      s = "only its lowest reading " + each + to;
      break;
    case aggregate_fn::max:
      s = "only its highest reading " + each + to;
      break;
    case aggregate_fn::last:
      s = "only its last reading " + each + to;
      break;
  }
  if (w.noisy) {
    s += ", with random noise added (differential privacy, ε " + number(w.epsilon) +
         " a window): " + noise_error_words(w, unit);
  }
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
    case action_kind::aggregate:
      return f.title + ": " + window_words(a.window, f.unit);
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
    if (purpose.epsilon_per_day > 0) {
      out += "  Privacy budget: the noisy windows of one device spend at most ε " + number(purpose.epsilon_per_day) +
             " a day (UTC); once it is spent, nothing more of that device leaves for this purpose that day.\n";
    }
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

namespace portier::policies {

namespace {

// Numbers as a person writes them: 0.5, 10, 1000000 (no exponent below 1e12).
std::string plain_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.12g", v);
  return buf;
}

bool is_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Text the policy chose, safe inside a Markdown paragraph or table cell: on one line, without
// HTML, entities, links, emphasis or code that the policy's author did not mean.
std::string md_text(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    switch (c) {
      case '\n':
      case '\r':
      case '\t':
        out += ' ';
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&': {
        std::size_t j = i + 1;
        while (j < s.size() && (is_alnum(s[j]) || s[j] == '#')) ++j;
        out += j > i + 1 && j < s.size() && s[j] == ';' ? "&amp;" : "&";  // "H&T" stays as it is
        break;
      }
      case '_':
        if (i > 0 && is_alnum(s[i - 1])) {  // inside a word it is no emphasis: battery_low
          out += c;
          break;
        }
        [[fallthrough]];
      case '\\':
      case '|':
      case '*':
      case '[':
      case ']':
      case '`':
      case '~':
        out += '\\';
        out += c;
        break;
      default:
        out += c;
    }
  }
  return out;
}

// An inline code span for a topic, path or id, safe in a table cell.
std::string md_code(std::string_view s) {
  std::string text;
  for (const char c : s) {
    if (c == '\n' || c == '\r')
      text += ' ';
    else if (c == '|')
      text += "\\|";  // a table cell ends at '|', even in code
    else
      text += c;
  }
  const std::string fence = text.find('`') == std::string::npos ? "`" : "`` ";
  return fence + text + (fence == "`" ? "`" : " ``");
}

// " as a `temperature` or with no device class, in `°C` or `°F`" (empty lists accept any).
std::string announced_text(const compiled_predicate& p) {
  auto alternatives = [](const std::vector<std::string>& values, const char* none) {
    std::string s;
    for (std::size_t i = 0; i < values.size(); ++i) {
      s += i == 0 ? "" : i + 1 == values.size() ? " or " : ", ";
      s += values[i].empty() ? std::string(none) : md_code(values[i]);
    }
    return s;
  };
  std::string out;
  if (!p.device_classes.empty())
    out += " as " + alternatives(p.device_classes, "with no device class");
  if (!p.units.empty()) out += (out.empty() ? " in " : ", in ") + alternatives(p.units, "no unit");
  return out;
}

// GitHub's anchor for a heading: lower case, spaces to '-', other punctuation removed.
std::string md_anchor(std::string_view heading) {
  std::string out;
  for (const char c : heading) {
    if (c >= 'A' && c <= 'Z')
      out += static_cast<char>(c - 'A' + 'a');
    else if (is_alnum(c) || c == '-' || c == '_' || static_cast<unsigned char>(c) >= 0x80)
      out += c;
    else if (c == ' ')
      out += '-';
  }
  return out;
}

std::string field_name(const compiled_field& f) {
  return md_text(f.unit.empty() ? f.title : f.title + " (" + f.unit + ")");
}

bool leaves(const compiled_field& f) {
  for (const auto& a : f.actions) {
    if (a.kind != action_kind::none && a.kind != action_kind::drop) return true;
  }
  return false;
}

constexpr const char* kOther = "Other";

// The table of what each noisy rule's noise costs: the expected absolute error of a figure, for a
// mean with the fewest readings it is sent with and with a reading every 15 and every 5 minutes.
std::string noise_costs(const compiled_policy& policy) {
  std::string rows;
  for (const auto& c : policy.classes()) {
    for (const auto& f : c->fields) {
      for (std::size_t p = 0; p < f.actions.size(); ++p) {
        const field_action& a = f.actions[p];
        if (a.kind != action_kind::aggregate || !a.window.noisy) continue;
        const aggregate_spec& w = a.window;
        std::string error;
        if (w.fn == aggregate_fn::mean) {
          std::vector<std::uint64_t> counts{w.min_samples};
          for (const std::uint32_t every : {900u, 300u}) {
            if (w.window_seconds / every > counts.back())
              counts.push_back(w.window_seconds / every);
          }
          for (const auto n : counts) {
            const auto e = expected_noise_error(w, n);
            if (!e) continue;
            error += (error.empty() ? "" : ", ") + with_unit(two_digits(*e), f.unit) + " (" +
                     std::to_string(n) + " readings)";
          }
        } else if (const auto e = expected_noise_error(w, 1)) {
          error = with_unit(two_digits(*e), f.unit);
        }
        const std::string words = window_words(w, f.unit);
        rows += "| " + md_code(policy.purposes()[p].id) + " | " + md_code(c->id) + " | " +
                field_name(f) + " | " + md_text(words.substr(0, words.find(';'))) + " | " +
                number(w.epsilon) + " | " + plain_number(w.lower) + " to " +
                md_text(with_unit(plain_number(w.upper), f.unit)) + " | " + md_text(error) + " |\n";
      }
    }
  }
  return "\n## What the noise costs\n\n"
         "Noise protects each reading and costs accuracy. The average error is how far, on "
         "average, a figure "
         "sent is from the true one (after rounding to its step): the mean absolute value of the "
         "discrete "
         "Laplace noise, E|X| = step / sinh(ε / Δ), where Δ, the most one reading can move the "
         "figure, is "
         "the clamp's width in steps (for an average, divided by the number of readings). Each "
         "reading is "
         "clamped to the range shown before it counts (for an increase, each rise between two "
         "readings). "
         "The noise is drawn afresh for every figure, so over many homes or days it averages out. "
         "`tests/policies/noise_utility_test.cc` draws 20,000 noise values for each rule and "
         "checks that "
         "the measured error matches; "
         "[policies/defaults/README.md](../policies/defaults/README.md) lists the measured "
         "figures.\n\n"
         "| Purpose | Device class | Field | Figure | ε | Clamp per reading | Average error |\n"
         "|---|---|---|---|---|---|---|\n" +
         rows;
}

}  // namespace

std::string explain_form(const compiled_class& c, std::size_t field, std::size_t purpose) {
  const compiled_field& f = c.fields[field];
  const field_action& a = f.actions[purpose];
  const auto grid = [&](const compiled_field& partner, double cell_km) {
    return "together with " + md_code(field_path_text(partner.steps)) +
           ", only as the centre of its " + plain_number(cell_km) + " km grid cell";
  };
  switch (a.kind) {
    case action_kind::none:
    case action_kind::drop:
      return "";
    case action_kind::keep: {
      const std::string chars =
          std::to_string(a.length) + (a.length == 1 ? " character" : " characters");
      if (!a.type) return a.length == 0 ? "as sent" : "as sent, if at most " + chars;
      switch (*a.type) {
        case value_type::string:
          return a.length == 0 ? "as sent, if text" : "as sent, if text of at most " + chars;
        case value_type::number:
          return a.length == 0 ? "as sent, if a number"
                               : "as sent, if a number of at most " + chars;
        case value_type::boolean:
          return "as sent, if true or false";
        case value_type::null:
          return "as sent, if null";
      }
      return "as sent";
    }
    case action_kind::pseudonymise:
      return "as a pseudonym";
    case action_kind::round:
      return "rounded to " + with_unit(plain_number(a.step), f.unit);
    case action_kind::bucket: {
      std::string s = "only its range: ";
      for (std::size_t i = 0; i < a.labels.size(); ++i) {
        std::string range;
        if (i == 0) {
          range = "under " + with_unit(plain_number(a.bounds[0]), f.unit);
        } else if (i == a.bounds.size()) {
          range = with_unit(plain_number(a.bounds[i - 1]), f.unit) + " or more";
        } else {
          range = plain_number(a.bounds[i - 1]) + " to under " +
                  with_unit(plain_number(a.bounds[i]), f.unit);
        }
        s += (i ? ", " : "") + md_text(a.labels[i]) + " (" + md_text(range) + ")";
      }
      return s;
    }
    case action_kind::coarsen_time:
      return a.unit == time_unit::minute ? "cut to the minute"
             : a.unit == time_unit::hour ? "cut to the hour"
                                         : "cut to the day";
    case action_kind::truncate:
      return "its first " + std::to_string(a.length) +
             (a.length == 1 ? " character" : " characters");
    case action_kind::generalise_location:
      return grid(c.fields[static_cast<std::size_t>(a.partner_field)], a.cell_km);
    case action_kind::location_longitude:
      for (const auto& lat : c.fields) {
        const field_action& la = lat.actions[purpose];
        if (la.kind == action_kind::generalise_location && la.partner_field >= 0 &&
            static_cast<std::size_t>(la.partner_field) == field) {
          return grid(lat, la.cell_km);
        }
      }
      return "";
    case action_kind::aggregate:
      return window_words(a.window, f.unit);
  }
  return "";
}

std::string explain_policy_markdown(const compiled_policy& policy) {
  const auto& purposes = policy.purposes();
  std::string out;
  out += "# What leaves the home: policy " +
         (policy.name().empty() ? std::string("(unnamed)") : "\"" + md_text(policy.name()) + "\"") +
         ", version " + std::to_string(policy.version()) + "\n\n";
  out +=
      "This is what the Portier gateway lets leave a household, written out from the policy it "
      "enforces (`portier-policy explain --markdown`). **Everything not listed here stays home:** "
      "a message leaves only if its topic is listed below, then only the fields in its table, only "
      "to the purposes shown, in the form shown, and only once the household's choices allow that "
      "purpose. Device, room and person names in topics leave only as pseudonyms.\n\n";

  out += "## Purposes\n\n";
  out +=
      "| Purpose | Legal basis | Special category | Until the household decides | Waits to be sent "
      "at most |\n";
  out += "|---|---|---|---|---|\n";
  for (const auto& p : purposes) {
    out += "| " + md_text(p.title) + " (" + md_code(p.id) + ") | " +
           std::string(legal_basis_name(p.basis)) + " | " +
           (p.category == special_category::none ? "—"
                                                 : std::string(special_category_name(p.category))) +
           " | " +
           (p.suspended            ? "suspended by the operator: nothing is sent"
            : p.granted_by_default ? "on; the household can turn it off"
                                   : "off: nothing is sent until the household allows it") +
           " | " + duration(p.retention_seconds) + " |\n";
  }
  for (const auto& p : purposes) {
    out += "\n### " + md_text(p.title) + " (" + md_code(p.id) + ")\n\n";
    if (!p.description.empty()) out += md_text(p.description) + "\n\n";
    switch (p.basis) {
      case legal_basis::consent:
        out +=
            "- Legal basis: consent. Nothing is sent until the household agrees, and it can "
            "withdraw at any time.\n";
        break;
      case legal_basis::contract:
        out +=
            "- Legal basis: contract. Needed for the service the household signed up for; the "
            "household can still refuse it.\n";
        break;
      case legal_basis::legitimate_interest:
        out += "- Legal basis: legitimate interest. Sent unless the household objects.\n";
        break;
      case legal_basis::legal_obligation:
        out +=
            "- Legal basis: legal obligation. Required by law; the household can still refuse it "
            "at the gateway.\n";
        break;
    }
    if (p.category != special_category::none) {
      out += "- Special category: " + std::string(special_category_name(p.category)) +
             ". Sensitive data: off until the household explicitly allows it, whatever the legal "
             "basis.\n";
    }
    if (p.suspended) out += "- Suspended by the operator: nothing is sent.\n";
    if (p.epsilon_per_day > 0) {
      out += "- Privacy budget: the noisy figures of one device spend at most ε " +
             number(p.epsilon_per_day) +
             " a day (UTC days); once it is spent, nothing more of that device is sent for this "
             "purpose until "
             "the next day.\n";
    }
    out += "- A release waits at most " + duration(p.retention_seconds) +
           " to be sent (for example while the internet is down); then it is deleted.\n";
    out +=
        "- Sent to the topic " + md_code(p.topic.text()) + "; device names in it are pseudonyms.\n";
  }

  out +=
      "\n## How values are made less precise\n\n"
      "- **rounded to 10 W**: the nearest multiple of 10 W leaves, not the exact reading.\n"
      "- **only its range**: the value is replaced by the name of the range it falls in.\n"
      "- **cut to the minute** (hour, day): a time leaves as the start of its minute (hour, day).\n"
      "- **as a pseudonym**: a code computed from the value with a key only this gateway holds. "
      "The same value gives the same code, so a service can tell two devices apart, but the code "
      "cannot be turned back into the value, and each purpose gets different codes.\n"
      "- **together with `lon`, only as the centre of its 5 km grid cell**: a position leaves as "
      "the "
      "centre of the square of that size it lies in, never the exact place.\n"
      "- **as sent, if text of at most 16 characters**: the value leaves unchanged only if it is "
      "of that type and that short; anything else stays home.\n"
      "- **its first 8 characters**: longer text is cut.\n";
  bool windows = false, noisy = false;
  for (const auto& c : policy.classes()) {
    for (const auto& f : c->fields) {
      for (const auto& a : f.actions) {
        windows = windows || a.kind == action_kind::aggregate;
        noisy = noisy || (a.kind == action_kind::aggregate && a.window.noisy);
      }
    }
  }
  if (windows) {
    out +=
        "- **averaged per quarter hour** (summed, how much it rose, only its last reading; per "
        "hour, per day): the readings are not sent one by one. Those of each quarter hour (hour, "
        "day; counted from midnight UTC) leave together as one figure once it is over, at a random "
        "moment soon after (by default within a tenth of the window, at most 5 minutes), with the "
        "window's start and length and never the readings' times.\n";
  }
  if (noisy) {
    out +=
        "- **with random noise added (differential privacy, ε 0.25 a window)**: before the figure "
        "leaves, a random number is added to it, so that no single reading can be told from it. "
        "Smaller ε means more noise. Each figure spends its ε from the purpose's daily privacy "
        "budget; the [average error](#what-the-noise-costs) says how far a figure is off.\n";
  }
  out += "- **—**: the purpose does not receive the field.\n";

  // Ecosystems, sorted, "Other" last.
  std::vector<std::string> ecosystems;
  bool other = false;
  const auto note = [&](const std::string& e) {
    if (e.empty()) {
      other = true;
    } else if (std::find(ecosystems.begin(), ecosystems.end(), e) == ecosystems.end()) {
      ecosystems.push_back(e);
    }
  };
  for (const auto& c : policy.classes()) note(c->ecosystem);
  for (const auto& i : policy.ignores()) note(i.ecosystem);
  std::sort(ecosystems.begin(), ecosystems.end());
  if (other) ecosystems.emplace_back(kOther);
  const auto of = [](const std::string& ecosystem, const std::string& wanted) {
    return ecosystem == wanted || (ecosystem.empty() && wanted == kOther);
  };

  out += "\n## Ecosystems\n\n";
  for (const auto& e : ecosystems) {
    std::size_t classes = 0, ignores = 0;
    for (const auto& c : policy.classes()) classes += of(c->ecosystem, e) ? 1 : 0;
    for (const auto& i : policy.ignores()) ignores += of(i.ecosystem, e) ? 1 : 0;
    out += "- [" + md_text(e) + "](#" + md_anchor(md_text(e)) + "): " + std::to_string(classes) +
           (classes == 1 ? " device class" : " device classes");
    if (ignores > 0)
      out += ", " + std::to_string(ignores) + (ignores == 1 ? " group" : " groups") +
             " of topics that stay home";
    out += "\n";
  }

  for (const auto& e : ecosystems) {
    out += "\n## " + md_text(e) + "\n";
    for (const auto& c : policy.classes()) {
      if (!of(c->ecosystem, e)) continue;
      out += "\n### " + md_text(c->title) + " (" + md_code(c->id) + ")\n\n";
      std::string topics;
      for (const auto& t : c->topics) topics += (topics.empty() ? "" : ", ") + md_code(t.text());
      out += "- Topics: " + topics + "\n";
      if (c->when && c->when->announced) {
        out += "- Only topics a discovery message announced" + announced_text(*c->when) +
               "; a topic never announced, or announced otherwise, stays home.\n";
      } else if (c->when) {
        out += "- Only messages whose " + md_code(field_path_text(c->when->steps)) + " is " +
               md_code(c->when->equals) + ".\n";
      }
      if (c->announces) {
        out +=
            "- Each message also tells the gateway what a state topic carries (device class, "
            "unit), "
            "which decides how that topic's messages leave; telling it sends nothing.\n";
      }
      if (c->format == compiled_class::payload_format::raw) {
        out += "- The payload is a bare value, not JSON: its only field is `$`.\n";
      }
      out += "- Device: " + md_code(c->device_id.text()) + "; it leaves only as a pseudonym.\n\n";
      out += "| Field | Path |";
      for (const auto& p : purposes) out += " " + md_code(p.id) + " |";
      out += " Why |\n|---|---|";
      for (std::size_t p = 0; p < purposes.size(); ++p) out += "---|";
      out += "---|\n";
      for (std::size_t f = 0; f < c->fields.size(); ++f) {
        const compiled_field& field = c->fields[f];
        if (field.synthetic) continue;  // a longitude: its latitude's row says where it goes
        out += "| " + field_name(field) + " | " + md_code(field.path) + " |";
        for (std::size_t p = 0; p < purposes.size(); ++p) {
          const std::string form = explain_form(*c, f, p);
          out += " " + (form.empty() ? std::string("—") : form) + " |";
        }
        out += " " +
               (field.why.empty()
                    ? std::string(leaves(field) ? "—" : "listed only to say it stays home")
                    : md_text(field.why)) +
               " |\n";
      }
      out += "\nAny other field of these messages stays home.\n";
    }
    std::string ignored;
    for (const auto& i : policy.ignores()) {
      if (!of(i.ecosystem, e)) continue;
      std::string topics;
      for (const auto& t : i.topics) topics += (topics.empty() ? "" : ", ") + md_code(t.text());
      ignored += "| " + topics + " | " + md_text(i.why) + " |\n";
    }
    if (!ignored.empty()) {
      out += "\n### " + md_text(e) + " topics that stay home\n\n";
      out += "These topics are known and never leave, whatever the household chooses.\n\n";
      out += "| Topics | Why |\n|---|---|\n" + ignored;
    }
  }

  if (noisy) out += noise_costs(policy);

  out +=
      "\n## Everything else stays home\n\n"
      "- A topic that no device class above matches never leaves, and neither does a topic listed "
      "as "
      "staying home.\n"
      "- Of a matched message, only the fields in its class's table leave, only to the purposes "
      "marked, "
      "in the form shown. Every other field stays home.\n"
      "- A value that does not fit its rule (text where a number is expected, text longer than "
      "allowed, a time before 2000 or after 2100) stays home; it is never sent as it was.\n"
      "- A message that is not valid JSON or UTF-8, is too large, or names a field twice, stays "
      "home "
      "whole.\n"
      "- The household can refuse any purpose or pause everything; the operator can suspend a "
      "purpose. Then nothing more is sent for it.\n";
  return out;
}

}  // namespace portier::policies
