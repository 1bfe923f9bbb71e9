// An MQTT 3.1.1 client for the connections portierd publishes on: the operator's broker over TLS
// (platform/tls_client.h, mbedTLS) and, for the Home Assistant link, the box's own broker over
// plain TCP. One thread of its own connects, reconnects with jittered exponential back-off after a
// failure or a lost connection, subscribes, reads, acknowledges, pings, and writes what the
// other threads queued. Why not Paho: ARCHITECTURE.md ("The upstream client").
//
// Publishing: publish() (any thread) queues one PUBLISH and never waits; flush() writes what is
// queued as far as the socket takes it now (so several PUBLISHes queued together leave in one TLS
// record), and the client's thread writes the rest when the socket is writable. A QoS 1 PUBLISH
// takes one of max_inflight slots until its PUBACK, which calls on_ack(ctx) on the client's
// thread; publish() refuses (false) when not connected or when every slot is taken. A lost
// connection forgets the unacknowledged ones (no on_ack; clean session: the owner sends them
// again after on_lost()). Nothing is buffered while disconnected.
//
// Receiving: the subscriptions are made on each connect, before the connection counts as up; a
// refused filter or no SUBACK within ack_timeout ends the connection (back-off, then anew).
// Each PUBLISH received (QoS 0 or 1) goes to on_message on the client's thread, and its PUBACK is
// queued after the handler returned. Handlers may call publish() and flush(), never wait for the
// client (they run on its thread).
//
// Callbacks, on the client's thread: on_connect_result(ok, tls) after each attempt (tls: what the
// handshake showed, when TLS got that far; null otherwise), on_connected() once subscribed,
// on_lost() after an up connection ended (also on stop()). Logs never hold a payload.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gateway/mqtt/backoff.h"
#include "gateway/mqtt/mqtt_reader.h"
#include "gateway/mqtt/mqtt_wire.h"
#include "platform/tls_client.h"

namespace portier::gateway {

class mqtt_client {
 public:
  struct settings {
    std::string name;  // "upstream", for logs
    // ssl://HOST:PORT or mqtts://HOST:PORT (TLS), tcp:// or mqtt:// (plain).
    std::string uri;
    // TLS: the trust store and client certificate, read at each connect (tls_client_trust::load;
    // a file that cannot be used fails the attempt, logged).
    platform::tls_client_files tls_files;
    std::string client_id;
    std::string username;
    std::string password;
    std::uint16_t keepalive_seconds = 30;
    bool clean_session = true;
    std::string will_topic;  // empty: no last will
    std::string will_payload;
    bool will_retain = true;                           // the will is QoS 1
    std::vector<std::string> subscriptions;            // at QoS 1
    std::size_t max_inflight = 64;                     // QoS 1 PUBLISHes awaiting their PUBACK
    std::size_t max_payload_bytes = 1024 * 1024;       // larger PUBLISHes received are dropped
    std::chrono::milliseconds connect_timeout{10000};  // TCP, TLS and CONNACK
    std::chrono::milliseconds ack_timeout{10000};      // SUBACK, PINGRESP
    std::chrono::milliseconds backoff_initial{500};
    std::chrono::milliseconds backoff_max{30000};
  };
  using message_handler =
      std::function<void(std::string_view topic, std::string_view payload, bool retained)>;

  // Errors in the URI are reported by parse_uri() (config validation calls it); a client with a
  // bad one never connects.
  explicit mqtt_client(settings s);
  ~mqtt_client();
  mqtt_client(const mqtt_client&) = delete;
  mqtt_client& operator=(const mqtt_client&) = delete;

  // Set before start().
  void on_message(message_handler h) { on_message_ = std::move(h); }
  void on_ack(std::function<void(std::uint64_t ctx)> f) { on_ack_ = std::move(f); }
  void on_connected(std::function<void()> f) { on_connected_ = std::move(f); }
  void on_lost(std::function<void()> f) { on_lost_ = std::move(f); }
  void on_connect_result(
      std::function<void(bool ok, const platform::tls_handshake_report* tls)> f) {
    on_connect_result_ = std::move(f);
  }

  // Replaces settings.subscriptions; before start().
  void set_subscriptions(std::vector<std::string> filters) {
    settings_.subscriptions = std::move(filters);
  }

  void start();
  // Stops reconnecting; when connected, writes what is queued and a DISCONNECT (waiting at most
  // `linger` for the socket), then closes. Joins the thread. Idempotent.
  void stop(std::chrono::milliseconds linger);

  // See the header paragraph. qos is 0 or 1.
  bool publish(std::string_view topic, std::string_view payload, int qos, bool retain,
               std::uint64_t ctx);
  void flush();
  bool connected() const { return connected_; }
  bool wait_connected(std::chrono::steady_clock::time_point deadline);

  struct address {
    bool tls = false;
    std::string host;  // without brackets
    std::string port;
  };
  // "ssl://HOST:PORT", "mqtts://[V6]:PORT", "tcp://HOST[:PORT]" ...; false with `why` set.
  static bool parse_uri(const std::string& uri, address& out, std::string& why);

 private:
  using clock = std::chrono::steady_clock;
  enum class phase { closed, connecting, subscribing, up };
  struct slot {
    std::uint64_t ctx = 0;
    std::uint16_t id = 0;
    bool used = false;
  };

  void run();
  // One connection from TCP connect to its end; true when it failed or was lost (back off).
  bool serve_connection();
  bool open_socket();
  bool tls_handshake(clock::time_point deadline);
  bool read_ready();  // reads what there is and handles it; false: the connection must end
  bool handle(const mqtt_wire::packet& p);
  bool write_locked();  // writes out_ as far as it goes; false on an error
  void close_connection(bool graceful, std::chrono::milliseconds linger);
  bool wait_io(short events, clock::time_point deadline);  // for connect/handshake/CONNACK
  std::uint16_t next_id_locked();
  void wake();
  void fail(const std::string& why);

  settings settings_;
  address address_;
  bool address_ok_ = false;
  mqtt_reader reader_;  // the client's thread's
  message_handler on_message_;
  std::function<void(std::uint64_t)> on_ack_;
  std::function<void()> on_connected_;
  std::function<void()> on_lost_;
  std::function<void(bool, const platform::tls_handshake_report*)> on_connect_result_;
  backoff backoff_;
  std::thread thread_;
  int wake_fd_ = -1;
  std::atomic<bool> connected_{false};

  std::mutex mu_;  // everything below, and every read or write on the connection
  std::condition_variable cv_;
  bool stopping_ = false;
  std::chrono::milliseconds linger_{0};
  phase phase_ = phase::closed;
  int fd_ = -1;
  std::unique_ptr<platform::tls_client_session> tls_;
  std::string out_;  // queued bytes; out_[out_sent_..] not yet written
  std::size_t out_sent_ = 0;
  std::vector<slot> slots_;  // indexed by packet id & (size - 1)
  std::size_t inflight_ = 0;
  std::uint16_t last_id_ = 0;
  clock::time_point last_sent_{};
  bool write_failed_ = false;
  std::string write_error_;  // why (writes happen on any thread: never in error_)

  // The client's thread's own.
  std::uint16_t subscribe_id_ = 0;
  clock::time_point subscribe_deadline_{}, ping_deadline_{};
  bool ping_outstanding_ = false;
  std::string error_;                 // why the connection ended (for the log)
  std::vector<std::uint64_t> acked_;  // contexts acknowledged in one read, handed over after it
};

}  // namespace portier::gateway
