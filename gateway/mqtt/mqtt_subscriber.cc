#include "gateway/mqtt/mqtt_subscriber.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "gateway/mqtt/mqtt_wire.h"
#include "platform/log.h"

namespace portier::gateway {

namespace wire = mqtt_wire;
using platform::log_info;
using platform::log_warning;

namespace {

constexpr auto kClosedPoll = std::chrono::milliseconds(100);

bool contains(const std::vector<std::string>& filters, const std::string& f) {
  return std::find(filters.begin(), filters.end(), f) != filters.end();
}

int millis_until(std::chrono::steady_clock::time_point t) {
  const auto d =
      std::chrono::duration_cast<std::chrono::milliseconds>(t - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<std::int64_t>(d.count() + 1, 0, 3'600'000));
}

}  // namespace

bool mqtt_subscriber::parse_uri(const std::string& uri, std::string& host, std::string& port,
                                std::string& why) {
  std::string_view rest = uri;
  if (rest.starts_with("tcp://")) {
    rest.remove_prefix(6);
  } else if (rest.starts_with("mqtt://")) {
    rest.remove_prefix(7);
  } else {
    why = "expected tcp://HOST:PORT";
    return false;
  }
  std::string_view h, p;
  if (rest.starts_with("[")) {  // [IPv6]:PORT
    const auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      why = "expected tcp://[IPV6]:PORT";
      return false;
    }
    h = rest.substr(1, close - 1);
    p = rest.substr(close + 2);
  } else {
    const auto colon = rest.rfind(':');
    h = colon == std::string_view::npos ? rest : rest.substr(0, colon);
    p = colon == std::string_view::npos ? std::string_view("1883") : rest.substr(colon + 1);
  }
  if (h.empty()) {
    why = "no host";
    return false;
  }
  if (p.empty() || p.size() > 5 ||
      !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoul(std::string(p)) == 0 || std::stoul(std::string(p)) > 65535) {
    why = "the port must be a number from 1 to 65535";
    return false;
  }
  host.assign(h);
  port.assign(p);
  return true;
}

mqtt_subscriber::mqtt_subscriber(settings s)
    : settings_(std::move(s)),
      reader_(settings_.max_payload_bytes),
      backoff_(settings_.backoff_initial, settings_.backoff_max, std::random_device{}()) {
  std::string why;
  if (!parse_uri(settings_.uri, host_, port_, why)) {
    log_warning(settings_.name, " broker ", settings_.uri, ": ", why);
  }
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

mqtt_subscriber::~mqtt_subscriber() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void mqtt_subscriber::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void mqtt_subscriber::set_filters(std::vector<std::string> filters) {
  std::lock_guard lock(mu_);
  wanted_ = std::move(filters);
  filters_changed_ = true;
  wake();
}

void mqtt_subscriber::recheck() {
  std::lock_guard lock(mu_);
  recheck_ = true;
  cv_.notify_all();
  wake();
}

void mqtt_subscriber::start() {
  thread_ = std::thread([this] { run(); });
}

void mqtt_subscriber::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
    wake();
  }
  if (thread_.joinable()) thread_.join();
  connected_ = false;
}

bool mqtt_subscriber::wait_connected(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, deadline, [&] { return connected_.load() || stopping_; }) &&
         connected_;
}

void mqtt_subscriber::run() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (stopping_) return;
      recheck_ = false;
      if (gate_ && !gate_()) {
        cv_.wait_for(lock, kClosedPoll, [&] { return stopping_ || recheck_; });
        continue;
      }
    }
    if (!serve_connection()) continue;  // closed on purpose: straight to the gate
    const auto wait = backoff_.next();
    log_info(settings_.name, " broker ", settings_.uri, ": reconnecting in ", wait.count(), " ms");
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, wait, [&] { return stopping_; })) return;
  }
}

