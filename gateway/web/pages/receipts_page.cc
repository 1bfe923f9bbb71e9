// GET /receipts: the consent receipts, newest first, read from the export document (the one place
// the control API gives them all).
#include <vector>

#include <rapidjson/document.h>

#include "gateway/web/pages/control_ask.h"
#include "gateway/web/pages/format.h"
#include "gateway/web/pages/html.h"
#include "gateway/web/pages/layout.h"
#include "gateway/web/pages/pages.h"

namespace portier::gateway::web {

namespace {

// A page shows at most this many; the export holds the rest.
constexpr std::size_t kMaxShown = 500;

struct receipt {
  std::string id, scope, scope_value, purpose, decision, method, purpose_title, policy_name;
  std::int64_t time_ms = 0;
  std::uint64_t policy_version = 0;
};

std::string str(const rapidjson::Value& o, const char* key) {
  const auto it = o.FindMember(key);
  if (it == o.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

// The receipts of the export document, oldest first; false when it is not one.
bool parse_receipts(const std::string& json, std::vector<receipt>& out) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return false;
  const auto it = doc.FindMember("receipts");
  if (it == doc.MemberEnd() || !it->value.IsArray()) return false;
  for (const auto& v : it->value.GetArray()) {
    if (!v.IsObject()) return false;
    receipt r;
    r.id = str(v, "id");
    r.scope = str(v, "scope");
    r.scope_value = str(v, "scope_value");
    r.purpose = str(v, "purpose");
    r.decision = str(v, "decision");
    r.method = str(v, "method");
    r.purpose_title = str(v, "purpose_title");
    r.policy_name = str(v, "policy_name");
    if (const auto t = v.FindMember("time_ms"); t != v.MemberEnd() && t->value.IsInt64()) {
      r.time_ms = t->value.GetInt64();
    }
    if (const auto pv = v.FindMember("policy_version");
        pv != v.MemberEnd() && pv->value.IsUint64()) {
      r.policy_version = pv->value.GetUint64();
    }
    out.push_back(std::move(r));
  }
  return true;
}

std::string_view decision_text(const texts& t, std::string_view d) {
  if (d == "granted") return t.decision_granted;
  if (d == "refused") return t.decision_refused;
  if (d == "cleared") return t.decision_cleared;
  if (d == "paused") return t.decision_paused;
  if (d == "resumed") return t.decision_resumed;
  return d;
}

std::string scope_text(const texts& t, const receipt& r) {
  if (r.decision == "paused" || r.decision == "resumed" || r.scope == "household") {
    return std::string(t.scope_household);
  }
  if (r.scope == "device_class") return fill(t.scope_class, {r.scope_value});
  return r.scope_value;
}

std::string method_text(const texts& t, std::string_view m) {
  if (m == "web") return std::string(t.method_web);
  if (m == "cli") return std::string(t.method_cli);
  if (m == "config") return std::string(t.method_config);
  if (m == "policy-update") return std::string(t.method_policy_update);
  return std::string(m);
}

}  // namespace

app_response receipts_page(const page_context& c) {
  const texts& t = c.t;
  control::Request req;
  req.mutable_export_ledger();
  auto a = ask(c, req);
  if (!a.ok()) return *a.failure;
  std::vector<receipt> receipts;
  if (!parse_receipts(a.response.export_ledger().json(), receipts)) return session_error(c, 502);

  std::string body = "<p>" + escape(t.receipts_intro) + "</p>\n";
  if (receipts.empty()) {
    body += "<p>" + escape(t.no_receipts) + "</p>\n";
    return html(200, session_page(c, "/receipts", t.receipts_title, body));
  }
  body += "<div class=\"table\">\n<table>\n<thead><tr><th scope=\"col\">" + escape(t.col_when) +
          "</th><th scope=\"col\">" + escape(t.col_decision) + "</th><th scope=\"col\">" +
          escape(t.col_purpose) + "</th><th scope=\"col\">" + escape(t.col_scope) +
          "</th><th scope=\"col\">" + escape(t.col_how) + "</th><th scope=\"col\">" +
          escape(t.col_policy) + "</th><th scope=\"col\">" + escape(t.col_receipt) +
          "</th></tr></thead>\n<tbody>\n";
  std::size_t shown = 0;
  for (auto it = receipts.rbegin(); it != receipts.rend() && shown < kMaxShown; ++it, ++shown) {
    const receipt& r = *it;
    const std::string purpose = r.purpose_title.empty() ? r.purpose : r.purpose_title;
    body +=
        "<tr><td>" + escape(format_time(c.lang(), r.time_ms)) + "</td><td>" +
        escape(decision_text(t, r.decision)) + "</td><td>" + escape(purpose) + "</td><td>" +
        escape(scope_text(t, r)) + "</td><td>" + escape(method_text(t, r.method)) + "</td><td>" +
        escape(r.policy_name.empty()
                   ? std::string()
                   : fill(t.policy_version, {r.policy_name, std::to_string(r.policy_version)})) +
        "</td><td><code>" + escape(r.id.substr(0, 8)) + "</code></td></tr>\n";
  }
  body += "</tbody>\n</table>\n</div>\n";
  if (receipts.size() > shown) {
    body += "<p class=\"note\">" +
            escape(fill(t.receipts_older, {format_count(c.lang(), receipts.size() - shown)})) +
            "</p>\n";
  }
  return html(200, session_page(c, "/receipts", t.receipts_title, body));
}

}  // namespace portier::gateway::web
