// GET /receipts: the consent receipts, newest first, read from the export document (the one place
// the control API gives them all).
#include <cstdint>
#include <deque>

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

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

// Reads the "receipts" array of the export document as a stream: the ledger before it may be
// large, and is skipped without being kept. Keeps the newest kMaxShown receipts and counts all.
class receipts_reader : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, receipts_reader> {
 public:
  std::deque<receipt> kept;
  std::size_t total = 0;

  // False when `json` is not a document with a "receipts" array.
  bool read(const std::string& json) {
    rapidjson::Reader reader;
    rapidjson::MemoryStream stream(json.data(), json.size());
    return !reader.Parse(stream, *this).IsError() && saw_receipts_;
  }

  bool StartObject() {
    if (depth_ == 2 && in_receipts_) {
      kept.emplace_back();
      ++total;
      if (kept.size() > kMaxShown) kept.pop_front();
    }
    ++depth_;
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    --depth_;
    return true;
  }
  bool StartArray() {
    if (depth_ == 1 && key_ == "receipts") in_receipts_ = saw_receipts_ = true;
    ++depth_;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    --depth_;
    if (depth_ == 1) in_receipts_ = false;
    return true;
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (depth_ == 1 || in_field()) key_.assign(s, n);
    return true;
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (std::string* field = text_field()) field->assign(s, n);
    return true;
  }
  bool Int(int v) { return Int64(v); }
  bool Uint(unsigned v) { return Uint64(v); }
  bool Int64(std::int64_t v) {
    if (in_field() && key_ == "time_ms") kept.back().time_ms = v;
    return true;
  }
  bool Uint64(std::uint64_t v) {
    if (in_field() && key_ == "time_ms" && v <= INT64_MAX) {
      kept.back().time_ms = static_cast<std::int64_t>(v);
    }
    if (in_field() && key_ == "policy_version") kept.back().policy_version = v;
    return true;
  }
  bool Default() { return true; }

 private:
  // Directly inside one receipt object.
  bool in_field() const { return in_receipts_ && depth_ == 3 && !kept.empty(); }
  std::string* text_field() {
    if (!in_field()) return nullptr;
    receipt& r = kept.back();
    if (key_ == "id") return &r.id;
    if (key_ == "scope") return &r.scope;
    if (key_ == "scope_value") return &r.scope_value;
    if (key_ == "purpose") return &r.purpose;
    if (key_ == "decision") return &r.decision;
    if (key_ == "method") return &r.method;
    if (key_ == "purpose_title") return &r.purpose_title;
    if (key_ == "policy_name") return &r.policy_name;
    return nullptr;
  }

  int depth_ = 0;
  bool in_receipts_ = false;
  bool saw_receipts_ = false;
  std::string key_;
};

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
  receipts_reader receipts;
  if (!receipts.read(a.response.export_ledger().json())) return session_error(c, 502);

  std::string body = "<p>" + escape(t.receipts_intro) + "</p>\n";
  if (receipts.kept.empty()) {
    body += "<p>" + escape(t.no_receipts) + "</p>\n";
    return html(200, session_page(c, "/receipts", t.receipts_title, body));
  }
  body += "<div class=\"table\">\n<table>\n<thead><tr><th scope=\"col\">" + escape(t.col_when) +
          "</th><th scope=\"col\">" + escape(t.col_decision) + "</th><th scope=\"col\">" +
          escape(t.col_purpose) + "</th><th scope=\"col\">" + escape(t.col_scope) +
          "</th><th scope=\"col\">" + escape(t.col_how) + "</th><th scope=\"col\">" +
          escape(t.col_policy) + "</th><th scope=\"col\">" + escape(t.col_receipt) +
          "</th></tr></thead>\n<tbody>\n";
  for (auto it = receipts.kept.rbegin(); it != receipts.kept.rend(); ++it) {
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
  if (receipts.total > receipts.kept.size()) {
    body += "<p class=\"note\">" +
            escape(fill(t.receipts_older,
                        {format_count(c.lang(), receipts.total - receipts.kept.size())})) +
            "</p>\n";
  }
  return html(200, session_page(c, "/receipts", t.receipts_title, body));
}

}  // namespace portier::gateway::web
