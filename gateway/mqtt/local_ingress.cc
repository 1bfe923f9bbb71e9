#include "gateway/mqtt/local_ingress.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>

#include "platform/log.h"
#include "platform/wall_clock.h"

namespace portier::gateway {

using platform::wall_ms;

namespace {

mqtt_subscriber::settings ingress_settings(const gateway_config& config) {
  const auto& c = config.proto;
  mqtt_subscriber::settings s;
  s.name = "local";
  s.uri = c.local().uri();
  s.client_id = c.local().client_id();
  s.username = c.local().username();
  s.password = config.password_local;
  s.keepalive_seconds = static_cast<std::uint16_t>(std::min(c.local().keepalive_seconds(), 65535u));
  s.qos = static_cast<int>(c.local().qos());
  s.max_payload_bytes = kMaxPayloadLimit;  // any limit a reload may set: the policy drops the rest
  s.backoff_initial = std::chrono::milliseconds(c.reconnect().initial_ms());
  s.backoff_max = std::chrono::milliseconds(c.reconnect().max_ms());
  return s;
}

constexpr auto kRetryAfterWriteError = std::chrono::seconds(5);

}  // namespace

local_ingress::local_ingress(const gateway_config& config, pipeline& p, spool& s, counters& c,
                             device_registry& devices, ledger* record)
    : pipeline_(p),
      spool_(s),
      counters_(c),
      devices_(devices),
      ledger_(record),
      session_(ingress_settings(config)),
      may_pause_(config.proto.spool().when_full() == config::Spool::REFUSE_NEW),
      resume_below_(config.proto.spool().max_bytes() / 4 * 3),
      observe_(config.proto.unmatched().observe().begin(),
               config.proto.unmatched().observe().end()) {
  // Earlier versions kept Paho's session here (sealed); nothing reads it any more.
  std::error_code ec;
  if (std::filesystem::remove_all(config.proto.state_dir() + "/mqtt-local", ec) > 0)
    platform::log_info(
        "removed the MQTT session store of an earlier version (state_dir/mqtt-local)");
  session_.set_gate([this] {
    if (paused_ && spool_.bytes() < resume_below_) {
      paused_ = false;
      platform::log_info("local broker: resuming, the spool has room again");
    }
    return !paused_ && !stopping_ && std::chrono::steady_clock::now() >= retry_at_.load();
  });
  session_.on_message([this](std::string_view topic, std::string_view payload, int qos) {
    return on_message(topic, payload, qos);
  });
  // A read's releases and window samples are synced together (durability each: one fdatasync
  // each), before any of its messages is acknowledged; if that fails, none of them is.
  session_.before_ack([this] {
    const bool spooled = spool_.sync_appended();
    return (windows_ == nullptr || windows_->sync()) && spooled;
  });
  session_.on_batch_end([this] {
    if (send_) send_();  // the releases leave from here, without waking the publisher thread
  });
  session_.on_connect_result(
      [this](bool ok) { ++(ok ? counters_.local_connects : counters_.local_connect_failures); });
}

void local_ingress::start() {
  session_.set_filters(pipeline_.subscriptions(observe_));
  session_.start();
}

void local_ingress::resubscribe() {
  session_.set_filters(pipeline_.subscriptions(observe_));
}

mqtt_subscriber::verdict local_ingress::on_message(std::string_view topic, std::string_view payload,
                                                   int qos) {
  if (own_ && own_(topic)) return mqtt_subscriber::verdict::taken;
  if (may_pause_ && spool_.full()) {
    if (!paused_) {
      paused_ = true;
      ++counters_.ingress_pauses;
      platform::log_warning("local broker: pausing, the spool is full (", spool_.bytes(),
                            " bytes)");
    }
    // Not taken: the broker keeps it while the session is away. A QoS 0 message would be gone,
    // so it is taken into the spool's headroom, and the session closes once this read is done.
    if (qos > 0) return mqtt_subscriber::verdict::refused;
    session_.recheck();
  }
  const std::int64_t now = wall_ms();
  bool stored = true;
  pipeline_.process(
      topic, payload, now,
      [&](const policies::release& r, const policies::compiled_purpose& purpose,
          const policies::decision& d) {
        const std::string_view cls = d.device_class() ? std::string_view(d.device_class()->id) : "";
        // Never waits: a callback that blocks would stop the upstream client too.
        if (spool_.append(purpose.id, r.topic, r.payload, r.expires_at_ms, d.device_id(), cls, now,
                          spool::clock::now(),
                          send_ ? spool::append_mode::batched : spool::append_mode::solo) == 0) {
          stored = false;  // a write error, or the spool is closing
          return;
        }
        if (ledger_ != nullptr) {
          std::array<std::string_view, 64> names;
          std::size_t n = 0;
          for (auto f : r.fields) {
            if (n < names.size()) names[n++] = d.device_class()->fields[f].path;
          }
          ledger_->record_release(d.device_id(), cls, purpose.id, {names.data(), n},
                                  r.payload.size(), now);
        }
      },
      [&](const policies::decision& d, const policies::drop_counts& drops, bool admitted) {
        if (admitted && d.device_class() != nullptr) {
          devices_.record(d.device_id(), d.device_class()->id, topic, payload, now);
        }
        if (ledger_ != nullptr) ledger_->record_drops(drops, now);
        if (unmatched_ != nullptr && d.drops(policies::drop_reason::unmatched_topic) > 0) {
          unmatched_->record(pipeline_.policy(), topic, payload, now);
        }
      },
      [&](const policies::compiled_policy& policy, const policies::decision& d) {
        if (windows_ != nullptr && !windows_->add(policy, d, now)) stored = false;
      });
  if (stored) return mqtt_subscriber::verdict::taken;
  ++counters_.ingress_write_errors;
  if (qos == 0) {
    platform::log_error("spool could not store a release (write error); a QoS 0 message is lost");
    return mqtt_subscriber::verdict::taken;
  }
  // Not acknowledged: the broker sends it again once the session is back (releases of it that
  // were stored may then leave twice: at least once).
  retry_at_ = std::chrono::steady_clock::now() + kRetryAfterWriteError;
  platform::log_error(
      "spool or window journal could not store a release (write error); the message stays with "
      "the local broker, trying again in ",
      kRetryAfterWriteError.count(), " s");
  return mqtt_subscriber::verdict::refused;
}

void local_ingress::stop() {
  stopping_ = true;
  session_.stop();
}

}  // namespace portier::gateway
