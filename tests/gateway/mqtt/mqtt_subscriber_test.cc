#include "gateway/mqtt/mqtt_subscriber.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gateway/mqtt/mqtt_wire.h"

#include <CppUTest/TestHarness.h>
// After TestHarness.h, which it needs.
#include <CppUTest/MemoryLeakWarningPlugin.h>

using namespace portier::gateway;
using namespace std::chrono_literals;
using mqtt_wire::packet_type;
using steady = std::chrono::steady_clock;

namespace {

constexpr auto kPatience = 5s;  // the longest any expected event may take

// One order over what the broker sends and receives and what the handler does, across threads.
std::atomic<int> sequence{0};

// ── Packets the broker sends, built by hand from the standard ──

std::string be16(std::size_t v) {
  return {static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}

std::string text(std::string_view s) {
  return be16(s.size()) + std::string(s);
}

std::string packet(std::uint8_t first, const std::string& body) {
  std::string out(1, static_cast<char>(first));
  std::size_t n = body.size();
  do {
    auto digit = static_cast<std::uint8_t>(n % 128);
    n /= 128;
    if (n > 0) digit |= 0x80;
    out.push_back(static_cast<char>(digit));
  } while (n > 0);
  return out + body;
}

std::string connack(std::uint8_t return_code, bool session_present = false) {
  return packet(0x20, {static_cast<char>(session_present ? 1 : 0), static_cast<char>(return_code)});
}

std::string suback(std::uint16_t id, const std::string& codes) {
  return packet(0x90, be16(id) + codes);
}

std::string unsuback(std::uint16_t id) {
  return packet(0xb0, be16(id));
}

std::string publish(std::string_view topic, std::string_view payload, int qos, std::uint16_t id = 0,
                    bool dup = false) {
  const auto first = static_cast<std::uint8_t>(0x30 | (qos << 1) | (dup ? 0x08 : 0));
  return packet(first, text(topic) + (qos > 0 ? be16(id) : "") + std::string(payload));
}

std::string pubrel(std::uint16_t id) {
  return packet(0x62, be16(id));
}

const std::string kPingresp("\xd0\x00", 2);

// ── Packets the client sends, taken apart ──

struct cursor {
  std::string_view bytes;
  std::size_t at = 0;
  bool bad = false;

  std::uint8_t byte() {
    if (at >= bytes.size()) {
      bad = true;
      return 0;
    }
    return static_cast<std::uint8_t>(bytes[at++]);
  }
  std::uint16_t u16() {
    const auto hi = byte();
    return static_cast<std::uint16_t>(hi << 8 | byte());
  }
  std::string str() {
    const std::size_t n = u16();
    if (bad || at + n > bytes.size()) {
      bad = true;
      return {};
    }
    at += n;
    return std::string(bytes.substr(at - n, n));
  }
  bool done() const { return !bad && at == bytes.size(); }
};

struct record {
  int conn = 0;  // 1 for the first connection the broker accepted, and so on
  int read = 0;  // the broker's recv() that completed it: equal for packets of one write
  int seq = 0;   // place in `sequence`
  packet_type type{};
  std::uint8_t flags = 0;
  std::string body;
};

std::uint16_t packet_id(const record& r) {
  cursor c{r.body};
  return c.u16();
}

struct connect_fields {
  std::string protocol;
  int level = 0;
  std::uint8_t flags = 0;
  int keepalive = 0;
  std::string client_id, username, password;
  bool ok = false;
};

connect_fields parse_connect(const record& r) {
  connect_fields f;
  cursor c{r.body};
  f.protocol = c.str();
  f.level = c.byte();
  f.flags = c.byte();
  f.keepalive = c.u16();
  f.client_id = c.str();
  if (f.flags & 0x80) f.username = c.str();
  if (f.flags & 0x40) f.password = c.str();
  f.ok = r.type == packet_type::connect && r.flags == 0 && c.done();
  return f;
}

// "filter@qos,filter@qos" for a SUBSCRIBE, "filter,filter" for an UNSUBSCRIBE; "bad" when the
// packet is not well formed.
std::string filters_of(const record& r) {
  cursor c{r.body};
  if (r.flags != 0x02 || c.u16() == 0) return "bad";
  std::string out;
  while (!c.done() && !c.bad) {
    if (!out.empty()) out += ',';
    out += c.str();
    if (r.type == packet_type::subscribe) out += "@" + std::to_string(c.byte());
  }
  return c.bad ? "bad" : out;
}

// ── The broker: listens on 127.0.0.1, records every packet the client sends ──

struct history {
  std::vector<record> packets;
  int accepted = 0;
  std::vector<int> ended;  // connections that reached their end of stream
  std::vector<int> reset;  // connections of those that ended with a reset, not a clean close
  bool malformed = false;  // the client sent bytes that are not MQTT

  const record* find(packet_type t, int conn = 0, int nth = 1) const {
    for (const auto& r : packets) {
      if (r.type == t && (conn == 0 || r.conn == conn) && --nth == 0) return &r;
    }
    return nullptr;
  }
  int count(packet_type t, int conn = 0) const {
    int n = 0;
    for (const auto& r : packets) n += r.type == t && (conn == 0 || r.conn == conn);
    return n;
  }
  bool has_ended(int conn) const {
    for (int c : ended) {
      if (c == conn) return true;
    }
    return false;
  }
};

class fake_broker {
 public:
  fake_broker() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    CHECK_TRUE(listen_fd_ >= 0);
    CHECK_EQUAL(0, ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a));
    CHECK_EQUAL(0, ::listen(listen_fd_, 8));
    CHECK_EQUAL(0, ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len));
    port_ = ntohs(a.sin_port);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
    CHECK_TRUE(wake_fd_ >= 0);
    thread_ = std::thread([this] { run(); });
  }
  ~fake_broker() {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
    thread_.join();
    for (const auto& c : conns_) ::close(c.fd);
    ::close(listen_fd_);
    ::close(wake_fd_);
  }
  fake_broker(const fake_broker&) = delete;
  fake_broker& operator=(const fake_broker&) = delete;

  std::string uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

  // Writes `bytes` to the newest connection in one send(); returns its place in `sequence`.
  int send(std::string_view bytes) {
    int fd = -1;
    {
      std::lock_guard lock(mu_);
      if (!conns_.empty()) fd = conns_.back().fd;
    }
    CHECK_TRUE_TEXT(fd >= 0, "no connection to send on");
    const int seq = ++sequence;
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      CHECK_TRUE_TEXT(n > 0, "the connection is gone");
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return seq;
  }

  // The broker ends the newest connection.
  void drop() {
    std::lock_guard lock(mu_);
    CHECK_FALSE(conns_.empty());
    ::shutdown(conns_.back().fd, SHUT_RDWR);
  }

  // Waits up to `limit` until pred(history) holds; pred runs with the broker's lock held.
  template <typename Pred>
  bool wait(Pred pred, std::chrono::milliseconds limit = kPatience) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return pred(static_cast<const history&>(seen_)); });
  }
  history snapshot() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  struct connection {
    int fd = -1;
    std::string buffered;
    bool open = true;
  };

  void run() {
    while (true) {
      std::vector<pollfd> p{{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      std::vector<std::size_t> which;
      {
        std::lock_guard lock(mu_);
        for (std::size_t i = 0; i < conns_.size(); ++i) {
          if (!conns_[i].open) continue;
          p.push_back({conns_[i].fd, POLLIN, 0});
          which.push_back(i);
        }
      }
      if (::poll(p.data(), p.size(), -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (p[1].revents != 0) return;
      for (std::size_t k = 0; k < which.size(); ++k) {
        if (p[k + 2].revents != 0) read_from(which[k]);
      }
      if ((p[0].revents & POLLIN) != 0) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
          const int one = 1;  // each send() leaves at once, as a broker's packets do
          ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          std::lock_guard lock(mu_);
          conns_.push_back({fd, {}, true});
          seen_.accepted++;
          cv_.notify_all();
        }
      }
    }
  }

  void read_from(std::size_t i) {
    int fd;
    {
      std::lock_guard lock(mu_);
      fd = conns_[i].fd;
    }
    char buf[16 * 1024];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    std::lock_guard lock(mu_);
    auto& c = conns_[i];
    const int conn = static_cast<int>(i) + 1;
    if (n <= 0) {
      c.open = false;
      seen_.ended.push_back(conn);
      if (n < 0) seen_.reset.push_back(conn);
      cv_.notify_all();
      return;
    }
    ++reads_;
    c.buffered.append(buf, static_cast<std::size_t>(n));
    while (true) {
      const auto f = mqtt_wire::next_packet(c.buffered);
      if (f.status == mqtt_wire::frame_status::malformed) {
        seen_.malformed = true;
        c.buffered.clear();
        break;
      }
      if (f.status != mqtt_wire::frame_status::complete) break;
      seen_.packets.push_back(
          {conn, reads_, ++sequence, f.out.type, f.out.flags, std::string(f.out.body)});
      c.buffered.erase(0, f.size);
      // As a broker does: DISCONNECT ends the connection from its side too.
      if (f.out.type == packet_type::disconnect) ::shutdown(fd, SHUT_WR);
    }
    cv_.notify_all();
  }

  int listen_fd_ = -1;
  int wake_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<connection> conns_;
  history seen_;
  int reads_ = 0;
};

// A listener whose accept queue is full: the kernel drops further SYNs, so a connect to it hangs
// as one to a host that does not answer would.
class unresponsive_listener {
 public:
  unresponsive_listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    CHECK_EQUAL(0, ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a));
    CHECK_EQUAL(0, ::listen(fd_, 0));
    CHECK_EQUAL(0, ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len));
    port_ = ntohs(a.sin_port);
    filler_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK_EQUAL(0, ::connect(filler_, reinterpret_cast<sockaddr*>(&a), sizeof a));
  }
  ~unresponsive_listener() {
    ::close(filler_);
    ::close(fd_);
  }
  unresponsive_listener(const unresponsive_listener&) = delete;
  unresponsive_listener& operator=(const unresponsive_listener&) = delete;
  std::string uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1, filler_ = -1;
  int port_ = 0;
};

