#include "gateway/web/pages/consent_forms.h"

#include "consent.pb.h"
#include "gateway/web/pages/html.h"
#include "gateway/web/pages/texts.h"

namespace portier::gateway::web {

std::string consent_form(const page_context& c, const consent_target& target,
                         std::string_view decision, std::string_view text, std::string_view label,
                         std::string_view cls) {
  return form_open("/consent", c.request.csrf_token, "inline") +
         hidden("purpose", target.purpose_id) + hidden("decision", decision) +
         hidden("scope", target.scope) + hidden("value", target.value) +
         hidden("back", target.back) + "<button type=\"submit\" class=\"" + escape(cls) +
         "\" aria-label=\"" + escape(label) + "\">" + escape(text) + "</button></form>";
}

std::string_view decided_at_text(const texts& t, int scope) {
  switch (scope) {
    case consent::SCOPE_DEVICE:
      return t.from_device;
    case consent::SCOPE_DEVICE_CLASS:
      return t.from_class;
    case consent::SCOPE_HOUSEHOLD:
      return t.from_household;
    default:
      return t.from_default;
  }
}

std::string device_toggles(const page_context& c, std::string_view purpose_id,
                           std::string_view purpose_title, std::string_view device_id, bool granted,
                           int decided_at, std::string_view back) {
  const texts& t = c.t;
  const consent_target target{purpose_id, purpose_title, "device", device_id, back};
  std::string out;
  if (granted) {
    out += consent_form(c, target, "refuse", t.refuse,
                        fill(t.refuse_for, {purpose_title, device_id}), "refuse");
  } else {
    out += consent_form(c, target, "grant", t.allow, fill(t.allow_for, {purpose_title, device_id}),
                        "grant");
  }
  if (decided_at == consent::SCOPE_DEVICE) {
    out += consent_form(c, target, "clear", t.follow_home,
                        fill(t.follow_home_for, {purpose_title, device_id}), "quiet");
  }
  return out;
}

}  // namespace portier::gateway::web
