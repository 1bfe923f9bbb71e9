#include "fake_daemon.h"

#include <google/protobuf/text_format.h>

#include <CppUTest/TestHarness.h>

namespace portier::gateway::web::testing {

namespace {

std::string decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// 24 hourly buckets with `peak` messages at hour 14 and one at hour 3.
std::string buckets(int peak) {
  std::string out;
  for (int i = 0; i < 24; ++i) {
    out += " bucket_messages: " + std::to_string(i == 14 ? peak : (i == 3 ? 1 : 0));
    out += " bucket_bytes: " + std::to_string(i == 14 ? peak * 30 : (i == 3 ? 30 : 0));
  }
  return out;
}

}  // namespace

void fake_daemon::answer(control::Request::CommandCase command, const std::string& text) {
  control::Response r;
  if (!google::protobuf::TextFormat::ParseFromString(text, &r)) {
    FAIL(("bad canned response: " + text).c_str());
  }
  answers[static_cast<int>(command)] = r;
}

void fake_daemon::fill_household() {
  answer(
      control::Request::kStatus,
      R"(status { version: "0.1.0" gateway_id: "gw-1" policy_name: "defaults" policy_version: 7 })");
  answer(control::Request::kPurposes, R"(purposes {
    policy_name: "defaults" policy_version: 7
    purpose { id: "analytics" title: "Analytics" description: "Improves the heating schedule."
      legal_basis: CONSENT household_granted: true
      decision { scope: SCOPE_HOUSEHOLD granted: true decided_at_ms: 1796400000000 method: "web" }
      decision { scope: SCOPE_DEVICE_CLASS value: "sensor" title: "Zigbee sensor" granted: false } }
    purpose { id: "service" title: "Service" description: "Keeps the devices working."
      legal_basis: CONTRACT default_granted: true household_granted: true
      epsilon_per_day: 1.0 epsilon_spent_today: 0.25 epsilon_raised_from: 0.5
      epsilon_raised_at_ms: 1796400000000 epsilon_raised_by_policy: "defaults"
      epsilon_raised_by_version: 7 }
    purpose { id: "location" title: "Location" description: "Where the phones are."
      legal_basis: CONSENT special_category: LOCATION suspended: true }
  })");
  answer(control::Request::kDevices, R"(devices {
    device { device_id: "<script>alert(1)</script>" class_id: "sensor" class_title: "Zigbee sensor"
      last_seen_ms: 1796471700000 messages: 1234
      purpose { purpose_id: "analytics" title: "Analytics" granted: false decided_at: SCOPE_DEVICE
        receives: "temperature rounded to 0.5 °C" receives: "humidity" }
      purpose { purpose_id: "service" title: "Service" granted: true receives: "linkquality" } }
    device { device_id: "Anna bedroom" class_id: "sensor" class_title: "Zigbee sensor"
      last_seen_ms: 1796471990000 messages: 12
      purpose { purpose_id: "analytics" title: "Analytics" granted: true decided_at: SCOPE_HOUSEHOLD
        receives: "temperature rounded to 0.5 °C" receives: "humidity" }
      purpose { purpose_id: "service" title: "Service" granted: true receives: "linkquality" } }
  })");
  answer(control::Request::kReport, R"(report {
    since_ms: 1796385600000 until_ms: 1796472000000 ledger_starts_ms: 1796400000000
    bucket_ms: 3600000 buckets: 24
    row { device_id: "<script>alert(1)</script>" class_id: "sensor" class_title: "Zigbee sensor"
      purpose_id: "service" title: "Service" fields: "linkquality" messages: 21 bytes: 630
      )" + buckets(20) + R"( }
    row { device_id: "Anna bedroom" class_id: "sensor" class_title: "Zigbee sensor"
      purpose_id: "analytics" title: "Analytics" fields: "humidity" fields: "temperature"
      messages: 1234 bytes: 45600 )" + buckets(20) +
                                        R"( }
    row { device_erased: true class_id: "sensor" class_title: "Zigbee sensor"
      purpose_id: "analytics" title: "Analytics" fields: "temperature" messages: 3 bytes: 90 }
    dropped { reason: "consent_refused" count: 3000 }
    dropped { reason: "unmatched_topic" count: 210 }
    total_messages: 1258 total_bytes: 46320 total_dropped: 3210
  })");
  answer(control::Request::kExplain, R"(explain {
    device_id: "Anna bedroom" class_id: "sensor" class_title: "Zigbee sensor"
    topic: "zigbee2mqtt/Anna bedroom" payload: "{\"temperature\":21.53,\"humidity\":40.2}"
    payload_bytes: 37 received_ms: 1796471990000
    purpose { purpose_id: "analytics" title: "Analytics" released: true
      topic: "portier/gw-1/analytics/sensor/k3v9q2" payload: "{\"temperature\":21.5}" }
    purpose { purpose_id: "service" title: "Service" reason: "consent_refused" }
    policy_name: "defaults" policy_version: 7
  })");
  answer(control::Request::kExportLedger, R"(export_ledger {
    json: "{\"gateway_id\":\"gw-1\",\"exported_at_ms\":1796472000000,\"ledger\":[],\"receipts\":[{\"id\":\"aaaaaaaa000000000000000000000001\",\"time_ms\":1796300000000,\"scope\":\"household\",\"scope_value\":\"\",\"purpose\":\"analytics\",\"decision\":\"granted\",\"method\":\"cli\",\"purpose_title\":\"Analytics\",\"purpose_description\":\"d\",\"policy_name\":\"defaults\",\"policy_version\":7,\"prev_hash\":\"\",\"hash\":\"h1\"},{\"id\":\"bbbbbbbb000000000000000000000002\",\"time_ms\":1796400000000,\"scope\":\"device\",\"scope_value\":\"<b>Bob</b>\",\"purpose\":\"analytics\",\"decision\":\"refused\",\"method\":\"web\",\"purpose_title\":\"Analytics\",\"purpose_description\":\"d\",\"policy_name\":\"defaults\",\"policy_version\":7,\"prev_hash\":\"h1\",\"hash\":\"h2\"}]}"
    ledger_entries: 0 receipts: 2
  })");
  answer(control::Request::kPolicyHistory, R"(policy_history {
    update { time_ms: 1796400000000 name: "defaults" version: 7 source: "bundle 12" applied: true
      widens: true
      change { class_id: "sensor" class_title: "Zigbee sensor" purpose_id: "analytics"
        purpose_title: "Analytics" before: "temperature rounded to 1 °C"
        after: "temperature rounded to 0.5 °C" widens: true }
      change { class_id: "sensor" class_title: "Zigbee sensor" purpose_id: "service"
        purpose_title: "Service" before: "linkquality" } }
    update { time_ms: 1796300000000 version: 13 source: "bundle 13" applied: false
      reason_code: "bad-signature" }
    update { time_ms: 1796200000000 name: "defaults" version: 6 source: "start-up" applied: true }
  })");
  answer(control::Request::kPause, R"(pause { paused: true changed: true })");
  answer(control::Request::kResume, R"(resume { paused: false changed: true })");
  answer(control::Request::kSetConsent, R"(set_consent { receipt { id: "r" } })");
  answer(control::Request::kErase,
         R"(erase { device_id: "Anna bedroom" upstream_acknowledged: true })");
}