// SYNs the kernel dropped at full accept queues (this network namespace), if it tells.
std::optional<long> listen_overflows() {
  std::ifstream in("/proc/net/netstat");
  std::string names, values;
  while (std::getline(in, names) && std::getline(in, values)) {
    if (!names.starts_with("TcpExt:")) continue;
    std::istringstream n(names), v(values);
    std::string name, value;
    while (n >> name && v >> value) {
      if (name == "ListenOverflows") return std::stol(value);
    }
  }
  return std::nullopt;
}

// For what nothing signals: checks pred() every few milliseconds until it holds or kPatience ran
// out.
template <typename Pred>
bool soon(Pred pred) {
  const auto deadline = steady::now() + kPatience;
  while (!pred()) {
    if (steady::now() >= deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

std::chrono::milliseconds cpu_time() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  const auto ms = [](const timeval& t) { return t.tv_sec * 1000 + t.tv_usec / 1000; };
  return std::chrono::milliseconds(ms(u.ru_utime) + ms(u.ru_stime));
}

const std::vector<std::string> kFilters = {"home/+/temp", "garden/#"};

}  // namespace

TEST_GROUP(mqtt_subscriber) {
  std::unique_ptr<fake_broker> broker;
  std::unique_ptr<mqtt_subscriber> client;

  // What the handler saw, and how the test steers it.
  struct message {
    std::string topic, payload;
    int returned = 0;  // place in `sequence` when the handler returned
  };
  std::mutex mu;
  std::condition_variable cv;
  std::vector<message> messages;
  std::vector<std::size_t> batches;  // messages handled before each on_batch_end
  std::size_t since_batch = 0;
  bool hold = false;         // the handler waits while this is set
  std::string refuse_topic;  // the handler refuses this topic and closes the gate
  bool gate_open = true;
  bool durable = true;  // what before_ack reports
  int gate_asked = 0;
  std::atomic<int> connects_ok{0}, connects_failed{0};

  void setup() override {
    // The client's and the broker's threads allocate while the test thread does.
    MemoryLeakWarningPlugin::turnOnThreadSafeNewDeleteOverloads();
    broker = std::make_unique<fake_broker>();
  }
  void teardown() override {
    release();
    client.reset();
    CHECK_FALSE_TEXT(broker->snapshot().malformed, "the client sent bytes that are not MQTT");
    broker.reset();
    MemoryLeakWarningPlugin::turnOnDefaultNotThreadSafeNewDeleteOverloads();
  }

  mqtt_subscriber::settings settings() {
    mqtt_subscriber::settings s;
    s.name = "test";
    s.uri = broker->uri();
    s.client_id = "portier-gw-1";
    s.keepalive_seconds = 30;
    s.connect_timeout = 2s;
    s.ack_timeout = 2s;
    s.backoff_initial = 10ms;
    s.backoff_max = 40ms;
    return s;
  }

  void start(mqtt_subscriber::settings s, std::vector<std::string> filters = kFilters) {
    client = std::make_unique<mqtt_subscriber>(std::move(s));
    client->on_message([this](std::string_view topic, std::string_view payload, int) {
      return on_message(topic, payload);
    });
    client->before_ack([this] {
      std::lock_guard lock(mu);
      return durable;
    });
    client->on_batch_end([this] {
      std::lock_guard lock(mu);
      batches.push_back(since_batch);
      since_batch = 0;
      cv.notify_all();
    });
    client->on_connect_result([this](bool ok) {
      std::lock_guard lock(mu);
      ++(ok ? connects_ok : connects_failed);
      cv.notify_all();
    });
    client->set_gate([this] {
      std::lock_guard lock(mu);
      ++gate_asked;
      cv.notify_all();
      return gate_open;
    });
    client->set_filters(std::move(filters));
    client->start();
  }

  mqtt_subscriber::verdict on_message(std::string_view topic, std::string_view payload) {
    std::unique_lock lock(mu);
    messages.push_back({std::string(topic), std::string(payload)});
    cv.notify_all();
    cv.wait(lock, [&] { return !hold; });
    const bool refuse = !refuse_topic.empty() && topic == refuse_topic;
    if (refuse) gate_open = false;
    ++since_batch;
    messages.back().returned = ++sequence;
    return refuse ? mqtt_subscriber::verdict::refused : mqtt_subscriber::verdict::taken;
  }

  void release() {
    std::lock_guard lock(mu);
    hold = false;
    cv.notify_all();
  }

  // Waits up to kPatience until pred() holds; pred runs with `mu` held.
  template <typename Pred>
  bool eventually(Pred pred) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, kPatience, pred);
  }
  bool handled(std::size_t n) {
    return eventually([&] { return messages.size() >= n; });
  }

  // The nth packet of type `t` the client sent on connection `conn`, once it has arrived.
  record expect(packet_type t, int conn, int nth = 1) {
    std::optional<record> found;
    broker->wait([&](const history& h) {
      if (const record* r = h.find(t, conn, nth)) found = *r;
      return found.has_value();
    });
    if (!found) {
      FAIL(("no packet of type " + std::to_string(static_cast<int>(t)) + " #" +
            std::to_string(nth) + " on connection " + std::to_string(conn))
               .c_str());
    }
    return *found;
  }

  void expect_ended(int conn) {
    CHECK_TRUE_TEXT(broker->wait([&](const history& h) { return h.has_ended(conn); }),
                    ("connection " + std::to_string(conn) + " did not end").c_str());
  }

  // Plays a well-behaved broker for connection `conn` up to the SUBACK granting every filter.
  // Subscribed to a/# and b/#, the connection lost, then only b/# wanted.
  void drop_a_filter_while_away() {
    start(settings(), {"a/#", "b/#"});
    accept_session(1);
    broker->drop();
    expect_ended(1);
    CHECK_TRUE(soon([&] { return !client->connected(); }));
    client->set_filters({"b/#"});
  }

  void accept_session(int conn, bool session_present = false) {
    expect(packet_type::connect, conn);
    broker->send(connack(0, session_present));
    const auto sub = expect(packet_type::subscribe, conn);
    cursor c{sub.body};
    const auto id = c.u16();
    std::string codes;
    while (!c.done() && !c.bad) {
      c.str();
      codes.push_back(static_cast<char>(c.byte()));
    }
    broker->send(suback(id, codes));
    CHECK_TRUE(client->wait_connected(steady::now() + kPatience));
  }
};

