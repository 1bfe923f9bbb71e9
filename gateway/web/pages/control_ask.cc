#include "gateway/web/pages/control_ask.h"

#include <exception>

#include "gateway/web/pages/html.h"
#include "gateway/web/pages/layout.h"

namespace portier::gateway::web {

namespace {

app_response failure_page(const page_context& c, const control::Response& r) {
  int status = 502;
  std::string_view sentence = c.t.failed_internal;
  switch (r.code()) {
    case control::Response::UNAVAILABLE:
      status = 503;
      sentence = c.t.failed_unavailable;
      break;
    case control::Response::NOT_FOUND:
      status = 404;
      sentence = c.t.failed_not_found;
      break;
    case control::Response::INVALID_REQUEST:
      status = 400;
      sentence = c.t.failed_invalid;
      break;
    default:
      break;
  }
  std::string body = "<p class=\"problem\">" + escape(sentence) + "</p>\n";
  // portierd's sentence is English only; it names what went wrong exactly.
  if (!r.message().empty()) {
    body += "<p>" + escape(fill(c.t.box_said, {r.message().substr(0, 1024)})) + "</p>\n";
  }
  body += "<p>" + link("/", c.t.go_home) + "</p>\n";
  return html(status, session_page(c, "", c.t.failed_title, body));
}

}  // namespace

control_answer ask(const page_context& c, control::Request request) {
  request.set_method("web");
  control_answer a;
  try {
    a.response = c.call(request);
  } catch (const std::exception&) {
    a.response.Clear();
    a.response.set_code(control::Response::UNAVAILABLE);
  }
  if (a.response.code() == control::Response::OK &&
      static_cast<int>(a.response.result_case()) != static_cast<int>(request.command_case())) {
    // An OK without the answer to this command: a daemon this page does not understand.
    a.response.set_code(control::Response::INTERNAL);
  }
  if (a.response.code() != control::Response::OK) a.failure = failure_page(c, a.response);
  return a;
}

}  // namespace portier::gateway::web
