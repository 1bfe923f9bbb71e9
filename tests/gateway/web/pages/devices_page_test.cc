// GET /devices, GET /device?id=, GET /erase?device=, POST /erase.
#include "fake_daemon.h"
#include "gateway/web/app.h"

#include <CppUTest/TestHarness.h>

using namespace portier;
using namespace portier::gateway::web;
using namespace portier::gateway::web::testing;

TEST_GROUP(devices_page) {
  fake_daemon daemon;
  void setup() override {
    daemon.fill_household();
  }
};

TEST(devices_page, lists_every_device_with_a_link_to_its_page) {
  const auto r = handle_app(get("/devices"), daemon.call());
  CHECK_EQUAL(200, r.status);
  CHECK(r.body.find("<a href=\"/device?id=Anna%20bedroom\">Anna bedroom</a>") != std::string::npos);
  CHECK(r.body.find("<a href=\"/device?id=%3Cscript%3Ealert%281%29%3C%2Fscript%3E\">&lt;script&gt;"
                    "alert(1)&lt;/script&gt;</a>") != std::string::npos);
  CHECK(r.body.find("Zigbee sensor · last message 5 minutes ago · 1,234 messages since the box "
                    "started") != std::string::npos);
  CHECK(r.body.find("Shares with: Analytics, Service.") != std::string::npos);
  CHECK(r.body.find("<script") == std::string::npos);
}

TEST(devices_page, no_device_yet_is_said) {
  daemon.answer(control::Request::kDevices, "devices {}");
  const auto r = handle_app(get("/devices", language::fr), daemon.call());
  CHECK(r.body.find("Aucun appareil n’a encore été vu.") != std::string::npos);
}

TEST(devices_page, a_device_shows_its_message_as_sent_beside_what_left_per_purpose) {
  const auto r = handle_app(get("/device?id=Anna+bedroom"), daemon.call());
  CHECK_EQUAL(200, r.status);
  STRCMP_EQUAL("Anna bedroom", daemon.requests.front().explain().device().c_str());
  CHECK(r.body.find("<h1>Anna bedroom</h1>") != std::string::npos);
  CHECK(r.body.find("<code>zigbee2mqtt/Anna bedroom</code>") != std::string::npos);
  CHECK(r.body.find("<pre>{&quot;temperature&quot;:21.53,&quot;humidity&quot;:40.2}</pre>") !=
        std::string::npos);
  CHECK(r.body.find("<code>portier/gw-1/analytics/sensor/k3v9q2</code></p>\n<pre>{&quot;"
                    "temperature&quot;:21.5}</pre>") != std::string::npos);
  CHECK(r.body.find("Received nothing: you have not allowed it.") != std::string::npos);
  CHECK(r.body.find("<p class=\"decision is-granted\">Allowed (your decision for the home)</p>") !=
        std::string::npos);
  CHECK(r.body.find("<a href=\"/erase?device=Anna%20bedroom\">Erase Anna bedroom…</a>") !=
        std::string::npos);
  // Its toggles come back to this page.
  CHECK(r.body.find("name=\"back\" value=\"/device?id=Anna%20bedroom\"") != std::string::npos);
}

// A purpose that receives only window summaries gets nothing per message: the page says so
// rather than showing an empty box (seen in the Selenium test's screenshot).
TEST(devices_page, an_aggregated_purpose_says_its_values_leave_as_a_summary) {
  daemon.answer(
      control::Request::kExplain,
      "explain { device_id: \"Anna bedroom\" topic: \"zigbee2mqtt/Anna bedroom\" payload: "
      "\"{}\" purpose { purpose_id: \"analytics\" title: \"Analytics\" released: true "
      "topic: \"portier/gw-1/analytics/sensor/k3v9q2\" } }");
  const auto r = handle_app(get("/device?id=Anna+bedroom"), daemon.call());
  CHECK(r.body.find("leave only as a summary") != std::string::npos);
  CHECK(r.body.find("<pre></pre>") == std::string::npos);
}

TEST(devices_page, a_binary_message_is_not_shown) {
  daemon.answer(control::Request::kExplain,
                "explain { device_id: \"cam\" payload_binary: true payload_bytes: 2048 }");
  const auto r = handle_app(get("/device?id=cam"), daemon.call());
  CHECK(r.body.find("Binary content, 2.0 kB: not shown.") != std::string::npos);
}

