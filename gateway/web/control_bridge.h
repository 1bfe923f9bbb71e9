// portier-web's way to portierd: the control socket, one connection per call, every request with
// method "web" (so the ledger records what the page did), and the page's announcement.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "control.pb.h"
#include "gateway/web/http/web_handler.h"

namespace portier::gateway::web {

// Calls portierd at `socket`; a transport failure is an error naming its kind, never the request.
control_caller socket_caller(std::string socket, std::chrono::milliseconds timeout);

// web_announce: where the page is and its certificate's fingerprint.
control::Request announcement(const std::vector<std::string>& urls, const std::string& fingerprint);

}  // namespace portier::gateway::web
