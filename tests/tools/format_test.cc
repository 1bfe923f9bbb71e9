#include "tools/portierctl/format.h"

#include <google/protobuf/util/json_util.h>

#include "policies/drop_reason.h"
#include "tests/tools/control_fixtures.h"

#include <CppUTest/TestHarness.h>

using namespace portier;
using namespace portier::tests;
using namespace portier::tools::ctl;

TEST_GROUP(format_words){};

TEST(format_words, safe_text_makes_untrusted_text_visible) {
  STRCMP_EQUAL("Anna's bedroom ☀ 21.5 °C", safe_text("Anna's bedroom ☀ 21.5 °C").c_str());
  STRCMP_EQUAL("a\\nb\\tc\\rd", safe_text("a\nb\tc\rd").c_str());
  STRCMP_EQUAL("\\x1b]0;x\\x07\\x7f", safe_text("\x1b]0;x\x07\x7f").c_str());
  STRCMP_EQUAL("bad \\xff\\xc3", safe_text("bad \xff\xc3").c_str());
  STRCMP_EQUAL("\\u202egnp.exe", safe_text("\xe2\x80\xae"
                                           "gnp.exe")
                                     .c_str());            // right-to-left override
  STRCMP_EQUAL("\\u009b", safe_text("\xc2\x9b").c_str());  // C1 CSI
  STRCMP_EQUAL("\\x00", safe_text(std::string_view("\0", 1)).c_str());
}

