#include "gateway/mqtt/mqtt_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <random>

#include "platform/log.h"

namespace portier::gateway {

namespace wire = mqtt_wire;
using platform::log_info;
using platform::log_warning;
using tls_io = platform::tls_client_session::io;

namespace {

int millis_until(std::chrono::steady_clock::time_point t) {
  const auto d =
      std::chrono::duration_cast<std::chrono::milliseconds>(t - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<std::int64_t>(d.count() + 1, 0, 3'600'000));
}

bool valid_port(std::string_view p) {
  if (p.empty() || p.size() > 5 ||
      !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  const auto v = std::stoul(std::string(p));
  return v >= 1 && v <= 65535;
}

}  // namespace

bool mqtt_client::parse_uri(const std::string& uri, address& out, std::string& why) {
  std::string_view rest = uri;
  bool tls = false;
  for (const auto& [scheme, is_tls] : {std::pair{"ssl://", true}, std::pair{"mqtts://", true},
                                       std::pair{"tcp://", false}, std::pair{"mqtt://", false}}) {
    if (rest.starts_with(scheme)) {
      rest.remove_prefix(std::strlen(scheme));
      tls = is_tls;
      why.clear();
      break;
    }
    why = "expected ssl://HOST:PORT, mqtts://HOST:PORT or tcp://HOST:PORT";
  }
  if (!why.empty()) return false;
  std::string_view h, p = tls ? "8883" : "1883";  // the standard ports when none is given
  if (rest.starts_with("[")) {                    // [IPv6]:PORT
    const auto close = rest.find(']');
    if (close == std::string_view::npos || (close + 1 < rest.size() && rest[close + 1] != ':')) {
      why = "expected [IPV6]:PORT";
      return false;
    }
    h = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) p = rest.substr(close + 2);
  } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    h = rest.substr(0, colon);
    p = rest.substr(colon + 1);
  } else {
    h = rest;
  }
  if (h.empty()) {
    why = "no host";
    return false;
  }
  if (!valid_port(p)) {
    why = "the port must be a number from 1 to 65535";
    return false;
  }
  out = address{tls, std::string(h), std::string(p)};
  return true;
}

mqtt_client::mqtt_client(settings s)
    : settings_(std::move(s)),
      reader_(settings_.max_payload_bytes),
      backoff_(settings_.backoff_initial, settings_.backoff_max, std::random_device{}()) {
  std::string why;
  address_ok_ = parse_uri(settings_.uri, address_, why);
  if (!address_ok_) log_warning(settings_.name, " broker ", settings_.uri, ": ", why);
  const std::size_t cap = std::bit_ceil(std::max<std::size_t>(settings_.max_inflight + 1, 8));
  slots_.resize(std::min<std::size_t>(cap, 32768));
  settings_.max_inflight = std::min(settings_.max_inflight, slots_.size() - 1);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

mqtt_client::~mqtt_client() {
  stop(std::chrono::milliseconds(1000));
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void mqtt_client::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void mqtt_client::start() {
  thread_ = std::thread([this] { run(); });
}

void mqtt_client::stop(std::chrono::milliseconds linger) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    linger_ = linger;
    cv_.notify_all();
  }
  wake();
  if (thread_.joinable()) thread_.join();
  connected_ = false;
}

bool mqtt_client::wait_connected(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, deadline, [&] { return connected_.load() || stopping_; }) &&
         connected_;
}

std::uint16_t mqtt_client::next_id_locked() {
  const std::size_t mask = slots_.size() - 1;
  do {
    if (++last_id_ == 0) last_id_ = 1;
  } while (slots_[last_id_ & mask].used);
  return last_id_;
}

bool mqtt_client::publish(std::string_view topic, std::string_view payload, int qos, bool retain,
                          std::uint64_t ctx) {
  std::lock_guard lock(mu_);
  if (phase_ != phase::up || stopping_ || write_failed_) return false;
  std::uint16_t id = 0;
  if (qos > 0) {
    if (inflight_ >= settings_.max_inflight) return false;
    id = next_id_locked();
    slots_[id & (slots_.size() - 1)] = slot{ctx, id, true};
    ++inflight_;
  }
  wire::encode_publish(out_, topic, payload, qos > 0 ? 1 : 0, retain, id);
  return true;
}

