#include "gateway/web/pages/layout.h"

#include <array>

#include "gateway/web/pages/html.h"

namespace portier::gateway::web {

namespace {

std::string head(const texts& t, std::string_view title) {
  return "<!DOCTYPE html>\n<html lang=\"" + std::string(t.lang_tag) +
         "\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
         "<meta name=\"referrer\" content=\"same-origin\">\n<title>" +
         escape(title) + " · " + escape(t.brand) +
         "</title>\n<link rel=\"stylesheet\" href=\"/style.css\">\n</head>\n<body>\n"
         "<a class=\"skip\" href=\"#main\">" +
         escape(t.skip_link) + "</a>\n";
}

std::string navigation(const page_context& c, std::string_view current) {
  const texts& t = c.t;
  const std::array<std::pair<std::string_view, std::string_view>, 6> entries = {{
      {"/", t.nav_home},
      {"/purposes", t.nav_purposes},
      {"/devices", t.nav_devices},
      {"/receipts", t.nav_receipts},
      {"/export", t.nav_export},
      {"/updates", t.nav_updates},
  }};
  std::string out = "<header class=\"top\">\n<p class=\"brand\">" + escape(t.brand) +
                    "</p>\n<nav aria-label=\"" + escape(t.nav_label) + "\">\n<ul class=\"nav\">\n";
  for (const auto& [path, label] : entries) {
    out += "<li><a href=\"" + std::string(path) + "\"";
    if (path == current) out += " aria-current=\"page\"";
    out += ">" + escape(label) + "</a></li>\n";
  }
  out += "</ul>\n</nav>\n</header>\n";
  return out;
}

std::string session_forms(const page_context& c) {
  const std::string& csrf = c.request.csrf_token;
  return "<footer class=\"session\" aria-label=\"" + escape(c.t.session_label) + "\">\n" +
         form_open("/logout", csrf, "inline") + button(c.t.log_out, "quiet") + "</form>\n" +
         form_open("/logout-all", csrf, "inline") + button(c.t.log_out_everywhere, "quiet") +
         "</form>\n</footer>\n";
}

}  // namespace

std::string session_page(const page_context& c, std::string_view current, std::string_view title,
                         std::string_view body) {
  return head(c.t, title) + navigation(c, current) + "<main id=\"main\" tabindex=\"-1\">\n<h1>" +
         escape(title) + "</h1>\n" + std::string(body) + "</main>\n" + session_forms(c) +
         "</body>\n</html>\n";
}

std::string bare_page(const texts& t, std::string_view title, std::string_view body) {
  return head(t, title) + "<header class=\"top\">\n<p class=\"brand\">" + escape(t.brand) +
         "</p>\n</header>\n<main id=\"main\" tabindex=\"-1\">\n<h1>" + escape(title) + "</h1>\n" +
         std::string(body) + "</main>\n</body>\n</html>\n";
}

app_response html(int status, std::string body) {
  app_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

app_response see_other(std::string location) {
  app_response r;
  r.status = 303;
  r.location = std::move(location);
  return r;
}

app_response session_error(const page_context& c, int status) {
  const std::string body =
      "<p>" + escape(error_text(c.t, status)) + "</p>\n<p>" + link("/", c.t.go_home) + "</p>\n";
  return html(status, session_page(c, "", fill(c.t.error_heading, {std::to_string(status)}), body));
}

std::string_view error_text(const texts& t, int status) {
  switch (status) {
    case 400:
      return t.error_400;
    case 403:
      return t.error_403;
    case 404:
      return t.error_404;
    case 405:
      return t.error_405;
    case 408:
      return t.error_408;
    case 413:
      return t.error_413;
    case 414:
      return t.error_414;
    case 421:
      return t.error_421;
    case 429:
      return t.error_429;
    case 500:
      return t.error_500;
    case 502:
      return t.error_502;
    case 503:
      return t.error_503;
    default:
      return t.error_other;
  }
}

}  // namespace portier::gateway::web