TEST(mqtt_subscriber, connect_carries_the_client_id_credentials_keepalive_and_keeps_the_session) {
  auto s = settings();
  s.username = "ingress";
  s.password = "s3cret";
  s.keepalive_seconds = 17;
  start(s);
  const auto c = parse_connect(expect(packet_type::connect, 1));
  CHECK_TRUE(c.ok);
  STRCMP_EQUAL("MQTT", c.protocol.c_str());
  LONGS_EQUAL(4, c.level);
  LONGS_EQUAL(0, c.flags & 0x02);  // clean session off: the broker keeps what it holds for us
  LONGS_EQUAL(0, c.flags & 0x04);  // no will
  LONGS_EQUAL(17, c.keepalive);
  STRCMP_EQUAL("portier-gw-1", c.client_id.c_str());
  STRCMP_EQUAL("ingress", c.username.c_str());
  STRCMP_EQUAL("s3cret", c.password.c_str());
  CHECK_FALSE(client->connected());
}

TEST(mqtt_subscriber, without_credentials_connect_has_no_username_or_password) {
  start(settings());
  const auto c = parse_connect(expect(packet_type::connect, 1));
  CHECK_TRUE(c.ok);
  LONGS_EQUAL(0, c.flags & 0xc0);
}

TEST(mqtt_subscriber, subscribes_to_exactly_the_filters_and_is_connected_only_after_the_suback) {
  auto s = settings();
  s.qos = 2;
  start(s);
  expect(packet_type::connect, 1);
  const int connack_sent = broker->send(connack(0));
  const auto sub = expect(packet_type::subscribe, 1);
  CHECK_TRUE(sub.seq > connack_sent);
  STRCMP_EQUAL("home/+/temp@2,garden/#@2", filters_of(sub).c_str());
  CHECK_FALSE(client->connected());
  LONGS_EQUAL(1, connects_ok.load());
  broker->send(suback(packet_id(sub), "\x02\x02"));
  CHECK_TRUE(client->wait_connected(steady::now() + kPatience));
  LONGS_EQUAL(1, broker->snapshot().count(packet_type::subscribe));
}