void mqtt_client::flush() {
  bool rest = false;
  {
    std::lock_guard lock(mu_);
    if (phase_ == phase::closed || out_sent_ == out_.size()) return;
    if (!write_locked()) write_failed_ = true;
    rest = out_sent_ < out_.size() || write_failed_;
  }
  if (rest) wake();  // the client's thread waits for the socket, or ends the connection
}

bool mqtt_client::write_locked() {
  while (out_sent_ < out_.size()) {
    std::size_t wrote = 0;
    const char* p = out_.data() + out_sent_;
    const std::size_t n = out_.size() - out_sent_;
    if (tls_) {
      const auto r = tls_->write(p, n, wrote);
      if (r == tls_io::want_write || r == tls_io::want_read) return true;
      if (r != tls_io::done) {
        write_error_ = "TLS write: " + tls_->report().error;
        return false;
      }
    } else {
      const ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
        write_error_ = std::strerror(errno);
        return false;
      }
      wrote = static_cast<std::size_t>(w);
    }
    out_sent_ += wrote;
    last_sent_ = clock::now();
  }
  out_.clear();
  out_sent_ = 0;
  if (out_.capacity() > 256 * 1024) out_.shrink_to_fit();  // after a burst, give memory back
  return true;
}

void mqtt_client::run() {
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (!serve_connection()) continue;
    const auto wait = backoff_.next();
    log_info(settings_.name, " broker ", settings_.uri, ": reconnecting in ", wait.count(), " ms");
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, wait, [&] { return stopping_; })) return;
  }
}

bool mqtt_client::wait_io(short events, clock::time_point deadline) {
  pollfd p[2] = {{fd_, events, 0}, {wake_fd_, POLLIN, 0}};
  while (clock::now() < deadline) {
    if (::poll(p, 2, millis_until(deadline)) < 0 && errno != EINTR) return false;
    if (p[1].revents != 0) {
      std::uint64_t count;
      [[maybe_unused]] auto r = ::read(wake_fd_, &count, sizeof count);
      std::lock_guard lock(mu_);
      if (stopping_) return false;
    }
    if (p[0].revents != 0) return true;
  }
  return false;
}

bool mqtt_client::open_socket() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(address_.host.c_str(), address_.port.c_str(), &hints, &found);
      rc != 0) {
    error_ = gai_strerror(rc);
    return false;
  }
  error_ = "no address";
  const auto deadline = clock::now() + settings_.connect_timeout;
  for (addrinfo* a = found; a != nullptr && fd_ < 0; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error_ = std::strerror(errno);
      continue;
    }
    fd_ = fd;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      rc = -1;
      errno = ETIMEDOUT;
      if (wait_io(POLLOUT, deadline)) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        errno = err;
      }
    }
    if (rc != 0) {
      error_ = std::strerror(errno);
      ::close(fd);
      fd_ = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd_ < 0) return false;
  error_.clear();
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return true;
}

bool mqtt_client::tls_handshake(clock::time_point deadline) {
  // The files are read at each connect, so a renewed certificate is used from the next one.
  std::string why;
  auto trust = platform::tls_client_trust::load(settings_.tls_files, why);
  if (!trust) {
    error_ = why;
    if (on_connect_result_) on_connect_result_(false, nullptr);
    return false;
  }
  auto session =
      std::make_unique<platform::tls_client_session>(std::move(trust), fd_, address_.host);
  while (true) {
    const auto r = session->handshake();
    if (r == tls_io::done) break;
    if (r == tls_io::failed || r == tls_io::closed ||
        !wait_io(r == tls_io::want_write ? POLLOUT : POLLIN, deadline)) {
      auto report = session->report();
      if (r != tls_io::failed && r != tls_io::closed) {
        {
          std::lock_guard lock(mu_);
          if (stopping_) return false;
        }
        report.error = "no TLS handshake within the time limit";
      }
      error_ = "TLS handshake failed";
      if (on_connect_result_) on_connect_result_(false, &report);
      return false;
    }
  }
  std::lock_guard lock(mu_);
  tls_ = std::move(session);
  return true;
}