TEST(devices_page, a_device_silent_since_the_start_can_still_be_erased) {
  daemon.answer(control::Request::kExplain,
                "code: NOT_FOUND message: \"That device has not sent anything.\"");
  const auto r = handle_app(get("/device?id=x"), daemon.call());
  CHECK_EQUAL(200, r.status);
  CHECK(r.body.find("It has sent nothing since the box started") != std::string::npos);
  CHECK(r.body.find("<a href=\"/erase?device=x\">Erase x…</a>") != std::string::npos);
}

TEST(devices_page, a_failing_explain_or_a_missing_device_is_said_plainly) {
  daemon.answer(control::Request::kExplain, "code: INTERNAL message: \"evaluator <gone>\"");
  auto r = handle_app(get("/device?id=x"), daemon.call());
  CHECK_EQUAL(502, r.status);
  CHECK(r.body.find("evaluator &lt;gone&gt;") != std::string::npos);
  r = handle_app(get("/device"), daemon.call());
  CHECK_EQUAL(400, r.status);
  r = handle_app(get("/device?id=" + std::string(300, 'a')), daemon.call());
  CHECK_EQUAL(400, r.status);
}

TEST(devices_page, erase_asks_first_with_a_form_that_confirms) {
  const auto r = handle_app(get("/erase?device=%3Cb%3EBob"), daemon.call());
  CHECK_EQUAL(200, r.status);
  CHECK(daemon.requests.empty());
  CHECK(r.body.find("<h1>Erase &lt;b&gt;Bob?</h1>") != std::string::npos);
  CHECK(r.body.find("action=\"/erase\"") != std::string::npos);
  CHECK(r.body.find("<input type=\"hidden\" name=\"device\" value=\"&lt;b&gt;Bob\"><input "
                    "type=\"hidden\" name=\"confirm\" value=\"yes\">") != std::string::npos);
  CHECK(r.body.find(">Yes, erase &lt;b&gt;Bob</button>") != std::string::npos);
  CHECK(r.body.find("This cannot be undone.") != std::string::npos);
  CHECK(r.body.find("<a href=\"/device?id=%3Cb%3EBob\">No, keep it</a>") != std::string::npos);
}

TEST(devices_page, erase_without_confirmation_erases_nothing) {
  auto r = handle_app(post("/erase", {{"device", "Anna bedroom"}}), daemon.call());
  CHECK_EQUAL(303, r.status);
  STRCMP_EQUAL("/erase?device=Anna%20bedroom", r.location.c_str());
  r = handle_app(post("/erase", {{"device", "Anna bedroom"}, {"confirm", "no"}}), daemon.call());
  CHECK_EQUAL(303, r.status);
  CHECK_EQUAL(0, daemon.count(control::Request::kErase));
  r = handle_app(post("/erase", {{"confirm", "yes"}}), daemon.call());
  CHECK_EQUAL(400, r.status);
  CHECK_EQUAL(0, daemon.count(control::Request::kErase));
}

TEST(devices_page, erase_with_confirmation_erases_and_says_so) {
  auto r =
      handle_app(post("/erase", {{"device", "Anna bedroom"}, {"confirm", "yes"}}), daemon.call());
  CHECK_EQUAL(303, r.status);
  CHECK_EQUAL(1, daemon.count(control::Request::kErase));
  STRCMP_EQUAL("Anna bedroom", daemon.requests.back().erase().device().c_str());
  STRCMP_EQUAL("/devices?erased=Anna%20bedroom&upstream=sent", r.location.c_str());
  r = handle_app(get(r.location), daemon.call());
  CHECK(r.body.find("Anna bedroom was erased") != std::string::npos);
  CHECK(r.body.find("The operator was asked to erase it too.") != std::string::npos);

  daemon.answer(control::Request::kErase, "erase { device_id: \"Anna bedroom\" }");
  r = handle_app(post("/erase", {{"device", "Anna bedroom"}, {"confirm", "yes"}}), daemon.call());
  STRCMP_EQUAL("/devices?erased=Anna%20bedroom&upstream=waiting", r.location.c_str());
  r = handle_app(get(r.location), daemon.call());
  CHECK(r.body.find("waits at home") != std::string::npos);
}
