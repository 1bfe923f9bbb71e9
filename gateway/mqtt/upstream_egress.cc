#include "gateway/mqtt/upstream_egress.h"

#include <algorithm>

#include "gateway/status_report.h"
#include "platform/log.h"
#include "platform/wall_clock.h"

namespace portier::gateway {

using platform::wall_ms;

namespace {

mqtt_client::settings egress_settings(const gateway_config& config) {
  const auto& c = config.proto;
  const auto& up = c.upstream();
  mqtt_client::settings s;
  s.name = "upstream";
  s.uri = up.uri();
  // The server's certificate and host are always verified; there is no way to turn it off.
  // Neither file given: the system's trust store (platform/tls_client.h).
  s.tls_files.ca_file = up.ca_file();
  s.tls_files.ca_path = up.ca_path();
  s.tls_files.client_cert_file = up.client_cert_file();
  s.tls_files.client_key_file = up.client_key_file();
  s.client_id = up.client_id();
  s.username = up.username();
  s.password = config.password_upstream;
  s.keepalive_seconds = static_cast<std::uint16_t>(up.keepalive_seconds());
  s.clean_session = true;  // unacknowledged releases are ours to resend, from the spool
  s.will_topic = status_topic(c.gateway_id());
  s.will_payload = offline_status(c.gateway_id());
  s.will_retain = true;
  // The spool's window, the status and publish_and_wait's.
  s.max_inflight = up.max_inflight() + 8;
  s.connect_timeout = std::chrono::seconds(10);
  s.backoff_initial = std::chrono::milliseconds(c.reconnect().initial_ms());
  s.backoff_max = std::chrono::milliseconds(c.reconnect().max_ms());
  return s;
}

std::string host_of(const std::string& uri) {
  mqtt_client::address a;
  std::string why;
  return mqtt_client::parse_uri(uri, a, why) ? a.host : std::string();
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
      host_(host_of(config.proto.upstream().uri())),
      client_(egress_settings(config)) {
  client_.on_connected([this] { publish_status(); });
  client_.on_message([this](std::string_view topic, std::string_view payload, bool) {
    if (on_update_) on_update_(std::string(topic), std::string(payload));
  });
  client_.on_ack([this](std::uint64_t ctx) { on_ack(ctx); });
  client_.on_lost([this] { spool_.rewind(); });
  client_.on_connect_result([this](bool ok, const platform::tls_handshake_report* tls) {
    ++(ok ? counters_.upstream_connects : counters_.upstream_connect_failures);
    if (ok) {
      tls_log_.reset();
    } else if (tls != nullptr && !stopping_) {
      diagnose_failure(*tls);
    }
  });
}

void upstream_egress::diagnose_failure(const platform::tls_handshake_report& report) {
  const auto diagnosis = diagnose_tls(report, host_);
  if (!diagnosis) return;
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
  client_.start();
  publisher_ = std::thread([this] { publisher(); });
}

void upstream_egress::on_ack(std::uint64_t ctx) {
  if (ctx == kStatusCtx) return;
  if ((ctx & kWaitedCtx) != 0) {
    std::lock_guard lock(waited_mu_);
    // Bounded: a waiter that timed out never takes its acknowledgement away.
    if (waited_acked_.size() >= 64) waited_acked_.erase(waited_acked_.begin());
    waited_acked_.push_back(ctx);
    waited_cv_.notify_all();
    return;
  }
  spool_.acknowledge(ctx);
  ++counters_.acknowledged;
}

void upstream_egress::publish_status() {
  if (client_.publish(status_topic(gateway_id_), status_(), 1, true, kStatusCtx)) client_.flush();
}

void upstream_egress::publisher() {
  using clock = std::chrono::steady_clock;
  auto next_status = clock::now() + status_interval_;
  while (!stopping_) {
    const auto now = clock::now();
    if (now >= next_status) {
      if (client_.connected()) publish_status();
      next_status = now + status_interval_;
    }
    const auto deadline = std::min(next_status, now + std::chrono::milliseconds(200));
    if (!client_.connected()) {
      client_.wait_connected(deadline);
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
    if (!sent_all) client_.wait_connected(clock::now() + std::chrono::milliseconds(200));
  }
}

bool upstream_egress::may_send() const {
  return !stopping_ && client_.connected() && !(hold_ && hold_());
}

bool upstream_egress::send_ready_locked() {
  bool ok = true;
  while (may_send()) {
    auto item = spool_.next(std::chrono::steady_clock::now(), max_inflight_, wall_ms());
    if (!item) break;
    if (!client_.publish(item->topic, item->payload, 1, false, item->seq)) {
      // The connection went (on_lost rewinds too) or the client has no slot: send it again.
      spool_.rewind();
      ok = false;
      break;
    }
    ++counters_.published;
    if (item->resend) ++counters_.resent;
  }
  client_.flush();  // what this pump queued leaves together
  return ok;
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
  return publish_waited(topic, payload, false, timeout);
}

bool upstream_egress::publish_waited(const std::string& topic, const std::string& payload,
                                     bool retain, std::chrono::milliseconds timeout) {
  std::uint64_t ctx;
  {
    std::lock_guard lock(waited_mu_);
    ctx = kWaitedCtx | ++waited_next_;
  }
  if (!client_.publish(topic, payload, 1, retain, ctx)) return false;
  client_.flush();
  std::unique_lock lock(waited_mu_);
  const bool acked = waited_cv_.wait_for(lock, timeout, [&] {
    return std::find(waited_acked_.begin(), waited_acked_.end(), ctx) != waited_acked_.end();
  });
  std::erase(waited_acked_, ctx);
  return acked;
}

bool upstream_egress::drain(std::chrono::steady_clock::time_point deadline) {
  return spool_.wait_empty(deadline);
}

void upstream_egress::stop() {
  if (stopping_.exchange(true)) return;
  spool_.stop_readers();  // the publisher may wait for a release until the next status
  if (publisher_.joinable()) publisher_.join();
  if (client_.connected()) {
    publish_waited(status_topic(gateway_id_), offline_status(gateway_id_), true,
                   std::chrono::seconds(2));
  }
  client_.stop(std::chrono::milliseconds(2000));
}

}  // namespace portier::gateway