bool mqtt_subscriber::open_socket() {
  if (host_.empty()) return false;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host_.c_str(), port_.c_str(), &hints, &found); rc != 0) {
    log_warning(settings_.name, " broker ", settings_.uri, ": cannot connect: ", gai_strerror(rc));
    return false;
  }
  std::string error = "no address";
  bool woken = false;  // a wake-up consumed while connecting, handed on to serve_connection()
  for (addrinfo* a = found; a != nullptr && fd_ < 0; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p[2] = {{fd, POLLOUT, 0}, {wake_fd_, POLLIN, 0}};
      const auto deadline = clock::now() + settings_.connect_timeout;
      rc = -1;
      errno = ETIMEDOUT;
      while (clock::now() < deadline) {
        if (::poll(p, 2, millis_until(deadline)) < 0 && errno != EINTR) break;
        if (p[0].revents != 0) {
          int err = 0;
          socklen_t len = sizeof err;
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
          rc = err == 0 ? 0 : -1;
          errno = err;
          break;
        }
        if (p[1].revents != 0) {  // consume it, or poll() returns at once until the deadline
          std::uint64_t count;
          [[maybe_unused]] auto r = ::read(wake_fd_, &count, sizeof count);
          woken = true;
        }
        std::lock_guard lock(mu_);
        if (stopping_) {
          errno = ECANCELED;
          break;
        }
      }
    }
    if (rc != 0) {
      error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fd_ = fd;
  }
  ::freeaddrinfo(found);
  if (woken) wake();
  if (fd_ < 0) {
    log_warning(settings_.name, " broker ", settings_.uri, ": cannot connect: ", error);
    return false;
  }
  return true;
}

void mqtt_subscriber::close_socket() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  phase_ = phase::closed;
  if (connected_) {
    std::lock_guard lock(mu_);
    connected_ = false;
  }
  reader_.reset();
  out_.clear();
  // An unanswered SUBSCRIBE may have taken effect, an unanswered UNSUBSCRIBE may not have: both
  // count as subscribed at the broker, for the next connection that finds the session kept.
  for (const auto* filters : {&change_.added, &change_.removed}) {
    for (const auto& f : *filters) {
      if (!contains(active_, f)) active_.push_back(f);
    }
  }
  change_ = {};
  ping_outstanding_ = false;
  refused_ = fatal_ = false;
}

std::uint16_t mqtt_subscriber::next_id() {
  if (++last_id_ == 0) last_id_ = 1;
  return last_id_;
}

bool mqtt_subscriber::flush() {
  std::size_t at = 0;
  const auto deadline = clock::now() + settings_.ack_timeout;
  while (at < out_.size()) {
    const ssize_t n = ::send(fd_, out_.data() + at, out_.size() - at, MSG_NOSIGNAL);
    if (n > 0) {
      at += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && clock::now() < deadline) {
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, millis_until(deadline));
      continue;
    }
    log_warning(settings_.name, " broker ", settings_.uri, ": connection lost (",
                n < 0 ? std::strerror(errno) : "write timed out", ")");
    out_.clear();
    return false;
  }
  if (!out_.empty()) last_sent_ = clock::now();
  out_.clear();
  return true;
}

void mqtt_subscriber::start_change() {
  if (phase_ != phase::up || change_.pending()) return;
  std::vector<std::string> wanted;
  {
    std::lock_guard lock(mu_);
    if (!filters_changed_) return;
    filters_changed_ = false;
    wanted = wanted_;
  }
  change_ = {};
  for (const auto& f : wanted) {
    if (!contains(active_, f)) change_.added.push_back(f);
  }
  for (const auto& f : active_) {
    if (!contains(wanted, f)) change_.removed.push_back(f);
  }
  send_change();
}

void mqtt_subscriber::send_change() {
  change_.deadline = clock::now() + settings_.ack_timeout;
  if (!change_.added.empty()) {
    change_.sub_id = next_id();
    wire::encode_subscribe(out_, change_.sub_id, change_.added, settings_.qos);
  }
  if (!change_.removed.empty()) {
    change_.unsub_id = next_id();
    wire::encode_unsubscribe(out_, change_.unsub_id, change_.removed);
  }
  if (!change_.pending()) finish_change();
}

