// The pages and actions of a session, one function each (routes.cc maps paths to them). Each
// returns a complete response: the page, a 303 after an action, or the page saying what failed.
#pragma once

#include "gateway/web/app.h"
#include "gateway/web/pages/page_context.h"

namespace portier::gateway::web {

app_response home_page(const page_context& c);       // GET /
app_response pause_action(const page_context& c);    // POST /pause
app_response resume_action(const page_context& c);   // POST /resume
app_response purposes_page(const page_context& c);   // GET /purposes
app_response consent_action(const page_context& c);  // POST /consent
app_response devices_page(const page_context& c);    // GET /devices
app_response device_page(const page_context& c);     // GET /device?id=
app_response erase_page(const page_context& c);      // GET /erase?device=
app_response erase_action(const page_context& c);    // POST /erase
app_response receipts_page(const page_context& c);   // GET /receipts
app_response export_page(const page_context& c);     // GET /export
app_response export_action(const page_context& c);   // POST /export
app_response updates_page(const page_context& c);    // GET /updates
app_response stylesheet(const page_context& c);      // GET /style.css

}  // namespace portier::gateway::web
