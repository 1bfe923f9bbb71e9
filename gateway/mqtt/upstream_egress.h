// Egress: the TLS session to the operator's broker and the publisher thread that empties the
// spool into it at QoS 1, at most max_inflight unacknowledged at a time. The ingress calls pump()
// after each message, so a release usually leaves on the thread that received it, without waking
// the publisher thread (one thread hop and its wake-up less per message); the publisher thread
// sends what is left (backlog, after a reconnect or a pause). One pump at a time keeps the order.
// Releases are read from the spool only while connected (Paho's offline buffer is never used) and
// leave it only on PUBACK; a lost connection rewinds the spool so the unacknowledged ones are sent
// again. The spool drops a release that waited past its purpose's retention, unsent and counted.
//
// The session is portierd's own MQTT client over mbedTLS (mqtt_client.h). A failed TLS handshake
// is diagnosed from what the handshake showed (tls_diagnosis.h): counted by kind and logged as one
// line, "upstream TLS: <kind>: <detail>"; more of the same kind are logged at most once a minute,
// with how many were not. Releases queued together (a pump's worth) leave in one TLS write.
//
// Also keeps the retained status message on portier/{gateway}/status fresh, with a last will
// that marks the gateway offline.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/counters.h"
#include "gateway/gateway_config.h"
#include "gateway/mqtt/mqtt_client.h"
#include "gateway/mqtt/tls_diagnosis.h"
#include "gateway/store/spool.h"

namespace portier::gateway {

class upstream_egress {
 public:
  using status_source = std::function<std::string()>;
  using update_sink = std::function<void(std::string topic, std::string payload)>;

  upstream_egress(const gateway_config& config, spool& s, counters& c, status_source status);
  ~upstream_egress();

  void start();
  // Waits until everything in the spool is acknowledged or the deadline passes; true if all was
  // sent.
  bool drain(std::chrono::steady_clock::time_point deadline);
  // Publishes the offline status, stops the publisher and disconnects.
  void stop();
  bool connected() const { return client_.connected(); }
  void publish_status();
  // Set before start(): while `hold` returns true nothing is read from the spool (the household
  // paused); `updates` (subscribed at QoS 1 after every connect) go to `on_update`, called on
  // the client's thread: it must only hand the bytes over, never wait.
  void set_hold(std::function<bool()> hold) { hold_ = std::move(hold); }
  void set_updates(std::vector<std::string> topics, update_sink on_update) {
    client_.set_subscriptions(std::move(topics));
    on_update_ = std::move(on_update);
  }
  // Publishes one message at QoS 1 (not retained) and waits for its PUBACK; false if not
  // connected or not acknowledged in time.
  bool publish_and_wait(const std::string& topic, const std::string& payload,
                        std::chrono::milliseconds timeout);
  // Sends what the spool has, now, on the calling thread (never waits): if another pump is
  // running, wakes the publisher thread instead. Safe from the client's callbacks.
  void pump();

 private:
  // Contexts of PUBLISHes that are not spool records (those carry their sequence number).
  static constexpr std::uint64_t kStatusCtx = ~std::uint64_t{0};
  static constexpr std::uint64_t kWaitedCtx = std::uint64_t{1} << 63;  // | a counter

  void on_ack(std::uint64_t ctx);
  bool publish_waited(const std::string& topic, const std::string& payload, bool retain,
                      std::chrono::milliseconds timeout);
  void publisher();
  // Sends what next() gives without waiting; pump_mu_ held. False if a publish failed (rewound).
  bool send_ready_locked();
  bool may_send() const;
  // After a failed handshake (client's thread): counts and logs the TLS failure.
  void diagnose_failure(const platform::tls_handshake_report& report);

  std::string gateway_id_;
  spool& spool_;
  counters& counters_;
  status_source status_;
  std::chrono::seconds status_interval_;
  std::size_t max_inflight_;
  std::string host_;  // of upstream.uri, for the diagnosis
  mqtt_client client_;
  repeat_limiter tls_log_{std::chrono::minutes(1)};  // client's thread only
  std::mutex waited_mu_;                             // publish_and_wait's acknowledgements
  std::condition_variable waited_cv_;
  std::uint64_t waited_next_ = 0;
  std::vector<std::uint64_t> waited_acked_;
  std::atomic<bool> stopping_{false};
  std::function<bool()> hold_;
  update_sink on_update_;
  std::mutex pump_mu_;  // one sender at a time: releases leave in spool order
  std::thread publisher_;
};

}  // namespace portier::gateway