void mqtt_subscriber::finish_change() {
  for (const auto& f : change_.removed) std::erase(active_, f);
  for (const auto& f : change_.added) active_.push_back(f);
  if (change_.initial) {
    log_info(settings_.name, " broker: subscribed to ", active_.size(), " topic filters");
    log_info(settings_.name, " broker ", settings_.uri, ": connected as ", settings_.client_id);
    backoff_.reset();
    std::lock_guard lock(mu_);
    connected_ = true;
    cv_.notify_all();
  } else {
    log_info(settings_.name, " broker: subscriptions updated, ", change_.added.size(), " added, ",
             change_.removed.size(), " removed");
  }
  change_ = {};
}

bool mqtt_subscriber::protocol_error(const char* what) {
  log_warning(settings_.name, " broker ", settings_.uri, ": protocol error (", what,
              "); closing the connection");
  fatal_ = true;
  return false;
}

bool mqtt_subscriber::handle(const wire::packet& p) {
  using wire::packet_type;
  std::uint16_t id = 0;
  switch (p.type) {
    case packet_type::connack: {
      wire::connack_view ack;
      if (phase_ != phase::awaiting_connack || !wire::parse_connack(p, ack))
        return protocol_error("unexpected CONNACK");
      if (ack.return_code != 0) {
        log_warning(settings_.name, " broker ", settings_.uri, ": connection refused (",
                    wire::connack_reason(ack.return_code), ")");
        if (connect_result_) connect_result_(false);
        fatal_ = true;
        return false;
      }
      if (connect_result_) connect_result_(true);
      phase_ = phase::up;
      last_sent_ = clock::now();
      if (!ack.session_present) awaiting_pubrel_.reset();
      // A new connection: subscribe to the whole wanted set (subscribing again is harmless).
      // When the broker kept the session it also kept its subscriptions: those this process had
      // (or was setting up) and no longer wants are unsubscribed. (Those of an earlier process
      // are not known; messages on them are dropped by the policy as unmatched, and counted.)
      {
        std::lock_guard lock(mu_);
        filters_changed_ = false;
        change_ = {};
        change_.added = wanted_;
      }
      if (ack.session_present) {
        for (const auto& f : active_) {
          if (!contains(change_.added, f)) change_.removed.push_back(f);
        }
      }
      active_.clear();
      change_.initial = true;
      send_change();
      return true;
    }
    case packet_type::publish: {
      wire::publish_view m;
      if (phase_ != phase::up) return protocol_error("PUBLISH before CONNACK");
      if (!wire::parse_publish(p, m)) return protocol_error("malformed PUBLISH");
      if (m.qos == 2 && m.dup && awaiting_pubrel_.test(m.packet_id)) {  // a resend we took
        wire::encode_ack(out_, packet_type::pubrec, m.packet_id);
        return true;
      }
      ++batch_handled_;
      if (handler_ && handler_(m.topic, m.payload, m.qos) == verdict::refused) {
        refused_ = true;
        return false;
      }
      if (m.qos == 1) wire::encode_ack(out_, packet_type::puback, m.packet_id);
      if (m.qos == 2) {
        awaiting_pubrel_.set(m.packet_id);
        batch_pubrec_.push_back(m.packet_id);
        wire::encode_ack(out_, packet_type::pubrec, m.packet_id);
      }
      return true;
    }
    case packet_type::pubrel:
      if (phase_ != phase::up || p.flags != 0x02 || !wire::parse_packet_id(p, id))
        return protocol_error("malformed PUBREL");
      awaiting_pubrel_.reset(id);
      wire::encode_ack(out_, packet_type::pubcomp, id);
      return true;
    case packet_type::suback: {
      std::string_view codes;
      if (!wire::parse_suback(p, id, codes) || id != change_.sub_id ||
          codes.size() != change_.added.size())
        return protocol_error("unexpected SUBACK");
      for (std::size_t i = 0; i < codes.size(); ++i) {
        if (static_cast<std::uint8_t>(codes[i]) >= 0x80) {
          log_warning(settings_.name, " broker ", settings_.uri,
                      change_.initial ? ": set-up after connect failed: "
                                      : ": cannot update subscriptions: ",
                      "the broker refused the subscription to \"", change_.added[i], "\"");
          fatal_ = true;
          return false;
        }
      }
      for (std::size_t i = 0; i < codes.size(); ++i) {
        const int granted = static_cast<std::uint8_t>(codes[i]);
        if (granted < settings_.qos) {  // accepted, but with less than the guarantee needs
          log_warning(settings_.name, " broker ", settings_.uri, ": the broker granted QoS ",
                      granted, " for \"", change_.added[i], "\" (asked for ", settings_.qos,
                      "): messages on it are delivered unacknowledged, and one that is being "
                      "handled when portierd stops or crashes is lost");
        }
      }
      change_.sub_id = 0;
      if (!change_.pending()) finish_change();
      return true;
    }
    case packet_type::unsuback:
      if (!wire::parse_packet_id(p, id) || id != change_.unsub_id)
        return protocol_error("unexpected UNSUBACK");
      change_.unsub_id = 0;
      if (!change_.pending()) finish_change();
      return true;
    case packet_type::pingresp:
      ping_outstanding_ = false;
      return true;
    default:
      return protocol_error("a packet a broker does not send to a subscriber");
  }
}

