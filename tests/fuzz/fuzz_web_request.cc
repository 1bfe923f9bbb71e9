// Fuzz target: requests to the LAN page as web_handler decides them (gateway/web/http/), several
// per input so that sessions, login tokens, CSRF and the login back-off carry state between them.
//
// Input: requests separated by a line "--next--". Each is "METHOD TARGET" on its first line,
// then "Name: value" header lines up to an empty line, then the body (bytes beyond
// kMaxBodyBytes + 1 are cut, as the server does). In headers and body, "$S" stands for the
// latest session id the handler gave out, "$C" for that session's CSRF token and "$T" for the
// latest login token, so that the fuzzer reaches what lies behind a session. portierd is scripted
// by the first byte: redeem_pairing answers OK, NOT_FOUND, UNAVAILABLE or nothing; the clock
// moves 700 ms per request.
//
// Checked on every answer: a status from 200 to 599; every security header present; a Location
// only on 303 and always a local path; the app is reached only with a session that the handler
// opened and, on POST, that session's CSRF token (never a "csrf" field).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/web/http/web_handler.h"

namespace {

namespace web = portier::gateway::web;
namespace control = portier::control;

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "\n*** INVARIANT VIOLATED: %s\n", what);
  std::abort();
}
void require(bool ok, const char* what) {
  if (!ok) violated(what);
}

std::string replace_all(std::string s, std::string_view from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

std::string header(const web::http_response& r, std::string_view name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return "";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const int script = data[0] % 4;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  std::uint8_t counter = 0;
  std::vector<std::string> csrf_seen;  // every CSRF token the app was given
  bool app_reached = false;
  web::app_request last_app;
  web::web_app app;
  app.handle = [&](const web::app_request& r, const web::control_call& call) {
    app_reached = true;
    last_app = r;
    control::Request q;
    q.mutable_status();
    (void)call(q);
    web::app_response a;
    a.body = "page";
    if (!r.params.empty() && r.params[0].first == "go") a.location = r.params[0].second;
    return a;
  };
  app.login_page = [](web::language, web::login_problem, int, const std::string& t) {
    return "login " + t;
  };
  app.error_page = [](web::language, int status) { return "error " + std::to_string(status); };
  app.stylesheet = [] { return std::string_view("body{}"); };
  web::web_handler_options options;
  options.hosts = {"portier.lan", "127.0.0.1", "::1"};
  options.ports = {8443};
  options.sessions.idle_ms = 5000;
  options.sessions.max_age_ms = 20000;
  options.sessions.max_sessions = 3;
  web::web_handler handler(
      options, app,
      [&](const control::Request& q) -> portier::platform::result<control::Response> {
        require(q.method() == "web", "a control request without method web");
        if (script == 3) return portier::platform::error{"unreachable"};
        control::Response r;
        if (q.has_redeem_pairing()) {
          r.set_code(script == 0   ? control::Response::OK
                     : script == 1 ? control::Response::NOT_FOUND
                                   : control::Response::UNAVAILABLE);
          if (script == 0) r.mutable_redeem_pairing();
        } else {
          r.mutable_status();
        }
        return r;
      },
      [&](std::span<std::uint8_t> out) {
        for (auto& b : out) b = ++counter;
        return true;
      });

  std::string session, csrf, token;
  std::int64_t now = 1'700'000'000'000;
  int requests = 0;
  while (!input.empty() && requests++ < 16) {
    const auto next = input.find("\n--next--\n");
    std::string_view one = input.substr(0, next);
    input = next == std::string_view::npos ? std::string_view{} : input.substr(next + 10);

    web::http_request r;
    r.peer = "192.168.1.9";
    r.now_ms = now += 700;
    const auto line_end = one.find('\n');
    const std::string_view first = one.substr(0, line_end);
    one = line_end == std::string_view::npos ? std::string_view{} : one.substr(line_end + 1);
    const auto space = first.find(' ');
    r.method = std::string(first.substr(0, space));
    r.target = space == std::string_view::npos ? "" : std::string(first.substr(space + 1));
    while (!one.empty()) {
      const auto end = one.find('\n');
      const std::string_view h = one.substr(0, end);
      one = end == std::string_view::npos ? std::string_view{} : one.substr(end + 1);
      if (h.empty()) break;
      const auto colon = h.find(':');
      std::string value(colon == std::string_view::npos ? "" : h.substr(colon + 1));
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      value = replace_all(replace_all(replace_all(value, "$S", session), "$C", csrf), "$T", token);
      r.headers.emplace_back(std::string(h.substr(0, colon)), value);
    }
    r.body = replace_all(replace_all(replace_all(std::string(one), "$S", session), "$C", csrf),
                         "$T", token);
    if (r.body.size() > web::kMaxBodyBytes + 1) r.body.resize(web::kMaxBodyBytes + 1);

    app_reached = false;
    const web::http_response answer = handler.handle(r);
    require(answer.status >= 200 && answer.status <= 599, "status out of range");
    require(header(answer, "Content-Security-Policy") == web::kContentSecurityPolicy,
            "no Content-Security-Policy");
    require(header(answer, "X-Content-Type-Options") == "nosniff", "no nosniff");
    require(header(answer, "X-Frame-Options") == "DENY", "no X-Frame-Options");
    require(header(answer, "Cache-Control") == "no-store", "no Cache-Control");
    require(!header(answer, "Strict-Transport-Security").empty(), "no HSTS");
    require(header(answer, "Referrer-Policy") == "same-origin", "no Referrer-Policy");
    const std::string location = header(answer, "Location");
    require(location.empty() == (answer.status != 303), "Location without 303 or 303 without it");
    require(location.empty() || (location[0] == '/' && location.substr(0, 2) != "//"),
            "a Location that leaves the box");
    if (app_reached) {
      require(r.method == "GET" || r.method == "POST", "the app saw another method");
      bool known = false;
      for (const auto& c : csrf_seen) known = known || c == last_app.csrf_token;
      require(known, "the app reached without a session the handler opened");
      for (const auto& [n, v] : last_app.params)
        require(!(r.method == "POST" && n == "csrf"), "the csrf field reached the app");
    }
    for (const auto& [n, v] : answer.headers) {
      if (n != "Set-Cookie") continue;
      const auto eq = v.find('=');
      const auto semi = v.find(';');
      const std::string name = v.substr(0, eq);
      const std::string value = v.substr(eq + 1, semi - eq - 1);
      if (name == web::kSessionCookie && !value.empty()) {
        session = value;
        // The new session's token, as the app will see it on its first page.
        web::http_request get;
        get.method = "GET";
        get.target = "/";
        get.headers = {{"Host", "portier.lan"}, {"Cookie", "__Host-portier=" + session}};
        get.now_ms = now;
        app_reached = false;
        (void)handler.handle(get);
        require(app_reached, "a fresh session does not open the app");
        csrf = last_app.csrf_token;
        csrf_seen.push_back(csrf);
      }
      if (name == web::kLoginCookie && !value.empty()) token = value;
    }
  }
  return 0;
}
