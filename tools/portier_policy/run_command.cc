// portier-policy run: evaluate JSON lines from stdin against a policy, as the gateway would.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "platform/ctr_drbg.h"
#include "policies/evaluator.h"
#include "policies/window_aggregator.h"
#include "tools/portier_policy/commands.h"
#include "tools/portier_policy/input_line.h"
#include "tools/portierctl/format.h"

namespace portier::tools {

namespace {

// Used when --gateway-secret is not given, so that runs are reproducible. A gateway has its own.
constexpr const char* kDefaultSecretHex =
    "706f72746965722d706f6c6963792d72756e2d64656661756c742d736563726574";

bool parse_hex(const std::string& hex, std::vector<std::uint8_t>& out) {
  if (hex.size() % 2 != 0) return false;
  out.clear();
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    unsigned v = 0;
    for (std::size_t k = i; k < i + 2; ++k) {
      const char c = hex[k];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<unsigned>(c - 'A' + 10);
      else
        return false;
    }
    out.push_back(static_cast<std::uint8_t>(v));
  }
  return true;
}

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

// The default seed of the noise and release delays, so that runs are reproducible. A gateway
// seeds its generator from the system.
constexpr const char* kDefaultSeed = "portier-policy-run";

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// A line's "time" (or --start): "2026-12-05T10:15:03Z" (optional fraction, Z only) or epoch
// milliseconds. False if it is neither, or outside 2000..2100.
bool parse_time(const std::string& text, std::int64_t& out_ms) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos &&
      text.size() <= 15) {
    out_ms = std::stoll(text);
  } else {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, consumed = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
                    &consumed) != 6 ||
        consumed != 19 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59)
      return false;
    std::size_t i = 19;
    std::int64_t ms = 0;
    if (i < text.size() && text[i] == '.') {
      int digits = 0;
      for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++digits) {
        if (digits < 3) ms = ms * 10 + (text[i] - '0');
      }
      if (digits == 0) return false;
      for (; digits < 3; ++digits) ms *= 10;
    }
    if (i + 1 != text.size() || text[i] != 'Z') return false;
    out_ms =
        ((days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 24 + h) * 60 +
         mi) *
            60000 +
        sec * 1000 + ms;
  }
  return out_ms >= 946'684'800'000 && out_ms < 4'102'444'800'000;
}

std::string iso_time(std::int64_t ms) {
  const std::int64_t days = ms >= 0 ? ms / 86'400'000 : (ms - 86'399'999) / 86'400'000;
  const std::int64_t in_day = ms - days * 86'400'000;
  // civil_from_days
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ",
                static_cast<long long>(y), m, d, static_cast<long long>(in_day / 3'600'000),
                static_cast<long long>(in_day / 60'000 % 60),
                static_cast<long long>(in_day / 1000 % 60));
  return buf;
}

// A duration: "10", "10s", "5m", "1h", "2d" (seconds by default). False if malformed or over a
// year.
bool parse_duration_ms(const std::string& text, std::int64_t& out_ms) {
  if (text.empty()) return false;
  std::size_t digits = text.find_first_not_of("0123456789");
  if (digits == 0 || text.size() > 12) return false;
  const std::int64_t n = std::stoll(text.substr(0, digits));
  const std::string unit = digits == std::string::npos ? "s" : text.substr(digits);
  const std::int64_t scale = unit == "s"   ? 1000
                             : unit == "m" ? 60'000
                             : unit == "h" ? 3'600'000
                             : unit == "d" ? 86'400'000
                                           : 0;
  if (scale == 0) return false;
  out_ms = n * scale;
  return out_ms <= 31'536'000'000;
}

void write_window(const policies::window_release& r, const policies::compiled_policy& policy,
                  std::int64_t released_at, bool human) {
  const std::string& pid = policy.purposes()[r.purpose].id;
  if (human) {
    std::cout << "══ window " << iso_time(r.window_start_ms) << " +" << r.window_seconds << " s of "
              << ctl::safe_text(r.device_class) << " leaves at " << iso_time(released_at) << "\n   "
              << pid << " " << ctl::safe_text(r.topic) << "  " << ctl::safe_text(r.payload)
              << "\n\n";
    return;
  }
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  w.Key("window");
  w.StartObject();
  w.Key("released_at");
  const std::string at = iso_time(released_at);
  w.String(at.c_str(), static_cast<rapidjson::SizeType>(at.size()));
  w.Key("purpose");
  w.String(pid.c_str(), static_cast<rapidjson::SizeType>(pid.size()));
  w.Key("topic");
  w.String(r.topic.c_str(), static_cast<rapidjson::SizeType>(r.topic.size()));
  w.Key("payload");
  w.RawValue(r.payload.c_str(), r.payload.size(), rapidjson::kObjectType);
  if (r.epsilon > 0) {
    w.Key("epsilon");
    w.Double(r.epsilon);
  }
  w.EndObject();
  w.EndObject();
  std::cout << buf.GetString() << "\n";
}

