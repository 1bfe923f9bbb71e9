// GET /purposes and POST /consent.
#include <set>

#include "consent.pb.h"
#include "gateway/web/pages/consent_forms.h"
#include "gateway/web/pages/control_ask.h"
#include "gateway/web/pages/format.h"
#include "gateway/web/pages/html.h"
#include "gateway/web/pages/layout.h"
#include "gateway/web/pages/pages.h"
#include "policy.pb.h"

namespace portier::gateway::web {

namespace {

using policy::Purpose;

std::string_view basis_text(const texts& t, int basis) {
  switch (basis) {
    case Purpose::CONSENT:
      return t.basis_consent;
    case Purpose::CONTRACT:
      return t.basis_contract;
    case Purpose::LEGITIMATE_INTEREST:
      return t.basis_legitimate;
    case Purpose::LEGAL_OBLIGATION:
      return t.basis_obligation;
    default:
      return t.basis_unknown;
  }
}

std::string_view special_text(const texts& t, int category) {
  switch (category) {
    case Purpose::HEALTH:
      return t.special_health;
    case Purpose::LOCATION:
      return t.special_location;
    case Purpose::BIOMETRIC:
      return t.special_biometric;
    default:
      return {};
  }
}

std::string_view method_text(const texts& t, std::string_view method) {
  if (method == "web") return t.method_web;
  if (method == "cli") return t.method_cli;
  if (method == "config") return t.method_config;
  if (method == "policy-update") return t.method_policy_update;
  return {};
}

std::string joined(const google::protobuf::RepeatedPtrField<std::string>& items,
                   std::string_view none) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out.empty() ? std::string(none) : out;
}

// "Allowed (decided 1 May 2024, 10:00, on this page)".
std::string decision_words(const page_context& c, bool granted, const control::ScopedDecision* d) {
  std::string out(granted ? c.t.allowed : c.t.refused);
  if (d == nullptr) return out + " (" + std::string(c.t.by_default) + ")";
  std::string how(method_text(c.t, d->method()));
  std::string when = format_time(c.lang(), d->decided_at_ms());
  return out + " (" + (how.empty() ? when : fill(c.t.decided, {when, how})) + ")";
}

std::string receives_list(const page_context& c, const control::PurposeInfo& p,
                          const control::DevicesResult& devices) {
  // One line per device class that has the purpose, from the first device of that class.
  std::set<std::string> classes;
  std::string items;
  for (const auto& d : devices.device()) {
    for (const auto& dp : d.purpose()) {
      if (dp.purpose_id() != p.id() || !classes.insert(d.class_id()).second) continue;
      const std::string cls = d.class_title().empty() ? d.class_id() : d.class_title();
      items += "<li>" +
               escape(fill(c.t.receives_from, {cls, joined(dp.receives(), c.t.receives_nothing)})) +
               "</li>\n";
    }
  }
  if (items.empty()) return "<p>" + escape(c.t.receives_no_device) + "</p>\n";
  return "<ul>\n" + items + "</ul>\n";
}

// Differential privacy: the purpose's daily ε cap, today's spending, and a raise flagged.
std::string budget(const page_context& c, const control::PurposeInfo& p) {
  if (!(p.epsilon_per_day() > 0)) return {};
  const language lang = c.lang();
  std::string out = "<dt>" + escape(c.t.budget_heading) + "</dt><dd><p>" +
                    escape(fill(c.t.budget_text, {format_epsilon(lang, p.epsilon_per_day()),
                                                  format_epsilon(lang, p.epsilon_spent_today())})) +
                    "</p>";
  if (p.epsilon_raised_at_ms() > 0) {
    out += "<p class=\"flag big-flag\">" +
           escape(fill(c.t.budget_raised,
                       {format_epsilon(lang, p.epsilon_raised_from()),
                        format_epsilon(lang, p.epsilon_per_day()),
                        format_time(lang, p.epsilon_raised_at_ms()), p.epsilon_raised_by_policy(),
                        std::to_string(p.epsilon_raised_by_version())})) +
           "</p>";
  }
  return out + "</dd>\n";
}

// `index`: the purpose's place in the policy, for its heading's id (unique on the page whatever
// portierd answers).
std::string purpose_section(const page_context& c, const control::PurposeInfo& p, int index,
                            const control::DevicesResult& devices) {
  const texts& t = c.t;
  const std::string title = p.title().empty() ? p.id() : p.title();
  const std::string hid = "purpose-" + std::to_string(index);
  std::string out = "<section class=\"purpose\" aria-labelledby=\"" + escape(hid) +
                    "\">\n<h2 id=\"" + escape(hid) + "\">" + escape(title) + "</h2>\n";
  if (!p.description().empty()) out += "<p>" + escape(p.description()) + "</p>\n";
  if (p.suspended()) out += "<p class=\"warning\">" + escape(t.suspended_note) + "</p>\n";
  out += "<dl>\n<dt>" + escape(t.legal_basis) + "</dt><dd>" +
         escape(basis_text(t, p.legal_basis())) + "</dd>\n";
  const std::string_view special = special_text(t, p.special_category());
  if (!special.empty()) {
    out += "<dt>" + escape(t.special_heading) + "</dt><dd>" + escape(special) + "</dd>\n";
  }
  out += "<dt>" + escape(t.receives_heading) + "</dt><dd>" + receives_list(c, p, devices) +
         "</dd>\n" + budget(c, p);

  const control::ScopedDecision* home = nullptr;
  for (const auto& d : p.decision()) {
    if (d.scope() == consent::SCOPE_HOUSEHOLD) home = &d;
  }
  out += "<dt>" + escape(t.decision_heading) + "</dt><dd><p class=\"decision " +
         (p.household_granted() ? "is-granted" : "is-refused") + "\">" +
         escape(decision_words(c, p.household_granted(), home)) + "</p>\n";
  const consent_target household{p.id(), title, "household", "", "/purposes"};
  out += "<div class=\"actions\">";
  if (p.household_granted()) {
    out += consent_form(c, household, "refuse", t.refuse_home,
                        std::string(t.refuse_home) + ": " + title, "refuse");
  } else {
    out += consent_form(c, household, "grant", t.allow_home,
                        std::string(t.allow_home) + ": " + title, "grant");
  }
  if (home != nullptr) {
    out += consent_form(c, household, "clear", t.clear_home,
                        std::string(t.clear_home) + ": " + title, "quiet");
  }
  out += "</div></dd>\n</dl>\n";

  // Decisions for a kind of device, each with a way to clear it.
  std::string classes;
  for (const auto& d : p.decision()) {
    if (d.scope() != consent::SCOPE_DEVICE_CLASS) continue;
    const std::string name = d.title().empty() ? d.value() : d.title();
    const consent_target target{p.id(), title, "class", d.value(), "/purposes"};
    classes +=
        "<li>" + escape(fill(t.class_decision, {name, d.granted() ? t.allowed : t.refused})) + " " +
        consent_form(c, target, "clear", t.clear, fill(t.clear_for, {name}), "quiet") + "</li>\n";
  }
  if (!classes.empty()) {
    out += "<h3>" + escape(t.class_decisions_heading) + "</h3>\n<ul class=\"decisions\">\n" +
           classes + "</ul>\n";
  }

  std::string per_device;
  for (const auto& d : devices.device()) {
    for (const auto& dp : d.purpose()) {
      if (dp.purpose_id() != p.id()) continue;
      per_device += "<li><span class=\"device\">" + escape(d.device_id()) +
                    "</span> <span class=\"decision " +
                    (dp.granted() ? "is-granted" : "is-refused") + "\">" +
                    escape(dp.granted() ? t.allowed : t.refused) + " (" +
                    escape(decided_at_text(t, dp.decided_at())) + ")</span> " +
                    device_toggles(c, p.id(), title, d.device_id(), dp.granted(), dp.decided_at(),
                                   "/purposes") +
                    "</li>\n";
    }
  }
  if (!per_device.empty()) {
    out += "<h3>" + escape(t.per_device_heading) + "</h3>\n<ul class=\"decisions\">\n" +
           per_device + "</ul>\n";
  }
  return out + "</section>\n";
}

control::Decision parse_decision(std::string_view s) {
  if (s == "grant") return control::DECISION_GRANT;
  if (s == "refuse") return control::DECISION_REFUSE;
  if (s == "clear") return control::DECISION_CLEAR;
  return control::DECISION_UNSPECIFIED;
}

consent::Scope parse_scope(std::string_view s) {
  if (s == "household") return consent::SCOPE_HOUSEHOLD;
  if (s == "class") return consent::SCOPE_DEVICE_CLASS;
  if (s == "device") return consent::SCOPE_DEVICE;
  return consent::SCOPE_UNSPECIFIED;
}

}  // namespace

