#include "gateway/mqtt/mqtt_session.h"

#include "platform/log.h"

namespace portier::gateway {

namespace {
constexpr auto kConnectTimeout = std::chrono::seconds(15);
constexpr auto kSubscribeTimeout = std::chrono::seconds(10);
}  // namespace

mqtt_session::mqtt_session(settings s)
    : settings_(std::move(s)),
      backoff_(settings_.backoff_initial, settings_.backoff_max, std::random_device{}()) {
  client_ = std::make_unique<mqtt::async_client>(settings_.uri, settings_.client_id,
                                                 settings_.persistence);
  // Paho formats every protocol event, with the first 20 bytes of each payload, into its trace
  // buffer at its default level (and prints it if MQTT_C_CLIENT_TRACE is set): telemetry in a
  // trace, and CPU spent per message. Only errors, set after the library read its environment.
  MQTTAsync_setTraceLevel(MQTTASYNC_TRACE_ERROR);
  settings_.options.set_automatic_reconnect(false);  // we own reconnection (jitter, hooks)
  client_->set_connection_lost_handler([this](const std::string&) {
    std::lock_guard lock(mu_);
    lost_ = true;
    connected_ = false;
    cv_.notify_all();
  });
}

mqtt_session::~mqtt_session() {
  stop(std::chrono::milliseconds(1000));
}

void mqtt_session::start() {
  thread_ = std::thread([this] { run(); });
}

bool mqtt_session::wait_connected(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, deadline, [&] { return connected_.load() || stopping_; }) &&
         connected_;
}

void mqtt_session::reconnect() {
  std::lock_guard lock(mu_);
  reconnect_ = true;
  cv_.notify_all();
}

void mqtt_session::subscribe_checked(mqtt::async_client& client,
                                     const std::vector<std::string>& filters, int qos) {
  if (filters.empty()) return;
  auto tok = client.subscribe(mqtt::string_collection::create(filters),
                              std::vector<int>(filters.size(), qos));
  if (!tok->wait_for(kSubscribeTimeout)) {
    throw mqtt::exception(MQTTASYNC_FAILURE, "no SUBACK within 10 s");
  }
  const auto codes = tok->get_subscribe_response().get_reason_codes();
  for (std::size_t i = 0; i < codes.size() && i < filters.size(); ++i) {
    if (static_cast<int>(codes[i]) >= 0x80) {
      throw mqtt::exception(MQTTASYNC_FAILURE,
                            "the broker refused the subscription to \"" + filters[i] + "\"");
    }
  }
}

void mqtt_session::recheck() {
  std::lock_guard lock(mu_);
  recheck_ = true;
  cv_.notify_all();
}

void mqtt_session::run() {
  using platform::log_info;
  using platform::log_warning;
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (stopping_) return;
      lost_ = false;
      recheck_ = false;
      reconnect_ = false;
      if (gate_ && !gate_()) {
        cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping_ || recheck_; });
        continue;
      }
    }
    bool ok = false;
    try {
      auto tok = client_->connect(settings_.options);
      ok = tok->wait_for(std::chrono::duration_cast<std::chrono::milliseconds>(kConnectTimeout));
      if (!ok) log_warning(settings_.name, " broker ", settings_.uri, ": connect timed out");
    } catch (const mqtt::exception& e) {
      log_warning(settings_.name, " broker ", settings_.uri, ": cannot connect: ", e.what());
    }
    if (on_connect_result_) on_connect_result_(ok);
    if (ok) {
      try {
        if (on_connected_) on_connected_(*client_);
      } catch (const mqtt::exception& e) {
        log_warning(settings_.name, " broker ", settings_.uri,
                    ": set-up after connect failed: ", e.what());
        ok = false;
        try {
          client_->disconnect()->wait_for(kSubscribeTimeout);
        } catch (const mqtt::exception&) {
        }
      }
    }
    if (ok) {
      log_info(settings_.name, " broker ", settings_.uri, ": connected as ", settings_.client_id);
      backoff_.reset();
      std::unique_lock lock(mu_);
      connected_ = !lost_;
      cv_.notify_all();
      bool gated = false;
      while (!lost_ && !stopping_ && !gated) {
        cv_.wait(lock, [&] { return lost_ || stopping_ || recheck_ || reconnect_; });
        recheck_ = false;
        gated = !lost_ && !stopping_ && ((gate_ && !gate_()) || reconnect_);
      }
      const bool was_lost = lost_;
      const bool reconnecting = reconnect_;
      connected_ = false;
      if (stopping_) return;
      lock.unlock();
      if (gated) {
        log_info(settings_.name, " broker ", settings_.uri,
                 reconnecting ? ": reconnecting to set the session up again"
                              : ": pausing (disconnecting until the gate opens)");
        try {
          client_->disconnect()->wait_for(std::chrono::seconds(5));
        } catch (const mqtt::exception& e) {
          log_warning(settings_.name, " broker ", settings_.uri, ": disconnect: ", e.what());
        }
        if (on_lost_) on_lost_();
        continue;  // straight to the gate: no back-off
      }
      if (was_lost) {
        log_warning(settings_.name, " broker ", settings_.uri, ": connection lost");
        if (on_lost_) on_lost_();
      }
    }
    const auto wait = backoff_.next();
    log_info(settings_.name, " broker ", settings_.uri, ": reconnecting in ", wait.count(), " ms");
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, wait, [&] { return stopping_; })) return;
  }
}

void mqtt_session::stop(std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  try {
    if (client_->is_connected())
      client_->disconnect(static_cast<int>(timeout.count()))
          ->wait_for(timeout + std::chrono::milliseconds(500));
  } catch (const mqtt::exception& e) {
    platform::log_warning(settings_.name, " broker ", settings_.uri, ": disconnect: ", e.what());
  }
  connected_ = false;
}

}  // namespace portier::gateway
