// portierctl's command line: parse arguments into one control request, send it to portierd,
// print the answer, and choose the exit status (docs/CONTROL.md "Exit status").
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "control.pb.h"
#include "platform/result.h"

namespace portier::tools::ctl {

enum exit_status : int {
  exit_ok = 0,
  exit_daemon_error = 1,  // portierd answered with an error (or verify-ledger found damage)
  exit_usage = 2,         // wrong arguments: nothing was sent
  exit_unreachable = 3,   // no answer: portierd not running, wrong socket, timeout
  exit_denied = 4,        // not allowed to use the control socket
};

struct invocation {
  std::string socket;   // control socket path
  bool json = false;    // --json
  std::string command;  // as typed: "status", "grant", "verify-ledger", ...
  control::Request request;
  std::string export_file;  // export FILE ("-": standard output)
};

// Parses `args` (without the program name). `env_socket` is $PORTIER_SOCKET (empty if unset),
// `now_ms` turns --since into a time. An error is a usage message for standard error.
platform::result<invocation> parse_args(const std::vector<std::string>& args,
                                        const std::string& env_socket, std::int64_t now_ms);

struct call_failure {
  exit_status status;
  std::string message;  // one sentence with what to do
};

// Sends one request and reads its answer. A failure is exit_unreachable or exit_denied with its
// sentence, or exit_daemon_error when the answer cannot be read.
platform::result<control::Response> call_daemon(const std::string& socket,
                                                const control::Request& request,
                                                std::chrono::milliseconds timeout,
                                                call_failure& failure);

// What portierctl's main() does, with its streams and environment passed in.
int run_portierctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                   const std::string& env_socket, std::int64_t now_ms,
                   std::chrono::milliseconds timeout = std::chrono::seconds(60));

extern const char* const kUsage;

}  // namespace portier::tools::ctl
