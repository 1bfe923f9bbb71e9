// Fixed control results, as a daemon with the shipped Zigbee policy would give them, for the
// portierctl tests. Times are in 2024 (UTC; tests/tools/main.cc sets TZ=UTC).
#pragma once

#include "control.pb.h"

namespace portier::tests {

inline constexpr std::int64_t kNowMs = 1'714'557'600'000;  // 2024-05-01 10:00:00 UTC
inline constexpr std::int64_t kMinute = 60'000;
inline constexpr std::int64_t kDay = 86'400'000;

inline control::StatusResult status_fixture() {
  control::StatusResult s;
  s.set_version("0.1.0");
  s.set_gateway_id("gw-0042");
  s.set_policy_name("operator-defaults");
  s.set_policy_version(7);
  s.set_uptime_seconds(3 * 86400 + 4 * 3600 + 120);
  s.set_local_connected(true);
  s.set_upstream_connected(false);
  auto& c = *s.mutable_counters();
  c["received"] = 12345;
  c["released"] = 9876;
  c["dropped"] = 1234;
  c["control_refused"] = 2;
  return s;
}

inline control::DevicesResult devices_fixture() {
  control::DevicesResult r;
  auto* d = r.add_device();
  d->set_device_id("Anna bedroom");
  d->set_class_id("zigbee2mqtt-device");
  d->set_class_title("Zigbee sensor");
  d->set_last_seen_ms(kNowMs - 2 * kMinute);
  d->set_messages(1234);
  auto* a = d->add_purpose();
  a->set_purpose_id("analytics");
  a->set_title("Analytics");
  a->set_granted(true);
  a->set_decided_at(consent::SCOPE_HOUSEHOLD);
  a->add_receives("temperature rounded to 0.5 °C");
  a->add_receives("humidity rounded to 1 %");
  auto* l = d->add_purpose();
  l->set_purpose_id("location");
  l->set_title("Location");
  l->set_granted(false);
  l->add_receives("position generalised to a 1 km cell");
  auto* s = d->add_purpose();
  s->set_purpose_id("service");
  s->set_title("Service");
  s->set_granted(false);
  s->set_decided_at(consent::SCOPE_DEVICE);
  s->add_receives("link quality as good, fair or poor");

  auto* p = r.add_device();
  p->set_device_id("plug\x1b]0;pwned\x07");  // a hostile name must not reach the terminal raw
  p->set_class_id("tasmota-plug");
  p->set_class_title("Tasmota plug");
  p->set_last_seen_ms(kNowMs - 3 * kDay);
  auto* m = p->add_purpose();
  m->set_purpose_id("service");
  m->set_title("Service");
  m->set_granted(true);
  m->set_suspended(true);
  return r;
}

inline control::PurposesResult purposes_fixture() {
  control::PurposesResult r;
  r.set_policy_name("operator-defaults");
  r.set_policy_version(7);
  auto* a = r.add_purpose();
  a->set_id("analytics");
  a->set_title("Analytics");
  a->set_description("Improves the heating service by learning how your rooms warm up.");
  a->set_legal_basis(policy::Purpose::CONSENT);
  a->set_household_granted(true);
  a->set_retention_seconds(86400);
  auto* h = a->add_decision();
  h->set_scope(consent::SCOPE_HOUSEHOLD);
  h->set_granted(true);
  h->set_decided_at_ms(kNowMs - kDay);
  h->set_receipt_id("r1");
  h->set_method("cli");
  auto* dev = a->add_decision();
  dev->set_scope(consent::SCOPE_DEVICE);
  dev->set_value("Anna bedroom");
  dev->set_granted(false);
  dev->set_decided_at_ms(kNowMs - kDay + 30 * kMinute);
  dev->set_method("web");
  auto* cls = a->add_decision();
  cls->set_scope(consent::SCOPE_DEVICE_CLASS);
  cls->set_value("tasmota-plug");
  cls->set_title("Tasmota plug");
  cls->set_granted(false);
  cls->set_decided_at_ms(kNowMs - kDay + 60 * kMinute);
  cls->set_method("cli");

  auto* l = r.add_purpose();
  l->set_id("location");
  l->set_title("Location");
  l->set_description("Tells the operator roughly where the home's trackers are.");
  l->set_legal_basis(policy::Purpose::LEGITIMATE_INTEREST);
  l->set_special_category(policy::Purpose::LOCATION);
  auto* kept = l->add_decision();  // a policy update would have let it run: kept refused
  kept->set_scope(consent::SCOPE_HOUSEHOLD);
  kept->set_granted(false);
  kept->set_decided_at_ms(kNowMs - kDay + 90 * kMinute);
  kept->set_method("policy-update");
  kept->set_policy_name("operator-defaults");
  kept->set_policy_version(7);

  auto* s = r.add_purpose();
  s->set_id("service");
  s->set_title("Service");
  s->set_description(
      "Keeps your devices working: the operator sees when one loses its connection.");
  s->set_legal_basis(policy::Purpose::CONTRACT);
  s->set_default_granted(true);
  s->set_household_granted(true);
  s->set_suspended(true);
  return r;
}

inline consent::ConsentReceipt receipt_fixture(consent::ReceiptDecision d, consent::Scope scope,
                                               const char* value) {
  consent::ConsentReceipt c;
  c.set_id("5f0c6a1e9b2d4c8fa1b2c3d4e5f60718");
  c.set_time_ms(kNowMs);
  c.set_scope(scope);
  c.set_scope_value(value);
  c.set_purpose("analytics");
  c.set_decision(d);
  c.set_method("cli");
  c.set_purpose_title("Analytics");
  c.set_policy_name("operator-defaults");
  c.set_policy_version(7);
  return c;
}

inline control::ReportResult report_fixture() {
  control::ReportResult r;
  r.set_since_ms(kNowMs - 7 * kDay);
  r.set_until_ms(kNowMs);
  r.set_ledger_starts_ms(kNowMs - 3 * kDay);
  auto row = [&](const char* device, const char* purpose, const char* title, std::uint64_t n,
                 std::uint64_t bytes, std::initializer_list<const char*> fields) {
    auto* x = r.add_row();
    x->set_device_id(device);
    x->set_class_id("zigbee2mqtt-device");
    x->set_class_title("Zigbee sensor");
    x->set_purpose_id(purpose);
    x->set_title(title);
    x->set_messages(n);
    x->set_bytes(bytes);
    for (const char* f : fields) x->add_fields(f);
    return x;
  };
  row("Anna bedroom", "analytics", "Analytics", 1234, 45600, {"humidity", "temperature"});
  row("Anna bedroom", "service", "Service", 12, 340, {"linkquality"});
  row("", "analytics", "Analytics", 3, 90, {"temperature"})->set_device_erased(true);
  r.set_total_messages(1249);
  r.set_total_bytes(46030);
  auto* d1 = r.add_dropped();
  d1->set_reason("consent_refused");
  d1->set_count(3000);
  auto* d2 = r.add_dropped();
  d2->set_reason("unmatched_topic");
  d2->set_count(210);
  r.set_total_dropped(3210);
  return r;
}

inline control::ExplainResult explain_fixture() {
  control::ExplainResult r;
  r.set_device_id("Anna bedroom");
  r.set_class_id("zigbee2mqtt-device");
  r.set_class_title("Zigbee sensor");
  r.set_topic("zigbee2mqtt/Anna bedroom");
  r.set_payload(R"({"temperature":21.53,"humidity":40.2,"linkquality":120})");
  r.set_payload_bytes(55);
  r.set_received_ms(kNowMs - 3000);
  r.set_policy_name("operator-defaults");
  r.set_policy_version(7);
  auto* a = r.add_purpose();
  a->set_purpose_id("analytics");
  a->set_title("Analytics");
  a->set_released(true);
  a->set_topic("portier/gw-0042/analytics/zigbee2mqtt-device/k3v9q2");
  a->set_payload(R"({"temperature":21.5,"humidity":40})");
  auto* l = r.add_purpose();
  l->set_purpose_id("location");
  l->set_title("Location");
  l->set_reason("consent_refused");
  auto* s = r.add_purpose();
  s->set_purpose_id("service");
  s->set_title("Service");
  s->set_reason("purpose_suspended");
  return r;
}

inline control::EraseResult erase_fixture() {
  control::EraseResult r;
  r.set_device_id("Anna bedroom");
  r.set_spool_records_purged(12);
  r.set_ledger_entries_erased(340);
  auto* p = r.add_pseudonyms();
  p->set_purpose("analytics");
  p->set_pseudonym("k3v9q2");
  auto* q = r.add_pseudonyms();
  q->set_purpose("service");
  q->set_pseudonym("x7mw4t");
  r.set_erasure_topic("portier/gw-0042/erasure");
  r.set_upstream_acknowledged(true);
  return r;
}

inline control::UnmatchedResult unmatched_fixture() {
  control::UnmatchedResult r;
  r.set_max_shapes(256);
  r.set_evicted(3);
  auto* s = r.add_shape();
  s->set_topic("tele/+/SENSOR");
  s->set_messages(1234);
  s->set_first_seen_ms(kNowMs - 2 * 3'600'000);
  s->set_last_seen_ms(kNowMs - 60'000);
  s->add_formats("json");
  auto* p = s->add_path();
  p->set_path("ENERGY.Power");
  p->add_types("number");
  auto* t = s->add_path();
  t->set_path("Time");
  t->add_types("string");
  t->add_types("null");
  auto* raw = r.add_shape();
  raw->set_topic("+/+/state");
  raw->set_messages(1);
  raw->set_first_seen_ms(kNowMs);
  raw->set_last_seen_ms(kNowMs);
  raw->add_formats("text");
  auto* d = raw->add_path();
  d->set_path("$");
  d->add_types("string");
  raw->set_paths_truncated(true);
  return r;
}

inline control::PairResult pair_fixture(bool announced) {
  control::PairResult p;
  p.set_code("K7QM-4XRT");
  p.set_expires_at_ms(kNowMs + 10 * kMinute);
  if (announced) {
    p.add_web_urls("https://portier.lan:8443/");
    p.add_web_urls("https://192.168.1.2:8443/");
    p.set_web_fingerprint_sha256(
        "3f:a1:00:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:10:11:12:13:14:15:16:17:18:19:1a:1b:"
        "1c:09");
  }
  return p;
}

inline control::PolicyHistoryResult history_fixture() {
  control::PolicyHistoryResult h;
  auto* widened = h.add_update();
  widened->set_time_ms(kNowMs);
  widened->set_name("operator-defaults");
  widened->set_version(8);
  widened->set_source("bundle 8");
  widened->set_applied(true);
  widened->set_widens(true);
  auto* c = widened->add_change();
  c->set_class_id("zigbee2mqtt-device");
  c->set_class_title("Zigbee sensor");
  c->set_purpose_id("analytics");
  c->set_purpose_title("Analytics");
  c->add_before("temperature rounded to 0.5 °C");
  c->add_after("temperature rounded to 0.5 °C");
  c->add_after("humidity rounded to 1 %");
  c->set_widens(true);
  auto* gone = widened->add_change();
  gone->set_class_id("tasmota-plug");
  gone->set_purpose_id("service");
  gone->set_purpose_title("Service");
  gone->add_before("power\x1b[2J as sent");
  auto* refused = h.add_update();
  refused->set_time_ms(kNowMs - 11 * kDay);
  refused->set_version(7);
  refused->set_source("bundle 7");
  refused->set_reason_code("bad-signature");
  auto* narrowed = h.add_update();
  narrowed->set_time_ms(kNowMs - 12 * kDay);
  narrowed->set_name("operator-defaults");
  narrowed->set_version(6);
  narrowed->set_source("file reload");
  narrowed->set_applied(true);
  return h;
}

}  // namespace portier::tests
