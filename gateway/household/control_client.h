// A client of portierd's control socket: connect, send one request frame, read one answer frame
// (platform/unix_socket.h framing, docs/CONTROL.md). Shared by portierctl and portier-web, which
// word the failures for their own readers (a shell user, a log).
//
// One connection per call: the server authorises each connection by the kernel's account of the
// peer (SO_PEERCRED), so a call needs no state, and calls from several threads are independent.
// The answer is bounded by kMaxControlResponseBytes; its body is never read past the length.
#pragma once

#include <chrono>
#include <string>

#include "control.pb.h"
#include "platform/result.h"

namespace portier::gateway {

struct control_failure {
  enum class kind {
    connect,     // no connection: `error_number` says why (ENOENT, ECONNREFUSED, EACCES, ...)
    timed_out,   // connected, but no whole answer within the timeout
    closed,      // portierd closed the connection without answering (`detail` says how)
    unreadable,  // an answer came but is too large or not a control::Response
  };
  kind what = kind::connect;
  int error_number = 0;
  std::string detail;  // the I/O layer's message, for logs
};

// Sends `request` to the socket at `path` and reads the answer within `timeout`. Never throws.
platform::result<control::Response> call_control(const std::string& path,
                                                 const control::Request& request,
                                                 std::chrono::milliseconds timeout,
                                                 control_failure* failure = nullptr);

}  // namespace portier::gateway
