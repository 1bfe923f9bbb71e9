// The pages outside a session: the pairing form and the server's error pages (app.h).
#include "gateway/web/pages/html.h"
#include "gateway/web/pages/layout.h"
#include "gateway/web/pages/texts.h"

namespace portier::gateway::web {

namespace {

std::string problem_text(const texts& t, login_problem problem, int retry_after_seconds) {
  switch (problem) {
    case login_problem::none:
      return {};
    case login_problem::wrong_code:
      return std::string(t.wrong_code);
    case login_problem::slow_down:
      return fill(t.slow_down, {std::to_string(retry_after_seconds > 0 ? retry_after_seconds : 1)});
    case login_problem::codes_voided:
      return std::string(t.codes_voided);
    case login_problem::expired:
      return std::string(t.expired);
    case login_problem::unavailable:
      return std::string(t.unavailable);
  }
  return {};
}

}  // namespace

std::string login_page(language lang, login_problem problem, int retry_after_seconds,
                       const std::string& login_token) {
  const texts& t = texts_for(lang);
  std::string body;
  const std::string problem_words = problem_text(t, problem, retry_after_seconds);
  if (!problem_words.empty()) {
    body += "<p class=\"problem\" role=\"alert\">" + escape(problem_words) + "</p>\n";
  }
  body += "<p>" + escape(t.login_intro) + "</p>\n<form method=\"post\" action=\"/login\">" +
          hidden("login_token", login_token) + "\n<label for=\"code\">" + escape(t.code_label) +
          "</label>\n<input type=\"text\" id=\"code\" name=\"code\" required maxlength=\"32\" "
          "autocomplete=\"one-time-code\" inputmode=\"text\" autocapitalize=\"characters\" "
          "spellcheck=\"false\" aria-describedby=\"code-hint\">\n<p class=\"hint\" "
          "id=\"code-hint\">" +
          escape(t.code_hint) + "</p>\n" + button(t.login_button, "big") + "\n</form>\n";
  return bare_page(t, t.login_title, body);
}

std::string error_page(language lang, int status) {
  const texts& t = texts_for(lang);
  const std::string body =
      "<p>" + escape(error_text(t, status)) + "</p>\n<p>" + link("/", t.go_home) + "</p>\n";
  return bare_page(t, fill(t.error_heading, {std::to_string(status)}), body);
}

}  // namespace portier::gateway::web
