// What every page of a session has in common: the routes, the frame, the CSRF field in every
// form, no script and no inline style, the control failures.
#include <string>
#include <vector>

#include "fake_daemon.h"
#include "gateway/web/app.h"
#include "markup_check.h"

#include <CppUTest/TestHarness.h>

using namespace portier;
using namespace portier::gateway::web;
using namespace portier::gateway::web::testing;

namespace {

const std::vector<std::string> kPages = {"/",
                                         "/?span=week",
                                         "/?span=month",
                                         "/purposes",
                                         "/devices",
                                         "/device?id=Anna+bedroom",
                                         "/erase?device=Anna+bedroom",
                                         "/receipts",
                                         "/export",
                                         "/updates",
                                         "/devices?erased=Anna+bedroom&upstream=sent"};

}  // namespace

TEST_GROUP(app_routes) {
  fake_daemon daemon;
  void setup() override {
    daemon.fill_household();
  }
};

TEST(app_routes, every_page_answers_with_a_complete_page_in_the_frame) {
  for (const language lang : {language::en, language::fr}) {
    for (const auto& target : kPages) {
      const auto r = handle_app(get(target, lang), daemon.call());
      CHECK_EQUAL_TEXT(200, r.status, target.c_str());
      STRCMP_EQUAL("text/html; charset=utf-8", r.content_type.c_str());
      CHECK_TEXT(r.body.rfind("<!DOCTYPE html>", 0) == 0, target.c_str());
      CHECK(r.body.find("name=\"viewport\"") != std::string::npos);
      CHECK(r.body.find("<link rel=\"stylesheet\" href=\"/style.css\">") != std::string::npos);
      CHECK(r.body.find("<a class=\"skip\" href=\"#main\">") != std::string::npos);
      CHECK(r.body.find("<main id=\"main\"") != std::string::npos);
      CHECK_EQUAL_TEXT(1, occurrences(r.body, "<h1>"), target.c_str());
      CHECK(r.body.find("action=\"/logout\"") != std::string::npos);
      CHECK(r.body.find("action=\"/logout-all\"") != std::string::npos);
      CHECK(r.body.find("</html>") != std::string::npos);
      STRCMP_EQUAL_TEXT("", markup_problem(r.body).c_str(), target.c_str());
    }
  }
}

TEST(app_routes, every_form_carries_the_csrf_token_and_no_page_has_script_or_inline_style) {
  for (const language lang : {language::en, language::fr}) {
    for (const auto& target : kPages) {
      const auto r = handle_app(get(target, lang), daemon.call());
      const int forms = occurrences(r.body, "<form");
      CHECK_TEXT(forms >= 2, target.c_str());
      CHECK_EQUAL_TEXT(
          forms,
          occurrences(r.body,
                      std::string("<input type=\"hidden\" name=\"csrf\" value=\"") + kCsrf + "\">"),
          target.c_str());
      CHECK_EQUAL_TEXT(forms, occurrences(r.body, "method=\"post\""), target.c_str());
      CHECK_EQUAL_TEXT(0, occurrences(r.body, "style="), target.c_str());
      CHECK_EQUAL_TEXT(0, occurrences(r.body, "<script"), target.c_str());
      CHECK_EQUAL_TEXT(0, occurrences(r.body, "javascript:"), target.c_str());
      CHECK_EQUAL_TEXT(0, occurrences(r.body, "http://") - occurrences(r.body, "xmlns=\"http://"),
                       target.c_str());
      CHECK_EQUAL_TEXT(0, occurrences(r.body, "https://"), target.c_str());
    }
  }
}

TEST(app_routes, every_control_request_says_it_comes_from_the_web_page) {
  for (const auto& target : kPages) (void)handle_app(get(target), daemon.call());
  CHECK(daemon.requests.size() > 10);
  for (const auto& r : daemon.requests) STRCMP_EQUAL("web", r.method().c_str());
}

