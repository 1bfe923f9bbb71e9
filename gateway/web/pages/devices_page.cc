// GET /devices and GET /device?id=…: every device, and one device's latest message beside what
// left of it.
#include "gateway/web/pages/consent_forms.h"
#include "gateway/web/pages/control_ask.h"
#include "gateway/web/pages/format.h"
#include "gateway/web/pages/html.h"
#include "gateway/web/pages/layout.h"
#include "gateway/web/pages/pages.h"

namespace portier::gateway::web {

namespace {

std::string erased_notice(const page_context& c) {
  const std::string erased = c.param("erased");
  if (erased.empty()) return {};
  const bool sent = c.param("upstream") == "sent";
  return "<div class=\"notice\" role=\"status\"><p>" +
         escape(fill(c.t.erased_notice, {erased.substr(0, kMaxDeviceId)})) + "</p><p>" +
         escape(sent ? c.t.erased_upstream_sent : c.t.erased_upstream_waiting) + "</p></div>\n";
}

std::string device_card(const page_context& c, const control::Device& d) {
  const texts& t = c.t;
  std::string shares;
  for (const auto& p : d.purpose()) {
    if (!p.granted() || p.suspended()) continue;
    if (!shares.empty()) shares += ", ";
    shares += p.title().empty() ? p.purpose_id() : p.title();
  }
  const std::string cls = d.class_title().empty() ? d.class_id() : d.class_title();
  return "<li class=\"card\"><h2>" +
         link(local_url("/device", {{"id", d.device_id()}}), d.device_id()) + "</h2>\n<p>" +
         escape(
             fill(t.device_summary, {cls, format_ago(c.lang(), d.last_seen_ms(), c.request.now_ms),
                                     format_messages(c.lang(), d.messages())})) +
         "</p>\n<p>" +
         escape(shares.empty() ? std::string(t.shares_with_none) : fill(t.shares_with, {shares})) +
         "</p></li>\n";
}

std::string purpose_block(const page_context& c, const control::ExplainPurpose& p,
                          const control::Device* device, std::string_view back) {
  const texts& t = c.t;
  const std::string title = p.title().empty() ? p.purpose_id() : p.title();
  std::string out = "<section class=\"release\">\n<h3>" + escape(title) + "</h3>\n";
  if (p.released() && p.payload().empty()) {
    // An aggregated purpose: the message joins a window; only the window's summary leaves.
    out += "<p>" + escape(t.sent_as_summary) + "</p>\n";
  } else if (p.released()) {
    out += "<p>" + escape(t.sent_on) + " <code>" + escape(p.topic()) + "</code></p>\n<pre>" +
           escape(p.payload()) + "</pre>\n";
  } else {
    out += "<p class=\"nothing\">" +
           escape(fill(t.received_nothing, {drop_reason_text(c.lang(), p.reason())})) + "</p>\n";
  }
  if (device != nullptr) {
    for (const auto& dp : device->purpose()) {
      if (dp.purpose_id() != p.purpose_id()) continue;
      out += "<p class=\"decision " + std::string(dp.granted() ? "is-granted" : "is-refused") +
             "\">" + escape(dp.granted() ? t.allowed : t.refused) + " (" +
             escape(decided_at_text(t, dp.decided_at())) + ")</p>\n<div class=\"actions\">" +
             device_toggles(c, dp.purpose_id(), title, device->device_id(), dp.granted(),
                            dp.decided_at(), back) +
             "</div>\n";
    }
  }
  return out + "</section>\n";
}

std::string erase_section(const page_context& c, const std::string& id) {
  return "<section class=\"danger-zone\" aria-labelledby=\"erase-h\">\n<h2 id=\"erase-h\">" +
         escape(c.t.erase_heading) + "</h2>\n<p>" + escape(c.t.erase_intro) + "</p>\n<p>" +
         link(local_url("/erase", {{"device", id}}), fill(c.t.erase_link, {id})) +
         "</p>\n</section>\n";
}

}  // namespace

app_response devices_page(const page_context& c) {
  control::Request req;
  req.mutable_devices();
  auto a = ask(c, req);
  if (!a.ok()) return *a.failure;
  const auto& r = a.response.devices();
  std::string body = erased_notice(c) + "<p>" + escape(c.t.devices_intro) + "</p>\n";
  if (r.paused()) body += "<p class=\"warning\">" + escape(c.t.paused_note) + "</p>\n";
  if (r.device_size() == 0) {
    body += "<p>" + escape(c.t.no_devices) + "</p>\n";
  } else {
    body += "<ul class=\"cards\">\n";
    for (const auto& d : r.device()) body += device_card(c, d);
    body += "</ul>\n";
  }
  return html(200, session_page(c, "/devices", c.t.nav_devices, body));
}

app_response device_page(const page_context& c) {
  const texts& t = c.t;
  const std::string id = c.param("id");
  if (id.empty() || id.size() > kMaxDeviceId) return session_error(c, 400);

  control::Request ereq;
  ereq.mutable_explain()->set_device(id);
  auto explained = ask(c, ereq);
  // A device the ledger remembers but that has sent nothing since portierd started has no
  // message to show, and can still be erased.
  if (explained.response.code() == control::Response::NOT_FOUND) {
    return html(200,
                session_page(c, "/devices", id,
                             "<p>" + escape(t.device_unseen) + "</p>\n" + erase_section(c, id)));
  }
  if (!explained.ok()) return *explained.failure;
  control::Request dreq;
  dreq.mutable_devices();
  auto devices = ask(c, dreq);
  if (!devices.ok()) return *devices.failure;
  const control::Device* device = nullptr;
  for (const auto& d : devices.response.devices().device()) {
    if (d.device_id() == id) device = &d;
  }
  const auto& e = explained.response.explain();
  const language lang = c.lang();
  const std::string back = local_url("/device", {{"id", id}});

  std::string body;
  if (!e.class_title().empty() || !e.class_id().empty()) {
    body += "<p class=\"kind\">" +
            escape(e.class_title().empty() ? e.class_id() : e.class_title()) + "</p>\n";
  }
  body +=
      "<div class=\"beside\">\n<section class=\"sent\" aria-labelledby=\"sent-h\">\n"
      "<h2 id=\"sent-h\">" +
      escape(t.latest_heading) + "</h2>\n<p>" +
      escape(fill(t.received_at, {format_time(lang, e.received_ms()),
                                  format_ago(lang, e.received_ms(), c.request.now_ms)})) +
      "</p>\n<p>" + escape(t.topic_label) + " <code>" + escape(e.topic()) + "</code></p>\n";
  if (e.payload_binary()) {
    body +=
        "<p>" + escape(fill(t.binary_payload, {format_bytes(lang, e.payload_bytes())})) + "</p>\n";
  } else {
    body += "<pre>" + escape(e.payload()) + "</pre>\n";
  }
  body += "</section>\n<section class=\"left\" aria-labelledby=\"left-h\">\n<h2 id=\"left-h\">" +
          escape(t.left_heading) + "</h2>\n";
  if (!e.dropped_reason().empty()) {
    body += "<p class=\"nothing\">" +
            escape(fill(t.whole_dropped, {drop_reason_text(lang, e.dropped_reason())})) + "</p>\n";
  }
  for (const auto& p : e.purpose()) body += purpose_block(c, p, device, back);
  body += "</section>\n</div>\n<p class=\"note\">" +
          escape(fill(t.worked_out, {e.policy_name(), std::to_string(e.policy_version())})) +
          "</p>\n";
  body += erase_section(c, id);
  return html(200, session_page(c, "/devices", id, body));
}

}  // namespace portier::gateway::web
