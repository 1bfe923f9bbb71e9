// portierd: Portier's daemon. See docs/CONFIGURATION.md and docs/ARCHITECTURE.md.
#include <cstring>
#include <iostream>
#include <string>

#include "gateway/daemon.h"
#include "gateway/status_report.h"

namespace {
constexpr const char* kUsage = R"(usage: portierd --config FILE [--check-config]

  --config FILE    configuration (protobuf text format; see docs/CONFIGURATION.md)
  --check-config   validate the configuration and the policy it names, then exit
  --version        print the version

Signals: SIGHUP reloads configuration and policy (an invalid one is rejected, the running one
stays); SIGTERM or SIGINT stop taking messages, send what is queued (drain_timeout_ms), exit 0.
)";
}  // namespace

int main(int argc, char** argv) {
  std::string config;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config = argv[++i];
    } else if (a == "--check-config") {
      check = true;
    } else if (a == "--version") {
      std::cout << "portierd " << portier::gateway::kPortierVersion << "\n";
      return 0;
    } else if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "portierd: unknown argument \"" << a << "\"\n" << kUsage;
      return 2;
    }
  }
  if (config.empty()) {
    std::cerr << "portierd: --config FILE is required\n" << kUsage;
    return 2;
  }
  try {
    return check ? portier::gateway::check_config(config) : portier::gateway::run_daemon(config);
  } catch (const std::exception& e) {
    std::cerr << "portierd: fatal: " << e.what() << "\n";
    return 1;
  }
}