void mqtt_client::fail(const std::string& why) {
  if (error_.empty()) error_ = why;
}

bool mqtt_client::serve_connection() {
  error_.clear();
  reader_.reset();
  if (!address_ok_) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stopping_; });
    return false;
  }
  const auto deadline = clock::now() + settings_.connect_timeout;
  {
    std::lock_guard lock(mu_);
    phase_ = phase::connecting;
  }
  if (!open_socket()) {
    std::lock_guard lock(mu_);
    phase_ = phase::closed;
    if (stopping_) return false;
    log_warning(settings_.name, " broker ", settings_.uri, ": cannot connect: ", error_);
    if (on_connect_result_) on_connect_result_(false, nullptr);
    return true;
  }
  if (address_.tls && !tls_handshake(deadline)) {
    bool stopping;
    {
      std::lock_guard lock(mu_);
      stopping = stopping_;
    }
    close_connection(false, std::chrono::milliseconds(0));
    // What went wrong in a handshake is the owner's to say (on_connect_result's report).
    if (!stopping)
      log_warning(settings_.name, " broker ", settings_.uri, ": cannot connect: ", error_);
    return !stopping;
  }
  // CONNECT, then wait for its CONNACK (nothing else may come first).
  {
    std::lock_guard lock(mu_);
    wire::connect_options o;
    o.client_id = settings_.client_id;
    o.username = settings_.username;
    o.password = settings_.password;
    o.keepalive_seconds = settings_.keepalive_seconds;
    o.clean_session = settings_.clean_session;
    o.will_topic = settings_.will_topic;
    o.will_payload = settings_.will_payload;
    o.will_qos = 1;
    o.will_retain = settings_.will_retain;
    wire::encode_connect(out_, o);
    if (!write_locked()) write_failed_ = true;
  }
  bool connack = false;  // set once handle() took an accepting CONNACK (a refusal ends the loop)
  while (!connack && error_.empty()) {
    bool pending;
    {
      std::lock_guard lock(mu_);
      if (write_failed_) break;
      pending = out_sent_ < out_.size();
    }
    if (!wait_io(static_cast<short>(POLLIN | (pending ? POLLOUT : 0)), deadline)) {
      fail("no CONNACK within the time limit");
      break;
    }
    {
      std::lock_guard lock(mu_);
      if (pending && !write_locked()) write_failed_ = true;
    }
    if (!read_ready()) break;  // handle() takes the CONNACK and moves phase_ on
    std::lock_guard lock(mu_);
    if (phase_ != phase::connecting) connack = true;
  }
  {
    std::lock_guard lock(mu_);
    if (write_failed_) fail(write_error_.empty() ? "write failed" : write_error_);
  }
  if (!connack) {
    bool stopping;
    {
      std::lock_guard lock(mu_);
      stopping = stopping_;
    }
    close_connection(false, std::chrono::milliseconds(0));
    if (stopping) return false;
    log_warning(settings_.name, " broker ", settings_.uri, ": cannot connect: ", error_);
    if (on_connect_result_) on_connect_result_(false, nullptr);
    return true;
  }

  // Subscribing (if anything) and up: the main loop.
  bool was_up = false;
  auto up = [&] {
    {
      std::lock_guard lock(mu_);
      phase_ = phase::up;
      connected_ = true;
      cv_.notify_all();
    }
    was_up = true;
    backoff_.reset();
    log_info(settings_.name, " broker ", settings_.uri, ": connected as ", settings_.client_id,
             tls_ ? " (" + tls_->version() + ")" : std::string());
    if (on_connect_result_) on_connect_result_(true, tls_ ? &tls_->report() : nullptr);
    if (on_connected_) on_connected_();
  };
  {
    std::lock_guard lock(mu_);
    if (!settings_.subscriptions.empty()) {
      phase_ = phase::subscribing;
      subscribe_id_ = next_id_locked();
      wire::encode_subscribe(out_, subscribe_id_, settings_.subscriptions, 1);
      subscribe_deadline_ = clock::now() + settings_.ack_timeout;
    }
  }
  if (settings_.subscriptions.empty()) up();
  ping_outstanding_ = false;
  bool purposeful = false;
  while (error_.empty()) {
    bool pending, subscribing;
    clock::time_point ping_due;
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        purposeful = true;
        break;
      }
      if (out_sent_ < out_.size() && !write_locked()) write_failed_ = true;
      if (write_failed_) {
        fail(write_error_.empty() ? "write failed" : write_error_);
        break;
      }
      pending = out_sent_ < out_.size();
      subscribing = phase_ == phase::subscribing;
      ping_due = last_sent_ + std::chrono::seconds(settings_.keepalive_seconds);
    }
    const auto now = clock::now();
    if (subscribing && now >= subscribe_deadline_) {
      fail("no SUBACK within the time limit");
      break;
    }
    if (ping_outstanding_ && now >= ping_deadline_) {
      fail("no PINGRESP within the time limit");
      break;
    }
    if (settings_.keepalive_seconds > 0 && !ping_outstanding_ && now >= ping_due) {
      std::lock_guard lock(mu_);
      wire::encode_pingreq(out_);
      ping_outstanding_ = true;
      ping_deadline_ = now + settings_.ack_timeout;
      continue;  // written at the top of the loop
    }
    auto deadline = ping_outstanding_ ? ping_deadline_ : ping_due;
    if (settings_.keepalive_seconds == 0 && !ping_outstanding_)
      deadline = now + std::chrono::hours(1);
    if (subscribing) deadline = std::min(deadline, subscribe_deadline_);
    pollfd p[2] = {{fd_, static_cast<short>(POLLIN | (pending ? POLLOUT : 0)), 0},
                   {wake_fd_, POLLIN, 0}};
    if (::poll(p, 2, millis_until(deadline)) < 0 && errno != EINTR) {
      fail(std::strerror(errno));
      break;
    }
    if (p[1].revents != 0) {
      std::uint64_t count;
      [[maybe_unused]] auto r = ::read(wake_fd_, &count, sizeof count);
    }
    if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !read_ready()) break;
    bool now_up = false;
    {
      std::lock_guard lock(mu_);
      now_up = phase_ == phase::up && !connected_;
    }
    if (now_up) up();
  }
  close_connection(purposeful, purposeful ? linger_ : std::chrono::milliseconds(0));
  if (was_up) {
    if (!purposeful)
      log_warning(settings_.name, " broker ", settings_.uri, ": connection lost: ", error_);
    if (on_lost_) on_lost_();
  } else if (!purposeful) {
    log_warning(settings_.name, " broker ", settings_.uri,
                ": set-up after connect failed: ", error_);
    if (on_connect_result_) on_connect_result_(false, nullptr);
  }
  return !purposeful;
}