bool mqtt_subscriber::read_and_handle() {
  const auto room = reader_.space();
  const ssize_t n = ::recv(fd_, room.data(), room.size(), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
  if (n <= 0) {
    log_warning(settings_.name, " broker ", settings_.uri, ": connection lost",
                n == 0 ? std::string() : " (" + std::string(std::strerror(errno)) + ")");
    return false;
  }
  reader_.commit(static_cast<std::size_t>(n));
  if (reader_.drain([this](const mqtt_wire::packet& p) { return handle(p); }) ==
      mqtt_reader::status::malformed)
    return protocol_error(reader_.error());
  return !fatal_;
}

void mqtt_subscriber::linger() {
  // Closing a socket with unread bytes in it sends a reset, and the broker may then drop what it
  // had not read yet: the acknowledgements just written, which it would answer by sending those
  // messages again. So: no more writes, then read until the broker closes (it does on
  // DISCONNECT), for at most ack_timeout. What needs an acknowledgement is not handled any more
  // (the broker sends it again), but a QoS 0 message counts as delivered once the broker wrote
  // it: those are still handed over rather than dropped.
  ::shutdown(fd_, SHUT_WR);
  const auto deadline = clock::now() + settings_.ack_timeout;
  const auto take_qos0 = [this](const mqtt_wire::packet& p) {
    wire::publish_view m;
    if (handler_ && wire::parse_publish(p, m) && m.qos == 0) handler_(m.topic, m.payload, 0);
    return true;
  };
  bool took = false;
  while (clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, millis_until(deadline)) < 0 && errno != EINTR) break;
    if (p.revents == 0) continue;
    const auto room = reader_.space();
    const ssize_t n = ::recv(fd_, room.data(), room.size(), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) break;
    if (n < 0) continue;
    reader_.commit(static_cast<std::size_t>(n));
    took = true;
    if (reader_.drain(take_qos0) == mqtt_reader::status::malformed) break;
  }
  if (took && before_ack_) before_ack_();
  if (took && batch_end_) batch_end_();
}

