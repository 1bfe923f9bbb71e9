// handle_app: the routes of a session, by path then method (405 when the path exists but not
// for that method, 404 when it does not).
#include <array>

#include "gateway/web/app.h"
#include "gateway/web/pages/layout.h"
#include "gateway/web/pages/pages.h"

namespace portier::gateway::web {

namespace {

struct route {
  std::string_view path;
  std::string_view method;
  app_response (*handler)(const page_context&);
};

constexpr std::array<route, 14> kRoutes = {{
    {"/", "GET", home_page},
    {"/pause", "POST", pause_action},
    {"/resume", "POST", resume_action},
    {"/purposes", "GET", purposes_page},
    {"/consent", "POST", consent_action},
    {"/devices", "GET", devices_page},
    {"/device", "GET", device_page},
    {"/erase", "GET", erase_page},
    {"/erase", "POST", erase_action},
    {"/receipts", "GET", receipts_page},
    {"/export", "GET", export_page},
    {"/export", "POST", export_action},
    {"/updates", "GET", updates_page},
    {"/style.css", "GET", stylesheet},
}};

}  // namespace

app_response handle_app(const app_request& request, const control_call& call) {
  const page_context c{request, call, texts_for(request.lang)};
  bool path_known = false;
  for (const auto& r : kRoutes) {
    if (r.path != request.path) continue;
    path_known = true;
    if (r.method == request.method) return r.handler(c);
  }
  return session_error(c, path_known ? 405 : 404);
}

}  // namespace portier::gateway::web
