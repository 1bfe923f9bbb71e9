#include "platform/unix_socket.h"

#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <vector>

namespace portier::platform {

namespace {

using steady = std::chrono::steady_clock;

std::string errno_text(int e) {
  return std::strerror(e);
}

bool make_address(const std::string& path, sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path || path.find('\0') != std::string::npos) {
    return false;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return true;
}

error bad_path(const std::string& path) {
  return error{"socket path \"" + path + "\" is empty or longer than " +
               std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
               " bytes; choose a shorter path"};
}

// Milliseconds left until `deadline`, rounded up so that a poll never returns early; 0 if past.
int remaining_ms(steady::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - steady::now()).count();
  if (left <= 0) return 0;
  return left > std::numeric_limits<int>::max() ? std::numeric_limits<int>::max()
                                                : static_cast<int>(left);
}

enum class io_outcome { done, eof, timed_out, cancelled, failed };

// Reads exactly n bytes into `out` before `deadline`. `got` reports how many arrived (to tell a
// clean end between frames from one inside a frame).
io_outcome read_exact(int fd, char* out, std::size_t n, steady::time_point deadline, int cancel_fd,
                      std::size_t& got, int& err) {
  got = 0;
  while (got < n) {
    const ssize_t r = ::recv(fd, out + got, n - got, MSG_DONTWAIT);
    if (r > 0) {
      got += static_cast<std::size_t>(r);
      continue;
    }
    if (r == 0) return io_outcome::eof;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      err = errno;
      return io_outcome::failed;
    }
    pollfd fds[2] = {{fd, POLLIN, 0}, {cancel_fd, POLLIN, 0}};
    const int wait = remaining_ms(deadline);
    if (wait == 0) return io_outcome::timed_out;
    const int p = ::poll(fds, cancel_fd >= 0 ? 2 : 1, wait);
    if (p < 0 && errno != EINTR) {
      err = errno;
      return io_outcome::failed;
    }
    if (cancel_fd >= 0 && (fds[1].revents & POLLIN) != 0) return io_outcome::cancelled;
  }
  return io_outcome::done;
}

io_outcome write_all(int fd, const char* data, std::size_t n, steady::time_point deadline,
                     int& err) {
  std::size_t sent = 0;
  while (sent < n) {
    const ssize_t w = ::send(fd, data + sent, n - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w >= 0) {
      sent += static_cast<std::size_t>(w);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      err = errno;
      return io_outcome::failed;
    }
    pollfd pfd{fd, POLLOUT, 0};
    const int wait = remaining_ms(deadline);
    if (wait == 0) return io_outcome::timed_out;
    if (::poll(&pfd, 1, wait) < 0 && errno != EINTR) {
      err = errno;
      return io_outcome::failed;
    }
  }
  return io_outcome::done;
}

}  // namespace

unix_socket& unix_socket::operator=(unix_socket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

void unix_socket::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

result<unix_socket> listen_unix(const std::string& path, const listen_options& options) {
  sockaddr_un addr{};
  if (!make_address(path, addr)) return bad_path(path);

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return error{path + " exists and is not a socket; remove it or choose another socket path"};
    }
    int err = 0;
    if (connect_unix(path, &err)) {
      return error{"another process is already listening on " + path +
                   "; stop it first (is portierd already running?)"};
    }
    if (err != ECONNREFUSED) {
      return error{"cannot check the existing socket " + path + ": " + errno_text(err)};
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return error{"cannot remove the stale socket " + path + ": " + errno_text(errno)};
    }
  } else if (errno != ENOENT) {
    return error{"cannot inspect " + path + ": " + errno_text(errno)};
  }

  unix_socket sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!sock.valid()) return error{"cannot create a socket: " + errno_text(errno)};
  if (::bind(sock.fd(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return error{"cannot create the socket " + path + ": " + errno_text(errno) +
                 " (does its directory exist and may this user write there?)"};
  }
  // Permissions before listen(): nobody can connect until the file has its final mode and group.
  auto fail = [&](const std::string& what) {
    const int e = errno;
    ::unlink(path.c_str());
    return error{what + " " + path + ": " + errno_text(e)};
  };
  if (::chmod(path.c_str(), options.mode) != 0) return fail("cannot set the permissions of");
  if (options.group && ::chown(path.c_str(), static_cast<uid_t>(-1), *options.group) != 0) {
    return fail("cannot give group " + std::to_string(*options.group) + " the socket");
  }
  if (::listen(sock.fd(), options.backlog) != 0) return fail("cannot listen on");
  return sock;
}

result<unix_socket> accept_unix(const unix_socket& listener, int* error_number) {
  if (error_number != nullptr) *error_number = 0;
  for (;;) {
    const int fd = ::accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) return unix_socket(fd);
    if (errno == EINTR || errno == ECONNABORTED) continue;
    const int e = errno;
    if (error_number != nullptr) *error_number = e;
    return error{"accept failed: " + errno_text(e)};
  }
}

