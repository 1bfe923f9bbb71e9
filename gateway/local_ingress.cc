#include "gateway/local_ingress.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>

#include "platform/log.h"

namespace portier::gateway {

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

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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
      resume_below_(config.proto.spool().max_bytes() / 4 * 3) {
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
    return !paused_ && !stopping_;
  });
  session_.on_message([this](std::string_view topic, std::string_view payload) {
    return on_message(topic, payload);
  });
  // A read's releases are synced together (durability each: one fdatasync), before any of its
  // messages is acknowledged.
  session_.before_ack([this] { spool_.sync_appended(); });
  session_.on_batch_end([this] {
    if (send_) send_();  // the releases leave from here, without waking the publisher thread
  });
  session_.on_connect_result(
      [this](bool ok) { ++(ok ? counters_.local_connects : counters_.local_connect_failures); });
}

void local_ingress::start() {
  session_.set_filters(pipeline_.subscriptions());
  session_.start();
}

void local_ingress::resubscribe() {
  session_.set_filters(pipeline_.subscriptions());
}

mqtt_subscriber::verdict local_ingress::on_message(std::string_view topic,
                                                   std::string_view payload) {
  if (may_pause_ && spool_.full()) {  // not taken: the broker keeps it while the session is away
    if (!paused_) {
      paused_ = true;
      ++counters_.ingress_pauses;
      platform::log_warning("local broker: pausing, the spool is full (", spool_.bytes(),
                            " bytes)");
    }
    return mqtt_subscriber::verdict::refused;
  }
  const std::int64_t now = wall_ms();
  pipeline_.process(
      topic, payload, now,
      [&](const policies::release& r, const policies::compiled_purpose& purpose,
          const policies::decision& d) {
        const std::string_view cls = d.device_class() ? std::string_view(d.device_class()->id) : "";
        // Never waits: a callback that blocks would stop the upstream client too.
        if (spool_.append(purpose.id, r.topic, r.payload, r.expires_at_ms, d.device_id(), cls, now,
                          spool::clock::now(),
                          send_ ? spool::append_mode::batched : spool::append_mode::solo) == 0) {
          platform::log_error(
              "spool refused a release (full beyond its headroom, or a write error); "
              "it is lost");
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
      [&](const policies::decision& d) {
        if (d.device_class() != nullptr) {
          devices_.record(d.device_id(), d.device_class()->id, topic, payload, now);
        }
        if (ledger_ != nullptr) ledger_->record_drops(d.drops(), now);
      });
  return mqtt_subscriber::verdict::taken;
}

void local_ingress::stop() {
  stopping_ = true;
  session_.stop();
}

}  // namespace portier::gateway
