#include "platform/unix_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <thread>

#include <CppUTest/TestHarness.h>

using namespace portier::platform;
using namespace std::chrono_literals;

namespace {

std::string make_temp_dir() {
  char tmpl[] = "/tmp/portier-unix-socket-XXXXXX";
  const char* dir = ::mkdtemp(tmpl);
  return dir != nullptr ? dir : "";
}

// A listener, a connected client and the server side of that connection.
struct connection {
  unix_socket listener;
  unix_socket client;
  unix_socket server;
};

connection connect_pair(const std::string& path) {
  connection c;
  auto l = listen_unix(path, listen_options{});
  CHECK_TRUE(l.ok());
  c.listener = std::move(*l);
  auto cl = connect_unix(path);
  CHECK_TRUE(cl.ok());
  c.client = std::move(*cl);
  pollfd pfd{c.listener.fd(), POLLIN, 0};
  CHECK_EQUAL(1, ::poll(&pfd, 1, 1000));
  auto s = accept_unix(c.listener);
  CHECK_TRUE(s.ok());
  c.server = std::move(*s);
  return c;
}

void send_raw(const unix_socket& s, const std::string& bytes) {
  CHECK_EQUAL(static_cast<ssize_t>(bytes.size()),
              ::send(s.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL));
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_GROUP(unix_socket) {
  std::string dir;
  std::string path;
  void setup() override {
    dir = make_temp_dir();
    path = dir + "/control.sock";
  }
  void teardown() override {
    ::unlink(path.c_str());
    ::unlink((dir + "/file").c_str());
    ::rmdir(dir.c_str());
  }
};

TEST(unix_socket, listen_sets_mode_and_group) {
  listen_options o;
  o.mode = 0660;
  o.group = 65534;
  auto l = listen_unix(path, o);
  CHECK_TRUE_TEXT(l.ok(), l.ok() ? "" : l.error_message().c_str());
  struct stat st {};
  CHECK_EQUAL(0, ::lstat(path.c_str(), &st));
  CHECK_TRUE(S_ISSOCK(st.st_mode));
  LONGS_EQUAL(0660, st.st_mode & 07777);
  LONGS_EQUAL(65534, st.st_gid);
}

TEST(unix_socket, frames_round_trip_both_ways) {
  auto c = connect_pair(path);
  CHECK_TRUE(write_frame(c.client, "hello", 1s).ok());
  auto f = read_frame(c.server, 64, 1s);
  CHECK_TRUE(f.ok());
  CHECK(f->what == frame_read::kind::frame);
  STRCMP_EQUAL("hello", f->body.c_str());
  LONGS_EQUAL(5, f->length);

  CHECK_TRUE(write_frame(c.server, std::string("a\0b", 3), 1s).ok());
  auto g = read_frame(c.client, 64, 1s);
  CHECK_TRUE(g.ok());
  CHECK(g->body == std::string("a\0b", 3));
}

TEST(unix_socket, length_prefix_is_four_bytes_big_endian) {
  auto c = connect_pair(path);
  CHECK_TRUE(write_frame(c.client, std::string(258, 'x'), 1s).ok());
  char header[4];
  CHECK_EQUAL(4, ::recv(c.server.fd(), header, 4, 0));
  LONGS_EQUAL(0, header[0]);
  LONGS_EQUAL(0, header[1]);
  LONGS_EQUAL(1, header[2]);
  LONGS_EQUAL(2, header[3]);
}

TEST(unix_socket, empty_frame_is_a_frame) {
  auto c = connect_pair(path);
  CHECK_TRUE(write_frame(c.client, "", 1s).ok());
  auto f = read_frame(c.server, 64, 1s);
  CHECK_TRUE(f.ok());
  CHECK(f->what == frame_read::kind::frame);
  LONGS_EQUAL(0, f->body.size());
}

TEST(unix_socket, large_frame_with_a_concurrent_writer) {
  auto c = connect_pair(path);
  const std::string big(3 << 20, 'z');
  bool written = false;
  std::thread writer([&] { written = write_frame(c.client, big, 5s).ok(); });
  auto f = read_frame(c.server, 4 << 20, 5s);
  writer.join();
  CHECK_TRUE(written);
  CHECK_TRUE(f.ok());
  CHECK(f->body == big);
}

TEST(unix_socket, oversized_frame_is_reported_before_its_body_is_read) {
  auto c = connect_pair(path);
  send_raw(c.client, std::string("\x7f\xff\xff\xff", 4));
  auto f = read_frame(c.server, 1024, 1s);
  CHECK_TRUE(f.ok());
  CHECK(f->what == frame_read::kind::too_large);
  CHECK_EQUAL(0x7fffffffu, f->length);
  CHECK_TRUE(f->body.empty());
}

TEST(unix_socket, clean_close_between_frames) {
  auto c = connect_pair(path);
  c.client.close();
  auto f = read_frame(c.server, 64, 1s);
  CHECK_TRUE(f.ok());
  CHECK(f->what == frame_read::kind::closed);
}

TEST(unix_socket, close_inside_a_frame_is_an_error) {
  auto c = connect_pair(path);
  send_raw(c.client, std::string("\0\0\0\x0a"
                                 "abc",
                                 7));
  c.client.close();
  auto f = read_frame(c.server, 64, 1s);
  CHECK_FALSE(f.ok());
  CHECK_TRUE(contains(f.error_message(), "closed in the middle of a frame body"));
}

TEST(unix_socket, silent_peer_times_out) {
  auto c = connect_pair(path);
  const auto start = std::chrono::steady_clock::now();
  auto f = read_frame(c.server, 64, 50ms);
  CHECK_FALSE(f.ok());
  CHECK_TRUE(contains(f.error_message(), "timed out after 50 ms"));
  CHECK_TRUE(std::chrono::steady_clock::now() - start >= 50ms);
}

TEST(unix_socket, trickling_peer_times_out_on_the_whole_frame) {
  auto c = connect_pair(path);
  send_raw(c.client, std::string("\0\0\0\x08", 4));
  std::thread trickle([&] {
    for (int i = 0; i < 4; ++i) {
      std::this_thread::sleep_for(30ms);
      ::send(c.client.fd(), "x", 1, MSG_NOSIGNAL);
    }
  });
  auto f = read_frame(c.server, 64, 80ms);
  trickle.join();
  CHECK_FALSE(f.ok());
  CHECK_TRUE(contains(f.error_message(), "timed out"));
}

TEST(unix_socket, cancel_fd_interrupts_a_read) {
  auto c = connect_pair(path);
  int fds[2];
  CHECK_EQUAL(0, ::pipe(fds));
  CHECK_EQUAL(1, ::write(fds[1], "x", 1));
  auto f = read_frame(c.server, 64, 5s, fds[0]);
  ::close(fds[0]);
  ::close(fds[1]);
  CHECK_FALSE(f.ok());
  STRCMP_EQUAL("cancelled", f.error_message().c_str());
}

TEST(unix_socket, writing_to_a_closed_peer_fails_without_sigpipe) {
  auto c = connect_pair(path);
  c.server.close();
  auto w = write_frame(c.client, std::string(1 << 20, 'x'), 1s);
  CHECK_FALSE(w.ok());
}

TEST(unix_socket, peer_credentials_are_the_kernels) {
  auto c = connect_pair(path);
  auto cred = peer_credentials_of(c.server);
  CHECK_TRUE(cred.ok());
  LONGS_EQUAL(::getpid(), cred->pid);
  LONGS_EQUAL(::getuid(), cred->uid);
  LONGS_EQUAL(::getgid(), cred->gid);
}

TEST(unix_socket, stale_socket_is_replaced) {
  {
    auto l = listen_unix(path, listen_options{});
    CHECK_TRUE(l.ok());
  }  // closed, the file stays behind as after a crash
  struct stat st {};
  CHECK_EQUAL(0, ::lstat(path.c_str(), &st));
  int err = 0;
  CHECK_FALSE(connect_unix(path, &err).ok());
  LONGS_EQUAL(ECONNREFUSED, err);
  auto again = listen_unix(path, listen_options{});
  CHECK_TRUE(again.ok());
  CHECK_TRUE(connect_unix(path).ok());
}

TEST(unix_socket, live_socket_is_not_taken_over) {
  auto first = listen_unix(path, listen_options{});
  CHECK_TRUE(first.ok());
  auto second = listen_unix(path, listen_options{});
  CHECK_FALSE(second.ok());
  STRCMP_EQUAL(("another process is already listening on " + path +
                "; stop it first (is portierd already running?)")
                   .c_str(),
               second.error_message().c_str());
}

TEST(unix_socket, a_file_that_is_not_a_socket_is_left_alone) {
  const std::string file = dir + "/file";
  const int fd = ::open(file.c_str(), O_CREAT | O_WRONLY, 0600);
  CHECK(fd >= 0);
  ::close(fd);
  auto l = listen_unix(file, listen_options{});
  CHECK_FALSE(l.ok());
  STRCMP_EQUAL(
      (file + " exists and is not a socket; remove it or choose another socket path").c_str(),
      l.error_message().c_str());
  struct stat st {};
  CHECK_EQUAL(0, ::stat(file.c_str(), &st));
}

TEST(unix_socket, missing_directory_and_long_paths_are_errors) {
  auto missing = listen_unix(dir + "/no/such/dir/control.sock", listen_options{});
  CHECK_FALSE(missing.ok());
  CHECK_TRUE(contains(missing.error_message(), "does its directory exist"));
  auto long_path = listen_unix(dir + "/" + std::string(120, 'a'), listen_options{});
  CHECK_FALSE(long_path.ok());
  CHECK_TRUE(contains(long_path.error_message(), "longer than 107 bytes"));
  int err = 0;
  CHECK_FALSE(connect_unix(dir + "/absent.sock", &err).ok());
  LONGS_EQUAL(ENOENT, err);
}

TEST(unix_socket, accept_without_a_pending_client_is_an_error) {
  auto l = listen_unix(path, listen_options{});
  CHECK_TRUE(l.ok());
  CHECK_FALSE(accept_unix(*l).ok());
}

TEST(unix_socket, user_in_group_reads_the_user_database) {
  CHECK_TRUE(user_in_group(0, 0));             // root's primary group
  CHECK_TRUE(user_in_group(65534, 65534));     // nobody's primary group is nogroup
  CHECK_FALSE(user_in_group(65534, 0));        // nobody is not in root's group
  CHECK_FALSE(user_in_group(3999999999u, 0));  // an unknown uid is in no group
}

TEST(unix_socket, group_id_by_name_or_number) {
  auto root = group_id("root");
  CHECK_TRUE(root.ok());
  LONGS_EQUAL(0, *root);
  auto number = group_id("4242");
  CHECK_TRUE(number.ok());
  LONGS_EQUAL(4242, *number);
  auto missing = group_id("portier-no-such-group");
  CHECK_FALSE(missing.ok());
  STRCMP_EQUAL(
      "there is no group called \"portier-no-such-group\"; create it (groupadd --system "
      "portier-no-such-group) or name another group",
      missing.error_message().c_str());
  CHECK_FALSE(group_id("99999999999").ok());
  CHECK_FALSE(group_id("").ok());
}
