#include <string>

#include "tests/gateway/web/http/web_fixture.h"

#include <CppUTest/TestHarness.h>

using portier::gateway::web::kLoginCookie;
using portier::gateway::web::kSessionCookie;
using portier::tests::web_fixture;
namespace web = portier::gateway::web;

TEST_GROUP(WebHandler) {
  web_fixture f;

  // The status `r` gets, with its Host header replaced by `host` (no Host at all when empty).
  int status_with_host(const std::string& host) {
    auto r = web_fixture::get("/login");
    r.headers.clear();
    if (!host.empty()) r.headers.emplace_back("Host", host);
    return f.send(r).status;
  }
  int status_with_origin(const char* name, const std::string& value) {
    auto s = f.paired();
    auto r = web_fixture::post("/purposes", "csrf=" + s.csrf, s.cookie);
    r.headers.erase(r.headers.begin() + 1);  // Origin
    if (name != nullptr) r.headers.emplace_back(name, value);
    return f.send(r).status;
  }
};

TEST(WebHandler, HostMustNameTheBoxWithOrWithoutItsPort) {
  CHECK_EQUAL(200, status_with_host("portier.lan:8443"));
  CHECK_EQUAL(200, status_with_host("portier.lan"));
  CHECK_EQUAL(200, status_with_host("PORTIER.LAN:8443"));
  CHECK_EQUAL(200, status_with_host("192.168.1.2:8443"));
  CHECK_EQUAL(200, status_with_host("[::1]:8443"));
  CHECK_EQUAL(200, status_with_host("[::1]"));
  // DNS rebinding: the attacker's name resolving to the box.
  CHECK_EQUAL(421, status_with_host("evil.example"));
  CHECK_EQUAL(421, status_with_host("evil.example:8443"));
  CHECK_EQUAL(421, status_with_host("portier.lan:8444"));
  CHECK_EQUAL(421, status_with_host("portier.lan.evil.example"));
  CHECK_EQUAL(421, status_with_host("portier.lan:"));
  CHECK_EQUAL(421, status_with_host("portier.lan:8443x"));
  CHECK_EQUAL(421, status_with_host("[::1"));
  CHECK_EQUAL(421, status_with_host("192.168.1.2:8443:8443"));
  CHECK_EQUAL(400, status_with_host(""));
}

TEST(WebHandler, AWrongHostGetsTheErrorPageAndTheSecurityHeaders) {
  auto r = web_fixture::get("/login");
  r.headers = {{"Host", "rebound.example"}};
  const auto answer = f.send(r);
  CHECK_EQUAL(421, answer.status);
  STRCMP_EQUAL("error 421", answer.body.c_str());
  STRCMP_EQUAL(web::kContentSecurityPolicy,
               web_fixture::header(answer, "Content-Security-Policy").c_str());
  CHECK_TRUE(f.control_calls.empty());
}

TEST(WebHandler, TwoHostHeadersAreRefused) {
  auto r = web_fixture::get("/login");
  r.headers.emplace_back("host", "evil.example");
  CHECK_EQUAL(400, f.send(r).status);
}

TEST(WebHandler, EveryResponseCarriesTheSecurityHeaders) {
  const auto s = f.paired();
  const web::http_response answers[] = {
      f.send(web_fixture::get("/login")),
      f.send(web_fixture::get("/")),
      f.send(web_fixture::get("/", s.cookie)),
      f.send(web_fixture::get("/style.css")),
      f.send(web_fixture::post("/logout", "csrf=wrong", s.cookie)),
      f.pair(),
  };
  for (const auto& a : answers) {
    STRCMP_EQUAL(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
        web_fixture::header(a, "Content-Security-Policy").c_str());
    STRCMP_EQUAL("nosniff", web_fixture::header(a, "X-Content-Type-Options").c_str());
    STRCMP_EQUAL("same-origin", web_fixture::header(a, "Referrer-Policy").c_str());
    STRCMP_EQUAL("DENY", web_fixture::header(a, "X-Frame-Options").c_str());
    STRCMP_EQUAL("no-store", web_fixture::header(a, "Cache-Control").c_str());
    STRCMP_EQUAL("max-age=31536000", web_fixture::header(a, "Strict-Transport-Security").c_str());
  }
}

