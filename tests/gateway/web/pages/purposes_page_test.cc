// GET /purposes and POST /consent.
#include "fake_daemon.h"
#include "gateway/web/app.h"

#include <CppUTest/TestHarness.h>

using namespace portier;
using namespace portier::gateway::web;
using namespace portier::gateway::web::testing;

TEST_GROUP(purposes_page) {
  fake_daemon daemon;
  void setup() override {
    daemon.fill_household();
  }
};

TEST(purposes_page, each_purpose_says_what_it_is_for_its_basis_what_it_receives_and_the_decision) {
  const auto r = handle_app(get("/purposes"), daemon.call());
  CHECK_EQUAL(200, r.status);
  CHECK(r.body.find("<h2 id=\"purpose-0\">Analytics</h2>\n<p>Improves the heating schedule.</p>") !=
        std::string::npos);
  CHECK(r.body.find("Your consent: it receives nothing until you allow it.") != std::string::npos);
  CHECK(r.body.find("Your contract with the operator") != std::string::npos);
  CHECK(r.body.find("From Zigbee sensor: temperature rounded to 0.5 °C, humidity") !=
        std::string::npos);
  CHECK(r.body.find("Allowed (decided 4 Dec 2026, 16:00, on this page)") != std::string::npos);
  CHECK(r.body.find("Allowed (the default: you have not decided)") != std::string::npos);
  CHECK(r.body.find("Where people are: it always needs your explicit permission.") !=
        std::string::npos);
  CHECK(r.body.find("The operator has stopped this purpose") != std::string::npos);
  CHECK(r.body.find("Every Zigbee sensor: Refused") != std::string::npos);
  CHECK(r.body.find("Purposes of the policy defaults, version 7.") != std::string::npos);
}

TEST(purposes_page, a_privacy_budget_is_shown_and_its_raise_flagged) {
  auto r = handle_app(get("/purposes"), daemon.call());
  CHECK(r.body.find("at most ε 1.0 a day per device. Today the most any device spent is ε 0.25.") !=
        std::string::npos);
  CHECK(r.body.find("<p class=\"flag big-flag\">The operator raised this budget from ε 0.5 to ε "
                    "1.0 a day on 4 Dec 2026, 16:00 (policy defaults, version 7)") !=
        std::string::npos);
  CHECK_EQUAL(1, occurrences(r.body, "Privacy budget"));  // analytics has none
  r = handle_app(get("/purposes", language::fr), daemon.call());
  CHECK(r.body.find("au plus ε 1,0 par jour") != std::string::npos);
}

TEST(purposes_page, toggles_are_forms_for_the_home_and_for_each_device) {
  const auto r = handle_app(get("/purposes"), daemon.call());
  // The home allows analytics: the toggle refuses it, and the recorded decision can be cleared.
  CHECK(r.body.find("<input type=\"hidden\" name=\"purpose\" value=\"analytics\"><input "
                    "type=\"hidden\" name=\"decision\" value=\"refuse\"><input type=\"hidden\" "
                    "name=\"scope\" value=\"household\"><input type=\"hidden\" name=\"value\" "
                    "value=\"\"><input type=\"hidden\" name=\"back\" value=\"/purposes\">") !=
        std::string::npos);
  CHECK(r.body.find(">Refuse for the whole home</button>") != std::string::npos);
  CHECK(r.body.find(">Back to the default</button>") != std::string::npos);
  // Location is refused for the home: the toggle allows it.
  CHECK(r.body.find("aria-label=\"Allow for the whole home: Location\"") != std::string::npos);
  // Per device, named as text even when it looks like markup.
  CHECK(r.body.find("<span class=\"device\">&lt;script&gt;alert(1)&lt;/script&gt;</span>") !=
        std::string::npos);
  CHECK(r.body.find("aria-label=\"Allow Analytics for &lt;script&gt;alert(1)&lt;/script&gt;\"") !=
        std::string::npos);
  CHECK(r.body.find("aria-label=\"Refuse Analytics for Anna bedroom\"") != std::string::npos);
  CHECK(r.body.find("name=\"scope\" value=\"device\"><input type=\"hidden\" name=\"value\" "
                    "value=\"Anna bedroom\">") != std::string::npos);
  // Only the device with its own decision can go back to the home's.
  CHECK_EQUAL(1, occurrences(r.body, ">Follow the home’s decision</button>"));
  CHECK(r.body.find("<script") == std::string::npos);
}

