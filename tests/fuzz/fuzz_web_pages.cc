// Fuzz target: the LAN page's application layer (gateway/web/pages/), a session's request and
// whatever portierd answers, rendered.
//
// Input: the first line is "METHOD TARGET" ("GET /device?id=Anna"; the query, or for a POST the
// text after TARGET's '?', gives the fields, split at '&' and '=' without decoding); the second
// line is "en" or "fr"; the rest is portierd's answers, text-format control::Response messages
// separated by lines "--next--". A request gets the first answer that carries its command's result,
// else the first failure, else UNAVAILABLE.
//
// Checked on every response: a status from 200 to 599; a Location exactly on 303, and always a
// local path; a download only as the export's JSON; on an HTML page no script, no inline style,
// the CSRF field in every form, elements closed in order and ids unique; every control request
// made with method "web".
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/text_format.h>

#include "gateway/web/app.h"
#include "gateway/web/pages/html.h"
#include "markup_check.h"

namespace {

namespace web = portier::gateway::web;
namespace control = portier::control;

constexpr std::string_view kCsrf = "csrf-T0k3n";

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "\n*** INVARIANT VIOLATED: %s\n", what);
  std::abort();
}

std::string_view next_line(std::string_view& in) {
  const auto nl = in.find('\n');
  const std::string_view line = in.substr(0, nl);
  in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
  return line;
}

std::vector<std::pair<std::string, std::string>> fields(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty() && out.size() < 64) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    out.emplace_back(std::string(pair.substr(0, eq)),
                     eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
  }
  return out;
}

int count(const std::string& hay, std::string_view needle) {
  int n = 0;
  for (auto pos = hay.find(needle); pos != std::string::npos; pos = hay.find(needle, pos + 1)) ++n;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const google::protobuf::LogSilencer quiet;  // text-format errors are expected
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string_view first = next_line(in);
  const std::string_view lang = next_line(in);

  web::app_request request;
  const auto space = first.find(' ');
  request.method = std::string(first.substr(0, space));
  const std::string_view target =
      space == std::string_view::npos ? std::string_view{} : first.substr(space + 1);
  const auto question = target.find('?');
  request.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) request.params = fields(target.substr(question + 1));
  request.lang = lang == "fr" ? web::language::fr : web::language::en;
  request.csrf_token = std::string(kCsrf);
  request.now_ms = 1796472000000;

  std::vector<control::Response> answers;
  while (!in.empty() && answers.size() < 8) {
    const auto sep = in.find("\n--next--\n");
    control::Response r;
    if (google::protobuf::TextFormat::ParseFromString(std::string(in.substr(0, sep)), &r)) {
      answers.push_back(std::move(r));
    }
    in.remove_prefix(sep == std::string_view::npos ? in.size() : sep + 10);
  }

  bool wrong_method = false;
  const web::control_call call = [&](const control::Request& req) {
    if (req.method() != "web") wrong_method = true;
    for (const auto& a : answers) {
      if (static_cast<int>(a.result_case()) == static_cast<int>(req.command_case())) return a;
    }
    for (const auto& a : answers) {
      if (a.code() != control::Response::OK) return a;
    }
    control::Response none;
    none.set_code(control::Response::UNAVAILABLE);
    return none;
  };

  const web::app_response r = web::handle_app(request, call);
  if (wrong_method) violated("a control request without method \"web\"");
  if (r.status < 200 || r.status > 599) violated("status out of range");
  if ((r.status == 303) != !r.location.empty()) violated("Location without 303, or 303 without it");
  if (!r.location.empty() && !web::is_local_path(r.location)) violated("Location not local");
  if (!r.download_filename.empty() &&
      (r.content_type != "application/json" || request.path != "/export" ||
       request.method != "POST")) {
    violated("a download other than the export");
  }
  if (r.content_type.rfind("text/html", 0) == 0 && r.status != 303) {
    if (r.body.find("<script") != std::string::npos) violated("a script in a page");
    if (r.body.find("style=") != std::string::npos) violated("an inline style in a page");
    const std::string csrf_field =
        "<input type=\"hidden\" name=\"csrf\" value=\"" + std::string(kCsrf) + "\">";
    if (count(r.body, "<form") != count(r.body, csrf_field)) violated("a form without CSRF");
    const std::string problem = portier::gateway::web::testing::markup_problem(r.body);
    if (!problem.empty()) {
      std::fprintf(stderr, "%s\n", problem.c_str());
      violated("malformed markup");
    }
  }
  return 0;
}
