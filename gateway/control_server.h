// The control server: the household's door into portierd (portierctl, and through the same
// control_service the LAN page). proto/control.proto defines the messages, docs/CONTROL.md the
// protocol for users.
//
// Per connection, in order:
//   1. the kernel's peer credentials (SO_PEERCRED) decide: root, a process whose group is the
//      control group, or a user the user database lists in it may proceed; anyone else gets
//      PERMISSION_DENIED, is counted, and the connection is closed without reading anything;
//   2. one frame is read (at most max_request_bytes, within receive_timeout); an oversized frame
//      gets INVALID_REQUEST and the connection is closed (what follows cannot be trusted to be
//      a frame boundary); a frame that does not parse, or carries fields this daemon does not
//      know, gets INVALID_REQUEST;
//   3. every field is validated (validate_request) before the service sees it;
//   4. the service answers; an exception becomes INTERNAL; strings in the answer are made
//      valid UTF-8 (protobuf refuses to parse anything else) and the answer is sent;
//   5. back to 2 until the client closes, times out or the server stops.
//
// Threading: one thread serves connections one after another, so the service is never called
// concurrently by this server (it may be by others, e.g. the daemon's own threads). A client
// can hold the server for at most receive_timeout between requests; an authorised household
// member could keep it busy, which is theirs to do. stop() (or the destructor) interrupts any
// wait at once, waits for a service call in progress, closes the socket and removes its file.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "control.pb.h"
#include "platform/result.h"
#include "platform/unix_socket.h"

namespace portier::gateway {

// The daemon's answers to control requests. Requests arrive authorised and validated
// (validate_request); an implementation returns a Response with code and message set, and on OK
// the result matching the request's command.
class control_service {
 public:
  virtual ~control_service() = default;
  virtual control::Response handle(const control::Request& request) = 0;
};

// What the server reports for counting (never anything a client sent).
enum class control_event {
  served,     // a request was answered by the service (whatever its code)
  refused,    // a peer that is neither root nor in the control group was turned away
  invalid,    // a request was oversized, unparseable or failed validation
  timed_out,  // a client did not send a whole request within receive_timeout
  failed,     // the service threw, or the answer could not be sent
};
std::string_view control_event_name(control_event e);

struct control_server_options {
  // Socket file, e.g. /run/portier/control.sock. Its directory must exist.
  std::string path;
  // Who besides root may connect: a group name ("portier") or number; empty means root only.
  std::string group;
  // Permissions of the socket file. The default lets only the owner (portierd's user) and the
  // group connect; the credential check applies regardless.
  unsigned socket_mode = 0660;
  std::size_t max_request_bytes = 64 * 1024;
  // The longest a client may take to send a request (from connecting, or from the previous
  // answer), and to take an answer.
  std::chrono::milliseconds receive_timeout{5000};
  std::chrono::milliseconds send_timeout{5000};
  // Unix milliseconds now, for validating times in requests. Default: the system clock.
  std::function<std::int64_t()> now_ms;
  // For tests: user database membership (default platform::user_in_group).
  std::function<bool(uid_t, gid_t)> in_group;
};

// Who may use the control socket: uid 0, a peer whose gid is the control group, or a uid that
// `in_group` places in it. Without a control group, root only.
bool control_peer_allowed(const platform::peer_credentials& peer, std::optional<gid_t> group,
                          const std::function<bool(uid_t, gid_t)>& in_group);

// Checks every field of `request` before a service sees it: a command is set, the method is 1 to
// 32 of a-z 0-9 '-' '_' '.', purpose and class ids follow the policy's rules, device ids and
// values are 1 to 256 bytes of UTF-8 without NUL, set_consent has a real decision and scope (and
// a value exactly when the scope needs one), report's since_ms is not negative nor more than a
// day after `now_ms`, and nothing carries fields this daemon does not know. nullopt when valid;
// otherwise an INVALID_REQUEST response saying what to fix.
std::optional<control::Response> validate_request(const control::Request& request,
                                                  std::int64_t now_ms);

// Replaces every invalid UTF-8 sequence in every string field of `message` (recursively) with
// U+FFFD, so that the answer parses on the other side.
void make_strings_utf8(google::protobuf::Message& message);

// A response with `code` and `message` and no result.
control::Response control_error(control::Response::Code code, std::string message);

class control_server {
 public:
  using event_sink = std::function<void(control_event)>;

  // Resolves the group, listens on the path (replacing a stale socket) and starts serving.
  // `service` and `sink` must outlive the server; `sink` is called on the server's thread.
  static platform::result<std::unique_ptr<control_server>> start(control_server_options options,
                                                                 control_service& service,
                                                                 event_sink sink = {});
  ~control_server();
  control_server(const control_server&) = delete;
  control_server& operator=(const control_server&) = delete;

  // Idempotent.
  void stop();
  const std::string& path() const { return options_.path; }

 private:
  control_server(control_server_options options, control_service& service, event_sink sink);
  void run();
  void serve(platform::unix_socket connection);
  // Returns false when the connection must be closed.
  bool reply(const platform::unix_socket& connection, control::Response response);
  void emit(control_event e);

  control_server_options options_;
  control_service& service_;
  event_sink sink_;
  std::optional<gid_t> group_;
  platform::unix_socket listener_;
  dev_t socket_dev_ = 0;  // identity of the socket file we created, so stop() never removes
  ino_t socket_ino_ = 0;  // one a newer daemon put there
  int wake_read_ = -1;
  int wake_write_ = -1;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
};

}  // namespace portier::gateway
