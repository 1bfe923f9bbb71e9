// Ingress: a persistent MQTT session on the local broker (fixed client id, clean session off,
// QoS 1) subscribed to exactly the topic filters the policy needs, so messages published while
// the daemon is away wait at the broker. Each message goes through the pipeline on Paho's
// callback thread; its releases enter the release queue, blocking there when it is full
// (backpressure: Paho stops reading, the broker holds the rest).
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/counters.h"
#include "gateway/gateway_config.h"
#include "gateway/mqtt_session.h"
#include "gateway/pipeline.h"
#include "gateway/release_queue.h"

namespace portier::gateway {

class local_ingress {
 public:
  local_ingress(const gateway_config& config, pipeline& p, release_queue& q, counters& c);

  void start() { session_.start(); }
  // Stops taking messages: disconnects from the local broker (the session stays at the broker).
  void stop();
  // Brings the subscriptions in line with the pipeline's current policy.
  void resubscribe();
  bool connected() const { return session_.connected(); }

 private:
  void subscribe_all(mqtt::async_client& client);
  void on_message(const mqtt::const_message_ptr& m);

  pipeline& pipeline_;
  release_queue& queue_;
  counters& counters_;
  mqtt_session session_;
  std::mutex subs_mu_;
  std::vector<std::string> subscribed_;
  std::atomic<bool> stopping_{false};
};

}  // namespace portier::gateway
