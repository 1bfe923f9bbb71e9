#include "gateway/web/http/web_handler.h"

#include <algorithm>
#include <array>
#include <utility>

#include "gateway/web/http/http_text.h"

namespace portier::gateway::web {

namespace {

// The one value of header `name`, with how many times it came.
struct header_value {
  int count = 0;
  std::string_view value;
};

header_value find_header(const header_list& headers, std::string_view name) {
  header_value out;
  for (const auto& [n, v] : headers) {
    if (n.size() != name.size() || ascii_lower(n) != name) continue;
    if (out.count++ == 0) out.value = v;
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// 64 lower-case hex digits: a login token as login_form makes it.
bool is_login_token(std::string_view t) {
  if (t.size() != 64) return false;
  for (const char c : t)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string cookie_header(std::string_view name, std::string_view value, long max_age) {
  return std::string(name) + "=" + std::string(value) +
         "; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age);
}

// The single field `name`; nullopt when absent or given more than once.
std::optional<std::string> single_field(const field_list& fields, std::string_view name) {
  std::optional<std::string> out;
  for (const auto& [n, v] : fields) {
    if (n != name) continue;
    if (out) return std::nullopt;
    out = v;
  }
  return out;
}

bool local_path(std::string_view location) {
  if (location.empty() || location.front() != '/' || location.substr(0, 2) == "//") return false;
  return std::none_of(location.begin(), location.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x21 || u == 0x7F || c == '\\';
  });
}

std::string safe_filename(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 100)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_';
    out += ok ? c : '_';
  }
  return out.empty() ? "download" : out;
}

}  // namespace

void add_security_headers(header_list& headers) {
  headers.emplace_back("Content-Security-Policy", kContentSecurityPolicy);
  headers.emplace_back("X-Content-Type-Options", "nosniff");
  headers.emplace_back("Referrer-Policy", "same-origin");
  headers.emplace_back("X-Frame-Options", "DENY");
  headers.emplace_back("Cache-Control", "no-store");
  headers.emplace_back("Strict-Transport-Security", "max-age=31536000");
}

web_handler::web_handler(web_handler_options options, web_app app, control_caller control,
                         random_source random)
    : options_(std::move(options)),
      app_(std::move(app)),
      control_(std::move(control)),
      random_(random),
      sessions_(options_.sessions, random),
      limiter_(options_.logins) {}

http_response web_handler::page(int status, std::string body, language lang) const {
  http_response r;
  r.status = status;
  r.body = std::move(body);
  add_security_headers(r.headers);
  r.headers.emplace_back("Content-Language", lang == language::fr ? "fr" : "en");
  return r;
}

http_response web_handler::error(int status, language lang) const {
  http_response r = page(status, app_.error_page(lang, status), lang);
  if (status == 405) r.headers.emplace_back("Allow", "GET, POST");
  return r;
}

http_response web_handler::redirect(std::string_view location) const {
  http_response r;
  r.status = 303;
  add_security_headers(r.headers);
  r.headers.emplace_back("Location", std::string(location));
  return r;
}

std::optional<http_response> web_handler::refuse_early(const http_request& request) const {
  const language lang = choose_language(find_header(request.headers, "accept-language").value);
  const header_value host = find_header(request.headers, "host");
  if (host.count != 1) return error(400, lang);
  if (!authority_allowed(host.value, options_.hosts, options_.ports)) return error(421, lang);

  const bool post = request.method == "POST";
  if (!post && request.method != "GET") return error(405, lang);
  if (request.target.size() > kMaxTargetBytes) return error(414, lang);
  if (request.target.empty() || request.target.front() != '/') return error(400, lang);

  const header_value length = find_header(request.headers, "content-length");
  const header_value encoding = find_header(request.headers, "transfer-encoding");
  if (length.count > 1) return error(400, lang);
  if (!post) {
    // A GET with a body is how requests are smuggled past a proxy: none is read.
    if (encoding.count > 0 || (length.count == 1 && trim(length.value) != "0"))
      return error(400, lang);
    return std::nullopt;
  }
  if (encoding.count > 0 || length.count == 0) return error(411, lang);
  const std::string_view n = trim(length.value);
  if (!all_digits(n)) return error(400, lang);
  if (n.size() > 5 || std::stoul(std::string(n)) > kMaxBodyBytes) return error(413, lang);

  const header_value type = find_header(request.headers, "content-type");
  if (type.count != 1) return error(415, lang);
  const std::string media = ascii_lower(trim(type.value.substr(0, type.value.find(';'))));
  if (media != "application/x-www-form-urlencoded") return error(415, lang);

  // Cross-site requests: a browser always sends Origin on a POST form; Referer is the fallback
  // for an older one. Neither: refused.
  const header_value origin = find_header(request.headers, "origin");
  const header_value referer = find_header(request.headers, "referer");
  if (origin.count > 1 || referer.count > 1) return error(403, lang);
  if (origin.count == 1) {
    if (!origin_allowed(origin.value, options_.hosts, options_.ports)) return error(403, lang);
  } else if (referer.count != 1 ||
             !referer_allowed(referer.value, options_.hosts, options_.ports)) {
    return error(403, lang);
  }
  return std::nullopt;
}

http_response web_handler::login_form(int status, language lang, login_problem problem,
                                      int retry_after, bool clear_session_cookie,
                                      std::string_view keep_token) {
  // The browser's login token is kept while it is well formed: a second load of the form (another
  // tab, or a favicon request sent to /login) must not void the one already filled in.
  std::string token;
  if (is_login_token(keep_token)) {
    token = std::string(keep_token);
  } else {
    std::array<std::uint8_t, 32> token_bytes{};
    if (!random_ || !random_(token_bytes)) return error(503, lang);
    token = to_hex(token_bytes);
  }
  http_response r = page(status, app_.login_page(lang, problem, retry_after, token), lang);
  r.headers.emplace_back("Set-Cookie", cookie_header(kLoginCookie, token, kLoginTokenSeconds));
  if (clear_session_cookie)
    r.headers.emplace_back("Set-Cookie", cookie_header(kSessionCookie, "", 0));
  if (retry_after > 0) r.headers.emplace_back("Retry-After", std::to_string(retry_after));
  return r;
}

http_response web_handler::login_post(const http_request& request, const field_list& fields,
                                      language lang) {
  const header_value cookies = find_header(request.headers, "cookie");
  const std::optional<std::string> cookie_token =
      cookies.count == 1 ? cookie_value(cookies.value, kLoginCookie) : std::nullopt;
  const std::optional<std::string> form_token = single_field(fields, "login_token");
  if (!cookie_token || !form_token || cookie_token->size() != 64 ||
      !constant_time_equal(*cookie_token, *form_token)) {
    // No form of ours was filled in here (or it is older than kLoginTokenSeconds): a new one.
    return login_form(403, lang, login_problem::expired, 0, false);
  }

  if (const std::int64_t wait = limiter_.wait_ms(request.peer, request.now_ms); wait > 0) {
    const int seconds = static_cast<int>((wait + 999) / 1000);
    return login_form(429, lang, login_problem::slow_down, seconds, false, *cookie_token);
  }

  const std::optional<std::string> code = single_field(fields, "code");
  if (!code || code->empty() || code->size() > 32) {
    limiter_.failed(request.peer, request.now_ms);
    return login_form(403, lang, login_problem::wrong_code, 0, false, *cookie_token);
  }
  control::Request ask;
  ask.set_method("web");
  ask.mutable_redeem_pairing()->set_code(*code);
  const auto answer = control_(ask);
  if (!answer) return login_form(503, lang, login_problem::unavailable, 0, false, *cookie_token);
  switch (answer->code()) {
    case control::Response::OK:
      if (answer->result_case() != control::Response::kRedeemPairing) break;
      if (auto opened = sessions_.open(request.now_ms)) {
        limiter_.succeeded(request.peer);
        http_response r = redirect("/");
        r.headers.emplace_back("Set-Cookie", cookie_header(kSessionCookie, opened->cookie,
                                                           options_.sessions.max_age_ms / 1000));
        r.headers.emplace_back("Set-Cookie", cookie_header(kLoginCookie, "", 0));
        return r;
      }
      return error(503, lang);
    case control::Response::NOT_FOUND:
    case control::Response::INVALID_REQUEST:
      limiter_.failed(request.peer, request.now_ms);
      return login_form(403, lang, login_problem::wrong_code, 0, false, *cookie_token);
    case control::Response::UNAVAILABLE:
      limiter_.failed(request.peer, request.now_ms);
      return login_form(403, lang, login_problem::codes_voided, 0, false, *cookie_token);
    default:
      break;
  }
  return login_form(503, lang, login_problem::unavailable, 0, false, *cookie_token);
}

http_response web_handler::app_call(const http_request& request, const std::string& path,
                                    field_list params, const std::string& csrf, language lang) {
  app_request a;
  a.method = request.method;
  a.path = path;
  a.params = std::move(params);
  a.lang = lang;
  a.csrf_token = csrf;
  a.now_ms = request.now_ms;
  const control_call call = [this](const control::Request& q) {
    control::Request web = q;
    web.set_method("web");
    auto answer = control_(web);
    if (answer) return std::move(*answer);
    control::Response failed;
    failed.set_code(control::Response::UNAVAILABLE);
    failed.set_message("portierd cannot be reached; try again in a moment.");
    return failed;
  };
  const app_response out = app_.handle(a, call);
  if (!out.location.empty()) {
    if (!local_path(out.location)) return error(500, lang);
    return redirect(out.location);
  }
  const bool bad_type =
      out.content_type.empty() || std::any_of(out.content_type.begin(), out.content_type.end(),
                                              [](char c) { return c == '\r' || c == '\n'; });
  if (out.status < 200 || out.status > 599 || bad_type) return error(500, lang);
  http_response r = page(out.status, out.body, lang);
  r.content_type = out.content_type;
  if (!out.download_filename.empty()) {
    r.headers.emplace_back("Content-Disposition",
                           "attachment; filename=\"" + safe_filename(out.download_filename) + "\"");
  }
  return r;
}

http_response web_handler::handle(const http_request& request) {
  if (auto refused = refuse_early(request)) return std::move(*refused);
  const language lang = choose_language(find_header(request.headers, "accept-language").value);
  const bool post = request.method == "POST";

  const std::string_view target = request.target;
  const auto question = target.find('?');
  const auto path = percent_decode(target.substr(0, question), false);
  if (!path) return error(400, lang);
  std::optional<field_list> fields;
  if (post) {
    if (request.body.size() > kMaxBodyBytes) return error(413, lang);
    fields = parse_fields(request.body);
  } else {
    fields = parse_fields(question == std::string_view::npos ? std::string_view{}
                                                             : target.substr(question + 1));
  }
  if (!fields) return error(400, lang);

  // Browsers ask for it on their own; a redirect to /login would only cost a form.
  if (*path == "/favicon.ico") return error(404, lang);
  if (*path == "/style.css") {
    if (post) return error(405, lang);
    http_response r = page(200, std::string(app_.stylesheet()), lang);
    r.content_type = "text/css; charset=utf-8";
    return r;
  }

  const header_value cookies = find_header(request.headers, "cookie");
  const std::optional<std::string> session =
      cookies.count == 1 ? cookie_value(cookies.value, kSessionCookie) : std::nullopt;
  const std::optional<std::string> csrf =
      session ? sessions_.use(*session, request.now_ms) : std::nullopt;

  if (*path == "/login") {
    if (post) return login_post(request, *fields, lang);
    // A session cookie that opens nothing ended: say so, and drop it.
    const bool stale = session.has_value() && !csrf;
    const std::optional<std::string> kept =
        cookies.count == 1 ? cookie_value(cookies.value, kLoginCookie) : std::nullopt;
    return login_form(200, lang, stale ? login_problem::expired : login_problem::none, 0, stale,
                      kept ? std::string_view(*kept) : std::string_view{});
  }

  if (!csrf) return redirect("/login");
  if (post) {
    const std::optional<std::string> sent = single_field(*fields, "csrf");
    if (!sent || !constant_time_equal(*sent, *csrf)) return error(403, lang);
    std::erase_if(*fields, [](const auto& f) { return f.first == "csrf"; });
  }

  if (*path == "/logout" || *path == "/logout-all") {
    if (!post) return error(405, lang);
    if (*path == "/logout") {
      sessions_.close(*session);
    } else {
      sessions_.close_all();
    }
    http_response r = redirect("/login");
    r.headers.emplace_back("Set-Cookie", cookie_header(kSessionCookie, "", 0));
    return r;
  }
  return app_call(request, *path, std::move(*fields), *csrf, lang);
}

}  // namespace portier::gateway::web
