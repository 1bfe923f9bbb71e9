// GET /updates: every policy offered to the box, applied or refused, what each changed in what
// leaves, and the changes that widen it flagged.
#include "gateway/web/pages/control_ask.h"
#include "gateway/web/pages/format.h"
#include "gateway/web/pages/html.h"
#include "gateway/web/pages/layout.h"
#include "gateway/web/pages/pages.h"

namespace portier::gateway::web {

namespace {

std::string phrases(const texts& t, const google::protobuf::RepeatedPtrField<std::string>& items) {
  if (items.empty()) return "<em>" + escape(t.nothing) + "</em>";
  std::string out = "<ul>";
  for (const auto& s : items) out += "<li>" + escape(s) + "</li>";
  return out + "</ul>";
}

std::string change_item(const texts& t, const control::ReleaseChange& ch) {
  const std::string purpose = ch.purpose_title().empty() ? ch.purpose_id() : ch.purpose_title();
  const std::string cls = ch.class_title().empty() ? ch.class_id() : ch.class_title();
  std::string out = std::string("<li class=\"change") + (ch.widens() ? " widens" : "") + "\"><p>" +
                    "<strong>" + escape(fill(t.change_heading, {purpose, cls})) + "</strong>";
  if (ch.widens()) out += " <span class=\"flag\">" + escape(t.change_widens) + "</span>";
  out += "</p>\n<dl class=\"before-after\"><dt>" + escape(t.change_before) + "</dt><dd>" +
         phrases(t, ch.before()) + "</dd><dt>" + escape(t.change_after) + "</dt><dd>" +
         phrases(t, ch.after()) + "</dd></dl></li>\n";
  return out;
}

std::string update_item(const page_context& c, const control::PolicyUpdate& u) {
  const texts& t = c.t;
  const bool widens = u.applied() && u.widens();
  std::string out =
      std::string("<li class=\"update") + (widens ? " widens" : "") +
      (u.applied() ? "" : " refused") + "\">\n<h2>" +
      escape(u.name().empty() ? fill(t.unnamed_version, {std::to_string(u.version())})
                              : fill(t.policy_version, {u.name(), std::to_string(u.version())})) +
      "</h2>\n<p class=\"meta\">" + escape(format_time(c.lang(), u.time_ms())) + " · " +
      escape(u.source()) + "</p>\n";
  if (!u.applied()) {
    return out + "<p>" +
           escape(fill(t.update_refused, {rejection_text(c.lang(), u.reason_code())})) +
           "</p>\n</li>\n";
  }
  if (widens) {
    out += "<p class=\"flag big-flag\"><strong>" + escape(t.update_widens) + "</strong></p>\n";
  } else {
    out += "<p>" + escape(t.update_applied) + "</p>\n";
  }
  if (u.change_size() == 0) {
    out += "<p>" + escape(t.no_changes) + "</p>\n";
  } else {
    out += "<ul class=\"changes\">\n";
    for (const auto& ch : u.change()) out += change_item(t, ch);
    out += "</ul>\n";
  }
  return out + "</li>\n";
}

}  // namespace

app_response updates_page(const page_context& c) {
  control::Request req;
  req.mutable_policy_history()->set_limit(50);
  auto a = ask(c, req);
  if (!a.ok()) return *a.failure;
  const auto& r = a.response.policy_history();
  std::string body = "<p>" + escape(c.t.updates_intro) + "</p>\n";
  if (r.update_size() == 0) {
    body += "<p>" + escape(c.t.no_updates) + "</p>\n";
  } else {
    body += "<ol class=\"updates\">\n";
    for (const auto& u : r.update()) body += update_item(c, u);
    body += "</ol>\n";
  }
  return html(200, session_page(c, "/updates", c.t.nav_updates, body));
}

}  // namespace portier::gateway::web
