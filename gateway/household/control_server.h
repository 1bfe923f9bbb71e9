// The control server: the household's door into portierd (portierctl, and through the same
// control_service the LAN page). proto/control.proto defines the messages, docs/CONTROL.md the
// protocol for users.
//
// Per connection, in order:
//   1. the kernel's peer credentials (SO_PEERCRED) decide: root, a process whose group is the
//      control group, or a user the user database lists in it may proceed; anyone else gets
//      PERMISSION_DENIED, is counted, and the connection is closed without reading anything;
//   2. with max_connections authorised connections open already, the one that has waited longest
//      for a request (sent nothing since connecting or since its last answer, and was open before
//      this round of accepts) gets UNAVAILABLE and is closed to make room; with none such, the
//      newcomer gets UNAVAILABLE and is closed without reading anything; either is counted (busy);
//   3. one frame is read (at most max_request_bytes, within receive_timeout); an oversized frame
//      gets INVALID_REQUEST and the connection is closed (what follows cannot be trusted to be
//      a frame boundary); a frame that does not parse, or carries fields this daemon does not
//      know, gets INVALID_REQUEST;
//   4. every field is validated (validate_request) before the service sees it;
//   5. the service answers; an exception becomes INTERNAL; strings in the answer are made
//      valid UTF-8 (protobuf refuses to parse anything else) and the answer is sent (within
//      send_timeout); while answers waiting to be sent to other clients take more than
//      max_pending_answer_bytes, a request gets UNAVAILABLE instead (busy);
//   6. back to 3 until the client closes, times out or the server stops.
//
// Threading: one thread multiplexes the listening socket and every connection with poll():
// reads and writes never block, each connection has its own buffer and its own deadline, so a
// client that connects and sends nothing (or reads nothing) holds only its own connection, for
// at most receive_timeout (send_timeout), and never delays another; when connections run out,
// the idle ones make room (step 2). The service is called on
// that thread, one request at a time, so it is never called concurrently by this server (it may
// be by others, e.g. the daemon's own threads); a slow service call delays every client. A
// connection reads only the request it serves: what a client sends before its answer waits in
// the kernel. Memory is bounded by max_connections requests of max_request_bytes, plus the
// answers being sent (max_pending_answer_bytes, plus the one answer that crosses it).
// stop() (or the destructor) interrupts any wait at once, waits for a service call in progress,
// closes every connection and the socket, and removes its file.
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
#include <string_view>
#include <thread>
#include <vector>

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
  failed,     // the service threw, or the answer could not be sent (within send_timeout)
  busy,       // max_connections or max_pending_answer_bytes was reached: UNAVAILABLE
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
  // Authorised connections open at once; beyond it, an idle one or the newcomer is closed.
  std::size_t max_connections = 32;
  // Bytes of answers waiting for slow readers beyond which requests get UNAVAILABLE.
  std::size_t max_pending_answer_bytes = 64 * 1024 * 1024;
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

// A request body as a client sent it, parsed (quietly: a hostile frame must not fill the log)
// and validated: `request` is ready for the service unless `error` holds the INVALID_REQUEST
// answer for it.
struct parsed_request {
  control::Request request;
  std::optional<control::Response> error;
};
parsed_request parse_request(std::string_view body, std::int64_t now_ms);

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
  struct connection;
  using clock = std::chrono::steady_clock;

  void run();
  // Accepts what is pending; false when accepting must pause (out of descriptors).
  bool accept_pending();
  // `fresh`: connections accepted in this round (the last ones of connections_), never evicted.
  void admit(platform::unix_socket socket, std::size_t& fresh);
  // Closes the connection that has waited longest for a request, if there is one; false if not.
  bool evict_idle(std::size_t fresh);
  // Each returns false when the connection must be closed.
  bool receive(connection& c);
  bool answer(connection& c);
  bool send_pending(connection& c);
  void expire(connection& c);
  // Queues `response` on `c` (made sendable: see step 5 of the contract).
  void queue(connection& c, control::Response response);
  control::Response call_service(const control::Request& request);
  std::size_t pending_answer_bytes() const;
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
  std::vector<std::unique_ptr<connection>> connections_;  // the server thread's only
  std::thread thread_;
  std::atomic<bool> stopped_{false};
};

}  // namespace portier::gateway
