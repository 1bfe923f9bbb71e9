// A persistent MQTT 3.1.1 subscription on the local broker, kept up by one thread of its own:
// connect (plain TCP, fixed client id, clean session off), subscribe, read, acknowledge, ping,
// and reconnect with jittered exponential back-off after a failure or a lost connection.
//
// Why not Paho here: the ingress must acknowledge a message only once its releases are in the
// spool, and must read fast. Paho C serves every client of a process on one receive thread that
// reads one packet at a time and holds the library's lock during callbacks (docs/PERFORMANCE.md);
// this client reads whatever the socket holds in one call, hands each PUBLISH to the handler in
// order on its own thread, and then sends all their acknowledgements in one write. It only ever
// talks to the box's own broker; the upstream connection (TLS) stays with Paho.
//
// Contract of the handler (called on this client's thread, one message at a time):
//   - returns `taken`: the message is the handler's; its PUBACK (QoS 1) or PUBREC (QoS 2) is sent
//     after the handler returned, never before. QoS 2: handled on PUBLISH, a duplicate (DUP set)
//     of a packet id still waiting for its PUBREL is not handed over again.
//   - returns `refused`: not acknowledged. The client sends what it acknowledged so far, closes
//     the connection cleanly (the broker keeps the session and redelivers the message later) and
//     stays closed until the gate opens again. A QoS 0 message is not redelivered: the handler
//     should take those. While closing cleanly (refused, gate, stop) the client reads on until
//     the broker has closed; QoS 0 messages that arrive meanwhile are still handed over, others
//     are left for the broker to send again.
// A PUBLISH larger than max_packet_bytes is handed over with its payload cut to its first
// max_payload_bytes + 1 bytes (the rest is skipped unread into memory): enough for the policy to
// drop it as too large. `before_ack` runs after each read's messages were handed over and before
// their acknowledgements are written (the ingress makes the batch durable there), `on_batch_end`
// after they were written.
//
// Subscriptions: set_filters() (any thread) gives the wanted set; each connect subscribes to all
// of it, and while connected the difference is subscribed and unsubscribed. A refused filter
// (SUBACK 0x80) or a missing SUBACK/UNSUBACK (10 s) is an error: logged, the connection closed
// and set up afresh after the back-off.
//
// Logs never hold a payload or a topic a device sent: only the broker, the client id and the
// topic filters, which are policy text.
#pragma once

#include <atomic>
#include <bitset>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gateway/mqtt/backoff.h"
#include "gateway/mqtt/mqtt_reader.h"
#include "gateway/mqtt/mqtt_wire.h"

namespace portier::gateway {

class mqtt_subscriber {
 public:
  enum class verdict { taken, refused };
  // `qos` is the QoS the broker delivered the message at (0 when the publisher used 0 and the
  // broker does not upgrade it): a QoS 0 message that is refused is gone, nothing redelivers it.
  using handler = std::function<verdict(std::string_view topic, std::string_view payload, int qos)>;

  struct settings {
    std::string name = "local";  // for logs
    std::string uri;             // tcp://HOST:PORT
    std::string client_id;
    std::string username;
    std::string password;
    std::uint16_t keepalive_seconds = 30;
    int qos = 1;
    std::size_t max_payload_bytes = 1024 * 1024;
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds ack_timeout{10000};  // CONNACK, SUBACK, UNSUBACK, PINGRESP
    std::chrono::milliseconds backoff_initial{500};
    std::chrono::milliseconds backoff_max{30000};
  };

  // Errors in the URI are reported by parse_uri() (config validation calls it).
  explicit mqtt_subscriber(settings s);
  ~mqtt_subscriber();
  mqtt_subscriber(const mqtt_subscriber&) = delete;
  mqtt_subscriber& operator=(const mqtt_subscriber&) = delete;

