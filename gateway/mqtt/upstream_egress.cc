#include "gateway/mqtt/upstream_egress.h"

#include "gateway/status_report.h"
#include "platform/log.h"
#include "platform/wall_clock.h"

namespace portier::gateway {

using platform::wall_ms;

namespace {

mqtt_session::settings egress_settings(const gateway_config& config) {
  const auto& c = config.proto;
  const auto& up = c.upstream();
  mqtt_session::settings s;
  s.name = "upstream";
  s.uri = up.uri();
  s.client_id = up.client_id();
  // The server's certificate and host name are always verified; there is no way to turn it off.
  // Paho's own TLS error texts are not logged: they cannot tell an unknown CA from an expired
  // certificate and say nothing of a host name mismatch; a failed connect is diagnosed instead
  // (diagnose_failure).
  auto ssl = mqtt::ssl_options_builder().enable_server_cert_auth(true).verify(true).ssl_version(
      MQTT_SSL_VERSION_TLS_1_2);
  if (!up.ca_file().empty()) ssl.trust_store(up.ca_file());
  if (!up.ca_path().empty()) ssl.ca_path(up.ca_path());
  if (up.ca_file().empty() && up.ca_path().empty()) ssl.ca_path("/etc/ssl/certs");
  if (!up.client_cert_file().empty()) {
    ssl.key_store(up.client_cert_file());
    ssl.private_key(up.client_key_file());
  }
  auto b = mqtt::connect_options_builder()
               .mqtt_version(MQTTVERSION_3_1_1)  // no silent second attempt at 3.1
               .clean_session(true)  // unacknowledged releases are ours to resend, not Paho's
               .keep_alive_interval(std::chrono::seconds(up.keepalive_seconds()))
               .connect_timeout(std::chrono::seconds(10))
               .max_inflight(static_cast<int>(up.max_inflight()) + 8)
               .will(mqtt::message(status_topic(c.gateway_id()), offline_status(c.gateway_id()), 1,
                                   true))
               .ssl(ssl.finalize());
  if (!up.username().empty()) b.user_name(up.username());
  if (!config.password_upstream.empty()) b.password(config.password_upstream);
  s.options = b.finalize();
  s.backoff_initial = std::chrono::milliseconds(c.reconnect().initial_ms());
  s.backoff_max = std::chrono::milliseconds(c.reconnect().max_ms());
  return s;
}

tls_probe_settings probe_settings(const gateway_config& config) {
  const auto& up = config.proto.upstream();
  tls_probe_settings p;
  split_upstream_uri(up.uri(), p.host, p.port);
  p.ca_file = up.ca_file();
  p.ca_path = up.ca_path();
  if (p.ca_file.empty() && p.ca_path.empty()) p.ca_path = "/etc/ssl/certs";  // as for Paho
  p.client_cert_file = up.client_cert_file();
  p.client_key_file = up.client_key_file();
  return p;
}

}  // namespace

upstream_egress::upstream_egress(const gateway_config& config, spool& s, counters& c,
                                 status_source status)
    : gateway_id_(config.proto.gateway_id()),
      spool_(s),
      counters_(c),
      status_(std::move(status)),
      status_interval_(config.proto.status().interval_seconds()),
      max_inflight_(config.proto.upstream().max_inflight()),
      session_(egress_settings(config)),
      probe_(probe_settings(config)) {
  session_.on_connected([this](mqtt::async_client& client) {
    mqtt_session::subscribe_checked(client, update_topics_, 1);  // throws: the session retries
    publish_status();
  });
  session_.client().set_message_callback([this](mqtt::const_message_ptr m) {
    if (on_update_) on_update_(m->get_topic(), m->get_payload_str());
  });
  session_.on_lost([this] { spool_.rewind(); });
  session_.on_connect_result([this](bool ok) {
    ++(ok ? counters_.upstream_connects : counters_.upstream_connect_failures);
    if (ok) {
      tls_log_.reset();
    } else if (!stopping_ && !probe_.host.empty()) {
      diagnose_failure();
    }
  });
}

void upstream_egress::diagnose_failure() {
  const auto diagnosis = diagnose_tls(probe_tls(probe_), probe_.host);
  if (!diagnosis) return;  // not TLS: the session's own line says what happened
  ++counters_.upstream_tls_failures;
  ++counters_.upstream_tls_by_kind[static_cast<std::size_t>(diagnosis->kind)];
  // Keyed by kind: a detail that varies (which alert won the race with a reset) is no news.
  const auto not_logged = tls_log_.admit(std::string(tls_failure_name(diagnosis->kind)),
                                         std::chrono::steady_clock::now());
  if (!not_logged) return;
  if (*not_logged == 0) {
    platform::log_warning("upstream TLS: ", tls_failure_line(*diagnosis));
  } else {
    platform::log_warning("upstream TLS: ", tls_failure_line(*diagnosis), " (", *not_logged,
                          " more times since the last report)");
  }
}

upstream_egress::~upstream_egress() {
  stop();
}

void upstream_egress::start() {
  session_.start();
  publisher_ = std::thread([this] { publisher(); });
}

void upstream_egress::delivery_listener::on_success(const mqtt::token& tok) {
  e_.spool_.acknowledge(reinterpret_cast<std::uintptr_t>(tok.get_user_context()));
  ++e_.counters_.acknowledged;
}

void upstream_egress::delivery_listener::on_failure(const mqtt::token&) {
  // Only a lost connection fails a QoS 1 publish; its handler rewinds the spool.
}

void upstream_egress::publish_status() {
  try {
    session_.client().publish(status_topic(gateway_id_), status_(), 1, true);
  } catch (const mqtt::exception& e) {
    platform::log_warning("upstream: cannot publish status: ", e.what());
  }
}

void upstream_egress::publisher() {
  using clock = std::chrono::steady_clock;
  auto next_status = clock::now() + status_interval_;
  while (!stopping_) {
    const auto now = clock::now();
    if (now >= next_status) {
      if (session_.connected()) publish_status();
      next_status = now + status_interval_;
    }
    const auto deadline = std::min(next_status, now + std::chrono::milliseconds(200));
    if (!session_.connected()) {
      session_.wait_connected(deadline);
      continue;
    }
    if (hold_ && hold_()) {  // paused by the household: what waits stays in the spool
      std::this_thread::sleep_until(deadline);
      continue;
    }
    // Connected and not paused: the spool wakes this thread when a release can go (appended,
    // acknowledged, rewound after a lost connection) or it closes; otherwise only the status is
    // due. No polling, so an idle gateway does not wake 5 times a second. (A pause or a lost
    // connection meanwhile is seen when a release is ready: send_ready_locked checks may_send.)
    if (!spool_.wait_ready(next_status, max_inflight_)) continue;
    bool sent_all = false;
    {
      std::lock_guard lock(pump_mu_);
      sent_all = send_ready_locked();
    }
    if (!sent_all) session_.wait_connected(clock::now() + std::chrono::milliseconds(200));
  }
}

bool upstream_egress::may_send() const {
  return !stopping_ && session_.connected() && !(hold_ && hold_());
}

bool upstream_egress::send_ready_locked() {
  while (may_send()) {
    auto item = spool_.next(std::chrono::steady_clock::now(), max_inflight_, wall_ms());
    if (!item) return true;
    try {
      auto msg = mqtt::make_message(item->topic, item->payload, 1, false);
      session_.client().publish(
          msg, reinterpret_cast<void*>(static_cast<std::uintptr_t>(item->seq)), listener_);
      ++counters_.published;
      if (item->resend) ++counters_.resent;
    } catch (const mqtt::exception& e) {
      platform::log_warning("upstream: publish failed, will resend: ", e.what());
      spool_.rewind();
      return false;
    }
  }
  return true;
}

void upstream_egress::pump() {
  if (!may_send()) return;  // the publisher thread sends once that changes
  std::unique_lock lock(pump_mu_, std::try_to_lock);
  if (!lock.owns_lock()) {  // the publisher thread is sending: make sure it sees the new record
    spool_.wake_reader();
    return;
  }
  send_ready_locked();
}

bool upstream_egress::publish_and_wait(const std::string& topic, const std::string& payload,
                                       std::chrono::milliseconds timeout) {
  if (!session_.connected()) return false;
  try {
    return session_.client()
        .publish(topic, payload.data(), payload.size(), 1, false)
        ->wait_for(timeout);
  } catch (const mqtt::exception& e) {
    platform::log_warning("upstream: cannot publish to ", topic, ": ", e.what());
    return false;
  }
}

bool upstream_egress::drain(std::chrono::steady_clock::time_point deadline) {
  return spool_.wait_empty(deadline);
}

void upstream_egress::stop() {
  if (stopping_.exchange(true)) return;
  spool_.stop_readers();  // the publisher may wait for a release until the next status
  if (publisher_.joinable()) publisher_.join();
  if (session_.connected()) {
    try {
      session_.client()
          .publish(status_topic(gateway_id_), offline_status(gateway_id_), 1, true)
          ->wait_for(std::chrono::seconds(2));
    } catch (const mqtt::exception&) {
    }
  }
  session_.stop(std::chrono::milliseconds(2000));
}

}  // namespace portier::gateway