app_response purposes_page(const page_context& c) {
  control::Request preq;
  preq.mutable_purposes();
  auto purposes = ask(c, preq);
  if (!purposes.ok()) return *purposes.failure;
  control::Request dreq;
  dreq.mutable_devices();
  auto devices = ask(c, dreq);
  if (!devices.ok()) return *devices.failure;
  const auto& p = purposes.response.purposes();

  std::string body = "<p>" + escape(c.t.purposes_intro) + "</p>\n";
  if (p.paused()) body += "<p class=\"warning\">" + escape(c.t.paused_note) + "</p>\n";
  if (p.purpose_size() == 0) body += "<p>" + escape(c.t.no_purposes) + "</p>\n";
  for (int i = 0; i < p.purpose_size(); ++i) {
    body += purpose_section(c, p.purpose(i), i, devices.response.devices());
  }
  body += "<p class=\"note\">" +
          escape(fill(c.t.policy_note, {p.policy_name(), std::to_string(p.policy_version())})) +
          "</p>\n";
  return html(200, session_page(c, "/purposes", c.t.nav_purposes, body));
}

app_response consent_action(const page_context& c) {
  const auto decision = parse_decision(c.param("decision"));
  const auto scope = parse_scope(c.param("scope"));
  const std::string purpose = c.param("purpose");
  if (decision == control::DECISION_UNSPECIFIED || scope == consent::SCOPE_UNSPECIFIED ||
      purpose.empty()) {
    return session_error(c, 400);
  }
  control::Request req;
  auto* sc = req.mutable_set_consent();
  sc->set_purpose(purpose);
  sc->set_decision(decision);
  sc->set_scope(scope);
  if (scope != consent::SCOPE_HOUSEHOLD) sc->set_value(c.param("value"));
  auto a = ask(c, req);
  if (!a.ok()) return *a.failure;
  const std::string back = c.param("back");
  return see_other(is_local_path(back) ? back : "/purposes");
}

}  // namespace portier::gateway::web