TEST(format_words, numbers_sizes_and_spans) {
  STRCMP_EQUAL("0", group_digits(0).c_str());
  STRCMP_EQUAL("999", group_digits(999).c_str());
  STRCMP_EQUAL("1,000", group_digits(1000).c_str());
  STRCMP_EQUAL("1,234,567", group_digits(1234567).c_str());
  STRCMP_EQUAL("340 B", human_bytes(340).c_str());
  STRCMP_EQUAL("45.6 kB", human_bytes(45600).c_str());
  STRCMP_EQUAL("1.0 MB", human_bytes(999'960).c_str());
  STRCMP_EQUAL("1.2 GB", human_bytes(1'200'000'000).c_str());
  STRCMP_EQUAL("less than a minute", format_span(59).c_str());
  STRCMP_EQUAL("1 minute", format_span(75).c_str());
  STRCMP_EQUAL("2 hours 5 minutes", format_span(7500).c_str());
  STRCMP_EQUAL("3 days 4 hours", format_span(3 * 86400 + 4 * 3600 + 120).c_str());
  STRCMP_EQUAL("1 day", format_span(86400).c_str());
}

TEST(format_words, times_relative_and_absolute) {
  STRCMP_EQUAL("2024-05-01 10:00", format_time(kNowMs).c_str());
  STRCMP_EQUAL("2024-05-01 09:59:57", format_time(kNowMs - 3000, true).c_str());
  STRCMP_EQUAL("never", format_time(0).c_str());
  STRCMP_EQUAL("never", format_ago(0, kNowMs).c_str());
  STRCMP_EQUAL("just now", format_ago(kNowMs - 59'000, kNowMs).c_str());
  STRCMP_EQUAL("just now", format_ago(kNowMs + 5'000, kNowMs).c_str());  // a clock step back
  STRCMP_EQUAL("1 minute ago", format_ago(kNowMs - kMinute, kNowMs).c_str());
  STRCMP_EQUAL("5 hours ago", format_ago(kNowMs - 5 * 60 * kMinute, kNowMs).c_str());
  STRCMP_EQUAL("2 days ago", format_ago(kNowMs - 2 * kDay - 1, kNowMs).c_str());
}

TEST(format_words, durations) {
  CHECK(parse_duration_ms("30m") == 30 * kMinute);
  CHECK(parse_duration_ms("24h") == kDay);
  CHECK(parse_duration_ms("7d") == 7 * kDay);
  CHECK(parse_duration_ms("2w") == 14 * kDay);
  CHECK(parse_duration_ms("36500d") == 36500 * kDay);
  CHECK_FALSE(parse_duration_ms("36501d"));
  CHECK_FALSE(parse_duration_ms("0d"));
  CHECK_FALSE(parse_duration_ms("7"));
  CHECK_FALSE(parse_duration_ms("d"));
  CHECK_FALSE(parse_duration_ms("7 d"));
  CHECK_FALSE(parse_duration_ms("-7d"));
  CHECK_FALSE(parse_duration_ms("7s"));
  CHECK_FALSE(parse_duration_ms("99999999d"));
  CHECK_FALSE(parse_duration_ms(""));
}

TEST(format_words, drop_reasons_in_plain_words) {
  STRCMP_EQUAL("not granted by you", drop_reason_text("consent_refused").c_str());
  STRCMP_EQUAL("fields the policy does not list", drop_reason_text("unlisted_field").c_str());
  STRCMP_EQUAL("some_new_reason", drop_reason_text("some_new_reason").c_str());
  // Every reason the engine and the gateway count has words of its own.
  for (std::size_t i = 0; i < portier::policies::kDropReasonCount; ++i) {
    const std::string_view name =
        portier::policies::drop_reason_name(static_cast<portier::policies::drop_reason>(i));
    CHECK_TEXT(drop_reason_text(name) != name, std::string(name).c_str());
  }
}

TEST_GROUP(format_results){};

TEST(format_results, status) {
  STRCMP_EQUAL(
      "portierd 0.1.0 on gateway gw-0042, running for 3 days 4 hours.\n"
      "Policy:          operator-defaults version 7\n"
      "Sharing:         on: purposes receive what you allow\n"
      "Home broker:     connected\n"
      "Operator cloud:  NOT connected: what may leave waits at home until it is back\n"
      "LAN page:        not announced (portier-web is not running, or not yet)\n"
      "Messages:        12,345 received, 9,876 released, 1,234 dropped\n"
      "\n"
      "Counters since start:\n"
      "  control_refused       2\n"
      "  dropped           1,234\n"
      "  received         12,345\n"
      "  released          9,876\n",
      format_status(status_fixture()).c_str());
  control::StatusResult paused;
  paused.set_paused(true);
  CHECK(format_status(paused).find("Sharing:         PAUSED: nothing leaves the home until you run "
                                   "`portierctl resume`\n") != std::string::npos);
  CHECK(format_status(paused).find("Policy:          none loaded\n") != std::string::npos);
  auto announced = status_fixture();
  announced.add_web_urls("https://portier.lan:8443/");
  announced.add_web_urls("https://192.168.1.2:8443/");
  announced.set_web_fingerprint_sha256("3f:a1:09");
  CHECK(format_status(announced).find(
            "LAN page:        https://portier.lan:8443/, https://192.168.1.2:8443/ (certificate "
            "3f:a1:09)\n") != std::string::npos);
}

TEST(format_results, pair) {
  STRCMP_EQUAL(
      "Pairing code: K7QM-4XRT\n"
      "It works once, until 2024-05-01 10:10 (10 minutes).\n"
      "Open https://portier.lan:8443/ and check the certificate fingerprint (SHA-256) your "
      "browser shows:\n"
      "  3f:a1:00:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:10:11:12:13:14:15:16:17:18:19:1a:"
      "1b:1c:09\n"
      "The page also answers at https://192.168.1.2:8443/.\n"
      "Then type the code on the page. Never type it anywhere else.\n",
      format_pair(pair_fixture(true)).c_str());
  STRCMP_EQUAL(
      "Pairing code: K7QM-4XRT\n"
      "It works once, until 2024-05-01 10:10 (10 minutes).\n"
      "The LAN page has not announced itself: portier-web is not running, or has not started "
      "yet. Start it (systemctl start portier-web) and run `portierctl pair` again.\n",
      format_pair(pair_fixture(false)).c_str());
}

TEST(format_results, updates) {
  STRCMP_EQUAL(
      "2024-05-01 10:00  operator-defaults version 8 (bundle 8): applied. WIDENS what leaves "
      "your home\n"
      "  MORE  Analytics from Zigbee sensor:\n"
      "          before: temperature rounded to 0.5 °C\n"
      "          now:    temperature rounded to 0.5 °C; humidity rounded to 1 %\n"
      "        Service from tasmota-plug:\n"
      "          before: power\\x1b[2J as sent\n"
      "          now:    nothing\n"
      "\n"
      "2024-04-20 10:00  A policy, version 7 (bundle 7): REFUSED (bad-signature), the "
      "running policy stayed\n"
      "\n"
      "2024-04-19 10:00  operator-defaults version 6 (file reload): applied; no change in what "
      "leaves your home\n",
      format_updates(history_fixture()).c_str());
  STRCMP_EQUAL("No policy update recorded: the ledger holds none (or no longer holds them).\n",
               format_updates(control::PolicyHistoryResult{}).c_str());
}

TEST(format_results, devices) {
  STRCMP_EQUAL(
      "Anna bedroom\n"
      "  Kind:       Zigbee sensor (zigbee2mqtt-device)\n"
      "  Last seen:  2 minutes ago (2024-05-01 09:58), 1,234 messages since portierd started\n"
      "  Analytics (analytics): granted for the whole home; receives\n"
      "      - temperature rounded to 0.5 °C\n"
      "      - humidity rounded to 1 %\n"
      "  Location (location): not granted; receives nothing\n"
      "  Service (service): refused for this device; receives nothing\n"
      "\n"
      "plug\\x1b]0;pwned\\x07\n"
      "  Kind:       Tasmota plug (tasmota-plug)\n"
      "  Last seen:  3 days ago (2024-04-28 10:00)\n"
      "  Service (service): suspended by the operator; receives nothing\n",
      format_devices(devices_fixture(), kNowMs).c_str());
  auto paused = devices_fixture();
  paused.set_paused(true);
  CHECK(format_devices(paused, kNowMs)
            .rfind("Sharing is paused: nothing leaves the home until you run", 0) == 0);
  STRCMP_EQUAL("No device seen yet. Devices appear here once they publish on the home broker.\n",
               format_devices(control::DevicesResult{}, kNowMs).c_str());
}

TEST(format_results, purposes) {
  STRCMP_EQUAL(
      "Analytics (analytics)\n"
      "  Improves the heating service by learning how your rooms warm up.\n"
      "  Legal basis: your consent; it receives nothing unless you grant it.\n"
      "  Granted for the whole home (your decision of 2024-04-30 10:00).\n"
      "  Refused for device \"Anna bedroom\" (your decision of 2024-04-30 10:30).\n"
      "  Refused for the class Tasmota plug (tasmota-plug) (your decision of 2024-04-30 11:00).\n"
      "  What it may receive waits at most 1 day to be sent, then is deleted.\n"
      "\n"
      "Location (location)\n"
      "  Tells the operator roughly where the home's trackers are.\n"
      "  Legal basis: the operator's legitimate interest.\n"
      "  Sensitive (where people are): it receives nothing unless you grant it.\n"
      "  Refused for the whole home (kept so by Portier on 2024-04-30 11:30: the update to policy "
      "\"operator-defaults\" version 7 would have let it run without your decision).\n"
      "\n"
      "Service (service)\n"
      "  Keeps your devices working: the operator sees when one loses its connection.\n"
      "  Legal basis: your contract with the operator; it runs unless you refuse it.\n"
      "  Suspended by the operator: it receives nothing for now, whatever you decide.\n"
      "  Granted for the whole home by default; `portierctl refuse service` stops it.\n",
      format_purposes(purposes_fixture()).c_str());
}

TEST(format_results, purposes_say_who_decided) {
  control::PurposesResult r;
  auto* p = r.add_purpose();
  p->set_id("service");
  p->set_legal_basis(policy::Purpose::CONTRACT);
  auto* preset = p->add_decision();
  preset->set_scope(consent::SCOPE_HOUSEHOLD);
  preset->set_decided_at_ms(kNowMs - kDay);
  preset->set_method("config");
  auto* forgotten = p->add_decision();  // its receipt was dropped: who is unknown
  forgotten->set_scope(consent::SCOPE_DEVICE_CLASS);
  forgotten->set_value("plug");
  forgotten->set_granted(true);
  forgotten->set_decided_at_ms(kNowMs - kDay);
  const std::string text = format_purposes(r);
  CHECK_TEXT(text.find("  Refused for the whole home (by the configuration preset, 2024-04-30 "
                       "10:00).\n") != std::string::npos,
             text.c_str());
  CHECK_TEXT(
      text.find("  Granted for the class plug (decided 2024-04-30 10:00).\n") != std::string::npos,
      text.c_str());
  CHECK_TEXT(text.find("your decision") == std::string::npos, text.c_str());
}

TEST(format_results, purposes_show_the_privacy_budget_and_who_raised_it) {
  control::PurposesResult r;
  auto* p = r.add_purpose();
  p->set_id("research");
  p->set_legal_basis(policy::Purpose::CONSENT);
  p->set_epsilon_per_day(1.0);
  p->set_epsilon_spent_today(0.6);
  p->set_epsilon_spent_total(3.4);
  p->set_epsilon_devices(2);
  std::string text = format_purposes(r);
  CHECK_TEXT(text.find("  Privacy budget: ε 0.6 of 1.0 spent today (the most of any device), "
                       "3.4 in all.\n") != std::string::npos,
             text.c_str());
  CHECK_TEXT(text.find("raised") == std::string::npos, text.c_str());
  p->set_epsilon_raised_from(0.5);
  p->set_epsilon_raised_at_ms(kNowMs - kDay);
  p->set_epsilon_raised_by_policy("operator-defaults");
  p->set_epsilon_raised_by_version(8);
  text = format_purposes(r);
  CHECK_TEXT(text.find("  The operator raised this budget from 0.5 to 1.0 a day on 2024-04-30 "
                       "10:00 (policy \"operator-defaults\" version 8): more is told about each "
                       "device.\n") != std::string::npos,
             text.c_str());
  p->set_epsilon_per_day(0);  // no budget: no line
  CHECK(format_purposes(r).find("Privacy budget") == std::string::npos);
  STRCMP_EQUAL("0.05", format_epsilon(0.05).c_str());
  STRCMP_EQUAL("2.0", format_epsilon(2).c_str());
  STRCMP_EQUAL("0.13", format_epsilon(0.126).c_str());
}

TEST(format_results, set_consent) {
  control::SetConsentResult r;
  *r.mutable_receipt() =
      receipt_fixture(consent::RECEIPT_REFUSED, consent::SCOPE_DEVICE, "Anna bedroom");
  r.set_spool_records_purged(12);
  STRCMP_EQUAL(
      "Refused Analytics (analytics) for device \"Anna bedroom\": it receives nothing from there "
      "from now on, "
      "and 12 messages waiting to be sent to it were destroyed.\n"
      "Receipt 5f0c6a1e9b2d4c8fa1b2c3d4e5f60718, 2024-05-01 10:00, policy operator-defaults "
      "version 7.\n",
      format_set_consent(r).c_str());
  *r.mutable_receipt() = receipt_fixture(consent::RECEIPT_GRANTED, consent::SCOPE_HOUSEHOLD, "");
  STRCMP_EQUAL(
      "Granted Analytics (analytics) for the whole home.\n"
      "Receipt 5f0c6a1e9b2d4c8fa1b2c3d4e5f60718, 2024-05-01 10:00, policy operator-defaults "
      "version 7.\n",
      format_set_consent(r).c_str());
  *r.mutable_receipt() =
      receipt_fixture(consent::RECEIPT_CLEARED, consent::SCOPE_DEVICE_CLASS, "tasmota-plug");
  r.set_spool_records_purged(0);
  STRCMP_EQUAL(
      "Cleared your decision on Analytics (analytics) for the class tasmota-plug: a wider "
      "decision, or the "
      "purpose's default, applies again.\n"
      "Receipt 5f0c6a1e9b2d4c8fa1b2c3d4e5f60718, 2024-05-01 10:00, policy operator-defaults "
      "version 7.\n",
      format_set_consent(r).c_str());
}

TEST(format_results, pause_and_resume) {
  control::PauseResult r;
  r.set_paused(true);
  r.set_changed(true);
  STRCMP_EQUAL("Paused: nothing leaves the home until you run `portierctl resume`.\n",
               format_pause(r).c_str());
  r.set_changed(false);
  STRCMP_EQUAL("Already paused: nothing leaves the home until you run `portierctl resume`.\n",
               format_pause(r).c_str());
  r.set_paused(false);
  STRCMP_EQUAL("Not paused: purposes already receive data as you decided.\n",
               format_pause(r).c_str());
  r.set_changed(true);
  *r.mutable_receipt() = receipt_fixture(consent::RECEIPT_RESUMED, consent::SCOPE_HOUSEHOLD, "");
  STRCMP_EQUAL(
      "Resumed: purposes receive data again as you decided (`portierctl purposes` shows your "
      "decisions).\n"
      "Receipt 5f0c6a1e9b2d4c8fa1b2c3d4e5f60718, 2024-05-01 10:00, policy operator-defaults "
      "version 7.\n",
      format_pause(r).c_str());
}

TEST(format_results, report) {
  STRCMP_EQUAL(
      "What left the home from 2024-04-24 10:00 to 2024-05-01 10:00\n"
      "(The record only goes back to 2024-04-28 10:00: it starts then, or older entries made room for newer ones.)\n"
      "\n"
      "Anna bedroom - Zigbee sensor\n"
      "  Purpose    Messages    Bytes  Fields\n"
      "  Analytics     1,234  45.6 kB  humidity, temperature\n"
      "  Service          12    340 B  linkquality\n"
      "\n"
      "An erased device - Zigbee sensor\n"
      "  Purpose    Messages    Bytes  Fields\n"
      "  Analytics         3     90 B  temperature\n"
      "\n"
      "In total 1,249 messages, 46.0 kB.\n"
      "\n"
      "Kept at home, by reason:\n"
      "  3,000  not granted by you (consent_refused)\n"
      "    210  from devices the policy does not cover (unmatched_topic)\n",
      format_report(report_fixture()).c_str());
  control::ReportResult empty;
  empty.set_since_ms(kNowMs - kDay);
  empty.set_until_ms(kNowMs);
  STRCMP_EQUAL(
      "What left the home from 2024-04-30 10:00 to 2024-05-01 10:00\n"
      "\n"
      "Nothing left the home in this period.\n",
      format_report(empty).c_str());
}

TEST(format_results, explain) {
  STRCMP_EQUAL(
      "Anna bedroom - Zigbee sensor, latest message, received 2024-05-01 09:59:57\n"
      "\n"
      "The device sent:\n"
      "  zigbee2mqtt/Anna bedroom\n"
      "  {\"temperature\":21.53,\"humidity\":40.2,\"linkquality\":120}\n"
      "\n"
      "Analytics received:\n"
      "  portier/gw-0042/analytics/zigbee2mqtt-device/k3v9q2\n"
      "  {\"temperature\":21.5,\"humidity\":40}\n"
      "\n"
      "Location received nothing: you have not granted it.\n"
      "\n"
      "Service received nothing: the operator has suspended it.\n"
      "\n"
      "Worked out with the running policy (operator-defaults version 7) and your current "
      "decisions.\n",
      format_explain(explain_fixture()).c_str());

  auto dropped = explain_fixture();
  dropped.set_dropped_reason("paused");
  dropped.set_payload_binary(true);
  dropped.clear_payload();
  const std::string text = format_explain(dropped);
  CHECK(
      text.find("The device sent:\n  zigbee2mqtt/Anna bedroom\n  (55 bytes that are not text)\n") !=
      std::string::npos);
  CHECK(text.find("\nNothing of it left the home: sharing is paused.\n") != std::string::npos);
  CHECK(text.find("Analytics received") == std::string::npos);
}

TEST(format_results, export_erase_and_verify) {
  control::ExportResult x;
  x.set_ledger_entries(1);
  x.set_receipts(12);
  STRCMP_EQUAL("Wrote 1 ledger entry and 12 consent receipts to my-data.json.\n",
               format_export(x, "my-data.json").c_str());

  STRCMP_EQUAL(
      "Erased device \"Anna bedroom\":\n"
      "  12 messages waiting to be sent were destroyed.\n"
      "  340 ledger entries no longer say which device they were about.\n"
      "  The operator was asked to erase it too (analytics k3v9q2, service x7mw4t) on "
      "portier/gw-0042/erasure: "
      "the request was delivered.\n",
      format_erase(erase_fixture()).c_str());
  auto queued = erase_fixture();
  queued.set_upstream_acknowledged(false);
  CHECK(format_erase(queued).find(
            "the request waits at home and is sent when the connection is back.\n") !=
        std::string::npos);
  control::EraseResult nothing;
  nothing.set_device_id("new plug");
  STRCMP_EQUAL(
      "Erased device \"new plug\":\n"
      "  0 messages waiting to be sent were destroyed.\n"
      "  0 ledger entries no longer say which device they were about.\n"
      "  Nothing about it had been sent to the operator, so no erasure request was needed.\n",
      format_erase(nothing).c_str());

  control::VerifyLedgerResult v;
  v.set_ok(true);
  v.set_entries_checked(12345);
  v.set_first_seq(1);
  v.set_head_hash("9f86d081884c7d65");
  v.set_receipts_ok(true);
  v.set_receipts_checked(12);
  STRCMP_EQUAL(
      "The ledger is intact: 12,345 entries checked.\n"
      "Last entry's hash: 9f86d081884c7d65\n"
      "Your consent receipts are intact: 12 receipts checked.\n",
      format_verify_ledger(v).c_str());
  v.set_ok(false);
  v.set_first_bad_seq(812);
  v.set_problem("edited");
  v.set_reason("its content does not match its hash");
  v.set_entries_checked(811);
  v.set_receipts_ok(false);
  v.set_receipts_bad_id("abc");
  v.set_receipts_reason("content does not match its hash");
  STRCMP_EQUAL(
      "The ledger is DAMAGED at entry 812 (edited): its content does not match its hash. Keep a "
      "copy with "
      "`portierctl export FILE` and tell your operator.\n"
      "811 entries before it verified.\n"
      "Your consent receipts are DAMAGED at receipt abc: content does not match its hash.\n",
      format_verify_ledger(v).c_str());
}

TEST(format_results, unmatched_shapes) {
  STRCMP_EQUAL(
      "2 kinds of message no device class takes. Shapes only: a topic level or key that may name "
      "someone shows as + or *, and no value is kept.\n"
      "\n"
      "tele/+/SENSOR\n"
      "  1,234 messages, first 2024-05-01 08:00, last 2024-05-01 09:59\n"
      "  Payload: json\n"
      "    ENERGY.Power  number\n"
      "    Time          string or null\n"
      "\n"
      "+/+/state\n"
      "  1 message, first 2024-05-01 10:00, last 2024-05-01 10:00\n"
      "  Payload: text\n"
      "    $  string\n"
      "    (more paths than a shape keeps)\n"
      "\n"
      "At most 256 shapes are kept; 3 forgotten to make room since portierd started.\n"
      "Draft a device class for them: portierctl unmatched --json > shapes.json; portier-policy "
      "suggest shapes.json\n",
      format_unmatched(unmatched_fixture(), false).c_str());
  control::UnmatchedResult none;
  none.set_max_shapes(256);
  STRCMP_EQUAL(
      "No message without a device class seen. (portierd reads the topics of its policy's "
      "classes, and those its configuration names in unmatched.observe.)\n",
      format_unmatched(none, false).c_str());
  none.set_cleared(1);
  STRCMP_EQUAL("Forgot 1 shape of messages no device class takes.\n",
               format_unmatched(none, true).c_str());
  // The status says how many kinds are not covered, and where to look.
  auto status = status_fixture();
  (*status.mutable_counters())["unmatched_shapes"] = 2;
  CHECK(format_status(status).find("Not covered:     2 kinds of message no device class takes "
                                   "(`portierctl unmatched` shows them)\n") != std::string::npos);
  // Erasure forgets the shapes too.
  auto erased = erase_fixture();
  erased.set_unmatched_shapes_cleared(4);
  CHECK(format_erase(erased).find("  4 shapes of messages no device class takes were forgotten "
                                  "too (which of them came from the device cannot be told).\n") !=
        std::string::npos);
}

TEST(format_results, json_has_every_field_under_its_proto_name) {
  control::PauseResult r;
  r.set_changed(true);
  STRCMP_EQUAL("{\n \"paused\": false,\n \"changed\": true\n}\n", to_json(r).c_str());
  const std::string status = to_json(status_fixture());
  control::StatusResult back;
  CHECK_TRUE(google::protobuf::util::JsonStringToMessage(status, &back).ok());
  CHECK_EQUAL(12345u, back.counters().at("received"));
  CHECK(status.find("\"upstream_connected\": false") != std::string::npos);
}