TEST(mqtt_subscriber,
     qos1_message_is_handed_over_and_acknowledged_only_after_the_handler_returned) {
  start(settings());
  accept_session(1);
  {
    std::lock_guard lock(mu);
    hold = true;
  }
  broker->send(publish("home/kitchen/temp", "{\"c\":21.5}", 1, 42));
  CHECK_TRUE(handled(1));
  {
    std::lock_guard lock(mu);
    STRCMP_EQUAL("home/kitchen/temp", messages[0].topic.c_str());
    STRCMP_EQUAL("{\"c\":21.5}", messages[0].payload.c_str());
  }
  LONGS_EQUAL(0, broker->snapshot().count(packet_type::puback));
  release();
  const auto ack = expect(packet_type::puback, 1);
  LONGS_EQUAL(42, packet_id(ack));
  std::lock_guard lock(mu);
  CHECK_TRUE(ack.seq > messages[0].returned);
}

TEST(mqtt_subscriber, publishes_in_one_write_are_handled_in_order_and_acknowledged_together) {
  start(settings());
  accept_session(1);
  broker->send(publish("home/a/temp", "1", 1, 1) + publish("home/b/temp", "2", 1, 2) +
               publish("home/c/temp", "3", 0) + publish("garden/d", "4", 1, 3));
  const auto third = expect(packet_type::puback, 1, 3);
  const auto h = broker->snapshot();
  LONGS_EQUAL(3, h.count(packet_type::puback));
  LONGS_EQUAL(1, packet_id(*h.find(packet_type::puback, 1, 1)));
  LONGS_EQUAL(2, packet_id(*h.find(packet_type::puback, 1, 2)));
  LONGS_EQUAL(3, packet_id(third));
  LONGS_EQUAL(third.read, h.find(packet_type::puback, 1, 1)->read);  // one write
  // on_batch_end runs once for the read, after all four were handled.
  CHECK_TRUE(
      eventually([&] { return std::find(batches.begin(), batches.end(), 4u) != batches.end(); }));
  std::lock_guard lock(mu);
  LONGS_EQUAL(4, messages.size());
  STRCMP_EQUAL("1", messages[0].payload.c_str());
  STRCMP_EQUAL("2", messages[1].payload.c_str());
  STRCMP_EQUAL("home/c/temp", messages[2].topic.c_str());
  STRCMP_EQUAL("4", messages[3].payload.c_str());
}

