// login_page and error_page: what the server shows outside a session.
#include "fake_daemon.h"
#include "gateway/web/app.h"
#include "markup_check.h"

#include <CppUTest/TestHarness.h>

using namespace portier::gateway::web;
using namespace portier::gateway::web::testing;

TEST_GROUP(outside_pages){};

TEST(outside_pages, the_pairing_form_is_labelled_and_carries_the_login_token) {
  const std::string p = login_page(language::en, login_problem::none, 0, "tok\"en");
  CHECK(p.find("<html lang=\"en\">") != std::string::npos);
  CHECK(p.find("<form method=\"post\" action=\"/login\">") != std::string::npos);
  CHECK(p.find("<input type=\"hidden\" name=\"login_token\" value=\"tok&quot;en\">") !=
        std::string::npos);
  CHECK(p.find("<label for=\"code\">Pairing code</label>") != std::string::npos);
  CHECK(p.find("<input type=\"text\" id=\"code\" name=\"code\"") != std::string::npos);
  CHECK(p.find("autocomplete=\"one-time-code\"") != std::string::npos);
  CHECK(p.find("inputmode=\"text\"") != std::string::npos);
  CHECK(p.find("portierctl pair") != std::string::npos);
  CHECK(p.find("role=\"alert\"") == std::string::npos);
  CHECK(p.find("style=") == std::string::npos);
  CHECK(p.find("<script") == std::string::npos);
  CHECK(p.find("name=\"csrf\"") == std::string::npos);
  STRCMP_EQUAL("", markup_problem(p).c_str());
}

TEST(outside_pages, each_login_problem_is_said) {
  CHECK(login_page(language::en, login_problem::wrong_code, 0, "t")
            .find("That code is wrong, already used or expired.") != std::string::npos);
  CHECK(login_page(language::en, login_problem::slow_down, 42, "t")
            .find("Too many attempts: try again in 42 seconds.") != std::string::npos);
  CHECK(login_page(language::en, login_problem::codes_voided, 0, "t")
            .find("every code is now void") != std::string::npos);
  CHECK(login_page(language::en, login_problem::expired, 0, "t").find("Your session ended.") !=
        std::string::npos);
  CHECK(login_page(language::en, login_problem::unavailable, 0, "t")
            .find("cannot be reached right now") != std::string::npos);
  const std::string fr = login_page(language::fr, login_problem::slow_down, 30, "t");
  CHECK(fr.find("<html lang=\"fr\">") != std::string::npos);
  CHECK(fr.find("Trop d’essais : réessayez dans 30 secondes.") != std::string::npos);
  CHECK(fr.find("<label for=\"code\">Code d’association</label>") != std::string::npos);
}

TEST(outside_pages, error_pages_say_what_went_wrong) {
  const std::string p = error_page(language::en, 403);
  CHECK(p.find("<title>Error 403 · Portier</title>") != std::string::npos);
  CHECK(p.find("This is not allowed.") != std::string::npos);
  CHECK(p.find("<form") == std::string::npos);
  STRCMP_EQUAL("", markup_problem(p).c_str());
  CHECK(error_page(language::en, 413).find("The request is too large.") != std::string::npos);
  CHECK(error_page(language::en, 429).find("Too many requests") != std::string::npos);
  CHECK(error_page(language::fr, 404).find("Cette page n’existe pas.") != std::string::npos);
  CHECK(error_page(language::en, 418).find("Something went wrong.") != std::string::npos);
  // A wrong Host (DNS rebinding, or an old bookmark) says where the page is.
  CHECK(error_page(language::en, 421).find("does not answer at this address") != std::string::npos);
}
