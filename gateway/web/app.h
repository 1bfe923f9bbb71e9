// The LAN page's application layer: what the household sees and does, in HTML, from the answers of
// portierd's control API. The HTTP server (gateway/web/http/) owns the transport and every access
// rule (TLS, Host check, limits, sessions, CSRF, pairing, rate limits) and calls handle_app only
// for a request of a valid session whose CSRF token (on a POST) already matched; this layer
// never sees a cookie, a code or a header.
//
// Contract: pure rendering plus control calls through `call` (which the server wires to the
// control socket with method "web"); no socket, thread or clock of its own. Every string from
// portierd or a device is HTML-escaped; every page is complete and self-contained (no script, no
// inline style: the stylesheet is app_stylesheet(), served at /style.css; charts are inline SVG
// drawn here), so it satisfies the server's Content-Security-Policy
//   default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';
//   frame-ancestors 'none'; base-uri 'none'
// Errors are values: a control call that fails becomes a page that says so in plain words.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "control.pb.h"

namespace portier::gateway::web {

// The page's language, chosen by the server from Accept-Language (French when it is preferred
// over English, else English).
enum class language { en, fr };

// Sends one request to portierd and returns its answer; never throws. A transport failure is a
// Response with code UNAVAILABLE and a sentence.
using control_call = std::function<control::Response(const control::Request&)>;

struct app_request {
  std::string method;  // "GET" or "POST"
  std::string path;    // "/", "/purposes", ... without the query
  // Query parameters (GET) or form fields (POST, application/x-www-form-urlencoded), decoded,
  // in order; the "csrf" field is removed by the server once it matched.
  std::vector<std::pair<std::string, std::string>> params;
  language lang = language::en;
  // The session's CSRF token: every form this layer renders carries it as a hidden field "csrf".
  std::string csrf_token;
  // Unix milliseconds now (for "2 minutes ago" and chart ranges).
  std::int64_t now_ms = 0;
};

struct app_response {
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::string body;
  // Non-empty: answer 303 See Other to this local path (after a POST).
  std::string location;
  // Non-empty: send as an attachment with this file name (the export).
  std::string download_filename;
};

// Every page and action of a paired session (docs/CONTROL.md, "The LAN page", lists them).
app_response handle_app(const app_request& request, const control_call& call);

// Pages the server shows outside a session.
enum class login_problem {
  none,
  wrong_code,    // the code is wrong, used or expired
  slow_down,     // too many attempts: try again in `retry_after_seconds`
  codes_voided,  // too many wrong codes: every code is void, run `portierctl pair` again
  expired,       // the session expired or was logged out: pair again
  unavailable,   // portierd cannot be reached
};
// The pairing form (POST /login with field "code"; no CSRF token exists before a session, the
// server checks Origin and the form's login token `login_token` instead).
std::string login_page(language lang, login_problem problem, int retry_after_seconds,
                       const std::string& login_token);
// A short error page (400, 403, 404, 413, ...) in plain words.
std::string error_page(language lang, int status);

// The stylesheet served at /style.css.
std::string_view app_stylesheet();

}  // namespace portier::gateway::web