bool mqtt_client::read_ready() {
  while (true) {  // until the socket (and TLS's buffer) is empty; the lock is let go in between
    auto space = reader_.space();
    std::size_t got = 0;
    bool more = false;
    {
      std::lock_guard lock(mu_);
      if (tls_) {
        const auto r = tls_->read(space.data(), space.size(), got);
        if (r == tls_io::closed) {
          fail("the broker closed the connection");
          return false;
        }
        if (r == tls_io::failed) {
          fail("TLS: " + tls_->report().error);
          return false;
        }
        more = r == tls_io::done;  // TLS may hold more: read until it says want_read
      } else {
        const ssize_t n = ::recv(fd_, space.data(), space.size(), 0);
        if (n == 0) {
          fail("the broker closed the connection");
          return false;
        }
        if (n < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
          fail(std::strerror(errno));
          return false;
        }
        got = static_cast<std::size_t>(n);
        more = got == space.size();
      }
    }
    reader_.commit(got);
    acked_.clear();
    const auto st = reader_.drain([&](const wire::packet& p) { return handle(p); });
    if (on_ack_) {
      for (const auto ctx : acked_) on_ack_(ctx);
    }
    if (st == mqtt_reader::status::malformed) {
      fail(std::string("malformed packet: ") + reader_.error());
      return false;
    }
    if (st == mqtt_reader::status::stopped || !error_.empty()) return false;
    if (!more) break;
  }
  return true;
}

