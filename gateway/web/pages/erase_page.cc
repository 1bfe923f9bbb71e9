// GET /erase?device=… (the confirmation step) and POST /erase (confirm=yes, device).
#include "gateway/web/pages/control_ask.h"
#include "gateway/web/pages/html.h"
#include "gateway/web/pages/layout.h"
#include "gateway/web/pages/pages.h"

namespace portier::gateway::web {

app_response erase_page(const page_context& c) {
  const texts& t = c.t;
  const std::string device = c.param("device");
  if (device.empty() || device.size() > kMaxDeviceId) return session_error(c, 400);
  std::string body = "<ul>\n<li>" + escape(t.erase_spool) + "</li>\n<li>" + escape(t.erase_ledger) +
                     "</li>\n<li>" + escape(t.erase_upstream) +
                     "</li>\n</ul>\n<p class=\"warning\">" + escape(t.erase_final) + "</p>\n";
  body += form_open("/erase", c.request.csrf_token) + hidden("device", device) +
          hidden("confirm", "yes") + button(fill(t.erase_confirm_button, {device}), "big danger") +
          "</form>\n<p>" + link(local_url("/device", {{"id", device}}), t.erase_cancel) + "</p>\n";
  return html(200, session_page(c, "/devices", fill(t.erase_title, {device}), body));
}

app_response erase_action(const page_context& c) {
  const std::string device = c.param("device");
  if (device.empty() || device.size() > kMaxDeviceId) return session_error(c, 400);
  // Without the confirmation step's field, nothing is erased: back to the question.
  if (c.param("confirm") != "yes") return see_other(local_url("/erase", {{"device", device}}));
  control::Request req;
  req.mutable_erase()->set_device(device);
  auto a = ask(c, req);
  if (!a.ok()) return *a.failure;
  const auto& r = a.response.erase();
  return see_other(local_url(
      "/devices",
      {{"erased", device}, {"upstream", r.upstream_acknowledged() ? "sent" : "waiting"}}));
}

}  // namespace portier::gateway::web
