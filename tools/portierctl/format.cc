#include "tools/portierctl/format.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <sstream>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "platform/utf8.h"

namespace portier::tools::ctl {

namespace {

using control::PurposeInfo;
using policy::Purpose;

using platform::utf8_sequence;

std::string hex_escape(const char* prefix, unsigned v, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%s%0*x", prefix, digits, v);
  return buf;
}

// Terminal columns taken by `s` (one per code point: good enough for the scripts households use).
std::size_t width(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xc0) != 0x80; }));
}

std::string pad(const std::string& s, std::size_t w) {
  return s + std::string(w > width(s) ? w - width(s) : 0, ' ');
}
std::string pad_left(const std::string& s, std::size_t w) {
  return std::string(w > width(s) ? w - width(s) : 0, ' ') + s;
}

std::string plural(std::uint64_t n, const std::string& one, const std::string& many) {
  return group_digits(n) + " " + (n == 1 ? one : many);
}

std::string quoted(const std::string& s) {
  return "\"" + safe_text(s) + "\"";
}

// "Analytics (analytics)", or just the id when there is no title.
std::string named(const std::string& title, const std::string& id) {
  if (title.empty() || title == id) return safe_text(id);
  return safe_text(title) + " (" + safe_text(id) + ")";
}

// A class or purpose by its title alone ("Zigbee sensor"), or its id when it has none.
std::string titled(const std::string& title, const std::string& id) {
  return safe_text(title.empty() ? id : title);
}

std::string join(const google::protobuf::RepeatedPtrField<std::string>& parts,
                 const std::string& sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + safe_text(p);
  return out;
}

std::string scope_phrase(consent::Scope scope, const std::string& value, const std::string& title) {
  switch (scope) {
    case consent::SCOPE_HOUSEHOLD:
      return "the whole home";
    case consent::SCOPE_DEVICE_CLASS:
      return "the class " + named(title, value);
    case consent::SCOPE_DEVICE:
      return "device " + quoted(value);
    default:
      return "an unknown scope";
  }
}

std::string receipt_line(const consent::ConsentReceipt& r) {
  if (r.id().empty()) return "";
  std::string line = "Receipt " + safe_text(r.id()) + ", " + format_time(r.time_ms());
  if (!r.policy_name().empty()) {
    line +=
        ", policy " + safe_text(r.policy_name()) + " version " + std::to_string(r.policy_version());
  }
  return line + ".\n";
}

// The legal basis in words and what it means for the default. A special category always needs
// an explicit grant, whatever the basis; the caller says so on a line of its own.
std::string legal_basis_text(Purpose::LegalBasis b, bool special) {
  const std::string runs = special ? "." : "; it runs unless you refuse it.";
  switch (b) {
    case Purpose::CONSENT:
      return "your consent; it receives nothing unless you grant it.";
    case Purpose::CONTRACT:
      return "your contract with the operator" + runs;
    case Purpose::LEGITIMATE_INTEREST:
      return "the operator's legitimate interest" + runs;
    case Purpose::LEGAL_OBLIGATION:
      return "a legal obligation of the operator" + runs;
    default:
      return "not stated.";
  }
}

std::string special_text(Purpose::SpecialCategory c) {
  switch (c) {
    case Purpose::HEALTH:
      return "health data";
    case Purpose::LOCATION:
      return "where people are";
    case Purpose::BIOMETRIC:
      return "biometric data";
    default:
      return "";
  }
}

// Why one purpose received nothing of a message, in words ("you have not granted it").
std::string nothing_reason(const std::string& reason) {
  if (reason == "consent_refused") return "you have not granted it";
  if (reason == "purpose_suspended") return "the operator has suspended it";
  if (reason == "nothing_permitted") return "this message has nothing it may receive";
  if (reason == "paused") return "sharing is paused";
  if (reason == "no_purpose_granted") return "you have not granted it";
  if (reason.empty()) return "no reason given";
  return drop_reason_text(reason);
}

}  // namespace

