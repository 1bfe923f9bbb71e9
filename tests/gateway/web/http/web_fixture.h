// A web_handler with a recording application, a scripted portierd and counting randomness, and
// helpers to build requests as a browser sends them.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gateway/web/http/web_handler.h"

namespace portier::tests {

using gateway::web::http_request;
using gateway::web::http_response;

inline constexpr const char* kHost = "portier.lan:8443";
inline constexpr const char* kOrigin = "https://portier.lan:8443";

struct web_fixture {
  // What the application layer and portierd saw.
  std::vector<gateway::web::app_request> app_calls;
  std::vector<control::Request> control_calls;
  // portierd's answer to redeem_pairing: OK, NOT_FOUND, UNAVAILABLE; `reachable` false: no answer.
  control::Response::Code redeem_code = control::Response::OK;
  bool reachable = true;
  std::uint8_t next_random = 1;
  bool random_fails = false;
  gateway::web::app_response app_answer;
  std::unique_ptr<gateway::web::web_handler> handler;
  std::int64_t now_ms = 1'700'000'000'000;

  explicit web_fixture(gateway::web::session_limits sessions = {},
                       gateway::web::login_limits logins = {}) {
    gateway::web::web_handler_options options;
    options.hosts = {"portier.lan", "192.168.1.2", "::1"};
    options.ports = {8443};
    options.sessions = sessions;
    options.logins = logins;
    gateway::web::web_app app;
    app.handle = [this](const gateway::web::app_request& r, const gateway::web::control_call& c) {
      app_calls.push_back(r);
      control::Request q;
      q.mutable_status();
      (void)c(q);
      return app_answer;
    };
    app.login_page = [](gateway::web::language lang, gateway::web::login_problem p, int retry,
                        const std::string& token) {
      return std::string("login lang=") + (lang == gateway::web::language::fr ? "fr" : "en") +
             " problem=" + std::to_string(static_cast<int>(p)) + " retry=" + std::to_string(retry) +
             " token=" + token;
    };
    app.error_page = [](gateway::web::language, int status) {
      return "error " + std::to_string(status);
    };
    app.stylesheet = [] { return std::string_view("body{}"); };
    app_answer.body = "app page";
    handler = std::make_unique<gateway::web::web_handler>(
        options, app,
        [this](const control::Request& q) -> platform::result<control::Response> {
          control_calls.push_back(q);
          if (!reachable) return platform::error{"connection refused"};
          control::Response r;
          if (q.has_redeem_pairing()) {
            r.set_code(redeem_code);
            if (redeem_code == control::Response::OK) r.mutable_redeem_pairing();
          } else {
            r.mutable_status();
          }
          return r;
        },
        [this](std::span<std::uint8_t> out) {
          if (random_fails) return false;
          for (auto& b : out) b = next_random++;
          return true;
        });
  }

  static http_request get(std::string target, std::string cookie = "") {
    http_request r;
    r.method = "GET";
    r.target = std::move(target);
    r.headers = {{"Host", kHost}};
    if (!cookie.empty()) r.headers.emplace_back("Cookie", cookie);
    r.peer = "192.168.1.50";
    return r;
  }
  static http_request post(std::string target, std::string body, std::string cookie = "") {
    http_request r;
    r.method = "POST";
    r.target = std::move(target);
    r.headers = {{"Host", kHost},
                 {"Origin", kOrigin},
                 {"Content-Type", "application/x-www-form-urlencoded"},
                 {"Content-Length", std::to_string(body.size())}};
    if (!cookie.empty()) r.headers.emplace_back("Cookie", cookie);
    r.body = std::move(body);
    r.peer = "192.168.1.50";
    return r;
  }

  http_response send(http_request r) {
    r.now_ms = now_ms;
    return handler->handle(r);
  }

  // The value of the first header `name` (exact case), or "".
  static std::string header(const http_response& r, const std::string& name) {
    for (const auto& [n, v] : r.headers)
      if (n == name) return v;
    return "";
  }
  // The Set-Cookie header that sets `name`, or "".
  static std::string set_cookie(const http_response& r, const std::string& name) {
    for (const auto& [n, v] : r.headers)
      if (n == "Set-Cookie" && v.rfind(name + "=", 0) == 0) return v;
    return "";
  }
  // The cookie's value as the browser would keep it.
  static std::string cookie_of(const http_response& r, const std::string& name) {
    const std::string line = set_cookie(r, name);
    const auto start = name.size() + 1;
    return line.empty() ? "" : line.substr(start, line.find(';') - start);
  }

  // GET /login then POST /login with `code`; returns the POST's answer.
  http_response pair(const std::string& code = "ABCD-EFGH", const std::string& peer = "") {
    http_response form = send(get("/login"));
    const std::string token = cookie_of(form, gateway::web::kLoginCookie);
    http_request r = post("/login", "code=" + code + "&login_token=" + token,
                          std::string(gateway::web::kLoginCookie) + "=" + token);
    if (!peer.empty()) r.peer = peer;
    return send(r);
  }

  // Pairs and returns the cookie header value that carries the new session, and its CSRF token
  // (seen by the app on a GET /).
  struct session {
    std::string cookie;
    std::string csrf;
  };
  session paired() {
    http_response r = pair();
    session s;
    s.cookie = std::string(gateway::web::kSessionCookie) + "=" +
               cookie_of(r, gateway::web::kSessionCookie);
    send(get("/", s.cookie));
    if (!app_calls.empty()) s.csrf = app_calls.back().csrf_token;
    return s;
  }
};

}  // namespace portier::tests
