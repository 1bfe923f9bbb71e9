// portierctl: the household's tool to see and decide what the gateway shares. `portierctl help`
// lists the commands; docs/CONTROL.md describes them with examples.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "tools/portierctl/cli.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const char* env = std::getenv("PORTIER_SOCKET");
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return portier::tools::ctl::run_portierctl(args, std::cout, std::cerr, env != nullptr ? env : "",
                                             now_ms);
}
