// Every access rule of the LAN page, as a pure function of one request: what libmicrohttpd gives
// us goes in as an http_request, the answer comes out as an http_response (docs/WEB.md lists the
// rules and routes). Order of checks, each failing closed:
//   1. one Host header, naming a configured name or address (and a listen port, if any) — 421;
//   2. GET or POST only — 405; a bounded, well-formed target — 414/400;
//   3. a POST: Content-Length, no Transfer-Encoding — 411; at most kMaxBodyBytes — 413;
//      application/x-www-form-urlencoded — 415; Origin (or Referer) of an allowed host — 403;
//   4. routes outside a session: /style.css, /login (pairing, rate-limited, login token);
//   5. anything else needs a live session (else 303 to /login) and, on POST, its CSRF token
//      (else 403); /logout and /logout-all end sessions; the rest goes to the app (app.h).
// Every response carries the security headers (CSP, nosniff, same-origin referrer, DENY, no-store,
// HSTS).
//
// State: the sessions and the login limiter, owned here. Not thread-safe: mhd_server.cc
// serialises calls (one request at a time; the page is for one household).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/web/app.h"
#include "gateway/web/http/http_message.h"
#include "gateway/web/http/http_text.h"
#include "gateway/web/http/login_limiter.h"
#include "gateway/web/http/session_store.h"
#include "platform/result.h"

namespace portier::gateway::web {

inline constexpr const char* kSessionCookie = "__Host-portier";
inline constexpr const char* kLoginCookie = "__Host-portier-login";
inline constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'";
// How long a login form (its login token) stays usable.
inline constexpr int kLoginTokenSeconds = 600;

// The application layer (app.h), injected so that tests can watch what reaches it.
struct web_app {
  std::function<app_response(const app_request&, const control_call&)> handle;
  std::function<std::string(language, login_problem, int, const std::string&)> login_page;
  std::function<std::string(language, int)> error_page;
  std::function<std::string_view()> stylesheet;
};

// Sends one request to portierd; a transport failure is an error (not a Response), so that the
// handler can tell "portierd cannot be reached" from portierd's own UNAVAILABLE.
using control_caller = std::function<platform::result<control::Response>(const control::Request&)>;

struct web_handler_options {
  // Allowed Host names: configured names and listen addresses, lower-case, IPv6 without
  // brackets.
  std::vector<std::string> hosts;
  std::vector<unsigned> ports;  // the listen ports
  session_limits sessions;
  login_limits logins;
};

class web_handler {
 public:
  // `control` sends a request to portierd (the handler sets method "web" on each); `random`
  // draws session ids and tokens. Both must be callable.
  web_handler(web_handler_options options, web_app app, control_caller control,
              random_source random);

  // The full decision for a request whose body has been read.
  http_response handle(const http_request& request);

  // The refusal a request earns from its method, target and headers alone (steps 1 to 3 but the
  // body's size), so that the server can answer before reading a body; nullopt: read the body,
  // then call handle() (which checks these again).
  std::optional<http_response> refuse_early(const http_request& request) const;

  std::size_t session_count() const { return sessions_.size(); }

 private:
  http_response page(int status, std::string body, language lang) const;
  http_response error(int status, language lang) const;
  http_response redirect(std::string_view location) const;
  http_response login_form(int status, language lang, login_problem problem, int retry_after,
                           bool clear_session_cookie, std::string_view keep_token = {});
  http_response login_post(const http_request& request, const field_list& fields, language lang);
  http_response app_call(const http_request& request, const std::string& path, field_list params,
                         const std::string& csrf, language lang);

  web_handler_options options_;
  web_app app_;
  control_caller control_;
  random_source random_;
  session_store sessions_;
  login_limiter limiter_;
};

// The security headers every response carries.
void add_security_headers(header_list& headers);

}  // namespace portier::gateway::web