TEST(mqtt_subscriber, a_publish_split_across_writes_is_handed_over_whole) {
  start(settings());
  accept_session(1);
  const auto p = publish("home/hall/temp", "{\"c\":19}", 1, 5);
  broker->send(p.substr(0, 1));
  broker->send(p.substr(1, 6));
  broker->send(p.substr(7));
  LONGS_EQUAL(5, packet_id(expect(packet_type::puback, 1)));
  std::lock_guard lock(mu);
  LONGS_EQUAL(1, messages.size());
  STRCMP_EQUAL("{\"c\":19}", messages[0].payload.c_str());
}

TEST(mqtt_subscriber, oversized_publish_is_handed_over_cut_and_the_connection_carries_on) {
  auto s = settings();
  s.max_payload_bytes = 100;
  start(s);
  accept_session(1);
  broker->send(publish("home/big/temp", std::string(200'000, 'x'), 1, 5) +
               publish("home/small/temp", "ok", 1, 6));
  LONGS_EQUAL(6, packet_id(expect(packet_type::puback, 1, 2)));
  LONGS_EQUAL(5, packet_id(expect(packet_type::puback, 1, 1)));
  std::lock_guard lock(mu);
  LONGS_EQUAL(2, messages.size());
  STRCMP_EQUAL("home/big/temp", messages[0].topic.c_str());
  LONGS_EQUAL(101, messages[0].payload.size());  // enough for the policy to see it is too large
  STRCMP_EQUAL("ok", messages[1].payload.c_str());
  CHECK_TRUE(client->connected());
}

TEST(mqtt_subscriber, qos2_duplicate_before_pubrel_is_not_handed_over_again_but_acknowledged) {
  auto s = settings();
  s.qos = 2;
  start(s);
  accept_session(1);
  broker->send(publish("home/door/state", "open", 2, 7));
  const auto rec = expect(packet_type::pubrec, 1);
  LONGS_EQUAL(7, packet_id(rec));
  {
    std::lock_guard lock(mu);
    CHECK_TRUE(rec.seq > messages[0].returned);
  }
  broker->send(publish("home/door/state", "open", 2, 7, true));
  LONGS_EQUAL(7, packet_id(expect(packet_type::pubrec, 1, 2)));
  {
    std::lock_guard lock(mu);
    LONGS_EQUAL(1, messages.size());
  }
  broker->send(pubrel(7));
  const auto comp = expect(packet_type::pubcomp, 1);
  LONGS_EQUAL(7, packet_id(comp));
  LONGS_EQUAL(0, comp.flags);
  // Released: the id may carry a new message now.
  broker->send(publish("home/door/state", "closed", 2, 7));
  expect(packet_type::pubrec, 1, 3);
  std::lock_guard lock(mu);
  LONGS_EQUAL(2, messages.size());
  STRCMP_EQUAL("closed", messages[1].payload.c_str());
}

TEST(mqtt_subscriber, qos2_message_taken_before_a_reconnect_is_not_handed_over_again) {
  auto s = settings();
  s.qos = 2;
  start(s);
  accept_session(1);
  broker->send(publish("home/door/state", "open", 2, 9));
  expect(packet_type::pubrec, 1);
  broker->drop();  // before PUBREL: the broker resends the PUBLISH on the kept session
  accept_session(2, true);
  broker->send(publish("home/door/state", "open", 2, 9, true));
  LONGS_EQUAL(9, packet_id(expect(packet_type::pubrec, 2)));
  broker->send(pubrel(9));
  LONGS_EQUAL(9, packet_id(expect(packet_type::pubcomp, 2)));
  std::lock_guard lock(mu);
  LONGS_EQUAL(1, messages.size());
}

TEST(mqtt_subscriber,
     refused_message_is_not_acknowledged_and_the_client_stays_away_until_the_gate_opens) {
  start(settings());
  accept_session(1);
  {
    std::lock_guard lock(mu);
    refuse_topic = "home/hall/temp";
  }
  broker->send(publish("home/kitchen/temp", "a", 1, 1) + publish("home/hall/temp", "b", 1, 2) +
               publish("home/attic/temp", "c", 1, 3));
  const auto bye = expect(packet_type::disconnect, 1);
  expect_ended(1);
  CHECK_TRUE(soon([&] { return !client->connected(); }));
  {
    const auto h = broker->snapshot();
    LONGS_EQUAL(1, h.count(packet_type::puback));  // the one taken before the refusal
    const auto* ack = h.find(packet_type::puback, 1);
    LONGS_EQUAL(1, packet_id(*ack));
    CHECK_TRUE(ack->seq < bye.seq);
    std::lock_guard lock(mu);
    LONGS_EQUAL(2, messages.size());  // the third was not handed over
    STRCMP_EQUAL("b", messages[1].payload.c_str());
  }
  // While the gate is closed the client asks it again and again, and stays away.
  int asked = 0;
  {
    std::lock_guard lock(mu);
    asked = gate_asked;
  }
  CHECK_TRUE(eventually([&] { return gate_asked >= asked + 3; }));
  LONGS_EQUAL(1, broker->snapshot().accepted);
  {
    std::lock_guard lock(mu);
    gate_open = true;
    refuse_topic.clear();
  }
  client->recheck();
  accept_session(2);
  broker->send(publish("home/hall/temp", "b", 1, 2, true) +
               publish("home/attic/temp", "c", 1, 3, true));
  LONGS_EQUAL(3, packet_id(expect(packet_type::puback, 2, 2)));
  std::lock_guard lock(mu);
  LONGS_EQUAL(4, messages.size());
}

// Regression: the client closed its socket with unread messages in it right after DISCONNECT;
// the kernel then resets the connection, and a broker that is still writing (mosquitto: "Broken
// pipe") drops the acknowledgements it had not read yet and sends those messages again
// (integration test 07 saw them arrive twice, out of order). Now the client lingers until the
// broker has closed.
TEST(mqtt_subscriber, pausing_with_unread_messages_closes_cleanly_after_the_broker_read_the_acks) {
  start(settings());
  accept_session(1);
  {
    std::lock_guard lock(mu);
    refuse_topic = "home/hall/temp";
  }
  // About 75 KB in one write: more than the client reads at once, so some stays unread.
  std::string burst =
      publish("home/kitchen/temp", "a", 1, 1) + publish("home/hall/temp", "b", 1, 2);
  for (std::uint16_t id = 3; id < 3000; ++id) burst += publish("home/attic/temp", "c", 1, id);
  broker->send(burst);
  expect(packet_type::disconnect, 1);
  expect_ended(1);
  const auto h = broker->snapshot();
  LONGS_EQUAL(1, h.count(packet_type::puback));
  CHECK_FALSE_TEXT(h.reset.size() > 0, "the client reset the connection");
}

TEST(mqtt_subscriber, a_batch_that_could_not_be_made_durable_is_not_acknowledged) {
  auto s = settings();
  s.qos = 2;
  start(s);
  accept_session(1);
  {
    std::lock_guard lock(mu);
    durable = false;  // e.g. fdatasync failed
  }
  broker->send(publish("home/hall/temp", "a", 1, 4) + publish("home/door/state", "open", 2, 5));
  expect_ended(1);
  {
    const auto h = broker->snapshot();
    LONGS_EQUAL(0, h.count(packet_type::puback));
    LONGS_EQUAL(0, h.count(packet_type::pubrec));
    std::lock_guard lock(mu);
    LONGS_EQUAL(2, messages.size());
    durable = true;
  }
  // The broker sends both again on the kept session: handed over again (the QoS 2 id is not
  // taken for one already handled) and now acknowledged.
  accept_session(2, true);
  broker->send(publish("home/hall/temp", "a", 1, 4, true) +
               publish("home/door/state", "open", 2, 5, true));
  LONGS_EQUAL(4, packet_id(expect(packet_type::puback, 2)));
  LONGS_EQUAL(5, packet_id(expect(packet_type::pubrec, 2)));
  std::lock_guard lock(mu);
  LONGS_EQUAL(4, messages.size());
}

TEST(mqtt_subscriber, a_qos2_publish_without_dup_on_a_pending_id_is_a_new_message) {
  auto s = settings();
  s.qos = 2;
  start(s);
  accept_session(1);
  broker->send(publish("home/door/state", "open", 2, 7));
  expect(packet_type::pubrec, 1);
  broker->send(publish("home/door/state", "closed", 2, 7));  // no DUP: not a resend
  expect(packet_type::pubrec, 1, 2);
  std::lock_guard lock(mu);
  LONGS_EQUAL(2, messages.size());
  STRCMP_EQUAL("closed", messages[1].payload.c_str());
}

TEST(mqtt_subscriber, refused_subscription_closes_and_subscribes_again_after_the_back_off) {
  start(settings());
  expect(packet_type::connect, 1);
  broker->send(connack(0));
  const auto sub = expect(packet_type::subscribe, 1);
  broker->send(suback(packet_id(sub), "\x01\x80"));
  expect_ended(1);
  CHECK_FALSE(client->connected());
  accept_session(2);
  STRCMP_EQUAL("home/+/temp@1,garden/#@1", filters_of(expect(packet_type::subscribe, 2)).c_str());
}

TEST(mqtt_subscriber, missing_suback_closes_and_reconnects) {
  auto s = settings();
  s.ack_timeout = 300ms;
  start(s);
  expect(packet_type::connect, 1);
  broker->send(connack(0));
  expect(packet_type::subscribe, 1);
  expect_ended(1);
  CHECK_FALSE(client->connected());
  accept_session(2);
}

TEST(mqtt_subscriber,
     set_filters_while_connected_subscribes_the_added_and_unsubscribes_the_removed) {
  start(settings(), {"a/#", "b/#"});
  accept_session(1);
  client->set_filters({"b/#", "c/#", "d/+"});
  const auto sub = expect(packet_type::subscribe, 1, 2);
  const auto unsub = expect(packet_type::unsubscribe, 1);
  STRCMP_EQUAL("c/#@1,d/+@1", filters_of(sub).c_str());
  STRCMP_EQUAL("a/#", filters_of(unsub).c_str());
  broker->send(suback(packet_id(sub), "\x01\x01") + unsuback(packet_id(unsub)));
  // Only removals: an UNSUBSCRIBE and no SUBSCRIBE.
  client->set_filters({"c/#"});
  const auto unsub2 = expect(packet_type::unsubscribe, 1, 2);
  STRCMP_EQUAL("b/#,d/+", filters_of(unsub2).c_str());
  broker->send(unsuback(packet_id(unsub2)));
  // The same set again: nothing to send. Then one more filter: a SUBSCRIBE for it alone.
  client->set_filters({"c/#"});
  client->set_filters({"c/#", "e/#"});
  const auto sub3 = expect(packet_type::subscribe, 1, 3);
  STRCMP_EQUAL("e/#@1", filters_of(sub3).c_str());
  broker->send(suback(packet_id(sub3), "\x01"));
  const auto h = broker->snapshot();
  LONGS_EQUAL(3, h.count(packet_type::subscribe));
  LONGS_EQUAL(2, h.count(packet_type::unsubscribe));
  LONGS_EQUAL(1, h.accepted);
  CHECK_TRUE(client->connected());
}

TEST(mqtt_subscriber, a_filter_change_made_while_another_is_unanswered_is_sent_after_it) {
  start(settings(), {"a/#"});
  accept_session(1);
  client->set_filters({"a/#", "b/#"});
  const auto sub = expect(packet_type::subscribe, 1, 2);
  STRCMP_EQUAL("b/#@1", filters_of(sub).c_str());
  client->set_filters({"b/#", "c/#"});  // before the broker answered the first change
  broker->send(suback(packet_id(sub), "\x01"));
  const auto sub2 = expect(packet_type::subscribe, 1, 3);
  const auto unsub = expect(packet_type::unsubscribe, 1);
  STRCMP_EQUAL("c/#@1", filters_of(sub2).c_str());
  STRCMP_EQUAL("a/#", filters_of(unsub).c_str());
}

TEST(mqtt_subscriber, filters_set_while_disconnected_are_all_subscribed_on_connect) {
  start(settings(), {"a/#"});
  expect(packet_type::connect, 1);
  client->set_filters({"x/#", "y/#"});
  broker->send(connack(0));
  STRCMP_EQUAL("x/#@1,y/#@1", filters_of(expect(packet_type::subscribe, 1)).c_str());
}

TEST(mqtt_subscriber, a_filter_dropped_while_away_is_unsubscribed_when_the_session_was_kept) {
  drop_a_filter_while_away();
  expect(packet_type::connect, 2);
  broker->send(connack(0, true));  // the broker kept the session, and its subscription to a/#
  STRCMP_EQUAL("b/#@1", filters_of(expect(packet_type::subscribe, 2)).c_str());
  STRCMP_EQUAL("a/#", filters_of(expect(packet_type::unsubscribe, 2)).c_str());
}

TEST(mqtt_subscriber, an_unsubscribe_the_broker_did_not_answer_is_sent_again_next_time) {
  drop_a_filter_while_away();
  expect(packet_type::connect, 2);
  broker->send(connack(0, true));
  expect(packet_type::unsubscribe, 2);
  broker->drop();  // before the UNSUBACK: a/# may still be subscribed
  expect_ended(2);
  expect(packet_type::connect, 3);
  broker->send(connack(0, true));
  STRCMP_EQUAL("a/#", filters_of(expect(packet_type::unsubscribe, 3)).c_str());
}

TEST(mqtt_subscriber, a_new_session_needs_no_unsubscribe) {
  drop_a_filter_while_away();
  accept_session(2, false);
  LONGS_EQUAL(0, broker->snapshot().count(packet_type::unsubscribe));
}

TEST(mqtt_subscriber, broker_closing_the_connection_makes_the_client_reconnect) {
  start(settings());
  accept_session(1);
  broker->drop();
  accept_session(2);
  const auto c = parse_connect(expect(packet_type::connect, 2));
  STRCMP_EQUAL("portier-gw-1", c.client_id.c_str());
  LONGS_EQUAL(0, c.flags & 0x02);
  STRCMP_EQUAL("home/+/temp@1,garden/#@1", filters_of(expect(packet_type::subscribe, 2)).c_str());
  LONGS_EQUAL(2, connects_ok.load());
  LONGS_EQUAL(0, connects_failed.load());
}

TEST(mqtt_subscriber, refused_connack_is_counted_and_retried) {
  start(settings());
  expect(packet_type::connect, 1);
  broker->send(connack(5));  // not authorized
  expect_ended(1);
  LONGS_EQUAL(1, connects_failed.load());
  LONGS_EQUAL(0, broker->snapshot().count(packet_type::subscribe));
  accept_session(2);
  LONGS_EQUAL(1, connects_ok.load());
  LONGS_EQUAL(1, connects_failed.load());
}

TEST(mqtt_subscriber, malformed_bytes_from_the_broker_end_the_connection_and_it_reconnects) {
  const std::vector<std::string> bad = {
      std::string("\xf0\x00", 2),                      // reserved packet type 15
      std::string("\x30\xff\xff\xff\xff\x01", 6),      // a fifth remaining-length byte
      std::string("\x60\x02\x00\x01", 4),              // PUBREL without its 0010 flags
      std::string("\x36\x05\x00\x01t\x00\x01", 7),     // PUBLISH at QoS 3
      publish("home/x/temp", "p", 1, 0),               // QoS 1 with packet id 0
      connack(0),                                      // a second CONNACK
      std::string("\x30\x05\x00\x09\x61\x62\x63", 7),  // topic runs past the packet
  };
  start(settings());
  int conn = 1;
  for (const auto& bytes : bad) {
    accept_session(conn);
    broker->send(bytes);
    expect_ended(conn);
    ++conn;
  }
  accept_session(conn);
  LONGS_EQUAL(0, broker->snapshot().count(packet_type::puback));
  std::lock_guard lock(mu);
  LONGS_EQUAL(0, messages.size());
}

TEST(mqtt_subscriber, keepalive_pings_when_idle_and_reconnects_when_pings_go_unanswered) {
  auto s = settings();
  s.keepalive_seconds = 1;
  s.ack_timeout = 300ms;
  start(s);
  accept_session(1);
  expect(packet_type::pingreq, 1);
  broker->send(kPingresp);
  // Answered: the connection stays and the next ping follows on it.
  expect(packet_type::pingreq, 1, 2);
  // Unanswered: the client gives up on the connection and connects afresh.
  expect_ended(1);
  accept_session(2);
  const auto h = broker->snapshot();
  LONGS_EQUAL(2, h.count(packet_type::pingreq, 1));
  LONGS_EQUAL(0, h.count(packet_type::disconnect, 1));
}

TEST(mqtt_subscriber, stop_while_connected_sends_disconnect_and_returns_promptly) {
  start(settings());
  accept_session(1);
  const auto began = steady::now();
  client->stop();
  CHECK_TRUE(steady::now() - began < 3s);  // no wait for anything
  CHECK_FALSE(client->connected());
  expect(packet_type::disconnect, 1);
  expect_ended(1);
  LONGS_EQUAL(1, broker->snapshot().accepted);
}

TEST(mqtt_subscriber, stop_sends_the_acknowledgements_it_owes_before_disconnect) {
  start(settings());
  accept_session(1);
  {
    std::lock_guard lock(mu);
    hold = true;
  }
  broker->send(publish("home/kitchen/temp", "a", 1, 11));
  CHECK_TRUE(handled(1));
  std::thread stopper([this] { client->stop(); });
  release();
  stopper.join();
  expect(packet_type::disconnect, 1);
  const auto h = broker->snapshot();
  const auto* ack = h.find(packet_type::puback, 1);
  const auto* bye = h.find(packet_type::disconnect, 1);
  CHECK_TRUE(ack != nullptr);
  CHECK_TRUE(bye != nullptr);
  LONGS_EQUAL(11, packet_id(*ack));
  CHECK_TRUE(ack->seq < bye->seq);
}

TEST(mqtt_subscriber, stop_during_the_back_off_returns_promptly) {
  auto s = settings();
  s.backoff_initial = 10s;
  s.backoff_max = 10s;
  start(s);
  expect(packet_type::connect, 1);
  broker->send(connack(3));  // server unavailable: back off for 5 to 10 s
  expect_ended(1);
  const auto began = steady::now();
  client->stop();
  CHECK_TRUE(steady::now() - began < 3s);  // not the 5 to 10 s back-off
  LONGS_EQUAL(1, broker->snapshot().accepted);
}

TEST(mqtt_subscriber, connect_to_a_broker_that_does_not_answer_times_out_without_spinning) {
  unresponsive_listener silent;
  auto s = settings();
  s.uri = silent.uri();
  s.connect_timeout = 300ms;
  s.backoff_initial = 10s;
  s.backoff_max = 10s;
  const auto cpu_before = cpu_time();
  start(s);  // set_filters() before start() has already woken the client once
  CHECK_TRUE(eventually([&] { return connects_failed.load() >= 1; }));
  LONGS_EQUAL(0, connects_ok.load());
  const auto used = cpu_time() - cpu_before;
  CHECK_TRUE_TEXT(used < 150ms, ("used " + std::to_string(used.count()) + " ms of CPU").c_str());
}

TEST(mqtt_subscriber, stop_during_a_connect_that_hangs_returns_promptly) {
  unresponsive_listener silent;
  auto s = settings();
  s.uri = silent.uri();
  s.connect_timeout = 10s;
  const auto dropped = listen_overflows();
  start(s);
  if (dropped) {  // wait until the client's SYN was dropped: it is inside its connect
    CHECK_TRUE(soon([&] { return listen_overflows().value_or(0) > *dropped; }));
  }
  const auto began = steady::now();
  client->stop();
  CHECK_TRUE(steady::now() - began < 3s);  // far below connect_timeout
}