std::string safe_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  while (!s.empty()) {
    char32_t cp = 0;
    const std::size_t n = utf8_sequence(s, cp);
    if (n == 0) {
      out += hex_escape("\\x", static_cast<unsigned char>(s[0]), 2);
      s.remove_prefix(1);
      continue;
    }
    if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp < 0x20 || cp == 0x7f) {
      out += hex_escape("\\x", static_cast<unsigned>(cp), 2);
    } else if ((cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
               (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e || cp == 0x200f) {
      out += hex_escape("\\u", static_cast<unsigned>(cp), 4);
    } else {
      out.append(s.substr(0, n));
    }
    s.remove_prefix(n);
  }
  return out;
}

std::string group_digits(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string human_bytes(std::uint64_t n) {
  if (n < 1000) return std::to_string(n) + " B";
  const char* units[] = {"kB", "MB", "GB", "TB", "PB", "EB"};
  double v = static_cast<double>(n);
  int u = -1;
  while (v >= 999.95 && u < 5) {
    v /= 1000.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string format_epsilon(double epsilon) {
  if (!(epsilon >= 0) || epsilon > 1e9) return "?";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", epsilon);
  std::string s = buf;
  while (s.size() > 1 && s.back() == '0' && s[s.size() - 2] != '.') s.pop_back();
  return s;
}

std::string format_time(std::int64_t ms, bool seconds) {
  if (ms <= 0) return "never";
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (::localtime_r(&t, &tm) == nullptr) return "at an unknown time";
  char buf[32];
  std::strftime(buf, sizeof buf, seconds ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M", &tm);
  return buf;
}

std::string format_ago(std::int64_t then_ms, std::int64_t now_ms) {
  if (then_ms <= 0) return "never";
  const std::int64_t s = (now_ms - then_ms) / 1000;
  if (s < 60) return "just now";
  if (s < 3600) return plural(static_cast<std::uint64_t>(s / 60), "minute", "minutes") + " ago";
  if (s < 86400) return plural(static_cast<std::uint64_t>(s / 3600), "hour", "hours") + " ago";
  return plural(static_cast<std::uint64_t>(s / 86400), "day", "days") + " ago";
}

std::string format_span(std::uint64_t seconds) {
  const std::uint64_t d = seconds / 86400, h = seconds % 86400 / 3600, m = seconds % 3600 / 60;
  if (d > 0) return plural(d, "day", "days") + (h > 0 ? " " + plural(h, "hour", "hours") : "");
  if (h > 0)
    return plural(h, "hour", "hours") + (m > 0 ? " " + plural(m, "minute", "minutes") : "");
  if (m > 0) return plural(m, "minute", "minutes");
  return "less than a minute";
}

std::optional<std::int64_t> parse_duration_ms(std::string_view text) {
  if (text.size() < 2 || text.size() > 8) return std::nullopt;
  std::int64_t unit;
  switch (text.back()) {
    case 'm':
      unit = 60'000;
      break;
    case 'h':
      unit = 3'600'000;
      break;
    case 'd':
      unit = 86'400'000;
      break;
    case 'w':
      unit = 7 * 86'400'000LL;
      break;
    default:
      return std::nullopt;
  }
  std::int64_t n = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  const std::int64_t ms = n * unit;
  if (n == 0 || ms > 36'500 * 86'400'000LL) return std::nullopt;
  return ms;
}

std::string drop_reason_text(std::string_view reason) {
  static const std::map<std::string_view, std::string_view> words = {
      {"paused", "while sharing was paused"},
      {"invalid_topic", "unusable topic"},
      {"unmatched_topic", "from devices the policy does not cover"},
      {"too_large", "too large"},
      {"too_deep", "too deeply nested"},
      {"invalid_json", "not valid JSON"},
      {"invalid_utf8", "not valid text"},
      {"duplicate_key", "ambiguous (a field given twice)"},
      {"no_purpose_granted", "no purpose granted for the device"},
      {"consent_refused", "not granted by you"},
      {"purpose_suspended", "purpose suspended by the operator"},
      {"nothing_permitted", "nothing the purpose may receive"},
      {"unlisted_field", "fields the policy does not list"},
      {"policy_drop", "fields the policy keeps at home"},
      {"type_mismatch", "values of an unexpected type"},
      {"incomplete_location", "incomplete locations"},
      {"implausible_time", "times that cannot be right"},
      {"device_churn", "from too many new devices at once"},
      {"ignored_topic", "known messages that always stay home (commands, internals)"},
      {"unannounced_topic", "from sensors that have not said what they measure"},
      {"unknown_announcement", "from sensors that measure something the policy does not cover"},
      {"window_sparse", "periods with too few readings to be summed up"},
      {"budget_exhausted", "periods not sent: the day's privacy budget was spent"},
      {"window_limit", "readings beyond what the gateway summarises at once"},
  };
  const auto it = words.find(reason);
  return it != words.end() ? std::string(it->second) : safe_text(reason);
}

std::string format_status(const control::StatusResult& r) {
  std::ostringstream o;
  o << "portierd " << safe_text(r.version()) << " on gateway " << safe_text(r.gateway_id())
    << ", running for " << format_span(r.uptime_seconds()) << ".\n";
  o << "Policy:          "
    << (r.policy_name().empty()
            ? std::string("none loaded")
            : safe_text(r.policy_name()) + " version " + std::to_string(r.policy_version()))
    << "\n";
  o << "Sharing:         "
    << (r.paused() ? "PAUSED: nothing leaves the home until you run `portierctl resume`"
                   : "on: purposes receive what you allow")
    << "\n";
  o << "Home broker:     "
    << (r.local_connected() ? "connected" : "NOT connected: devices' messages are not read")
    << "\n";
  o << "Operator cloud:  "
    << (r.upstream_connected() ? "connected"
                               : "NOT connected: what may leave waits at home until it is back")
    << "\n";
  o << "LAN page:        "
    << (r.web_urls_size() > 0
            ? join(r.web_urls(), ", ") + " (certificate " + safe_text(r.web_fingerprint_sha256()) +
                  ")"
            : std::string("not announced (portier-web is not running, or not yet)"))
    << "\n";
  const auto& c = r.counters();
  const auto get = [&](const char* k) { return c.count(k) ? c.at(k) : 0; };
  if (c.count("received") || c.count("released") || c.count("dropped")) {
    o << "Messages:        " << group_digits(get("received")) << " received, "
      << group_digits(get("released")) << " released, " << group_digits(get("dropped"))
      << " dropped\n";
  }
  if (get("unmatched_shapes") > 0) {
    o << "Not covered:     " << plural(get("unmatched_shapes"), "kind", "kinds")
      << " of message no device class takes (`portierctl unmatched` shows them)\n";
  }
  if (!c.empty()) {
    std::vector<std::pair<std::string, std::uint64_t>> sorted(c.begin(), c.end());
    std::sort(sorted.begin(), sorted.end());
    std::size_t name_w = 0, value_w = 0;
    for (const auto& [k, v] : sorted) {
      name_w = std::max(name_w, width(safe_text(k)));
      value_w = std::max(value_w, group_digits(v).size());
    }
    o << "\nCounters since start:\n";
    for (const auto& [k, v] : sorted)
      o << "  " << pad(safe_text(k), name_w) << "  " << pad_left(group_digits(v), value_w) << "\n";
  }
  return o.str();
}

std::string format_devices(const control::DevicesResult& r, std::int64_t now_ms) {
  std::ostringstream o;
  if (r.device_size() == 0) {
    o << "No device seen yet. Devices appear here once they publish on the home broker.\n";
    return o.str();
  }
  if (r.paused())
    o << "Sharing is paused: nothing leaves the home until you run `portierctl resume`.\n\n";
  bool first = true;
  for (const auto& d : r.device()) {
    if (!first) o << "\n";
    first = false;
    o << safe_text(d.device_id()) << "\n";
    o << "  Kind:       " << named(d.class_title(), d.class_id()) << "\n";
    o << "  Last seen:  " << format_ago(d.last_seen_ms(), now_ms);
    if (d.last_seen_ms() > 0) o << " (" << format_time(d.last_seen_ms()) << ")";
    if (d.messages() > 0)
      o << ", " << plural(d.messages(), "message", "messages") << " since portierd started";
    o << "\n";
    if (d.purpose_size() == 0) o << "  No purpose receives anything from this kind of device.\n";
    for (const auto& p : d.purpose()) {
      o << "  " << named(p.title(), p.purpose_id()) << ": ";
      if (p.suspended()) {
        o << "suspended by the operator; receives nothing\n";
        continue;
      }
      std::string where;
      switch (p.decided_at()) {
        case consent::SCOPE_HOUSEHOLD:
          where = " for the whole home";
          break;
        case consent::SCOPE_DEVICE_CLASS:
          where = " for this kind of device";
          break;
        case consent::SCOPE_DEVICE:
          where = " for this device";
          break;
        default:
          where = p.granted() ? " by default" : "";
          break;
      }
      if (p.granted()) {
        o << "granted" << where;
        if (p.receives_size() > 0) {
          o << "; receives\n";
          for (const auto& phrase : p.receives()) o << "      - " << safe_text(phrase) << "\n";
        } else {
          o << ", but receives nothing from this device\n";
        }
      } else {
        o << (p.decided_at() == consent::SCOPE_UNSPECIFIED ? "not granted" : "refused" + where)
          << "; receives nothing\n";
      }
    }
  }
  return o.str();
}

// Who made a recorded decision, and when: the method of its receipt says who.
std::string decided_by(const control::ScopedDecision& d) {
  const std::string when = format_time(d.decided_at_ms());
  if (d.method() == "config") return "by the configuration preset, " + when;
  if (d.method() == "policy-update") {
    return "kept so by Portier on " + when + ": the update to policy " + quoted(d.policy_name()) +
           " version " + std::to_string(d.policy_version()) +
           " would have let it run without your decision";
  }
  if (d.method().empty()) return "decided " + when;  // its receipt is no longer kept
  return "your decision of " + when;
}

std::string format_purposes(const control::PurposesResult& r) {
  std::ostringstream o;
  if (r.purpose_size() == 0) {
    o << "The running policy defines no purpose: nothing leaves the home.\n";
    return o.str();
  }
  if (r.paused())
    o << "Sharing is paused: no purpose receives anything until you run `portierctl resume`.\n\n";
  bool first = true;
  for (const PurposeInfo& p : r.purpose()) {
    if (!first) o << "\n";
    first = false;
    o << named(p.title(), p.id()) << "\n";
    if (!p.description().empty()) o << "  " << safe_text(p.description()) << "\n";
    const std::string special = special_text(p.special_category());
    o << "  Legal basis: " << legal_basis_text(p.legal_basis(), !special.empty()) << "\n";
    if (!special.empty())
      o << "  Sensitive (" << special << "): it receives nothing unless you grant it.\n";
    if (p.suspended())
      o << "  Suspended by the operator: it receives nothing for now, whatever you decide.\n";

    const control::ScopedDecision* household = nullptr;
    for (const auto& d : p.decision()) {
      if (d.scope() == consent::SCOPE_HOUSEHOLD) household = &d;
    }
    const std::string id = safe_text(p.id());
    if (household != nullptr) {
      o << "  " << (household->granted() ? "Granted" : "Refused") << " for the whole home ("
        << decided_by(*household) << ").\n";
    } else if (p.household_granted()) {
      o << "  Granted for the whole home by default; `portierctl refuse " << id << "` stops it.\n";
    } else {
      o << "  Not granted for the whole home; `portierctl grant " << id << "` allows it.\n";
    }
    for (const auto& d : p.decision()) {
      if (d.scope() == consent::SCOPE_HOUSEHOLD) continue;
      o << "  " << (d.granted() ? "Granted" : "Refused") << " for "
        << scope_phrase(d.scope(), d.value(), d.title()) << " (" << decided_by(d) << ").\n";
    }
    if (p.retention_seconds() > 0) {
      o << "  What it may receive waits at most " << format_span(p.retention_seconds())
        << " to be sent, then is deleted.\n";
    }
    if (p.epsilon_per_day() > 0) {
      o << "  Privacy budget: ε " << format_epsilon(p.epsilon_spent_today()) << " of "
        << format_epsilon(p.epsilon_per_day()) << " spent today (the most of any device), "
        << format_epsilon(p.epsilon_spent_total()) << " in all.\n";
      if (p.epsilon_raised_at_ms() > 0) {
        o << "  The operator raised this budget from " << format_epsilon(p.epsilon_raised_from())
          << " to " << format_epsilon(p.epsilon_per_day()) << " a day on "
          << format_time(p.epsilon_raised_at_ms()) << " (policy "
          << quoted(p.epsilon_raised_by_policy()) << " version " << p.epsilon_raised_by_version()
          << "): more is told about each device.\n";
      }
    }
  }
  return o.str();
}

std::string format_set_consent(const control::SetConsentResult& r) {
  const auto& c = r.receipt();
  const std::string purpose = named(c.purpose_title(), c.purpose());
  const std::string where = scope_phrase(c.scope(), c.scope_value(), "");
  std::ostringstream o;
  switch (c.decision()) {
    case consent::RECEIPT_GRANTED:
      o << "Granted " << purpose << " for " << where << ".\n";
      break;
    case consent::RECEIPT_REFUSED:
      o << "Refused " << purpose << " for " << where
        << ": it receives nothing from there from now on";
      if (r.spool_records_purged() > 0) {
        o << ", and " << plural(r.spool_records_purged(), "message", "messages")
          << " waiting to be sent to it " << (r.spool_records_purged() == 1 ? "was" : "were")
          << " destroyed";
      }
      if (r.windows_purged() > 0) {
        o << (r.spool_records_purged() > 0 ? "; " : ", and ")
          << plural(r.windows_purged(), "period of readings", "periods of readings")
          << " gathered for it " << (r.windows_purged() == 1 ? "was" : "were") << " destroyed";
      }
      o << ".\n";
      break;
    case consent::RECEIPT_CLEARED:
      o << "Cleared your decision on " << purpose << " for " << where
        << ": a wider decision, or the purpose's default, applies again";
      if (r.spool_records_purged() > 0) {
        o << "; "
          << plural(r.spool_records_purged(), "waiting message was", "waiting messages were")
          << " destroyed";
      }
      o << ".\n";
      break;
    default:
      o << "Recorded your decision on " << purpose << ".\n";
  }
  o << receipt_line(c);
  return o.str();
}

std::string format_pause(const control::PauseResult& r) {
  std::ostringstream o;
  if (r.paused()) {
    o << (r.changed() ? "Paused" : "Already paused")
      << ": nothing leaves the home until you run `portierctl resume`.\n";
  } else if (r.changed()) {
    o << "Resumed: purposes receive data again as you decided (`portierctl purposes` shows your "
         "decisions).\n";
  } else {
    o << "Not paused: purposes already receive data as you decided.\n";
  }
  if (r.has_receipt()) o << receipt_line(r.receipt());
  return o.str();
}

std::string format_report(const control::ReportResult& r) {
  std::ostringstream o;
  o << "What left the home "
    << (r.since_ms() > 0 ? "from " + format_time(r.since_ms()) + " to " + format_time(r.until_ms())
                         : "up to " + format_time(r.until_ms()))
    << "\n";
  if (r.ledger_starts_ms() > 0 && r.ledger_starts_ms() > r.since_ms() && r.since_ms() > 0) {
    o << "(The record only goes back to " << format_time(r.ledger_starts_ms())
      << ": it starts then, or older entries made room for newer ones.)\n";
  }
  if (r.row_size() == 0) {
    o << "\nNothing left the home in this period.\n";
  } else {
    // One table per device: purpose, messages, bytes, fields (last, as it is the longest).
    std::size_t title_w = std::string("Purpose").size(), count_w = std::string("Messages").size(),
                bytes_w = 5;
    for (const auto& row : r.row()) {
      title_w = std::max(title_w, width(titled(row.title(), row.purpose_id())));
      count_w = std::max(count_w, group_digits(row.messages()).size());
      bytes_w = std::max(bytes_w, human_bytes(row.bytes()).size());
    }
    std::string current;
    bool any = false;
    for (const auto& row : r.row()) {
      const std::string device =
          row.device_forgotten() ? std::string("A device forgotten to make room for others")
          : row.device_erased() || row.device_id().empty() ? std::string("An erased device")
                                                           : safe_text(row.device_id());
      const std::string heading = device + " - " + titled(row.class_title(), row.class_id());
      if (!any || heading != current) {
        o << "\n" << heading << "\n";
        o << "  " << pad("Purpose", title_w) << "  " << pad_left("Messages", count_w) << "  "
          << pad_left("Bytes", bytes_w) << "  Fields\n";
        current = heading;
        any = true;
      }
      o << "  " << pad(titled(row.title(), row.purpose_id()), title_w) << "  "
        << pad_left(group_digits(row.messages()), count_w) << "  "
        << pad_left(human_bytes(row.bytes()), bytes_w) << "  "
        << (row.fields_size() > 0 ? join(row.fields(), ", ") : "-") << "\n";
    }
    o << "\nIn total " << plural(r.total_messages(), "message", "messages") << ", "
      << human_bytes(r.total_bytes()) << ".\n";
  }
  if (r.total_dropped() > 0 && r.dropped_size() > 0) {
    std::size_t count_w = 0;
    for (const auto& d : r.dropped()) count_w = std::max(count_w, group_digits(d.count()).size());
    o << "\nKept at home, by reason:\n";
    for (const auto& d : r.dropped()) {
      o << "  " << pad_left(group_digits(d.count()), count_w) << "  "
        << drop_reason_text(d.reason()) << " (" << safe_text(d.reason()) << ")\n";
    }
  }
  return o.str();
}

std::string format_explain(const control::ExplainResult& r) {
  std::ostringstream o;
  o << safe_text(r.device_id()) << " - " << titled(r.class_title(), r.class_id())
    << ", latest message, received " << format_time(r.received_ms(), true) << "\n\n";
  o << "The device sent:\n  " << safe_text(r.topic()) << "\n  ";
  if (r.payload_binary()) {
    o << "(" << plural(r.payload_bytes(), "byte", "bytes") << " that are not text)\n";
  } else {
    o << safe_text(r.payload()) << "\n";
  }
  if (!r.dropped_reason().empty()) {
    o << "\nNothing of it left the home: " << nothing_reason(r.dropped_reason()) << ".\n";
  } else {
    for (const auto& p : r.purpose()) {
      const std::string who = titled(p.title(), p.purpose_id());
      if (p.released()) {
        o << "\n"
          << who << " received:\n  " << safe_text(p.topic()) << "\n  " << safe_text(p.payload())
          << "\n";
      } else {
        o << "\n" << who << " received nothing: " << nothing_reason(p.reason()) << ".\n";
      }
    }
    if (r.purpose_size() == 0) o << "\nNo purpose receives anything from this kind of device.\n";
  }
  o << "\nWorked out with the running policy";
  if (!r.policy_name().empty()) {
    o << " (" << safe_text(r.policy_name()) << " version " << r.policy_version() << ")";
  }
  o << " and your current decisions.\n";
  return o.str();
}

std::string format_export(const control::ExportResult& r, const std::string& file) {
  return "Wrote " + plural(r.ledger_entries(), "ledger entry", "ledger entries") + " and " +
         plural(r.receipts(), "consent receipt", "consent receipts") + " to " + safe_text(file) +
         ".\n";
}

std::string format_erase(const control::EraseResult& r) {
  std::ostringstream o;
  o << "Erased device " << quoted(r.device_id()) << ":\n";
  o << "  " << plural(r.spool_records_purged(), "message", "messages") << " waiting to be sent "
    << (r.spool_records_purged() == 1 ? "was" : "were") << " destroyed.\n";
  if (r.windows_purged() > 0) {
    o << "  " << plural(r.windows_purged(), "period of readings", "periods of readings")
      << " gathered to be summed up " << (r.windows_purged() == 1 ? "was" : "were")
      << " destroyed.\n";
  }
  o << "  " << plural(r.ledger_entries_erased(), "ledger entry", "ledger entries")
    << " no longer say which device " << (r.ledger_entries_erased() == 1 ? "it was" : "they were")
    << " about.\n";
  std::string shapes;
  if (r.unmatched_shapes_cleared() > 0) {
    shapes = "  " + plural(r.unmatched_shapes_cleared(), "shape", "shapes") +
             " of messages no device class takes " +
             (r.unmatched_shapes_cleared() == 1 ? "was" : "were") +
             " forgotten too (which of them came from the device cannot be told).\n";
  }
  if (r.pseudonyms_size() == 0) {
    o << "  Nothing about it had been sent to the operator, so no erasure request was needed.\n";
    return o.str() + shapes;
  }
  std::string names;
  for (const auto& p : r.pseudonyms()) {
    names += (names.empty() ? "" : ", ") + safe_text(p.purpose()) + " " + safe_text(p.pseudonym());
  }
  o << "  The operator was asked to erase it too (" << names << ") on "
    << safe_text(r.erasure_topic()) << ": ";
  o << (r.upstream_acknowledged()
            ? "the request was delivered.\n"
            : "the request waits at home and is sent when the connection is back.\n");
  return o.str() + shapes;
}

std::string format_verify_ledger(const control::VerifyLedgerResult& r) {
  std::ostringstream o;
  if (r.ok()) {
    o << "The ledger is intact: " << plural(r.entries_checked(), "entry", "entries") << " checked";
    if (r.first_seq() > 1)
      o << ", from entry " << r.first_seq() << " (older ones were rotated out)";
    o << ".\n";
    if (!r.head_hash().empty()) o << "Last entry's hash: " << safe_text(r.head_hash()) << "\n";
  } else {
    o << "The ledger is DAMAGED at entry " << r.first_bad_seq();
    if (!r.problem().empty()) o << " (" << safe_text(r.problem()) << ")";
    if (!r.reason().empty()) o << ": " << safe_text(r.reason());
    o << ". Keep a copy with `portierctl export FILE` and tell your operator.\n";
    o << plural(r.entries_checked(), "entry", "entries") << " before it verified.\n";
  }
  if (r.receipts_ok()) {
    o << "Your consent receipts are intact: " << plural(r.receipts_checked(), "receipt", "receipts")
      << " checked.\n";
  } else {
    o << "Your consent receipts are DAMAGED at receipt " << safe_text(r.receipts_bad_id());
    if (!r.receipts_reason().empty()) o << ": " << safe_text(r.receipts_reason());
    o << ".\n";
  }
  return o.str();
}

std::string format_unmatched(const control::UnmatchedResult& r, bool cleared) {
  std::ostringstream o;
  if (cleared) {
    o << "Forgot " << plural(r.cleared(), "shape", "shapes")
      << " of messages no device class takes.\n";
    return o.str();
  }
  if (r.shape_size() == 0) {
    o << "No message without a device class seen. (portierd reads the topics of its policy's "
         "classes, and those its configuration names in unmatched.observe.)\n";
    return o.str();
  }
  o << plural(static_cast<std::uint64_t>(r.shape_size()), "kind", "kinds")
    << " of message no device class takes. Shapes only: a topic level or key that may name "
       "someone shows as + or *, and no value is kept.\n";
  for (const auto& s : r.shape()) {
    o << "\n" << safe_text(s.topic()) << "\n";
    o << "  " << plural(s.messages(), "message", "messages") << ", first "
      << format_time(s.first_seen_ms()) << ", last " << format_time(s.last_seen_ms()) << "\n";
    std::string formats;
    for (const auto& f : s.formats()) formats += (formats.empty() ? "" : ", ") + safe_text(f);
    o << "  Payload: " << (formats.empty() ? std::string("unknown") : formats) << "\n";
    std::size_t path_w = 0;
    for (const auto& p : s.path()) path_w = std::max(path_w, width(safe_text(p.path())));
    for (const auto& p : s.path()) {
      std::string types;
      for (const auto& t : p.types()) types += (types.empty() ? "" : " or ") + safe_text(t);
      o << "    " << pad(safe_text(p.path()), path_w) << "  " << types << "\n";
    }
    if (s.paths_truncated()) o << "    (more paths than a shape keeps)\n";
  }
  o << "\nAt most " << group_digits(r.max_shapes()) << " shapes are kept; "
    << group_digits(r.evicted()) << " forgotten to make room since portierd started.\n"
    << "Draft a device class for them: portierctl unmatched --json > shapes.json; "
       "portier-policy suggest shapes.json\n";
  return o.str();
}

std::string to_json(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(m, &out, options).ok()) return "{}\n";
  if (out.empty() || out.back() != '\n') out += '\n';
  return out;
}

std::string format_pair(const control::PairResult& r) {
  std::ostringstream o;
  o << "Pairing code: " << safe_text(r.code()) << "\n";
  o << "It works once, until " << format_time(r.expires_at_ms()) << " (10 minutes).\n";
  if (r.web_urls_size() == 0) {
    o << "The LAN page has not announced itself: portier-web is not running, or has not started "
         "yet. Start it (systemctl start portier-web) and run `portierctl pair` again.\n";
    return o.str();
  }
  o << "Open " << safe_text(r.web_urls(0))
    << " and check the certificate fingerprint (SHA-256) your browser shows:\n";
  o << "  " << safe_text(r.web_fingerprint_sha256()) << "\n";
  if (r.web_urls_size() > 1) {
    std::string others;
    for (int i = 1; i < r.web_urls_size(); ++i)
      others += (others.empty() ? "" : ", ") + safe_text(r.web_urls(i));
    o << "The page also answers at " << others << ".\n";
  }
  o << "Then type the code on the page. Never type it anywhere else.\n";
  return o.str();
}

std::string format_updates(const control::PolicyHistoryResult& r) {
  std::ostringstream o;
  if (r.update_size() == 0) {
    o << "No policy update recorded: the ledger holds none (or no longer holds them).\n";
    return o.str();
  }
  bool first = true;
  for (const auto& u : r.update()) {
    if (!first) o << "\n";
    first = false;
    // A refused bundle or file may have no readable name: "A policy, version 8".
    const std::string version = std::to_string(u.version());
    const std::string name = u.name().empty()
                                 ? (u.version() > 0 ? "A policy, version " + version : "A policy")
                                 : safe_text(u.name()) + " version " + version;
    o << format_time(u.time_ms()) << "  " << name << " (" << safe_text(u.source()) << ")";
    if (!u.applied()) {
      o << ": REFUSED ("
        << safe_text(u.reason_code().empty() ? std::string("no reason given") : u.reason_code())
        << "), the running policy stayed\n";
      continue;
    }
    if (u.widens()) {
      o << ": applied. WIDENS what leaves your home\n";
    } else {
      o << (u.change_size() > 0 ? ": applied; nothing more leaves your home\n"
                                : ": applied; no change in what leaves your home\n");
    }
    for (const auto& c : u.change()) {
      o << "  " << (c.widens() ? "MORE  " : "      ") << titled(c.purpose_title(), c.purpose_id())
        << " from " << titled(c.class_title(), c.class_id()) << ":\n";
      o << "          before: " << (c.before_size() > 0 ? join(c.before(), "; ") : "nothing")
        << "\n";
      o << "          now:    " << (c.after_size() > 0 ? join(c.after(), "; ") : "nothing") << "\n";
    }
  }
  return o.str();
}

}  // namespace portier::tools::ctl
