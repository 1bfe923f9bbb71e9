// Egress: the TLS session to the operator's broker and the publisher thread that empties the
// spool into it at QoS 1, at most max_inflight unacknowledged at a time. The ingress calls pump()
// after each message, so a release usually leaves on the thread that received it, without waking
// the publisher thread (one thread hop and its wake-up less per message); the publisher thread
// sends what is left (backlog, after a reconnect or a pause). One pump at a time keeps the order.
// Releases are read from the spool only while connected (Paho's offline buffer is never used) and
// leave it only on PUBACK; a lost connection rewinds the spool so the unacknowledged ones are sent
// again. The spool drops a release that waited past its purpose's retention, unsent and counted.
//
// A failed connect is diagnosed with a TLS probe of its own (tls_probe.h) on the session's thread:
// a TLS failure is counted by kind and logged as one line, "upstream TLS: <kind>: <detail>"; more
// of the same kind are logged at most once a minute, with how many were not (tls_diagnosis.h).
//
// Also keeps the retained status message on portier/{gateway}/status fresh, with a last will
// that marks the gateway offline.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/counters.h"
#include "gateway/gateway_config.h"
#include "gateway/mqtt/mqtt_session.h"
#include "gateway/mqtt/tls_diagnosis.h"
#include "gateway/mqtt/tls_probe.h"
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
  bool connected() const { return session_.connected(); }
  void publish_status();
  // Set before start(): while `hold` returns true nothing is read from the spool (the household
  // paused); `updates` (subscribed at QoS 1 after every connect) go to `on_update`, called on
  // Paho's thread: it must only hand the bytes over, never wait.
  void set_hold(std::function<bool()> hold) { hold_ = std::move(hold); }
  void set_updates(std::vector<std::string> topics, update_sink on_update) {
    update_topics_ = std::move(topics);
    on_update_ = std::move(on_update);
  }
  // Publishes one message at QoS 1 (not retained) and waits for its PUBACK; false if not
  // connected or not acknowledged in time.
  bool publish_and_wait(const std::string& topic, const std::string& payload,
                        std::chrono::milliseconds timeout);
  // Sends what the spool has, now, on the calling thread (never waits): if another pump is
  // running, wakes the publisher thread instead. Safe from Paho's callback thread.
  void pump();

 private:
  class delivery_listener : public mqtt::iaction_listener {
   public:
    explicit delivery_listener(upstream_egress& e) : e_(e) {}
    void on_success(const mqtt::token& tok) override;
    void on_failure(const mqtt::token& tok) override;

   private:
    upstream_egress& e_;
  };

  void publisher();
  // Sends what next() gives without waiting; pump_mu_ held. False if a publish failed (rewound).
  bool send_ready_locked();
  bool may_send() const;
  // After a failed connect (session thread): probes, counts and logs a TLS failure.
  void diagnose_failure();

  std::string gateway_id_;
  spool& spool_;
  counters& counters_;
  status_source status_;
  std::chrono::seconds status_interval_;
  std::size_t max_inflight_;
  mqtt_session session_;
  tls_probe_settings probe_;
  repeat_limiter tls_log_{std::chrono::minutes(1)};  // session thread only
  delivery_listener listener_{*this};
  std::atomic<bool> stopping_{false};
  std::function<bool()> hold_;
  std::vector<std::string> update_topics_;
  update_sink on_update_;
  std::mutex pump_mu_;  // one sender at a time: releases leave in spool order
  std::thread publisher_;
};

}  // namespace portier::gateway
