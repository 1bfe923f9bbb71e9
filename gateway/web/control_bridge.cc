#include "gateway/web/control_bridge.h"

#include <utility>

#include "gateway/household/control_client.h"

namespace portier::gateway::web {

control_caller socket_caller(std::string socket, std::chrono::milliseconds timeout) {
  return [socket = std::move(socket),
          timeout](const control::Request& request) -> platform::result<control::Response> {
    control::Request web = request;
    web.set_method("web");
    return call_control(socket, web, timeout);
  };
}

control::Request announcement(const std::vector<std::string>& urls,
                              const std::string& fingerprint) {
  control::Request r;
  r.set_method("web");
  auto* a = r.mutable_web_announce();
  for (const auto& u : urls) a->add_urls(u);
  a->set_fingerprint_sha256(fingerprint);
  return r;
}

}  // namespace portier::gateway::web
