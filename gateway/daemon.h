// portierd's life: load and validate configuration and policy, start ingress and egress, react
// to signals (SIGHUP reloads, SIGTERM/SIGINT drain and stop) and shut down cleanly.
#pragma once

#include <string>

namespace portier::gateway {

// Validates the configuration and the policy it names; prints the outcome. Exit status.
int check_config(const std::string& config_path);
// Runs until SIGTERM or SIGINT. Exit status: 0 after a clean stop, 1 if it could not start.
int run_daemon(const std::string& config_path);

}  // namespace portier::gateway