void write_window_counts(const policies::window_counts& c, bool human) {
  if (human) {
    std::cout << "windows: " << c.released << " released, " << c.window_sparse << " too sparse, "
              << c.budget_exhausted << " over the privacy budget, " << c.window_limit
              << " samples over the window limit\n";
    return;
  }
  std::cout << "{\"windows\":{\"samples\":" << c.samples << ",\"released\":" << c.released
            << ",\"window_sparse\":" << c.window_sparse
            << ",\"budget_exhausted\":" << c.budget_exhausted
            << ",\"window_limit\":" << c.window_limit << "}}\n";
}

// --human: what the device said beside what each purpose receives, for people. Every text a
// device, the policy or the command line chose passes through safe_text(): a topic holding
// "\e]0;..." must not drive the reader's terminal.
void write_human(const std::string& topic, const std::string& payload, const policies::decision& d,
                 policies::evaluator& ev, const policies::consent_snapshot& consent) {
  using ctl::safe_text;
  const auto& policy = ev.policy();
  std::cout << "── " << safe_text(topic) << "\n";
  std::cout << "   device sent     " << safe_text(payload) << "\n";
  // Reasons that stop the whole message come first in drop_reason, up to duplicate_key.
  std::string whole;
  for (std::size_t i = 0; i <= static_cast<std::size_t>(policies::drop_reason::duplicate_key);
       ++i) {
    if (d.drops()[i] > 0) whole = policies::drop_reason_name(static_cast<policies::drop_reason>(i));
  }
  for (auto r :
       {policies::drop_reason::unannounced_topic, policies::drop_reason::unknown_announcement}) {
    if (d.drops(r) > 0) whole = policies::drop_reason_name(r);
  }
  if (const policies::compiled_class* c = d.device_class()) {
    std::cout << "   class           " << c->id << " (" << safe_text(c->title) << ")\n";
  }
  if (!whole.empty()) {
    std::cout << "   nothing leaves  the whole message is dropped: " << whole << "\n";
  } else if (const policies::compiled_class* c = d.device_class()) {
    for (std::size_t p : c->purposes) {
      const auto& purpose = policy.purposes()[p];
      std::string label = purpose.id;
      label.resize(std::max<std::size_t>(label.size(), 15), ' ');
      const policies::release* r = nullptr;
      for (const auto& rel : d.releases()) {
        if (rel.purpose == p) r = &rel;
      }
      if (r != nullptr && r->windowed) {
        std::string samples;
        for (const auto& sample : r->samples) {
          char v[32];
          std::snprintf(v, sizeof v, "%g", sample.value);
          samples += (samples.empty() ? "" : ", ") + c->fields[sample.field].path + " " + v;
        }
        std::cout << "   " << label << " nothing now; into its window: " << safe_text(samples)
                  << "\n";
      } else if (r != nullptr) {
        std::cout << "   " << label << " " << safe_text(r->topic) << "  " << safe_text(r->payload)
                  << "\n";
      } else if (purpose.suspended) {
        std::cout << "   " << label << " nothing: suspended by the operator\n";
      } else if (!ev.granted(consent, p, d.device_id(), c->id)) {
        std::cout << "   " << label << " nothing: not granted by the household\n";
      } else {
        std::cout << "   " << label << " nothing it may receive\n";
      }
    }
  }
  std::string dropped;
  for (std::size_t i = 0; i < policies::kDropReasonCount; ++i) {
    if (d.drops()[i] == 0) continue;
    dropped += (dropped.empty() ? "" : ", ") +
               std::string(policies::drop_reason_name(static_cast<policies::drop_reason>(i))) +
               " " + std::to_string(d.drops()[i]);
  }
  if (!dropped.empty()) std::cout << "   dropped         " << dropped << "\n";
  if (const policies::announcement* a = d.announced()) {
    std::cout << "   announces       " << safe_text(a->state_topic) << ": "
              << (a->meaning.opaque ? std::string("no meaning (a value template)")
                                    : "device class \"" + safe_text(a->meaning.device_class) +
                                          "\", unit \"" + safe_text(a->meaning.unit) + "\"")
              << "\n";
  }
  std::cout << "\n";
}

