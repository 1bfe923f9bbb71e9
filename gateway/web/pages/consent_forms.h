// The consent toggles the purposes page and a device's page share: each is a small form that
// POSTs /consent (purpose, decision grant|refuse|clear, scope household|class|device, value,
// back) and says in its button what it does, and for whom.
#pragma once

#include <string>
#include <string_view>

#include "gateway/web/pages/page_context.h"

namespace portier::gateway::web {

struct consent_target {
  std::string_view purpose_id;
  std::string_view purpose_title;
  std::string_view scope;  // "household", "class" or "device"
  std::string_view value;  // class or device id; empty for the household
  std::string_view back;   // local path to come back to
};

// One button: `decision` is "grant", "refuse" or "clear"; `text` its visible words and `label`
// its accessible name (which contains `text`).
std::string consent_form(const page_context& c, const consent_target& target,
                         std::string_view decision, std::string_view text, std::string_view label,
                         std::string_view cls);

// Where a device's effective decision comes from, in words.
std::string_view decided_at_text(const texts& t, int scope);

// The toggles of one device for one purpose: allow or refuse it (the opposite of `granted`), and
// follow the home's decision when the device has its own.
std::string device_toggles(const page_context& c, std::string_view purpose_id,
                           std::string_view purpose_title, std::string_view device_id, bool granted,
                           int decided_at, std::string_view back);

}  // namespace portier::gateway::web
