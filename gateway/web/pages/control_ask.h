// One control command on behalf of a page: the request goes out with method "web" (receipts and
// the ledger record the LAN page), and an answer that is not OK, or not the answer to that
// command, becomes the page that says so: 503 when portierd cannot do it now, 404 / 400 when it
// refused what was asked, 502 for anything else. Never throws.
#pragma once

#include <optional>

#include "control.pb.h"
#include "gateway/web/app.h"
#include "gateway/web/pages/page_context.h"

namespace portier::gateway::web {

struct control_answer {
  control::Response response;
  // Set when the command failed: the page to answer with instead.
  std::optional<app_response> failure;

  bool ok() const { return !failure.has_value(); }
};

control_answer ask(const page_context& c, control::Request request);

}  // namespace portier::gateway::web