bool mqtt_client::handle(const wire::packet& p) {
  switch (p.type) {
    case wire::packet_type::connack: {
      wire::connack_view c;
      std::lock_guard lock(mu_);
      if (phase_ != phase::connecting || !wire::parse_connack(p, c)) {
        error_ = "unexpected CONNACK";
        return false;
      }
      if (c.return_code != 0) {
        error_ = std::string("refused: ") + wire::connack_reason(c.return_code);
        phase_ = phase::closed;
        return false;
      }
      phase_ = phase::subscribing;  // up() or SUBSCRIBE follows
      if (settings_.subscriptions.empty()) phase_ = phase::up;
      return true;
    }
    case wire::packet_type::suback: {
      std::uint16_t id = 0;
      std::string_view codes;
      std::lock_guard lock(mu_);
      if (!wire::parse_suback(p, id, codes) || phase_ != phase::subscribing ||
          id != subscribe_id_) {
        error_ = "unexpected SUBACK";
        return false;
      }
      for (std::size_t i = 0; i < codes.size() && i < settings_.subscriptions.size(); ++i) {
        if (static_cast<std::uint8_t>(codes[i]) >= 0x80) {
          error_ = "the broker refused the subscription to \"" + settings_.subscriptions[i] + "\"";
          return false;
        }
      }
      phase_ = phase::up;
      return true;
    }
    case wire::packet_type::puback: {
      std::uint16_t id = 0;
      std::lock_guard lock(mu_);
      if (!wire::parse_packet_id(p, id)) {
        error_ = "malformed PUBACK";
        return false;
      }
      auto& slot = slots_[id & (slots_.size() - 1)];
      if (!slot.used || slot.id != id) return true;  // not ours (a duplicate): ignore
      slot.used = false;
      --inflight_;
      acked_.push_back(slot.ctx);
      return true;
    }
    case wire::packet_type::publish: {
      wire::publish_view m;
      if (!wire::parse_publish(p, m) || m.qos > 1) {
        error_ = "malformed or QoS 2 PUBLISH";
        return false;
      }
      if (m.payload.size() <= settings_.max_payload_bytes && on_message_)
        on_message_(m.topic, m.payload, m.retain);
      if (m.qos == 1) {
        std::lock_guard lock(mu_);
        wire::encode_ack(out_, wire::packet_type::puback, m.packet_id);
      }
      return true;
    }
    case wire::packet_type::pingresp:
      ping_outstanding_ = false;
      return true;
    default:
      error_ = "unexpected packet type " + std::to_string(static_cast<int>(p.type));
      return false;
  }
}

void mqtt_client::close_connection(bool graceful, std::chrono::milliseconds linger) {
  if (graceful && fd_ >= 0) {
    const auto deadline = clock::now() + linger;
    std::unique_lock lock(mu_);
    if (phase_ == phase::up || phase_ == phase::subscribing) {
      wire::encode_disconnect(out_);
      while (!write_failed_ && out_sent_ < out_.size()) {
        if (!write_locked()) break;
        if (out_sent_ == out_.size()) break;
        lock.unlock();
        pollfd p{fd_, POLLOUT, 0};
        const int n = ::poll(&p, 1, millis_until(deadline));
        lock.lock();
        if (n <= 0) break;
      }
      if (tls_) tls_->close_notify();
    }
  }
  std::lock_guard lock(mu_);
  phase_ = phase::closed;
  connected_ = false;
  tls_.reset();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  out_.clear();
  out_sent_ = 0;
  write_failed_ = false;
  write_error_.clear();
  for (auto& s : slots_) s.used = false;
  inflight_ = 0;
  cv_.notify_all();
}

}  // namespace portier::gateway
