// portier-web: the household's LAN page (docs/WEB.md). An unprivileged process that holds no key
// of portierd and reaches it only through the control socket, like portierctl.
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <string>

#include "gateway/web/app.h"
#include "gateway/web/control_bridge.h"
#include "gateway/web/http/mhd_server.h"
#include "gateway/web/web_config.h"
#include "platform/log.h"
#include "platform/random.h"
#include "platform/self_signed_cert.h"
#include "platform/signals.h"
#include "platform/wall_clock.h"

namespace {

namespace web = portier::gateway::web;
namespace platform = portier::platform;

constexpr const char* kUsage = R"(usage: portier-web [--config FILE] [--check-config]

  --config FILE    configuration (protobuf text format; see docs/WEB.md);
                   default /etc/portier/portier-web.conf
  --check-config   validate the configuration, then exit

At start it makes (or reads back) its TLS key and certificate in state_dir, prints the page's
addresses and the certificate's SHA-256 fingerprint, and tells portierd both (again every
minute). SIGTERM or SIGINT stop it.
)";

// How often portierd hears where the page is (it may have restarted and forgotten).
constexpr std::chrono::seconds kAnnounceEvery{60};
// A page's control call: an export of a whole ledger may take a while.
constexpr std::chrono::seconds kControlTimeout{30};

web::web_app pages() {
  web::web_app app;
  app.handle = &web::handle_app;
  app.login_page = &web::login_page;
  app.error_page = &web::error_page;
  app.stylesheet = &web::app_stylesheet;
  return app;
}

int run(const web::web_config& config) {
  const auto& c = config.proto;
  platform::signal_waiter signals;  // before any thread starts
  auto identity = platform::load_or_make_self_signed(c.state_dir(), config.dns_names,
                                                     config.ip_addresses, platform::wall_ms());
  if (!identity) {
    std::cerr << "portier-web: " << identity.error_message() << "\n";
    return 1;
  }
  if (identity->created)
    platform::log_info("made a new TLS key and certificate in ", c.state_dir());

  web::web_handler_options options;
  options.hosts = config.hosts;
  options.ports = config.ports;
  options.sessions.idle_ms = static_cast<std::int64_t>(c.session_idle_timeout_seconds()) * 1000;
  options.sessions.max_age_ms = static_cast<std::int64_t>(c.session_max_age_seconds()) * 1000;
  options.sessions.max_sessions = c.max_sessions();
  const web::control_caller control = web::socket_caller(c.control_socket(), kControlTimeout);
  web::web_handler handler(options, pages(), control, [](std::span<std::uint8_t> out) {
    return platform::random_bytes(out).ok();
  });

  std::vector<web::listen_address> listen;
  for (const auto& l : c.listen()) listen.push_back({l.address(), l.port()});
  auto server = web::web_server::start(listen, identity->key_pem, identity->cert_pem,
                                       web::server_limits{}, handler);
  if (!server) {
    std::cerr << "portier-web: " << server.error_message() << "\n";
    return 1;
  }

  std::cout << "portier-web is listening. Open one of:\n";
  for (const auto& url : config.urls) std::cout << "  " << url << "\n";
  std::cout << "Certificate SHA-256 fingerprint (your browser shows it; portierctl too):\n  "
            << identity->fingerprint << "\n"
            << std::flush;

  const portier::control::Request announce = web::announcement(config.urls, identity->fingerprint);
  bool announced = false;
  bool warned = false;
  while (true) {
    auto answer = control(announce);
    if (answer && answer->code() == portier::control::Response::OK) {
      if (!announced) platform::log_info("portierd knows the page's addresses and fingerprint");
      announced = true;
      warned = false;
    } else if (!warned) {
      platform::log_warning(
          "cannot tell portierd where the page is (",
          answer ? portier::control::Response::Code_Name(answer->code()) : answer.error_message(),
          "); trying again every minute");
      warned = true;
      announced = false;
    }
    const int sig = signals.wait(kAnnounceEvery);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (sig == SIGHUP)
      platform::log_info("SIGHUP: nothing to reload; restart to read the configuration");
  }
  platform::log_info("stopping");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = web::kDefaultWebConfig;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a == "--check-config") {
      check = true;
    } else if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "portier-web: unknown argument \"" << a << "\"\n" << kUsage;
      return 2;
    }
  }
  auto config = web::load_web_config(config_path);
  if (!config) {
    std::cerr << config.error_message() << "\n";
    return 1;
  }
  if (check) {
    std::cout << config_path << ": configuration OK\n";
    return 0;
  }
  platform::log_init(platform::log_level::info, false, "portier-web");
  return run(*config);
}