// "announced": what the line told the gateway about a state topic (only the members it set).
void write_announced(json_writer& w, const policies::announcement& a) {
  auto string = [&](const char* key, const std::string& v) {
    w.Key(key);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.Key("announced");
  w.StartObject();
  string("state_topic", a.state_topic);
  if (a.meaning.opaque) {
    w.Key("opaque");
    w.Bool(true);
  } else {
    if (a.sets_device_class) string("device_class", a.meaning.device_class);
    if (a.sets_unit) string("unit", a.meaning.unit);
  }
  w.EndObject();
}

void write_error(std::size_t line, const std::string& message) {
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  w.Key("line");
  w.Uint64(line);
  w.Key("error");
  w.String(message.c_str(), static_cast<rapidjson::SizeType>(message.size()));
  w.EndObject();
  std::cout << buf.GetString() << "\n";
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  std::vector<std::string> paths;
  std::vector<std::string> grants, refusals;
  bool grant_all = false, pause = false, human = false, flush = true;
  std::string gateway_id = "gw-test";
  std::string seed = kDefaultSeed;
  std::int64_t clock_ms = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  std::int64_t every_ms = 0;
  std::string secret_hex = kDefaultSecretHex;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    if ((a == "--grant" || a == "--refuse" || a == "--gateway-id" || a == "--gateway-secret" ||
         a == "--start" || a == "--every" || a == "--seed") &&
        !has_value) {
      std::cerr << "portier-policy run: " << a << " needs a value\n";
      return 2;
    }
    if (a == "--grant") {
      grants.push_back(args[++i]);
    } else if (a == "--refuse") {
      refusals.push_back(args[++i]);
    } else if (a == "--grant-all") {
      grant_all = true;
    } else if (a == "--human") {
      human = true;
    } else if (a == "--pause") {
      pause = true;
    } else if (a == "--gateway-id") {
      gateway_id = args[++i];
    } else if (a == "--gateway-secret") {
      secret_hex = args[++i];
    } else if (a == "--start") {
      if (!parse_time(args[++i], clock_ms)) {
        std::cerr << "portier-policy run: --start takes a UTC time such as 2026-12-05T10:00:00Z, "
                     "or epoch ms\n";
        return 2;
      }
    } else if (a == "--every") {
      if (!parse_duration_ms(args[++i], every_ms)) {
        std::cerr << "portier-policy run: --every takes a duration such as 10s, 5m or 1h\n";
        return 2;
      }
    } else if (a == "--seed") {
      seed = args[++i];
    } else if (a == "--no-flush") {
      flush = false;
    } else if (a.rfind("--", 0) == 0) {
      std::cerr << "portier-policy run: unknown option " << a << "\n";
      return 2;
    } else {
      paths.push_back(a);
    }
  }
  if (paths.empty()) {
    std::cerr << "portier-policy run: name at least one policy file or directory\n";
    return 2;
  }
  policies::engine_identity identity;
  identity.gateway_id = gateway_id;
  if (!parse_hex(secret_hex, identity.secret) || identity.secret.size() < 16) {
    std::cerr << "portier-policy run: --gateway-secret must be at least 32 hexadecimal digits\n";
    return 2;
  }
  auto policy = load_policy(paths);
  if (!policy) return 1;
  policies::consent_snapshot consent;
  consent.set_paused(pause);
  for (const auto& p : policy->purposes()) {
    if (grant_all) consent.set_household(p.id, policies::consent_decision::granted);
  }
  for (const auto& g : grants) {
    if (policy->purpose_index(g) < 0) {
      std::cerr << "portier-policy run: --grant names unknown purpose \"" << g << "\"\n";
      return 2;
    }
    consent.set_household(g, policies::consent_decision::granted);
  }
  for (const auto& r : refusals) {
    if (policy->purpose_index(r) < 0) {
      std::cerr << "portier-policy run: --refuse names unknown purpose \"" << r << "\"\n";
      return 2;
    }
    consent.set_household(r, policies::consent_decision::refused);
  }
  std::unique_ptr<policies::evaluator> ev;
  try {
    ev = std::make_unique<policies::evaluator>(policy, identity);
  } catch (const std::exception& e) {
    std::cerr << "portier-policy run: " << e.what() << "\n";
    return 2;
  }

  // Windows (Aggregate rules): the clock is the lines' "time", or --start advanced by --every per
  // line; noise and release delays come from a CTR-DRBG seeded with --seed.
  policies::window_aggregator windows;
  auto drbg = platform::ctr_drbg::deterministic(
      std::span(reinterpret_cast<const std::uint8_t*>(seed.data()), seed.size()));
  if (!drbg) {
    std::cerr << "portier-policy run: --seed must be 1 to " << platform::ctr_drbg::kMaxSeedBytes
              << " bytes\n";
    return 2;
  }
  policies::drbg_source rng(*drbg);
  const auto permitted = [&](std::size_t p, std::string_view device, std::string_view cls) {
    return !policy->purposes()[p].suspended && ev->granted(consent, p, device, cls);
  };
  std::vector<policies::window_release> due;
  // Releases what is due at `now`, each at the time it would leave.
  const auto release_due = [&](std::int64_t now) {
    for (std::int64_t at = windows.next_due_ms(); at <= now; at = windows.next_due_ms()) {
      due.clear();
      if (!windows.take_due(*policy, at, rng, permitted, due)) return false;
      for (const auto& r : due) write_window(r, *policy, at, human);
    }
    return true;
  };

  int status = 0;
  std::string line;
  std::size_t line_no = 0;
  std::string topic, payload, time;
  input_line reader;
  // What discovery messages on earlier lines announced, as portierd keeps it across messages.
  policies::announcement_map announcements;
  while (std::getline(std::cin, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (!reader.read(line, topic, payload, &time)) {
      write_error(line_no,
                  "expected {\"topic\": \"...\", \"payload\": <JSON value>, \"time\": optional}");
      status = 1;
      continue;
    }
    if (!time.empty()) {
      if (!parse_time(time, clock_ms)) {
        write_error(line_no,
                    "\"time\" must be a UTC time such as 2026-12-05T10:00:00Z, or epoch ms");
        status = 1;
        continue;
      }
    } else if (line_no > 1) {
      clock_ms += every_ms;
    }
    if (!release_due(clock_ms)) {
      std::cerr << "portier-policy run: the random generator failed\n";
      return 1;
    }
    const policies::decision& d = ev->evaluate(topic, payload, consent, clock_ms, &announcements);
    if (const policies::announcement* a = d.announced()) announcements.record(*a, clock_ms);
    windows.add(*policy, d, clock_ms);
    if (human) {
      write_human(topic, payload, d, *ev, consent);
      continue;
    }
    rapidjson::StringBuffer buf;
    json_writer w(buf);
    w.StartObject();
    w.Key("topic");
    w.String(topic.c_str(), static_cast<rapidjson::SizeType>(topic.size()));
    w.Key("releases");
    w.StartArray();
    for (const auto& r : d.releases()) {
      w.StartObject();
      const std::string& pid = policy->purposes()[r.purpose].id;
      w.Key("purpose");
      w.String(pid.c_str(), static_cast<rapidjson::SizeType>(pid.size()));
      w.Key("topic");
      w.String(r.topic.c_str(), static_cast<rapidjson::SizeType>(r.topic.size()));
      if (r.windowed) {  // the numbers this message adds to its window; nothing leaves now
        w.Key("window_samples");
        w.StartObject();
        for (const auto& sample : r.samples) {
          const std::string& path = d.device_class()->fields[sample.field].path;
          w.Key(path.c_str(), static_cast<rapidjson::SizeType>(path.size()));
          w.Double(sample.value);
        }
        w.EndObject();
        w.EndObject();
        continue;
      }
      w.Key("payload");
      if (r.payload_is_json) {
        w.RawValue(r.payload.c_str(), r.payload.size(), rapidjson::kObjectType);
      } else {
        w.String(r.payload.c_str(), static_cast<rapidjson::SizeType>(r.payload.size()));
      }
      w.EndObject();
    }
    w.EndArray();
    w.Key("dropped");
    w.StartArray();
    for (std::size_t i = 0; i < policies::kDropReasonCount; ++i) {
      if (d.drops()[i] == 0) continue;
      const auto name = policies::drop_reason_name(static_cast<policies::drop_reason>(i));
      w.StartObject();
      w.Key("reason");
      w.String(name.data(), static_cast<rapidjson::SizeType>(name.size()));
      w.Key("count");
      w.Uint(d.drops()[i]);
      w.EndObject();
    }
    w.EndArray();
    if (const policies::announcement* a = d.announced()) write_announced(w, *a);
    w.EndObject();
    std::cout << buf.GetString() << "\n";
  }
  // The end of the capture: every window still open closes and leaves, at the time it would.
  if (flush && !release_due(std::numeric_limits<std::int64_t>::max() - 1)) {
    std::cerr << "portier-policy run: the random generator failed\n";
    return 1;
  }
  if (windows.counts().samples > 0) write_window_counts(windows.counts(), human);
  return status;
}

}  // namespace portier::tools
