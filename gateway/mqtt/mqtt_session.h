// One MQTT connection kept up: a Paho async client plus a supervisor thread that connects,
// reconnects with jittered exponential back-off after a failure or a lost connection, and runs
// `on_connected` after every successful connect (subscriptions are restored there). A gate can
// hold the connection closed (the ingress pauses this way while the spool is full).
//
// Paho C runs every client of a process on one receive thread under one library lock: a
// callback that blocks stops *all* clients. Callbacks must never wait for another session.
//
// Paho exceptions stop here: they are logged (never with payloads) and turned into a retry.
// Callbacks registered on client() run on Paho's own thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <mqtt/async_client.h>

#include "gateway/mqtt/backoff.h"

namespace portier::gateway {

class mqtt_session {
 public:
  struct settings {
    std::string name;  // "local" or "upstream", for logs
    std::string uri;
    std::string client_id;
    // Paho's session persistence: none when null. Must outlive the session.
    mqtt::iclient_persistence* persistence = nullptr;
    mqtt::connect_options options;
    std::chrono::milliseconds backoff_initial{500};
    std::chrono::milliseconds backoff_max{30000};
  };
  using hook = std::function<void(mqtt::async_client&)>;

  explicit mqtt_session(settings s);
  ~mqtt_session();
  mqtt_session(const mqtt_session&) = delete;
  mqtt_session& operator=(const mqtt_session&) = delete;

  mqtt::async_client& client() { return *client_; }
  // Hooks: set before start().
  void on_connected(hook h) { on_connected_ = std::move(h); }
  void on_lost(std::function<void()> f) { on_lost_ = std::move(f); }
  void on_connect_result(std::function<void(bool)> f) { on_connect_result_ = std::move(f); }
  // While `may_connect` returns false the session stays disconnected (checked before each
  // connect, every 100 ms while closed, and on recheck()). Set before start().
  void set_gate(std::function<bool()> may_connect) { gate_ = std::move(may_connect); }
  // Re-evaluates the gate now; a connected session whose gate closed disconnects. Safe to call
  // from a Paho callback: the disconnect happens on the supervisor thread.
  void recheck();

  // Disconnects and connects again (the on_connected hook runs again): for when the session's
  // set-up went wrong after the fact, e.g. a subscription was refused. Safe from any thread.
  void reconnect();
  // Subscribes and waits for the SUBACK; throws mqtt::exception when none comes within 10 s or
  // the broker refused any of the filters (logged by the caller; the topic filters are policy
  // text, never personal data).
  static void subscribe_checked(mqtt::async_client& client, const std::vector<std::string>& filters,
                                int qos);

  void start();
  // Stops reconnecting and disconnects (waiting at most `timeout` for Paho).
  void stop(std::chrono::milliseconds timeout);
  bool connected() const { return connected_; }
  bool wait_connected(std::chrono::steady_clock::time_point deadline);

 private:
  void run();

  settings settings_;
  std::unique_ptr<mqtt::async_client> client_;
  hook on_connected_;
  std::function<void()> on_lost_;
  std::function<void(bool)> on_connect_result_;
  std::function<bool()> gate_;
  backoff backoff_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool lost_ = false;
  bool recheck_ = false;
  bool reconnect_ = false;
  std::atomic<bool> connected_{false};
  std::thread thread_;
};

}  // namespace portier::gateway