TEST(app_routes, unknown_paths_are_404_and_wrong_methods_405) {
  auto r = handle_app(get("/nope"), daemon.call());
  CHECK_EQUAL(404, r.status);
  CHECK(r.body.find("There is no such page.") != std::string::npos);
  r = handle_app(get("/pause"), daemon.call());
  CHECK_EQUAL(405, r.status);
  CHECK_EQUAL(0, daemon.count(control::Request::kPause));
  r = handle_app(post("/purposes"), daemon.call());
  CHECK_EQUAL(405, r.status);
  r = handle_app(post("/"), daemon.call());
  CHECK_EQUAL(405, r.status);
  CHECK(r.body.find("does not take that kind of request") != std::string::npos);
  r = handle_app(get("/nope", language::fr), daemon.call());
  CHECK(r.body.find("Cette page n’existe pas.") != std::string::npos);
}

TEST(app_routes, the_stylesheet_is_served_as_css_with_a_visible_focus) {
  const auto r = handle_app(get("/style.css"), daemon.call());
  CHECK_EQUAL(200, r.status);
  STRCMP_EQUAL("text/css; charset=utf-8", r.content_type.c_str());
  CHECK(r.body == std::string(app_stylesheet()));
  CHECK(r.body.find(":focus-visible") != std::string::npos);
  CHECK(r.body.find("url(") == std::string::npos);  // no asset from anywhere
  CHECK(r.body.find("@import") == std::string::npos);
  CHECK(daemon.requests.empty());
}

TEST(app_routes, french_pages_speak_french) {
  auto r = handle_app(get("/", language::fr), daemon.call());
  CHECK(r.body.find("<html lang=\"fr\">") != std::string::npos);
  CHECK(r.body.find("Ce qui sort de chez moi") != std::string::npos);
  CHECK(r.body.find("Mettre tout le partage en pause") != std::string::npos);
  CHECK(r.body.find("Se déconnecter partout") != std::string::npos);
  CHECK(r.body.find("Aller au contenu") != std::string::npos);
  CHECK(r.body.find("1\u00a0234") != std::string::npos);  // 1,234 messages, the French way
  CHECK(r.body.find("Pause all sharing") == std::string::npos);
  r = handle_app(get("/purposes", language::fr), daemon.call());
  CHECK(r.body.find("Votre consentement") != std::string::npos);
  r = handle_app(get("/", language::en), daemon.call());
  CHECK(r.body.find("<html lang=\"en\">") != std::string::npos);
  CHECK(r.body.find("What left my home") != std::string::npos);
}

TEST(app_routes, a_daemon_that_cannot_answer_gives_a_page_saying_so) {
  fake_daemon down;  // answers nothing: UNAVAILABLE with a sentence
  for (const auto& target : kPages) {
    if (target == "/export" || target.rfind("/erase", 0) == 0) continue;  // no control call
    const auto r = handle_app(get(target), down.call());
    CHECK_EQUAL_TEXT(503, r.status, target.c_str());
    CHECK(r.body.find("cannot do it right now") != std::string::npos);
    CHECK(r.body.find("portierd is not answering.") != std::string::npos);
    CHECK(r.body.find("action=\"/logout\"") != std::string::npos);
  }
}

TEST(app_routes, an_internal_fault_or_a_wrong_answer_is_a_502_page) {
  daemon.answer(control::Request::kPurposes, "code: INTERNAL message: \"ledger <broken>\"");
  auto r = handle_app(get("/"), daemon.call());
  CHECK_EQUAL(502, r.status);
  CHECK(r.body.find("Something went wrong inside the box") != std::string::npos);
  CHECK(r.body.find("ledger &lt;broken&gt;") != std::string::npos);
  // OK, but the answer to another command.
  daemon.answer(control::Request::kPurposes, "status { version: \"1\" }");
  r = handle_app(get("/"), daemon.call());
  CHECK_EQUAL(502, r.status);
  daemon.answer(control::Request::kPolicyHistory, "code: PERMISSION_DENIED");
  r = handle_app(get("/updates", language::fr), daemon.call());
  CHECK_EQUAL(502, r.status);
  CHECK(r.body.find("Le boîtier n’a pas pu répondre") != std::string::npos);
}

TEST(app_routes, a_control_call_that_throws_is_a_503_page_not_a_crash) {
  const control_call throwing = [](const control::Request&) -> control::Response {
    throw std::runtime_error("socket gone");
  };
  const auto r = handle_app(get("/devices"), throwing);
  CHECK_EQUAL(503, r.status);
}