control_call fake_daemon::call() {
  return [this](const control::Request& request) {
    requests.push_back(request);
    const auto it = answers.find(static_cast<int>(request.command_case()));
    if (it != answers.end()) return it->second;
    control::Response r;
    r.set_code(control::Response::UNAVAILABLE);
    r.set_message("portierd is not answering.");
    return r;
  };
}

int fake_daemon::count(control::Request::CommandCase command) const {
  int n = 0;
  for (const auto& r : requests) n += r.command_case() == command ? 1 : 0;
  return n;
}

app_request get(const std::string& target, language lang) {
  app_request r;
  r.method = "GET";
  r.lang = lang;
  r.csrf_token = kCsrf;
  r.now_ms = kNowMs;
  const auto q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) {
    std::string query = target.substr(q + 1);
    std::size_t start = 0;
    while (start <= query.size()) {
      const auto end = std::min(query.find('&', start), query.size());
      const std::string pair = query.substr(start, end - start);
      const auto eq = pair.find('=');
      if (!pair.empty()) {
        r.params.emplace_back(decode(pair.substr(0, eq)),
                              eq == std::string::npos ? "" : decode(pair.substr(eq + 1)));
      }
      start = end + 1;
    }
  }
  return r;
}

app_request post(const std::string& path, std::vector<std::pair<std::string, std::string>> form,
                 language lang) {
  app_request r = get(path, lang);
  r.method = "POST";
  r.params = std::move(form);
  return r;
}

int occurrences(const std::string& hay, const std::string& needle) {
  int n = 0;
  for (auto pos = hay.find(needle); pos != std::string::npos; pos = hay.find(needle, pos + 1)) ++n;
  return n;
}

}  // namespace portier::gateway::web::testing