  // Set before start().
  void on_message(handler h) { handler_ = std::move(h); }
  // Returns false when the batch could not be made durable: then nothing of it is acknowledged
  // (the QoS 2 packet ids it took are forgotten too) and the connection is closed, so the broker
  // delivers those messages again after the back-off.
  void before_ack(std::function<bool()> f) { before_ack_ = std::move(f); }
  void on_batch_end(std::function<void()> f) { batch_end_ = std::move(f); }
  void on_connect_result(std::function<void(bool)> f) { connect_result_ = std::move(f); }
  // While it returns false the client stays disconnected (checked before each connect, every
  // 100 ms while closed, and on recheck()).
  void set_gate(std::function<bool()> may_connect) { gate_ = std::move(may_connect); }

  void set_filters(std::vector<std::string> filters);
  void recheck();
  void start();
  // Sends the acknowledgements it owes, disconnects (the session stays at the broker) and joins
  // the thread.
  void stop();
  bool connected() const { return connected_; }
  bool wait_connected(std::chrono::steady_clock::time_point deadline);

  // "tcp://HOST:PORT" (also mqtt://) into host and port; false with `why` set otherwise.
  static bool parse_uri(const std::string& uri, std::string& host, std::string& port,
                        std::string& why);

 private:
  using clock = std::chrono::steady_clock;
  enum class phase { closed, awaiting_connack, up };
  struct change {                            // one round of SUBSCRIBE and/or UNSUBSCRIBE
    std::uint16_t sub_id = 0, unsub_id = 0;  // 0: answered (or not sent)
    std::vector<std::string> added, removed;
    bool initial = false;  // the subscriptions of a new connection
    clock::time_point deadline;
    bool pending() const { return sub_id != 0 || unsub_id != 0; }
  };

  void run();
  bool open_socket();
  void close_socket();
  // One connection from CONNECT to its end. True when it failed or was lost (back off before the
  // next attempt); false when it was closed on purpose (stop, or the gate closed).
  bool serve_connection();
  // Reads once and handles every complete packet; false when the connection must end.
  bool read_and_handle();
  bool handle(const mqtt_wire::packet& p);
  bool protocol_error(const char* what);
  bool flush();         // writes out_ completely (within ack_timeout)
  void linger();        // after DISCONNECT: waits for the broker to close first
  void start_change();  // if the wanted filters changed and no round is outstanding
  void send_change();
  void finish_change();
  std::uint16_t next_id();
  void wake();

  settings settings_;
  std::string host_, port_;
  mqtt_reader reader_;  // owned by the client's thread
  handler handler_;
  std::function<bool()> before_ack_;
  std::function<void()> batch_end_;
  std::function<void(bool)> connect_result_;
  std::function<bool()> gate_;
  backoff backoff_;

  std::mutex mu_;  // guards wanted_ ... recheck_, and connected_ changes (cv_)
  std::condition_variable cv_;
  std::vector<std::string> wanted_;
  bool filters_changed_ = false;
  bool stopping_ = false;
  bool recheck_ = false;
  std::thread thread_;
  std::atomic<bool> connected_{false};

  // Owned by the client's thread.
  int fd_ = -1;
  int wake_fd_ = -1;  // eventfd: stop, recheck and set_filters wake the poll
  phase phase_ = phase::closed;
  std::string out_;                  // acknowledgements and requests not yet written
  std::vector<std::string> active_;  // granted at the broker
  change change_;
  bool refused_ = false;  // the handler refused a message: close, and let the gate decide
  bool fatal_ = false;    // protocol error or refused subscription: close and back off
  clock::time_point last_sent_, ping_sent_;
  bool ping_outstanding_ = false;
  std::uint16_t last_id_ = 0;
  std::bitset<65536> awaiting_pubrel_;
  std::vector<std::uint16_t> batch_pubrec_;  // QoS 2 ids taken in the current read  // QoS 2 packet
  std::size_t batch_handled_ = 0;  // messages handed to the handler in the current read
                                             // ids taken, PUBREL not yet received
};

}  // namespace portier::gateway