result<unix_socket> connect_unix(const std::string& path, int* error_number) {
  if (error_number != nullptr) *error_number = 0;
  sockaddr_un addr{};
  if (!make_address(path, addr)) {
    if (error_number != nullptr) *error_number = ENAMETOOLONG;
    return bad_path(path);
  }
  unix_socket sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) {
    if (error_number != nullptr) *error_number = errno;
    return error{"cannot create a socket: " + errno_text(errno)};
  }
  int r;
  do {
    r = ::connect(sock.fd(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (r != 0 && errno == EINTR);
  if (r != 0) {
    const int e = errno;
    if (error_number != nullptr) *error_number = e;
    return error{"cannot connect to " + path + ": " + errno_text(e)};
  }
  return sock;
}

result<peer_credentials> peer_credentials_of(const unix_socket& socket) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(socket.fd(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
    return error{"cannot read the peer's credentials: " + errno_text(errno)};
  }
  return peer_credentials{cred.pid, cred.uid, cred.gid};
}

result<frame_read> read_frame(const unix_socket& socket, std::size_t max_bytes,
                              std::chrono::milliseconds timeout, int cancel_fd) {
  const auto deadline = steady::now() + timeout;
  unsigned char header[4];
  std::size_t got = 0;
  int err = 0;
  auto failure = [&](io_outcome o, const char* where) -> error {
    switch (o) {
      case io_outcome::timed_out:
        return error{std::string("timed out after ") + std::to_string(timeout.count()) +
                     " ms reading " + where};
      case io_outcome::cancelled:
        return error{"cancelled"};
      case io_outcome::eof:
        return error{std::string("the connection closed in the middle of ") + where};
      default:
        return error{std::string("read failed in ") + where + ": " + errno_text(err)};
    }
  };
  io_outcome o = read_exact(socket.fd(), reinterpret_cast<char*>(header), sizeof header, deadline,
                            cancel_fd, got, err);
  if (o == io_outcome::eof && got == 0) return frame_read{frame_read::kind::closed, {}, 0};
  if (o != io_outcome::done) return failure(o, "a frame length");

  const std::uint32_t length = (std::uint32_t{header[0]} << 24) | (std::uint32_t{header[1]} << 16) |
                               (std::uint32_t{header[2]} << 8) | std::uint32_t{header[3]};
  if (length > max_bytes) return frame_read{frame_read::kind::too_large, {}, length};
  frame_read f{frame_read::kind::frame, std::string(length, '\0'), length};
  o = read_exact(socket.fd(), f.body.data(), length, deadline, cancel_fd, got, err);
  if (o != io_outcome::done) return failure(o, "a frame body");
  return f;
}

result<bool> write_frame(const unix_socket& socket, std::string_view body,
                         std::chrono::milliseconds timeout) {
  if (body.size() > std::numeric_limits<std::uint32_t>::max()) {
    return error{"frame of " + std::to_string(body.size()) + " bytes is too large to send"};
  }
  const auto deadline = steady::now() + timeout;
  const auto n = static_cast<std::uint32_t>(body.size());
  const char header[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                          static_cast<char>(n >> 8), static_cast<char>(n)};
  int err = 0;
  io_outcome o = write_all(socket.fd(), header, sizeof header, deadline, err);
  if (o == io_outcome::done) o = write_all(socket.fd(), body.data(), body.size(), deadline, err);
  if (o == io_outcome::timed_out) {
    return error{"timed out after " + std::to_string(timeout.count()) + " ms writing a frame"};
  }
  if (o != io_outcome::done) return error{"write failed: " + errno_text(err)};
  return true;
}

bool user_in_group(uid_t uid, gid_t gid) {
  long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(hint > 0 ? static_cast<std::size_t>(hint) : 16384);
  passwd pw{};
  passwd* found = nullptr;
  for (;;) {
    const int r = ::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found);
    if (r == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (r != 0 || found == nullptr) return false;
    break;
  }
  if (pw.pw_gid == gid) return true;
  int count = 32;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  for (int attempt = 0; attempt < 8; ++attempt) {
    int n = static_cast<int>(groups.size());
    if (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) >= 0) {
      for (int i = 0; i < n; ++i) {
        if (groups[static_cast<std::size_t>(i)] == gid) return true;
      }
      return false;
    }
    // Too small: glibc reports the size it needs in n.
    const std::size_t want =
        n > static_cast<int>(groups.size()) ? static_cast<std::size_t>(n) : groups.size() * 2;
    if (want > 65536) return false;
    groups.resize(want);
  }
  return false;
}

result<gid_t> group_id(const std::string& name_or_number) {
  if (name_or_number.empty()) return error{"the group name is empty"};
  if (name_or_number.find_first_not_of("0123456789") == std::string::npos) {
    if (name_or_number.size() > 10) return error{"group id " + name_or_number + " is out of range"};
    const unsigned long long v = std::stoull(name_or_number);
    if (v >= static_cast<unsigned long long>(static_cast<gid_t>(-1))) {
      return error{"group id " + name_or_number + " is out of range"};
    }
    return static_cast<gid_t>(v);
  }
  long hint = ::sysconf(_SC_GETGR_R_SIZE_MAX);
  std::vector<char> buf(hint > 0 ? static_cast<std::size_t>(hint) : 16384);
  group gr{};
  group* found = nullptr;
  for (;;) {
    const int r = ::getgrnam_r(name_or_number.c_str(), &gr, buf.data(), buf.size(), &found);
    if (r == ERANGE && buf.size() < (1u << 22)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (r != 0) return error{"cannot look up group \"" + name_or_number + "\": " + errno_text(r)};
    break;
  }
  if (found == nullptr) {
    return error{"there is no group called \"" + name_or_number +
                 "\"; create it (groupadd --system " + name_or_number + ") or name another group"};
  }
  return gr.gr_gid;
}

}  // namespace portier::platform