TEST(WebHandler, OnlyGetAndPostAreServed) {
  for (const char* method : {"PUT", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT", "get"}) {
    auto r = web_fixture::get("/login");
    r.method = method;
    const auto answer = f.send(r);
    CHECK_EQUAL(405, answer.status);
    STRCMP_EQUAL("GET, POST", web_fixture::header(answer, "Allow").c_str());
  }
}

TEST(WebHandler, TargetsAreBoundedAndLocal) {
  CHECK_EQUAL(414, f.send(web_fixture::get("/" + std::string(web::kMaxTargetBytes, 'a'))).status);
  CHECK_EQUAL(400, f.send(web_fixture::get("https://portier.lan:8443/")).status);
  CHECK_EQUAL(400, f.send(web_fixture::get("*")).status);
  CHECK_EQUAL(400, f.send(web_fixture::get("/login%00")).status);
  CHECK_EQUAL(400, f.send(web_fixture::get("/login?a=%zz")).status);
}

TEST(WebHandler, WithoutASessionEveryPageSendsToLogin) {
  for (const char* path : {"/", "/purposes", "/devices?x=1", "/logout", "/nothing"}) {
    const auto answer = f.send(web_fixture::get(path));
    CHECK_EQUAL(303, answer.status);
    STRCMP_EQUAL("/login", web_fixture::header(answer, "Location").c_str());
  }
  const auto forged =
      f.send(web_fixture::get("/", std::string(kSessionCookie) + "=" + std::string(64, 'a')));
  CHECK_EQUAL(303, forged.status);
  CHECK_TRUE(f.app_calls.empty());
}

TEST(WebHandler, TheStylesheetNeedsNoSession) {
  const auto answer = f.send(web_fixture::get("/style.css"));
  CHECK_EQUAL(200, answer.status);
  STRCMP_EQUAL("body{}", answer.body.c_str());
  STRCMP_EQUAL("text/css; charset=utf-8", answer.content_type.c_str());
  CHECK_EQUAL(405, f.send(web_fixture::post("/style.css", "")).status);
}

TEST(WebHandler, LoginFormSetsAFreshTokenCookie) {
  const auto first = f.send(web_fixture::get("/login"));
  const auto second = f.send(web_fixture::get("/login"));
  CHECK_EQUAL(200, first.status);
  const std::string token = web_fixture::cookie_of(first, kLoginCookie);
  CHECK_EQUAL(64u, token.size());
  CHECK_TRUE(token != web_fixture::cookie_of(second, kLoginCookie));
  CHECK_TRUE(first.body.find("token=" + token) != std::string::npos);
  STRCMP_EQUAL(
      ("__Host-portier-login=" + token + "; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=600")
          .c_str(),
      web_fixture::set_cookie(first, kLoginCookie).c_str());
}

// A browser loads the form, then asks for /favicon.ico on its own (or opens a second tab): the
// form already on screen must still work (found by the Selenium test: every pairing failed).
TEST(WebHandler, ASecondLoadOfTheFormKeepsTheBrowsersLoginToken) {
  const auto first = f.send(web_fixture::get("/login"));
  const std::string token = web_fixture::cookie_of(first, kLoginCookie);
  CHECK_EQUAL(404, f.send(web_fixture::get("/favicon.ico")).status);
  const auto again = f.send(web_fixture::get("/login", "__Host-portier-login=" + token));
  STRCMP_EQUAL(token.c_str(), web_fixture::cookie_of(again, kLoginCookie).c_str());
  // A token not of our making is not kept.
  const auto forged = f.send(web_fixture::get("/login", "__Host-portier-login=abc"));
  CHECK_EQUAL(64u, web_fixture::cookie_of(forged, kLoginCookie).size());
  const auto answer = f.send(web_fixture::post("/login", "code=abcd-efgh&login_token=" + token,
                                               "__Host-portier-login=" + token));
  CHECK_EQUAL(303, answer.status);
}

TEST(WebHandler, PairingOpensASessionWithAStrictCookie) {
  const auto answer = f.pair("abcd-efgh");
  CHECK_EQUAL(303, answer.status);
  STRCMP_EQUAL("/", web_fixture::header(answer, "Location").c_str());
  const std::string id = web_fixture::cookie_of(answer, kSessionCookie);
  CHECK_EQUAL(64u, id.size());
  STRCMP_EQUAL(
      ("__Host-portier=" + id + "; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=43200")
          .c_str(),
      web_fixture::set_cookie(answer, kSessionCookie).c_str());
  // The login token is used up.
  STRCMP_CONTAINS("Max-Age=0", web_fixture::set_cookie(answer, kLoginCookie).c_str());
  // portierd heard the code as typed, from method "web".
  CHECK_EQUAL(1u, f.control_calls.size());
  STRCMP_EQUAL("abcd-efgh", f.control_calls[0].redeem_pairing().code().c_str());
  STRCMP_EQUAL("web", f.control_calls[0].method().c_str());
  CHECK_EQUAL(1u, f.handler->session_count());

  const auto page = f.send(web_fixture::get("/?range=week", "__Host-portier=" + id));
  CHECK_EQUAL(200, page.status);
  STRCMP_EQUAL("app page", page.body.c_str());
  STRCMP_EQUAL("/", f.app_calls.back().path.c_str());
  CHECK_EQUAL(1u, f.app_calls.back().params.size());
  STRCMP_EQUAL("week", f.app_calls.back().params[0].second.c_str());
  // The app's control calls go out as "web" too.
  STRCMP_EQUAL("web", f.control_calls.back().method().c_str());
}

TEST(WebHandler, LoginNeedsTheFormsTokenInCookieAndField) {
  const auto form = f.send(web_fixture::get("/login"));
  const std::string token = web_fixture::cookie_of(form, kLoginCookie);
  const std::string other(64, 'f');
  struct {
    std::string body, cookie;
  } cases[] = {
      {"code=ABCD-EFGH", "__Host-portier-login=" + token},
      {"code=ABCD-EFGH&login_token=" + token, ""},
      {"code=ABCD-EFGH&login_token=" + other, "__Host-portier-login=" + token},
      {"code=ABCD-EFGH&login_token=&login_token=", "__Host-portier-login="},
      {"code=ABCD-EFGH&login_token=" + token + "&login_token=" + token,
       "__Host-portier-login=" + token},
  };
  for (const auto& c : cases) {
    const auto answer = f.send(web_fixture::post("/login", c.body, c.cookie));
    CHECK_EQUAL(403, answer.status);
    STRCMP_CONTAINS("problem=4", answer.body.c_str());  // expired: a fresh form
  }
  CHECK_TRUE(f.control_calls.empty());
}

TEST(WebHandler, WrongCodesSayWhyAndPortierdUnreachableIs503) {
  f.redeem_code = portier::control::Response::NOT_FOUND;
  auto answer = f.pair();
  CHECK_EQUAL(403, answer.status);
  STRCMP_CONTAINS("problem=1", answer.body.c_str());
  CHECK_TRUE(web_fixture::set_cookie(answer, kSessionCookie).empty());

  f.redeem_code = portier::control::Response::UNAVAILABLE;
  answer = f.pair();
  CHECK_EQUAL(403, answer.status);
  STRCMP_CONTAINS("problem=3", answer.body.c_str());

  f.reachable = false;
  answer = f.pair();
  CHECK_EQUAL(503, answer.status);
  STRCMP_CONTAINS("problem=5", answer.body.c_str());
  CHECK_EQUAL(0u, f.handler->session_count());
}

TEST(WebHandler, ACodeTooLongIsWrongWithoutAskingPortierd) {
  const auto answer = f.pair(std::string(33, 'A'));
  CHECK_EQUAL(403, answer.status);
  STRCMP_CONTAINS("problem=1", answer.body.c_str());
  CHECK_TRUE(f.control_calls.empty());
}

TEST(WebHandler, LoginAttemptsBackOffPerClient) {
  f.redeem_code = portier::control::Response::NOT_FOUND;
  for (int i = 0; i < 5; ++i) CHECK_EQUAL(403, f.pair().status);
  auto answer = f.pair();
  CHECK_EQUAL(429, answer.status);
  STRCMP_EQUAL("1", web_fixture::header(answer, "Retry-After").c_str());
  STRCMP_CONTAINS("problem=2 retry=1", answer.body.c_str());
  CHECK_EQUAL(5u, f.control_calls.size());  // the refused attempt never reached portierd
  // Another address on the LAN is not held.
  CHECK_EQUAL(403, f.pair("ABCD-EFGH", "192.168.1.51").status);
  // After the wait, one more try; the next wait doubles.
  f.now_ms += 1000;
  CHECK_EQUAL(403, f.pair().status);
  answer = f.pair();
  CHECK_EQUAL(429, answer.status);
  STRCMP_EQUAL("2", web_fixture::header(answer, "Retry-After").c_str());
  f.now_ms += 2000;
  f.redeem_code = portier::control::Response::OK;
  CHECK_EQUAL(303, f.pair().status);
}

TEST(WebHandler, SessionsExpireWhenIdleAndAtTheirMaximumAge) {
  web::session_limits limits;
  limits.idle_ms = 10'000;
  limits.max_age_ms = 25'000;
  web_fixture g(limits);
  auto s = g.paired();
  g.now_ms += 9'000;
  CHECK_EQUAL(200, g.send(web_fixture::get("/", s.cookie)).status);
  g.now_ms += 9'000;
  CHECK_EQUAL(200, g.send(web_fixture::get("/", s.cookie)).status);
  g.now_ms += 9'000;  // 27 s old: past its maximum age though never idle for 10 s
  auto answer = g.send(web_fixture::get("/", s.cookie));
  CHECK_EQUAL(303, answer.status);
  // Back at /login with the stale cookie: "expired", and the cookie is dropped.
  answer = g.send(web_fixture::get("/login", s.cookie));
  CHECK_EQUAL(200, answer.status);
  STRCMP_CONTAINS("problem=4", answer.body.c_str());
  STRCMP_CONTAINS("Max-Age=0", web_fixture::set_cookie(answer, kSessionCookie).c_str());

  s = g.paired();
  g.now_ms += 10'000;
  CHECK_EQUAL(303, g.send(web_fixture::get("/", s.cookie)).status);
}

TEST(WebHandler, CsrfTokenIsNeededOnEveryPost) {
  const auto s = f.paired();
  CHECK_EQUAL(64u, s.csrf.size());
  const std::size_t before = f.app_calls.size();
  CHECK_EQUAL(403, f.send(web_fixture::post("/pause", "", s.cookie)).status);
  CHECK_EQUAL(403,
              f.send(web_fixture::post("/pause", "csrf=" + std::string(64, '0'), s.cookie)).status);
  CHECK_EQUAL(403,
              f.send(web_fixture::post("/pause", "csrf=" + s.csrf.substr(1), s.cookie)).status);
  CHECK_EQUAL(
      403,
      f.send(web_fixture::post("/pause", "csrf=" + s.csrf + "&csrf=" + s.csrf, s.cookie)).status);
  CHECK_EQUAL(before, f.app_calls.size());

  f.app_answer.location = "/purposes";
  const auto answer =
      f.send(web_fixture::post("/pause", "device=Kitchen+plug&csrf=" + s.csrf, s.cookie));
  CHECK_EQUAL(303, answer.status);
  STRCMP_EQUAL("/purposes", web_fixture::header(answer, "Location").c_str());
  const auto& seen = f.app_calls.back();
  STRCMP_EQUAL("POST", seen.method.c_str());
  CHECK_EQUAL(1u, seen.params.size());  // csrf removed
  STRCMP_EQUAL("Kitchen plug", seen.params[0].second.c_str());
  STRCMP_EQUAL(s.csrf.c_str(), seen.csrf_token.c_str());
}

TEST(WebHandler, AnotherSessionsCsrfTokenDoesNotWork) {
  const auto a = f.paired();
  const auto b = f.paired();
  CHECK_TRUE(a.csrf != b.csrf);
  CHECK_EQUAL(403, f.send(web_fixture::post("/pause", "csrf=" + b.csrf, a.cookie)).status);
}

TEST(WebHandler, LogoutEndsThisSessionAndLogoutAllEndsEvery) {
  const auto a = f.paired();
  const auto b = f.paired();
  const auto c = f.paired();
  CHECK_EQUAL(405, f.send(web_fixture::get("/logout", a.cookie)).status);
  auto answer = f.send(web_fixture::post("/logout", "csrf=" + a.csrf, a.cookie));
  CHECK_EQUAL(303, answer.status);
  STRCMP_EQUAL("/login", web_fixture::header(answer, "Location").c_str());
  STRCMP_CONTAINS("Max-Age=0", web_fixture::set_cookie(answer, kSessionCookie).c_str());
  CHECK_EQUAL(303, f.send(web_fixture::get("/", a.cookie)).status);
  CHECK_EQUAL(200, f.send(web_fixture::get("/", b.cookie)).status);

  answer = f.send(web_fixture::post("/logout-all", "csrf=" + b.csrf, b.cookie));
  CHECK_EQUAL(303, answer.status);
  CHECK_EQUAL(303, f.send(web_fixture::get("/", b.cookie)).status);
  CHECK_EQUAL(303, f.send(web_fixture::get("/", c.cookie)).status);
  CHECK_EQUAL(0u, f.handler->session_count());
}

TEST(WebHandler, SessionsAreBoundedAndTheLeastRecentlyUsedGoes) {
  web::session_limits limits;
  limits.max_sessions = 2;
  web_fixture g(limits);
  const auto a = g.paired();
  g.now_ms += 1;
  const auto b = g.paired();
  g.now_ms += 1;
  CHECK_EQUAL(200, g.send(web_fixture::get("/", a.cookie)).status);  // a is used after b
  g.now_ms += 1;
  const auto c = g.paired();
  CHECK_EQUAL(2u, g.handler->session_count());
  CHECK_EQUAL(200, g.send(web_fixture::get("/", a.cookie)).status);
  CHECK_EQUAL(303, g.send(web_fixture::get("/", b.cookie)).status);
  CHECK_EQUAL(200, g.send(web_fixture::get("/", c.cookie)).status);
}

TEST(WebHandler, NoRandomnessNoSession) {
  f.random_fails = true;
  CHECK_EQUAL(503, f.send(web_fixture::get("/login")).status);
}

TEST(WebHandler, PostNeedsAnOriginOrRefererOfTheBox) {
  CHECK_EQUAL(200, status_with_origin("Origin", "https://portier.lan:8443"));
  CHECK_EQUAL(200, status_with_origin("Origin", "https://192.168.1.2:8443"));
  CHECK_EQUAL(200, status_with_origin("Referer", "https://portier.lan:8443/purposes"));
  CHECK_EQUAL(403, status_with_origin(nullptr, ""));
  CHECK_EQUAL(403, status_with_origin("Origin", "null"));
  CHECK_EQUAL(403, status_with_origin("Origin", "http://portier.lan:8443"));
  CHECK_EQUAL(403, status_with_origin("Origin", "https://evil.example"));
  CHECK_EQUAL(403, status_with_origin("Origin", "https://portier.lan:8443/"));
  CHECK_EQUAL(403, status_with_origin("Origin", "https://portier.lan:9999"));
  CHECK_EQUAL(403, status_with_origin("Referer", "https://evil.example/https://portier.lan/"));
  CHECK_EQUAL(403, status_with_origin("Referer", "https://portier.lan.evil.example/"));
}

TEST(WebHandler, BodiesAreSmallUrlencodedAndNeverChunked) {
  const auto s = f.paired();
  auto with = [&](const char* name, const std::string& value) {
    auto r = web_fixture::post("/pause", "csrf=" + s.csrf, s.cookie);
    for (auto& [n, v] : r.headers)
      if (n == name) v = value;
    return f.send(r).status;
  };
  CHECK_EQUAL(200, with("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8"));
  CHECK_EQUAL(415, with("Content-Type", "multipart/form-data; boundary=x"));
  CHECK_EQUAL(415, with("Content-Type", "application/json"));
  CHECK_EQUAL(415, with("Content-Type", "text/plain"));
  CHECK_EQUAL(413, with("Content-Length", "8193"));
  CHECK_EQUAL(413, with("Content-Length", "99999999999999999999"));
  CHECK_EQUAL(400, with("Content-Length", "-1"));
  CHECK_EQUAL(400, with("Content-Length", "0x10"));

  auto chunked = web_fixture::post("/pause", "csrf=" + s.csrf, s.cookie);
  chunked.headers.emplace_back("Transfer-Encoding", "chunked");
  CHECK_EQUAL(411, f.send(chunked).status);
  auto no_length = web_fixture::post("/pause", "csrf=" + s.csrf, s.cookie);
  no_length.headers.erase(no_length.headers.begin() + 3);
  CHECK_EQUAL(411, f.send(no_length).status);
  auto two_lengths = web_fixture::post("/pause", "csrf=" + s.csrf, s.cookie);
  two_lengths.headers.emplace_back("content-length", "5");
  CHECK_EQUAL(400, f.send(two_lengths).status);
  auto get_with_body = web_fixture::get("/", s.cookie);
  get_with_body.headers.emplace_back("Content-Length", "4");
  CHECK_EQUAL(400, f.send(get_with_body).status);

  // What the server read beyond the limit (one byte more) is refused too.
  auto big = web_fixture::post("/pause", std::string(web::kMaxBodyBytes + 1, 'a'), s.cookie);
  big.headers[3].second = "100";
  CHECK_EQUAL(413, f.send(big).status);
  // Too many fields, or bad encoding.
  std::string many = "csrf=" + s.csrf;
  for (std::size_t i = 0; i < web::kMaxFields; ++i) many += "&a=1";
  CHECK_EQUAL(400, f.send(web_fixture::post("/pause", many, s.cookie)).status);
  CHECK_EQUAL(400,
              f.send(web_fixture::post("/pause", "csrf=" + s.csrf + "&a=%4", s.cookie)).status);
}

TEST(WebHandler, AcceptLanguageChoosesFrenchWhenPreferred) {
  auto lang = [&](const std::string& accept) {
    auto r = web_fixture::get("/login");
    r.headers.emplace_back("Accept-Language", accept);
    return web_fixture::header(f.send(r), "Content-Language");
  };
  STRCMP_EQUAL("fr", lang("fr-FR,fr;q=0.9,en;q=0.8").c_str());
  STRCMP_EQUAL("en", lang("en-GB,fr;q=0.9").c_str());
  STRCMP_EQUAL("fr", lang("de, fr;q=0.5, en;q=0.4").c_str());
  STRCMP_EQUAL("en", lang("de").c_str());
  STRCMP_EQUAL("en", lang("fr;q=0, en;q=0.1").c_str());
  STRCMP_EQUAL("fr", lang("FR").c_str());
  STRCMP_EQUAL("en", lang("en, fr").c_str());
  STRCMP_EQUAL("fr", lang("fr, en").c_str());
  STRCMP_EQUAL("en", lang("fr;q=bad, en;q=0.5").c_str());
  STRCMP_EQUAL("en", lang("").c_str());
}

TEST(WebHandler, AppAnswersAreCheckedBeforeTheyLeave) {
  const auto s = f.paired();
  f.app_answer.location = "//evil.example/";
  CHECK_EQUAL(500, f.send(web_fixture::get("/", s.cookie)).status);
  f.app_answer.location = "";
  f.app_answer.download_filename = "portier export \"1\".json";
  f.app_answer.content_type = "application/json";
  const auto answer = f.send(web_fixture::get("/export", s.cookie));
  CHECK_EQUAL(200, answer.status);
  STRCMP_EQUAL("application/json", answer.content_type.c_str());
  STRCMP_EQUAL("attachment; filename=\"portier_export__1_.json\"",
               web_fixture::header(answer, "Content-Disposition").c_str());
}
