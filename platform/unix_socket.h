// Unix domain stream sockets for the local control API: listen with file permissions and a
// group, connect, peer credentials, and length-prefixed frames with deadlines.
//
// Frame: a 4-byte big-endian body length, then the body. The reader states the largest body it
// accepts and learns of a larger one from the length alone, before reading any of the body, so a
// hostile peer cannot make it allocate. Reads and writes take a deadline for the whole frame (a
// peer that trickles one byte a second still times out) and never raise SIGPIPE.
//
// Authorisation is by the kernel's account of the peer (SO_PEERCRED: pid, uid, gid at connect
// time), never by anything the peer says. Group membership is looked up in the user database
// (getpwuid_r + getgrouplist), which is what an administrator edits with `adduser USER GROUP`.
//
// Threading: functions are reentrant; a unix_socket is owned by one thread at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "platform/result.h"

namespace portier::platform {

// An owned socket file descriptor (closed on destruction). Move-only.
class unix_socket {
 public:
  unix_socket() = default;
  explicit unix_socket(int fd) : fd_(fd) {}
  ~unix_socket() { close(); }
  unix_socket(unix_socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  unix_socket& operator=(unix_socket&& other) noexcept;
  unix_socket(const unix_socket&) = delete;
  unix_socket& operator=(const unix_socket&) = delete;

  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void close();

 private:
  int fd_ = -1;
};

struct listen_options {
  // Permissions of the socket file: who may connect at all (the peer check comes on top).
  unsigned mode = 0660;
  // Group owner of the socket file; nullopt leaves the creator's group.
  std::optional<gid_t> group;
  int backlog = 16;
};

// Listens on `path` (at most 107 bytes). A stale socket left by a dead process is removed; a
// socket some process still listens on, or a file that is not a socket, is an error (never
// deleted). The parent directory must exist. The listener is non-blocking and close-on-exec.
result<unix_socket> listen_unix(const std::string& path, const listen_options& options);

// Accepts one pending connection (blocking, close-on-exec). With nothing pending — the client
// gave up between poll() and accept() — an error. On failure, `*error_number` (if given) is the
// errno: EAGAIN (nothing pending), EMFILE or ENFILE (out of descriptors), ….
result<unix_socket> accept_unix(const unix_socket& listener, int* error_number = nullptr);

// Connects to `path`. On failure, `*error_number` (if given) is the errno: ENOENT (no socket
// there), ECONNREFUSED (nobody listening), EACCES (no permission on the file or directory), ….
result<unix_socket> connect_unix(const std::string& path, int* error_number = nullptr);

struct peer_credentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// The connected peer's process, user and primary group as the kernel recorded them at connect.
result<peer_credentials> peer_credentials_of(const unix_socket& socket);

struct frame_read {
  enum class kind {
    frame,      // `body` holds a whole frame
    closed,     // the peer closed the connection between frames (a clean end)
    too_large,  // the length (in `length`) exceeds the limit; the body was not read
  };
  kind what = kind::frame;
  std::string body;
  std::uint32_t length = 0;
};

// Reads one frame whose body is at most `max_bytes`, within `timeout` for the whole frame.
// Errors: timeout (the message starts with "timed out"), `cancel_fd` (if >= 0) becoming
// readable because someone asked to stop (the message is "cancelled"), end of stream inside a
// frame, I/O error.
result<frame_read> read_frame(const unix_socket& socket, std::size_t max_bytes,
                              std::chrono::milliseconds timeout, int cancel_fd = -1);

// Writes one frame within `timeout`. Errors: body over 4 GiB - 1, timeout, peer gone, I/O.
result<bool> write_frame(const unix_socket& socket, std::string_view body,
                         std::chrono::milliseconds timeout);

// The user database's answer: is `uid` a member of `gid`, as primary or supplementary group?
// False for a uid the database does not know.
bool user_in_group(uid_t uid, gid_t gid);

// A group by name ("portier") or by number ("998").
result<gid_t> group_id(const std::string& name_or_number);

}  // namespace portier::platform
