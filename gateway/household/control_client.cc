#include "gateway/household/control_client.h"

#include <cstring>
#include <utility>

#include "gateway/household/control_protocol.h"
#include "platform/unix_socket.h"

namespace portier::gateway {

platform::result<control::Response> call_control(const std::string& path,
                                                 const control::Request& request,
                                                 std::chrono::milliseconds timeout,
                                                 control_failure* failure) {
  auto fail = [&](control_failure::kind what, int error_number, std::string detail) {
    std::string message = detail.empty() ? "closed without answering" : detail;
    if (failure != nullptr) *failure = {what, error_number, std::move(detail)};
    return platform::error{std::move(message)};
  };
  int e = 0;
  auto s = platform::connect_unix(path, &e);
  if (!s) return fail(control_failure::kind::connect, e, std::strerror(e));
  std::string bytes;
  request.SerializeToString(&bytes);
  // Even if the write fails, an answer may be waiting: portierd refuses an unauthorised peer
  // without reading its request.
  auto written = platform::write_frame(*s, bytes, std::chrono::seconds(5));
  auto frame = platform::read_frame(*s, kMaxControlResponseBytes, timeout);
  if (!frame) {
    if (frame.error_message().rfind("timed out", 0) == 0)
      return fail(control_failure::kind::timed_out, 0, frame.error_message());
    return fail(control_failure::kind::closed, 0,
                written ? frame.error_message() : written.error_message());
  }
  if (frame->what == platform::frame_read::kind::closed)
    return fail(control_failure::kind::closed, 0, "");
  control::Response response;
  if (frame->what == platform::frame_read::kind::too_large ||
      !response.ParseFromString(frame->body)) {
    return fail(control_failure::kind::unreadable, 0, "the answer cannot be read");
  }
  return response;
}

}  // namespace portier::gateway