TEST(purposes_page, consent_sends_the_decision_then_goes_back) {
  const auto r = handle_app(post("/consent", {{"purpose", "analytics"},
                                              {"decision", "refuse"},
                                              {"scope", "device"},
                                              {"value", "Anna bedroom"},
                                              {"back", "/device?id=Anna%20bedroom"}}),
                            daemon.call());
  CHECK_EQUAL(303, r.status);
  STRCMP_EQUAL("/device?id=Anna%20bedroom", r.location.c_str());
  const auto& sc = daemon.requests.back().set_consent();
  STRCMP_EQUAL("analytics", sc.purpose().c_str());
  CHECK_EQUAL(control::DECISION_REFUSE, sc.decision());
  CHECK_EQUAL(consent::SCOPE_DEVICE, sc.scope());
  STRCMP_EQUAL("Anna bedroom", sc.value().c_str());
  STRCMP_EQUAL("web", daemon.requests.back().method().c_str());
}

TEST(purposes_page, consent_for_the_home_or_a_class_and_never_back_to_another_site) {
  auto r = handle_app(post("/consent", {{"purpose", "analytics"},
                                        {"decision", "grant"},
                                        {"scope", "household"},
                                        {"value", "ignored"},
                                        {"back", "//evil.example/"}}),
                      daemon.call());
  CHECK_EQUAL(303, r.status);
  STRCMP_EQUAL("/purposes", r.location.c_str());
  CHECK_EQUAL(consent::SCOPE_HOUSEHOLD, daemon.requests.back().set_consent().scope());
  STRCMP_EQUAL("", daemon.requests.back().set_consent().value().c_str());
  r = handle_app(post("/consent", {{"purpose", "analytics"},
                                   {"decision", "clear"},
                                   {"scope", "class"},
                                   {"value", "sensor"}}),
                 daemon.call());
  STRCMP_EQUAL("/purposes", r.location.c_str());
  CHECK_EQUAL(control::DECISION_CLEAR, daemon.requests.back().set_consent().decision());
  CHECK_EQUAL(consent::SCOPE_DEVICE_CLASS, daemon.requests.back().set_consent().scope());
}

TEST(purposes_page, a_malformed_consent_is_400_and_sends_nothing) {
  const std::vector<std::vector<std::pair<std::string, std::string>>> bad = {
      {{"purpose", "analytics"}, {"decision", "maybe"}, {"scope", "household"}},
      {{"purpose", "analytics"}, {"decision", "grant"}, {"scope", "planet"}},
      {{"decision", "grant"}, {"scope", "household"}},
  };
  for (const auto& form : bad) {
    const auto r = handle_app(post("/consent", form), daemon.call());
    CHECK_EQUAL(400, r.status);
  }
  CHECK_EQUAL(0, daemon.count(control::Request::kSetConsent));
}

TEST(purposes_page, a_refused_consent_shows_the_daemons_reason) {
  daemon.answer(control::Request::kSetConsent,
                "code: NOT_FOUND message: \"No purpose called \\\"analitics\\\".\"");
  const auto r = handle_app(
      post("/consent", {{"purpose", "analitics"}, {"decision", "grant"}, {"scope", "household"}}),
      daemon.call());
  CHECK_EQUAL(404, r.status);
  CHECK(r.body.find("No purpose called &quot;analitics&quot;.") != std::string::npos);
}