bool mqtt_subscriber::serve_connection() {
  if (!open_socket()) {
    if (connect_result_) connect_result_(false);
    return true;
  }
  wire::connect_options o;
  o.client_id = settings_.client_id;
  o.username = settings_.username;
  o.password = settings_.password;
  o.keepalive_seconds = settings_.keepalive_seconds;
  o.clean_session = false;
  wire::encode_connect(out_, o);
  phase_ = phase::awaiting_connack;
  const auto connack_deadline = clock::now() + settings_.ack_timeout;
  const auto keepalive = std::chrono::seconds(settings_.keepalive_seconds);
  bool back_off = true;
  bool graceful = false;
  if (flush()) {
    while (true) {
      pollfd p[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      // Sleeps until the socket or the wake-up descriptor (stop, gate, subscription change) has
      // something, or the next deadline (CONNACK, keepalive, SUBACK): no periodic wake-up.
      auto next = clock::time_point::max();
      if (phase_ == phase::awaiting_connack) next = std::min(next, connack_deadline);
      if (phase_ == phase::up && settings_.keepalive_seconds > 0)
        next = std::min(
            next, ping_outstanding_ ? ping_sent_ + settings_.ack_timeout : last_sent_ + keepalive);
      if (change_.pending()) next = std::min(next, change_.deadline);
      if (::poll(p, 2, millis_until(next)) < 0 && errno != EINTR) break;
      if (p[1].revents != 0) {
        std::uint64_t count;
        [[maybe_unused]] auto r = ::read(wake_fd_, &count, sizeof count);
        bool stop = false, gate_closed = false;
        {
          std::lock_guard lock(mu_);
          stop = stopping_;
          if (recheck_ && !stop) gate_closed = gate_ && !gate_();
          recheck_ = false;
        }
        if (stop || gate_closed) {
          graceful = true;
          back_off = false;
          if (gate_closed)
            log_info(settings_.name, " broker ", settings_.uri,
                     ": disconnecting until the gate opens");
          break;
        }
        start_change();
      }
      if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        batch_pubrec_.clear();
        batch_handled_ = 0;
        const bool ok = read_and_handle();
        // Only a read that handed messages over has anything to make durable (asking after a
        // read of a SUBACK or a PINGRESP would close the session for nothing).
        if (batch_handled_ > 0 && before_ack_ &&
            !before_ack_()) {  // not durable: acknowledge none of it
          for (const auto id : batch_pubrec_) awaiting_pubrel_.reset(id);
          out_.clear();
          log_warning(settings_.name, " broker ", settings_.uri,
                      ": closing without acknowledging the last messages (they were not stored); "
                      "the broker sends them again");
          break;
        }
        if (refused_) {  // the handler refused a message: acknowledge what it took, then close
          if (batch_end_) batch_end_();
          log_info(settings_.name, " broker ", settings_.uri,
                   ": disconnecting until the gate opens");
          graceful = true;
          back_off = false;
          break;
        }
        if (!out_.empty() && !flush()) break;
        if (batch_end_) batch_end_();
        if (!ok) break;
        start_change();  // a change asked for while the previous round was unanswered
      }
      const auto now = clock::now();
      if (phase_ == phase::awaiting_connack && now >= connack_deadline) {
        log_warning(settings_.name, " broker ", settings_.uri, ": no CONNACK within ",
                    settings_.ack_timeout.count(), " ms");
        if (connect_result_) connect_result_(false);
        break;
      }
      if (change_.pending() && now >= change_.deadline) {
        log_warning(settings_.name, " broker ", settings_.uri,
                    change_.initial ? ": set-up after connect failed: " : ": ",
                    "no SUBACK/UNSUBACK within ", settings_.ack_timeout.count(), " ms");
        break;
      }
      if (phase_ == phase::up && settings_.keepalive_seconds > 0) {
        if (ping_outstanding_ && now >= ping_sent_ + settings_.ack_timeout) {
          log_warning(settings_.name, " broker ", settings_.uri, ": connection lost (no PINGRESP)");
          break;
        }
        if (!ping_outstanding_ && now >= last_sent_ + keepalive) {
          wire::encode_pingreq(out_);
          ping_outstanding_ = true;
          ping_sent_ = now;
        }
      }
      if (!out_.empty() && !flush()) break;
    }
  }
  if (graceful) {
    wire::encode_disconnect(out_);  // after any acknowledgements still owed
    if (flush()) linger();
  }
  close_socket();
  return back_off;
}

}  // namespace portier::gateway
