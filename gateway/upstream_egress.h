// Egress: the TLS session to the operator's broker and the publisher thread that empties the
// spool into it at QoS 1, at most max_inflight unacknowledged at a time. Releases are read from
// the spool only while connected (Paho's offline buffer is never used) and leave it only on
// PUBACK; a lost connection rewinds the spool so the unacknowledged ones are sent again. The
// spool drops a release that waited past its purpose's retention, unsent and counted.
//
// Also keeps the retained status message on portier/{gateway}/status fresh, with a last will
// that marks the gateway offline.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "gateway/counters.h"
#include "gateway/gateway_config.h"
#include "gateway/mqtt_session.h"
#include "gateway/spool.h"

namespace portier::gateway {

class upstream_egress {
 public:
  using status_source = std::function<std::string()>;

  upstream_egress(const gateway_config& config, spool& s, counters& c, status_source status);
  ~upstream_egress();

  void start();
  // Waits until everything in the spool is acknowledged or the deadline passes; true if all was sent.
  bool drain(std::chrono::steady_clock::time_point deadline);
  // Publishes the offline status, stops the publisher and disconnects.
  void stop();
  bool connected() const { return session_.connected(); }
  void publish_status();

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

  std::string gateway_id_;
  spool& spool_;
  counters& counters_;
  status_source status_;
  std::chrono::seconds status_interval_;
  std::size_t max_inflight_;
  mqtt_session session_;
  delivery_listener listener_{*this};
  std::atomic<bool> stopping_{false};
  std::thread publisher_;
};

}  // namespace portier::gateway
