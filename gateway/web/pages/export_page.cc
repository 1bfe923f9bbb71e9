// GET /export (what the file holds) and POST /export (the download).
#include "gateway/web/pages/control_ask.h"
#include "gateway/web/pages/format.h"
#include "gateway/web/pages/html.h"
#include "gateway/web/pages/layout.h"
#include "gateway/web/pages/pages.h"

namespace portier::gateway::web {

app_response export_page(const page_context& c) {
  const std::string body = "<p>" + escape(c.t.export_intro) + "</p>\n" +
                           form_open("/export", c.request.csrf_token) +
                           button(c.t.export_button, "big") + "</form>\n";
  return html(200, session_page(c, "/export", c.t.export_title, body));
}

app_response export_action(const page_context& c) {
  control::Request req;
  req.mutable_export_ledger();
  auto a = ask(c, req);
  if (!a.ok()) return *a.failure;
  app_response r;
  r.status = 200;
  r.content_type = "application/json";
  r.body = std::move(*a.response.mutable_export_ledger()->mutable_json());
  r.download_filename = "portier-export-" + format_utc_date(c.request.now_ms) + ".json";
  return r;
}

}  // namespace portier::gateway::web
